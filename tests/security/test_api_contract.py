"""The API matches its OpenAPI document: schemathesis against the real service.

Every operation of the document the service serves gets a fixed number of generated requests,
valid and invalid ones (positive and negative generation), once with an admin token and once
with a member's. None may end in a 5xx; every answer must be one the document names, with its
content type, headers and body schema; a request the document forbids must be refused, and one
it allows must not be refused as malformed. Seeded and derandomized: every run sends the same
requests.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import schemathesis
from schemathesis import BaseSchema, Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from ioe_aggregator.auth.secrets import split_token
from tests.community import (
    Community,
    StartAggregator,
    batch,
    call,
    module_community,  # noqa: F401 - a fixture
    module_start_aggregator,  # noqa: F401 - a fixture
    start_service,
)

# Every test here talks to the real local servers it starts.
pytestmark = pytest.mark.usefixtures("allow_local_sockets")

# The test calls the API as MEMBER. "0" is the member id generated requests name most often
# (the shortest the pattern allows): registered, they reach a real member, and may rotate or
# revoke it.
MEMBER = "m-0001"
MEMBERS = (MEMBER, "0")
# Per operation and token; the whole test takes about a minute on two CPUs.
MAX_EXAMPLES = 50
SEED = 20261124
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    unsupported_method,
    allow_header_conformance,
]
# Operations that refuse (400) some requests the document allows, for reasons no schema can
# state: valid data may get a 400 there, and only there.
REFUSED_FOR_REASONS_NO_SCHEMA_STATES = {
    "addMember": "a CUPS's check letters",
    "memberReadings": "an end after the start, at most 366 days later",
    "exportMemberReadings": "an end after the start, at most 366 days later",
    "communityKpis": "an end after the start, at most 366 days later",
    "addToken": "an expiry in the future",
    "auditLog": "a cursor the audit log gave",
    "addAgreement": "coefficients of active members summing to 1, a readable file, days in order",
    "endAgreement": "a last day after the first",
    "postReadings": "the protocol's rules beyond its schema: the token's member, whole intervals",
    "importDistributorCsv": "a distributor's file",
    "reconciliation": "real months, at most 36",
    "addUser": "a password of more than a few different characters",
    "changeUser": "a password of more than a few different characters, only for local users",
    "startComparison": "real months in order, at most 36, with history; rules the schemes take",
    "adoptComparison": "a done comparison of that static scheme, a day after the minimum months",
    "agreementCoefficientFile": "a CAU (a valid CUPS, 'A' and three digits)",
    "validateCoefficientFile": "base64, and a file name with its year or the year",
    "completeness": "days in order, at most 366",
    "control": "days in order, at most 366",
    "putDisplayLogo": "a PNG, JPEG or WebP image (its first bytes)",
    "postPrices": "an energy term no larger than the whole price",
    "billingMonth": "a month that has begun",
    "billingCsv": "a month that has begun",
    "billingJson": "a month that has begun",
    "syncCommunity": "CUPS check letters, a table summing to 1, the rules on agreements",
    "addWebhook": "an http(s) address without a user or password in it",
}

# Operations that read the emoncms server (or the files) the request names.
READS_ANOTHER_SERVER = {"emoncmsFeeds", "startEmoncmsImport"}


@dataclass(frozen=True)
class ContractApi:
    """The running service, and the tokens the test calls it with (admin, member)."""

    base: str
    tokens: dict[str, str]

    def own_token_ids(self) -> set[str]:
        """Return the ids of the test's own tokens, which no generated request may revoke."""
        return {split_token(token)[0] for token in self.tokens.values()}  # type: ignore[index]


@pytest.fixture(scope="module")
def contract_api(
    module_community: Community,  # noqa: F811 - the fixture imported above
    module_start_aggregator: StartAggregator,  # noqa: F811
) -> ContractApi:
    """Start one service for the module: its members with a day of readings each, and tokens."""
    tokens = {member: module_community.add_member(member).api_token for member in MEMBERS}
    admin = module_community.token("admin")
    _service, port = start_service(module_community, module_start_aggregator)
    base = f"http://127.0.0.1:{port}"
    for member, token in tokens.items():
        sent = call(base, "POST", "/api/v1/readings", token, batch(member, "b-1", count=96))
        assert sent.status == 200, sent.body
    return ContractApi(base, {"admin": admin, "member": tokens[MEMBER]})


@pytest.fixture(params=["admin", "member"])
def api_schema(
    request: pytest.FixtureRequest, contract_api: ContractApi, allow_local_sockets: None
) -> BaseSchema:
    """Return the document the service serves, to be called with the admin or member token."""
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Bearer {contract_api.tokens[request.param]}"},
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                # The token is the test's: generated ones would only meet the login limits.
                "with-security-parameters": False,
            },
            "operations": [
                {
                    # They read another server, which may not answer (502): the address the
                    # request gives, or files in the add-on's folder (none here: 404).
                    "include-operation-id": sorted(READS_ANOTHER_SERVER),
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "502"]
                        },
                    },
                },
                {
                    "include-operation-id": sorted(REFUSED_FOR_REASONS_NO_SCHEMA_STATES),
                    "checks": {
                        # 304: the billing operations' answer to an If-None-Match it matches
                        # ("*" matches any).
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "304", "400", "401", "403", "404", "409"]
                        }
                    },
                },
            ],
        }
    )
    return schemathesis.openapi.from_url(f"{contract_api.base}/api/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


def _revokes_own_credentials(case: Case, api: ContractApi) -> bool:
    """Whether a case would rotate or revoke the test's own member or tokens.

    The only requests left out: the test would lose the tokens it calls the API with.
    """
    parameters = case.path_parameters or {}
    rotates_or_revokes = case.path.endswith(("/rotate", "/revoke"))
    return rotates_or_revokes and (
        parameters.get("member") == MEMBER or parameters.get("token") in api.own_token_ids()
    )


@schema.parametrize()
def test_the_api_matches_its_document(case: Case, contract_api: ContractApi) -> None:
    if _revokes_own_credentials(case, contract_api):
        return
    checks = CHECKS
    if case.operation.definition.raw.get("operationId") in READS_ANOTHER_SERVER:
        # The generated server does not exist: its 502 is the documented answer.
        checks = [check for check in CHECKS if check is not not_a_server_error]
    case.call_and_validate(checks=checks)
