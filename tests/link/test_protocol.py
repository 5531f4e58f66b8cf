"""The home's reading of what the community sends: the protocol's JSON, or a refusal."""

from __future__ import annotations

from datetime import UTC, date, datetime
import json

import pytest

from custom_components.ioe_community.link.messages import (
    CoefficientValidity,
    Forecast,
    ForecastHour,
    MessageKind,
    Results,
    Signal,
    SignalKind,
)
from custom_components.ioe_community.link.protocol import (
    ProtocolError,
    check,
    decode,
    decode_message,
)
from tests.community import RESULTS

SIGNAL = (
    b'{"schema": "ioe.signal.v1", "ts": "2026-11-24T10:15:00Z", "kind": "surplus",'
    b' "valid_until": "2026-11-24T10:45:00Z", "surplus_w": 1200.0}'
)


def test_a_signal_decodes() -> None:
    assert decode(SIGNAL, MessageKind.SIGNAL)["surplus_w"] == 1200.0


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (SIGNAL.replace(b"1200.0", b"NaN"), "NaN is not a number the protocol allows"),
        (SIGNAL.replace(b"1200.0", b"Infinity"), "Infinity is not a number"),
        (b"[" * 100_000 + b"]" * 100_000, "not the protocol's JSON"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_what_json_allows_and_the_protocol_does_not_is_refused(payload: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        decode(payload, MessageKind.SIGNAL)


def test_fields_a_newer_aggregator_adds_are_ignored() -> None:
    newer = {
        **RESULTS,
        "carbon_kg_today": 1.2,
        "today": {**RESULTS["today"], "battery_kwh": 0.4},
        "month": {**RESULTS["month"], "savings_pct": 12},
        "kpis": {**RESULTS["kpis"], "autarky_days": 3},
    }

    assert decode(json.dumps(newer).encode(), MessageKind.RESULTS)["coefficient_now"] == 0.0712
    signal = json.loads(SIGNAL)
    assert decode(json.dumps({**signal, "price_eur_kwh": 0.1}).encode(), MessageKind.SIGNAL)
    # What the fields it knows say is checked as before.
    wrong = {**newer, "kpis": {**newer["kpis"], "self_sufficiency": 2}}
    with pytest.raises(ProtocolError, match=r"results kpis\.self_sufficiency"):
        decode(json.dumps(wrong).encode(), MessageKind.RESULTS)
    without_today = {key: value for key, value in newer.items() if key != "today"}
    with pytest.raises(ProtocolError, match="'today' is a required property"):
        decode(json.dumps(without_today).encode(), MessageKind.RESULTS)


def test_what_the_community_sends_is_read_as_its_type() -> None:
    signal = decode_message(SIGNAL, MessageKind.SIGNAL)
    assert signal == Signal(
        ts=datetime(2026, 11, 24, 10, 15, tzinfo=UTC),
        kind=SignalKind.SURPLUS,
        valid_until=datetime(2026, 11, 24, 10, 45, tzinfo=UTC),
        surplus_w=1200.0,
    )
    valid = {**RESULTS, "coefficient_valid": {"from": "2026-01-01", "to": None}, "extra": 1}

    results = decode_message(json.dumps(valid).encode(), MessageKind.RESULTS)

    assert isinstance(results, Results)
    assert results.month.savings_eur == 9.85
    assert results.kpis.self_consumption == 0.69
    assert results.coefficient_valid == CoefficientValidity(from_=date(2026, 1, 1), to=None)


FORECAST = {
    "schema": "ioe.forecast.v1",
    "computed_at": "2026-11-24T10:16:00Z",
    "method": "clear-sky-index",
    "history_days": 14,
    "hours": [
        {"start": "2026-11-24T10:00:00Z", "kwh": 0.41, "kwh_p10": 0.22, "kwh_p90": 0.55},
        {"start": "2026-11-24T11:00:00Z", "kwh": 0.47, "kwh_p10": 0.25, "kwh_p90": 0.61},
    ],
}


def test_a_forecast_is_read_hour_by_hour_and_a_bad_one_refused() -> None:
    forecast = decode_message(json.dumps(FORECAST).encode(), MessageKind.FORECAST)

    assert isinstance(forecast, Forecast)
    assert forecast.hours[1] == ForecastHour(
        start=datetime(2026, 11, 24, 11, tzinfo=UTC), kwh=0.47, kwh_p10=0.25, kwh_p90=0.61
    )
    # A negative energy, an hour without its band, no hours at all: refused, said where.
    for hours, where in (
        ([{**FORECAST["hours"][0], "kwh": -0.1}], r"forecast hours\[0\]\.kwh"),
        ([{"start": "2026-11-24T10:00:00Z", "kwh": 0.4}], "'kwh_p10' is a required property"),
        ([], r"forecast hours"),
    ):
        with pytest.raises(ProtocolError, match=where):
            decode_message(json.dumps({**FORECAST, "hours": hours}).encode(), MessageKind.FORECAST)


def test_a_field_the_schema_lets_a_writer_leave_out_reads_as_none() -> None:
    month = {key: value for key, value in RESULTS["month"].items() if key != "savings_eur"}
    sparse = {**RESULTS, "month": month, "coefficient_valid": {"from": "2026-01-01"}}

    results = decode_message(json.dumps(sparse).encode(), MessageKind.RESULTS)

    assert isinstance(results, Results)
    assert results.month.savings_eur is None
    assert results.coefficient_valid == CoefficientValidity(from_=date(2026, 1, 1), to=None)


def test_a_time_that_is_no_moment_is_refused() -> None:
    no_moment = SIGNAL.replace(b"2026-11-24T10:15:00Z", b"2026-13-24T10:15:00Z")

    with pytest.raises(ProtocolError, match=r"signal: month must be in 1\.\.12"):
        decode_message(no_moment, MessageKind.SIGNAL)


def test_what_the_home_sends_names_no_field_the_protocol_does_not() -> None:
    status = {"schema": "ioe.status.v1", "state": "online", "version": "0.2.0", "extra": 1}
    with pytest.raises(ProtocolError, match="Additional properties"):
        check(status, MessageKind.STATUS)
