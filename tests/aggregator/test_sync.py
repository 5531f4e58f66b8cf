"""A billing platform's members, supply points and distribution table, through the real service.

The documents follow Som Comunitats' platform (somcomunitats-coop/odoo-ec,
energy_selfconsumption): a distribution table of ``type`` ``fixed`` with a coefficient per
supply point (``CUPS``, six decimals, summing to 1 at that precision as their ``Float.compare``
checks) or ``hourly`` with the distributor's file; members found by their supply point.
"""

from __future__ import annotations

import base64
from datetime import date
import gzip
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
import numpy as np
import pandas as pd
import pytest

from ioe_aggregator.sharing import coefficient_file
from ioe_aggregator.sharing.calendar import hours_of_year
from tests.community import Answer, Community, StartAggregator, call, make_cups, start_service

CAU = make_cups(1) + "A001"


class Platform:
    """The service as a billing platform reaches it: an operator's token."""

    def __init__(self, base: str, operator: str, admin: str) -> None:
        """Keep the service's address, an operator's token and an admin's (for the audit)."""
        self.base, self.operator, self.admin = base, operator, admin

    def sync(self, document: dict[str, Any], *, dry_run: bool = False) -> Answer:
        """Post ``document`` (as a dry run)."""
        query = "?dry_run=true" if dry_run else ""
        return call(self.base, "POST", f"/api/v1/community/sync{query}", self.operator, document)

    def get(self, path: str) -> Any:
        """Return what an admin reads at ``path``."""
        answer = call(self.base, "GET", path, self.admin)
        assert answer.status == 200, answer.body
        return answer.json()

    def conforms(self, answer: Answer) -> dict[str, Any]:
        """Return a sync's answer after checking it against the served document's schema."""
        assert answer.status == 200, answer.body
        document = self.get("/api/openapi.json")
        schema = {**document, "$ref": "#/components/schemas/CommunitySyncResult"}
        Draft202012Validator(schema).validate(answer.json())
        return dict(answer.json())


@pytest.fixture
def platform(community: Community, start_aggregator: StartAggregator) -> Platform:
    """Four members, equal shares from 1 January 2025, an operator's token."""
    for number in range(1, 5):
        community.add_member(f"m-{number:04d}", number)
    community.cli("agreements", "add", "Igual", "--scheme", "equal", "--from", "2025-01-01")
    operator, admin = community.token("operator"), community.token("admin")
    _service, port = start_service(community, start_aggregator)
    return Platform(f"http://127.0.0.1:{port}", operator, admin)


def _table(coefficients: dict[int, float], start: str = "2025-05-01") -> dict[str, Any]:
    return {
        "type": "fixed",
        "date_start": start,
        "coefficients": [
            {"cups": make_cups(n), "coefficient": value} for n, value in coefficients.items()
        ],
    }


def _document() -> dict[str, Any]:
    """Return the platform's project: m-0002's power changed, a fifth member, a new table."""
    return {
        "reference": "DT002",
        "members": [
            # Found by their supply points (the platform need not know our ids), one with
            # its 22-character CUPS and spaces.
            {"cups": make_cups(1)},
            {"cups": make_cups(2), "contracted_kw": 5.75},
            {"cups": make_cups(3) + "0F"},
            {"cups": f"{make_cups(4)[:10]} {make_cups(4)[10:]}", "name": "Hogar m-0004"},
            {"id": "m-0005", "name": "Panadería", "cups": make_cups(5), "contracted_kw": 9.2},
        ],
        # Six decimals each, summing to 1 as their platform requires.
        "distribution_table": _table({1: 0.3, 2: 0.2, 3: 0.2, 4: 0.15, 5: 0.15}),
    }


def test_a_document_is_checked_applied_once_and_audited(platform: Platform) -> None:
    before = platform.get("/api/v1/agreements")
    dry = platform.sync(_document(), dry_run=True)

    planned = platform.conforms(dry)
    assert planned["dry_run"] is True
    assert planned["changed"] is True
    assert [a["member"]["id"] for a in planned["members"]["added"]] == ["m-0005"]
    assert planned["members"]["added"][0]["join_code"] is None
    assert planned["members"]["changed"] == {"m-0002": {"contracted_kw": [4.6, 5.75]}}
    assert planned["agreement"]["valid_from"] == "2025-05-01"
    assert planned["ends"] == [before[0]["id"]]
    # Nothing applied.
    assert len(platform.get("/api/v1/members")) == 4
    assert platform.get("/api/v1/agreements") == before

    applied = platform.sync(_document())

    done = platform.conforms(applied)
    assert done["changed"] is True
    assert done["dry_run"] is False
    assert done["members"]["added"][0]["join_code"].startswith("IOE1-")
    members = {m["id"]: m for m in platform.get("/api/v1/members")}
    assert members["m-0005"]["cups"] == make_cups(5)
    assert members["m-0002"]["contracted_kw"] == 5.75
    agreements = platform.get("/api/v1/agreements")
    assert agreements[0]["valid_to"] == "2025-04-30"  # ended the day before
    shown = platform.get(f"/api/v1/agreements/{done['agreement']['id']}")
    beta = shown["coefficients"]
    # Rounded to millionths summing to exactly 1, each as close as can be to the table's.
    assert round(sum(beta.values()) * 1_000_000) == 1_000_000
    assert beta == pytest.approx(
        {"m-0001": 0.3, "m-0002": 0.2, "m-0003": 0.2, "m-0004": 0.15, "m-0005": 0.15}, abs=2e-6
    )

    # The same document again: nothing changes, nothing is audited.
    again = platform.sync(_document())
    assert again.status == 200
    assert again.json()["changed"] is False
    assert again.json()["agreement"] is None
    assert again.json()["digest"] == done["digest"]
    entries = platform.get("/api/v1/audit?limit=200")["entries"]
    synced = [e for e in entries if e["action"] == "community_synced"]
    assert len(synced) == 1
    assert synced[0]["subject"] == "DT002"
    assert synced[0]["detail"]["digest"] == done["digest"]
    assert synced[0]["detail"]["added"] == ["m-0005"]
    assert synced[0]["detail"]["changed"] == ["m-0002"]
    changed = [e for e in entries if e["action"] == "member_changed"]
    assert changed[0]["detail"] == {"contracted_kw": [4.6, 5.75]}
    # No join code in the audit log.
    assert done["members"]["added"][0]["join_code"] not in json.dumps(entries)


def test_every_problem_is_named_at_once_and_nothing_is_applied(platform: Platform) -> None:
    document = {
        "members": [
            {"cups": "ES0021000000000001XX"},  # a CUPS whose check letters are wrong
            {"cups": make_cups(2), "id": "m-0003"},  # m-0002's supply point, another's id
            {"id": "m-0006", "name": "Sin potencia", "cups": make_cups(6)},
            {"cups": make_cups(4)},
            {"cups": make_cups(4)},
        ],
        # Sums to 0.9; a supply point of nobody's; and too soon after January's agreement.
        "distribution_table": _table({1: 0.5, 2: 0.4, 7: 0.0}, start="2025-03-01"),
    }

    answer = platform.sync(document)

    assert answer.status == 400
    assert answer.json()["error"] == "bad_document"
    message = answer.json()["message"]
    assert "members[0]: a new member needs id, name, contracted_kw" in message
    # m-0003 moving to the supply point m-0002 keeps.
    assert f"m-0002, m-0003 would share the supply point {make_cups(2)}" in message
    assert "members[2]: a new member needs contracted_kw" in message
    assert "members[4]: member m-0004 is listed twice" in message
    assert f"coefficients[2]: CUPS '{make_cups(7)}' is no member's" in message
    assert len(platform.get("/api/v1/members")) == 4
    assert len(platform.get("/api/v1/agreements")) == 1

    # The table alone: its sum, then the community's rule on changes.
    short = platform.sync({"distribution_table": _table({1: 0.5, 2: 0.4})})
    assert "the coefficients sum to 0.900000000, not 1 at six decimals" in short.json()["message"]
    soon = platform.sync(
        {"distribution_table": _table({1: 0.25, 2: 0.25, 3: 0.25, 4: 0.25}, start="2025-03-01")}
    )
    assert soon.status == 400
    assert (
        "coefficients may change every 4 months at most, so from 2025-05-01"
        in (soon.json()["message"])
    )


def test_the_same_table_in_another_order_changes_nothing(platform: Platform) -> None:
    # Thirds, as a spreadsheet writes them: the millionth left over by rounding goes to the
    # same member whatever the order of the lines.
    table = _table({1: 1 / 3, 2: 1 / 3, 3: 1 / 3, 4: 0.0})
    first = platform.sync({"distribution_table": table})
    assert first.json()["changed"] is True
    table["coefficients"].reverse()
    again = platform.sync({"distribution_table": table})
    assert again.status == 200, again.body
    assert again.json()["changed"] is False


def test_a_supply_point_passes_between_members_never_to_two(platform: Platform) -> None:
    # m-0001 moves to a new supply point, and a newcomer takes the one it left: allowed.
    moved = platform.sync({"members": [
        {"id": "m-0001", "cups": make_cups(9)},
        {"id": "m-0009", "name": "Recién llegada", "cups": make_cups(1), "contracted_kw": 3.45},
    ]})  # fmt: skip
    assert moved.status == 200, moved.body
    members = {m["id"]: m["cups"] for m in platform.get("/api/v1/members")}
    assert (members["m-0001"], members["m-0009"]) == (make_cups(9), make_cups(1))
    # Two members on one supply point: refused, nothing applied.
    shared = platform.sync({"members": [
        {"id": "m-0002", "cups": make_cups(8)},
        {"id": "m-0010", "name": "Otra", "cups": make_cups(8), "contracted_kw": 3.45},
    ]})  # fmt: skip
    assert shared.status == 400
    assert (
        f"m-0002, m-0010 would share the supply point {make_cups(8)}" in (shared.json()["message"])
    )
    assert len(platform.get("/api/v1/members")) == 5
    # An hourly table without its file.
    no_file = platform.sync({"distribution_table": {"type": "hourly", "date_start": "2025-05-01"}})
    assert no_file.status == 400
    assert "an hourly table needs its file" in no_file.json()["message"]


def test_members_left_out_are_kept_or_revoked(platform: Platform) -> None:
    # "Revoke whoever is not listed" with nobody listed is refused: a fault, not a dissolution.
    for nobody in ({"absent": "revoke"}, {"absent": "revoke", "members": []}):
        refused = platform.sync(nobody)
        assert refused.status == 400
        assert "it lists none" in refused.json()["message"]

    kept = platform.sync({"members": [{"cups": make_cups(n)} for n in (1, 2, 3)]})
    assert kept.json()["members"]["absent"] == ["m-0004"]
    assert kept.json()["changed"] is False

    revoked = platform.sync(
        {"members": [{"cups": make_cups(n)} for n in (1, 2, 3)], "absent": "revoke"}
    )

    assert revoked.json()["members"]["revoked"] == ["m-0004"]
    members = {m["id"]: m for m in platform.get("/api/v1/members")}
    assert members["m-0004"]["revoked"] is not None
    back = platform.sync({"members": [{"cups": make_cups(4)}]})
    assert back.status == 400
    assert (
        "member m-0004 was revoked; its supply point stays with its history"
        in (back.json()["message"])
    )


def test_an_hourly_table_is_the_distributors_file(platform: Platform, tmp_path: Path) -> None:
    index = hours_of_year(2025)
    # m-0001 everything at midday (local), the other three a third each otherwise.
    midday = (index.tz_convert("Europe/Madrid").hour == 12).astype(float)
    beta = pd.DataFrame(
        {make_cups(1): midday, **{make_cups(n): (1 - midday) / 3 for n in (2, 3, 4)}},
        index=index,
    )
    path = coefficient_file.write_hourly(tmp_path, CAU, 2025, beta)
    # 35,040 lines: sent compressed, as the API's 1 MiB bodies need.
    packed = base64.b64encode(gzip.compress(path.read_bytes())).decode()
    assert len(path.read_bytes()) > 1024 * 1024
    table = {
        "type": "hourly",
        "date_start": "2025-05-01",
        "file": {"name": f"{path.name}.gz", "content_base64": packed},
    }

    answer = platform.sync({"reference": "DT003", "distribution_table": table})

    assert answer.status == 200, answer.body
    agreement = answer.json()["agreement"]
    assert agreement["kind"] == "hourly"
    assert agreement["name"] == "DT003"
    assert agreement["valid_to"] == "2025-12-31"
    shown = platform.get(f"/api/v1/agreements/{agreement['id']}")["coefficients"]
    noon = int(np.flatnonzero(midday)[0])
    assert shown["m-0001"][noon] == 1.0
    assert (
        platform.sync({"reference": "DT003", "distribution_table": table}).json()["changed"]
        is False
    )
    (tmp_path / "static").mkdir()
    static = coefficient_file.write_static(
        tmp_path / "static", CAU, 2025, pd.Series({make_cups(1): 1.0})
    )
    wrong = table | {
        "file": {
            "name": static.name,
            "content_base64": base64.b64encode(static.read_bytes()).decode(),
        },
        "date_start": "2025-09-01",
    }
    refused = platform.sync({"distribution_table": wrong})
    assert "the table is hourly, but its file is a fixed one" in refused.json()["message"]
    not_gzip = table | {"file": {"name": f"{path.name}.gz", "content_base64": "aG9sYQ=="}}
    refused = platform.sync({"distribution_table": not_gzip})
    assert refused.status == 400
    assert f"file: {path.name}.gz is not gzip" in refused.json()["message"]
    cut = base64.b64encode(gzip.compress(path.read_bytes())[:2000]).decode()
    truncated = table | {"file": {"name": f"{path.name}.gz", "content_base64": cut}}
    refused = platform.sync({"distribution_table": truncated})
    assert f"file: {path.name}.gz is not one whole gzip file" in refused.json()["message"]
    assert date.fromisoformat(agreement["valid_from"]) == date(2025, 5, 1)
