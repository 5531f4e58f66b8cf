"""The command line: exit codes and messages a manager sees."""

from __future__ import annotations

from pathlib import Path
import subprocess

import pytest

from ioe_aggregator import __version__

from .conftest import aggregator_command, aggregator_env


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        aggregator_command(*args),
        capture_output=True,
        text=True,
        env=aggregator_env(**env),
        timeout=60,
        check=False,
    )


def test_version() -> None:
    result = run("version")
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
