"""Energy since plug-in, counted on a charger's total.

KEBA's own session counter does not start again at plug-in: it keeps the last session's energy
until the car charges (evcc #8179, #8128).
"""

from __future__ import annotations

import pytest

from custom_components.ioe_community.devices.ev_session import PlugInSession
from custom_components.ioe_community.devices.modbus import DeviceReader
from custom_components.ioe_community.devices.profile import available_profiles
from ioe_dev.modbus_server import Registers

from .conftest import bus_for

KEBA = available_profiles()["keba_p30"]
# KEBA's vectors of a P40's sessions: unplugged after 10 kWh, plugged in again, charging.
UNPLUGGED, PLUGGED, CHARGING = (KEBA.test_vectors[i].holding for i in (2, 3, 4))


def test_a_session_starts_at_plug_in_and_stays_after_unplugging() -> None:
    session = PlugInSession()

    session = session.follow(connected=False, total_kwh=20010.0)
    assert session.energy_kwh is None  # no car seen plugged in yet
    session = session.follow(connected=True, total_kwh=20010.0)
    assert session.energy_kwh == 0.0
    session = session.follow(connected=True, total_kwh=20013.5)
    assert session.energy_kwh == 3.5
    session = session.follow(connected=False, total_kwh=20013.5)
    assert (session.connected, session.energy_kwh) == (False, 3.5)  # the last session stays
    session = session.follow(connected=True, total_kwh=20013.5)
    assert session.energy_kwh == 0.0  # the next car starts a new session


def test_an_unknown_reading_changes_nothing() -> None:
    session = PlugInSession(connected=True, start_kwh=100.0, energy_kwh=2.0)

    assert session.follow(connected=None, total_kwh=103.0) == session
    assert session.follow(connected=True, total_kwh=None) == session


def test_a_counter_that_goes_back_starts_a_new_session() -> None:
    session = PlugInSession(connected=True, start_kwh=100.0, energy_kwh=2.0)

    assert session.follow(connected=True, total_kwh=0.5) == PlugInSession(
        connected=True, start_kwh=0.5, energy_kwh=0.0
    )


@pytest.mark.parametrize(
    "stored",
    [
        {},
        None,
        {"connected": "yes", "start_kwh": 1.0, "energy_kwh": 0.0},
        {"connected": True, "start_kwh": "1", "energy_kwh": 0.0},
    ],
)
def test_unreadable_stored_data_is_no_session(stored: dict | None) -> None:
    assert PlugInSession.from_dict(stored) == PlugInSession()


def test_a_session_is_kept_as_plain_data() -> None:
    session = PlugInSession(connected=True, start_kwh=20010.0, energy_kwh=2.5)

    assert PlugInSession.from_dict(session.as_dict()) == session


@pytest.mark.usefixtures("allow_local_sockets")
async def test_a_p40_session_through_a_real_server(modbus_server) -> None:
    """The field: plugged in again, the charger's counter still shows the last 10 kWh."""
    charger = Registers(holding=dict(UNPLUGGED))
    server = await modbus_server({255: charger})
    bus = bus_for(server)
    counter = KEBA.plug_in
    assert counter is not None
    reader = DeviceReader(KEBA, bus, 255, keys={*KEBA.always_read, "session_energy"})
    session = PlugInSession()
    seen = []
    for holding in (UNPLUGGED, PLUGGED, CHARGING):
        charger.holding = dict(holding)
        values = (await reader.poll()).values
        session = session.follow(
            connected=counter.car_connected(values), total_kwh=values[counter.counter]
        )
        seen.append((values["session_energy"], session.energy_kwh))
    bus.close()

    assert seen == [(10.0, None), (10.0, 0.0), (2.5, 2.5)]
