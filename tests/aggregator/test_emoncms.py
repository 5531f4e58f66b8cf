"""Migration from emoncms: feeds listed and suggested, imported from its API or its files.

The service runs for real; emoncms is ``ioe_dev/fake_emoncms.py`` (its feed API with its quirks)
and files written from emoncms' documented formats (``ioe_dev/emoncms_files.py``). What is
stored is checked against each quarter worked out here from the feeds' samples, and the same
household imported from the API and from the files must give the same readings.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
import math
from pathlib import Path
import sqlite3
from typing import Any
from unittest.mock import ANY

import pytest

from ioe_aggregator.emoncms.energy import energies
from ioe_aggregator.emoncms.feeds import Feed, Kind, moment, number
from ioe_aggregator.emoncms.server import checked_url
from ioe_aggregator.refusals import Refused
from ioe_dev.emoncms_files import write_datadir
from ioe_dev.fake_emoncms import APIKEY, PHPTIMESERIES, FakeEmoncms, FakeFeed, household
from ioe_dev.processes import free_port
from tests.community import Community, StartAggregator, call, start_service, wait_until

# Three days from midday on 30 October (UTC): the local month changes on the way, and the
# first sample is not on a quarter hour.
START = int(datetime(2026, 10, 30, 12, 0, 5, tzinfo=UTC).timestamp())
DAYS = 3
QUARTER_S = 900
# use (W), import (W), solar_kwh (kWh): household()'s ids.
MAPPING = [
    {"feed": "1", "member": "m-0001", "measure": "consumption", "kind": "power_w"},
    {"feed": "4", "member": "m-0001", "measure": "import", "kind": "power_w"},
    {"feed": "8", "member": "m-0001", "measure": "rooftop_pv", "kind": "energy_kwh"},
]
QUANTITIES = {"1": ("grid", "consumption_kwh"), "4": ("grid", "import_kwh")}


@pytest.fixture
def feeds() -> list[FakeFeed]:
    return household(START, DAYS)


@pytest.fixture
def emoncms(feeds: list[FakeFeed]) -> Iterator[FakeEmoncms]:
    with FakeEmoncms(feeds) as server:
        yield server


def _readings(community: Community, member: str) -> dict[tuple[str, str, int], float]:
    path = Path(community.options["database_url"].removeprefix("sqlite:///"))
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT meter, quantity, start_s, value, quality, source FROM readings "
            "WHERE member = ?",
            (member,),
        ).fetchall()
    assert {(row[4], row[5]) for row in rows} <= {("measured", "member")}
    return {(row[0], row[1], row[2]): row[3] for row in rows}


def _expected(feed: FakeFeed, kind: Kind) -> dict[int, float]:
    """Return each quarter's kWh of a feed, worked out from its samples (see the module)."""
    first = feed.start_time - feed.start_time % QUARTER_S
    found: dict[int, float] = {}
    for q in range(first, feed.end_time + 1, QUARTER_S):
        slots = [
            v
            for n, v in enumerate(feed.values)
            if q <= feed.start_time + n * feed.interval < q + QUARTER_S and not math.isnan(v)
        ]
        if kind is Kind.POWER_W and slots:
            found[q] = round(max(sum(slots) / len(slots), 0.0) / 1000 * 0.25, 6)
        elif kind is Kind.ENERGY_KWH:
            at = [
                (q - feed.start_time) // feed.interval,
                (q + QUARTER_S - feed.start_time) // feed.interval,
            ]
            if all(0 <= n < len(feed.values) for n in at):
                begins, ends = (feed.values[n] for n in at)
                if not math.isnan(begins) and not math.isnan(ends) and ends >= begins:
                    found[q] = round(ends - begins, 6)
    return found


def _import(base: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    started = call(base, "POST", "/api/v1/emoncms/imports", token, body)
    assert started.status == 202, started.body
    job = started.json()
    assert job["state"] == "running"

    def finished() -> bool:
        nonlocal job
        job = call(base, "GET", f"/api/v1/emoncms/imports/{job['id']}", token).json()
        return job["state"] != "running"

    wait_until(finished)
    return job


def test_what_feeds_seem_to_measure() -> None:
    def suggested(name: str, unit: str = "") -> tuple[str, str | None] | None:
        found = Feed(id="1", name=name, unit=unit).suggestion
        return None if found is None else (found.kind.value, found.measure)

    # The emonPi's device template and apps (names, units), the emonPi2's, IoE-style names.
    assert suggested("use", "W") == ("power_w", "consumption")
    assert suggested("use_kwh", "kWh") == ("energy_kwh", "consumption")
    assert suggested("solar_kwh") == ("energy_kwh", "rooftop_pv")
    assert suggested("import") == ("power_w", "import")
    assert suggested("export", "W") == ("power_w", "export")
    assert suggested("E1") == ("energy_kwh", None)
    assert suggested("P2", "") == ("power_w", None)
    assert suggested("heatpump_elec_kwh", "kWh") == ("energy_kwh", None)
    assert suggested("excedentes", "Wh") == ("energy_wh", "export")
    assert suggested("consumo_casa", "kW") == ("power_kw", "consumption")
    assert suggested("cargador_coche", "W") == ("power_w", "ev")
    assert suggested("battery_discharge", "W") == ("power_w", None)
    assert suggested("energy_stored_kwh") == ("energy_kwh", None)
    assert suggested("Tª_salón", "°C") is None
    assert suggested("V1", "V") is None


def test_what_emoncms_writes_is_read_whatever_its_age() -> None:
    # Seconds, as a string (MySQL mode), milliseconds (the oldest servers), nothing.
    assert moment("1473448379") == datetime(2016, 9, 9, 19, 12, 59, tzinfo=UTC)
    assert moment(1473448379000) == moment(1473448379)
    assert moment(None) is moment("") is moment(0) is moment(float("nan")) is None
    assert number("17.690000534058") == pytest.approx(17.69)
    assert number(True) is number("NaN") is None
    for address in ("http://[::1/", "http://host:port/", "file:///etc/passwd", "https://"):
        with pytest.raises(Refused, match="url: "):
            checked_url(address)
    assert (
        checked_url(" https://emoncms.example.org/emoncms ")
        == "https://emoncms.example.org/emoncms/"
    )


def test_energy_of_powers_and_counters() -> None:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    quarter = timedelta(minutes=15)
    power = energies(Kind.POWER_W, start, [400.0, None, -3.0, 1200.0])
    assert power.kwh == {start: 0.1, start + 2 * quarter: 0.0, start + 3 * quarter: 0.3}
    assert power.missing == 1
    # A counter: a missing end leaves two quarters out, a fall (a reset) one.
    counter = energies(Kind.ENERGY_WH, start, [1000.0, 1250.0, None, 1500.0, 20.0, 270.0])
    assert counter.kwh == {start: 0.25, start + 4 * quarter: 0.25}
    assert (counter.missing, counter.resets) == (2, 1)
    # An hourly counter (the IoE platform's style): each hour shared among its quarters.
    hourly = energies(Kind.ENERGY_KWH, start, [10.0, 12.0], step=timedelta(hours=1))
    assert hourly.kwh == {start + n * quarter: 0.5 for n in range(4)}


def test_a_household_is_imported_from_the_api_and_from_its_files_alike(
    community: Community,
    start_aggregator: StartAggregator,
    emoncms: FakeEmoncms,
    feeds: list[FakeFeed],
    tmp_path: Path,
) -> None:
    folder = tmp_path / "emoncms"
    write_datadir(folder, feeds)
    community.options.update(emoncms_dir=str(folder))
    community.add_member("m-0001")
    community.add_member("m-0002")
    operator, viewer = community.token("operator"), community.token("viewer")
    service, port = start_service(community, start_aggregator)
    base = f"http://127.0.0.1:{port}"
    source = {"url": emoncms.url, "apikey": APIKEY}

    listed = call(base, "POST", "/api/v1/emoncms/feeds", operator, source)
    assert listed.status == 200, listed.body
    answer = listed.json()
    assert answer["source"] == {"kind": "api", "url": emoncms.url}
    by_id = {feed["id"]: feed for feed in answer["feeds"]}
    assert list(by_id) == ["1", "3", "4", "5", "8"]
    assert by_id["1"]["suggestion"] == {"kind": "power_w", "measure": "consumption"}
    assert by_id["8"]["suggestion"] == {"kind": "energy_kwh", "measure": "rooftop_pv"}
    assert by_id["1"]["interval_s"] == 10
    assert by_id["1"]["first"] == "2026-10-30T12:00:00Z"
    assert by_id["1"]["points"] == DAYS * 8640
    # A viewer may not read another system's feeds.
    assert call(base, "POST", "/api/v1/emoncms/feeds", viewer, source).status == 403

    job = _import(base, operator, {"source": source, "feeds": MAPPING})
    assert job["state"] == "done", job
    assert job["progress"] == 1
    assert job["source"] == {"kind": "api", "url": emoncms.url}
    stored = _readings(community, "m-0001")
    for part, mapping in zip(job["feeds"], MAPPING, strict=True):
        kind = Kind(mapping["kind"])
        feed = next(f for f in feeds if str(f.id) == mapping["feed"])
        meter, quantity = QUANTITIES.get(mapping["feed"], ("pv", "generation_kwh"))
        expected = _expected(feed, kind)
        got = {start: kwh for (m, q, start), kwh in stored.items() if (m, q) == (meter, quantity)}
        assert got == pytest.approx(expected, abs=2e-6), mapping
        assert part["state"] == "done"
        assert part["quarters"]["new"] == len(expected)
        # The emonPi's five minutes off: within a quarter for the powers (its other ten
        # minutes' mean counts), on a quarter's start for the counter (both sides left out).
        assert part["quarters"]["missing"] == (0 if kind is Kind.POWER_W else 3)
        assert part["kwh"] == pytest.approx(sum(expected.values()), abs=1e-3)
    # The solar counter's energy and its power feed's agree, over the quarters both have.
    solar = {start: kwh for (m, _q, start), kwh in stored.items() if m == "pv"}
    power = _expected(next(f for f in feeds if f.id == 3), Kind.POWER_W)
    both = solar.keys() & power.keys()
    assert len(both) == len(solar)
    assert sum(solar.values()) == pytest.approx(sum(power[q] for q in both), rel=0.002)

    # Again: nothing new, nothing changed.
    again = _import(base, operator, {"source": source, "feeds": MAPPING})
    assert [part["quarters"]["new"] + part["quarters"]["changed"] for part in again["feeds"]] == [
        0,
        0,
        0,
    ]
    assert [part["quarters"]["unchanged"] for part in again["feeds"]] == [
        part["quarters"]["new"] for part in job["feeds"]
    ]
    assert _readings(community, "m-0001") == stored

    # The same household's files, for another member: the same readings.
    files = call(base, "POST", "/api/v1/emoncms/feeds", operator, {"files": True})
    assert files.status == 200, files.body
    assert [f["id"] for f in files.json()["feeds"]] == ["1", "3", "4", "5", "8"]
    assert files.json()["feeds"][0]["engine"] == "phpfina"
    other = [{**mapping, "member": "m-0002"} for mapping in MAPPING]
    from_files = _import(base, operator, {"source": {"files": True}, "feeds": other})
    assert from_files["state"] == "done", from_files
    assert _readings(community, "m-0002") == pytest.approx(stored, abs=2e-6)

    # The key went to emoncms and nowhere else: not in the log, the answers or the audit log.
    assert any("apikey=***" in request for request in emoncms.requests)
    audit = call(base, "GET", "/api/v1/audit?limit=500", community.token("admin"))
    assert audit.status == 200
    imported = [e for e in audit.json()["entries"] if e["action"] == "emoncms_import"]
    assert len(imported) == 3
    assert imported[-1]["detail"]["source"] == {"kind": "api", "url": emoncms.url}
    listed_imports = call(base, "GET", "/api/v1/emoncms/imports", operator)
    assert [i["id"] for i in listed_imports.json()["imports"]][-1] == job["id"]
    for text in (service.log_file.read_text(), audit.body.decode(), listed_imports.body.decode()):
        assert APIKEY not in text


def test_what_emoncms_refuses_and_what_an_import_cannot_do(
    community: Community, start_aggregator: StartAggregator, emoncms: FakeEmoncms, tmp_path: Path
) -> None:
    community.options.update(emoncms_dir=str(tmp_path / "empty"))
    community.add_member("m-0001")
    operator = community.token("operator")
    service, port = start_service(community, start_aggregator)
    base = f"http://127.0.0.1:{port}"

    def feeds_of(source: Any) -> tuple[int, dict[str, Any]]:
        answer = call(base, "POST", "/api/v1/emoncms/feeds", operator, source)
        return answer.status, answer.json()

    wrong = {"url": emoncms.url, "apikey": "0" * 32}
    assert feeds_of(wrong) == (
        502,
        {"error": "emoncms_key_refused", "message": "emoncms refused the API key"},
    )
    nobody = {"url": f"http://127.0.0.1:{free_port()}/", "apikey": APIKEY}
    status, error = feeds_of(nobody)
    assert (status, error["error"]) == (502, "emoncms_unreachable")
    source = {"url": emoncms.url, "apikey": APIKEY}
    emoncms.fail_next("html")
    assert feeds_of(source)[1]["error"] == "emoncms_key_refused"
    emoncms.fail_next("garbage")
    assert feeds_of(source)[1]["error"] == "emoncms_answer"
    emoncms.fail_next(500)
    assert feeds_of(source)[1]["error"] == "emoncms_answer"
    for bad in ({"url": "ftp://x/", "apikey": "k"}, {"url": "https://u:p@x/", "apikey": "k"}):
        assert feeds_of(bad) == (400, {"error": "bad_source", "message": ANY}), bad
    assert feeds_of({"url": emoncms.url})[0] == 400
    status, error = feeds_of({"files": True})
    assert (status, error["error"]) == (404, "no_emoncms_files")

    # Every problem of a mapping at once, and nothing started.
    wrong_mapping = {
        "source": source,
        "feeds": [
            {"feed": "99", "member": "m-0001", "measure": "consumption", "kind": "power_w"},
            {"feed": "1", "member": "m-0404", "measure": "import", "kind": "power_w"},
            {"feed": "4", "member": "m-0001", "measure": "plant", "kind": "power_w"},
            {"feed": "3", "member": "m-0001", "measure": "consumption", "kind": "power_w"},
        ],
        "from": "2026-11-02",
        "to": "2026-11-01",
    }
    refused = call(base, "POST", "/api/v1/emoncms/imports", operator, wrong_mapping)
    assert refused.status == 400
    assert refused.json()["error"] == "bad_import"
    for problem in (
        "feeds[0].feed: the source has no feed 99",
        "feeds[1].member: no member m-0404",
        "feeds[2].measure: member m-0001 has no registered plant",
        "feeds[3]: one feed per member and measure",
        "to: a day after from",
    ):
        assert problem in refused.json()["message"]
    assert call(base, "GET", "/api/v1/emoncms/imports", operator).json() == {"imports": []}
    assert (
        call(base, "GET", "/api/v1/emoncms/imports/imp_20261206T000000_abcd", operator).status
        == 404
    )

    # A feed emoncms fails half-way fails alone; the others are imported.
    mapping = {"source": source, "feeds": MAPPING[:2], "from": "2026-10-31", "to": "2026-11-02"}
    emoncms.fail_next(500, route="feed/data.json")
    job = _import(base, operator, mapping)
    assert job["state"] == "failed"
    assert [part["state"] for part in job["feeds"]] == ["failed", "done"]
    assert job["feeds"][0]["error"].startswith("emoncms_answer")
    assert job["error"] == "feeds not imported: 1"
    assert "emoncms at http://127.0.0.1" in service.log_file.read_text()

    # One import at a time: another while one runs (a slow emoncms) is refused.
    # A home without panels: its use is both its consumption and its import.
    twice = [
        {"feed": "1", "member": "m-0001", "measure": "consumption", "kind": "power_w"},
        {"feed": "1", "member": "m-0001", "measure": "import", "kind": "power_w"},
    ]
    mapping = {**mapping, "feeds": twice}
    emoncms.delay = 0.3
    first = call(base, "POST", "/api/v1/emoncms/imports", operator, mapping)
    assert first.status == 202, first.body
    second = call(base, "POST", "/api/v1/emoncms/imports", operator, mapping)
    assert (second.status, second.json()["error"]) == (409, "import_running")
    emoncms.delay = 0.0
    ended = f"/api/v1/emoncms/imports/{first.json()['id']}"
    wait_until(lambda: call(base, "GET", ended, operator).json()["state"] == "done")
    both = call(base, "GET", ended, operator).json()
    assert both["progress"] == 1
    # (The import measure held feed 4's quarters already: feed 1's replace them.)
    consumption, grid = (part["quarters"] for part in both["feeds"])
    assert consumption["new"] == grid["changed"] + grid["unchanged"] == 192


def test_old_servers_hourly_counters_and_variable_intervals(
    community: Community, start_aggregator: StartAggregator
) -> None:
    start = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp())
    hours = 48
    # The IoE platform's hourly kWh (a counter logged every hour), and a PHPTimeSeries power.
    # Its meter read 0 once (a Modbus glitch): the fall and the rise back are left out.
    counter = [0.0 if n == 10 else 100.0 + 0.8 * n for n in range(hours)]
    hourly = FakeFeed(20, "imported", unit="kWh", interval=3600, start_time=start, values=counter)
    points = [(start + 60 * n + 7, 600.0) for n in range(hours * 60)]
    variable = FakeFeed(21, "use", unit="W", engine=PHPTIMESERIES, points=points)
    community.add_member("m-0001")
    operator = community.token("operator")
    _service, port = start_service(community, start_aggregator)
    base = f"http://127.0.0.1:{port}"
    mapping = [
        {"feed": "20", "member": "m-0001", "measure": "import", "kind": "energy_kwh"},
        {"feed": "21", "member": "m-0001", "measure": "consumption", "kind": "power_w"},
    ]
    # An emoncms of 2016: numbers as strings, no npoints, 3,000 points a call at most.
    with FakeEmoncms([hourly, variable], strings=True, old_meta=True, limit=3000) as old:
        source = {"url": old.url, "apikey": APIKEY}
        # Its PHPTimeSeries' getmeta says nothing: when the feed begins is asked for.
        refused = call(base, "POST", "/api/v1/emoncms/imports", operator,
                       {"source": source, "feeds": mapping})  # fmt: skip
        assert "emoncms does not say when feed 21 begins: give from" in refused.json()["message"]
        job = _import(base, operator, {"source": source, "feeds": mapping, "from": "2026-11-02"})
    assert job["state"] == "done", job
    imports, consumption = job["feeds"]
    # 47 hours between 48 hourly readings, each shared among its quarters (estimated), but
    # the two around the glitch.
    assert imports["quarters"]["new"] == 45 * 4
    assert imports["quarters"]["resets"] == 2 * 4
    assert imports["kwh"] == pytest.approx(45 * 0.8, abs=1e-3)
    assert consumption["quarters"]["new"] == hours * 4
    assert consumption["kwh"] == pytest.approx(hours * 0.6, abs=1e-3)
