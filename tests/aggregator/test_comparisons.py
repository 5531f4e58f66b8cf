"""Sharing comparisons through the API of the real service: jobs, reports, adoption, files.

The community's history (months of 2025 from the synthetic community, hourly) is written
through the store before the service starts; the comparison reads it back from there.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from pathlib import Path
import re
from typing import Any

import pytest

from ioe_dev.processes import Service
from tests.community import validate_coefficient_file, wait_until, write_history

from .conftest import Answer, Community, StartAggregator, call, make_cups, wait_for_broker_status

MEMBERS = 4
# The months written: January to April 2025 (local time).
FIRST, LAST = "2025-01", "2025-04"
# The installation at the first member's supply point.
CAU = make_cups(1) + "A001"
STATIC = ["equal", "power", "consumption", "optimized-static"]


@dataclass
class Api:
    """The running service, its community and the tokens of each role."""

    base: str
    community: Community
    service: Service
    tokens: dict[str, str]

    def __call__(self, method: str, path: str, who: str = "operator", body: Any = None) -> Answer:
        """Call the API as ``who`` (viewer, operator or admin)."""
        return call(self.base, method, path, self.tokens[who], body)

    def compare(self, **fields: Any) -> Answer:
        """Ask for a comparison of the months written (fields replace the defaults)."""
        body = {"period": {"first": FIRST, "last": LAST}, "schemes": STATIC, **fields}
        return self("POST", "/api/v1/comparisons", body=body)

    def finished(self, job_id: str) -> dict[str, Any]:
        """Wait until a job is done or failed; return it."""
        found: dict[str, Any] = {}

        def ended() -> bool:
            found.update(self("GET", f"/api/v1/comparisons/{job_id}", "viewer").json())
            return found["state"] in {"done", "failed"}

        wait_until(ended)
        return found


@pytest.fixture
def api(community: Community, start_aggregator: StartAggregator) -> Api:
    """Start the service on four members with four months of history; tokens of each role."""
    for number in range(1, MEMBERS + 1):
        extra = {"--plant-kw": "10"} if number == 1 else {}
        community.add_member(f"m-{number:04d}", number, **extra)
    asyncio.run(write_history(community.options["database_url"], MEMBERS, 2025, range(1, 5)))
    tokens = {role: community.token(role) for role in ("viewer", "operator", "admin")}
    service, port = start_aggregator(**community.options)
    wait_for_broker_status(port, "connected")
    return Api(f"http://127.0.0.1:{port}", community, service, tokens)


def test_a_comparison_runs_is_adopted_and_gives_a_valid_file(api: Api, tmp_path: Path) -> None:
    started = api.compare(prices={"import_eur_kwh": 0.15, "surplus_eur_kwh": 0.05})
    assert started.status == 202, started.body
    job = started.json()
    assert job["state"] == "queued"
    assert job["progress"] == 0
    assert job["caller"].startswith("token:")
    seen: list[float] = []

    def done() -> bool:
        found = api("GET", f"/api/v1/comparisons/{job['id']}", "viewer").json()
        seen.append(found["progress"])
        return found["state"] == "done"

    wait_until(done, attempts=1200)
    finished = api.finished(job["id"])

    assert seen == sorted(seen)
    assert seen[-1] == 1
    summary = finished["summary"]
    assert summary["winner"] == "optimized-static"
    assert set(summary["schemes"]) == set(STATIC)
    figures = summary["schemes"]["optimized-static"]["community"]
    assert figures["self_consumed_kwh"] > 0
    assert figures["savings_eur"] > 0
    assert sum(summary["schemes"]["equal"]["coefficients"].values()) == pytest.approx(1)
    page = api("GET", f"/api/v1/comparisons/{job['id']}/report", "viewer")
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert b"optimized-static" in page.body
    report = api("GET", f"/api/v1/comparisons/{job['id']}/report.json", "viewer").json()
    assert list(report["schemes"]) == summary["ranking"]
    listed = api("GET", "/api/v1/comparisons", "viewer").json()
    assert [j["id"] for j in listed] == [job["id"]]

    adopted = api(
        "POST",
        f"/api/v1/comparisons/{job['id']}/adopt",
        body={"scheme": "optimized-static", "name": "Reparto 2027", "valid_from": "2027-01-01"},
    )
    assert adopted.status == 201, adopted.body
    agreement = adopted.json()
    assert agreement["scheme"] == "optimized-static"
    assert agreement["comparison"] == job["id"]
    assert agreement["created_by"] == job["caller"]
    # The list names who recorded it when a person of the control centre did (a token here).
    assert api("GET", "/api/v1/agreements", "viewer").json() == [
        agreement | {"created_by_name": None}
    ]
    beta = api("GET", f"/api/v1/agreements/{agreement['id']}", "viewer").json()["coefficients"]
    computed = summary["schemes"]["optimized-static"]["coefficients"]
    assert beta == pytest.approx(computed, abs=1e-6)

    file = api("GET", f"/api/v1/agreements/{agreement['id']}/coefficient-file?cau={CAU}", "viewer")
    assert file.status == 200, file.body
    assert file.headers["Content-Disposition"] == f'attachment; filename="{CAU}_2027.txt"'
    assert re.fullmatch(rb"(ES\d{16}[A-Z]{2}0F;0,\d{6}\r\n){4}", file.body)
    path = tmp_path / f"{CAU}_2027.txt"
    path.write_bytes(file.body)
    rows = api("GET", "/api/v1/members", "viewer").json()
    checked = validate_coefficient_file(path, rows, tmp_path, year=2027)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == f"{CAU}_2027.txt: valid"
    validated = api(
        "POST",
        "/api/v1/coefficient-files/validate",
        "viewer",
        {"name": path.name, "content_base64": base64.b64encode(file.body).decode()},
    )
    assert validated.json() == {
        "name": path.name,
        "year": 2027,
        "valid": True,
        "kind": "static",
        "problems": [],
    }


def test_what_if_scenarios_run_in_the_job_and_show_in_its_report(api: Api) -> None:
    what_if = [
        {"kind": "member-joins", "name": "La panadería", "member_id": "bakery",
         "cups": "ES0021000000000999EF", "annual_kwh": 6000, "contracted_power_kw": 10,
         "investment_share": 0.1},
        {"kind": "battery", "capacity_kwh": 20, "power_kw": 10},
        {"kind": "prices", "import_factor": 1.5},
    ]  # fmt: skip
    job = api.compare(
        schemes=["power", "optimized-static"],
        prices={"import_eur_kwh": 0.15, "surplus_eur_kwh": 0.05},
        decision={"in_force": "power"},
        scenarios=what_if,
    ).json()
    finished = api.finished(job["id"])

    assert finished["state"] == "done", finished["error"]
    assert finished["request"]["scenarios"] == what_if
    report = api("GET", f"/api/v1/comparisons/{job['id']}/report.json", "viewer").json()
    scenarios = report["scenarios"]
    assert scenarios["schemes"] == [finished["summary"]["winner"], "power"]
    joins, battery, prices = scenarios["items"]
    assert joins["asked"]["source"] == "ree-profile"
    assert joins["members"]["bakery"]["self_consumed_kwh"] > 0
    assert battery["error"] is None
    base = scenarios["base"]["power"]
    assert prices["schemes"]["power"]["savings_eur"] > base["savings_eur"]
    page = api("GET", f"/api/v1/comparisons/{job['id']}/report", "viewer").body.decode()
    assert "La panadería" in page

    # A member leaving who is not one fails the job, before its work, saying why.
    failed = api.finished(
        api.compare(scenarios=[{"kind": "member-leaves", "member_id": "m-0099"}]).json()["id"]
    )
    assert failed["state"] == "failed"
    assert "member m-0099 leaving: no such member" in failed["error"]


def test_a_viewer_reads_jobs_but_starts_and_adopts_none(api: Api) -> None:
    job = api.compare(schemes=["equal"]).json()
    api.finished(job["id"])

    started = api(
        "POST", "/api/v1/comparisons", "viewer", {"period": {"first": FIRST, "last": LAST}}
    )
    adopted = api(
        "POST",
        f"/api/v1/comparisons/{job['id']}/adopt",
        "viewer",
        {"scheme": "equal", "name": "x", "valid_from": "2027-01-01"},
    )

    assert started.status == adopted.status == 403
    assert started.json()["error"] == adopted.json()["error"] == "forbidden"
    assert api("GET", "/api/v1/comparisons", "viewer").status == 200
    assert api("GET", f"/api/v1/comparisons/{job['id']}/report", "viewer").status == 200


def test_a_second_comparison_waits_for_the_first(api: Api) -> None:
    first = api.compare().json()
    second = api.compare().json()

    assert second["state"] == "queued"
    one, two = api.finished(first["id"]), api.finished(second["id"])
    assert one["state"] == two["state"] == "done"
    assert one["finished"] <= two["started"]
    listed = api("GET", "/api/v1/comparisons", "viewer").json()
    assert [j["id"] for j in listed] == [second["id"], first["id"]]


def test_a_restart_fails_the_job_it_interrupted_and_runs_the_queued_ones(
    api: Api, start_aggregator: StartAggregator
) -> None:
    jobs = [api.compare(schemes=["hourly-profile", *STATIC]).json() for _ in range(3)]
    api.service.stop()
    _service, port = start_aggregator(**api.community.options)
    api.base = f"http://127.0.0.1:{port}"

    found = [api.finished(job["id"]) for job in jobs]

    assert found[-1]["state"] == "done"  # the last one at least was still queued: it ran
    for job in found:
        assert job["state"] in {"done", "failed"}
        if job["state"] == "failed":
            assert "service stopped before the comparison finished" in job["error"]
    again = api.compare(schemes=["equal"]).json()
    assert api.finished(again["id"])["state"] == "done"


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"period": {"first": "2025-13", "last": LAST}}, 400, "bad_month"),
        ({"period": {"first": LAST, "last": FIRST}}, 400, "bad_period"),
        ({"period": {"first": "2020-01", "last": "2020-03"}}, 409, "no_history"),
        ({"schemes": ["equal", "lottery"]}, 400, "unknown_scheme"),
        (
            {"schemes": ["optimized-static"], "rules": {"large_consumer_kwh": 3000}},
            400,
            "bad_rules",
        ),
        ({"schemes": ["equal"], "decision": {"in_force": "power"}}, 400, "bad_decision"),
        ({"decision": {"objective": "savings-no-loss"}}, 400, "bad_decision"),
        ({"decision": {"objective": "fairest"}}, 400, "invalid"),
        ({"scenarios": [{"kind": "battery", "capacity_kwh": 10}]}, 400, "invalid"),
        ({"scenarios": {"kind": "prices"}}, 400, "invalid"),
        (
            {
                "scenarios": [
                    {"kind": "plant-grows", "added_kwp": 5, "plant_kwp": 9, "latitude": 40}
                ]
            },
            400,
            "bad_scenarios",
        ),
        (
            {"scenarios": [{"kind": "plant-grows", "added_kwp": 5, "plant_kwp": 9, "azimuth": 90}]},
            400,
            "no_site",
        ),
    ],
)
def test_bad_comparisons_are_refused(
    api: Api, fields: dict[str, Any], status: int, code: str
) -> None:
    answer = api.compare(**fields)

    assert answer.status == status, answer.body
    assert answer.json()["error"] == code


def test_bad_adoptions_are_refused(api: Api) -> None:
    done = api.compare(schemes=["equal", "hourly-profile", "perfect-foresight"]).json()
    # No β of four members can all be at least 0.5: the engine finds it out and fails.
    failed = api.compare(schemes=["hourly-profile"], rules={"min_beta": 0.5}).json()
    assert failed["error"] is None
    api.finished(done["id"])
    assert api.finished(failed["id"])["state"] == "failed"

    def adopt(job: dict[str, Any], scheme: str, valid_from: str) -> Answer:
        body = {"scheme": scheme, "name": "Reparto", "valid_from": valid_from}
        return api("POST", f"/api/v1/comparisons/{job['id']}/adopt", body=body)

    first = adopt(done, "equal", "2027-01-01")
    refusals = {
        "too_soon": adopt(done, "equal", "2027-03-01"),
        "failed": adopt(failed, "equal", "2027-06-01"),
        "hourly": adopt(done, "hourly-profile", "2027-06-01"),
        "reference": adopt(done, "perfect-foresight", "2027-06-01"),
        "not_compared": adopt(done, "power", "2027-06-01"),
    }

    assert first.status == 201
    assert {k: (a.status, a.json()["error"]) for k, a in refusals.items()} == {
        "too_soon": (409, "conflict"),
        "failed": (409, "not_done"),
        "hourly": (400, "not_adoptable"),
        "reference": (400, "not_adoptable"),
        "not_compared": (400, "unknown_scheme"),
    }
    assert "every 4 months at most" in refusals["too_soon"].json()["message"]
    missing = api("GET", "/api/v1/comparisons/c-0000000000", "viewer")
    assert (missing.status, missing.json()["error"]) == (404, "not_found")
