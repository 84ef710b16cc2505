"""ask_question on a real satellite: the question is played, the spoken answer comes back.

Sotto's recognisers hear only the home's sentences; while a question is open, its answers
are added to the grammar of the satellite that asked, and only for that answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from homeassistant.components.assist_pipeline.pipeline import (
    async_get_pipeline,
    async_update_pipeline,
)
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.setup import async_setup_component

from custom_components.sotto.data import home_data
from demo.processes import SatelliteProcess, run_engine, run_satellite
from demo.speech import speak, utterance, wav_seconds, write_wav

from .house import async_build_house, async_use_sotto_pipeline
from .test_end_to_end import _pair
from .test_engine import pair_engine
from .test_satellite import pair, wait_for_state

pytestmark = pytest.mark.usefixtures("socket_enabled")

SATELLITE = "assist_satellite.kitchen_satellite"
RECORDING = "binary_sensor.kitchen_satellite_recording"
VOICE_EVENTS = "event.kitchen_satellite_voice_events"
YES_NO = [
    {"id": "yes", "sentences": ["yes [please]", "sure"]},
    {"id": "no", "sentences": ["no [thanks]"]},
]


async def _ask_and_answer(
    hass: HomeAssistant,
    satellite: SatelliteProcess,
    answer: str,
    question: dict[str, Any],
    meanwhile: Callable[[], object] | None = None,
) -> dict[str, Any]:
    """Ask on the satellite; once its microphone is open, say `answer` into it (and do
    `meanwhile` at the same moment)."""
    recording: list[str] = []

    @callback
    def follow(event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        if new is not None and event.data["entity_id"] == RECORDING:
            recording.append(new.state)

    unsub = hass.bus.async_listen("state_changed", follow)
    before = set(satellite.replies())
    asking = hass.async_create_task(
        hass.services.async_call(
            "assist_satellite",
            "ask_question",
            {"entity_id": SATELLITE, **question},
            blocking=True,
            return_response=True,
        )
    )
    try:
        async with asyncio.timeout(60):
            while STATE_ON not in recording:
                await asyncio.sleep(0.05)
        # The question was played before the microphone opened.
        played = [path for path in satellite.replies() if path not in before]
        assert max(wav_seconds(path) or 0.0 for path in played) > 1.0
        satellite.say(utterance(0.3, answer, 1.5))
        if meanwhile is not None:
            meanwhile()
        async with asyncio.timeout(60):
            response = await asking
    finally:
        unsub()
    assert response is not None
    await wait_for_state(hass, RECORDING, STATE_OFF)
    return dict(response)


def _follow_not_understood(
    hass: HomeAssistant, voice_events: str
) -> tuple[list[str], Callable[[], None]]:
    """The reasons of `not_understood` voice events from now on, and the unsubscribe."""
    reasons: list[str] = []

    @callback
    def follow(event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        if (
            new is not None
            and event.data["entity_id"] == voice_events
            and new.attributes.get("event_type") == "not_understood"
        ):
            reasons.append(new.attributes.get("reason", ""))

    return reasons, hass.bus.async_listen("state_changed", follow)


async def _first_reasons(reasons: list[str], unsub: Callable[[], None]) -> list[str]:
    """Wait for a `not_understood` event, stop following them, return their reasons."""
    async with asyncio.timeout(60):
        while not reasons:
            await asyncio.sleep(0.05)
    unsub()
    return reasons


def _question(clip: Path, answers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The action's data: a recorded question, no chime, these answers."""
    data: dict[str, Any] = {"question_media_id": clip.as_uri(), "preannounce": False}
    if answers is not None:
        data["answers"] = answers
    return data


async def _unload(hass: HomeAssistant) -> None:
    for entry in hass.config_entries.async_entries("sotto"):
        await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def _setup(hass: HomeAssistant, satellite: SatelliteProcess) -> None:
    assert await async_setup_component(hass, "conversation", {})
    await async_build_house(hass, {"Kitchen": ["Kitchen Light"], "Bedroom": ["Bedroom Lamp"]})
    await _pair(hass, satellite, "Kitchen")
    await async_use_sotto_pipeline(hass)
    await hass.async_block_till_done()


async def test_yes_answers_the_question_then_means_nothing_again(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """'yes' is not a command of this home, yet it answers the question (id 'yes'); once
    the question is over, 'yes' after the wake word is not understood."""
    clip = write_wav(tmp_path / "question.wav", speak("do you want the kitchen light on"))
    async with run_satellite(tmp_path / "satellite") as satellite:
        await _setup(hass, satellite)
        response = await _ask_and_answer(hass, satellite, "yes", _question(clip, YES_NO))
        assert response == {"id": "yes", "sentence": "yes", "slots": {}}
        # The voice history shows an answered question, not an interrupted command.
        history = home_data(hass)
        assert history is not None
        assert history.history is not None
        async with asyncio.timeout(30):
            while not (kept := await history.history.async_list()):
                await asyncio.sleep(0.05)
        (answered,) = kept
        assert (answered.outcome, answered.trigger) == ("handled", "push_to_talk")

        not_understood, unsub = _follow_not_understood(hass, VOICE_EVENTS)
        satellite.say(utterance(0.3, "okay nabu", 0.4, "yes", 1.5))
        assert await _first_reasons(not_understood, unsub) == ["stt-no-text-recognized"]
        await _unload(hass)


async def test_an_answer_that_is_none_of_the_answers_has_no_id(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """A command of the home said in answer comes back as the sentence with no id, as HA
    does, and is not carried out: the kitchen light stays off."""
    clip = write_wav(tmp_path / "question.wav", speak("do you want the kitchen light on"))
    async with run_satellite(tmp_path / "satellite") as satellite:
        await _setup(hass, satellite)
        response = await _ask_and_answer(
            hass, satellite, "turn on the kitchen light", _question(clip, YES_NO)
        )
        assert response == {"id": None, "sentence": "turn on the kitchen light", "slots": {}}
        assert hass.states.get("light.kitchen_light").state == STATE_OFF
        await _unload(hass)


async def test_only_the_satellite_that_asked_hears_the_answers(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """While the kitchen waits for its answer, "yes" said to the bedroom satellite at the
    same moment is not understood there: the answers are in the kitchen's grammar alone."""
    clip = write_wav(tmp_path / "question.wav", speak("do you want the kitchen light on"))
    async with (
        run_satellite(tmp_path / "kitchen") as kitchen,
        run_satellite(
            tmp_path / "bedroom", device_id="bedroom-satellite", name="Bedroom satellite"
        ) as bedroom,
    ):
        await _setup(hass, kitchen)
        await pair(hass, bedroom, "Bedroom")
        await wait_for_state(hass, "switch.bedroom_satellite_mute", STATE_OFF)
        not_understood, unsub = _follow_not_understood(hass, "event.bedroom_satellite_voice_events")
        response = await _ask_and_answer(
            hass,
            kitchen,
            "yes",
            _question(clip, YES_NO),
            meanwhile=lambda: bedroom.say(utterance(0.3, "okay nabu", 0.4, "yes", 1.5)),
        )
        assert response == {"id": "yes", "sentence": "yes", "slots": {}}
        assert await _first_reasons(not_understood, unsub) == ["stt-no-text-recognized"]
        await _unload(hass)


async def test_a_free_question_hears_only_what_the_grammar_knows(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """Without answers nothing is added to the grammar: a command of the home is the
    sentence that comes back; "yes" is not recognised, and the action fails as HA's does
    when no answer was heard."""
    clip = write_wav(tmp_path / "question.wav", speak("anything else"))
    question = _question(clip)
    async with run_satellite(tmp_path / "satellite") as satellite:
        await _setup(hass, satellite)
        response = await _ask_and_answer(hass, satellite, "turn off the bedroom lamp", question)
        assert response == {"id": None, "sentence": "turn off the bedroom lamp", "slots": {}}
        with pytest.raises(HomeAssistantError, match="No answer from question"):
            await _ask_and_answer(hass, satellite, "yes", question)
        await _unload(hass)


async def test_an_engine_hears_the_answer_and_its_slot(
    hass: HomeAssistant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With a sotto-engine recognising for the pipeline, the answers reach its grammar too;
    an answer naming one of the home's areas comes back with that slot. An answer with a
    free list cannot be spoken against a grammar: the log says which."""
    clip = write_wav(tmp_path / "question.wav", speak("which room shall I heat"))
    async with (
        run_engine(tmp_path / "engine") as engine,
        run_satellite(tmp_path / "satellite") as satellite,
    ):
        await _setup(hass, satellite)
        await pair_engine(hass, engine)
        await async_update_pipeline(
            hass, async_get_pipeline(hass), stt_engine="stt.engine_speech_to_text"
        )
        response = await _ask_and_answer(
            hass,
            satellite,
            "the bedroom please",
            _question(
                clip,
                [
                    {"id": "room", "sentences": ["[in] the {area} [please]"]},
                    {"id": "none", "sentences": ["nowhere"]},
                    {"id": "music", "sentences": ["play {album}"]},
                ],
            ),
        )
        assert response == {
            "id": "room",
            "sentence": "the bedroom please",
            "slots": {"area": "bedroom"},
        }
        assert "Cannot recognise the answer play {album} (no values for list {album})" in (
            caplog.text
        )
        await _unload(hass)
