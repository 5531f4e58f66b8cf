"""Billing exports through the real service: each member's month per 2.0TD period.

January 2025 of four synthetic homes (m-0001 with the plant, equal shares) measured by their own
meters, and a fifth member without a share whose month is part distributor data, part its own
meter. The figures are checked against the synthetic data by hand (period by period), the files
against the Spanish spreadsheet conventions, pages and ETags against what a client does with
them.
"""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, date, datetime, timedelta
import io
import json
from typing import Any
from zoneinfo import ZoneInfo

from jsonschema import Draft202012Validator
import numpy as np
import pytest

from ioe_aggregator.prices import PriceBook, posted
from ioe_aggregator.results.member_energy import Period
from ioe_aggregator.sharing.calendar import energy_period_20td
from ioe_aggregator.store import Store
from ioe_dev.synthetic import make_community
from tests.aggregator.conftest import config
from tests.community import (
    HISTORY_TZ,
    Answer,
    Community,
    StartAggregator,
    call,
    distributor_day,
    make_cups,
    start_service,
    write_history,
)

MEMBERS = 4
IMPORT, SURPLUS = 0.2, 0.05
MONTH = "2025-01"
OTHER = "m-0005"
PERIODS = ("P1", "P2", "P3")
ENERGIES = ("consumption_kwh", "import_kwh", "allocated_kwh", "self_consumed_kwh", "surplus_kwh")
EVERYONE = ["m-0001", "m-0002", "m-0003", "m-0004", OTHER]


class Billing:
    """The service with the month's data, an admin's token and the share-less member's."""

    def __init__(self, base: str, admin: str, member: str) -> None:
        """Keep the service's address, an admin's token and m-0005's own token."""
        self.base, self.admin, self.member = base, admin, member

    def get(self, path: str, token: str | None = "", **headers: str) -> Answer:
        """GET with the admin's token (or ``token``; None: none) and ``headers``."""
        return call(self.base, "GET", path, self.admin if token == "" else token, headers=headers)

    def post(self, path: str, body: bytes) -> Answer:
        """POST ``body`` with the admin's token."""
        return call(self.base, "POST", path, self.admin, body)


def _utc(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _own_day(member: str, day: date, kwh: float) -> dict[str, Any]:
    """Return a readings batch of a local day's quarter hours from the member's own meter."""
    zone = ZoneInfo(HISTORY_TZ)
    start = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
    quarter = timedelta(minutes=15)
    return {
        "schema": "ioe.readings.v1",
        "member": member,
        "batch": f"own-{day}",
        "sent_at": _utc(start + timedelta(days=1)),
        "readings": [
            {
                "meter": "grid",
                "quantity": "import_kwh",
                "start": _utc(start + n * quarter),
                "end": _utc(start + (n + 1) * quarter),
                "value": kwh / 4,
                "quality": "measured",
            }
            for n in range(96)
        ],
    }


@pytest.fixture
def billing(community: Community, start_aggregator: StartAggregator) -> Billing:
    """Four members with January 2025 and equal shares; m-0005, without a share, two days."""
    for number in range(1, MEMBERS + 1):
        extra = {"--plant-kw": "10"} if number == 1 else {}
        community.add_member(f"m-{number:04d}", number, **extra)
    asyncio.run(write_history(community.options["database_url"], MEMBERS, 2025, range(1, 2)))
    community.cli("agreements", "add", "Igual", "--scheme", "equal", "--from", "2025-01-01")
    # A name a spreadsheet would take for a formula (the platform may send any).
    own_token = community.add_member(OTHER, 5, **{"--name": "=1+1 Panadería"}).api_token
    community.options.update(import_price_eur_kwh=IMPORT, surplus_price_eur_kwh=SURPLUS)
    admin = community.token("admin")
    _service, port = start_service(community, start_aggregator)
    made = Billing(f"http://127.0.0.1:{port}", admin, own_token)
    # m-0005: 10 January from its distributor, 11 January from its own meter.
    export, _months = distributor_day(make_cups(5), date(2025, 1, 10), 0.42)
    assert made.post("/api/v1/distributor/csv?name=d.csv", export).status == 200
    own = _own_day(OTHER, date(2025, 1, 11), 0.3)
    sent = call(made.base, "POST", "/api/v1/readings", own_token, own)
    assert sent.status == 200, sent.body
    return made


def _expected(member: str) -> dict[str, dict[str, float]]:
    """Return the synthetic member's January per period, worked out here from the data."""
    synthetic = make_community(MEMBERS)
    hours = synthetic.consumption_kwh.index
    local = hours.tz_convert(HISTORY_TZ)
    january = hours[(local.year == 2025) & (local.month == 1)]
    period = energy_period_20td(january, HISTORY_TZ)
    consumption = synthetic.consumption_kwh[member][january].to_numpy()
    allocated = synthetic.generation_kwh[january].to_numpy() / MEMBERS
    used = np.minimum(allocated, consumption)
    found = {}
    for number, name in enumerate(PERIODS, start=1):
        rows = period == number
        found[name] = {
            "consumption_kwh": consumption[rows].sum(),
            "allocated_kwh": allocated[rows].sum(),
            "self_consumed_kwh": used[rows].sum(),
            "surplus_kwh": (allocated - used)[rows].sum(),
            "import_kwh": (consumption - used)[rows].sum(),
            "hours": int(rows.sum()),
        }
    return found


def _exact(figures: dict[str, Any]) -> None:
    """Check the identities a billing platform checks: they hold as written, to the thousandth."""
    for key in ENERGIES:
        assert round(figures[key], 3) == figures[key]
    used = figures["self_consumed_kwh"]
    assert round(figures["import_kwh"] + used, 3) == figures["consumption_kwh"]
    assert round(figures["surplus_kwh"] + used, 3) == figures["allocated_kwh"]


def _conforms(billing: Billing, name: str, found: Any) -> None:
    """Check ``found`` against the served document's schema ``name``."""
    document = billing.get("/api/openapi.json").json()
    Draft202012Validator({**document, "$ref": f"#/components/schemas/{name}"}).validate(found)


def _whole(billing: Billing) -> dict[str, Any]:
    answer = billing.get(f"/api/v1/billing/{MONTH}/export.json")
    assert answer.status == 200, answer.body
    _conforms(billing, "BillingMonth", answer.json())
    return answer.json()


def test_each_members_month_per_period_as_the_data_gives_it(billing: Billing) -> None:
    month = _whole(billing)

    assert month["format"] == "ioe.billing.v1"
    assert month["month"] == MONTH
    assert month["month_over"] is True
    # No prices posted: the add-on's options, whose cap is the whole import price.
    assert month["prices"] == {
        "compensation_cap": "import_price",
        "in_force": [
            {
                "from": "2025-01-01",
                "to": "2025-01-31",
                "source": "options",
                "import_eur_kwh": dict.fromkeys(PERIODS, IMPORT),
                "import_energy_eur_kwh": None,
                "surplus_eur_kwh": dict.fromkeys(PERIODS, SURPLUS),
            }
        ],
    }
    bills = {bill["member"]: bill for bill in month["members"]}
    assert list(bills) == EVERYONE
    for number in range(1, MEMBERS + 1):
        member = f"m-{number:04d}"
        bill, expected = bills[member], _expected(member)
        assert bill["cups"] == make_cups(number)
        assert bill["complete"] is True
        assert len(bill["agreements"]) == 1
        for name in PERIODS:
            figures = bill["periods"][name]
            _exact(figures)
            for key, value in expected[name].items():
                assert figures[key] == pytest.approx(value, abs=1.5e-3), (member, name, key)
            assert figures["coefficient"] == 0.25
            assert figures["measured_by"] == "own_meter"
            assert figures["hours_known"] == figures["hours"]
            assert figures["surplus_value_eur"] == pytest.approx(
                figures["surplus_kwh"] * SURPLUS, abs=6e-3
            )
            assert figures["import_energy_eur"] == pytest.approx(
                figures["import_kwh"] * IMPORT, abs=6e-3
            )
        total = bill["total"]
        _exact(total)
        # The month is its periods' sum as written; January has 744 hours.
        assert sum(bill["periods"][p]["hours"] for p in PERIODS) == total["hours"] == 744
        for key in ("consumption_kwh", "import_kwh", "surplus_kwh", "surplus_value_eur"):
            assert total[key] == round(sum(bill["periods"][p][key] for p in PERIODS), 3)
        # Compensation: the surplus' value, at most the imports' (energy term) value.
        assert total["compensation_eur"] == min(
            total["surplus_value_eur"], total["import_energy_eur"]
        )
        assert "compensation_eur" not in bill["periods"]["P1"]
    # No P1 hour on a Saturday, Sunday or 1 and 6 January (national holidays).
    assert bills["m-0001"]["periods"]["P1"]["hours"] == 8 * 21
    assert bills["m-0001"]["periods"]["P3"]["hours"] == 744 - 16 * 21


def test_a_month_from_two_sources_says_so_and_unknown_hours_are_not_zeros(billing: Billing) -> None:
    bill = next(b for b in _whole(billing)["members"] if b["member"] == OTHER)

    total = bill["total"]
    assert total["hours_by_source"] == {"own_meter": 24, "distributor": 24}
    assert total["measured_by"] == "both"
    assert bill["complete"] is False
    assert total["hours_known"] == 48
    assert total["consumption_kwh"] == pytest.approx(24 * 0.42 + 24 * 0.3, abs=1e-3)
    # No share: everything it used came from the grid, nothing to compensate.
    assert total["coefficient"] == 0.0
    assert total["allocated_kwh"] == 0.0
    assert total["import_kwh"] == total["consumption_kwh"]
    assert total["compensation_eur"] == 0.0
    # Friday 10 and Saturday 11 January: P1 hours only on the Friday, by the distributor.
    assert bill["periods"]["P1"]["measured_by"] == "distributor"
    assert bill["periods"]["P1"]["hours_known"] == 8

    # A month nobody measured: every member listed, figures unknown, not zeros.
    february = billing.get("/api/v1/billing/2025-02/export.json").json()
    assert [b["member"] for b in february["members"]] == EVERYONE
    for bill in february["members"]:
        assert bill["total"]["hours_known"] == 0
        assert bill["total"]["consumption_kwh"] is None
        assert bill["total"]["compensation_eur"] is None
        assert bill["total"]["measured_by"] is None


def test_the_csv_is_a_spanish_spreadsheets(billing: Billing) -> None:
    answer = billing.get(f"/api/v1/billing/{MONTH}/export.csv")

    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert 'filename="' in answer.headers["Content-Disposition"]
    assert answer.body.startswith(b"\xef\xbb\xbf")
    text = answer.body.decode("utf-8-sig")
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    heading, lines = rows[0], rows[1:]
    assert heading[:6] == ["mes", "miembro", "nombre", "cups", "periodo", "consumo_kwh"]
    assert "compensacion_eur" in heading
    assert "medido_por" in heading
    # Four lines a member: P1, P2, P3 and the month's.
    assert len(lines) == 5 * 4
    assert [line[4] for line in lines[:4]] == ["P1", "P2", "P3", "total"]
    month = _whole(billing)
    column = {name: heading.index(name) for name in heading}
    for bill, first in zip(month["members"], range(0, len(lines), 4), strict=True):
        total = lines[first + 3]
        assert total[1] == bill["member"]
        assert total[3] == bill["cups"]
        figures = bill["total"]
        assert total[column["consumo_kwh"]] == _comma(figures["consumption_kwh"], 3)
        assert total[column["compensacion_eur"]] == _comma(figures["compensation_eur"], 2)
        assert lines[first][column["compensacion_eur"]] == ""  # a period has none
    assert lines[0][column["medido_por"]] == "contador propio"
    assert lines[-1][column["medido_por"]] == "ambos"
    # Shown as the text it is, never run as a formula.
    assert lines[-1][column["nombre"]] == "'=1+1 Panadería"
    assert lines[-1][column["coeficiente"]] == "0,000000"

    english = billing.get(f"/api/v1/billing/{MONTH}/export.csv?lang=en")
    heading = next(csv.reader(io.StringIO(english.body.decode("utf-8-sig")), delimiter=";"))
    assert heading[:5] == ["month", "member", "name", "cups", "period"]
    assert "from_grid_kwh" in heading
    assert "compensation_eur" in heading


def _comma(value: float, digits: int) -> str:
    return f"{value:.{digits}f}".replace(".", ",")


def test_pages_and_etags(billing: Billing) -> None:
    first = billing.get(f"/api/v1/billing/{MONTH}?limit=2")
    assert first.status == 200
    page = first.json()
    _conforms(billing, "BillingPage", page)
    assert [b["member"] for b in page["members"]] == ["m-0001", "m-0002"]
    assert page["next"] == "m-0002"
    second = billing.get(f"/api/v1/billing/{MONTH}?limit=2&after={page['next']}").json()
    last = billing.get(f"/api/v1/billing/{MONTH}?limit=2&after={second['next']}").json()
    assert [b["member"] for b in second["members"]] == ["m-0003", "m-0004"]
    assert [b["member"] for b in last["members"]] == [OTHER]
    assert last["next"] is None
    assert page["members"] + second["members"] + last["members"] == _whole(billing)["members"]

    tag = first.headers["ETag"]
    again = billing.get(f"/api/v1/billing/{MONTH}?limit=2", **{"If-None-Match": tag})
    assert again.status == 304
    assert again.body == b""
    last_tag = billing.get(f"/api/v1/billing/{MONTH}?limit=2&after=m-0004").headers["ETag"]
    # Another day of m-0005 from its distributor: its page changes, the first one does not.
    export, _ = distributor_day(make_cups(5), date(2025, 1, 20), 0.5)
    assert (
        call(
            billing.base, "POST", "/api/v1/distributor/csv?name=e.csv", billing.admin, export
        ).status
        == 200
    )
    assert billing.get(f"/api/v1/billing/{MONTH}?limit=2", **{"If-None-Match": tag}).status == 304
    changed = billing.get(
        f"/api/v1/billing/{MONTH}?limit=2&after=m-0004", **{"If-None-Match": last_tag}
    )
    assert changed.status == 200
    assert changed.headers["ETag"] != last_tag
    assert changed.json()["members"][0]["total"]["hours_known"] == 72

    def exports() -> int:
        entries = billing.get("/api/v1/audit?limit=500").json()["entries"]
        return sum(1 for e in entries if e["subject"] == f"billing:{MONTH}")

    taken = exports()
    csv_tag = billing.get(f"/api/v1/billing/{MONTH}/export.csv").headers["ETag"]
    path = f"/api/v1/billing/{MONTH}/export.csv"
    assert billing.get(path, **{"If-None-Match": csv_tag}).status == 304
    # A weak tag names the same version (a compressing proxy weakens them).
    assert billing.get(path, **{"If-None-Match": f"W/{csv_tag}"}).status == 304
    # What was taken is audited (the download), what was not (the 304s) is not.
    assert exports() == taken + 1


def test_the_documents_examples_are_answers(billing: Billing) -> None:
    operations = billing.get("/api/openapi.json").json()["paths"]
    for path, schema in (("", "BillingPage"), ("/export.json", "BillingMonth")):
        answer = operations[f"/api/v1/billing/{{month}}{path}"]["get"]["responses"]["200"]
        example = answer["content"]["application/json"]["example"]
        _conforms(billing, schema, example)
        for bill in example["members"]:
            for figures in [*bill["periods"].values(), bill["total"]]:
                _exact(figures)


def test_refusals_and_the_audit(billing: Billing) -> None:
    assert billing.get(f"/api/v1/billing/{MONTH}", None).status == 401
    # A member's own token reads its own data, not everyone's bills.
    assert billing.get(f"/api/v1/billing/{MONTH}", billing.member).status == 403
    for month in ("2025-13", "2025-1", "enero"):
        answer = billing.get(f"/api/v1/billing/{month}")
        assert answer.status == 404, month
        assert answer.json()["message"] == f"no month {month!r}"
    coming = datetime.now(ZoneInfo(HISTORY_TZ)).date().replace(day=1) + timedelta(days=32)
    answer = billing.get(f"/api/v1/billing/{coming:%Y-%m}")
    assert answer.status == 400
    assert answer.json()["error"] == "bad_month"
    assert "has not begun" in answer.json()["message"]
    ancient = billing.get("/api/v1/billing/0200-01")  # found by the contract test: was a 500
    assert ancient.status == 400
    assert ancient.json()["message"] == "0200-01 is before 2000"
    for limit in ("0", "501", "x"):
        assert billing.get(f"/api/v1/billing/{MONTH}?limit={limit}").status == 400, limit
    assert billing.get(f"/api/v1/billing/{MONTH}/export.csv?lang=fr").status == 400

    billing.get(f"/api/v1/billing/{MONTH}/export.csv")
    entries = billing.get("/api/v1/audit").json()["entries"]
    exported = [
        e for e in entries if e["action"] == "export" and e["subject"] == f"billing:{MONTH}"
    ]
    assert exported
    assert exported[0]["detail"] == {"kind": "csv", "members": 5}
    assert json.dumps(entries).count(billing.admin) == 0


# Posted by a billing platform from 1 January 2025, and from the 16th without an energy term.
POSTED = {
    "import_eur_kwh": {"P1": 0.28, "P2": 0.19, "P3": 0.13},
    "import_energy_eur_kwh": {"P1": 0.16, "P2": 0.12, "P3": 0.09},
    "surplus_eur_kwh": 0.06,
    "reference": "Tarifa socios 2025",
}


def _put(billing: Billing, day: str, body: dict[str, Any]) -> Answer:
    return call(billing.base, "PUT", f"/api/v1/prices/{day}", billing.admin, body)


def test_posted_prices_value_each_period_and_cap_the_compensation(billing: Billing) -> None:
    first = _put(billing, "2025-01-01", POSTED)
    again = _put(billing, "2025-01-01", POSTED)

    assert first.status == 200, first.body
    assert first.json()["changed"] is True
    assert again.json()["changed"] is False  # the same prices again change nothing
    listed = billing.get("/api/v1/prices").json()
    assert [p["valid_from"] for p in listed["posted"]] == ["2025-01-01"]
    assert listed["posted"][0]["surplus_eur_kwh"] == {"P1": 0.06, "P2": 0.06, "P3": 0.06}
    month = _whole(billing)
    assert month["prices"]["compensation_cap"] == "energy_term"
    assert [p["source"] for p in month["prices"]["in_force"]] == ["posted"]
    bill = next(b for b in month["members"] if b["member"] == "m-0002")
    for period in PERIODS:
        figures = bill["periods"][period]
        surplus = POSTED["surplus_eur_kwh"]
        term = POSTED["import_energy_eur_kwh"][period]  # type: ignore[index]
        assert figures["surplus_value_eur"] == pytest.approx(
            figures["surplus_kwh"] * surplus, abs=6e-3
        )
        assert figures["import_energy_eur"] == pytest.approx(figures["import_kwh"] * term, abs=6e-3)
    # The member's savings at the same prices: what it used of its share at each period's
    # whole price, and the compensation.
    months = billing.get("/api/v1/members/m-0002/months?year=2025").json()
    assert months["prices"] == month["prices"] | {
        "in_force": [month["prices"]["in_force"][0] | {"to": "2025-12-31"}]
    }
    january = next(m for m in months["months"] if m["month"] == MONTH)
    kept = sum(
        bill["periods"][p]["self_consumed_kwh"] * POSTED["import_eur_kwh"][p]  # type: ignore[index]
        for p in PERIODS
    )
    assert january["savings_eur"] == pytest.approx(
        kept + bill["total"]["compensation_eur"], abs=0.02
    )
    entries = billing.get("/api/v1/audit").json()["entries"]
    assert [e["action"] for e in entries].count("prices_posted") == 1

    # From the 16th, no energy term: those hours' cap is the whole price.
    later = {k: v for k, v in POSTED.items() if k != "import_energy_eur_kwh"}
    assert _put(billing, "2025-01-16", later).status == 200
    prices = _whole(billing)["prices"]
    assert prices["compensation_cap"] == "mixed"
    assert [(p["from"], p["to"]) for p in prices["in_force"]] == [
        ("2025-01-01", "2025-01-15"), ("2025-01-16", "2025-01-31")
    ]  # fmt: skip

    # Removing both: the add-on's options again.
    for day in ("2025-01-16", "2025-01-01"):
        removed = call(billing.base, "DELETE", f"/api/v1/prices/{day}", billing.admin)
        assert removed.status == 200
    gone = call(billing.base, "DELETE", "/api/v1/prices/2025-01-01", billing.admin)
    assert gone.status == 404
    assert _whole(billing)["prices"]["in_force"][0]["source"] == "options"


def test_bad_prices_are_refused_saying_why(billing: Billing) -> None:
    answer = _put(
        billing,
        "2025-01-01",
        {
            "import_eur_kwh": {"P1": 0.28, "P2": 0.19, "P3": 0.13},
            "import_energy_eur_kwh": {"P1": 0.30, "P2": 0.12, "P3": 0.14},
            "surplus_eur_kwh": 0.05,
        },
    )

    assert answer.status == 400
    assert answer.json()["error"] == "bad_prices"
    # Every period whose term is too high, at once.
    assert answer.json()["message"] == (
        "import_energy_eur_kwh.P1: the energy term cannot exceed the whole price (0.3 > 0.28); "
        "import_energy_eur_kwh.P3: the energy term cannot exceed the whole price (0.14 > 0.13)"
    )
    partial = {"import_eur_kwh": 0.2, "surplus_eur_kwh": {"P1": 0.05, "P2": 0.05}}
    assert _put(billing, "2025-01-01", partial).json()["message"] == (
        "surplus_eur_kwh: missing field 'P3'"
    )
    assert _put(billing, "2025-01-01", {"import_eur_kwh": -1, "surplus_eur_kwh": 0}).status == 400
    assert _put(billing, "2025-02-30", POSTED).status == 404  # no such day
    # A viewer reads them; only an operator posts them.
    assert billing.get("/api/v1/prices").json()["posted"] == []
    assert (
        call(billing.base, "PUT", "/api/v1/prices/2025-01-01", billing.member, POSTED).status == 403
    )


async def test_posted_prices_cover_only_their_days(store: Store) -> None:
    """Without the add-on's prices, the hours before the first posting have none."""
    book = PriceBook(store, config().results)
    body = {"import_eur_kwh": 0.2, "surplus_eur_kwh": 0.05}
    await book.post(posted(body, date(2025, 1, 16)), actor="test")
    hours = Period.containing("month", date(2025, 1, 1)).hours(ZoneInfo(HISTORY_TZ))
    two_months = hours.append(
        Period.containing("month", date(2025, 2, 1)).hours(ZoneInfo(HISTORY_TZ))
    )

    used = await book.used(two_months)

    assert used is not None
    assert used.priced_months(ZoneInfo(HISTORY_TZ)) == {"2025-02"}
    assert [(p["from"], p["to"]) for p in used.description["in_force"]] == [
        ("2025-01-16", "2025-02-28")
    ]
    assert used.priced.sum() == len(two_months) - 15 * 24
    assert await book.used(hours[:24]) is None  # 1 January: no price at all
    # The same prices again change nothing; another reference for them does.
    assert (await book.post(posted(body, date(2025, 1, 16)), actor="test"))[1] is False
    named = posted(body | {"reference": "Tarifa 2025"}, date(2025, 1, 16))
    assert (await book.post(named, actor="test"))[1] is True
