"""SunSpec devices: find the model chain behind "SunS", then read points as profile registers.

A SunSpec device lists its information models one after another from a base address (40000,
0 or 50000) that starts with the marker "SunS". The point layout of each model comes from the
model definitions shipped in ``pysunspec2`` (read as data, not through its client). A SunSpec
profile names points by model and point name; ``resolve`` turns them into ordinary registers
at the addresses one device's chain puts them. A point may fall back to others, and a point of
a model's repeating group (model 160's MPPT modules) is summed over its repetitions: both
become registers read as parts of the value (see ``Register.fallbacks`` and ``addends``).
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
    SunSpecSetpoint,
    SunSpecSource,
    TestVector,
    WritableRegister,
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


@dataclass(frozen=True, kw_only=True)
class RepeatingGroup:
    """A group of points a model repeats from the end of its fixed points to its own end.

    ``offset`` is where the first repetition starts (from the model's ID register) and
    ``size`` the words of each; the points' offsets are within one repetition.
    """

    offset: int
    size: int
    points: Mapping[str, PointLayout]


@cache
def _definition(model_id: int) -> Mapping[str, Any]:
    path = resources.files("sunspec2") / "models" / "json" / f"model_{model_id}.json"
    try:
        definition: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))["group"]
    except FileNotFoundError:
        raise SunSpecError(f"SunSpec model {model_id} is not defined") from None
    return definition


@cache
def model_layout(model_id: int) -> Mapping[str, PointLayout]:
    """Return the top-level points of a model, by name, from pysunspec2's definition."""
    return _layout(_definition(model_id)["points"])


@cache
def repeating_group(model_id: int, name: str) -> RepeatingGroup:
    """Return the group ``name`` of a model that repeats it to its end (160's ``module``).

    Only a model's one group, with no groups of its own, is read: where it repeats to is then
    where the model ends.
    """
    groups = _definition(model_id).get("groups", [])
    if [group["name"] for group in groups] != [name] or groups[0].get("groups"):
        raise SunSpecError(f"model {model_id} does not repeat a group {name!r} to its end")
    points = _layout(groups[0]["points"])
    return RepeatingGroup(
        offset=sum(point.size for point in model_layout(model_id).values()),
        size=sum(point.size for point in points.values()),
        points=points,
    )


def point_layout(model_id: int, point: str) -> PointLayout:
    """Return a point of a model: ``name``, or ``group.name`` for one of its repeating group."""
    group, _, name = point.rpartition(".")
    layout = repeating_group(model_id, group).points if group else model_layout(model_id)
    if name not in layout:
        raise SunSpecError(f"model {model_id} has no point {point!r}")
    return layout[name]


def _layout(definitions: Iterable[Mapping[str, Any]]) -> dict[str, PointLayout]:
    points: dict[str, PointLayout] = {}
    offset = 0
    for point in definitions:
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
    """Return a point as a register, described as ``template`` says (none: a hidden one)."""
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

    ``models`` maps model ids to the address of their ID register. A point's value comes from
    the first of its sources the device has; points with none are left out. Read only for the
    value, never shown: its other sources (``fallbacks``), the further repetitions of a
    repeating group's point (``addends``), both named ``<key>@<model>.<point>``, and scale
    factors (``<key>_sf``). A point's ``absent`` is what its last source's "not implemented"
    means: the value when no source has one.
    """
    registers: list[Register] = []
    scale_factors: dict[int, Register] = {}
    for point in points:
        sources = [found for source in point.sources if (found := _places(source, models))]
        # Each source the device has, as the registers of its places (one, or a repetition's).
        read: list[list[Register]] = []
        for index, (model, places) in enumerate(sources):
            absent = point.absent if index == len(sources) - 1 else None
            placed: list[Register] = []
            for name, layout, address in places:
                key = f"{point.key}@{model}.{name}" if read or placed else point.key
                register = replace(_register(key, layout, address, point), absent=absent)
                placed.append(_scaled(register, layout, model, models, scale_factors))
            read.append(placed)
        if not read:
            continue
        value, *fallbacks = (
            replace(first, addends=tuple(r.key for r in rest)) for first, *rest in read
        )
        addends = [register for _first, *rest in read for register in rest]
        registers.append(replace(value, fallbacks=tuple(r.key for r in fallbacks)))
        registers.extend(replace(part, enabled_by_default=False) for part in (*fallbacks, *addends))
    return (*registers, *scale_factors.values())


def _places(
    source: SunSpecSource, models: Mapping[int, int]
) -> tuple[int, list[tuple[str, PointLayout, int]]] | None:
    """Return the model a device has a source in and the point's places, or None if nowhere.

    A repeating group's point has a place in each repetition, from the end of the model's fixed
    points to the next model of the chain.
    """
    model = next((m for m in source.models if m in models), None)
    if model is None:
        return None
    start = models[model]
    point = point_layout(model, source.point)
    group_name, _, name = source.point.rpartition(".")
    if not group_name:
        return model, [(name, point, start + point.offset)]
    group = repeating_group(model, group_name)
    following = [address for address in models.values() if address > start]
    count, rest = divmod(min(following, default=start) - start - group.offset, group.size)
    if count <= 0 or rest:
        # No model follows, or the repetitions would not fill the words up to the next model
        # kept (a model the chain repeats comes first): where this one ends is not known.
        return None
    places = [
        (
            f"{group_name}[{n + 1}].{name}",
            point,
            start + group.offset + n * group.size + point.offset,
        )
        for n in range(count)
    ]
    return model, places


def _scaled(
    register: Register,
    point: PointLayout,
    model: int,
    models: Mapping[int, int],
    scale_factors: dict[int, Register],
) -> Register:
    """Return ``register`` with its point's scale factor, added to ``scale_factors`` once."""
    if point.scale_factor is None:
        return register
    if point.scale_factor not in model_layout(model):
        raise SunSpecError(f"model {model} has no scale factor {point.scale_factor!r}")
    sf = model_layout(model)[point.scale_factor]
    address = models[model] + sf.offset
    if address not in scale_factors:
        scale_factors[address] = _register(f"{register.key}_sf", sf, address, None)
    return replace(register, scale_factor=scale_factors[address].key)


def resolve_profile(profile: Profile, models: Mapping[int, int] | None) -> Profile:
    """Return the profile with its SunSpec points as registers of one device's chain."""
    if not profile.sunspec:
        return profile
    if not models:
        raise SunSpecError(f"{profile.id} needs the device's SunSpec models")
    setpoints = [
        placed for setpoint in profile.sunspec_writable if (placed := _place(setpoint, models))
    ]
    return replace(
        profile,
        registers=(*resolve(profile.sunspec, models), *(sf for _, sf in setpoints if sf)),
        writable=(*profile.writable, *(setpoint for setpoint, _ in setpoints)),
    )


def _place(
    setpoint: SunSpecSetpoint, models: Mapping[int, int]
) -> tuple[WritableRegister, Register | None] | None:
    """Return a setpoint at its point in a device's chain, and its scale factor's register.

    None when the device has none of the setpoint's models.
    """
    model = next((m for m in setpoint.models if m in models), None)
    if model is None:
        return None
    point = point_layout(model, setpoint.point)
    placed = replace(
        setpoint.setpoint,
        address=models[model] + point.offset,
        data_type=_TYPES[point.type][0],
    )
    if point.scale_factor is None:
        return placed, None
    sf = model_layout(model)[point.scale_factor]
    register = _register(f"{placed.key}_sf", sf, models[model] + sf.offset, None)
    return replace(placed, scale_factor=register.key), register


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
            for source in point.sources:
                for model in source.models:
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
    "not implemented". A model's repeating group is given by its name, as the list of its
    repetitions' points. Used for test vectors and simulated devices.
    """
    words: dict[int, int] = dict(enumerate(SUNS, start=base))
    address = base + len(SUNS)
    for model_id, values in models:
        layout = model_layout(model_id)
        fixed = {name: value for name, value in values.items() if not isinstance(value, list)}
        length = sum(point.size for point in layout.values()) - 2
        for name, repetitions in values.items():
            if isinstance(repetitions, list):
                group = repeating_group(model_id, name)
                for n, points in enumerate(repetitions):
                    at = address + group.offset + n * group.size
                    _lay(words, group.points, points, at, f"{model_id}.{name}")
                length += len(repetitions) * group.size
        _lay(words, layout, {**fixed, "ID": model_id, "L": length}, address, str(model_id))
        address += 2 + length
    words[address] = END_MODEL
    words[address + 1] = 0
    return words


def _lay(
    words: dict[int, int],
    layout: Mapping[str, PointLayout],
    values: Mapping[str, Any],
    at: int,
    name: str,
) -> None:
    """Write the raw ``values`` of points laid out from ``at`` (a model or a repetition)."""
    if unknown := sorted(set(values) - set(layout)):
        raise SunSpecError(f"model {name} has no points {unknown}")
    for point in layout.values():
        address = at + point.offset
        if point.type not in _TYPES:  # padding and the like
            words.update({address + i: 0 for i in range(point.size)})
            continue
        raw = values.get(point.name)
        if raw is None:
            sentinels = _TYPES[point.type][1]
            # A type without a "not implemented" value: no text, NaN, or a count of none.
            raw = sentinels[0] if sentinels else {"string": "", "float32": "nan"}.get(point.type, 0)
        register = _register(point.name, point, address, None)
        words.update(enumerate(encode(register, raw), start=address))
