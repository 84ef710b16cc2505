"""The scripts a new user runs first."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_help_is_printed_without_setting_up_first() -> None:
    """`./scripts/demo --help` answers at once: nothing of setup's output glued onto it."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "demo"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ./scripts/demo")
    assert "--serve" in done.stdout
    assert "setup:" not in done.stdout + done.stderr
