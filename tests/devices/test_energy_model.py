"""The home's energy model: what each device's values mean for the home, and the balance."""

from __future__ import annotations

import pytest

from custom_components.ioe_community.devices.energy_model import (
    EnergyModel,
    Estimate,
    Term,
    home_quantity,
    is_plain_meter,
    reverse_power,
)
from custom_components.ioe_community.devices.mqtt_meter import QUANTITIES
from custom_components.ioe_community.devices.profile import available_profiles


@pytest.mark.parametrize(
    ("device_role", "value_role", "expected"),
    [
        ("grid_meter", "grid_import_energy", ("grid_import_energy", 1)),
        ("grid_meter", "grid_power", ("grid_power", 1)),
        # A meter on the inverter: what it exports is generation, its power runs backwards.
        ("pv", "grid_export_energy", ("pv_energy", 1)),
        ("pv", "grid_power", ("pv_power", -1)),
        ("pv", "grid_import_energy", None),
        ("battery", "grid_import_energy", ("battery_charge_energy", 1)),
        ("battery", "grid_export_energy", ("battery_discharge_energy", 1)),
        ("ev_charger", "grid_import_energy", ("ev_energy", 1)),
        ("ev_charger", "grid_power", ("ev_power", 1)),
        ("plant", "grid_export_energy", ("plant_energy", 1)),
        # A heat pump on a Shelly's second clamp: shown, already in the home's balance.
        ("load", "grid_import_energy", None),
        ("load", "grid_power", None),
        ("grid_meter", None, None),
    ],
)
def test_a_plain_meter_measures_what_it_is_on(
    device_role: str, value_role: str | None, expected: tuple[str, int] | None
) -> None:
    assert home_quantity(device_role, value_role, plain_meter=True) == expected


def test_an_inverter_names_its_flows_itself() -> None:
    huawei = available_profiles()["huawei_sun2000"]
    assert not is_plain_meter(r.role for r in huawei.registers)
    found = {
        r.key: home_quantity("pv", r.role, plain_meter=False)
        for r in huawei.registers
        if home_quantity("pv", r.role, plain_meter=False)
    }
    assert found == {
        "pv_power": ("pv_power", 1),
        "pv_energy": ("pv_energy", 1),
        # Huawei's meter counts export as positive power.
        "meter_power": ("grid_power", 1),
        "grid_export_energy": ("grid_export_energy", 1),
        "grid_import_energy": ("grid_import_energy", 1),
        "battery_power": ("battery_power", 1),
        "battery_charge_energy": ("battery_charge_energy", 1),
        "battery_discharge_energy": ("battery_discharge_energy", 1),
    }
    # In a community plant only generation counts, as the plant's.
    assert home_quantity("plant", "pv_energy", plain_meter=False) == ("plant_energy", 1)
    assert home_quantity("plant", "grid_import_energy", plain_meter=False) is None


def test_meters_are_plain() -> None:
    assert is_plain_meter(r.role for r in available_profiles()["eastron_sdm630"].registers)
    assert is_plain_meter(q.role for q in QUANTITIES.values())
    assert not is_plain_meter([None, None])


def test_consumption_from_the_balance() -> None:
    model = EnergyModel(
        terms={
            "grid_import_energy": (Term(source="imp"),),
            "grid_export_energy": (Term(source="exp"),),
            "pv_energy": (Term(source="pv1"), Term(source="pv2")),
            "battery_charge_energy": (Term(source="chg"),),
            "battery_discharge_energy": (Term(source="dis"),),
            "grid_power": (Term(source="meter", sign=-1),),
            "pv_power": (Term(source="pvw"),),
            "battery_power": (Term(source="batw"),),
        }
    )
    readings = {"imp": 10.0, "exp": 4.0, "pv1": 6.0, "pv2": 1.0, "chg": 3.0, "dis": 2.0}
    # 10 − 4 + 6 + 1 + 2 − 3
    assert model.estimate("consumption_energy", readings) == Estimate(value=12.0, complete=True)
    # grid −(−800) = 800 W import, + 1200 W PV, battery charging 500 W
    # The battery discharging (positive, as Home Assistant's Energy dashboard has it) adds.
    power = {"meter": -800.0, "pvw": 1200.0, "batw": -500.0}
    assert model.estimate("consumption_power", power) == Estimate(value=1500.0, complete=True)
    assert model.estimate("ev_energy", readings) is None


def test_a_missing_value_degrades_the_balance_but_the_grid_is_needed() -> None:
    """An inverter off the network: what the home has, marked incomplete; no grid, nothing."""
    model = EnergyModel(
        terms={
            "grid_import_energy": (Term(source="imp"),),
            "grid_export_energy": (Term(source="exp"),),
            "pv_energy": (Term(source="pv1"), Term(source="pv2")),
            "grid_power": (Term(source="meter"),),
            "pv_power": (Term(source="pvw"),),
        }
    )
    readings = {"imp": 10.0, "exp": None, "pv1": 6.0, "pv2": None}
    assert model.estimate("consumption_energy", readings) == Estimate(value=16.0, complete=False)
    assert model.estimate("pv_energy", readings) == Estimate(value=6.0, complete=False)
    assert model.estimate("consumption_power", {"meter": 300.0}) == Estimate(
        value=300.0, complete=False
    )
    assert model.estimate("consumption_energy", {**readings, "imp": None}) is None
    assert model.estimate("consumption_power", {"pvw": 900.0}) is None
    assert model.estimate("pv_energy", {}) is None


def test_measured_consumption_wins_and_no_grid_means_unknown() -> None:
    measured = EnergyModel(
        terms={
            "consumption_power": (Term(source="load"),),
            "grid_power": (Term(source="g"),),
        }
    )
    assert measured.consumption_terms(energy=False) == (Term(source="load"),)
    only_pv = EnergyModel(terms={"pv_power": (Term(source="pv"),)})
    assert only_pv.consumption_terms(energy=False) is None
    assert only_pv.estimate("consumption_power", {"pv": 100.0}) is None
    # Without a battery or PV the balance is the grid alone.
    grid_only = EnergyModel(terms={"grid_import_energy": (Term(source="i"),)})
    assert grid_only.estimate("consumption_energy", {"i": 3.5}) == Estimate(
        value=3.5, complete=True
    )


def test_reversing_a_device_negates_its_direction_and_swaps_its_counters() -> None:
    """A clamp turned round sees import as export: its power and its counters are reversed."""
    roles = {
        "power": "grid_power",
        "import_energy": "grid_import_energy",
        "export_energy": "grid_export_energy",
        "voltage": None,
    }
    values = {"power": -5080.3, "import_energy": 6.6449, "export_energy": 2.59526, "voltage": 230.0}
    assert reverse_power(values, roles) == {
        "power": 5080.3,
        "import_energy": 2.59526,
        "export_energy": 6.6449,
        "voltage": 230.0,
    }
    # A message with one counter: it goes to the other.
    assert reverse_power({"import_energy": 1.0}, roles) == {"export_energy": 1.0}
