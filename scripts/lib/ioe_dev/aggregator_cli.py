"""The aggregator's command line run many times over, each command its own process, started warm.

``python -m ioe_aggregator`` spends two to three seconds (on a two-core machine) importing what
the service needs (pandas, SciPy, aiohttp, pvlib…) before it reads its arguments, and the tests
run it hundreds of times, the demo some thirty. Here one process per caller imports the command
line once (the *zygote*, this file run as a program) and forks a child for every command: the
child is a new process as ``python -m ioe_aggregator ARGS`` would be — its own arguments,
environment, working directory, standard input, output and error, and exit code; its threads
waited for, its atexit functions run and its output flushed as it ends — that only skips the
imports (and the module by module teardown of the interpreter at its end). Nothing a command
does reaches the zygote or the next command. tests/aggregator/test_cli.py still runs the
command line as a program of its own.
"""

from __future__ import annotations

import atexit
from collections.abc import Mapping, Sequence
import contextlib
import gc
import json
import os
from pathlib import Path
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

MODULE = "ioe_aggregator"


class _Zygote:
    """The warm process of one test process, and the lock that takes one command at a time."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = dict(env)
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._folder = Path(tempfile.mkdtemp(prefix="ioe-cli-"))

    def _started(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(Path(__file__))],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=None,
                env=self._env,
                bufsize=0,
            )
            self._buffer = b""
            if self._line(self._process, attempts=None) != "ready":
                raise RuntimeError("the aggregator's command line did not start")
        return self._process

    def _line(self, process: subprocess.Popen[bytes], attempts: int | None) -> str | None:
        """Read the zygote's next line; None after ``attempts`` half seconds without one.

        Read from the pipe itself, never through a buffered file: a line already in a buffer is
        one select() never sees. Counted in steps, not by the clock, which a test may freeze.
        """
        if process.stdout is None:
            raise RuntimeError("the zygote has no pipes")
        while b"\n" not in self._buffer:
            if not select.select([process.stdout], [], [], 0.5)[0]:
                if attempts is not None:
                    attempts -= 1
                    if attempts <= 0:
                        return None
                continue
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError("the aggregator's command line zygote ended")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode().strip()

    def run(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        input_text: str | None,
        timeout: float,
    ) -> subprocess.CompletedProcess[str]:
        with self._lock:
            try:
                return self._run(args, env, input_text, timeout)
            except BaseException:
                # A request cut short (a test's timeout, say) leaves answers unread: start over.
                self._kill()
                raise

    def _run(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        input_text: str | None,
        timeout: float,
    ) -> subprocess.CompletedProcess[str]:
        process = self._started()
        if process.stdin is None:
            raise RuntimeError("the zygote has no pipes")
        files = {name: self._folder / name for name in ("stdin", "stdout", "stderr")}
        files["stdin"].write_text(input_text or "", encoding="utf-8")
        request = {
            "args": list(args),
            "env": dict(env),
            "cwd": str(Path.cwd()),
            **{name: str(path) for name, path in files.items()},
        }
        process.stdin.write(json.dumps(request).encode() + b"\n")
        process.stdin.flush()
        pid = int(self._line(process, attempts=None) or "")
        answer = self._line(process, attempts=max(1, int(timeout / 0.5)))
        timed_out = answer is None
        if timed_out:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            answer = self._line(process, attempts=None)
        returncode = int(answer or "")
        stdout = files["stdout"].read_text(encoding="utf-8", errors="replace")
        stderr = files["stderr"].read_text(encoding="utf-8", errors="replace")
        command = [sys.executable, "-m", MODULE, *args]
        if timed_out:
            raise subprocess.TimeoutExpired(command, timeout, stdout, stderr)
        return subprocess.CompletedProcess(command, returncode, stdout, stderr)

    def _kill(self) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            self._process.wait()
            self._process = None

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            if self._process.stdin is not None:
                self._process.stdin.close()
            self._process.wait(10)


# One zygote per test process and per set of the variables Python reads as it starts.
_zygotes: dict[tuple[int, frozenset[tuple[str, str]]], _Zygote] = {}
_zygotes_lock = threading.Lock()


def run_aggregator(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    input_text: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ioe_aggregator ARGS`` with ``env``; return what it printed and its code.

    As ``subprocess.run(..., capture_output=True, text=True, check=False)`` returns it.
    """
    key = (os.getpid(), frozenset((k, v) for k, v in env.items() if k.startswith("PYTHON")))
    with _zygotes_lock:
        zygote = _zygotes.get(key)
        if zygote is None:
            zygote = _zygotes[key] = _Zygote(env)
    return zygote.run(args, env, input_text, timeout)


def close_all() -> None:
    """Stop this test process's zygotes (the end of the test session)."""
    with _zygotes_lock:
        for key in [key for key in _zygotes if key[0] == os.getpid()]:
            _zygotes.pop(key).close()


# The zygote's start: run this file's serve() with nothing of the tests imported.
_BOOT = "import runpy, sys; runpy.run_path(sys.argv[1], run_name='ioe_cli_zygote')['serve']()"


def serve() -> None:
    """Import the command line, then fork a child for every request read on stdin."""
    import runpy  # noqa: PLC0415 - only the zygote needs them

    import ioe_aggregator.cli  # noqa: F401, PLC0415 - the imports every command would make

    # The control pipes on descriptors of their own; the children's standard streams are
    # their own files.
    control_in = os.fdopen(os.dup(0), encoding="utf-8")
    control_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    # Ctrl-C in a terminal reaches the whole process group: it is for the commands, whose
    # Python handler comes back in each child.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # What the imports made stays as it is in every child: their collections skip it.
    gc.freeze()
    print("ready", file=control_out, flush=True)
    for line in control_in:
        request: dict[str, Any] = json.loads(line)
        pid = os.fork()
        if pid == 0:
            control_in.close()
            control_out.close()
            _become(request)
            _exit(_run(runpy.run_module))
        print(pid, file=control_out, flush=True)
        _pid, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), file=control_out, flush=True)


def _run(run_module: Any) -> int:
    """Run the command as ``python -m`` does; return its exit code as Python would."""
    try:
        run_module(MODULE, run_name="__main__", alter_sys=True)
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        print(done.code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: BLE001 - the interpreter's own last resort
        sys.excepthook(*sys.exc_info())
        return 1
    return 0


def _exit(code: int) -> None:
    """End the child as the interpreter ends, without tearing down every module one by one.

    The interpreter waits for the program's threads, runs its atexit functions and flushes its
    output; tearing down the modules the zygote imported would then take most of a second.
    """
    threading._shutdown()  # type: ignore[attr-defined]  # as Py_Finalize does
    atexit._run_exitfuncs()
    gc.collect()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _become(request: dict[str, Any]) -> None:
    """Make this forked child the command's process: its arguments, environment and files."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    written = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for fd, name, mode in (
        (0, "stdin", os.O_RDONLY),
        (1, "stdout", written),
        (2, "stderr", written),
    ):
        opened = os.open(request[name], mode, 0o600)
        os.dup2(opened, fd)
        os.close(opened)
    # As Python opens them for a program whose output goes to files.
    sys.stdin = os.fdopen(0, encoding="utf-8", closefd=False)
    sys.stdout = os.fdopen(1, "w", encoding="utf-8", closefd=False)
    sys.stderr = os.fdopen(2, "w", 1, encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.argv = [MODULE, *request["args"]]
    signal.signal(signal.SIGINT, signal.default_int_handler)
