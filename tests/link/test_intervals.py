"""Quarter-hour energies from counter samples: resets, restarts, gaps, never negative or doubled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import itertools
import json
import random

import numpy as np
import pytest

from custom_components.ioe_community.link.intervals import (
    MAX_BRIDGE,
    QUARTER,
    CounterIntervals,
    Interval,
)
from custom_components.ioe_community.link.messages import Quality

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
KW = 2.0  # the home's steady power in these tests


def steady(start: datetime, end: datetime, every_s: int = 10, base: float = 1000.0):
    """Yield (time, counter kWh) of a meter counting KW from ``base`` at T0."""
    moment = start
    while moment <= end:
        yield moment, base + KW * (moment - T0).total_seconds() / 3600
        moment += timedelta(seconds=every_s)


def feed(counter: CounterIntervals, samples) -> list[Interval]:
    for moment, value in samples:
        counter.add(moment, value)
    return counter.finished()


def test_a_steady_counter_gives_measured_quarters_from_the_first_full_one() -> None:
    done = feed(CounterIntervals(), steady(T0 + timedelta(minutes=3), T0 + timedelta(hours=1)))

    assert [i.start.strftime("%H:%M") for i in done] == ["10:15", "10:30", "10:45"]
    assert [round(i.kwh, 9) for i in done] == [0.5, 0.5, 0.5]
    assert {i.quality for i in done} == {Quality.MEASURED}


def test_a_quarter_waits_for_a_sample_at_or_after_its_end() -> None:
    counter = CounterIntervals()
    assert feed(counter, steady(T0, T0 + timedelta(minutes=29, seconds=50))) == [
        Interval(T0, T0 + timedelta(minutes=15), pytest.approx(0.5), Quality.MEASURED)  # type: ignore[arg-type]
    ]
    assert feed(counter, steady(T0 + timedelta(minutes=30), T0 + timedelta(minutes=30)))[
        0
    ].start == T0 + timedelta(minutes=15)


def test_a_counter_reset_counts_on_from_the_new_value() -> None:
    samples = [
        (T0, 500.0),
        (T0 + timedelta(minutes=5), 500.2),
        (T0 + timedelta(minutes=7), 0.0),  # the meter was replaced (or the inverter restarted)
        (T0 + timedelta(minutes=10), 0.1),
        (T0 + timedelta(minutes=15), 0.3),
        (T0 + timedelta(minutes=16), 0.29),  # a small dip: noise, not a reset
        (T0 + timedelta(minutes=20), 0.5),
        (T0 + timedelta(minutes=30), 0.9),
    ]

    done = feed(CounterIntervals(), samples)

    assert [round(i.kwh, 9) for i in done] == [0.5, 0.6]  # 0.2 + 0.3; then 0.6
    assert all(i.kwh >= 0 for i in done)


def test_a_gap_is_bridged_and_marked_interpolated_with_the_total_kept() -> None:
    before = steady(T0, T0 + timedelta(minutes=20))
    after = steady(T0 + timedelta(minutes=50), T0 + timedelta(minutes=75))  # down 30 minutes

    done = feed(CounterIntervals(), [*before, *after])

    assert [(i.start.strftime("%H:%M"), i.quality.value) for i in done] == [
        ("10:00", "measured"),
        ("10:15", "interpolated"),
        ("10:30", "interpolated"),
        ("10:45", "interpolated"),
        ("11:00", "measured"),
    ]
    assert sum(i.kwh for i in done) == pytest.approx(KW * 1.25)  # what the meter counted


def test_a_restart_mid_quarter_neither_loses_nor_doubles() -> None:
    whole = feed(CounterIntervals(), steady(T0, T0 + timedelta(hours=1)))
    first = CounterIntervals()
    done = feed(first, steady(T0, T0 + timedelta(minutes=22)))
    # Home Assistant stops at 10:22 and is back at 10:24; the state went through JSON.
    restored = CounterIntervals.from_dict(json.loads(json.dumps(first.as_dict())))
    done += feed(restored, steady(T0 + timedelta(minutes=24), T0 + timedelta(hours=1)))

    assert [(i.start, round(i.kwh, 9), i.quality) for i in done] == [
        (i.start, round(i.kwh, 9), i.quality) for i in whole
    ]


def test_unavailable_late_and_repeated_samples_change_nothing() -> None:
    counter = CounterIntervals()
    for moment, value in steady(T0, T0 + timedelta(minutes=30)):
        counter.add(moment, value)
        counter.add(moment, value + 50)  # repeated time: ignored
        counter.add(moment + timedelta(seconds=1), None)  # unavailable
        counter.add(moment + timedelta(seconds=2), float("nan"))
        counter.add(moment - timedelta(minutes=5), 0.0)  # late
    done = counter.finished()

    assert [round(i.kwh, 9) for i in done] == [0.5, 0.5]


def test_a_clock_set_back_makes_no_quarter_twice_and_no_lump() -> None:
    """The clock ran two hours ahead for an hour, then the network's time set it back.

    The quarters it made while ahead stay made (once); the readings go on as soon as the clock
    is past them, and none holds the energy counted while it caught up (that would be a
    quarter of 4 kWh: eight times the power, more than any contract lets through).
    """
    ahead = timedelta(hours=2)
    counter = CounterIntervals()
    jumps = []
    for real, value in steady(T0, T0 + timedelta(hours=6), every_s=30):
        wrong = timedelta(hours=1) <= real - T0 < timedelta(hours=2)
        jumps.append(counter.add(real + ahead if wrong else real, value))
    done = counter.finished()

    assert [jump for jump in jumps if jump is not None] == [timedelta(seconds=30) - ahead]
    starts = [i.start for i in done]
    assert starts == [T0 + QUARTER * n for n in range(len(done))]  # each once, in order
    assert starts[-1] == T0 + timedelta(hours=5, minutes=45)
    assert max(i.kwh for i in done) == pytest.approx(0.5)
    # While ahead: a gap bridged (almost nothing in it), then the hour's energy, an hour late.
    assert all(i.kwh < 0.01 for i in done[4:8])
    assert [round(i.kwh, 9) for i in done[12:]] == [0.5] * 12
    assert {i.quality for i in done[16:]} == {Quality.MEASURED}


@pytest.mark.parametrize(
    ("silent", "bridged"), [(timedelta(days=10), True), (MAX_BRIDGE + QUARTER * 2, False)]
)
def test_a_long_silence_is_bridged_up_to_a_limit(silent: timedelta, bridged: bool) -> None:
    counter = CounterIntervals()
    done = feed(counter, steady(T0 - silent, T0 - silent + timedelta(minutes=20), base=1e5))
    done += feed(counter, steady(T0, T0 + timedelta(minutes=30), base=1e5))

    if bridged:  # every quarter between, the energy counted over the silence in them
        assert len(done) == (silent + QUARTER * 2) // QUARTER
        assert sum(i.kwh for i in done) == pytest.approx(KW * (silent + QUARTER * 2) / HOUR)
    else:  # counting goes on from the first sample after the silence
        assert [(i.start, round(i.kwh, 9)) for i in done] == [
            (T0 - silent, 0.5),
            (T0, 0.5),
            (T0 + QUARTER, 0.5),
        ]


def test_a_clock_starting_in_1970_makes_no_quarter_before_the_network_sets_it() -> None:
    """A computer without a battery-backed clock, its first minutes stamped 1970."""
    booted, started = datetime(1970, 1, 1, tzinfo=UTC), T0 - QUARTER * 2
    counter = CounterIntervals()
    jumps = [
        counter.add(booted + (moment - started), value)
        for moment, value in steady(started, T0 - timedelta(seconds=10))
    ]
    done = counter.finished()
    jumps += [counter.add(moment, value) for moment, value in steady(T0, T0 + timedelta(hours=1))]
    done += counter.finished()

    assert [jump for jump in jumps if jump is not None] == [
        T0 - booted - QUARTER * 2 + timedelta(seconds=10)
    ]
    assert [i.start.year for i in done] == [1970, 2026, 2026, 2026, 2026]
    assert [round(i.kwh, 9) for i in done[1:]] == [0.5] * 4


def test_quarters_always_add_up_to_what_the_counter_counted() -> None:
    """Random sampling (5 s to 40 min apart) with resets: the quarters follow each other.

    They add up to the energy counted between the first and last boundary (numpy's interp).
    """
    rng = random.Random(7)  # noqa: S311 - test data
    counter = CounterIntervals()
    moment, value, counted = T0, 100.0, 0.0
    times, totals, done = [], [], []
    while moment < T0 + timedelta(days=1):
        moment += timedelta(seconds=rng.choice([5, 30, 90, 600, 2400]))
        step = rng.uniform(0, 0.4)
        if rng.random() < 0.01:
            value, step = 0.0, 0.0  # a reset: the counter starts again
        value += step
        counted += step
        counter.add(moment, value)
        times.append(moment.timestamp())
        totals.append(counted)
        done += counter.finished()

    def counted_at(boundary: datetime) -> float:
        return float(np.interp(boundary.timestamp(), times, totals))

    assert len(done) > 80
    assert all(i.kwh >= 0 for i in done)
    assert all(b.start == a.end for a, b in itertools.pairwise(done))
    expected = counted_at(done[-1].end) - counted_at(done[0].start)
    assert sum(i.kwh for i in done) == pytest.approx(expected, abs=1e-9)
