"""The files copied from npm are the ones the locks pin, unchanged (no network needed)."""

from __future__ import annotations

import json

import pytest

from ioe_dev.web_vendor import BUNDLES, MANIFEST, Bundle, locked_versions, sha256


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda bundle: bundle.destination.name)
def test_the_copies_are_what_the_lock_pins(bundle: Bundle) -> None:
    manifest = json.loads((bundle.destination / MANIFEST).read_text(encoding="utf-8"))
    locked = locked_versions(bundle.lock_dir)
    package_json = json.loads((bundle.lock_dir / "package.json").read_text(encoding="utf-8"))
    for entry in manifest["packages"]:
        name = entry["package"]
        # Exact pins only: package.json, the lock and the copies name one version.
        assert package_json["dependencies"][name] == locked[name]["version"]
        assert entry["version"] == locked[name]["version"]
        assert entry["license"] == locked[name]["license"]
        assert "LICENSE" in entry["files"]
        for file, digest in entry["files"].items():
            assert sha256(bundle.destination / file) == digest, file
    assert {entry["package"] for entry in manifest["packages"]} == set(bundle.files)
    copied = {f for entry in manifest["packages"] for f in entry["files"]}
    on_disk = {path.name for path in bundle.destination.iterdir()} - {MANIFEST}
    assert on_disk == copied


def test_the_locks_name_no_registry() -> None:
    # The lock leaves out where packages came from: npm ci asks the registry it is set up with.
    for bundle in BUNDLES:
        lock = json.loads((bundle.lock_dir / "package-lock.json").read_text(encoding="utf-8"))
        assert all("resolved" not in entry for entry in lock["packages"].values())
