"""What-if scenarios: the same history, changed one way, and the agreements judged again.

A member joins (with its own hourly history, or REE's profile for its annual kWh), a member
leaves, the plant grows (pvlib: the new panels' orientation against the plant's), a community
battery is added (a simple dispatch within its power, capacity and losses), or prices change.

Each scenario changes the comparison's inputs (`Inputs`) and runs the recommended agreement and
the one in force again: fitted once on the training period (with the options the base's fit
chose) and judged on the evaluated one, as the base is read here (a learning scheme re-fitted
every four months is read fitted once), so that every change is against the same method. The
scenario's rules are the community's: a rule that can no longer hold (the only vulnerable
member leaves the reserve without anyone) is the scenario's answer, not a failure of the
report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
import math
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd
from pvlib.irradiance import get_total_irradiance
from pvlib.location import Location
from stdnum.es import cups as stdnum_cups

from ioe_aggregator.distributor.rows import supply_point
from ioe_aggregator.forecast.model import Array, Site
from ioe_aggregator.sharing import schemes as sch
from ioe_aggregator.sharing.compare import Comparison, Judged, compare
from ioe_aggregator.sharing.economics import Prices
from ioe_aggregator.sharing.files import InputError
from ioe_aggregator.sharing.model import Member
from ioe_aggregator.sharing.profiles import standard_consumption

# A joining member's history must cover this share of the community's hours; the rest is
# filled with REE's profile scaled to what the history holds.
MIN_HISTORY_COVERAGE = 0.5
# Below this clear-sky irradiance on the plant's panels (W/m²) an hour's own clear-sky index
# means little (dawn, dusk): the day's is used.
MIN_CLEAR_SKY_POA_W_M2 = 50.0
# The highest clear-sky index believed (cloud enhancement, a plant a little larger than said).
MAX_CLEAR_SKY_INDEX = 1.5
HOURS_PER_YEAR = 8760.0


@dataclass(frozen=True, kw_only=True)
class Inputs:
    """What a comparison is run on: members, their hourly kWh, the plant's, the prices."""

    members: tuple[Member, ...]
    consumption_kwh: pd.DataFrame
    generation_kwh: pd.Series
    prices: Prices | None = None

    def per_year(self, kwh: float) -> float:
        """Return ``kwh`` over the inputs' hours as kWh a year."""
        return kwh * HOURS_PER_YEAR / len(self.consumption_kwh.index)


@dataclass(frozen=True, kw_only=True)
class Changed:
    """A scenario's inputs, and figures that say what the change was (``facts``)."""

    inputs: Inputs
    facts: dict[str, float] = field(default_factory=dict)


class Scenario(Protocol):
    """One change to the comparison's inputs."""

    kind: ClassVar[str]

    @property
    def name(self) -> str:
        """The name the scenario was given ("" when none)."""

    def check(self, inputs: Inputs) -> None:
        """Raise ``ValueError`` when the scenario cannot apply to ``inputs``, before any work."""

    def apply(self, inputs: Inputs, tz: str) -> Changed:
        """Return the inputs changed."""

    def asked(self) -> dict[str, Any]:
        """Return what was asked, for report.json."""


@dataclass(frozen=True, kw_only=True)
class MemberJoins:
    """A member joins, with its hourly history (kWh, UTC hours) or its annual kWh.

    ``source`` says where the history came from (the report repeats it). Hours the history does
    not cover are filled with REE's profile scaled to the history's own consumption. A
    contracted power of 0 (not given) is taken as the members' median.
    """

    kind: ClassVar[str] = "member-joins"
    member: Member
    history_kwh: pd.Series | None = None
    annual_kwh: float | None = None
    source: str = "history"
    name: str = ""

    def check(self, inputs: Inputs) -> None:
        """Refuse a member already there, a wrong CUPS or figure, no consumption (or two)."""
        joining = f"member {self.member.member_id} joining"
        if (self.history_kwh is None) == (self.annual_kwh is None):
            raise ValueError(f"{joining}: give its history or its annual kWh")
        if self.annual_kwh is not None and not 0 < self.annual_kwh < math.inf:
            raise ValueError(f"{joining}: its annual kWh must be above 0")
        own = self.member
        if not (0 <= own.contracted_power_kw < math.inf and 0 <= own.investment_eur < math.inf):
            raise ValueError(f"{joining}: its contracted power and investment must be 0 or more")
        if not 0 <= own.min_share <= own.max_share <= 1:
            raise ValueError(f"{joining}: its shares must be 0 ≤ min_share ≤ max_share ≤ 1")
        # A household thinking of joining may not have given its supply point yet.
        if self.member.cups and not stdnum_cups.is_valid(self.member.cups):
            raise ValueError(
                f"member {self.member.member_id} joining: {self.member.cups!r} is not a valid CUPS"
            )
        for member in inputs.members:
            if member.member_id == self.member.member_id:
                raise ValueError(f"member {member.member_id} is already in the community")
            if self.member.cups and supply_point(member.cups) == supply_point(self.member.cups):
                raise ValueError(
                    f"the supply point {self.member.cups} is already member {member.member_id}'s"
                )

    def apply(self, inputs: Inputs, tz: str) -> Changed:
        """Add the member and its consumption."""
        index = inputs.consumption_kwh.index
        facts: dict[str, float] = {}
        if self.history_kwh is None:
            values = standard_consumption(float(self.annual_kwh or 0.0), index, tz)
        else:
            history = self.history_kwh.reindex(index)
            known = history.notna().to_numpy()
            if known.mean() < MIN_HISTORY_COVERAGE:
                raise ValueError(
                    f"member {self.member.member_id} joining: its history covers "
                    f"{known.mean():.0%} of the community's hours; it needs "
                    f"{MIN_HISTORY_COVERAGE:.0%}, or give its annual kWh instead"
                )
            shape = standard_consumption(1.0, index, tz)
            scale = float(history[known].sum() / shape[known].sum())
            values = history.fillna(shape * scale)
            facts["hours_filled"] = float((~known).sum())
        # As asked; from a history, its own level over the hours compared.
        facts["annual_kwh"] = self.annual_kwh or inputs.per_year(float(values.sum()))
        consumption = inputs.consumption_kwh.assign(**{self.member.member_id: values.to_numpy()})
        member = self.member
        if not member.contracted_power_kw:
            # Not given: a typical member's.
            typical = float(np.median([m.contracted_power_kw for m in inputs.members]))
            member = replace(member, contracted_power_kw=typical)
            facts["contracted_power_kw"] = typical
        return Changed(
            inputs=replace(inputs, members=(*inputs.members, member), consumption_kwh=consumption),
            facts=facts,
        )

    def asked(self) -> dict[str, Any]:
        """Return the member and where its consumption came from."""
        return {
            "member_id": self.member.member_id,
            "source": "ree-profile" if self.annual_kwh is not None else self.source,
            "annual_kwh": self.annual_kwh,
            "investment_eur": self.member.investment_eur,
            "vulnerable": self.member.vulnerable,
        }


@dataclass(frozen=True, kw_only=True)
class MemberLeaves:
    """A member leaves: its consumption and its share go."""

    kind: ClassVar[str] = "member-leaves"
    member_id: str
    name: str = ""

    def check(self, inputs: Inputs) -> None:
        """Refuse a member not there, or the last one."""
        ids = [m.member_id for m in inputs.members]
        if self.member_id not in ids:
            raise ValueError(f"member {self.member_id} leaving: no such member")
        if len(ids) == 1:
            raise ValueError(f"member {self.member_id} leaving: it is the only member")

    def apply(self, inputs: Inputs, tz: str) -> Changed:
        """Take the member and its consumption out."""
        leaving = inputs.consumption_kwh[self.member_id].sum()
        return Changed(
            inputs=replace(
                inputs,
                members=tuple(m for m in inputs.members if m.member_id != self.member_id),
                consumption_kwh=inputs.consumption_kwh.drop(columns=self.member_id),
            ),
            facts={"annual_kwh": inputs.per_year(float(leaving))},
        )

    def asked(self) -> dict[str, Any]:
        """Return who leaves."""
        return {"member_id": self.member_id}


@dataclass(frozen=True, kw_only=True)
class PlantGrows:
    """The plant grows by ``added_kwp``, its new panels facing ``tilt``/``azimuth``.

    The plant's measured output is the weather: each hour's clear-sky index (its output over
    what ``plant_kwp`` facing ``plant_tilt``/``plant_azimuth`` would give under a clear sky,
    pvlib's Ineichen model at ``site``) is applied to the new panels' clear-sky irradiance.
    New panels facing as the old ones simply scale the measured output. Azimuth in degrees
    from north (180: south), tilt from horizontal.
    """

    kind: ClassVar[str] = "plant-grows"
    added_kwp: float
    plant_kwp: float
    site: Site | None = None
    plant_tilt: float = 30.0
    plant_azimuth: float = 180.0
    tilt: float | None = None
    azimuth: float | None = None
    name: str = ""

    @property
    def same_orientation(self) -> bool:
        """Whether the new panels face as the plant's do."""
        return (self.tilt is None or self.tilt == self.plant_tilt) and (
            self.azimuth is None or self.azimuth == self.plant_azimuth
        )

    @property
    def placed(self) -> bool:
        """Whether the new panels can be worked out: facing as the plant's, or the site known."""
        return self.same_orientation or self.site is not None

    def check(self, inputs: Inputs) -> None:
        """Refuse sizes and angles that cannot be, and other panels without the site."""
        if not (0 < self.added_kwp < math.inf and 0 < self.plant_kwp < math.inf):
            raise ValueError("the plant growing: its power and what is added must be above 0 kWp")
        for angle in (self.plant_tilt, self.tilt):
            if angle is not None and not 0 <= angle <= 90:
                raise ValueError(f"the plant growing: a tilt of {angle}° is not 0-90°")
        for angle in (self.plant_azimuth, self.azimuth):
            if angle is not None and not 0 <= angle <= 360:
                raise ValueError(f"the plant growing: an azimuth of {angle}° is not 0-360°")
        if not self.placed:
            raise ValueError(
                "the plant growing with panels facing otherwise: give the site's latitude "
                "and longitude"
            )

    def added_kwh(self, generation_kwh: pd.Series) -> pd.Series:
        """Return what the new panels make each hour of ``generation_kwh``'s."""
        scale = self.added_kwp / self.plant_kwp
        if self.same_orientation or self.site is None:
            return generation_kwh * scale
        hours = pd.DatetimeIndex(generation_kwh.index).tz_convert("UTC")
        middle = hours + pd.Timedelta(minutes=30)
        location = Location(
            self.site.latitude, self.site.longitude, tz="UTC", altitude=self.site.altitude
        )
        sky = location.get_clearsky(middle, model="ineichen")
        sun = location.get_solarposition(middle)

        def on_panels(tilt: float, azimuth: float) -> Array:
            poa = get_total_irradiance(
                tilt, azimuth, sun["apparent_zenith"], sun["azimuth"],
                sky["dni"], sky["ghi"], sky["dhi"],
            )["poa_global"]  # fmt: skip
            values: Array = np.nan_to_num(poa.to_numpy(dtype=float)).clip(min=0.0)
            return values

        old = on_panels(self.plant_tilt, self.plant_azimuth)
        new = on_panels(
            self.plant_tilt if self.tilt is None else self.tilt,
            self.plant_azimuth if self.azimuth is None else self.azimuth,
        )
        measured = generation_kwh.to_numpy(dtype=float)
        clear_kwh = self.plant_kwp * old / 1000.0
        days = hours.floor("D")
        daily = (
            pd.Series(measured).groupby(days).transform("sum")
            / pd.Series(clear_kwh).groupby(days).transform("sum")
        ).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            own = measured / clear_kwh
        index = np.where(old >= MIN_CLEAR_SKY_POA_W_M2, own, daily)
        index = np.nan_to_num(index).clip(0.0, MAX_CLEAR_SKY_INDEX)
        return pd.Series(self.added_kwp * new / 1000.0 * index, index=generation_kwh.index)

    def apply(self, inputs: Inputs, tz: str) -> Changed:
        """Add the new panels' output to the plant's."""
        added = self.added_kwh(inputs.generation_kwh)
        return Changed(
            inputs=replace(inputs, generation_kwh=inputs.generation_kwh + added),
            facts={
                "added_kwh_year": inputs.per_year(float(added.sum())),
                "added_kwh_per_kwp_year": inputs.per_year(float(added.sum())) / self.added_kwp,
            },
        )

    def asked(self) -> dict[str, Any]:
        """Return the sizes and angles."""
        return {
            "added_kwp": self.added_kwp,
            "plant_kwp": self.plant_kwp,
            "tilt": self.plant_tilt if self.tilt is None else self.tilt,
            "azimuth": self.plant_azimuth if self.azimuth is None else self.azimuth,
        }


@dataclass(frozen=True, kw_only=True)
class Battery:
    """A community battery at the plant: it stores the sun the community does not use.

    Each hour, the plant's output above the community's whole consumption charges it, within
    ``power_kw`` and the room left of ``capacity_kwh``; when the community uses more than the
    plant makes, it gives back what it holds, within ``power_kw``. Of what goes through it,
    ``round_trip_efficiency`` comes back (half the losses charging, half discharging). It
    starts empty. What it gives back is shared by the agreement as the plant's output is.
    """

    kind: ClassVar[str] = "battery"
    capacity_kwh: float
    power_kw: float
    round_trip_efficiency: float = 0.9
    name: str = ""

    def check(self, inputs: Inputs) -> None:
        """Refuse sizes and efficiencies that cannot be."""
        if not (0 < self.capacity_kwh < math.inf and 0 < self.power_kw < math.inf):
            raise ValueError("the battery: its capacity and power must be above 0")
        if not 0 < self.round_trip_efficiency <= 1:
            raise ValueError("the battery: its round-trip efficiency must be above 0 and at most 1")

    def dispatch(self, generation_kwh: pd.Series, consumption_kwh: pd.Series) -> pd.Series:
        """Return the energy into (+) and out of (−) the battery each hour, at the plant's side.

        On ``consumption_kwh``'s hours.
        """
        step = math.sqrt(self.round_trip_efficiency)
        # An hour without a value counts as none made or used (the battery never sees a NaN).
        made = generation_kwh.reindex(consumption_kwh.index).fillna(0.0)
        spare = (made - consumption_kwh.fillna(0.0)).to_numpy(dtype=float).tolist()
        flows = []
        stored = 0.0
        for balance in spare:
            if balance > 0:
                into = min(balance, self.power_kw, (self.capacity_kwh - stored) / step)
                stored += into * step
                flows.append(into)
            else:
                out = min(-balance, self.power_kw, stored * step)
                stored -= out / step
                flows.append(-out)
        return pd.Series(flows, index=consumption_kwh.index)

    def apply(self, inputs: Inputs, tz: str) -> Changed:
        """Take the charge from the plant's output and add the discharge to it."""
        flows = self.dispatch(inputs.generation_kwh, inputs.consumption_kwh.sum(axis=1))
        charged = float(flows.clip(lower=0.0).sum())
        discharged = float(-flows.clip(upper=0.0).sum())
        return Changed(
            inputs=replace(
                inputs,
                generation_kwh=(inputs.generation_kwh - flows.reindex_like(inputs.generation_kwh))
                .fillna(inputs.generation_kwh)
                .clip(lower=0.0),
            ),
            facts={
                "charged_kwh_year": inputs.per_year(charged),
                "discharged_kwh_year": inputs.per_year(discharged),
                "lost_kwh_year": inputs.per_year(charged - discharged),
                "cycles_year": inputs.per_year(discharged) / self.capacity_kwh,
            },
        )

    def asked(self) -> dict[str, Any]:
        """Return the battery's size and efficiency."""
        return {
            "capacity_kwh": self.capacity_kwh,
            "power_kw": self.power_kw,
            "round_trip_efficiency": self.round_trip_efficiency,
        }


@dataclass(frozen=True, kw_only=True)
class PricesChange:
    """Prices change: imports (and their energy term) by one factor, surplus by another."""

    kind: ClassVar[str] = "prices"
    import_factor: float = 1.0
    surplus_factor: float = 1.0
    name: str = ""

    def check(self, inputs: Inputs) -> None:
        """Refuse negative factors, and a comparison without prices."""
        if not (0 <= self.import_factor < math.inf and 0 <= self.surplus_factor < math.inf):
            raise ValueError("the prices changing: a factor must be 0 or more")
        if inputs.prices is None:
            raise ValueError("the prices changing: the comparison has no prices; give them")

    def apply(self, inputs: Inputs, tz: str) -> Changed:
        """Scale the prices."""
        prices = inputs.prices
        if prices is None:  # check() refused it
            raise ValueError("the prices changing: the comparison has no prices")
        energy = prices.import_energy_eur_kwh
        changed = Prices(
            import_eur_kwh=prices.import_eur_kwh * self.import_factor,
            surplus_eur_kwh=prices.surplus_eur_kwh * self.surplus_factor,
            import_energy_eur_kwh=None if energy is None else energy * self.import_factor,
        )
        return Changed(inputs=replace(inputs, prices=changed))

    def asked(self) -> dict[str, Any]:
        """Return the factors."""
        return {"import_factor": self.import_factor, "surplus_factor": self.surplus_factor}


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """A scenario's figures, or why its agreements could not be made.

    ``schemes``: by agreement judged, the community's figures and whether it keeps the rules;
    ``members``: the recommended agreement's figures by member (only these are kept of the
    scenario's comparison: hundreds of members' hours, five times over, weigh).
    """

    scenario: Scenario
    facts: Mapping[str, float]
    schemes: Mapping[str, Mapping[str, Any]] | None = None
    members: pd.DataFrame | None = None
    error: str | None = None


def judged_schemes(base: Comparison) -> list[str]:
    """Return the agreements the scenarios judge again: the recommended one, the one in force."""
    chosen = base.recommendation().scheme or next(
        (s for s in base.ranking() if s not in sch.REFERENCE_SCHEMES), None
    )
    if chosen is None:
        raise ValueError(
            "the scenarios judge an agreement: compare at least one besides the reference"
        )
    return list(dict.fromkeys([chosen] + ([base.in_force] if base.in_force else [])))


def check(scenarios: Sequence[Scenario], inputs: Inputs) -> None:
    """Refuse, before any work, every scenario that cannot apply, naming them all."""
    problems = []
    for number, scenario in enumerate(scenarios, start=1):
        try:
            scenario.check(inputs)
        except ValueError as err:
            problems.append(f"scenario {number} ({scenario.kind}): {err}")
    if problems:
        raise ValueError("; ".join(problems))


def what_if(
    base: Comparison, inputs: Inputs, scenarios: Sequence[Scenario], *, tz: str
) -> list[Outcome]:
    """Run each scenario on the base comparison's periods, rules and decision."""
    check(scenarios, inputs)
    schemes = judged_schemes(base)
    # Each agreement learns again from the scenario's data, with the options its base fit chose
    # (what cross-validation picked is a choice about the community, not a figure to re-make).
    options = {s: fit for s in schemes if (fit := _fitted_once(base, s).coefficients.fit)}
    outcomes = []
    for scenario in scenarios:
        try:
            changed = scenario.apply(inputs, tz)
        except ValueError as err:
            outcomes.append(Outcome(scenario=scenario, facts={}, error=str(err)))
            continue
        try:
            comparison = compare(
                changed.inputs.members,
                changed.inputs.consumption_kwh,
                changed.inputs.generation_kwh,
                schemes=schemes,
                train=base.trained_on,
                evaluate=base.evaluated_on,
                prices=changed.inputs.prices,
                tz=tz,
                rules=base.rules,
                in_force=base.in_force,
                options=options,
            )
        except ValueError as err:  # Infeasible: the rules cannot hold in the scenario
            outcomes.append(Outcome(scenario=scenario, facts=changed.facts, error=str(err)))
            continue
        outcomes.append(
            Outcome(
                scenario=scenario,
                facts=changed.facts,
                schemes={
                    s: _figures(comparison, s) | {"keeps_rules": not comparison.rules_broken(s)}
                    for s in schemes
                },
                members=_by_member(_fitted_once(comparison, schemes[0])),
            )
        )
    return outcomes


def _fitted_once(comparison: Comparison, scheme: str) -> Judged:
    result = comparison.results[scheme]
    return result.fitted_once or result


def _by_member(judged: Judged) -> pd.DataFrame:
    figures = judged.members[["self_consumed_kwh"]].copy()
    if judged.economics is not None:
        figures["savings_eur"] = judged.economics.groupby("member_id").savings_eur.sum()
    return figures


def _figures(comparison: Comparison, scheme: str) -> dict[str, float | None]:
    judged = _fitted_once(comparison, scheme)
    return {
        "self_consumed_kwh": judged.community["self_consumed_kwh"],
        "self_sufficiency": judged.community["self_sufficiency"],
        "savings_eur": judged.savings_eur,
    }


def to_report(base: Comparison, outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Return report.json's ``scenarios``: each one's figures against the base's, fitted once.

    ``members`` (the recommended agreement's, per member) holds the change for those in both.
    """
    schemes = judged_schemes(base)
    before = _by_member(_fitted_once(base, schemes[0]))
    items = []
    for outcome in outcomes:
        item: dict[str, Any] = {
            "kind": outcome.scenario.kind,
            "name": outcome.scenario.name,
            "asked": outcome.scenario.asked(),
            "facts": dict(outcome.facts),
            "error": outcome.error,
            "schemes": None,
            "members": None,
        }
        if outcome.schemes is not None and (after := outcome.members) is not None:
            item["schemes"] = {s: dict(figures) for s, figures in outcome.schemes.items()}
            change = (after - before).add_prefix("change_")
            item["members"] = {
                member_id: {key: _number(value) for key, value in row.items()}
                for member_id, row in after.join(change).to_dict("index").items()
            }
        items.append(item)
    return {
        "schemes": schemes,
        "fitted": "once",
        "base": {s: _figures(base, s) for s in schemes},
        "items": items,
    }


def _number(value: Any) -> float | None:
    return (
        None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
    )


# Each kind's fields in a scenarios document: name → (type, required). "name" is every kind's.
_NUMBER = (int, float)
FIELDS: Mapping[str, Mapping[str, tuple[tuple[type, ...], bool]]] = {
    MemberJoins.kind: {
        "member_id": ((str,), True),
        "cups": ((str,), False),
        "contracted_power_kw": (_NUMBER, False),
        "investment_eur": (_NUMBER, False),
        "vulnerable": ((bool,), False),
        "min_share": (_NUMBER, False),
        "max_share": (_NUMBER, False),
        "annual_kwh": (_NUMBER, False),
        "history": ((str,), False),
    },
    MemberLeaves.kind: {"member_id": ((str,), True)},
    PlantGrows.kind: {
        "added_kwp": (_NUMBER, True),
        "plant_kwp": (_NUMBER, True),
        "plant_tilt": (_NUMBER, False),
        "plant_azimuth": (_NUMBER, False),
        "tilt": (_NUMBER, False),
        "azimuth": (_NUMBER, False),
        "latitude": (_NUMBER, False),
        "longitude": (_NUMBER, False),
        "altitude": (_NUMBER, False),
    },
    Battery.kind: {
        "capacity_kwh": (_NUMBER, True),
        "power_kw": (_NUMBER, True),
        "round_trip_efficiency": (_NUMBER, False),
    },
    PricesChange.kind: {"import_factor": (_NUMBER, False), "surplus_factor": (_NUMBER, False)},
}
MAX_SCENARIOS = 12
# A joining member's investment, as the members file gives it (euros).
INVESTMENT = "investment_eur"


class History(Protocol):
    """Read a joining member's hourly history from where the document names it."""

    def __call__(self, member: Member, where: str) -> tuple[pd.Series, str]:
        """Return the kWh by UTC hour and the source's name (``"datadis"``, ``"history"``)."""


def _problems(number: int, item: Any, investment: str) -> list[str]:
    where = f"scenario {number}"
    if not isinstance(item, Mapping):
        return [f"{where}: not an object"]
    kind = item.get("kind")
    if not isinstance(kind, str) or kind not in FIELDS:
        return [f"{where}: kind {kind!r} is not one of {', '.join(FIELDS)}"]
    fields = {investment if key == INVESTMENT else key: spec for key, spec in FIELDS[kind].items()}
    problems = [
        f"{where} ({kind}): unknown field {key!r}"
        for key in item
        if key not in fields and key not in ("kind", "name")
    ]
    for key, (types, required) in fields.items():
        value = item.get(key)
        if value is None:
            if required:
                problems.append(f"{where} ({kind}): {key} is missing")
        elif not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            problems.append(f"{where} ({kind}): {key} {value!r} is not a {types[0].__name__}")
    if not isinstance(item.get("name", ""), str):
        problems.append(f"{where} ({kind}): name is not text")
    return problems


def parse(
    document: Any,
    *,
    history: History | None = None,
    site: Site | None = None,
    investment: str = INVESTMENT,
) -> list[Scenario]:
    """Return the scenarios a document (a list of objects, each with its ``kind``) asks for.

    ``history`` reads a joining member's ``history`` (None: only ``annual_kwh`` is taken);
    ``site`` is the plant's, when a scenario does not give its latitude and longitude;
    ``investment`` names the field of a joining member's investment (the add-on's registry
    keeps a share of it, ``investment_share``, where files give euros). Every problem is named
    at once (``ValueError``).
    """
    if not isinstance(document, list):
        raise ValueError("the scenarios are a list of objects, each with its kind")  # noqa: TRY004 - bad input, as every other problem
    if len(document) > MAX_SCENARIOS:
        raise ValueError(f"{len(document)} scenarios: at most {MAX_SCENARIOS} at once")
    problems = [
        problem
        for number, item in enumerate(document, start=1)
        for problem in _problems(number, item, investment)
    ]
    if problems:
        raise ValueError("; ".join(problems))
    scenarios = []
    for number, item in enumerate(document, start=1):
        where = f"scenario {number} ({item['kind']})"
        try:
            scenarios.append(_scenario(item, history=history, site=site, investment=investment))
        except InputError as err:  # a history file's, each with its line
            problems.extend(f"{where}: {problem}" for problem in err.problems)
        except ValueError as err:
            problems.append(f"{where}: {err}")
    if problems:
        raise ValueError("; ".join(problems))
    return scenarios


def _scenario(
    item: Mapping[str, Any], *, history: History | None, site: Site | None, investment: str
) -> Scenario:
    kind, name = item["kind"], item.get("name", "")
    given = {key: value for key, value in item.items() if key not in ("kind", "name")}
    if kind == MemberJoins.kind:
        member = Member(
            member_id=given["member_id"],
            cups=given.get("cups", ""),
            contracted_power_kw=float(given.get("contracted_power_kw", 0.0)),
            investment_eur=float(given.get(investment, 0.0)),
            vulnerable=bool(given.get("vulnerable", False)),
            min_share=float(given.get("min_share", 0.0)),
            max_share=float(given.get("max_share", 1.0)),
        )
        if "history" in given:
            if history is None:
                raise ValueError("a history file is not taken here: give annual_kwh")
            series, source = history(member, given["history"])
            return MemberJoins(member=member, history_kwh=series, source=source, name=name)
        return MemberJoins(member=member, annual_kwh=given.get("annual_kwh"), name=name)
    if kind == MemberLeaves.kind:
        return MemberLeaves(member_id=given["member_id"], name=name)
    if kind == PlantGrows.kind:
        if ("latitude" in given) != ("longitude" in given):
            raise ValueError("latitude and longitude go together")
        place = (
            Site(given["latitude"], given["longitude"], float(given.get("altitude", 0.0)))
            if "latitude" in given
            else site
        )
        angles = {k: float(v) for k, v in given.items() if k.endswith(("tilt", "azimuth"))}
        return PlantGrows(
            added_kwp=float(given["added_kwp"]),
            plant_kwp=float(given["plant_kwp"]),
            site=place,
            name=name,
            **angles,
        )
    if kind == Battery.kind:
        return Battery(**{k: float(v) for k, v in given.items()}, name=name)
    return PricesChange(**{k: float(v) for k, v in given.items()}, name=name)
