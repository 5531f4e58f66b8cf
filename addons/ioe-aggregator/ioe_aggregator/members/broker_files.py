"""The broker's password file and access list, written from the registry.

Members log in with their member id, and the access list's ``pattern`` lines (``%u`` is the
login) give each one the topics ``broker_rules`` lets it have; when logins carry the community
(``member@community``) each member has its own ``user`` lines instead. A few logins (the
aggregator's, and on Home Assistant the ``homeassistant`` and ``addons`` users) get the whole
tree.
``ioe-community.conf`` includes both files: Mosquitto reads it from its ``include_dir`` or, on
the Mosquitto add-on, from the ``customize`` folder.

For a Mosquitto of the community's own (not the add-on, whose listeners are its own),
``ioe-community-listener.conf`` adds the TLS listener homes connect to: TLS 1.3, or TLS 1.2
with forward-secret AEAD suites only, and each client's id bound to its login, so that no
member can take over another's session (Mosquitto's access list cannot bind them otherwise).

Mosquitto's access list is only checked when a message is delivered, never at SUBSCRIBE: a
member may subscribe to anything and receive only what the list lets it read. A member that
subscribed to the aggregator's shared subscription would still take its turn at every
member's readings (and lose them), which is why the group's name is a secret of the service
(``app.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
import logging
import os
from pathlib import Path
import signal
import tempfile

from ioe_aggregator.members.broker_rules import Logins, member_rules
from ioe_aggregator.tls import TLS12_CIPHERS, TLS13_SUITES

_LOGGER = logging.getLogger(__name__)
CONF_NAME = "ioe-community.conf"
PASSWORD_NAME = "ioe-community.passwd"  # noqa: S105 - a file name
ACL_NAME = "ioe-community.acl"
LISTENER_NAME = "ioe-community-listener.conf"


def password_file(logins: Iterable[tuple[str, str]]) -> str:
    """Return the password file of (login, ``$7$`` hash) pairs."""
    return "".join(f"{login}:{password_hash}\n" for login, password_hash in logins)


def acl_file(
    prefix: str, full_access: Sequence[str], logins: Logins, members: Iterable[str]
) -> str:
    """Return the access list for a topic prefix and the active members."""
    lines = ["# Written by the IoE Community aggregator from its member registry: do not edit."]
    for login in full_access:
        lines += [f"user {login}", "topic readwrite #", ""]
    if not logins.with_community:
        lines.append("# Every member, by its login (%u): its own topics, and the community's.")
        lines += [f"pattern {rule.access} {rule.topic}" for rule in member_rules(prefix, "%u")]
        return "\n".join([*lines, ""])
    lines.append("# Every member (member@community): its own topics, and the community's.")
    for member in members:
        lines.append(f"user {logins.login_of(member)}")
        lines += [f"topic {rule.access} {rule.topic}" for rule in member_rules(prefix, member)]
        lines.append("")
    return "\n".join([*lines, ""])


def conf_file(directory: Path) -> str:
    """Return the configuration snippet that makes Mosquitto use the two files."""
    return (
        "# Written by the IoE Community aggregator: the community's logins and access list.\n"
        f"password_file {directory / PASSWORD_NAME}\n"
        f"acl_file {directory / ACL_NAME}\n"
    )


@dataclass(frozen=True, kw_only=True)
class Listener:
    """The TLS listener of a community's own Mosquitto: where, and its certificate and key."""

    port: int
    certfile: Path
    keyfile: Path
    host: str | None = None


def listener_file(listener: Listener) -> str:
    """Return the configuration of the community's TLS listener for a Mosquitto of its own."""
    address = f" {listener.host}" if listener.host else ""
    return "\n".join(
        [
            "# Written by the IoE Community aggregator: the listener homes connect to.",
            f"listener {listener.port}{address}",
            f"certfile {listener.certfile}",
            f"keyfile {listener.keyfile}",
            # The lowest version offered; TLS 1.3 is offered too.
            "tls_version tlsv1.2",
            f"ciphers {TLS12_CIPHERS}",
            f"ciphers_tls1.3 {TLS13_SUITES}",
            # A client's id is its login: nobody can knock another member (or the aggregator)
            # off the broker by connecting with its id.
            "use_username_as_clientid true",
            "",
        ]
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


def write_listener(directory: Path, listener: Listener) -> Path:
    """Write the listener's configuration into ``directory``; return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LISTENER_NAME
    _replace(path, listener_file(listener))
    return path


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
