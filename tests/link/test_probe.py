"""The join step's connection test: each way a connection fails is told apart.

Real Mosquitto brokers: one with a good certificate, one whose certificate and CA expired,
one that listens without TLS; a port where nothing listens.
"""

from __future__ import annotations

from collections.abc import Iterator
import dataclasses
from pathlib import Path

import pytest

from custom_components.ioe_community.link.client import LinkError, LinkProblem, LinkSettings, probe
from ioe_dev.mosquitto import Broker, broker_certificate, start_broker, start_plain_broker
from ioe_dev.pki import ensure_server_certificate
from ioe_dev.processes import free_port

PASSWORD = "a-good-password"


# Let these tests reach real brokers on 127.0.0.1.
pytestmark = pytest.mark.usefixtures("allow_local_sockets")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    started = start_broker(tmp_path / "broker", free_port(), {"m-0001": PASSWORD})
    yield started
    started.service.stop()


def settings_for(broker: Broker) -> LinkSettings:
    return LinkSettings(
        community="molinos",
        member="m-0001",
        username="m-0001",
        client_id="ioe-home-molinos-m-0001-0123456789abcdef",
        topic_prefix="ioe/v1/molinos",
        broker_host=broker.host,
        broker_port=broker.port,
        ca_certificate=broker.ca_file.read_text(),
        mqtt_password=PASSWORD,
        version="test",
    )


def problem_of(settings: LinkSettings) -> LinkProblem:
    with pytest.raises(LinkError) as failure:
        probe(settings, timeout_s=5)
    return failure.value.problem


def test_the_right_login_connects(broker: Broker) -> None:
    probe(settings_for(broker), timeout_s=5)


def test_a_wrong_password_is_a_refused_login(broker: Broker) -> None:
    settings = dataclasses.replace(settings_for(broker), mqtt_password="rotated-away")
    assert problem_of(settings) is LinkProblem.INVALID_AUTH


def test_a_broker_another_ca_signed_is_a_certificate_mismatch(
    broker: Broker, tmp_path: Path
) -> None:
    other_ca = broker_certificate(tmp_path / "elsewhere").ca_file.read_text()
    settings = dataclasses.replace(settings_for(broker), ca_certificate=other_ca)
    assert problem_of(settings) is LinkProblem.CERTIFICATE_MISMATCH


def test_a_certificate_for_another_name_is_a_certificate_mismatch(tmp_path: Path) -> None:
    # Made first, so that the broker keeps it: a certificate for a name that is not 127.0.0.1.
    ensure_server_certificate(tmp_path / "named" / "tls", ["broker.example"])
    named = start_broker(tmp_path / "named", free_port(), {"m-0001": PASSWORD})
    try:
        assert problem_of(settings_for(named)) is LinkProblem.CERTIFICATE_MISMATCH
    finally:
        named.service.stop()


def test_an_expired_certificate_is_told_as_such(tmp_path: Path) -> None:
    expired = start_broker(tmp_path / "old", free_port(), {"m-0001": PASSWORD}, expired=True)
    try:
        assert problem_of(settings_for(expired)) is LinkProblem.CERTIFICATE_EXPIRED
    finally:
        expired.service.stop()


def test_a_broker_without_tls_is_a_refused_tls(broker: Broker, tmp_path: Path) -> None:
    port = free_port()
    plain = start_plain_broker(tmp_path / "plain", port)
    try:
        settings = dataclasses.replace(settings_for(broker), broker_port=port)
        assert problem_of(settings) is LinkProblem.TLS_REFUSED
    finally:
        plain.stop()


def test_nothing_listening_is_cannot_connect(broker: Broker) -> None:
    settings = dataclasses.replace(settings_for(broker), broker_port=free_port())
    assert problem_of(settings) is LinkProblem.CANNOT_CONNECT
