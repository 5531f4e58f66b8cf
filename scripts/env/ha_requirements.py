"""Print the Python requirements of our integration and of the HA components the demo runs.

Home Assistant installs a component's requirements when it first loads it; the development
environment installs them ahead of time so that tests and the demo never reach for the network.
A started Home Assistant always loads its default integrations, whatever the configuration says;
onboarding adds the ones it offers every new instance, and the login's multi-factor modules
install theirs when first asked about (a real Home Assistant in a test installed them into the
shared environment at run time, moving a package the add-on's lock pins).
"""

from __future__ import annotations

import json
from pathlib import Path

from homeassistant.auth.mfa_modules import notify as mfa_notify, totp as mfa_totp
from homeassistant.bootstrap import CORE_INTEGRATIONS, DEFAULT_INTEGRATIONS
import homeassistant.components
import yaml

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIGURATION = REPO / "scripts/lib/ioe_dev/demo/configuration.yaml"
INTEGRATION_MANIFEST = REPO / "custom_components/ioe_community/manifest.json"
HA_COMPONENTS = Path(homeassistant.components.__file__).parent
# What onboarding sets up on a new instance (components/onboarding/views.py).
ONBOARDING_INTEGRATIONS = ("google_translate", "met", "radio_browser")


def demo_components() -> list[str]:
    """Return the components named at the top level of the demo's configuration.yaml."""
    return [key for key in yaml.safe_load(DEMO_CONFIGURATION.read_text()) if key != "homeassistant"]


def requirements(domains: list[str]) -> set[str]:
    """Return the requirements of the given HA components and of everything they depend on."""
    seen: set[str] = set()
    found: set[str] = set()
    pending = list(domains)
    while pending:
        domain = pending.pop()
        if domain in seen:
            continue
        seen.add(domain)
        manifest = json.loads((HA_COMPONENTS / domain / "manifest.json").read_text())
        found.update(manifest.get("requirements", []))
        pending.extend(manifest.get("dependencies", []))
    return found


def main() -> None:
    """Print one requirement per line, sorted."""
    ours = json.loads(INTEGRATION_MANIFEST.read_text())
    wanted = requirements(
        [
            *CORE_INTEGRATIONS,
            *DEFAULT_INTEGRATIONS,
            *ONBOARDING_INTEGRATIONS,
            *demo_components(),
            *ours.get("dependencies", []),
        ]
    )
    wanted.update(ours.get("requirements", []), mfa_totp.REQUIREMENTS, mfa_notify.REQUIREMENTS)
    print("\n".join(sorted(wanted)))


if __name__ == "__main__":
    main()
