"""``GET /api/openapi.json``: the API's OpenAPI 3.1 document.

``openapi.json`` beside this file describes the API; the protocol's own schemas (readings,
acknowledgement, results, community state and signal) are added from
``ioe_aggregator.protocol.codec`` when it is served, so that the API and MQTT can never describe
the same message differently.
"""

from __future__ import annotations

import functools
from importlib import resources
import json
from typing import Any

from aiohttp import web

from ioe_aggregator import __version__
from ioe_aggregator.protocol.codec import common_schema, schema
from ioe_aggregator.protocol.messages import MessageKind

routes = web.RouteTableDef()
_COMPONENTS = "#/components/schemas/"
_PROTOCOL = {
    "ReadingsBatch": MessageKind.READINGS,
    "Ack": MessageKind.ACK,
    "Results": MessageKind.RESULTS,
    "CommunityState": MessageKind.COMMUNITY_STATE,
    "Signal": MessageKind.SIGNAL,
}


def _embed(name: str, source: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Add a protocol schema as component ``name``; its ``$defs`` become ``name_<def>``.

    References are rewritten to point into the document: ``#/$defs/x`` to ``name_x`` and
    ``common.v1.json``'s definitions to ``common_<def>``.
    """
    common = f"{common_schema()['$id']}#/$defs/"

    def local(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: rewrite(value) if key == "$ref" else local(value)
                for key, value in node.items()
                if key not in ("$id", "$schema", "$defs")
            }
        if isinstance(node, list):
            return [local(item) for item in node]
        return node

    def rewrite(target: str) -> str:
        if target.startswith(common):
            return f"{_COMPONENTS}common_{target.removeprefix(common)}"
        return f"{_COMPONENTS}{name}_{target.removeprefix('#/$defs/')}"

    schemas[name] = local(source)
    for definition, body in source.get("$defs", {}).items():
        schemas[f"{name}_{definition}"] = local(body)


@functools.cache
def document() -> dict[str, Any]:
    """Return the OpenAPI document, with the running version and the protocol's schemas."""
    text = resources.files(__package__).joinpath("openapi.json").read_text(encoding="utf-8")
    spec: dict[str, Any] = json.loads(text)
    spec["info"]["version"] = __version__
    schemas = spec["components"]["schemas"]
    for name, kind in _PROTOCOL.items():
        _embed(name, schema(kind), schemas)
    for definition, body in common_schema()["$defs"].items():
        schemas[f"common_{definition}"] = body
    return spec


@routes.get("/api/openapi.json")
async def openapi(_request: web.Request) -> web.Response:
    """Return the OpenAPI document (no token needed)."""
    return web.json_response(document())
