"""A spoken command through a real satellite process, the link, HA's pipeline and lights."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import pytest
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sotto.const import DOMAIN, HOME_UNIQUE_ID
from demo.processes import SatelliteProcess, run_engine, run_satellite
from demo.speech import utterance

from .house import async_build_house, async_use_sotto_pipeline
from .test_engine import pair_engine
from .test_satellite import pair, wait_for_state

pytestmark = pytest.mark.usefixtures("socket_enabled")

RECORDING = "binary_sensor.kitchen_satellite_recording"
VOICE_EVENTS = "event.kitchen_satellite_voice_events"
MUTE = "switch.kitchen_satellite_mute"


def _spoken_replies(satellite: SatelliteProcess) -> list[Path]:
    """Speaker files longer than the satellite's chimes: replies that were spoken."""
    spoken = []
    for path in satellite.replies():
        with wave.open(str(path)) as clip:
            if clip.getnframes() > clip.getframerate() * 0.6:
                spoken.append(path)
    return spoken


async def _pair(hass: HomeAssistant, satellite: SatelliteProcess, area: str) -> MockConfigEntry:
    """The home entry (speech-to-text), then the satellite, placed in `area`."""
    home = MockConfigEntry(domain=DOMAIN, unique_id=HOME_UNIQUE_ID, data={"kind": "home"})
    home.add_to_hass(hass)
    assert await hass.config_entries.async_setup(home.entry_id)
    return await pair(hass, satellite, area)


async def test_turn_on_the_lights_in_the_kitchen(hass: HomeAssistant, tmp_path: Path) -> None:
    """Only the kitchen lights come on; recording is on exactly around the stream."""
    assert await async_setup_component(hass, "conversation", {})
    await async_build_house(hass, {"Kitchen": ["Kitchen Light"], "Bedroom": ["Bedroom Lamp"]})
    async with (
        run_engine(tmp_path / "engine") as engine,
        run_satellite(tmp_path / "kitchen") as satellite,
    ):
        entry = await _pair(hass, satellite, "Kitchen")
        engine_entry = await pair_engine(hass, engine)
        await async_use_sotto_pipeline(hass, tts_engine="tts.engine_text_to_speech")
        await hass.async_block_till_done()

        recording: list[str] = []
        voice: list[str] = []

        @callback
        def follow(event: Event[EventStateChangedData]) -> None:
            new = event.data["new_state"]
            if new is None:
                return
            if new.entity_id == RECORDING:
                recording.append(new.state)
            elif new.entity_id == VOICE_EVENTS:
                voice.append(new.attributes.get("event_type", ""))

        unsub = hass.bus.async_listen("state_changed", follow)
        satellite.say(utterance(0.3, "okay nabu", 0.4, "turn on the lights", 1.5))
        await wait_for_state(hass, "light.kitchen_light", STATE_ON)
        await wait_for_state(hass, RECORDING, STATE_OFF)
        # The spoken reply is played by the satellite's speaker (a WAV file sink here);
        # the satellite's own chimes are files too, but short ones.
        async with asyncio.timeout(30):
            while not _spoken_replies(satellite) or "intent_handled" not in voice:
                await asyncio.sleep(0.1)
        unsub()

        assert hass.states.get("light.bedroom_lamp").state == STATE_OFF
        assert recording == [STATE_ON, STATE_OFF]
        assert voice.index("wake_word_detected") < voice.index("listening_started")
        assert voice.index("listening_started") < voice.index("listening_finished")
        assert voice.index("listening_started") < voice.index("intent_handled")
        assert "transcript" not in hass.states.get(VOICE_EVENTS).attributes
        assert _spoken_replies(satellite)

        await hass.config_entries.async_unload(entry.entry_id)
        await hass.config_entries.async_unload(engine_entry.entry_id)
        await hass.async_block_till_done()
