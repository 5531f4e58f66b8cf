"""Every request checked against the API's OpenAPI document before a handler sees it.

The document is the contract: a path parameter outside its schema names nothing (404), and a
query parameter or JSON body outside its schema is refused (400), saying which field and what
it expects. Handlers then check only what a schema cannot say (a CUPS's check letters, an end
after the start). The readings batch is not checked here: it is a protocol message, which the
ingest refuses with its own kinds of refusal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
import functools
import re
from typing import Any

from aiohttp import web
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from ioe_aggregator.api import openapi
from ioe_aggregator.api.formats import CHECKER
from ioe_aggregator.api.requests import json_body
from ioe_aggregator.protocol.codec import MAX_INTEGER_DIGITS, SchemaValidator
from ioe_aggregator.refusals import Kind, Refused

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Operations whose handler reads the body as something else than the document's JSON.
OWN_BODY = frozenset({"postReadings"})
_DOCUMENT = "urn:ioe-community:api:openapi"
_INTEGER = re.compile(rf"-?[0-9]{{1,{MAX_INTEGER_DIGITS}}}")
_TYPES = {
    "integer": "a whole number",
    "number": "a number",
    "string": "text",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}
_BOUNDS = (
    ("minimum", "at least"),
    ("exclusiveMinimum", "more than"),
    ("maximum", "at most"),
    ("exclusiveMaximum", "less than"),
)
# A number's unit, from the end of its name (names carry their units: contracted_kw).
_UNITS = {"_kw": " kW", "_days": " days"}


@dataclass(frozen=True, slots=True)
class Parameter:
    """A path or query parameter, with the validator of its schema."""

    name: str
    required: bool
    schema: Mapping[str, Any]
    validator: Any


@dataclass(frozen=True, slots=True)
class Operation:
    """What the document allows in one operation's path, query and JSON body."""

    path: tuple[Parameter, ...]
    query: tuple[Parameter, ...]
    body: Any | None


@functools.cache
def operations() -> dict[tuple[str, str], Operation]:
    """Return each operation of the served document by method and path template."""
    spec = openapi.document()
    registry: Registry = Registry().with_resource(_DOCUMENT, DRAFT202012.create_resource(spec))

    def validator(*pointer: str) -> Any:
        # Each part of the pointer escaped as RFC 6901 says (paths hold "/").
        escaped = "/".join(part.replace("~", "~0").replace("/", "~1") for part in pointer)
        return SchemaValidator(
            {"$ref": f"{_DOCUMENT}#/{escaped}"}, registry=registry, format_checker=CHECKER
        )

    found = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            declared = {
                (parameter["in"], parameter["name"]): Parameter(
                    name=parameter["name"],
                    required=parameter.get("required", False),
                    schema=parameter["schema"],
                    validator=validator("paths", path, *where, "schema"),
                )
                for where, parameter in _parameters(item, method)
            }
            body = None
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content and operation["operationId"] not in OWN_BODY:
                body = validator(
                    "paths", path, method, "requestBody", "content", "application/json", "schema"
                )
            found[method.upper(), path] = Operation(
                path=tuple(p for (place, _), p in declared.items() if place == "path"),
                query=tuple(p for (place, _), p in declared.items() if place == "query"),
                body=body,
            )
    return found


def _parameters(
    item: Mapping[str, Any], method: str
) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """Yield where each parameter of an operation is in its path item, and the parameter.

    The path item's come first, so that the operation's own replace those of the same name.
    """
    for where, listed in (
        (("parameters",), item.get("parameters", [])),
        ((method, "parameters"), item[method].get("parameters", [])),
    ):
        for index, parameter in enumerate(listed):
            yield (*where, str(index)), parameter


@web.middleware
async def validate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a request outside the document: 404 for its path, 400 for its query or body."""
    resource = request.match_info.route.resource
    # aiohttp answers HEAD with the GET handler (without its body): it gets GET's checks.
    method = "GET" if request.method == "HEAD" else request.method
    if resource is None or (operation := operations().get((method, resource.canonical))) is None:
        return await handler(request)
    for parameter in operation.path:
        value = request.match_info[parameter.name]
        if not parameter.validator.is_valid(value):
            raise Refused(Kind.NOT_FOUND, f"no {parameter.name} {value!r}")
    for parameter in operation.query:
        _check_query(parameter, request.query.getall(parameter.name, []))
    if operation.body is not None:
        body = await json_body(request)
        if (error := best_match(operation.body.iter_errors(body))) is not None:
            where = _where(error.absolute_path)
            if error.validator == "required":
                missing = next(n for n in error.validator_value if n not in error.instance)
                raise Refused(Kind.INVALID, _at(where, f"missing field {missing!r}"))
            raise Refused(Kind.INVALID, _at(where, _problem(error, error.instance)))
    return await handler(request)


def _check_query(parameter: Parameter, texts: list[str]) -> None:
    name = parameter.name
    if not texts:
        if parameter.required:
            raise Refused(Kind.INVALID, f"missing query parameter {name!r}")
        return
    if len(texts) > 1:
        raise Refused(Kind.INVALID, f"{name}: give it once, not {len(texts)} times")
    text = texts[0]
    error = best_match(parameter.validator.iter_errors(_read(text, parameter.schema)))
    if error is None:
        return
    if error.validator == "type":
        # On the wire every value is text: say which values it takes rather than which type.
        expected = _values(parameter.schema)
        raise Refused(Kind.INVALID, f"{name}: expected {expected}, got {text!r}")
    raise Refused(Kind.INVALID, _at(name, _problem(error, text)))


def _read(text: str, schema: Mapping[str, Any]) -> Any:
    """Return a query parameter's text as the JSON value it stands for.

    The document's query parameters are text and whole numbers; any other type would need
    reading here too.
    """
    if schema.get("type") == "integer" and _INTEGER.fullmatch(text):
        return int(text)
    return text


def _problem(error: ValidationError, value: Any) -> str:
    """Say, for people, what a value should have been."""
    describe = _PROBLEMS.get(error.validator)
    return (describe(error, value) if describe else None) or error.message


def _format_problem(error: ValidationError, _value: Any) -> str | None:
    return None if error.cause is None else str(error.cause)


def _type_problem(error: ValidationError, value: Any) -> str:
    return f"expected {_types(error.schema['type'])}, got {value!r}"


def _bound_problem(error: ValidationError, value: Any) -> str:
    return f"expected {_range(error.schema)}{_unit(error.absolute_path)}, got {value!r}"


def _enum_problem(error: ValidationError, value: Any) -> str:
    return f"choose one of {_alternatives(map(str, error.schema['enum']))}, got {value!r}"


def _length_problem(error: ValidationError, value: Any) -> str:
    low, high = error.schema.get("minLength", 0), error.schema.get("maxLength")
    length = f"at least {low}" if high is None else f"{low} to {high}"
    return f"expected {length} characters, got {value!r}"


def _extra_problem(error: ValidationError, value: Any) -> str | None:
    if error.schema["additionalProperties"] is not False:
        return None
    known = error.schema.get("properties", {})
    return f"unexpected field {next(name for name in value if name not in known)!r}"


def _one_of_problem(error: ValidationError, _value: Any) -> str | None:
    branches = error.schema["oneOf"]
    if not all(_only_requires(branch) for branch in branches):
        return None
    return f"give exactly one of {_alternatives(n for b in branches for n in b['required'])}"


def _not_problem(error: ValidationError, _value: Any) -> str | None:
    if not _only_requires(forbidden := error.schema["not"]):
        return None
    names = forbidden["required"]
    return f"give {' or '.join(names)}, not {'both' if len(names) == 2 else 'all'}"


_PROBLEMS: dict[str, Callable[[ValidationError, Any], str | None]] = {
    "format": _format_problem,
    "type": _type_problem,
    **dict.fromkeys((bound for bound, _ in _BOUNDS), _bound_problem),
    "enum": _enum_problem,
    "minLength": _length_problem,
    "maxLength": _length_problem,
    "additionalProperties": _extra_problem,
    "oneOf": _one_of_problem,
    "not": _not_problem,
}


def _at(where: str, problem: str) -> str:
    return f"{where}: {problem}" if where else problem


def _where(path: Iterable[str | int]) -> str:
    """Return a place in the body as people write it: ``file.name``, ``items[2]``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".")


def _types(kinds: str | list[str]) -> str:
    return _alternatives(_TYPES[kind] for kind in ([kinds] if isinstance(kinds, str) else kinds))


def _alternatives(words: Iterable[str]) -> str:
    *first, last = words
    return f"{', '.join(first)} or {last}" if first else last


def _values(schema: Mapping[str, Any]) -> str:
    """Describe the values a parameter takes: its choices, its range, or else its type."""
    if "enum" in schema:
        return _alternatives(map(str, schema["enum"]))
    if any(bound in schema for bound, _ in _BOUNDS):
        return _range(schema)
    return _types(schema.get("type", "string"))


def _range(schema: Mapping[str, Any]) -> str:
    if "minimum" in schema and "maximum" in schema:
        return f"{schema['minimum']} to {schema['maximum']}"
    return " and ".join(f"{words} {schema[bound]}" for bound, words in _BOUNDS if bound in schema)


def _unit(path: Iterable[str | int]) -> str:
    name = next((part for part in reversed(list(path)) if isinstance(part, str)), "")
    return next((unit for end, unit in _UNITS.items() if name.endswith(end)), "")


def _only_requires(schema: Any) -> bool:
    return isinstance(schema, dict) and set(schema) == {"required"}
