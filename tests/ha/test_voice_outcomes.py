"""A command HA cannot carry out is reported as not understood, to automations and history."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import area_registry as ar
from homeassistant.setup import async_setup_component

from custom_components.sotto.history.model import Outcome
from demo.home import wait_for_state
from demo.processes import run_satellite
from demo.speech import utterance

from .house import async_build_house, async_use_sotto_pipeline
from .test_history import async_setup_home
from .test_satellite import pair

pytestmark = pytest.mark.usefixtures("socket_enabled")

RECORDING = "binary_sensor.kitchen_satellite_recording"
VOICE_EVENTS = "event.kitchen_satellite_voice_events"


@pytest.mark.parametrize("transcripts", [False, True], ids=["default", "opted-in"])
async def test_lights_in_a_room_without_lights_is_not_understood(
    hass: HomeAssistant, tmp_path: Path, transcripts: bool
) -> None:
    """Asking for the lights in the garage, where there are none: nothing turns on, the voice
    event says not_understood (with HA's reason) and the history keeps that outcome. What
    was heard is in the event only if the user opted in, and never for the recorder."""
    assert await async_setup_component(hass, "conversation", {})
    await async_build_house(hass, {"Kitchen": ["Kitchen Light"]})
    ar.async_get(hass).async_create("Garage")
    home, store = await async_setup_home(hass, tmp_path / "config")
    if transcripts:
        flow = await hass.config_entries.options.async_init(home.entry_id)
        await hass.config_entries.options.async_configure(
            flow["flow_id"],
            {
                "transcript_days": "7",
                "keep_audio": False,
                "audio_days": 1,
                "event_transcripts": True,
            },
        )
    async with run_satellite(tmp_path / "kitchen") as satellite:
        entry = await pair(hass, satellite, "Kitchen")
        await async_use_sotto_pipeline(hass)
        outcomes: list[tuple[str, str | None]] = []
        heard: list[str | None] = []

        @callback
        def follow(event: Event[EventStateChangedData]) -> None:
            new = event.data["new_state"]
            if new is not None and new.entity_id == VOICE_EVENTS:
                outcomes.append((new.attributes["event_type"], new.attributes.get("reason")))
                if new.attributes["event_type"] == "not_understood":
                    heard.append(new.attributes.get("transcript"))

        unsub = hass.bus.async_listen("state_changed", follow)
        satellite.say(utterance(0.3, "okay nabu", 0.4, "turn on the lights in the garage", 1.5))
        async with asyncio.timeout(60):
            while not any(kind == "not_understood" for kind, _reason in outcomes):
                await asyncio.sleep(0.1)
        await wait_for_state(hass, RECORDING, "off")
        unsub()
        assert ("not_understood", "no_valid_targets") in outcomes
        assert heard == (["turn on the lights in the garage"] if transcripts else [None])
        state_info = hass.states.get(VOICE_EVENTS).state_info
        assert state_info is not None
        assert "transcript" in state_info["unrecorded_attributes"]
        assert "intent_handled" not in [kind for kind, _reason in outcomes]
        assert hass.states.get("light.kitchen_light").state == "off"
        async with asyncio.timeout(30):
            while not await store.async_list():
                await asyncio.sleep(0.1)
        [row] = await store.async_list()
        assert row.outcome is Outcome.NOT_UNDERSTOOD
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.config_entries.async_unload(home.entry_id)
        await hass.async_block_till_done()
