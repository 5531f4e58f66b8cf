"""Hour-ending distributor labels become the right UTC intervals, on the clock-change days too."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ioe_aggregator.distributor.rows import LabelledRow, place
from ioe_aggregator.distributor.timeline import (
    HOUR,
    QUARTER_HOUR,
    TimelineError,
    day_length,
    parse_label,
    place_day,
)

MADRID = ZoneInfo("Europe/Madrid")
CANARIES = ZoneInfo("Atlantic/Canary")
SPRING = date(2026, 3, 29)  # 23 hours in Spain
AUTUMN = date(2026, 10, 25)  # 25 hours


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def hours(*labels: int) -> list[int]:
    return [label * 60 for label in labels]


def test_labels() -> None:
    assert parse_label("01:00") == 60
    assert parse_label("24:00") == 1440
    assert parse_label("25") == 1500
    assert parse_label(" 2:15 ") == 135
    assert parse_label("00:00") == 0  # a start-of-interval label (i-DE)
    for bad in ("", "ab", "01:60", "-1", "1:5", "٣"):
        with pytest.raises(TimelineError):
            parse_label(bad)


def test_day_lengths() -> None:
    assert day_length(SPRING, MADRID) == timedelta(hours=23)
    assert day_length(AUTUMN, MADRID) == timedelta(hours=25)
    assert day_length(date(2026, 6, 1), MADRID) == timedelta(hours=24)


def test_an_ordinary_day_ends_at_the_next_midnight() -> None:
    places = place_day(date(2026, 1, 15), hours(*range(1, 25)), HOUR, MADRID)
    assert places[0] == (utc(2026, 1, 14, 23), utc(2026, 1, 15, 0))
    # "24:00" is the last hour of the 15th, not midnight at its start.
    assert places[-1] == (utc(2026, 1, 15, 22), utc(2026, 1, 15, 23))
    assert len(set(places)) == 24


def test_summer_day_and_the_canaries() -> None:
    assert place_day(date(2026, 7, 1), [60], HOUR, MADRID) == [
        (utc(2026, 6, 30, 22), utc(2026, 6, 30, 23))
    ]
    assert place_day(date(2026, 7, 1), [60], HOUR, CANARIES) == [
        (utc(2026, 6, 30, 23), utc(2026, 7, 1, 0))
    ]


def contiguous(places: list[tuple[datetime, datetime]], start: datetime, count: int) -> None:
    step = places[0][1] - places[0][0]
    assert places == [(start + n * step, start + (n + 1) * step) for n in range(count)]


def test_october_as_elapsed_hours_runs_to_hour_25() -> None:
    contiguous(place_day(AUTUMN, hours(*range(1, 26)), HOUR, MADRID), utc(2026, 10, 24, 22), 25)


def test_october_on_the_clock_repeats_two_oclock() -> None:
    labels = hours(1, 2, 2, *range(3, 25))
    contiguous(place_day(AUTUMN, labels, HOUR, MADRID), utc(2026, 10, 24, 22), 25)


def test_october_as_datadis_writes_it_repeats_three_oclock() -> None:
    # The hour that ends as the clock goes back is "03:00" on the old clock, then the hour to
    # 03:00 on the new one: 01:00, 02:00, 03:00, 03:00, 04:00 … 24:00.
    labels = hours(1, 2, 3, 3, *range(4, 25))
    contiguous(place_day(AUTUMN, labels, HOUR, MADRID), utc(2026, 10, 24, 22), 25)


def test_october_in_24_rows_stretches_the_row_before_the_repeated_hour() -> None:
    # i-DE's Datadis answer for 29 October 2023 (eddie-energy/eddie's test resource
    # consumptionKWh_2023-10-01_to_2024-04-17.json): "01:00" … "24:00", each once, and "02:00"
    # holding 2.566 kWh between 1.274 and 1.296. It ends at the second two o'clock.
    places = place_day(AUTUMN, hours(*range(1, 25)), HOUR, MADRID)
    assert len(places) == 24
    assert places[1] == (utc(2026, 10, 24, 23), utc(2026, 10, 25, 1))
    assert places[2] == (utc(2026, 10, 25, 1), utc(2026, 10, 25, 2))
    covered = [start + n * HOUR for start, end in places for n in range((end - start) // HOUR)]
    assert covered == [utc(2026, 10, 24, 22) + n * HOUR for n in range(25)]


def test_a_day_with_a_row_not_read_is_not_stretched() -> None:
    # Datadis's 25 rows with one "03:00" null: 24 labels, each once, but the gap is that row's.
    rows = [
        LabelledRow(
            line, "ES0021000000000001AA", AUTUMN, label, None, {"import_kwh": 1.0}, "measured"
        )
        for line, label in enumerate(hours(*range(1, 25)), start=1)
    ]
    whole, _ = place(rows, MADRID)
    gapped, errors = place(rows, MADRID, incomplete={("ES0021000000000001AA", AUTUMN)})
    assert len(whole) == 25
    assert errors == []
    assert len(gapped) == 24
    assert {row.end - row.start for row in gapped} == {HOUR}
    assert {row.quality for row in gapped} == {"measured"}


def test_a_day_labelled_by_starts_is_not_stretched() -> None:
    # The only evidence of the fold is an hour-ending answer: "00:00" … "23:00" is not folded.
    rows = [
        LabelledRow(
            line, "ES0021000000000001AA", AUTUMN, label, None, {"import_kwh": 1.0}, "measured"
        )
        for line, label in enumerate(hours(*range(24)), start=1)
    ]
    placed, _ = place(rows, MADRID)
    assert len(placed) == 24
    assert {row.end - row.start for row in placed} == {HOUR}


def test_a_day_missing_an_hour_is_not_stretched() -> None:
    # Only a day that names every clock hour once is read as i-DE's 24 rows.
    places = place_day(AUTUMN, hours(1, 2, 3, *range(5, 25)), HOUR, MADRID)
    assert {end - start for start, end in places} == {HOUR}


def test_a_single_label_of_the_october_change_reads_as_the_wall_clock() -> None:
    # "03:00" once is three o'clock winter time; "02:00" once, the earlier two o'clock.
    assert place_day(AUTUMN, hours(3), HOUR, MADRID) == [
        (utc(2026, 10, 25, 1), utc(2026, 10, 25, 2))
    ]
    assert place_day(AUTUMN, hours(2), HOUR, MADRID) == [
        (utc(2026, 10, 24, 23), utc(2026, 10, 25, 0))
    ]


def test_october_quarter_hours_as_datadis_writes_them() -> None:
    labels = list(range(15, 196, 15))  # 00:15 … 03:15
    clock = labels[:12] + labels[8:]  # 02:15 … 03:00 twice
    contiguous(place_day(AUTUMN, clock, QUARTER_HOUR, MADRID), utc(2026, 10, 24, 22), 17)


def test_october_with_summer_flags() -> None:
    # Given in another order, the flags still say which "02:00" is which.
    places = place_day(AUTUMN, hours(2, 2), HOUR, MADRID, summer=[False, True])
    assert places == [
        (utc(2026, 10, 25, 0), utc(2026, 10, 25, 1)),
        (utc(2026, 10, 24, 23), utc(2026, 10, 25, 0)),
    ]


def test_october_quarter_hours_on_the_clock() -> None:
    labels = list(range(15, 181, 15))  # 00:15 … 03:00
    clock = labels[:11] + labels[7:11] + labels[11:]  # 02:00 … 02:45 twice
    places = place_day(AUTUMN, clock, QUARTER_HOUR, MADRID)
    contiguous(places, utc(2026, 10, 24, 22), 16)


def test_march_as_elapsed_hours_stops_at_23() -> None:
    contiguous(place_day(SPRING, hours(*range(1, 24)), HOUR, MADRID), utc(2026, 3, 28, 23), 23)


@pytest.mark.parametrize("jump", [2, 3])
def test_march_on_the_clock_names_the_hour_of_the_jump_either_way(jump: int) -> None:
    # The hour from 01:00 to 02:00 ends as the clock jumps: "02:00" (old time) or "03:00" (new
    # time, as REE's profiles write it).
    labels = hours(1, jump, *range(4, 25))
    places = place_day(SPRING, labels, HOUR, MADRID)
    contiguous(places, utc(2026, 3, 28, 23), 23)
    assert places[1] == (utc(2026, 3, 29, 0), utc(2026, 3, 29, 1))


@pytest.mark.parametrize(
    ("day", "labels", "message"),
    [
        (date(2026, 1, 15), hours(25), "past the end"),
        (date(2026, 1, 15), hours(5, 5), "appears twice"),
        (AUTUMN, hours(2, 2, 2), "appears twice"),
        (AUTUMN, hours(3, 3, 3), "appears twice"),
        # Only the hours around the change can be read on both clocks.
        (AUTUMN, hours(5, 5), "appears twice"),
        (AUTUMN, hours(1, 1), "appears twice"),
        (SPRING, hours(2, 3, 24), "appears twice"),
        (date(2026, 1, 15), [70], "does not end"),
    ],
)
def test_labels_that_fit_no_interval(day: date, labels: list[int], message: str) -> None:
    with pytest.raises(TimelineError, match=message):
        place_day(day, labels, HOUR, MADRID)


def test_march_quarter_hours_on_the_clock() -> None:
    # 02:15 … 03:00 end quarter hours that started at a time the clock skipped.
    clock = [*range(15, 121, 15), *range(195, 1441, 15)]
    places = place_day(SPRING, clock, QUARTER_HOUR, MADRID)
    contiguous(places, utc(2026, 3, 28, 23), 92)
