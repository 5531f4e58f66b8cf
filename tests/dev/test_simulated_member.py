"""The simulated members of the demo and the link benchmark run the integration's link code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from pathlib import Path

import pandas as pd
import pytest

from custom_components.ioe_community.link.join_code import JoinCode
from custom_components.ioe_community.link.messages import MessageKind
from custom_components.ioe_community.link.protocol import decode
from ioe_dev.simulated_member import Counters, SimulatedMember, moved_to

T0 = datetime(2026, 6, 15, tzinfo=UTC)
CODE = JoinCode(
    community="molinos",
    member="m-0002",
    topic_prefix="ioe/v1/molinos",
    broker_host="127.0.0.1",
    broker_port=1,  # never connected in these tests
    ca_certificate=None,
    mqtt_password="x",
    api_token="ioe_m-0002_x",
    api_url=None,
)


def hourly(import_kwh: float, pv_kwh: float) -> pd.DataFrame:
    hours = pd.date_range(T0 - timedelta(hours=1), T0 + timedelta(hours=25), freq="h")
    return pd.DataFrame({"grid_import_energy": import_kwh, "pv_energy": pv_kwh}, index=hours)


def test_counters_follow_the_hourly_energies() -> None:
    counters = Counters(hourly(0.4, 0.2))
    half_past = T0 + timedelta(minutes=30)
    assert counters.energy(half_past) == pytest.approx(
        {"grid_import_energy": 0.6, "pv_energy": 0.3}
    )
    assert counters.power(half_past) == pytest.approx({"grid_power": 400.0, "pv_power": 200.0})


def test_a_day_cut_off_leaves_a_batch_per_quarter_hour(tmp_path: Path) -> None:
    member = SimulatedMember(CODE, tmp_path, Counters(hourly(0.4, 0.2)))
    # Grid import, PV and the consumption from their balance, 96 quarter hours.
    assert member.catch_up(T0, T0 + timedelta(days=1)) == 3 * 96
    pending = member.outbox.pending(200)
    assert len(pending) == 96
    first = decode(pending[0].payload, MessageKind.READINGS)
    assert {(r["quantity"], r["value"]) for r in first["readings"]} == {
        ("import_kwh", 0.1),
        ("generation_kwh", 0.05),
        ("consumption_kwh", 0.15),
    }
    # Started again, it goes on from its checkpoint: nothing made twice.
    member.outbox.close()
    again = SimulatedMember(CODE, tmp_path, Counters(hourly(0.4, 0.2)))
    assert again.catch_up(T0, T0 + timedelta(days=1)) == 0
    assert json.loads(again.outbox.checkpoint() or "{}")["next"]
    again.outbox.close()


def test_a_profile_year_is_moved_by_whole_weeks_to_cover_now() -> None:
    year = pd.DataFrame(
        {"grid_import_energy": 1.0},
        index=pd.date_range("2025-01-01", periods=365 * 24, freq="h", tz="UTC"),
    )
    now = datetime(2026, 11, 25, 10, tzinfo=UTC)
    moved = moved_to(year, now)
    assert moved.index[0] <= now < moved.index[-1]
    assert moved.index[0].weekday() == year.index[0].weekday()
