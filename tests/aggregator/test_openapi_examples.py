"""The API's document, read strictly: every example is an instance of its own schema.

Examples are what an integrator copies first. Each one in the served document (request bodies,
responses, parameters, components) is checked against the schema beside it with a JSON Schema
2020-12 validator that checks formats too (``date``, ``date-time``: the API's own format
checker), and every new operation of the interconnection has one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator
import pytest

from ioe_aggregator.api.formats import CHECKER
from ioe_aggregator.api.openapi import document

SPEC = document()
METHODS = ("get", "post", "put", "patch", "delete")
# The interconnection's operations (issue 27): each shows an integrator an example answer.
INTEROP = (
    "providerProject", "providerMember", "billingMonth", "billingCsv", "billingJson",
    "listPrices", "postPrices", "syncCommunity", "listWebhooks", "addWebhook",
    "webhookDeliveries", "emoncmsFeeds", "startEmoncmsImport", "emoncmsImports", "emoncmsImport",
)  # fmt: skip


def _examples() -> Iterator[tuple[str, dict[str, Any], Any]]:
    """Yield (where, schema, example) for every example in the document."""
    for path, item in {**SPEC["paths"], **SPEC.get("webhooks", {})}.items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            where = f"{method.upper()} {path}"
            for parameter in [*item.get("parameters", []), *operation.get("parameters", [])]:
                for example in parameter.get("schema", {}).get("examples", []):
                    yield f"{where} {parameter['name']}", parameter["schema"], example
            bodies = {"request": operation.get("requestBody", {}), **operation["responses"]}
            for status, answer in bodies.items():
                for media, content in answer.get("content", {}).items():
                    if "example" in content and "schema" in content:
                        yield f"{where} {status} {media}", content["schema"], content["example"]
    for name, schema in SPEC["components"]["schemas"].items():
        for example in schema.get("examples", []):
            yield f"schema {name}", schema, example


EXAMPLES = list(_examples())


@pytest.mark.parametrize(("where", "schema", "example"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_each_example_is_an_instance_of_its_schema(
    where: str, schema: dict[str, Any], example: Any
) -> None:
    validator = Draft202012Validator({**SPEC, **schema}, format_checker=CHECKER)
    problems = [
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(example)
    ]
    assert problems == [], where


def test_every_interconnection_operation_has_an_example_answer() -> None:
    found = {}
    for item in SPEC["paths"].values():
        for method in METHODS:
            if (operation := item.get(method)) is not None:
                answers = operation["responses"].values()
                found[operation["operationId"]] = any(
                    "example" in content
                    for answer in answers
                    for content in answer.get("content", {}).values()
                )
    assert {name: found.get(name) for name in INTEROP} == dict.fromkeys(INTEROP, True)
