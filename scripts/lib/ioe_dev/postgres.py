"""A throw-away PostgreSQL server for tests and benchmarks: initdb in a directory, then pg_ctl."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import os
from pathlib import Path
import pwd
import shutil
import subprocess

from ioe_dev.processes import free_port

SUPERUSER = "ioe"


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server programs on this machine."""


def _bin_dir() -> Path:
    """Return where initdb and pg_ctl are (Debian keeps them out of PATH)."""
    if found := shutil.which("initdb"):
        return Path(found).parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    if not candidates:
        raise PostgresUnavailableError("initdb not found (install the postgresql package)")
    return candidates[-1].parent


@dataclass
class PostgresServer:
    """A running server on 127.0.0.1 that trusts local connections."""

    directory: Path
    port: int
    user: str | None

    def url(self, database: str = "postgres") -> str:
        """Return the URL of a database on this server."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def run(self, *command: str) -> subprocess.CompletedProcess[str]:
        """Run one of the server's programs (initdb, pg_ctl, createdb…) as its owner."""
        return subprocess.run(
            [str(_bin_dir() / command[0]), *command[1:]],
            user=self.user,
            capture_output=True,
            text=True,
            check=True,
        )

    def client(self, *command: str) -> subprocess.CompletedProcess[str]:
        """Run one of PostgreSQL's client programs (pg_dump, pg_restore…) as this user."""
        return subprocess.run(
            [str(_bin_dir() / command[0]), *command[1:]], capture_output=True, text=True, check=True
        )

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL."""
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, name)
        return self.url(name)

    def restart(self) -> None:
        """Stop the server (its clients' sessions end, as in a failover) and start it again."""
        self.run(
            "pg_ctl", "restart", "-D", str(self.directory / "data"), "-m", "fast", "-w",
            "-l", str(self.directory / "log"),
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server at once (its data is thrown away with the directory)."""
        self.run("pg_ctl", "stop", "-D", str(self.directory / "data"), "-m", "immediate", "-w")


def start_postgres(directory: Path, settings: Mapping[str, str] | None = None) -> PostgresServer:
    """Create a cluster in ``directory`` (unless it holds one) and start it; return the server.

    ``settings`` are extra server settings (``-c name=value``). PostgreSQL refuses to run as
    root: as root, the cluster belongs to the ``postgres`` user.
    """
    user = None
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        user = "postgres"
        account = pwd.getpwnam(user)
        os.chown(directory, account.pw_uid, account.pw_gid)
    server = PostgresServer(directory=directory, port=free_port(), user=user)
    data = directory / "data"
    if not (data / "PG_VERSION").exists():
        server.run(
            "initdb", "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync"
        )
    options = (
        f"-p {server.port} -c listen_addresses=127.0.0.1 -k {directory} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        + "".join(f" -c {name}={value}" for name, value in (settings or {}).items())
    )
    server.run(
        "pg_ctl", "start", "-D", str(data), "-o", options, "-l", str(directory / "log"), "-w"
    )
    return server
