"""SunSpec devices: find the model chain behind "SunS", then read points as profile registers.

A SunSpec device lists its information models one after another from a base address (40000,
0 or 50000) that starts with the marker "SunS". The point layout of each model comes from the
model definitions shipped in ``pysunspec2`` (read as data, not through its client). A SunSpec
profile names points by model and point name; ``resolve`` turns them into ordinary registers
at the addresses one device's chain puts them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
import json
from typing import Any, Final

from .decode import encode
from .modbus import ExceptionResponseError, ModbusBus
from .profile import (
    DataType,
    Function,
    Profile,
    Register,
    SunSpecPoint,
    TestVector,
    available_profiles,
)

SUNS: Final = (0x5375, 0x6E53)  # "SunS"
BASE_ADDRESSES: Final = (40000, 0, 50000)
END_MODEL: Final = 0xFFFF
MAX_MODELS: Final = 64  # a chain longer than this is not a SunSpec device but garbage

# SunSpec point types → register types and their "not implemented" values (SunSpec spec).
_TYPES: Final[Mapping[str, tuple[DataType, tuple[int, ...]]]] = {
    "uint16": (DataType.U16, (0xFFFF,)),
    "enum16": (DataType.U16, (0xFFFF,)),
    "bitfield16": (DataType.U16, (0xFFFF,)),
    "int16": (DataType.S16, (-0x8000,)),
    "sunssf": (DataType.S16, (-0x8000,)),
    "count": (DataType.U16, ()),
    "acc16": (DataType.U16, (0,)),
    "uint32": (DataType.U32, (0xFFFFFFFF,)),
    "enum32": (DataType.U32, (0xFFFFFFFF,)),
    "bitfield32": (DataType.U32, (0xFFFFFFFF,)),
    "int32": (DataType.S32, (-0x80000000,)),
    "acc32": (DataType.U32, (0,)),
    "uint64": (DataType.U64, (0xFFFFFFFFFFFFFFFF,)),
    "acc64": (DataType.U64, (0,)),
    "int64": (DataType.S64, (-0x8000000000000000,)),
    "float32": (DataType.F32, ()),
    "string": (DataType.STRING, ()),
}

_ACCUMULATORS: Final = frozenset({"acc16", "acc32", "acc64"})


class SunSpecError(ValueError):
    """No SunSpec chain, a broken one, or a point a model does not have."""


@dataclass(frozen=True, kw_only=True)
class PointLayout:
    """Where a point sits in its model (offset from the model's ID register) and its kind."""

    name: str
    offset: int
    size: int
    type: str
    scale_factor: str | None
    symbols: Mapping[int, str] = field(default_factory=dict)


@cache
def model_layout(model_id: int) -> Mapping[str, PointLayout]:
    """Return the top-level points of a model, by name, from pysunspec2's definition."""
    path = resources.files("sunspec2") / "models" / "json" / f"model_{model_id}.json"
    try:
        definition = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SunSpecError(f"SunSpec model {model_id} is not defined") from None
    points: dict[str, PointLayout] = {}
    offset = 0
    for point in definition["group"]["points"]:
        size = int(point["size"])
        points[point["name"]] = PointLayout(
            name=point["name"],
            offset=offset,
            size=size,
            type=point["type"],
            scale_factor=point.get("sf"),
            symbols={int(s["value"]): s["name"].lower() for s in point.get("symbols", ())},
        )
        offset += size
    return points


def _register(
    key: str, point: PointLayout, address: int, template: SunSpecPoint | None
) -> Register:
    data_type, sentinels = _TYPES[point.type]
    if point.type in _ACCUMULATORS:
        # 0 is an accumulator's "not implemented", and also what a counter that never counted
        # holds (a consumer-only home's export): read as 0, never as no value for good.
        sentinels = ()
    return Register(
        key=key,
        address=address,
        function=Function.HOLDING,
        data_type=data_type,
        word_order="big",
        count=point.size,
        scale=template.scale if template else 1.0,
        scale_factor=None,
        unit=template.unit if template else None,
        device_class=template.device_class if template else None,
        state_class=template.state_class if template else None,
        role=template.role if template else None,
        sentinels=sentinels,
        enabled_by_default=template.enabled_by_default if template else False,
        diagnostic=template.diagnostic if template else True,
        options=dict(point.symbols) if point.type.startswith("enum") else {},
        absent=template.absent if template else None,
    )


def resolve(points: Iterable[SunSpecPoint], models: Mapping[int, int]) -> tuple[Register, ...]:
    """Return the registers of ``points`` at the addresses of a device's model chain.

    ``models`` maps model ids to the address of their ID register. Points whose models the
    device lacks are left out; scale factors become hidden registers named ``<key>_sf``.
    """
    registers: list[Register] = []
    scale_factors: dict[int, Register] = {}
    for point in points:
        model = next((m for m in point.models if m in models), None)
        if model is None:
            continue
        layout = model_layout(model)
        if point.point not in layout:
            raise SunSpecError(f"{point.key}: model {model} has no point {point.point!r}")
        found = layout[point.point]
        register = _register(point.key, found, models[model] + found.offset, point)
        if found.scale_factor is not None:
            sf = layout[found.scale_factor]
            address = models[model] + sf.offset
            if address not in scale_factors:
                scale_factors[address] = _register(f"{point.key}_sf", sf, address, None)
            register = _with_scale_factor(register, scale_factors[address].key)
        registers.append(register)
    return (*registers, *scale_factors.values())


def _with_scale_factor(register: Register, key: str) -> Register:
    return replace(register, scale_factor=key)


def resolve_profile(profile: Profile, models: Mapping[int, int] | None) -> Profile:
    """Return the profile with its SunSpec points as registers of one device's chain."""
    if not profile.sunspec:
        return profile
    if not models:
        raise SunSpecError(f"{profile.id} needs the device's SunSpec models")
    return replace(profile, registers=resolve(profile.sunspec, models))


def vector_holding(vector: TestVector) -> dict[int, int]:
    """Return a test vector's holding registers, SunSpec models laid out from 40000."""
    return {**vector.holding, **(image(vector.sunspec) if vector.sunspec else {})}


def preload() -> dict[str, Profile]:
    """Read the profiles and the SunSpec model definitions they use (blocking file reads).

    Run it in an executor before anything resolves a profile on the event loop.
    """
    profiles = available_profiles()
    for profile in profiles.values():
        for point in profile.sunspec:
            for model in point.models:
                model_layout(model)
    return profiles


async def discover(bus: ModbusBus, unit: int) -> dict[int, int]:
    """Read a device's model chain: {model id: address of its ID register}.

    Raises ``SunSpecError`` when there is no chain, ``ModbusError`` when the device does not
    answer. The first model of each id is kept (a second meter is not read).
    """
    for base in BASE_ADDRESSES:
        try:
            marker = await bus.read(Function.HOLDING, base, len(SUNS), unit)
        except ExceptionResponseError:
            continue
        if tuple(marker) != SUNS:
            continue
        models: dict[int, int] = {}
        address = base + len(SUNS)
        for _ in range(MAX_MODELS):
            (model_id,) = await bus.read(Function.HOLDING, address, 1, unit)
            if model_id == END_MODEL:
                if not models:
                    raise SunSpecError(f"the SunSpec chain at {base} is empty")
                return models
            (length,) = await bus.read(Function.HOLDING, address + 1, 1, unit)
            models.setdefault(model_id, address)
            address += 2 + length
        raise SunSpecError(f"no end of the SunSpec chain at {base} after {MAX_MODELS} models")
    raise SunSpecError(f"no SunSpec marker at {', '.join(map(str, BASE_ADDRESSES))}")


def image(models: Iterable[tuple[int, Mapping[str, Any]]], base: int = 40000) -> dict[int, int]:
    """Return the registers of a SunSpec device holding ``models`` (id, {point: raw value}).

    Raw values are what the device sends (before scale factors); points not given read as
    "not implemented". Used for test vectors and simulated devices.
    """
    words: dict[int, int] = dict(enumerate(SUNS, start=base))
    address = base + len(SUNS)
    for model_id, values in models:
        layout = model_layout(model_id)
        length = sum(p.size for p in layout.values()) - 2
        unknown = set(values) - set(layout)
        if unknown:
            raise SunSpecError(f"model {model_id} has no points {sorted(unknown)}")
        for point in layout.values():
            at = address + point.offset
            if point.type not in _TYPES:  # padding and the like
                words.update({at + i: 0 for i in range(point.size)})
                continue
            raw: Any = {"ID": model_id, "L": length}.get(point.name, values.get(point.name))
            if raw is None:
                sentinels = _TYPES[point.type][1]
                raw = sentinels[0] if sentinels else ("" if point.type == "string" else "nan")
            register = _register(point.name, point, at, None)
            words.update(enumerate(encode(register, raw), start=at))
        address += 2 + length
    words[address] = END_MODEL
    words[address + 1] = 0
    return words
