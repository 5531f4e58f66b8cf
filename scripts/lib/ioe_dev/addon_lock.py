"""The add-on's lock file: every package its image installs, pinned to what the tests ran on.

``requirements.txt`` names what the aggregator needs (ranges); ``requirements.lock`` pins the
whole closure. The image installs the lock (wheels only) and so does the development
environment, so the image runs the versions every test ran on.

    ./scripts/in-env python -m ioe_dev.addon_lock          # print the lock of this environment
    ./scripts/in-env python -m ioe_dev.addon_lock --write  # and write it

To move a pin, edit it in the lock (the environment rebuilds on the next command) and check that
``./scripts/test`` still passes: a test compares the lock with what is installed.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
import json
from pathlib import Path
import subprocess
import sys
import tempfile

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

ADDON = Path(__file__).resolve().parents[3] / "addons" / "ioe-aggregator"
REQUIREMENTS = ADDON / "requirements.txt"
LOCK = ADDON / "requirements.lock"
# The image's interpreter and the architectures config.yaml lists, as wheel tags: HA's Python
# base image is Alpine (musl), hence musllinux wheels.
IMAGE_PYTHON = "3.14"
IMAGE_PLATFORMS = {"amd64": "musllinux_1_2_x86_64", "aarch64": "musllinux_1_2_aarch64"}
HEADER = """\
# Every package the add-on's image installs, pinned: the Dockerfile installs this file (wheels
# only) and so does the development environment, so that the image runs what the tests ran on.
# Made from requirements.txt with: ./scripts/in-env python -m ioe_dev.addon_lock --write
"""


@dataclass(frozen=True)
class Missing(Exception):
    """A requirement of the closure is not installed in this environment."""

    requirement: str


def _wanted(requirement: Requirement, extras: Iterable[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in (*extras, ""))


def closure(requirements: Iterable[str]) -> dict[NormalizedName, str]:
    """Return every installed distribution the requirements need, with its installed version.

    Markers are evaluated for this interpreter and platform (Linux, the image's Python), extras
    followed. Raises ``Missing`` when something needed is not installed.
    """
    pending = [Requirement(line) for line in requirements]
    extras_seen: dict[NormalizedName, set[str]] = {}
    versions: dict[NormalizedName, str] = {}
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        extras = set(requirement.extras)
        if name in versions and extras <= extras_seen[name]:
            continue
        try:
            found = distribution(name)
        except PackageNotFoundError as err:
            raise Missing(str(requirement)) from err
        versions[name] = found.version
        extras_seen[name] = extras_seen.get(name, set()) | extras
        pending.extend(
            needed
            for needed in map(Requirement, found.requires or [])
            if _wanted(needed, extras_seen[name])
        )
    return dict(sorted(versions.items()))


def requirement_lines(path: Path) -> list[str]:
    """Return a requirements file's requirements, without comments or blank lines."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def read_lock(path: Path = LOCK) -> dict[NormalizedName, str]:
    """Return the lock's pins, name to version; every line must pin one version."""
    pins = {}
    for line in requirement_lines(path):
        requirement = Requirement(line)
        versions = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        if len(versions) != 1 or len(requirement.specifier) != 1:
            raise ValueError(f"{path}: {line!r} does not pin one version (name==version)")
        pins[canonicalize_name(requirement.name)] = versions[0]
    return pins


def format_lock(pins: dict[NormalizedName, str]) -> str:
    """Return the lock file's text for the pins."""
    return HEADER + "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


def wheel_check(lock: Path, platform: str, *, find_links: Path | None = None) -> list[str]:
    """Resolve the lock for the image's Python on ``platform``, wheels only, without installing.

    Asks the package index pip is configured with, or only the wheels in ``find_links``.
    Returns the problems: the resolver's refusal (a pin with no wheel for the platform), or
    packages it would add or change (the lock is incomplete for that platform).
    """
    with tempfile.TemporaryDirectory() as target:
        report = Path(target) / "report.json"
        command = [
            *(sys.executable, "-m", "pip", "install", "--dry-run", "--quiet"),
            *("--ignore-installed", "--only-binary=:all:", "--target", target),
            *("--platform", platform, "--python-version", IMAGE_PYTHON),
            *("--implementation", "cp", "--abi", f"cp{IMAGE_PYTHON.replace('.', '')}"),
            *("--report", str(report), "-r", str(lock)),
        ]
        if find_links is not None:
            command += ["--no-index", "--find-links", str(find_links)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            reason = done.stderr.strip().splitlines()[-3:]
            return [f"{platform}: {' / '.join(reason)}"]
        chosen = {
            canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
            for item in json.loads(report.read_text())["install"]
        }
    pins = read_lock(lock)
    problems = [
        f"{platform}: {name} {version} is needed but not in the lock"
        for name, version in chosen.items()
        if name not in pins
    ]
    problems.extend(
        f"{platform}: {name} resolves to {chosen[name]}, the lock pins {version}"
        for name, version in pins.items()
        if name in chosen and chosen[name] != version
    )
    return problems


def main() -> int:
    """Print (or write) the lock made from requirements.txt and this environment."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {LOCK.name}")
    args = parser.parse_args()
    try:
        text = format_lock(closure(requirement_lines(REQUIREMENTS)))
    except Missing as err:
        print(f"not installed here: {err.requirement}", file=sys.stderr)
        return 1
    if args.write:
        LOCK.write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
