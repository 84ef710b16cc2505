"""Fixtures for tests that run the integration in a real Home Assistant."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

# The test plugin logs every SQL statement HA's recorder runs (INFO on sqlalchemy.engine):
# in a failing test's output that buries the lines that explain it, and the recorder's
# thread spills some between pytest's progress dots.
logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


@pytest.fixture(autouse=True)
async def _home_assistant_core(
    hass: HomeAssistant, enable_custom_integrations: None, tmp_path: Path
) -> None:
    """Load custom_components/sotto and HA's core integration, as a real install has.

    Each test gets its own config directory, so what one test stores (voice history,
    TTS cache) is never seen by another, and nothing is written into the test plugin.
    """
    hass.config.config_dir = str(tmp_path / "config")
    Path(hass.config.config_dir).mkdir()
    assert await async_setup_component(hass, "homeassistant", {})
