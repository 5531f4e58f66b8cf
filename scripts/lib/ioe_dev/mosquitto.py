"""A real Mosquitto broker with TLS and password logins, as the community runs it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import getpass
from pathlib import Path
import shutil
import subprocess

from ioe_aggregator.members.broker_files import Listener, listener_file
from ioe_dev.pki import ServerCertificate, ensure_server_certificate
from ioe_dev.processes import Service


@dataclass(frozen=True, kw_only=True)
class Broker:
    """Where a running broker listens and what a client needs to reach it."""

    host: str
    port: int
    ca_file: Path
    pid_file: Path
    service: Service


def write_password_file(path: Path, users: Mapping[str, str]) -> None:
    """Write a Mosquitto password file (hashed by mosquitto_passwd) for ``users``."""
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        raise FileNotFoundError("mosquitto_passwd is not on PATH; run scripts/setup")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{user}:{password}\n" for user, password in users.items()))
    path.chmod(0o600)
    subprocess.run([tool, "-U", str(path)], check=True)


def write_config(
    directory: Path,
    port: int,
    certificate: ServerCertificate,
    *,
    password_file: Path | None = None,
    include_dir: Path | None = None,
    addon_listener: bool = False,
) -> Path:
    """Write a configuration with one TLS listener on 127.0.0.1 and password logins only.

    The listener is the aggregator's (``broker_files.listener_file``): TLS 1.2 with AEAD suites
    or TLS 1.3, each client's id bound to its login. ``addon_listener`` writes one as the
    Mosquitto add-on has instead, which the aggregator does not configure: any client id goes.

    The logins come from ``password_file``, or from the ``*.conf`` files of ``include_dir``
    (the aggregator's generated files, as on the Mosquitto add-on's customize folder).
    """
    config = directory / "mosquitto.conf"
    logins = [f"password_file {password_file}"] if password_file else []
    included = [f"include_dir {include_dir}"] if include_dir else []
    config.write_text(
        "\n".join(
            [
                "# Written by ioe_dev.mosquitto: TLS only, no anonymous logins.",
                # Started as root, Mosquitto would switch to its own user, which cannot read
                # the key and password files we wrote as root (mode 0600).
                f"user {getpass.getuser()}",
                "allow_anonymous false",
                *logins,
                f"pid_file {directory / 'mosquitto.pid'}",
                "persistence false",
                "log_dest stdout",
                "log_type error",
                "log_type warning",
                "log_type notice",
                "log_type information",
                "connection_messages true",
                _addon_listener(port, certificate)
                if addon_listener
                # The listener as the aggregator writes it for a community's own Mosquitto.
                else listener_file(
                    Listener(
                        port=port,
                        host="127.0.0.1",
                        certfile=certificate.cert_file,
                        keyfile=certificate.key_file,
                    )
                ),
                *included,
                "",
            ]
        )
    )
    return config


def _addon_listener(port: int, certificate: ServerCertificate) -> str:
    return (
        f"listener {port} 127.0.0.1\n"
        f"certfile {certificate.cert_file}\nkeyfile {certificate.key_file}\n"
        "tls_version tlsv1.2\n"
    )


def start_broker(
    directory: Path,
    port: int,
    users: Mapping[str, str] | None = None,
    *,
    include_dir: Path | None = None,
    expired: bool = False,
    addon_listener: bool = False,
) -> Broker:
    """Start Mosquitto on 127.0.0.1:port with a local CA and the given logins.

    Give ``users`` (written to a password file here) or ``include_dir`` (configuration files
    written by the aggregator, which must exist before the broker starts). ``expired`` gives
    it a certificate (and CA) that expired yesterday; ``addon_listener`` a listener like the
    Mosquitto add-on's (see ``write_config``).
    """
    certificate = broker_certificate(directory, expired=expired)
    password_file = None
    if users is not None:
        password_file = directory / "passwords"
        write_password_file(password_file, users)
    config = write_config(
        directory,
        port,
        certificate,
        password_file=password_file,
        include_dir=include_dir,
        addon_listener=addon_listener,
    )
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    service = Service("mosquitto", [mosquitto, "-c", str(config)], directory / "mosquitto.log")
    service.start(port=port)
    return Broker(
        host="127.0.0.1",
        port=port,
        ca_file=certificate.ca_file,
        pid_file=directory / "mosquitto.pid",
        service=service,
    )


def start_plain_broker(directory: Path, port: int) -> Service:
    """Start Mosquitto on 127.0.0.1:port without TLS (a port a join code must not trust)."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "plain.conf"
    config.write_text(
        f"user {getpass.getuser()}\nallow_anonymous true\nlistener {port} 127.0.0.1\n"
        "persistence false\nlog_dest stdout\n"
    )
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    service = Service("mosquitto-plain", [mosquitto, "-c", str(config)], directory / "plain.log")
    service.start(port=port)
    return service


def broker_certificate(directory: Path, *, expired: bool = False) -> ServerCertificate:
    """Return the broker's certificate (made on first use), signed by a local CA."""
    return ensure_server_certificate(directory / "tls", ["localhost", "127.0.0.1"], expired=expired)
