"""A client generated from the API's document with a standard generator works, typed, end to end.

openapi-python-client (pinned in requirements_test.txt) turns the document the service serves
into a Python package; the test then uses nothing but that package to make a token and read a
member's months and the month's bills with it, as another system's developer would. Only the
operations whose request bodies are not JSON (a distributor's CSV, a logo's image) are beyond
the generator: any other warning fails the test.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from pathlib import Path
import re
import subprocess
import sys
from typing import Any

from tests.community import Community, StartAggregator, call, start_service, write_history

MEMBERS = 3
# What the generator cannot make a typed body of: uploads of a CSV and of an image.
UNSUPPORTED = re.compile(r"Unsupported content type (text/csv|image/(png|jpeg|webp))")


def _generate(document: dict[str, Any], directory: Path) -> Any:
    """Generate the client package ``ioe_api`` into ``directory``; return it, imported."""
    source = directory / "openapi.json"
    source.write_text(json.dumps(document))
    result = subprocess.run(
        [
            sys.executable, "-m", "openapi_python_client", "generate", "--path", str(source),
            "--output-path", str(directory / "ioe_api"), "--meta", "none",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    warnings = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.startswith(("Unsupported", "Unable", "Could not", "Cannot"))
    ]
    assert all(UNSUPPORTED.fullmatch(line) for line in warnings), warnings
    sys.path.insert(0, str(directory))
    try:
        return importlib.import_module("ioe_api")
    finally:
        sys.path.remove(str(directory))


def test_a_generated_client_makes_a_token_and_reads_a_members_month(
    community: Community, start_aggregator: StartAggregator, tmp_path: Path
) -> None:
    for number in range(1, MEMBERS + 1):
        extra = {"--plant-kw": "10"} if number == 1 else {}
        community.add_member(f"m-{number:04d}", number, **extra)
    asyncio.run(write_history(community.options["database_url"], MEMBERS, 2025, range(1, 2)))
    community.cli("agreements", "add", "Igual", "--scheme", "equal", "--from", "2025-01-01")
    admin = community.token("admin")
    _service, port = start_service(community, start_aggregator)
    base = f"http://127.0.0.1:{port}"
    document = call(base, "GET", "/api/openapi.json").json()

    client_package = _generate(document, tmp_path)
    add_token = importlib.import_module("ioe_api.api.tokens.add_token")
    member_months = importlib.import_module("ioe_api.api.results.member_months")
    billing_month = importlib.import_module("ioe_api.api.billing.billing_month")
    models = importlib.import_module("ioe_api.models")

    # The admin makes a viewer's token for another system, through the client.
    with client_package.AuthenticatedClient(base_url=base, token=admin) as as_admin:
        made = add_token.sync(
            client=as_admin,
            body=models.NewToken(scope=models.NewTokenScope.VIEWER, label="ERP"),
        )
    assert isinstance(made, models.IssuedToken), made
    assert made.token.startswith("ioe_")

    # With it, a member's months and the month's bills, typed.
    with client_package.AuthenticatedClient(base_url=base, token=made.token) as as_erp:
        months = member_months.sync(member="m-0002", client=as_erp, year=2025)
        bills = billing_month.sync(month="2025-01", client=as_erp, limit=2)
        refused = member_months.sync_detailed(member="m-0099", client=as_erp, year=2025)
    assert isinstance(months, models.MemberMonths), months
    january = months.months[0]
    assert january.month == "2025-01"
    plain = call(base, "GET", "/api/v1/members/m-0002/months?year=2025", admin).json()
    assert january.consumption_kwh == plain["months"][0]["consumption_kwh"] > 0
    assert isinstance(bills, models.BillingPage), bills
    assert [bill.member for bill in bills.members] == ["m-0001", "m-0002"]
    assert bills.next_ == "m-0002"
    assert bills.members[1].total.consumption_kwh is not None
    assert bills.members[1].periods.p1.hours + bills.members[1].periods.p3.hours > 0
    assert refused.status_code == 404
