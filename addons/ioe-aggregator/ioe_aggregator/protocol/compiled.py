"""A schema compiled into nested Python checks: the ingest's fast answer to "is it valid?".

jsonschema walks the schema for every value it checks, which made validation more than half
of the ingest's time per batch. The protocol's schemas use a small set of keywords, so each
schema is turned once into closures that only test values. Compilation covers exactly these
keywords (with JSON Schema 2020-12 semantics: a rule about numbers ignores strings, booleans
are not numbers, ``pattern`` searches, and its ``$`` is ECMA-262's); any other keyword makes
``compile_schema`` raise Unsupported, and the caller keeps jsonschema for that schema. The
compiled check only says yes or no: the reason for a no still comes from jsonschema.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import functools
import math
import re
from typing import Any

type Check = Callable[[Any], bool]

# Keywords that say nothing about validity.
_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "format", "examples"})


class Unsupported(ValueError):
    """The schema uses a keyword this compiler does not implement."""


@functools.cache
def ecma_regex(pattern: str) -> re.Pattern[str]:
    r"""Compile a JSON Schema pattern with ECMA-262's meaning of ``$``: the end of the text.

    Python's ``$`` also matches before a final newline, so ``^[a-z]+$`` would accept
    ``"grid\n"``; outside a character class, ``$`` becomes ``\Z`` here.
    """
    out = []
    escaped = in_class = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            out.append(r"\Z")
            continue
        out.append(char)
    return re.compile("".join(out))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "number": _is_number,
    "integer": lambda v: (
        _is_number(v) and (isinstance(v, int) or (math.isfinite(v) and v.is_integer()))
    ),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _all(checks: list[Check]) -> Check:
    """Return a check that passes when every one of ``checks`` does (loops: no generators)."""
    if len(checks) == 1:
        return checks[0]

    def check(value: Any) -> bool:
        for one in checks:  # noqa: SIM110 - a loop costs less than all() on a generator
            if not one(value):
                return False
        return True

    return check


def _any(checks: list[Check]) -> Check:
    """Return a check that passes when at least one of ``checks`` does."""

    def check(value: Any) -> bool:
        for one in checks:  # noqa: SIM110 - a loop costs less than any() on a generator
            if one(value):
                return True
        return False

    return check


def _type(declared: str | list[str]) -> Check:
    if isinstance(declared, str):
        return _TYPES[declared]
    checks = [_TYPES[name] for name in declared]
    return lambda v: any(check(v) for check in checks)


def _strings(values: list[Any]) -> frozenset[str]:
    if not all(isinstance(value, str) for value in values):
        raise Unsupported("const and enum are compiled for strings only")
    return frozenset(values)


def _object(schema: Mapping[str, Any]) -> Check:
    properties = {name: compile_schema(sub) for name, sub in schema.get("properties", {}).items()}
    required = tuple(schema.get("required", ()))
    additional = schema.get("additionalProperties", True)
    if additional not in (True, False):
        raise Unsupported("additionalProperties is compiled as true or false only")
    known = frozenset(properties)

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        if any(name not in value for name in required):
            return False
        if additional is False and not known.issuperset(value):
            return False
        for name, item in value.items():
            if name in properties and not properties[name](item):
                return False
        return True

    return check


def _items(item: Check) -> Check:
    def check(value: Any) -> bool:
        if isinstance(value, list):
            for one in value:
                if not item(one):
                    return False
        return True

    return check


def _one_of(allowed: frozenset[str]) -> Check:
    return lambda v: isinstance(v, str) and v in allowed


def _matches(pattern: re.Pattern[str]) -> Check:
    return lambda v: not isinstance(v, str) or pattern.search(v) is not None


def _number(value: Any) -> float | None:
    return value if _is_number(value) else None


def _string_length(value: Any) -> float | None:
    return len(value) if isinstance(value, str) else None


def _list_length(value: Any) -> float | None:
    return len(value) if isinstance(value, list) else None


def _bounded(limit: float, *, low: bool, measure: Callable[[Any], float | None]) -> Check:
    """Return a check of a lower or upper bound on what ``measure`` gives (None: no rule)."""

    def check(value: Any) -> bool:
        measured = measure(value)
        return measured is None or (measured >= limit if low else measured <= limit)

    return check


def _keyword_checks(schema: Mapping[str, Any]) -> list[Check]:
    checks: list[Check] = []
    for keyword, argument in schema.items():
        if keyword in _ANNOTATIONS or keyword in (
            "properties",
            "required",
            "additionalProperties",
        ):
            continue
        if keyword == "type":
            checks.append(_type(argument))
        elif keyword in ("const", "enum"):
            checks.append(_one_of(_strings([argument] if keyword == "const" else list(argument))))
        elif keyword == "pattern":
            checks.append(_matches(ecma_regex(argument)))
        elif keyword in ("minLength", "maxLength"):
            checks.append(_bounded(argument, low=keyword == "minLength", measure=_string_length))
        elif keyword in ("minimum", "maximum"):
            checks.append(_bounded(argument, low=keyword == "minimum", measure=_number))
        elif keyword in ("minItems", "maxItems"):
            checks.append(_bounded(argument, low=keyword == "minItems", measure=_list_length))
        elif keyword == "items":
            checks.append(_items(compile_schema(argument)))
        elif keyword == "anyOf":
            checks.append(_any([compile_schema(sub) for sub in argument]))
        else:
            raise Unsupported(f"keyword {keyword!r}")
    return checks


def compile_schema(schema: Mapping[str, Any] | bool) -> Check:
    """Return a function telling whether a value fits ``schema`` (its ``$ref``s inlined)."""
    if schema is True:
        return lambda _v: True
    if schema is False:
        return lambda _v: False
    checks = _keyword_checks(schema)
    if {"properties", "required", "additionalProperties"} & set(schema):
        checks.append(_object(schema))
    return _all(checks) if checks else lambda _v: True
