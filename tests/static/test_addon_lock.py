"""What ships is what was tested: the add-on's lock, the environment and the image's wheels.

The check of the real lock asks the package index this machine's pip is configured with (as
the image build does), resolving without installing; the checks that must find problems use a
local index of made-up wheels, so that they do not depend on what others publish.
"""

from __future__ import annotations

from pathlib import Path
import zipfile

import pytest

from ioe_dev.addon_lock import (
    IMAGE_PLATFORMS,
    IMAGE_PYTHON,
    LOCK,
    REQUIREMENTS,
    closure,
    format_lock,
    read_lock,
    requirement_lines,
    wheel_check,
)
from tests.conftest import ADDON


def test_the_tests_run_on_the_locked_versions() -> None:
    # Everything requirements.txt needs, as installed here, is exactly the lock: no package
    # missing from it, none extra, no version apart.
    assert closure(requirement_lines(REQUIREMENTS)) == read_lock(LOCK)


def test_the_lock_file_is_as_the_tool_writes_it() -> None:
    assert LOCK.read_text() == format_lock(read_lock(LOCK))


def test_the_image_installs_the_lock_as_wheels_only() -> None:
    dockerfile = (ADDON / "Dockerfile").read_text()
    # The wheels are checked for the Python of the image's base.
    assert f"ARG BUILD_FROM=ghcr.io/home-assistant/base-python:{IMAGE_PYTHON}-" in dockerfile
    assert "--only-binary=:all: -r requirements.lock" in dockerfile
    assert "--no-deps ." in dockerfile


@pytest.mark.parametrize("arch", IMAGE_PLATFORMS)
def test_every_pin_has_a_wheel_for_the_image(arch: str) -> None:
    assert wheel_check(LOCK, IMAGE_PLATFORMS[arch]) == []


def make_wheel(folder: Path, name: str, tag: str, requires: tuple[str, ...] = ()) -> None:
    """Write a wheel of ``name`` 1.0 for ``tag`` (python-abi-platform) that needs ``requires``."""
    info = f"{name}-1.0.dist-info"
    metadata = "".join(
        [f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"]
        + [f"Requires-Dist: {requirement}\n" for requirement in requires]
    )
    wheel = f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: false\nTag: {tag}\n"
    with zipfile.ZipFile(folder / f"{name}-1.0-{tag}.whl", "w") as archive:
        archive.writestr(f"{info}/METADATA", metadata)
        archive.writestr(f"{info}/WHEEL", wheel)
        archive.writestr(f"{info}/RECORD", "")


@pytest.fixture
def index(tmp_path: Path) -> Path:
    """Return a local index: a compiled package for x86_64 only, and a pure one needing it."""
    folder = tmp_path / "index"
    folder.mkdir()
    make_wheel(folder, "compiled", f"cp314-cp314-{IMAGE_PLATFORMS['amd64']}")
    make_wheel(folder, "pure", "py3-none-any", requires=("compiled",))
    return folder


def test_a_pin_without_a_wheel_for_an_architecture_is_found(index: Path, tmp_path: Path) -> None:
    # As matplotlib 3.11.2, which publishes no musllinux aarch64 wheel (measured): an Alpine
    # image on a Raspberry Pi would compile it. The sharing report draws its charts itself.
    lock = tmp_path / "requirements.lock"
    lock.write_text("compiled==1.0\npure==1.0\n")
    assert wheel_check(lock, IMAGE_PLATFORMS["amd64"], find_links=index) == []
    problems = wheel_check(lock, IMAGE_PLATFORMS["aarch64"], find_links=index)
    assert len(problems) == 1
    assert "compiled" in problems[0]


def test_a_lock_missing_a_dependency_is_found(index: Path, tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("pure==1.0\n")
    problems = wheel_check(lock, IMAGE_PLATFORMS["amd64"], find_links=index)
    assert problems == [f"{IMAGE_PLATFORMS['amd64']}: compiled 1.0 is needed but not in the lock"]


def test_a_range_in_the_lock_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("numpy>=2.0\n")
    with pytest.raises(ValueError, match="does not pin one version"):
        read_lock(lock)
