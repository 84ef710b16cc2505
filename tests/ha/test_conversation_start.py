"""start_conversation on a real satellite: it says the opening line, then listens."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

import pytest
from homeassistant.components import conversation
from homeassistant.components.assist_pipeline.pipeline import (
    async_get_pipeline,
    async_update_pipeline,
)
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import intent
from pytest_homeassistant_custom_component.common import MockConfigEntry

from demo.home import wait_for_state
from demo.processes import run_satellite
from demo.speech import speak, write_wav

from .test_announcements import HA_CHIME, _decoded, _pcm
from .test_satellite import pair

pytestmark = pytest.mark.usefixtures("socket_enabled")

RECORDING = "binary_sensor.kitchen_satellite_recording"
VOICE_EVENTS = "event.kitchen_satellite_voice_events"


class _Agent(conversation.AbstractConversationAgent):
    """A conversation agent that can hold a conversation (HA's built-in one cannot)."""

    @property
    def supported_languages(self) -> Literal["*"]:
        return "*"

    async def async_process(
        self, user_input: conversation.ConversationInput
    ) -> conversation.ConversationResult:
        response = intent.IntentResponse(language=user_input.language)
        response.async_set_speech("Sure.")
        return conversation.ConversationResult(response=response)


async def async_use_agent(hass: HomeAssistant, agent: _Agent) -> None:
    """The preferred pipeline talks to `agent`."""
    agent_entry = MockConfigEntry(domain="test")
    agent_entry.add_to_hass(hass)
    conversation.async_set_agent(hass, agent_entry, agent)
    await async_update_pipeline(
        hass, async_get_pipeline(hass), conversation_engine=agent_entry.entry_id
    )


async def async_start_conversation(
    hass: HomeAssistant, line: Path, *, preannounce: bool = False
) -> None:
    """The kitchen satellite says the recorded line (after HA's chime only if
    `preannounce`), then listens."""
    await hass.services.async_call(
        "assist_satellite",
        "start_conversation",
        {
            "entity_id": "assist_satellite.kitchen_satellite",
            "start_media_id": line.as_uri(),
            "preannounce": preannounce,
        },
        blocking=True,
    )


@pytest.mark.parametrize("preannounce", [False, True])
async def test_start_conversation_plays_the_line_then_opens_the_microphone(
    hass: HomeAssistant, tmp_path: Path, preannounce: bool
) -> None:
    """The opening line reaches the speaker (after HA's pre-announce chime, unless turned
    off), then the satellite streams as if the user had pressed push-to-talk (the
    recording sensor shows it)."""
    line = speak("shall I turn off the lights")
    clip = write_wav(tmp_path / "question.wav", line)
    async with run_satellite(tmp_path / "satellite") as satellite:
        entry = await pair(hass, satellite)
        await async_use_agent(hass, _Agent())
        before = set(satellite.replies())
        recording: list[str] = []
        triggers: list[str] = []

        @callback
        def follow(event: Event[EventStateChangedData]) -> None:
            new = event.data["new_state"]
            if new is None:
                return
            if event.data["entity_id"] == RECORDING:
                recording.append(new.state)
            elif event.data["entity_id"] == VOICE_EVENTS and "trigger" in new.attributes:
                triggers.append(new.attributes["trigger"])

        unsub = hass.bus.async_listen("state_changed", follow)
        await async_start_conversation(hass, clip, preannounce=preannounce)
        played = [_pcm(path) for path in satellite.replies() if path not in before]
        assert played == ([await _decoded(HA_CHIME)] if preannounce else []) + [line]
        async with asyncio.timeout(30):
            while "on" not in recording:
                await asyncio.sleep(0.05)
        assert triggers[0] == "push_to_talk"
        # The pipeline has no speech-to-text here: the satellite is told to stop.
        await wait_for_state(hass, RECORDING, "off")
        unsub()
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
