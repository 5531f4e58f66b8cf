"""What-if scenarios: each change by hand, then the agreements judged again on the new history."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from ioe_aggregator.forecast.model import Site
from ioe_aggregator.sharing import scenarios as sc
from ioe_aggregator.sharing.calendar import hours_of_year
from ioe_aggregator.sharing.compare import compare
from ioe_aggregator.sharing.economics import Prices
from ioe_aggregator.sharing.files import Hours
from ioe_aggregator.sharing.profiles import ree_profile, standard_consumption
from ioe_aggregator.sharing.report_html import documents
from ioe_aggregator.sharing.rules import Rules
from ioe_dev.synthetic import cups, make_community

from .conftest import hours, member

TZ = "Europe/Madrid"
SITE = Site(latitude=40.4, longitude=-3.7, altitude=650)


def inputs_of(members: list, consumption: pd.DataFrame, generation: pd.Series, prices=None):
    return sc.Inputs(
        members=tuple(members),
        consumption_kwh=consumption,
        generation_kwh=generation,
        prices=prices,
    )


def test_rees_profile_spreads_the_annual_kwh_and_keeps_the_weekday() -> None:
    same_year = standard_consumption(3500.0, hours_of_year(2025, TZ), TZ)
    expected = ree_profile() * 3500.0
    # The October clock hour that comes twice takes the two's mean.
    twice = same_year.index.tz_convert(TZ).tz_localize(None).duplicated(keep=False)
    assert twice.sum() == 2
    assert same_year[~twice].to_numpy() == pytest.approx(expected[~twice].to_numpy(), rel=1e-12)
    assert same_year[twice].to_numpy() == pytest.approx([expected[twice].mean()] * 2)
    assert same_year.sum() == pytest.approx(3500.0, rel=1e-12)

    later = standard_consumption(3500.0, hours_of_year(2026, TZ), TZ)
    assert later.sum() == pytest.approx(3500.0, rel=0.01)
    local = later.index.tz_convert(TZ)
    # 1 March 2026 is a Sunday: it takes 2 March 2025's hours (a Sunday), not 1 March's.
    sunday = later[local.normalize() == pd.Timestamp("2026-03-01", tz=TZ)].to_numpy()
    profile_local = ree_profile().index.tz_convert(TZ).normalize()
    assert sunday == pytest.approx(
        ree_profile()[profile_local == pd.Timestamp("2025-03-02", tz=TZ)].to_numpy() * 3500.0
    )
    # The year's last day takes a December day of 2025 (not the last value repeated), and a
    # leap year's every hour has a value.
    last = later[local.normalize() == pd.Timestamp("2026-12-31", tz=TZ)]
    assert last.nunique() > 12
    leap = standard_consumption(1.0, hours_of_year(2024, TZ), TZ)
    assert len(leap) == 8784
    assert leap.notna().all()
    # REE's hours are the peninsula's clock: in the Canaries a household lives the same clock
    # hours an hour later in UTC.
    canary = standard_consumption(1.0, hours_of_year(2025, "Atlantic/Canary"), "Atlantic/Canary")
    by_clock = canary.set_axis(canary.index.tz_convert("Atlantic/Canary").tz_localize(None))
    peninsula = same_year.set_axis(same_year.index.tz_convert(TZ).tz_localize(None)) / 3500.0
    day = pd.date_range("2025-01-15", periods=24, freq="h")
    assert by_clock[day].to_numpy() == pytest.approx(peninsula[day].to_numpy())


def test_a_member_joins_with_its_annual_kwh_or_its_history_gaps_filled_by_the_profile() -> None:
    index = hours_of_year(2025, TZ)
    members = [member("a")]
    base = inputs_of(members, pd.DataFrame({"a": 1.0}, index=index), pd.Series(0.5, index=index))
    newcomer = member("n")
    by_kwh = sc.MemberJoins(member=newcomer, annual_kwh=2000.0).apply(base, TZ)
    assert [m.member_id for m in by_kwh.inputs.members] == ["a", "n"]
    assert by_kwh.inputs.consumption_kwh["n"].sum() == pytest.approx(2000.0)
    assert by_kwh.facts["annual_kwh"] == pytest.approx(2000.0)

    # Its history: 0.3 kWh every hour of the first 60 % of the year, nothing after.
    known = int(len(index) * 0.6)
    history = pd.Series(0.3, index=index[:known])
    joined = sc.MemberJoins(member=newcomer, history_kwh=history, source="datadis").apply(base, TZ)
    values = joined.inputs.consumption_kwh["n"]
    assert (values.iloc[:known] == 0.3).all()
    shape = standard_consumption(1.0, index, TZ)
    scale = 0.3 * known / shape.iloc[:known].sum()
    assert values.iloc[known:].to_numpy() == pytest.approx(shape.iloc[known:].to_numpy() * scale)
    assert joined.facts["hours_filled"] == len(index) - known

    # No contracted power given: a typical member's (the median).
    powered = [member("a", power=3.3), member("b", power=4.6), member("c", power=9.9)]
    three = inputs_of(
        powered, pd.DataFrame(1.0, index=index, columns=["a", "b", "c"]), base.generation_kwh
    )
    typical = sc.MemberJoins(member=replace(newcomer, contracted_power_kw=0.0), annual_kwh=100.0)
    joined_three = typical.apply(three, TZ)
    assert joined_three.inputs.members[-1].contracted_power_kw == 4.6
    assert joined_three.facts["contracted_power_kw"] == 4.6

    too_little = sc.MemberJoins(member=newcomer, history_kwh=history.iloc[: len(index) // 3])
    with pytest.raises(ValueError, match=r"covers 33% .* give its annual kWh"):
        too_little.apply(base, TZ)


def test_scenarios_that_cannot_apply_are_all_refused_at_once_before_any_work() -> None:
    a, b = member("a"), member("b")
    index = hours(24)
    base = inputs_of(
        [a, b], pd.DataFrame({"a": 1.0, "b": 1.0}, index=index), pd.Series(1.0, index=index)
    )
    with pytest.raises(ValueError, match="scenario 1") as refused:
        sc.parse(
            [
                {"kind": "nap"},
                {"kind": "battery", "capacity_kwh": "lots", "power_kw": 5, "colour": "red"},
                {"kind": "plant-grows", "added_kwp": 10},
                {"kind": "member-joins", "member_id": "n", "cups": a.cups, "history": "n.csv"},
            ]
        )
    message = str(refused.value)
    for expected in (
        "scenario 1: kind 'nap' is not one of member-joins, member-leaves",
        "scenario 2 (battery): unknown field 'colour'",
        "scenario 2 (battery): capacity_kwh 'lots' is not a int",
        "scenario 3 (plant-grows): plant_kwp is missing",
    ):
        assert expected in message
    # A history file is taken where someone gives files (the command), not elsewhere.
    with pytest.raises(ValueError, match="a history file is not taken here: give annual_kwh"):
        sc.parse([{"kind": "member-joins", "member_id": "n", "cups": a.cups, "history": "x.csv"}])

    asked = sc.parse(
        [
            {"kind": "member-joins", "member_id": "a", "cups": cups(77), "annual_kwh": 100},
            {"kind": "member-joins", "member_id": "n", "cups": b.cups + "1F", "annual_kwh": 100},
            {"kind": "member-joins", "member_id": "m", "cups": "ES00", "annual_kwh": 100},
            {"kind": "member-joins", "member_id": "o", "cups": cups(78)},
            {"kind": "member-leaves", "member_id": "z"},
            {"kind": "prices", "import_factor": 1.1},
            {"kind": "battery", "capacity_kwh": 10, "power_kw": 5, "round_trip_efficiency": 1.5},
            {"kind": "plant-grows", "added_kwp": 5, "plant_kwp": 10, "azimuth": 90},
            {"kind": "member-joins", "member_id": "p", "annual_kwh": 100, "investment_eur": -1},
            {"kind": "member-joins", "member_id": "q", "annual_kwh": 100, "min_share": 0.5,
             "max_share": 0.2},
            {"kind": "prices", "import_factor": float("nan")},
        ]
    )  # fmt: skip
    with pytest.raises(ValueError, match="scenario 1") as refused:
        sc.check(asked, base)
    message = str(refused.value)
    for expected in (
        "scenario 1 (member-joins): member a is already in the community",
        f"scenario 2 (member-joins): the supply point {b.cups}1F is already member b's",
        "scenario 3 (member-joins): member m joining: 'ES00' is not a valid CUPS",
        "scenario 4 (member-joins): member o joining: give its history or its annual kWh",
        "scenario 5 (member-leaves): member z leaving: no such member",
        "scenario 6 (prices): the prices changing: the comparison has no prices; give them",
        "scenario 7 (battery): the battery: its round-trip efficiency must be above 0 and at "
        "most 1",
        "scenario 8 (plant-grows): the plant growing with panels facing otherwise: give the "
        "site's latitude and longitude",
        "scenario 9 (member-joins): member p joining: its contracted power and investment must "
        "be 0 or more",
        "scenario 10 (member-joins): member q joining: its shares must be 0 ≤ min_share ≤ "
        "max_share ≤ 1",
        "scenario 11 (prices): the prices changing: a factor must be 0 or more",
    ):
        assert expected in message


def test_new_panels_facing_as_the_old_scale_the_plant_and_east_facing_ones_rise_early() -> None:
    generation = make_community(2, seed=5).generation_kwh
    same = sc.PlantGrows(added_kwp=5.0, plant_kwp=10.0).added_kwh(generation)
    assert same.to_numpy() == pytest.approx(generation.to_numpy() * 0.5)

    def morning_share(azimuth: float) -> float:
        added = sc.PlantGrows(
            added_kwp=5.0, plant_kwp=10.0, site=SITE, plant_tilt=0.0, tilt=30.0, azimuth=azimuth
        ).added_kwh(generation)
        # Solar noon at 3.7° W is about 12:15 UTC.
        morning = added[added.index.hour < 12].sum()
        return float(morning / added.sum())

    east, south, west = morning_share(90.0), morning_share(180.0), morning_share(270.0)
    assert east > south + 0.15
    assert west < south - 0.15
    # Flat panels to south-facing ones at 30° in central Spain: about 10-15 % more a year.
    flat = sc.PlantGrows(added_kwp=5.0, plant_kwp=10.0, site=SITE, plant_tilt=0.0)
    tilted = replace(flat, tilt=30.0).added_kwh(generation).sum()
    assert 1.05 < tilted / flat.added_kwh(generation).sum() < 1.25


def test_the_battery_stores_the_communitys_spare_sun_within_its_power_and_losses() -> None:
    index = hours(4)
    generation = pd.Series([4.0, 4.0, 0.0, 0.0], index=index)
    consumption = pd.Series([1.0, 1.0, 3.0, 3.0], index=index)
    battery = sc.Battery(capacity_kwh=4.0, power_kw=2.0, round_trip_efficiency=0.81)
    # Charging at 0.9: 2 kWh in (power), 1.8 stored; 2 in, 3.6 stored (the room is 4).
    # Discharging at 0.9: 2 out (power), 3.6 − 2/0.9 left; what remains × 0.9 out.
    left = 3.6 - 2 / 0.9
    assert battery.dispatch(generation, consumption).to_numpy() == pytest.approx(
        [2.0, 2.0, -2.0, -left * 0.9]
    )
    changed = battery.apply(inputs_of([member("a")], consumption.to_frame("a"), generation), TZ)
    assert changed.inputs.generation_kwh.to_numpy() == pytest.approx([2.0, 2.0, 2.0, left * 0.9])
    assert changed.facts["lost_kwh_year"] == pytest.approx((4.0 - 2.0 - left * 0.9) * 8760 / 4)

    rng = np.random.default_rng(3)
    many = hours(2000)
    flows = sc.Battery(capacity_kwh=10.0, power_kw=3.0).dispatch(
        pd.Series(rng.uniform(0, 8, 2000), index=many),
        pd.Series(rng.uniform(0, 8, 2000), index=many),
    )
    assert flows.abs().max() <= 3.0 + 1e-12
    stored = (flows.clip(lower=0) * 0.9**0.5 + flows.clip(upper=0) / 0.9**0.5).cumsum()
    assert stored.min() >= -1e-9
    assert stored.max() <= 10.0 + 1e-9

    # An hour without a value is an hour with nothing made or used: the battery stays bounded.
    gappy = battery.dispatch(
        pd.Series([5.0, np.nan, 0.0, 0.0, 0.0], index=hours(5)),
        pd.Series([1.0, 1.0, np.nan, 3.0, 3.0], index=hours(5)),
    )
    assert np.isfinite(gappy).all()
    assert gappy.to_numpy() == pytest.approx([2.0, -1.0, 0.0, -0.62, 0.0])


def test_prices_twice_as_high_double_the_savings() -> None:
    index = hours(48)
    members = [member("a"), member("b")]
    consumption = pd.DataFrame(
        {"a": np.tile([0.2, 1.5], 24), "b": np.tile([1.0, 0.1], 24)}, index=index
    )
    generation = pd.Series(np.tile([1.0, 1.0], 24), index=index)
    prices = Prices.flat(index, 0.20, 0.05, import_energy_eur_kwh=0.10)
    base = inputs_of(members, consumption, generation, prices)
    doubled = sc.PricesChange(import_factor=2.0, surplus_factor=2.0).apply(base, TZ).inputs
    before = compare(members, consumption, generation, schemes=["equal"], prices=prices)
    after = compare(members, consumption, generation, schemes=["equal"], prices=doubled.prices)
    assert after.results["equal"].savings_eur == pytest.approx(
        2 * before.results["equal"].savings_eur
    )


@pytest.fixture(scope="module")
def community() -> tuple:
    """Six households of a year, one vulnerable, a reserve for it, prices, power in force."""
    made = make_community(6, seed=11)
    members = [replace(m, vulnerable=i == 2) for i, m in enumerate(made.members)]
    index = made.consumption_kwh.index
    prices = Prices.by_period_20td(index, {1: 0.25, 2: 0.15, 3: 0.08}, 0.06, TZ)
    base = compare(
        members,
        made.consumption_kwh,
        made.generation_kwh,
        schemes=["power", "optimized-static", "perfect-foresight"],
        prices=prices,
        rules=Rules(vulnerable_reserve=0.1),
        in_force="power",
    )
    inputs = inputs_of(members, made.consumption_kwh, made.generation_kwh, prices)
    return made, members, base, inputs


def test_each_scenario_judges_the_recommended_agreement_and_the_one_in_force_again(
    community: tuple,
) -> None:
    made, members, base, inputs = community
    asked = [
        sc.PricesChange(),
        sc.MemberLeaves(member_id=members[2].member_id, name="The only vulnerable home leaves"),
        sc.MemberJoins(member=replace(members[0], member_id="new", cups=cups(90)), annual_kwh=4000),
        sc.PlantGrows(added_kwp=made.peak_kw, plant_kwp=made.peak_kw),
    ]
    outcomes = sc.what_if(base, inputs, asked, tz=TZ)
    report = sc.to_report(base, outcomes)
    assert report["schemes"] == ["optimized-static", "power"]
    unchanged, leaves, joins, grows = report["items"]

    # Changing nothing gives the base's figures: the same fit, the same judge.
    for scheme in report["schemes"]:
        assert unchanged["schemes"][scheme]["self_consumed_kwh"] == pytest.approx(
            report["base"][scheme]["self_consumed_kwh"], rel=1e-12
        )
        assert unchanged["schemes"][scheme]["savings_eur"] == pytest.approx(
            report["base"][scheme]["savings_eur"], rel=1e-12
        )
    assert all(abs(m["change_savings_eur"]) < 1e-9 for m in unchanged["members"].values())

    # Without its only vulnerable member the reserve cannot hold: the scenario says so.
    assert leaves["schemes"] is None
    assert "vulnerable" in leaves["error"]
    assert leaves["name"] == "The only vulnerable home leaves"

    # The newcomer has no change (it was not there); the others share the plant with it.
    assert joins["members"]["new"]["change_savings_eur"] is None
    assert joins["facts"]["annual_kwh"] == pytest.approx(4000, rel=0.01)
    others = [m for k, m in joins["members"].items() if k != "new"]
    assert sum(m["change_self_consumed_kwh"] for m in others) < 0

    # Twice the plant: more self-consumed and more saved, under every agreement; the optimum
    # keeps the rules still.
    assert grows["schemes"]["optimized-static"]["keeps_rules"] is True
    for scheme in report["schemes"]:
        assert (
            grows["schemes"][scheme]["self_consumed_kwh"]
            > report["base"][scheme]["self_consumed_kwh"]
        )
        assert grows["schemes"][scheme]["savings_eur"] > report["base"][scheme]["savings_eur"]

    hourly = Hours(
        consumption=made.consumption_kwh,
        generation=made.generation_kwh,
        dropped=0,
        night=0,
        missing={},
    )
    document, html = documents(base, hourly, [], TZ, outcomes)
    assert document["scenarios"]["items"][1]["error"] == leaves["error"]
    assert "¿Y si…?" in html
    assert "What if…?" in html
    assert "The only vulnerable home leaves" in html
    assert "It cannot be:" in html


def test_over_two_years_the_scenarios_read_the_base_fitted_once_with_its_options() -> None:
    made = make_community(4, seed=5, years=2)
    index = made.consumption_kwh.index
    prices = Prices.flat(index, 0.2, 0.05)
    base = compare(
        made.members, made.consumption_kwh, made.generation_kwh,
        schemes=["optimized-hourly", "equal"], prices=prices,
    )  # fmt: skip
    # Re-fitted three times in the judged year; fitted once is the first fit over all of it,
    # as a comparison learning on the training months alone gives it.
    assert len(base.results["optimized-hourly"].coefficients.fit["changes"]) == 3
    once = compare(
        made.members, made.consumption_kwh, made.generation_kwh,
        schemes=["optimized-hourly"], prices=prices,
        train=base.trained_on, evaluate=base.evaluated_on,
    )  # fmt: skip
    fitted_once = base.results["optimized-hourly"].fitted_once
    assert fitted_once is not None
    assert fitted_once.community["self_consumed_kwh"] == pytest.approx(
        once.results["optimized-hourly"].community["self_consumed_kwh"], rel=1e-12
    )
    # Unchanged prices change nothing, optimized-hourly learning with the base's options.
    inputs = inputs_of(made.members, made.consumption_kwh, made.generation_kwh, prices)
    report = sc.to_report(base, sc.what_if(base, inputs, [sc.PricesChange()], tz=TZ))
    assert report["schemes"] == ["optimized-hourly"]
    (item,) = report["items"]
    assert item["schemes"]["optimized-hourly"]["self_consumed_kwh"] == pytest.approx(
        report["base"]["optimized-hourly"]["self_consumed_kwh"], rel=1e-12
    )
