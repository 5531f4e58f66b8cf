"""Start and stop the real programs the demo and the tests run, each with its own log file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import contextlib
import ctypes
import os
from pathlib import Path
import random
import signal
import socket
import subprocess
import sys
import time

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM to this child when its parent dies, even by SIGKILL."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


# free_port: where its ports start, how often it tries, and what it gave this process.
_PORTS_FROM = 20000
_PORT_TRIES = 10_000
_given: set[int] = set()
_random = random.Random()  # noqa: S311 -- spreads test ports, no secret


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing uses right now, and not given before.

    Ports come from below Linux's ephemeral range, which the kernel hands to outgoing
    connections: a port chosen there could be taken by a client socket before the server binds
    it. Under pytest-xdist each worker takes only the ports whose remainder by the number of
    workers is its own, so that two workers never choose the same port; the demo and the
    services a test starts inherit the worker's environment, and its share.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    share = int(worker.removeprefix("gw")) if worker.startswith("gw") else 0
    for _ in range(_PORT_TRIES):
        port = _random.randrange(_PORTS_FROM, _ephemeral_start())
        if port % workers != share or port in _given or not _bindable(port):
            continue
        _given.add(port)
        return port
    raise RuntimeError(f"no free port found in {_PORT_TRIES} tries")


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except OSError, ValueError, IndexError:
        return 32768  # Linux's default


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_is_free(port: int) -> bool:
    """Return whether nothing listens on ``port`` (on any address of this host)."""
    with socket.socket() as sock:
        # As servers do: connections of a process that just stopped (TIME_WAIT) do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("", port))
        except OSError:
            return False
        return True


def wait_for_port(port: int, timeout_s: float, process: subprocess.Popen[bytes]) -> None:
    """Wait until 127.0.0.1:port accepts connections; fail early if the process exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(f"exited with code {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise ServiceError(f"nothing listened on port {port} within {timeout_s:.0f} s")


class ServiceError(RuntimeError):
    """A program did not start as expected."""


class Service:
    """One program running in the background, its output in ``log_file``."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        log_file: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """Describe the program; ``start`` runs it."""
        self.name = name
        self.command = list(command)
        self.log_file = log_file
        self.env = dict(env) if env is not None else None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, port: int | None = None, timeout_s: float = 30) -> None:
        """Start the program and, when a port is given, wait until it listens there."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads at this point
            )
        if port is not None:
            try:
                wait_for_port(port, timeout_s, self.process)
            except ServiceError as err:
                self.stop()
                raise ServiceError(f"{self.name}: {err}; last lines:\n{self.log_tail()}") from err

    def log_tail(self, lines: int = 30) -> str:
        """Return the end of the program's log."""
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout_s: float = 20) -> int | None:
        """Ask the program to stop (SIGTERM), kill it after ``timeout_s``; return its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode
