"""The link's MQTT client id: random, kept with the home, never one another member can guess.

On a broker that does not bind a client's id to its login (Home Assistant's Mosquitto add-on
runs the community's files on listeners of its own), a member who knew another home's id could
connect with it and knock that home off. Real parts: such a broker on the files the aggregator
generates, homes joined through the config flow, an entry saved before the id was random.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, replace
import getpass
from pathlib import Path
import re
import shutil

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ioe_community.const import CONF_COMMUNITY, CONF_LINK_CLIENT_SUFFIX, DOMAIN
from ioe_aggregator.members.join_code import JoinCode, encode
from ioe_dev.mosquitto import broker_certificate
from ioe_dev.processes import Service, free_port
from ioe_dev.synthetic import cups as make_cups
from tests.community import Community

from .joined_home import join, reconfigure, wait_for_connected

SUFFIX = re.compile(r"[0-9a-f]{16}")
# Mosquitto's connection message: "… as <client id> (p5, c0, k60, u'<login>')."
CONNECTED = re.compile(r"New client connected from \S+ as (\S+) \(.*u'([^']*)'\)")


# Let the homes reach the broker on 127.0.0.1.
pytestmark = pytest.mark.usefixtures("allow_local_sockets")


class AddonBroker:
    """Mosquitto as the add-on runs the community: its own TLS listener, the generated files.

    It reads the logins when it starts: the members are registered before.
    """

    def __init__(self, community: Community, directory: Path) -> None:
        """Write the configuration: the community's certificate, logins and access list."""
        directory.mkdir(parents=True, exist_ok=True)
        certificate = broker_certificate(community.directory / "broker")
        self.port = free_port()
        config = directory / "mosquitto.conf"
        config.write_text(
            "\n".join(
                [
                    f"user {getpass.getuser()}",
                    "allow_anonymous false",
                    "persistence false",
                    "log_dest stdout",
                    "log_type information",
                    "log_type notice",
                    "connection_messages true",
                    f"listener {self.port} 127.0.0.1",
                    f"certfile {certificate.cert_file}",
                    f"keyfile {certificate.key_file}",
                    f"include_dir {community.directory / 'broker-files'}",
                    "",
                ]
            )
        )
        mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.service = Service("mosquitto", [mosquitto, "-c", str(config)], directory / "log")

    def code(self, code: JoinCode) -> JoinCode:
        """Return a member's join code with this broker's port."""
        return replace(code, broker_port=self.port)

    def client_ids(self, login: str) -> list[str]:
        """Return the ids the broker saw the login connect with, in order."""
        text = self.service.log_file.read_text()
        return [found[1] for found in CONNECTED.finditer(text) if found[2] == login]


@pytest.fixture
def addon_broker(community: Community, tmp_path: Path) -> Iterator[AddonBroker]:
    broker = AddonBroker(community, tmp_path / "addon")
    yield broker
    broker.service.stop()


async def test_each_home_connects_with_a_random_id_of_its_own(
    hass: HomeAssistant, community: Community, addon_broker: AddonBroker
) -> None:
    codes = {
        member: community.add_member(member, cups=make_cups(number))
        for member, number in (("m-0001", 101), ("m-0002", 102), ("m-0003", 103))
    }
    addon_broker.service.start(port=addon_broker.port)
    homes = {
        member: await join(
            hass, addon_broker.code(codes[member]), name=f"Casa {number}", cups=make_cups(number)
        )
        for member, number in (("m-0001", 101), ("m-0002", 102))
    }
    for entry in homes.values():
        await wait_for_connected(hass, entry)

    suffixes = {member: entry.data[CONF_LINK_CLIENT_SUFFIX] for member, entry in homes.items()}
    assert all(SUFFIX.fullmatch(suffix) for suffix in suffixes.values())
    assert suffixes["m-0001"] != suffixes["m-0002"]
    # Kept apart from the join code's fields (those make the link's JoinCode).
    assert CONF_LINK_CLIENT_SUFFIX not in homes["m-0001"].data[CONF_COMMUNITY]
    for member, suffix in suffixes.items():
        # The flow's connection test, then the link: both with the home's random suffix.
        assert set(addon_broker.client_ids(member)) == {
            f"ioe-home-molinos-{member}-{suffix}-probe",
            f"ioe-home-molinos-{member}-{suffix}",
        }

    # Reconfigured without a code, the home keeps its id; with a new code, it gets a new one.
    entry = homes["m-0001"]
    await reconfigure(hass, entry, {})
    assert entry.data[CONF_LINK_CLIENT_SUFFIX] == suffixes["m-0001"]
    # (m-0003's code, as if made for this home's supply point: only the id is looked at here)
    moved = replace(addon_broker.code(codes["m-0003"]), cups=entry.unique_id)
    await reconfigure(hass, entry, {"join_code": encode(moved)})
    new = entry.data[CONF_LINK_CLIENT_SUFFIX]
    assert SUFFIX.fullmatch(new)
    assert new != suffixes["m-0001"]
    await wait_for_connected(hass, entry)
    assert set(addon_broker.client_ids("m-0003")) == {
        f"ioe-home-molinos-m-0003-{new}-probe",
        f"ioe-home-molinos-m-0003-{new}",
    }
    for entry in homes.values():
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_an_entry_saved_before_the_random_id_gets_one(
    hass: HomeAssistant, community: Community, addon_broker: AddonBroker
) -> None:
    cups = make_cups(101)
    code = addon_broker.code(community.add_member("m-0001", cups=cups))
    addon_broker.service.start(port=addon_broker.port)
    old = MockConfigEntry(
        domain=DOMAIN,
        title="Casa",
        unique_id=cups,
        data={"name": "Casa", "cups": cups, CONF_COMMUNITY: asdict(code)},
        version=1,
        minor_version=1,
    )
    old.add_to_hass(hass)
    assert await hass.config_entries.async_setup(old.entry_id)
    await hass.async_block_till_done()

    assert old.state is ConfigEntryState.LOADED
    assert (old.version, old.minor_version) == (1, 3)  # migrated all the way
    suffix = old.data[CONF_LINK_CLIENT_SUFFIX]
    assert SUFFIX.fullmatch(suffix)
    assert old.data[CONF_COMMUNITY] == asdict(code)
    await wait_for_connected(hass, old)
    assert set(addon_broker.client_ids("m-0001")) == {f"ioe-home-molinos-m-0001-{suffix}"}
    assert await hass.config_entries.async_unload(old.entry_id)


async def test_entries_that_never_joined_or_are_from_a_newer_version(
    hass: HomeAssistant,
) -> None:
    alone = MockConfigEntry(
        domain=DOMAIN,
        unique_id=make_cups(101),
        data={"name": "Casa", "cups": make_cups(101)},
        minor_version=1,
    )
    newer = MockConfigEntry(
        domain=DOMAIN,
        unique_id=make_cups(102),
        data={"name": "Otra", "cups": make_cups(102)},
        version=2,
    )
    for entry in (alone, newer):
        entry.add_to_hass(hass)
        await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    # A home joins no community yet: its id is made when it joins.
    assert alone.state is ConfigEntryState.LOADED
    assert alone.minor_version == 3
    assert CONF_LINK_CLIENT_SUFFIX not in alone.data
    assert newer.state is ConfigEntryState.MIGRATION_ERROR
    assert await hass.config_entries.async_unload(alone.entry_id)
