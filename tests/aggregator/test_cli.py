"""The command line: exit codes and messages a manager sees, tokens and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import subprocess
from typing import Any

import pytest

from ioe_aggregator import __version__
from ioe_dev.aggregator_cli import run_aggregator

from .conftest import aggregator_command, aggregator_env


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a command in a process of its own, forked warm (``ioe_dev.aggregator_cli``)."""
    return run_aggregator(args, env=aggregator_env(**env))


def test_version() -> None:
    # This one as a program started from nothing: ``python -m ioe_aggregator``.
    result = subprocess.run(
        aggregator_command("version"),
        capture_output=True,
        text=True,
        env=aggregator_env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.strip() == __version__


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("community_id: demo\nhttp_prot: 8099\n", "unknown key 'http_prot'"),
        ("http_port: seventy\n", "key 'http_port': expected a port number, got 'seventy'"),
        ("http_port: 70000\n", "key 'http_port': expected a port number from 1 to 65535"),
        ("community_id: Los Molinos\n", "key 'community_id': expected 1-40 of a-z, 0-9 and -"),
        ("log_level: loud\n", "key 'log_level': expected one of debug, info, warning, error"),
        ("mqtt_tls: maybe\n", "key 'mqtt_tls': expected a boolean"),
        ("database_url: mysql://db/ioe\n", "key 'database_url': expected sqlite:///"),
        ("[1, 2]\n", "must hold a mapping"),
        ("community_id: [unclosed\n", "is not valid YAML"),
    ],
)
def test_bad_configuration_file_exits_2_naming_the_key(
    tmp_path: Path, content: str, expected: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(content)

    result = run("serve", "--config", str(config))

    assert result.returncode == 2
    assert expected in result.stderr
    assert str(config) in result.stderr


def test_bad_environment_variable_is_named() -> None:
    result = run("serve", IOE_AGGREGATOR_HTTP_PORT="x", IOE_AGGREGATOR_DATABSE_URL="sqlite:///a")

    assert result.returncode == 2
    assert "environment variable IOE_AGGREGATOR_HTTP_PORT: expected a port number" in result.stderr
    assert "unknown environment variable IOE_AGGREGATOR_DATABSE_URL" in result.stderr


def test_missing_configuration_file(tmp_path: Path) -> None:
    result = run("serve", "--config", str(tmp_path / "absent.json"))

    assert result.returncode == 2
    assert "cannot read configuration file" in result.stderr


def test_add_on_options_json_is_read(tmp_path: Path) -> None:
    options = tmp_path / "options.json"
    options.write_text('{"community_id": "demo", "log_level": "verbose"}')

    result = run("serve", IOE_AGGREGATOR_CONFIG=str(options))

    assert result.returncode == 2
    assert f"invalid configuration ({options}): key 'log_level'" in result.stderr


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """Return a configuration of a database alone, all the token and audit jobs need."""
    config = tmp_path / "config.yaml"
    config.write_text(f"database_url: sqlite:///{tmp_path / 'ioe.db'}\n")
    return config


def cli_json(config: Path, *args: str) -> Any:
    result = run(*args, "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_tokens_can_expire_and_the_list_says_so(config_file: Path) -> None:
    made = cli_json(
        config_file, "tokens", "add", "--scope", "public", "--label", "d", "--expires-in-days", "7"
    )
    forever = cli_json(config_file, "tokens", "add", "--scope", "admin", "--label", "a")
    listed = run("tokens", "list", "--config", str(config_file)).stdout
    refused = run(
        *("tokens", "add", "--scope", "public", "--label", "x", "--expires-in-days", "0"),
        *("--config", str(config_file)),
    )

    expires = datetime.fromisoformat(made["expires"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=1)
    assert made["expired"] is False
    assert forever["expires"] is None
    assert f"{made['id']}  public    -             d  (expires {made['expires']})" in listed
    assert f"{forever['id']}  admin     -             a\n" in listed
    assert refused.returncode == 2
    assert "expected a whole number of days from 1 to 3650, got '0'" in refused.stderr


def test_the_command_line_may_revoke_the_last_admin_token_but_warns(config_file: Path) -> None:
    first = cli_json(config_file, "tokens", "add", "--scope", "admin", "--label", "one")
    second = cli_json(config_file, "tokens", "add", "--scope", "admin", "--label", "two")
    public = cli_json(config_file, "tokens", "add", "--scope", "public", "--label", "display")

    one_left = run("tokens", "revoke", first["id"], "--config", str(config_file))
    none_left = run("tokens", "revoke", second["id"], "--config", str(config_file))
    not_admin = run("tokens", "revoke", public["id"], "--config", str(config_file))
    again = run("tokens", "revoke", second["id"], "--config", str(config_file))

    assert (one_left.returncode, one_left.stderr) == (0, "")
    assert none_left.returncode == 0
    assert "warning: no active admin token is left" in none_left.stderr
    assert (not_admin.returncode, not_admin.stderr) == (0, "")
    assert again.returncode == 1
    assert f"no active token '{second['id']}'" in again.stderr


def run_with_input(config: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_aggregator([*args, "--config", str(config)], env=aggregator_env(), input_text=text)


def test_users_are_made_and_given_roles_from_the_command_line(config_file: Path) -> None:
    password = "una frase larga y secreta"
    made = run_with_input(
        config_file, password, "users", "add", "Ana", "--name", "Ana", "--role", "admin",
        "--password-stdin", "--json",
    )  # fmt: skip
    weak = run_with_input(
        config_file, "short", "users", "add", "pep", "--name", "Pep", "--role", "viewer",
        "--password-stdin",
    )  # fmt: skip
    none_left = run("users", "role", "ana", "none", "--config", str(config_file))
    listed = run("users", "list", "--config", str(config_file)).stdout
    unknown = run("users", "disable", "nobody", "--config", str(config_file))

    assert made.returncode == 0, made.stderr
    user = json.loads(made.stdout)
    assert (user["username"], user["role"], user["kind"]) == ("ana", "admin", "local")
    assert password not in made.stdout
    assert weak.returncode == 1
    assert "password: a password has at least 12 characters" in weak.stderr
    assert none_left.returncode == 0
    assert "warning: no active admin is left" in none_left.stderr
    assert f"{user['id']}  none      ana                       Ana" in listed
    assert unknown.returncode == 1
    assert "no user 'nobody' (an id or a user name)" in unknown.stderr
    actions = [e["action"] for e in cli_json(config_file, "audit")["entries"]]
    assert actions == ["user_changed", "user_added"]


def test_the_audit_log_is_printed_newest_first_a_page_at_a_time(config_file: Path) -> None:
    made = [
        cli_json(config_file, "tokens", "add", "--scope", "public", "--label", f"t{n}")["id"]
        for n in range(5)
    ]

    first = cli_json(config_file, "audit", "--limit", "2")
    rest = cli_json(config_file, "audit", "--before", first["next"])
    text = run("audit", "--limit", "2", "--config", str(config_file)).stdout
    bad_cursor = run("audit", "--before", "nope", "--config", str(config_file))
    bad_limit = run("audit", "--limit", "0", "--config", str(config_file))

    subjects = [e["subject"] for e in first["entries"] + rest["entries"]]
    assert subjects == made[::-1]
    assert rest["next"] is None
    assert all(e["occurrences"] == 1 for e in first["entries"])
    lines = text.splitlines()
    assert made[4] in lines[0]
    assert made[3] in lines[1]
    assert lines[2] == f"(older entries: audit --before {first['next']})"
    assert bad_cursor.returncode == 1
    assert "is not a cursor this audit log gave" in bad_cursor.stderr
    assert bad_limit.returncode == 2
    assert "expected 1 to 1000, got '0'" in bad_limit.stderr
