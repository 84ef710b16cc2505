"""The browser tests run Home Assistant as its own process (tests/ui/home.py), as
`./scripts/demo --serve` does: the guards pytest-homeassistant-custom-component puts
around HA running inside pytest do not apply to it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from tests.tools.own_process import _sockets_allowed, verify_cleanup

from .browser import CHROMIUM, MISSING
from .home import READY

REPO: Final = Path(__file__).resolve().parents[2]
START_TIMEOUT: Final = 240.0
SCREENSHOTS_ENV: Final = "SOTTO_SCREENSHOTS"

__all__ = ["_sockets_allowed", "home_assistant", "screenshots", "verify_cleanup"]


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests save what they saw: $SOTTO_SCREENSHOTS, or a pytest temporary dir."""
    where = os.environ.get(SCREENSHOTS_ENV)
    target = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture(scope="session")
def home_assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A real HA with Sotto, an engine and two satellites; what tests/ui/home.py wrote."""
    if CHROMIUM is None:
        pytest.skip(MISSING)
    workdir = tmp_path_factory.mktemp("ui-home")
    log = (workdir / "runner.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.ui.home", str(workdir)],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        ready = workdir / READY
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                output = (workdir / "runner.log").read_text()[-3000:]
                raise AssertionError(f"the test's Home Assistant did not start: {output}")
            time.sleep(0.2)
        yield json.loads(ready.read_text())
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
