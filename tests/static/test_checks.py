"""The repository passes the hassfest, HACS and add-on checks; each check catches what it should."""

from __future__ import annotations

from collections.abc import Callable
import json
from pathlib import Path
import shutil

import homeassistant
from homeassistant.const import __version__ as ha_version
import pytest
import yaml

from ioe_aggregator import __version__ as aggregator_version
from tests.conftest import ADDON, INTEGRATION, REPO

from .checks import (
    check_addon,
    check_blueprints,
    check_hacs,
    check_manifest,
    check_same_keys,
    check_services,
    check_translation_keys_used,
    home_assistant_pins,
)

HA_PACKAGE = Path(homeassistant.__file__).parent


@pytest.fixture(scope="module")
def pins() -> dict[str, str]:
    return home_assistant_pins(HA_PACKAGE / "package_constraints.txt", HA_PACKAGE / "components")


@pytest.fixture
def integration(tmp_path: Path) -> Path:
    """Return a copy of the integration to break."""
    return Path(shutil.copytree(INTEGRATION, tmp_path / "ioe_community"))


@pytest.fixture
def addon(tmp_path: Path) -> Path:
    """Return a copy of the add-on's manifest and translations to break."""
    copy = tmp_path / "ioe-aggregator"
    shutil.copytree(ADDON / "translations", copy / "translations")
    shutil.copy(ADDON / "config.yaml", copy / "config.yaml")
    shutil.copy(ADDON / "Dockerfile", copy / "Dockerfile")
    return copy


def edit_json(path: Path, change: Callable[[dict], object]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def edit_yaml(path: Path, change: Callable[[dict], object]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


# The repository as it is


def test_repository_passes_every_check(pins: dict[str, str]) -> None:
    problems = [
        *check_manifest(INTEGRATION, pins),
        *check_hacs(REPO, ha_version),
        *check_same_keys(
            INTEGRATION / "translations/en.json", INTEGRATION / "translations/es.json"
        ),
        *check_same_keys(ADDON / "translations/en.yaml", ADDON / "translations/es.yaml"),
        *check_translation_keys_used(INTEGRATION),
        *check_services(INTEGRATION),
        *check_addon(ADDON),
        *check_blueprints(REPO / "blueprints"),
    ]
    assert problems == []


def test_add_on_and_package_versions_agree() -> None:
    assert yaml.safe_load((ADDON / "config.yaml").read_text())["version"] == aggregator_version


# manifest.json


def test_manifest_key_order(integration: Path, pins: dict[str, str]) -> None:
    edit_json(integration / "manifest.json", lambda m: m.update(aaa_late_key=1))
    assert any(
        "keys must be domain, name, then sorted" in p for p in check_manifest(integration, pins)
    )


def test_manifest_missing_key(integration: Path, pins: dict[str, str]) -> None:
    edit_json(integration / "manifest.json", lambda m: m.pop("issue_tracker"))
    assert any("missing key 'issue_tracker'" in p for p in check_manifest(integration, pins))


def test_manifest_bad_values(integration: Path, pins: dict[str, str]) -> None:
    edit_json(integration / "manifest.json", lambda m: m.update(iot_class="local", version="one"))
    problems = check_manifest(integration, pins)
    assert any("iot_class 'local'" in p for p in problems)
    assert any("version 'one'" in p for p in problems)


def test_manifest_requirement_conflicting_with_home_assistant(
    integration: Path, pins: dict[str, str]
) -> None:
    # Home Assistant's own modbus integration pins pymodbus; a different pin breaks one of us.
    assert "pymodbus" in pins
    edit_json(integration / "manifest.json", lambda m: m["requirements"].append("pymodbus==0.0.1"))
    assert any(
        "conflicts with Home Assistant's pymodbus" in p for p in check_manifest(integration, pins)
    )


def test_manifest_unpinned_requirement(integration: Path, pins: dict[str, str]) -> None:
    edit_json(integration / "manifest.json", lambda m: m["requirements"].append("requests>=2"))
    assert any("must be pinned" in p for p in check_manifest(integration, pins))


# hacs.json


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"render_readme": True}, "unknown key 'render_readme'"),
        ({"country": ["Spain"]}, "country 'Spain'"),
        ({"homeassistant": "2099.1.0"}, "newer than the tested"),
        ({"name": ""}, "'name' is required"),
    ],
)
def test_hacs_problems(tmp_path: Path, change: dict, expected: str) -> None:
    hacs = json.loads((REPO / "hacs.json").read_text()) | change
    (tmp_path / "hacs.json").write_text(json.dumps(hacs))
    assert any(expected in p for p in check_hacs(tmp_path, ha_version))


# translations


def test_missing_spanish_translation(integration: Path) -> None:
    edit_json(
        integration / "translations/es.json", lambda t: t["config"]["error"].pop("invalid_cups")
    )
    problems = check_same_keys(
        integration / "translations/en.json", integration / "translations/es.json"
    )
    es = integration / "translations/es.json"
    assert problems == [f"{es}: missing 'config.error.invalid_cups' (present in en.json)"]


def test_extra_add_on_translation(addon: Path) -> None:
    edit_yaml(
        addon / "translations/es.yaml", lambda t: t["configuration"].update(extra={"name": "x"})
    )
    problems = check_same_keys(addon / "translations/en.yaml", addon / "translations/es.yaml")
    assert any("extra 'configuration.extra.name'" in p for p in problems)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ('errors["base"] = "no_such_error"\n', "'no_such_error'"),
        ('self.async_abort(reason="gone")\n', "'gone'"),
        (
            'raise HomeAssistantError(translation_domain=DOMAIN, translation_key="boom")\n',
            "exceptions.boom.message",
        ),
        ('self.async_show_form(step_id="nowhere")\n', "config.step.nowhere"),
        ('self._errors = {"base": "later_error"}\n', "'later_error'"),
        (
            'self.async_show_progress(step_id="x", progress_action="dozing")\n',
            "config_subentries.*.progress.dozing",
        ),
    ],
)
def test_translation_key_used_in_code_but_missing(
    integration: Path, code: str, expected: str
) -> None:
    (integration / "broken.py").write_text(f"def f(self, errors):\n    {code}")
    problems = check_translation_keys_used(integration)
    assert len(problems) == 1
    assert expected in problems[0]
    assert "broken.py:2" in problems[0]


def test_action_without_its_texts_or_icon(integration: Path) -> None:
    edit_json(
        integration / "translations/en.json",
        lambda data: data["services"]["resend_readings"]["fields"]["start"].pop("description"),
    )
    edit_json(integration / "icons.json", lambda data: data.pop("services"))
    (integration / "services.yaml").write_text(
        (integration / "services.yaml").read_text() + "forget:\n  fields: {}\n"
    )
    assert check_services(integration) == [
        "en.json: field 'start' of 'resend_readings' needs a description",
        "icons.json: action 'resend_readings' has no icon",
        "icons.json: action 'import_distributor_history' has no icon",
        "icons.json: action 'charge_battery_until' has no icon",
        "icons.json: action 'charge_car_by' has no icon",
        "en.json: action 'forget' needs a name",
        "en.json: action 'forget' needs a description",
        "icons.json: action 'forget' has no icon",
    ]


def test_every_profile_register_has_an_entity_name() -> None:
    """Sensor translation keys come from data (profiles, MQTT values): code checks miss them."""
    from custom_components.ioe_community.devices.mqtt_meter import QUANTITIES  # noqa: PLC0415
    from custom_components.ioe_community.devices.profile import available_profiles  # noqa: PLC0415

    keys = {key for p in available_profiles().values() for key in p.keys} | set(QUANTITIES)
    for language in ("en", "es"):
        names = json.loads((INTEGRATION / f"translations/{language}.json").read_text())
        missing = keys - set(names["entity"]["sensor"])
        assert not missing, f"{language}.json lacks entity.sensor names for {sorted(missing)}"


# add-on config.yaml


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda c: c.update(arch=["amd64", "sparc"]), "unknown arch 'sparc'"),
        (lambda c: c.update(init="no"), "'init' must be true or false"),
        (lambda c: c.update(services=["mqtt:maybe"]), "service 'mqtt:maybe'"),
        (
            lambda c: c["schema"].update(mqtt_port="number"),
            "option 'mqtt_port' has an invalid type",
        ),
        (lambda c: c["options"].update(log_level="loud"), "default of option 'log_level' ('loud')"),
        (
            lambda c: c["options"].update(community_id="Los Molinos"),
            "default of option 'community_id'",
        ),
        (lambda c: c["options"].update(colour="red"), "option 'colour' is not in the schema"),
        (lambda c: c["options"].pop("log_level"), "required option 'log_level' has no default"),
        (lambda c: c.pop("slug"), "missing key 'slug'"),
        (lambda c: c.update(version=1.0), "version must be a string"),
        (lambda c: c.update(startup="application"), "'startup' restates the Supervisor's"),
        (lambda c: c.update(boot="auto"), "'boot' restates the Supervisor's default ('auto')"),
        (lambda c: c.update(ingress_port=8099), "'ingress_port' restates the Supervisor's"),
        (lambda c: c.update(ingress_port=70000), "ingress needs an ingress_port from 1 to"),
    ],
)
def test_add_on_config_problems(
    addon: Path, change: Callable[[dict], object], expected: str
) -> None:
    edit_yaml(addon / "config.yaml", change)
    assert any(expected in p for p in check_addon(addon))


def test_add_on_values_other_than_the_defaults_pass(addon: Path) -> None:
    edit_yaml(addon / "config.yaml", lambda c: c.update(startup="services", ingress_port=8100))
    assert check_addon(addon) == []


def test_a_build_yaml_is_deprecated(addon: Path) -> None:
    (addon / "build.yaml").write_text("build_from:\n  amd64: ghcr.io/home-assistant/base:3.22\n")
    assert any("build.yaml: deprecated" in p for p in check_addon(addon))


def test_the_dockerfile_names_its_base_image(addon: Path) -> None:
    dockerfile = addon / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("ARG BUILD_FROM=", "ARG BUILD_FROM #"))
    assert any("ARG BUILD_FROM=<base image>" in p for p in check_addon(addon))


def test_add_on_option_without_translation(addon: Path) -> None:
    edit_yaml(addon / "config.yaml", lambda c: c["schema"].update(new_option="str?"))
    problems = check_addon(addon)
    assert any("en.yaml: option 'new_option' has no translation" in p for p in problems)
    assert any("es.yaml: option 'new_option' has no translation" in p for p in problems)


# blueprints

VALID_BLUEPRINT = """\
blueprint:
  name: Charge when the community has surplus
  domain: automation
  input:
    charger:
      name: Charger
      selector:
        entity:
          domain: switch
triggers:
  - trigger: time_pattern
    minutes: /15
actions:
  - action: switch.turn_on
    target:
      entity_id: !input charger
"""


def test_valid_blueprint_passes(tmp_path: Path) -> None:
    path = tmp_path / "automation" / "ioe_community" / "surplus.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(VALID_BLUEPRINT)
    assert check_blueprints(tmp_path) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (VALID_BLUEPRINT.replace("  domain: automation\n", ""), "domain"),
        (
            VALID_BLUEPRINT.replace("entity_id: !input charger", "entity_id: [unclosed"),
            "surplus.yaml",
        ),
        (VALID_BLUEPRINT.replace("  domain: automation", "  domain: script"), "script"),
    ],
)
def test_broken_blueprint_fails(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "automation" / "ioe_community" / "surplus.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    problems = check_blueprints(tmp_path)
    assert len(problems) == 1
    assert expected in problems[0]
