"""Checks that stand in for hassfest, the HACS action and the add-on linter.

Those tools need Docker or GitHub; these read the same files with the same rules, offline.
Each check returns a list of problems (empty when all is well), each naming the file and key.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
import json
from pathlib import Path
import re
from typing import Any

from awesomeversion import AwesomeVersion, AwesomeVersionException, AwesomeVersionStrategy
from homeassistant.components.blueprint.models import Blueprint
from homeassistant.components.blueprint.schemas import BLUEPRINT_SCHEMA
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util.yaml import load_yaml
import yaml

# hassfest: "domain" and "name" first, the rest sorted.
MANIFEST_FIRST_KEYS = ("domain", "name")
# What hassfest asks of a custom integration, plus what HACS asks of one.
MANIFEST_REQUIRED_KEYS = frozenset(
    {
        "domain",
        "name",
        "codeowners",
        "config_flow",
        "documentation",
        "integration_type",
        "iot_class",
        "issue_tracker",
        "requirements",
        "version",
    }
)
IOT_CLASSES = frozenset(
    {"assumed_state", "calculated", "cloud_polling", "cloud_push", "local_polling", "local_push"}
)
INTEGRATION_TYPES = frozenset(
    {"device", "entity", "hardware", "helper", "hub", "service", "system", "virtual"}
)
HACS_KEYS = frozenset(
    {
        "name",
        "content_in_root",
        "zip_release",
        "filename",
        "hide_default_branch",
        "country",
        "homeassistant",
        "hacs",
        "persistent_directory",
    }
)
ADDON_REQUIRED_KEYS = frozenset({"name", "version", "slug", "description", "arch"})
ADDON_ARCHES = frozenset({"aarch64", "amd64", "armhf", "armv7", "i386"})
ADDON_SERVICE = re.compile(r"^(mqtt|mysql):(provide|want|need)$")
# Keys whose value the Supervisor assumes when they are absent: the add-on linter
# (frenck/action-addon-linter, src/config.schema.json) asks to drop a key restating one.
ADDON_DEFAULTS: dict[str, object] = {
    "advanced": False, "apparmor": True, "audio": False, "auth_api": False, "backup": "hot",
    "boot": "auto", "devicetree": False, "docker_api": False, "full_access": False,
    "gpio": False, "hassio_api": False, "hassio_role": "default", "homeassistant_api": False,
    "host_dbus": False, "host_ipc": False, "host_network": False, "host_pid": False,
    "host_uts": False, "ingress": False, "ingress_port": 8099, "ingress_stream": False,
    "init": True, "journald": False, "kernel_modules": False, "panel_admin": True,
    "panel_icon": "mdi:puzzle", "realtime": False, "stage": "stable", "startup": "application",
    "stdin": False, "timeout": 10, "tmpfs": False, "uart": False, "udev": False, "usb": False,
    "video": False,
}  # fmt: skip
# The Dockerfile names its own base image (the Supervisor builds without build.yaml).
DOCKERFILE_BASE = re.compile(r"^ARG BUILD_FROM=(?P<image>\S+)\nFROM \$\{BUILD_FROM\}$", re.M)
# The Supervisor's option types (supervisor/addons/validate.py), each optionally ending in "?".
ADDON_TYPE = re.compile(
    r"^(?:str(?:\((?P<s_min>\d*),(?P<s_max>\d*)\))?"
    r"|password(?:\(\d*,\d*\))?"
    r"|bool|email|url|port"
    r"|int(?:\((?P<i_min>-?\d*),(?P<i_max>-?\d*)\))?"
    r"|float(?:\((?P<f_min>-?[\d.]*),(?P<f_max>-?[\d.]*)\))?"
    r"|match\((?P<match>.+)\)"
    r"|list\((?P<list>[^|]+(?:\|[^|]+)*)\)"
    r"|device(?:\(subsystem=[a-z_]+\))?)(?P<optional>\?)?$"
)


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def check_manifest(integration: Path, pinned: dict[str, str]) -> list[str]:
    """Check manifest.json as hassfest and HACS would.

    ``pinned`` maps package names (lower case) to the versions Home Assistant pins; a
    requirement pinned differently would conflict with Home Assistant's own.
    """
    path = integration / "manifest.json"
    manifest = _read_json(path)
    problems = []
    keys = list(manifest)
    expected_order = [
        *MANIFEST_FIRST_KEYS,
        *sorted(k for k in keys if k not in MANIFEST_FIRST_KEYS),
    ]
    if keys != expected_order:
        problems.append(f"{path}: keys must be domain, name, then sorted: {expected_order}")
    problems.extend(
        f"{path}: missing key '{key}'" for key in sorted(MANIFEST_REQUIRED_KEYS - set(keys))
    )
    if manifest.get("domain") != integration.name:
        problems.append(f"{path}: domain {manifest.get('domain')!r} is not the folder name")
    if manifest.get("iot_class") not in IOT_CLASSES:
        problems.append(
            f"{path}: iot_class {manifest.get('iot_class')!r} is not one of {sorted(IOT_CLASSES)}"
        )
    if manifest.get("integration_type") not in INTEGRATION_TYPES:
        problems.append(
            f"{path}: integration_type {manifest.get('integration_type')!r} is not valid"
        )
    try:
        AwesomeVersion(
            manifest.get("version", ""),
            ensure_strategy=[AwesomeVersionStrategy.SEMVER, AwesomeVersionStrategy.CALVER],
        )
    except AwesomeVersionException:
        problems.append(f"{path}: version {manifest.get('version')!r} is not SemVer or CalVer")
    if manifest.get("config_flow") is not (integration / "config_flow.py").exists():
        problems.append(f"{path}: config_flow does not match the presence of config_flow.py")
    for requirement in manifest.get("requirements", []):
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([A-Za-z0-9.+-]+)", requirement)
        if match is None:
            problems.append(f"{path}: requirement {requirement!r} must be pinned as name==version")
            continue
        name, version = match[1].lower().replace("_", "-"), match[2]
        if name in pinned and pinned[name] != version:
            problems.append(
                f"{path}: requirement {requirement!r} conflicts with Home Assistant's "
                f"{name}=={pinned[name]}"
            )
    return problems


def home_assistant_pins(package_constraints: Path, components: Path) -> dict[str, str]:
    """Return Home Assistant's exact pins: its constraints and its components' requirements."""
    lines = package_constraints.read_text().splitlines()
    for manifest in components.glob("*/manifest.json"):
        lines.extend(_read_json(manifest).get("requirements", []))
    pins = {}
    for line in lines:
        if match := re.fullmatch(r"([A-Za-z0-9._-]+)==([A-Za-z0-9.+-]+)", line.strip()):
            pins[match[1].lower().replace("_", "-")] = match[2]
    return pins


def check_hacs(repository: Path, home_assistant_version: str) -> list[str]:
    """Check hacs.json: known keys, a name, ISO country codes, a reachable minimum HA version."""
    path = repository / "hacs.json"
    hacs = _read_json(path)
    problems = [f"{path}: unknown key '{key}'" for key in sorted(set(hacs) - HACS_KEYS)]
    if not isinstance(hacs.get("name"), str) or not hacs["name"]:
        problems.append(f"{path}: 'name' is required")
    countries = hacs.get("country", [])
    for country in [countries] if isinstance(countries, str) else countries:
        if not re.fullmatch(r"[A-Z]{2}", country):
            problems.append(f"{path}: country {country!r} is not an ISO 3166-1 alpha-2 code")
    if "homeassistant" in hacs:
        try:
            if AwesomeVersion(hacs["homeassistant"]) > AwesomeVersion(home_assistant_version):
                problems.append(
                    f"{path}: homeassistant {hacs['homeassistant']} is newer than the tested "
                    f"{home_assistant_version}"
                )
        except AwesomeVersionException:
            problems.append(f"{path}: homeassistant {hacs['homeassistant']!r} is not a version")
    return problems


def _leaf_paths(data: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaf_paths(value, f"{prefix}{key}.")
    else:
        yield prefix.rstrip(".")


def _load_translation(path: Path) -> Any:
    return _read_json(path) if path.suffix == ".json" else yaml.safe_load(path.read_text())


def check_same_keys(reference: Path, other: Path) -> list[str]:
    """Check that two translation files (JSON or YAML) have exactly the same keys."""
    mine = set(_leaf_paths(_load_translation(reference)))
    theirs = set(_leaf_paths(_load_translation(other)))
    return [
        f"{other}: missing '{key}' (present in {reference.name})" for key in sorted(mine - theirs)
    ] + [f"{other}: extra '{key}' (absent from {reference.name})" for key in sorted(theirs - mine)]


def _constants(node: ast.AST | None) -> list[str]:
    """Every string constant inside an expression (covers ``"a" if x else "b"``).

    The pieces of an f-string are not keys: what it makes is checked where it is used.
    """
    if node is None:
        return []
    pieces = {id(part) for n in ast.walk(node) if isinstance(n, ast.JoinedStr) for part in n.values}
    return [
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in pieces
    ]


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _has(translations: Any, dotted: str) -> bool:
    """Return whether the dotted path exists; a ``*`` part matches any key."""
    head, _, rest = dotted.partition(".")
    if not isinstance(translations, dict):
        return False
    children = translations.values() if head == "*" else [translations.get(head)]
    if not rest:
        return any(child is not None for child in children)
    return any(_has(child, rest) for child in children)


def _entity_keys(translations: dict[str, Any]) -> set[str]:
    return {key for platform in translations.get("entity", {}).values() for key in platform}


def check_translation_keys_used(integration: Path) -> list[str]:
    """Check that each translation key, error, abort reason and form step used is in en.json."""
    en_path = integration / "translations" / "en.json"
    translations = _read_json(en_path)
    needed: list[tuple[Path, int, str, list[str]]] = []
    for source in sorted(integration.rglob("*.py")):
        tree = ast.parse(source.read_text(), str(source))
        functions = {
            n.name for n in ast.walk(tree) if isinstance(n, ast.AsyncFunctionDef | ast.FunctionDef)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    # errors["base"] = "x", or errors kept for a later form: self._errors = {...}
                    if (
                        isinstance(target, ast.Subscript)
                        and getattr(target.value, "id", "") == "errors"
                    ) or (
                        isinstance(target, ast.Attribute)
                        and target.attr == "_errors"
                        and isinstance(node.value, ast.Dict)
                    ):
                        values = node.value.values if isinstance(node.value, ast.Dict) else []
                        for key in [k for v in values for k in _constants(v)] or _constants(
                            node.value
                        ):
                            needed.append(
                                (
                                    source,
                                    node.lineno,
                                    key,
                                    [
                                        f"config.error.{key}",
                                        f"options.error.{key}",
                                        f"config_subentries.*.error.{key}",
                                    ],
                                )
                            )
            if not isinstance(node, ast.Call):
                continue
            func = (
                node.func.attr
                if isinstance(node.func, ast.Attribute)
                else getattr(node.func, "id", "")
            )
            for key in _constants(_keyword(node, "translation_key")):
                if _keyword(node, "translation_domain") is not None:
                    needed.append((source, node.lineno, key, [f"exceptions.{key}.message"]))
                elif key not in _entity_keys(translations):
                    needed.append((source, node.lineno, key, [f"issues.{key}", f"device.{key}"]))
            if func in {"async_abort", "_abort_if_unique_id_mismatch"}:
                for key in _constants(_keyword(node, "reason")):
                    needed.append(
                        (
                            source,
                            node.lineno,
                            key,
                            [
                                f"config.abort.{key}",
                                f"options.abort.{key}",
                                f"config_subentries.*.abort.{key}",
                            ],
                        )
                    )
            if func == "_abort_if_unique_id_configured":
                needed.append(
                    (source, node.lineno, "already_configured", ["config.abort.already_configured"])
                )
            if func == "async_update_reload_and_abort":
                for step, reason in (
                    ("reconfigure", "reconfigure_successful"),
                    ("reauth", "reauth_successful"),
                ):
                    if f"async_step_{step}" in functions:
                        needed.append((source, node.lineno, reason, [f"config.abort.{reason}"]))
            if func == "async_show_progress":
                for key in _constants(_keyword(node, "progress_action")):
                    needed.append(
                        (
                            source,
                            node.lineno,
                            key,
                            [f"config.progress.{key}", f"config_subentries.*.progress.{key}"],
                        )
                    )
            if func in {"async_show_form", "async_show_menu"}:
                for key in _constants(_keyword(node, "step_id")):
                    needed.append(
                        (
                            source,
                            node.lineno,
                            key,
                            [
                                f"config.step.{key}",
                                f"options.step.{key}",
                                f"config_subentries.*.step.{key}",
                                f"issues.*.fix_flow.step.{key}",
                            ],
                        )
                    )
    return [
        f"{source}:{line}: '{key}' has no translation ({' or '.join(paths)} in {en_path.name})"
        for source, line, key, paths in needed
        if not any(_has(translations, path) for path in paths)
    ]


def check_services(integration: Path) -> list[str]:
    """Check that each action in services.yaml has its names, descriptions and icon."""
    path = integration / "services.yaml"
    services = yaml.safe_load(path.read_text()) if path.exists() else {}
    en_path = integration / "translations" / "en.json"
    translations = _read_json(en_path).get("services", {})
    icons = _read_json(integration / "icons.json").get("services", {})
    problems = [
        f"{en_path.name}: action '{service}' is not in {path.name}"
        for service in sorted(set(translations) - set(services))
    ]
    for service, spec in services.items():
        text = translations.get(service, {})
        problems.extend(
            f"{en_path.name}: action '{service}' needs a {part}"
            for part in ("name", "description")
            if not text.get(part)
        )
        for field in (spec or {}).get("fields", {}):
            problems.extend(
                f"{en_path.name}: field '{field}' of '{service}' needs a {part}"
                for part in ("name", "description")
                if not text.get("fields", {}).get(field, {}).get(part)
            )
        if not icons.get(service, {}).get("service"):
            problems.append(f"icons.json: action '{service}' has no icon")
    return problems


def _option_fits(option_type: str, value: Any) -> bool:
    match = ADDON_TYPE.match(option_type)
    if match is None:
        return False
    base = option_type.rstrip("?").split("(")[0]
    if base == "bool":
        return isinstance(value, bool)
    if base in {"int", "port"}:
        return isinstance(value, int) and not isinstance(value, bool)
    if base == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if base == "list":
        return value in match["list"].split("|")
    if base == "match":
        return isinstance(value, str) and re.fullmatch(match["match"], value) is not None
    return isinstance(value, str)


def _check_schema(path: Path, schema: Any, options: Any, where: str) -> list[str]:
    problems = []
    if isinstance(schema, dict):
        options = options if isinstance(options, dict) else {}
        for key in sorted(set(options) - set(schema)):
            problems.append(f"{path}: option '{where}{key}' is not in the schema")
        for key, option_type in schema.items():
            problems.extend(_check_schema(path, option_type, options.get(key), f"{where}{key}."))
            if (
                isinstance(option_type, str)
                and not option_type.endswith("?")
                and key not in options
            ):
                problems.append(f"{path}: required option '{where}{key}' has no default in options")
        return problems
    if isinstance(schema, list):
        return [p for item in options or [] for p in _check_schema(path, schema[0], item, where)]
    name = where.rstrip(".")
    if not isinstance(schema, str) or ADDON_TYPE.match(schema) is None:
        return [f"{path}: option '{name}' has an invalid type {schema!r}"]
    if options is not None and not _option_fits(schema, options):
        return [f"{path}: default of option '{name}' ({options!r}) does not fit {schema}"]
    return []


def _check_build(addon: Path) -> list[str]:
    """Check that the Dockerfile alone describes the image (build.yaml is deprecated)."""
    problems = [
        f"{addon / name}: deprecated, give the base image as the Dockerfile's ARG BUILD_FROM "
        "default and the labels as LABEL"
        for name in ("build.yaml", "build.yml", "build.json")
        if (addon / name).exists()
    ]
    dockerfile = addon / "Dockerfile"
    if not dockerfile.exists():
        return [*problems, f"{dockerfile}: missing"]
    if DOCKERFILE_BASE.search(dockerfile.read_text()) is None:
        problems.append(
            f"{dockerfile}: must start its image with 'ARG BUILD_FROM=<base image>' and "
            "'FROM ${BUILD_FROM}'"
        )
    return problems


def check_addon(addon: Path) -> list[str]:
    """Check an add-on's config.yaml and option translations as the Supervisor reads them."""
    path = addon / "config.yaml"
    config = yaml.safe_load(path.read_text())
    problems = [f"{path}: missing key '{key}'" for key in sorted(ADDON_REQUIRED_KEYS - set(config))]
    if not isinstance(config.get("version"), str):
        problems.append(f"{path}: version must be a string")
    if not re.fullmatch(r"[a-z0-9_]+", str(config.get("slug", ""))):
        problems.append(
            f"{path}: slug {config.get('slug')!r} must be lower-case letters, digits, _"
        )
    problems.extend(
        f"{path}: unknown arch '{arch}'"
        for arch in config.get("arch", [])
        if arch not in ADDON_ARCHES
    )
    for key in ("init", "ingress"):
        if key in config and not isinstance(config[key], bool):
            problems.append(f"{path}: '{key}' must be true or false")
    problems.extend(
        f"{path}: '{key}' restates the Supervisor's default ({default!r}): remove it"
        for key, default in ADDON_DEFAULTS.items()
        if key in config and config[key] == default and type(config[key]) is type(default)
    )
    if config.get("ingress") and not 1 <= int(config.get("ingress_port", 8099)) <= 65535:
        problems.append(f"{path}: ingress needs an ingress_port from 1 to 65535")
    problems.extend(
        f"{path}: service '{service}' is not NAME:provide|want|need"
        for service in config.get("services", [])
        if not ADDON_SERVICE.match(service)
    )
    problems.extend(_check_build(addon))
    schema = config.get("schema", {})
    problems.extend(_check_schema(path, schema, config.get("options", {}), ""))
    for language in ("en", "es"):
        translation_path = addon / "translations" / f"{language}.yaml"
        translated = yaml.safe_load(translation_path.read_text()).get("configuration", {})
        for key in sorted(set(schema) - set(translated)):
            problems.append(f"{translation_path}: option '{key}' has no translation")
        for key in sorted(set(translated) - set(schema)):
            problems.append(f"{translation_path}: '{key}' is not an option")
        problems.extend(
            f"{translation_path}: option '{key}' needs a name"
            for key, text in translated.items()
            if not isinstance(text, dict) or not text.get("name")
        )
    return problems


def check_blueprints(blueprints: Path) -> list[str]:
    """Check that every blueprint parses with Home Assistant's loader (``!input``) and schema."""
    problems = []
    for path in sorted(blueprints.rglob("*.yaml")):
        domain = path.relative_to(blueprints).parts[0]
        try:
            Blueprint(
                load_yaml(path), path=str(path), expected_domain=domain, schema=BLUEPRINT_SCHEMA
            )
        except HomeAssistantError as err:  # bad YAML, or InvalidBlueprint
            problems.append(f"{path}: {err}")
    return problems
