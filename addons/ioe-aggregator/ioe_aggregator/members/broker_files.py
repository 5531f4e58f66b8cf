"""The broker's password file and access list, written from the registry.

Members log in with their member id; the access list's ``pattern`` lines (``%u`` is the login)
let each one write only its own readings and status and read only its own ack, results and
status, plus the community topics. A few logins (the aggregator's, and on Home Assistant the
``homeassistant`` and ``addons`` users) get the whole tree. ``ioe-community.conf`` includes
both files: Mosquitto reads it from its ``include_dir`` or, on the Mosquitto add-on, from the
``customize`` folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
import logging
import os
from pathlib import Path
import signal
import tempfile

_LOGGER = logging.getLogger(__name__)
CONF_NAME = "ioe-community.conf"
PASSWORD_NAME = "ioe-community.passwd"  # noqa: S105 - a file name
ACL_NAME = "ioe-community.acl"


def password_file(logins: Iterable[tuple[str, str]]) -> str:
    """Return the password file of (login, ``$7$`` hash) pairs."""
    return "".join(f"{login}:{password_hash}\n" for login, password_hash in logins)


def acl_file(prefix: str, full_access: Sequence[str]) -> str:
    """Return the access list for a topic prefix."""
    lines = ["# Written by the IoE Community aggregator from its member registry: do not edit."]
    for login in full_access:
        lines += [f"user {login}", "topic readwrite #", ""]
    lines += [
        "# Every member, by its login (%u): its own topics, and the community's.",
        f"pattern write {prefix}/m/%u/readings",
        f"pattern readwrite {prefix}/m/%u/status",
        f"pattern read {prefix}/m/%u/ack",
        f"pattern read {prefix}/m/%u/results",
        f"pattern read {prefix}/community/#",
        "",
    ]
    return "\n".join(lines)


def conf_file(directory: Path) -> str:
    """Return the configuration snippet that makes Mosquitto use the two files."""
    return (
        "# Written by the IoE Community aggregator: the community's logins and access list.\n"
        f"password_file {directory / PASSWORD_NAME}\n"
        f"acl_file {directory / ACL_NAME}\n"
    )


def _replace(path: Path, text: str) -> None:
    """Write a file whole or not at all (the broker may read it at any moment)."""
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", delete=False, encoding="utf-8"
    ) as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    written = Path(handle.name)
    written.chmod(0o600)
    written.replace(path)


def write(directory: Path, *, passwords: str, acl: str) -> None:
    """Write the three files into ``directory`` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    _replace(directory / PASSWORD_NAME, passwords)
    _replace(directory / ACL_NAME, acl)
    _replace(directory / CONF_NAME, conf_file(directory))


def reload_broker(pid_file: Path) -> None:
    """Ask the Mosquitto whose PID the file holds to re-read its files (SIGHUP).

    Mosquitto then also disconnects the clients whose login is gone.
    """
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except FileNotFoundError:
        _LOGGER.info("The broker is not running (no PID file %s): it reads them at start", pid_file)
    except (OSError, ValueError) as err:
        _LOGGER.warning("Could not ask the broker (PID file %s) to reload: %s", pid_file, err)
    else:
        _LOGGER.info("Asked the broker (PID %s) to reload its logins and access list", pid)
