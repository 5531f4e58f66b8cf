"""The member registry through the command line, and the broker files it generates.

The real TLS Mosquitto reads exactly those files.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
import sqlite3
import zlib

import pytest

from ioe_aggregator.auth import secrets
from ioe_aggregator.members.join_code import PREFIX, JoinCode, JoinCodeError, decode, encode

from .conftest import Community, make_cups

CONNACK_SUCCESS = 0
CONNACK_NOT_AUTHORIZED = 135


def database_bytes(community: Community) -> bytes:
    """Every byte the SQLite database keeps (main file and write-ahead log)."""
    path = Path(community.options["database_url"].removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_add_returns_a_join_code_with_everything_a_home_needs(community: Community) -> None:
    code = community.add_member(
        "m-0001", 7, **{"--cups": "es 0021 0000 0000 0007 " + make_cups(7)[-2:].lower()}
    )

    assert code.community == "molinos"
    assert code.member == "m-0001"
    assert code.topic_prefix == "ioe/v1/molinos"
    assert (code.broker_host, code.broker_port) == ("127.0.0.1", community.broker.port)
    assert code.ca_certificate == community.broker.ca_file.read_text()
    assert secrets.split_token(code.api_token) is not None
    shown = json.loads(community.cli("members", "show", "m-0001", "--json").stdout)
    assert shown["cups"] == make_cups(7)  # compact, upper case
    assert shown["contracted_kw"] == 4.6
    assert shown["investment_share"] == 0.1
    assert shown["vulnerable"] is False
    assert shown["revoked"] is None


def test_secrets_are_stored_only_hashed(community: Community) -> None:
    code = community.add_member("m-0001")

    stored = database_bytes(community)
    assert code.mqtt_password.encode() not in stored
    token_secret = secrets.split_token(code.api_token)[1]  # type: ignore[index]
    assert token_secret.encode() not in stored
    assert code.api_token.encode() not in stored


def test_the_join_code_survives_copying_with_line_breaks(community: Community) -> None:
    text = json.loads(
        community.cli(
            "members",
            "add",
            "m-0002",
            "--name",
            "Casa",
            "--cups",
            make_cups(2),
            "--contracted-kw",
            "3.3",
            "--json",
        ).stdout
    )["join_code"]

    folded = "\n".join(text[i : i + 60] for i in range(0, len(text), 60))
    assert decode(folded).member == "m-0002"
    assert decode(folded).community_name is None  # the manager gave the community none
    with pytest.raises(JoinCodeError, match="incomplete or damaged"):
        decode(text[:-20])
    with pytest.raises(JoinCodeError, match="starts with IOE1-"):
        decode("hello")


def code_text(fields: object) -> str:
    """Return a join code's text holding exactly these JSON fields."""
    packed = zlib.compress(json.dumps(fields).encode())
    return PREFIX + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def code_fields(text: str) -> dict[str, object]:
    """Return the JSON fields a join code's text holds."""
    body = text.removeprefix(PREFIX)
    return json.loads(zlib.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


def test_join_codes_of_other_versions_are_read() -> None:
    code = JoinCode(
        community="molinos",
        member="m-0001",
        topic_prefix="ioe/v1/molinos",
        broker_host="comunidad.example",
        broker_port=8883,
        ca_certificate=None,
        mqtt_password="secret",
        api_token="token",
        api_url=None,
        cups=make_cups(1),
    )

    written = code_fields(encode(code))
    # An empty optional field is left out: an older home, which knows no such field, reads it.
    assert "community_name" not in written
    assert written["ca_certificate"] is None  # a required field is written even when null
    # A field a newer server adds is ignored by this version.
    assert decode(code_text({**written, "tariff": "2.0TD"})) == code
    # A required field missing, or something that is no object, is still a damaged code.
    del written["api_token"]
    for fields in (written, ["molinos"], "molinos"):
        with pytest.raises(JoinCodeError, match="incomplete or damaged"):
            decode(code_text(fields))


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("M 1", "--cups", make_cups(1)), "member id 'M 1'"),
        (("m-1", "--cups", "ES0021000000000001XX"), "CUPS 'ES0021000000000001XX'"),
        (("m-1", "--cups", make_cups(1), "--contracted-kw", "0"), "contracted power"),
        (("m-1", "--cups", make_cups(1), "--investment-share", "1.5"), "investment share"),
        (("m-1", "--cups", make_cups(1), "--name", " "), "name: expected 1 to 100"),
        (("ioe-aggregator", "--cups", make_cups(1)), "one of the broker's own logins"),
    ],
)
def test_invalid_members_are_refused_with_the_reason(
    community: Community, arguments: tuple[str, ...], expected: str
) -> None:
    options = {"--name": "Casa", "--contracted-kw": "4.6"}
    args = list(arguments)
    for key, value in options.items():
        if key not in args:
            args += [key, value]

    result = community.cli("members", "add", *args, check=False)

    assert result.returncode == 1
    assert expected in result.stderr
    assert json.loads(community.cli("members", "list", "--json").stdout) == []


def test_a_member_id_or_cups_cannot_be_registered_twice(community: Community) -> None:
    community.add_member("m-0001", 1)

    again = community.cli(
        "members",
        "add",
        "m-0001",
        "--name",
        "X",
        "--cups",
        make_cups(2),
        "--contracted-kw",
        "1",
        check=False,
    )
    same_cups = community.cli(
        "members",
        "add",
        "m-0002",
        "--name",
        "X",
        "--cups",
        make_cups(1),
        "--contracted-kw",
        "1",
        check=False,
    )

    assert again.returncode == 1
    assert "member m-0001 is already registered" in again.stderr
    assert same_cups.returncode == 1
    assert f"CUPS {make_cups(1)} is already registered to member m-0001" in same_cups.stderr


def test_unknown_members_are_reported(community: Community) -> None:
    for job in ("show", "rotate", "revoke"):
        result = community.cli("members", job, "m-9999", check=False)
        assert result.returncode == 1
        assert "no member 'm-9999'" in result.stderr


def test_a_member_logs_in_to_the_broker_with_its_join_code(community: Community) -> None:
    code = community.add_member("m-0001")

    client = community.connect("m-0001", code.mqtt_password)
    wrong = community.connect("m-0001", "not-the-password")
    stranger = community.connect("m-0002", code.mqtt_password)

    assert client.connected == CONNACK_SUCCESS
    assert wrong.connected == CONNACK_NOT_AUTHORIZED
    assert stranger.connected == CONNACK_NOT_AUTHORIZED


def test_rotate_replaces_the_credentials_at_once(community: Community) -> None:
    old = community.add_member("m-0001")
    connected = community.connect("m-0001", old.mqtt_password)

    new = decode(
        json.loads(community.cli("members", "rotate", "m-0001", "--json").stdout)["join_code"]
    )

    assert new.mqtt_password != old.mqtt_password
    assert new.api_token != old.api_token
    # The broker re-read its files: the old session is closed, the old password refused.
    connected.wait_for(lambda: connected.disconnected is not None)
    assert community.connect("m-0001", old.mqtt_password).connected == CONNACK_NOT_AUTHORIZED
    assert community.connect("m-0001", new.mqtt_password).connected == CONNACK_SUCCESS


def test_revoke_shuts_the_member_out_and_keeps_its_record(community: Community) -> None:
    code = community.add_member("m-0001")
    community.add_member("m-0002")
    connected = community.connect("m-0001", code.mqtt_password)

    result = community.cli("members", "revoke", "m-0001", "--json")

    assert json.loads(result.stdout)["revoked"] is not None
    connected.wait_for(lambda: connected.disconnected is not None)
    assert community.connect("m-0001", code.mqtt_password).connected == CONNACK_NOT_AUTHORIZED
    listed = json.loads(community.cli("members", "list", "--json").stdout)
    assert [(m["id"], m["revoked"] is None) for m in listed] == [
        ("m-0001", False),
        ("m-0002", True),
    ]
    assert community.cli("members", "rotate", "m-0001", check=False).returncode == 1
    passwords = (community.directory / "broker-files" / "ioe-community.passwd").read_text()
    assert "m-0001:" not in passwords
    assert "m-0002:$7$" in passwords


def test_every_change_is_in_the_audit_log(community: Community) -> None:
    community.add_member("m-0001")
    community.cli("members", "rotate", "m-0001")
    community.cli("members", "revoke", "m-0001")
    community.cli("tokens", "add", "--scope", "admin", "--label", "control centre")

    entries = json.loads(community.cli("audit", "--json").stdout)["entries"][::-1]  # oldest first

    actions = [(e["action"], e["actor"].startswith("cli:")) for e in entries]
    assert [a for a, _ in actions] == [
        "token_created",
        "member_added",
        "token_revoked",
        "token_created",
        "member_rotated",
        "token_revoked",
        "member_revoked",
        "token_created",
    ]
    assert all(by_cli for _, by_cli in actions)


def test_the_generated_access_list_uses_patterns(community: Community) -> None:
    acl = (community.directory / "broker-files" / "ioe-community.acl").read_text()

    assert "user ioe-aggregator\ntopic readwrite #" in acl
    assert "pattern write ioe/v1/molinos/m/%u/readings" in acl
    assert "pattern read ioe/v1/molinos/m/%u/results" in acl
    assert "pattern read ioe/v1/molinos/community/#" in acl
    conf = (community.directory / "broker-files" / "ioe-community.conf").read_text()
    assert f"acl_file {community.directory / 'broker-files' / 'ioe-community.acl'}" in conf


def test_the_database_never_holds_a_plain_token(community: Community) -> None:
    result = community.cli("tokens", "add", "--scope", "public", "--label", "display", "--json")
    token = json.loads(result.stdout)["token"]
    path = Path(community.options["database_url"].removeprefix("sqlite:///"))

    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT secret_hash FROM tokens").fetchall()

    assert token.encode() not in database_bytes(community)
    assert len(rows) == 1
    assert len(rows[0][0]) == 64
