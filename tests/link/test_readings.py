"""The home's readings from its energy model's counters, as the protocol sends them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
import logging

import pytest

from custom_components.ioe_community.devices.energy_model import EnergyModel, Term
from custom_components.ioe_community.link.messages import MessageKind
from custom_components.ioe_community.link.protocol import (
    ProtocolError,
    decode,
    encode_readings,
    live_batch,
)
from custom_components.ioe_community.link.readings import HomeReadings, live_report, replay

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)

GRID_AND_PV = EnergyModel(
    terms={
        "grid_import_energy": (Term(source="sensor.import"),),
        "grid_export_energy": (Term(source="sensor.export"),),
        "pv_energy": (Term(source="sensor.pv"),),
        "grid_power": (Term(source="sensor.grid_w"),),
        "pv_power": (Term(source="sensor.pv_w"),),
        "battery_power": (Term(source="sensor.battery_w"),),
    }
)


def by_key(readings: list) -> dict[tuple[str, str, datetime], tuple[float, str]]:
    return {
        (r.meter, r.quantity, r.start): (pytest.approx(r.value, abs=1e-9), r.quality)
        for r in readings
    }


def feed(home: HomeReadings, minutes: range, rates: dict[str, float], base: float = 100.0) -> None:
    """Sample every counter each minute; counter = base + rate (kWh/min) × minutes."""
    for minute in minutes:
        for source, rate in rates.items():
            home.add(source, T0 + minute * MINUTE, base + rate * minute)


def test_quarters_of_each_quantity_with_consumption_from_the_balance() -> None:
    home = HomeReadings(GRID_AND_PV)
    assert home.sources == {"sensor.import", "sensor.export", "sensor.pv"}
    feed(home, range(31), {"sensor.import": 0.01, "sensor.export": 0.002, "sensor.pv": 0.02})
    readings = home.finished()
    got = by_key(readings)
    for start in (T0, T0 + 15 * MINUTE):
        assert got[("grid", "import_kwh", start)] == (0.15, "measured")
        assert got[("grid", "export_kwh", start)] == (0.03, "measured")
        assert got[("pv", "generation_kwh", start)] == (0.3, "measured")
        # import − export + PV
        assert got[("grid", "consumption_kwh", start)] == (0.42, "measured")
    assert len(readings) == 8
    assert [r.start for r in readings] == sorted(r.start for r in readings)
    assert home.finished() == []  # nothing twice
    # What the protocol would carry passes its schema.
    payload = encode_readings(member="m-0001", batch="b-1", sent_at=T0, readings=readings)
    assert len(decode(payload, MessageKind.READINGS)["readings"]) == 8


def test_a_negative_balance_is_sent_as_zero_and_estimated() -> None:
    home = HomeReadings(GRID_AND_PV)
    # The export counter was read late and catches up: more export than import + PV.
    feed(home, range(16), {"sensor.import": 0.0, "sensor.export": 0.01, "sensor.pv": 0.005})
    got = by_key(home.finished())
    assert got[("grid", "consumption_kwh", T0)] == (0.0, "estimated")
    assert got[("grid", "export_kwh", T0)] == (0.15, "measured")


def test_a_quantity_waits_for_all_its_counters_and_starts_where_they_all_have_data() -> None:
    home = HomeReadings(GRID_AND_PV)
    feed(home, range(31), {"sensor.import": 0.01, "sensor.export": 0.0})
    got = by_key(home.finished())
    assert ("grid", "import_kwh", T0) in got
    assert not any(key[1] in ("consumption_kwh", "generation_kwh") for key in got)
    # The PV counter appears in the second quarter.
    feed(home, range(31, 61), {"sensor.import": 0.01, "sensor.export": 0.0})
    feed(home, range(20, 61), {"sensor.pv": 0.02})
    got = by_key(home.finished())
    first_pv = min(key[2] for key in got if key[1] == "generation_kwh")
    assert first_pv == T0 + 30 * MINUTE
    assert min(key[2] for key in got if key[1] == "consumption_kwh") == first_pv
    assert ("grid", "import_kwh", T0 + 30 * MINUTE) in got


def test_a_counter_that_stays_silent_is_left_out_once_late_and_the_quarter_estimated() -> None:
    """The PV inverter is off the network: consumption goes on from the grid, estimated.

    The export counter of a consumer-only home that never reports is the same case.
    """
    home = HomeReadings(GRID_AND_PV)
    feed(home, range(46), {"sensor.import": 0.01, "sensor.export": 0.002, "sensor.pv": 0.02})
    assert ("grid", "consumption_kwh", T0 + 30 * MINUTE) in by_key(home.finished())
    # From minute 45 the PV counter says nothing; the consumption waits for it an hour from
    # when it was first found waiting (minute 99, the counters' newest sample then).
    feed(home, range(46, 100), {"sensor.import": 0.01, "sensor.export": 0.002})
    got = by_key(home.finished())
    assert not any(key[1] in ("consumption_kwh", "generation_kwh") for key in got)
    feed(home, range(100, 159), {"sensor.import": 0.01, "sensor.export": 0.002})
    assert not any(key[1] == "consumption_kwh" for key in by_key(home.finished()))
    feed(home, range(159, 170), {"sensor.import": 0.01, "sensor.export": 0.002})
    got = by_key(home.finished())
    # An hour on: the quarters without PV are made from the grid alone, marked estimated.
    assert got[("grid", "consumption_kwh", T0 + 45 * MINUTE)] == (0.12, "estimated")
    assert got[("grid", "consumption_kwh", T0 + 150 * MINUTE)] == (0.12, "estimated")
    assert ("pv", "generation_kwh", T0 + 45 * MINUTE) not in got
    # The PV counter comes back: its quarters go, and the consumption is whole again.
    feed(home, range(170, 201), {"sensor.import": 0.01, "sensor.export": 0.002})
    feed(home, range(170, 201), {"sensor.pv": 0.02}, base=100.0 + 0.02 * 45)
    got = by_key(home.finished())
    quarter = T0 + 180 * MINUTE
    assert got[("grid", "consumption_kwh", quarter)] == (0.42, "measured")
    assert got[("pv", "generation_kwh", quarter)] == (0.3, "measured")
    assert home.finished() == []  # nothing twice


def test_counters_coming_back_a_minute_apart_after_a_long_stop_are_waited_for() -> None:
    """Home Assistant was down three hours: the grid reports first, PV a minute later."""
    home = HomeReadings(GRID_AND_PV)
    rates = {"sensor.import": 0.01, "sensor.export": 0.002, "sensor.pv": 0.02}
    feed(home, range(46), rates)
    home.finished()
    feed(home, range(240, 242), {"sensor.import": 0.01, "sensor.export": 0.002})
    assert not any(key[1] == "consumption_kwh" for key in by_key(home.finished()))
    feed(home, range(241, 262), rates)
    got = by_key(home.finished())
    # The gap's quarters are bridged for every counter, PV included: nothing made up as zero.
    for minute in range(45, 240, 15):
        assert got[("grid", "consumption_kwh", T0 + minute * MINUTE)] == (
            pytest.approx(0.42),
            "interpolated",
        )


def test_consumption_never_goes_without_the_grid_import() -> None:
    home = HomeReadings(GRID_AND_PV)
    feed(home, range(200), {"sensor.export": 0.002, "sensor.pv": 0.02})
    got = by_key(home.finished())
    assert not any(key[1] == "consumption_kwh" for key in got)
    assert ("pv", "generation_kwh", T0) in got


def test_a_restart_mid_quarter_gives_what_an_uninterrupted_run_gives() -> None:
    rates = {"sensor.import": 0.013, "sensor.export": 0.001, "sensor.pv": 0.007}
    straight = HomeReadings(GRID_AND_PV)
    feed(straight, range(46), rates)
    expected = by_key(straight.finished())

    first = HomeReadings(GRID_AND_PV)
    feed(first, range(22), rates)
    before = first.finished()
    stored = json.loads(json.dumps(first.as_dict()))
    again = HomeReadings(GRID_AND_PV, stored)
    feed(again, range(22, 46), rates)
    assert by_key(before + again.finished()) == expected


def test_a_counter_reset_gives_no_negative_energy() -> None:
    home = HomeReadings(GRID_AND_PV)
    for minute in range(31):
        value = 100 + 0.01 * minute if minute < 20 else 0.01 * (minute - 20)
        home.add("sensor.import", T0 + minute * MINUTE, value)
    got = by_key(home.finished())
    assert got[("grid", "import_kwh", T0)] == (0.15, "measured")
    # 5 minutes before the reset, the reset minute's step counted from zero, 9 after.
    assert got[("grid", "import_kwh", T0 + 15 * MINUTE)][0] == pytest.approx(0.04 + 0.0 + 0.1)


def test_state_of_counters_the_model_lost_is_dropped() -> None:
    home = HomeReadings(GRID_AND_PV)
    feed(home, range(10), {"sensor.import": 0.01, "sensor.pv": 0.01})
    smaller = EnergyModel(terms={"grid_import_energy": (Term(source="sensor.import"),)})
    again = HomeReadings(smaller, home.as_dict())
    assert again.sources == {"sensor.import"}
    assert set(again.as_dict()["counters"]) == {"sensor.import"}


def test_live_report_signs_and_consumption() -> None:
    powers = {"sensor.grid_w": -500.0, "sensor.pv_w": 2000.0, "sensor.battery_w": 300.0}
    report = live_report(GRID_AND_PV, powers, T0)
    assert report == {
        "ts": "2026-11-24T10:00:00Z",
        "grid_w": -500.0,  # exporting
        "pv_w": 2000.0,
        "battery_w": 300.0,  # discharging: positive in the model and the protocol
        "consumption_w": 1800.0,  # grid + PV + battery discharging
    }
    assert live_report(GRID_AND_PV, {}, T0) is None


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), 1.5e8, -1.5e8])
def test_a_live_power_the_protocol_cannot_carry_is_left_out(
    bad: float, caplog: pytest.LogCaptureFixture
) -> None:
    powers = {"sensor.grid_w": 800.0, "sensor.pv_w": bad, "sensor.battery_w": -200.0}
    with caplog.at_level(logging.DEBUG, "custom_components.ioe_community.link.readings"):
        report = live_report(GRID_AND_PV, powers, T0)

    # PV is left out, and the consumption worked out from it (the live report cannot say a
    # figure is estimated); the rest goes.
    assert report == {"ts": "2026-11-24T10:00:00Z", "grid_w": 800.0, "battery_w": -200.0}
    assert "sensor.pv_w" in caplog.text
    _batch, payload = live_batch("m-0001", report, T0)
    assert decode(payload, MessageKind.READINGS)["live"] == report


def test_a_live_figure_worked_out_beyond_the_bounds_is_left_out() -> None:
    # Each power is within ±100 MW; their sum, the consumption, is not.
    powers = {"sensor.grid_w": 9e7, "sensor.pv_w": 9e7, "sensor.battery_w": 0.0}
    report = live_report(GRID_AND_PV, powers, T0)
    assert report == {"ts": "2026-11-24T10:00:00Z", "grid_w": 9e7, "pv_w": 9e7, "battery_w": 0.0}
    assert live_report(GRID_AND_PV, {"sensor.grid_w": float("nan")}, T0) is None


def test_a_non_finite_value_is_never_encoded() -> None:
    # Not JSON: the aggregator would refuse the batch for ever.
    with pytest.raises(ProtocolError):
        live_batch("m-0001", {"ts": "2026-11-24T10:00:00Z", "battery_w": float("nan")}, T0)
    with pytest.raises(ProtocolError):
        live_batch("m-0001", {"ts": "2026-11-24T10:00:00Z", "grid_w": 2e8}, T0)


def test_a_past_period_is_made_again_from_its_history_as_it_was_live() -> None:
    def history(rate: float, minutes: range) -> list[tuple[datetime, float | None]]:
        return [(T0 + minute * MINUTE, 100.0 + rate * minute) for minute in minutes]

    samples = {
        "sensor.import": history(0.01, range(-20, 80)),
        "sensor.export": history(0.002, range(-20, 80)),
        # PV went unavailable for 20 minutes in the second quarter (a gap, not a drop).
        "sensor.pv": [
            *history(0.02, range(-20, 16)),
            (T0 + 16 * MINUTE, None),
            *history(0.02, range(36, 80)),
        ],
    }
    live = HomeReadings(GRID_AND_PV)
    for source, values in samples.items():
        for at, value in values:
            live.add(source, at, value)
    start, end = T0, T0 + 60 * MINUTE
    again = replay(GRID_AND_PV, samples, start, end)
    assert by_key(again) == by_key(
        [r for r in live.finished() if start <= r.start and r.end <= end]
    )
    got = by_key(again)
    assert {key[2] for key in got} == {T0 + n * 15 * MINUTE for n in range(4)}
    assert got[("pv", "generation_kwh", T0 + 15 * MINUTE)] == (0.3, "interpolated")
    assert got[("grid", "import_kwh", T0 + 15 * MINUTE)] == (0.15, "measured")
    # Without history past the period's end its last quarter cannot be made: it is left out.
    cut = {source: values[:-45] for source, values in samples.items()}
    assert max(r.start for r in replay(GRID_AND_PV, cut, start, end)) == T0 + 15 * MINUTE
    assert replay(GRID_AND_PV, {}, start, end) == []


def test_a_clock_jump_is_told_once_and_the_readings_go_on(caplog: pytest.LogCaptureFixture) -> None:
    """The clock set back two hours: one warning (not one per counter), readings from there."""
    home = HomeReadings(GRID_AND_PV)
    rates = {"sensor.import": 0.01, "sensor.export": 0.002, "sensor.pv": 0.02}
    feed(home, range(150, 181), rates)  # 12:30 to 13:00, the clock two hours ahead
    first = home.finished()
    feed(home, range(60, 120), rates)  # 11:00 to 11:59: the network's time set it back
    assert home.finished() == []
    feed(home, range(120, 211), rates)  # on to 13:30
    then = home.finished()

    assert caplog.text.count("The clock went back") == 1
    assert "to 2026-11-24T11:00:00Z" in caplog.text
    starts = [r.start for r in [*first, *then] if r.quantity == "import_kwh"]
    assert starts == [T0 + n * 15 * MINUTE for n in (10, 11, 12, 13)]
    for start in (T0 + 180 * MINUTE, T0 + 195 * MINUTE):  # no lump of the hours caught up
        assert by_key(then)[("grid", "import_kwh", start)] == (0.15, "measured")


def test_samples_before_the_home_joined_wait_for_the_clock(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A computer without a battery-backed clock starts in 1970 until the network sets it."""
    home = HomeReadings(GRID_AND_PV, not_before=T0 - timedelta(days=30))
    booted = datetime(1970, 1, 1, tzinfo=UTC)
    for minute in range(40):
        for source in ("sensor.import", "sensor.export", "sensor.pv"):
            home.add(source, booted + minute * MINUTE, 100.0 + minute)
    assert home.finished() == []
    feed(home, range(31), {"sensor.import": 0.01, "sensor.export": 0.002, "sensor.pv": 0.02})

    assert {r.start for r in home.finished()} == {T0, T0 + 15 * MINUTE}
    assert caplog.text.count("The clock says 1970-01-01T00:00:00Z, before this home joined") == 1


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # Home Assistant stopped for 32 days: not spread, and the readings go on after it.
        (range(20), range(32 * 24 * 60, 32 * 24 * 60 + 31)),
        # The clock ten minutes fast, set back to 10:03 in the middle of a quarter.
        (range(14), range(3, 31)),
    ],
)
def test_the_readings_go_on_after_a_counter_starts_again(before: range, after: range) -> None:
    home = HomeReadings(GRID_AND_PV)
    rates = {"sensor.import": 0.01, "sensor.export": 0.002, "sensor.pv": 0.02}
    feed(home, before, rates)
    first = home.finished()
    feed(home, after, rates, base=100.0 + 0.01 * before[-1])
    then = home.finished()

    starts = [r.start for r in [*first, *then] if r.quantity == "import_kwh"]
    assert starts == sorted(set(starts))  # each once, in order
    last = T0 + (after[-1] // 15 * 15 - 15) * MINUTE
    assert starts[-1] == last  # the quantity followed its counters past the jump
    assert all(r.value <= 0.15 * 2 + 1e-9 for r in then if r.quantity == "import_kwh")
