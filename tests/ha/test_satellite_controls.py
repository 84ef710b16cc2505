"""The satellite's settings changed from HA: the satellite applies them and reports back."""

from __future__ import annotations

from pathlib import Path

import pytest
from homeassistant.core import HomeAssistant

from demo.home import wait_for_state
from demo.processes import run_satellite

from .test_satellite import pair

pytestmark = pytest.mark.usefixtures("socket_enabled")

VOLUME = "number.kitchen_satellite_volume"
WAKE_WORD = "select.kitchen_satellite_wake_word"
SENSITIVITY = "select.kitchen_satellite_wake_word_sensitivity"
WAKE_WORD_2 = "select.kitchen_satellite_wake_word_2"


async def _select(hass: HomeAssistant, entity_id: str, option: str) -> None:
    """Choose an option, as the UI does; done once the satellite reports it applied."""
    await hass.services.async_call(
        "select", "select_option", {"entity_id": entity_id, "option": option}, blocking=True
    )
    await wait_for_state(hass, entity_id, option)


async def test_volume_wake_word_and_sensitivity_are_set_on_the_satellite(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """Each entity shows the value only once the satellite reports it has applied it,
    and the satellite keeps it across a restart (a second wake word too, until unset)."""
    async with run_satellite(tmp_path) as satellite:
        entry = await pair(hass, satellite)
        await hass.services.async_call(
            "number", "set_value", {"entity_id": VOLUME, "value": 40}, blocking=True
        )
        await wait_for_state(hass, VOLUME, "40")
        await _select(hass, SENSITIVITY, "high")
        await _select(hass, WAKE_WORD, "hey_jarvis")
        # A second wake word: none at first, and never the first one again.
        assert hass.states.get(WAKE_WORD_2).state == "no_wake_word"
        assert "hey_jarvis" not in hass.states.get(WAKE_WORD_2).attributes["options"]
        await _select(hass, WAKE_WORD_2, "alexa")
        key, port = satellite.key, satellite.port
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()

    async with run_satellite(tmp_path, key=key, port=port):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await wait_for_state(hass, WAKE_WORD, "hey_jarvis")
        assert hass.states.get(VOLUME).state == "40"
        assert hass.states.get(SENSITIVITY).state == "high"
        assert hass.states.get(WAKE_WORD_2).state == "alexa"
        await _select(hass, WAKE_WORD_2, "no_wake_word")
        assert hass.states.get(WAKE_WORD).state == "hey_jarvis"
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
