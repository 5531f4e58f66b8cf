"""What ships is what was tested: the add-on's lock, the environment and the image's wheels.

The wheel checks ask the package index this machine's pip is configured with (as the image
build does); they resolve without downloading the packages.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ioe_dev.addon_lock import (
    IMAGE_PLATFORMS,
    LOCK,
    REQUIREMENTS,
    closure,
    format_lock,
    read_lock,
    requirement_lines,
    wheel_check,
)

from .test_checks import ADDON


def test_the_tests_run_on_the_locked_versions() -> None:
    # Everything requirements.txt needs, as installed here, is exactly the lock: no package
    # missing from it, none extra, no version apart.
    assert closure(requirement_lines(REQUIREMENTS)) == read_lock(LOCK)


def test_the_lock_file_is_as_the_tool_writes_it() -> None:
    assert LOCK.read_text() == format_lock(read_lock(LOCK))


def test_the_image_installs_the_lock_as_wheels_only() -> None:
    dockerfile = (ADDON / "Dockerfile").read_text()
    assert "--only-binary=:all: -r requirements.lock" in dockerfile
    assert "--no-deps ." in dockerfile


@pytest.mark.parametrize("arch", IMAGE_PLATFORMS)
def test_every_pin_has_a_wheel_for_the_image(arch: str) -> None:
    assert wheel_check(LOCK, IMAGE_PLATFORMS[arch]) == []


def test_a_pin_without_an_aarch64_wheel_is_found(tmp_path: Path) -> None:
    # matplotlib publishes no musllinux aarch64 wheel (3.11.2, measured): an Alpine image on a
    # Raspberry Pi would compile it. The sharing report draws its charts itself for this reason.
    lock = tmp_path / "requirements.lock"
    lock.write_text(LOCK.read_text() + "matplotlib==3.11.2\n")
    problems = wheel_check(lock, IMAGE_PLATFORMS["aarch64"])
    assert len(problems) == 1
    assert "matplotlib" in problems[0]


def test_a_lock_missing_a_dependency_is_found(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text(LOCK.read_text().replace("six==", "# six=="))
    problems = wheel_check(lock, IMAGE_PLATFORMS["amd64"])
    six = read_lock(LOCK)["six"]
    assert problems == [f"{IMAGE_PLATFORMS['amd64']}: six {six} is needed but not in the lock"]


def test_a_range_in_the_lock_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("numpy>=2.0\n")
    with pytest.raises(ValueError, match="does not pin one version"):
        read_lock(lock)
