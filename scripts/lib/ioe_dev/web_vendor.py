"""Files from npm that the control centre serves (and its browser tests inject), copied in.

Each bundle is a folder with a ``package.json`` and a ``package-lock.json`` pinning exact
versions (their ``.npmrc`` keeps registry addresses out of the lock). The tool runs
``npm ci --ignore-scripts`` from that lock in a temporary folder (no package's install script
runs), copies the few files we serve and their licences, and writes ``VENDORED.json`` beside
them: each package's version and licence, and the sha256 of each copied file.
``tests/dev/test_web_vendor.py`` checks, without the network, that the copies match the lock.

    python -m ioe_dev.web_vendor        # wherever npm is (the development root has none)

The add-on's image never runs npm: the copies are committed, and ship as package data.
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import json
from pathlib import Path
import shutil
import subprocess
import tempfile

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = "VENDORED.json"


@dataclass(frozen=True, kw_only=True)
class Bundle:
    """A lock's folder, where its copies go, and which files of which package are copied."""

    lock_dir: Path
    destination: Path
    # package name -> paths inside that package to copy (flattened into the destination)
    files: dict[str, tuple[str, ...]]


BUNDLES = (
    # Served by the add-on: the charts of the control centre.
    Bundle(
        lock_dir=ROOT / "addons/ioe-aggregator/web",
        destination=ROOT / "addons/ioe-aggregator/ioe_aggregator/web/static/vendor/uplot",
        files={"uplot": ("dist/uPlot.iife.min.js", "dist/uPlot.min.css", "LICENSE")},
    ),
    # Injected by the browser tests only: the accessibility check.
    Bundle(
        lock_dir=ROOT / "tests/web/vendor",
        destination=ROOT / "tests/web/vendor/axe-core",
        files={"axe-core": ("axe.min.js", "LICENSE")},
    ),
)


def sha256(path: Path) -> str:
    """Return the hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def locked_versions(lock_dir: Path) -> dict[str, dict[str, str]]:
    """Return each top-level package of a lock with its version and licence."""
    lock = json.loads((lock_dir / "package-lock.json").read_text(encoding="utf-8"))
    found = {}
    for key, entry in lock["packages"].items():
        if key.startswith("node_modules/") and "/node_modules/" not in key:
            found[key.removeprefix("node_modules/")] = {
                "version": entry["version"],
                "license": entry.get("license", "UNKNOWN"),
            }
    return found


def vendor(bundle: Bundle) -> dict[str, object]:
    """Install a bundle's lock in a temporary folder, copy its files; return the manifest."""
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        for name in ("package.json", "package-lock.json", ".npmrc"):
            if (bundle.lock_dir / name).is_file():
                shutil.copyfile(bundle.lock_dir / name, work / name)
        subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=work, check=True
        )
        locked = locked_versions(bundle.lock_dir)
        if bundle.destination.exists():
            shutil.rmtree(bundle.destination)
        bundle.destination.mkdir(parents=True)
        packages = []
        for package, paths in bundle.files.items():
            installed = json.loads(
                (work / "node_modules" / package / "package.json").read_text(encoding="utf-8")
            )
            copied = {}
            for inside in paths:
                target = bundle.destination / Path(inside).name
                shutil.copyfile(work / "node_modules" / package / inside, target)
                copied[target.name] = sha256(target)
            packages.append(
                {
                    "package": package,
                    "version": installed["version"],
                    "license": locked[package]["license"],
                    "files": copied,
                }
            )
    manifest: dict[str, object] = {
        "made_by": "python -m ioe_dev.web_vendor",
        "packages": packages,
    }
    text = json.dumps(manifest, indent=2) + "\n"
    (bundle.destination / MANIFEST).write_text(text, encoding="utf-8")
    return manifest


def main() -> None:
    """Refresh every bundle's copies."""
    for bundle in BUNDLES:
        vendor(bundle)
        print(bundle.destination.relative_to(ROOT))


if __name__ == "__main__":
    main()
