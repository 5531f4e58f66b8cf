"""Writing one setpoint: limits before, the function code, the read-back after, the failures.

Devices are real pymodbus servers that take writes to their writable registers only; what a
device does with a write is its ``on_write``: refuse it, or keep another value than was sent.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
import json
from pathlib import Path

from pymodbus.constants import ExcCodes
import pytest

from custom_components.ioe_community.devices.modbus import NotAnsweringError
from custom_components.ioe_community.devices.profile import (
    Refusal,
    SetpointRefusedError,
    available_profiles,
)
from custom_components.ioe_community.devices.writer import (
    DeviceWriter,
    OutOfRangeError,
    ReadBackError,
    SetpointWriteError,
    WriteRefusedError,
)
from ioe_dev.modbus_server import ModbusTestServer, Registers

from .conftest import bus_for

pytestmark = pytest.mark.usefixtures("allow_local_sockets")

HUAWEI = available_profiles()["huawei_sun2000"]
KEBA = available_profiles()["keba_p30"]
UNIT = 1
WRITE_SINGLE, WRITE_MULTIPLE = 6, 16
# A LUNA2000 that takes 2500 W each way (37046, 37048), in its own mode (47100 stop).
LUNA = {37046: 0, 37047: 2500, 37048: 0, 37049: 2500, 47083: 0, 47100: 0, 47246: 0}
LUNA_WRITABLE = frozenset({47083, 47100, 47246, 47247, 47248, 47249, 47250})


async def huawei(modbus_server, on_write=None) -> tuple[ModbusTestServer, DeviceWriter]:
    holding = {**LUNA, 47247: 0, 47248: 0, 47249: 0, 47250: 0}
    server = await modbus_server(
        {UNIT: Registers(holding=holding, writable=LUNA_WRITABLE, on_write=on_write)}
    )
    return server, DeviceWriter(HUAWEI, bus_for(server), UNIT)


async def test_a_32_bit_setpoint_is_written_whole_in_one_request_and_read_back(
    modbus_server,
) -> None:
    server, writer = await huawei(modbus_server)

    assert await writer.write("forcible_charge_power", 2000)
    assert await writer.write("forcible_period", 2)

    assert server.writes == [
        (UNIT, WRITE_MULTIPLE, 47247, (0, 2000)),
        (UNIT, WRITE_SINGLE, 47083, (2,)),
    ]
    # Each write was read back: its own words, after it.
    assert server.requests[-1] == (UNIT, 3, 47083, 1)
    assert (UNIT, 3, 47247, 2) in server.requests
    assert writer.written("forcible_charge_power") == 2000


async def test_a_value_beyond_the_limits_is_never_sent(modbus_server) -> None:
    server, writer = await huawei(modbus_server)

    with pytest.raises(OutOfRangeError) as refused:
        await writer.write("forcible_charge_power", 2600)  # the battery takes 2500 W

    assert server.writes == []
    assert refused.value.translation_key == "setpoint_out_of_range"
    assert refused.value.placeholders == {
        "address": "47247",
        "value": "2600 W",
        "minimum": "0 W",
        "maximum": "2500 W",
    }


async def test_a_write_the_device_keeps_otherwise_is_a_read_back_error(modbus_server) -> None:
    """The battery takes the write without a word, and holds 1000 W instead."""
    server: ModbusTestServer | None = None

    def clamp(address: int, words: list[int]) -> None:
        if address == 47247:
            # After the write is applied, as a device whose own logic runs later.
            asyncio.get_running_loop().call_soon(server.units[UNIT].holding.update, {47248: 1000})

    server, writer = await huawei(modbus_server, clamp)

    with pytest.raises(ReadBackError) as failed:
        await writer.write("forcible_charge_power", 2000)

    assert failed.value.translation_key == "setpoint_read_back"
    assert failed.value.placeholders == {"address": "47247", "value": "2000 W", "read": "1000 W"}
    # Not taken: the next command writes it again.
    assert writer.written("forcible_charge_power") is None


@pytest.mark.parametrize(
    ("key", "code"),
    [("forcible_command", ExcCodes.ILLEGAL_VALUE), ("battery_max_charge_power", None)],
)
async def test_a_refused_write_carries_the_exception_code(
    modbus_server, key: str, code: ExcCodes | None
) -> None:
    """A value the device refuses (3), and a register it does not let be written (2)."""
    server, writer = await huawei(modbus_server, lambda address, words: code)
    if key == "battery_max_charge_power":
        server.units[UNIT].holding.update({47075: 0, 47076: 0})

    with pytest.raises(WriteRefusedError) as refused:
        await writer.write(key, 1)

    expected = ExcCodes.ILLEGAL_VALUE if code else ExcCodes.ILLEGAL_ADDRESS
    assert refused.value.code == expected
    assert refused.value.placeholders["code"] == str(int(expected))
    assert refused.value.translation_key == "setpoint_write_refused"
    assert server.writes == []


async def test_a_device_that_does_not_answer_is_not_answering(modbus_server) -> None:
    server, writer = await huawei(modbus_server)
    await server.stop()

    with pytest.raises(NotAnsweringError):
        await writer.write("forcible_command", 1)


async def test_an_unchanged_value_is_written_again_only_as_a_refresh(modbus_server) -> None:
    server, writer = await huawei(modbus_server)

    assert await writer.write("forcible_setting_mode", 0)
    assert not await writer.write("forcible_setting_mode", 0)
    assert await writer.write("forcible_setting_mode", 0, refresh=True)

    assert len(server.writes) == 2


async def test_a_register_is_written_again_only_after_the_interval(modbus_server) -> None:
    """KEBA's rule, at 0.3 s: a new value waits for it, the same one again is skipped."""
    holding = {1100: 0, 1101: 32000, 1016: 0x0004, 1017: 0xA3EF, 5004: 0}

    def station(address: int, words: list[int]) -> None:
        if address == 5004:
            holding[1101] = words[0]

    server = await modbus_server(
        {255: Registers(holding=holding, writable=frozenset({5004}), on_write=station)}
    )
    writer = DeviceWriter(replace(KEBA, write_interval_s=0.3), bus_for(server), 255)
    loop = asyncio.get_running_loop()

    first = loop.time()
    await writer.write("charging_current", 16, refresh=True)
    assert not await writer.write("charging_current", 16, refresh=True)
    await writer.write("charging_current", 10)
    waited = loop.time() - first

    assert [w[3] for w in server.writes] == [(16000,), (10000,)]
    assert waited >= 0.3
    assert KEBA.write_interval_s == 5


async def test_a_write_only_register_is_checked_where_its_effect_shows(modbus_server) -> None:
    """KEBA's 5004 reads as nothing; the station offers at most it (1100), or it did not take."""
    holding = {1100: 0, 1101: 32000, 1016: 0x0004, 1017: 0xA3EF, 5004: 0}
    server = await modbus_server({255: Registers(holding=holding, writable=frozenset({5004}))})
    writer = DeviceWriter(replace(KEBA, write_interval_s=0), bus_for(server), 255)

    with pytest.raises(ReadBackError) as failed:
        await writer.write("charging_current", 16)

    assert failed.value.placeholders["read"] == "32 A"
    holding[1101] = 13000  # a 13 A cable: less than set is what the station may offer
    assert await writer.write("charging_current", 20)


async def test_a_setpoint_scaled_by_the_device_waits_for_its_scale(modbus_server) -> None:
    """A SunSpec rate whose scale factor the device reports as "not implemented"."""
    from custom_components.ioe_community.devices.sunspec import discover, image, resolve_profile  # noqa: PLC0415

    words = image([(1, {}), (124, {"WChaMax": 5000, "InOutWRte_SF": -0x8000})])
    writable = frozenset(words)
    server = await modbus_server({UNIT: Registers(holding=words, writable=writable)})
    bus = bus_for(server)
    profile = resolve_profile(available_profiles()["sunspec"], await discover(bus, UNIT))

    with pytest.raises(SetpointRefusedError) as refused:
        await DeviceWriter(profile, bus, UNIT).write("storage_charge_rate", 50)

    assert refused.value.refusal is Refusal.SCALE_UNKNOWN
    assert server.writes == []


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_write_error_has_a_message_with_its_placeholders(language: str) -> None:
    translations = Path(__file__).parents[2] / "custom_components/ioe_community/translations"
    exceptions = json.loads((translations / f"{language}.json").read_text())["exceptions"]
    for error in SetpointWriteError.__subclasses__():
        message = exceptions[error.translation_key]["message"]
        assert "{device}" in message, error
        assert "{address}" in message, error
        assert "{value}" in message, error
