"""``scripts/bench soak``, made small: five homes for three simulated days, a replica killed daily.

The bench's own run (200 homes, a week) is recorded in docs/benchmarks.md; this one keeps its
code working and its promises checked on every run: three replicas on PostgreSQL, a replica
killed (SIGKILL) at each simulated midnight while the homes go on sending, the leader among
them, every reading stored once, every member's results published when asked of any replica.
"""

from __future__ import annotations

import pytest

from ioe_dev.bench_soak import WATCHED, bench_soak


def test_a_small_soak_loses_and_doubles_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOE_BENCH_SOAK_HOMES", "5")
    monkeypatch.setenv("IOE_BENCH_SOAK_DAYS", "3")
    monkeypatch.setenv("IOE_BENCH_SOAK_QUARTER_S", "0.1")  # a simulated day: 9.6 s

    measured = bench_soak()

    assert measured["readings_sent"] == 5 * 3 * 96 * 3
    assert (measured["lost"], measured["hours_not_matching"]) == (0, 0)
    kills = measured["kills"]
    # The first midnight's victim is the leader (the first replica started leads).
    assert kills[0]["leader"]
    assert kills[0]["new_leader_s"] < 10
    assert WATCHED not in {kill["replica"] for kill in kills}
