"""The README's main command: the demo community starts, answers, and stops cleanly."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys

from tests.conftest import REPO


def test_demo_check_starts_every_part_twice(tmp_path: Path) -> None:
    """First run makes the state (certificates, onboarding, entry); the second one reuses it."""
    state = tmp_path / "demo"
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-m", "ioe_dev.demo", "--check", "--state", str(state)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Demo check passed" in result.stdout

    assert (state / "broker" / "tls" / "ca.crt").exists()
    assert "http:" not in (state / "ha-config" / "configuration.yaml").read_text()
