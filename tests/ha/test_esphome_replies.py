"""ESPHome replies and announcements: streamed to a speaker, or fetched by URL over HTTP.

A device whose voice assistant has no speaker of its own (a Voice PE-like media player)
is given its reply's URL with the TTS end event and fetches it from Home Assistant's real
HTTP server on 127.0.0.1; announcements reach it as ESPHome announce requests. The
pipeline's events reach every device as Home Assistant's own ESPHome integration sends
them, so its LEDs follow the run.
"""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import AsyncMock

import pytest
from aioesphomeapi.model import VoiceAssistantEventType, VoiceAssistantFeature
from homeassistant.components import tts
from homeassistant.components.assist_satellite import PREANNOUNCE_URL
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockModule,
    MockPlatform,
    mock_integration,
    mock_platform,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sotto.diagnostics import async_get_config_entry_diagnostics
from custom_components.sotto.esphome.transport import ERROR_NO_URL, UNSUPPORTED_SPEAKER
from demo.home import sotto_device
from demo.speech import speak, utterance
from sotto_voice.messages import ERROR_NO_SPEAKER
from tests.tools.fake_esphome import (
    ALL_FEATURES,
    MEDIA_PLAYER_FEATURES,
    FakeEsphomeDevice,
    new_key,
    running_device,
)

from .house import async_build_house, async_use_sotto_pipeline
from .test_esphome import MAC, MUTE, RECORDING, VOICE_EVENTS, _add_home, _pair
from .test_satellite import wait_for_state

pytestmark = pytest.mark.usefixtures("socket_enabled")

SATELLITE = "assist_satellite.kitchen_echo"
E = VoiceAssistantEventType


async def _serve_http(hass: HomeAssistant, hass_client: ClientSessionGenerator) -> str:
    """Start Home Assistant's HTTP app on 127.0.0.1 and make it the URL devices are given.

    Started after everything is set up: aiohttp freezes its routes once it serves.
    """
    client = await hass_client()
    url = str(client.make_url("")).rstrip("/")
    await hass.config.async_update(internal_url=url)
    return url


class _EspeakVoice(tts.Provider):
    """espeak-ng as a text-to-speech provider: real speech, without an engine process."""

    name = "espeak"

    @property
    def default_language(self) -> str:
        """English."""
        return "en"

    @property
    def supported_languages(self) -> list[str]:
        """English."""
        return ["en"]

    def get_tts_audio(
        self, message: str, language: str, options: dict[str, Any]
    ) -> tts.TtsAudioType:
        """Speak `message` as a 16 kHz mono WAV."""
        out = io.BytesIO()
        with wave.open(out, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(16000)
            wav.writeframes(speak(message))
        return "wav", out.getvalue()


async def _house_with_voice(hass: HomeAssistant) -> None:
    """Kitchen and bedroom lights, Sotto's speech-to-text, and espeak-ng's voice."""
    assert await async_setup_component(hass, "conversation", {})
    platform = MockPlatform()
    platform.async_get_engine = AsyncMock(return_value=_EspeakVoice())  # type: ignore[attr-defined]
    mock_integration(hass, MockModule("espeak"))
    mock_platform(hass, "espeak.tts", platform)
    assert await async_setup_component(hass, "tts", {"tts": {"platform": "espeak"}})
    await async_build_house(hass, {"Kitchen": ["Kitchen Light"], "Bedroom": ["Bedroom Lamp"]})
    await _add_home(hass)
    await async_use_sotto_pipeline(hass, tts_engine="espeak")


@pytest.fixture
async def voice_pe(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator
) -> AsyncIterator[tuple[FakeEsphomeDevice, str]]:
    """A paired device that plays through a media player (no voice-assistant speaker),
    and the base URL of Home Assistant's HTTP server it fetches from."""
    await _house_with_voice(hass)
    async with running_device(
        key=new_key(), features=int(MEDIA_PLAYER_FEATURES), has_media_player=True
    ) as device:
        entry = await _pair(hass, device)
        _put_in_kitchen(hass)
        await wait_for_state(hass, MUTE, STATE_OFF)
        yield device, await _serve_http(hass, hass_client_no_auth)
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


def _put_in_kitchen(hass: HomeAssistant) -> None:
    """The satellite stands in the kitchen: "the lights" are the kitchen's."""
    devices = dr.async_get(hass)
    satellite = sotto_device(hass, MAC)
    kitchen = ar.async_get(hass).async_get_area_by_name("Kitchen")
    assert satellite is not None
    assert kitchen is not None
    devices.async_update_device(satellite.id, area_id=kitchen.id)


def _data(device: FakeEsphomeDevice, event_type: VoiceAssistantEventType) -> dict[str, str]:
    return next(data for kind, data in device.events if kind is event_type)


async def test_reply_is_fetched_by_url(
    hass: HomeAssistant, voice_pe: tuple[FakeEsphomeDevice, str]
) -> None:
    """No speaker: the device gets the pipeline's events and fetches its reply over HTTP."""
    device, base_url = voice_pe
    await device.speak(utterance(0.3, "turn on the lights", 1.5))
    await wait_for_state(hass, "light.kitchen_light", STATE_ON)
    async with asyncio.timeout(30):
        await device.reply_done.wait()
    await wait_for_state(hass, SATELLITE, "idle")
    await wait_for_state(hass, RECORDING, STATE_OFF)
    assert hass.states.get("light.bedroom_lamp").state == STATE_OFF

    # The device followed the run as it does with Home Assistant's own integration.
    types = device.event_types()
    order = [
        E.VOICE_ASSISTANT_RUN_START,
        E.VOICE_ASSISTANT_STT_START,
        E.VOICE_ASSISTANT_STT_VAD_START,
        E.VOICE_ASSISTANT_STT_VAD_END,
        E.VOICE_ASSISTANT_STT_END,
        E.VOICE_ASSISTANT_INTENT_START,
        E.VOICE_ASSISTANT_INTENT_END,
        E.VOICE_ASSISTANT_TTS_START,
        E.VOICE_ASSISTANT_TTS_END,
        E.VOICE_ASSISTANT_RUN_END,
    ]
    assert [kind for kind in types if kind in order] == order, types
    assert "lights" in _data(device, E.VOICE_ASSISTANT_STT_END)["text"]
    intent_end = _data(device, E.VOICE_ASSISTANT_INTENT_END)
    assert intent_end["conversation_id"]
    assert intent_end["continue_conversation"] == "0"
    assert _data(device, E.VOICE_ASSISTANT_TTS_START)["text"]
    # Nothing was streamed to a speaker it does not have: it fetched the URL itself.
    assert E.VOICE_ASSISTANT_TTS_STREAM_START not in types
    url = _data(device, E.VOICE_ASSISTANT_TTS_END)["url"]
    assert url.startswith(f"{base_url}/api/tts_proxy/")
    (fetched,) = device.fetched
    assert fetched.url == url
    assert fetched.status == 200
    assert fetched.body.startswith(b"RIFF")  # the 16 kHz WAV Sotto asks for
    assert len(fetched.body) > 8000


async def test_announcement_is_fetched_by_the_device(
    hass: HomeAssistant, voice_pe: tuple[FakeEsphomeDevice, str]
) -> None:
    """assist_satellite.announce: the device fetches the chime and the spoken message."""
    device, base_url = voice_pe
    await hass.services.async_call(
        "assist_satellite",
        "announce",
        {"entity_id": SATELLITE, "message": "Dinner is ready"},
        blocking=True,
    )
    (announcement,) = device.announcements
    assert announcement.text == "Dinner is ready"
    assert announcement.media_id.startswith(f"{base_url}/api/tts_proxy/")
    assert announcement.preannounce_media_id == f"{base_url}{PREANNOUNCE_URL}"
    assert not announcement.start_conversation
    assert [fetched.status for fetched in device.fetched] == [200, 200]
    assert device.fetched[1].body.startswith(b"RIFF")
    # A media URL is passed on as it is; without the chime when asked.
    await hass.services.async_call(
        "assist_satellite",
        "announce",
        {"entity_id": SATELLITE, "media_id": f"{base_url}{PREANNOUNCE_URL}", "preannounce": False},
        blocking=True,
    )
    assert device.announcements[1].media_id == f"{base_url}{PREANNOUNCE_URL}"
    assert device.announcements[1].preannounce_media_id == ""
    assert hass.states.get(SATELLITE).state == "idle"


async def test_chatter_is_an_error_the_device_is_told(
    hass: HomeAssistant, voice_pe: tuple[FakeEsphomeDevice, str]
) -> None:
    """Not a command: the device gets the error's code and message, and nothing plays."""
    device, _ = voice_pe
    await device.speak(utterance(0.3, "the weather was lovely at the seaside", 1.5))
    await wait_for_state(hass, RECORDING, STATE_OFF)
    async with asyncio.timeout(30):
        await device.run_ended.wait()
    error = _data(device, E.VOICE_ASSISTANT_ERROR)
    assert error["code"] == "stt-no-text-recognized"
    assert error["message"]
    assert E.VOICE_ASSISTANT_TTS_END not in device.event_types()
    assert device.fetched == []


async def test_no_reachable_url_is_reported(hass: HomeAssistant) -> None:
    """Home Assistant has no URL a device can fetch from: the user is told, not left waiting."""
    await _house_with_voice(hass)
    async with running_device(
        key=new_key(), features=int(MEDIA_PLAYER_FEATURES), has_media_player=True
    ) as device:
        entry = await _pair(hass, device)
        _put_in_kitchen(hass)
        await wait_for_state(hass, MUTE, STATE_OFF)
        # No internal, external or local address of Home Assistant is known.
        hass.config.api = None
        codes: list[str] = []
        unsub = hass.bus.async_listen(
            "state_changed",
            lambda event: codes.append(event.data["new_state"].attributes.get("code"))
            if event.data["new_state"] and event.data["new_state"].entity_id == VOICE_EVENTS
            else None,
        )
        await device.speak(utterance(0.3, "turn on the lights", 1.5))
        await wait_for_state(hass, "light.kitchen_light", STATE_ON)
        async with asyncio.timeout(30):
            await device.run_ended.wait()
        await wait_for_state(hass, SATELLITE, "idle")
        unsub()
        assert ERROR_NO_URL in codes
        assert "url" not in _data(device, E.VOICE_ASSISTANT_TTS_END)
        assert device.fetched == []
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_speaker_device_gets_announcements_streamed(hass: HomeAssistant) -> None:
    """A speaker but no announce support: the announcement is streamed as a reply is,
    after HA's pre-announce chime (streamed the same way)."""
    await _house_with_voice(hass)
    async with running_device(key=new_key(), features=int(ALL_FEATURES)) as device:
        entry = await _pair(hass, device)
        await wait_for_state(hass, MUTE, STATE_OFF)
        await hass.services.async_call(
            "assist_satellite",
            "announce",
            {"entity_id": SATELLITE, "message": "Dinner is ready"},
            blocking=True,
        )
        async with asyncio.timeout(10):
            await device.reply_done.wait()
        assert device.announcements == []
        # The chime, then the message.
        start, end = E.VOICE_ASSISTANT_TTS_STREAM_START, E.VOICE_ASSISTANT_TTS_STREAM_END
        assert device.event_types() == [start, end, start, end]
        assert len(device.reply_audio) > 8000
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_device_that_cannot_play_says_why(hass: HomeAssistant) -> None:
    """No speaker and no media player: diagnostics say why, and an announcement is an error."""
    await _house_with_voice(hass)
    features = VoiceAssistantFeature.VOICE_ASSISTANT | VoiceAssistantFeature.API_AUDIO
    async with running_device(key=new_key(), features=int(features)) as device:
        entry = await _pair(hass, device)
        await wait_for_state(hass, MUTE, STATE_OFF)
        diagnostics = await async_get_config_entry_diagnostics(hass, entry)
        assert diagnostics["satellite"]["unsupported"]["speaker"] == UNSUPPORTED_SPEAKER
        await hass.services.async_call(
            "assist_satellite",
            "announce",
            {"entity_id": SATELLITE, "message": "Dinner is ready"},
            blocking=True,
        )
        assert hass.states.get(VOICE_EVENTS).attributes["code"] == ERROR_NO_SPEAKER
        assert device.announcements == []
        assert device.reply_audio == b""
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_question_is_fetched_then_the_spoken_answer_comes_back(
    hass: HomeAssistant, voice_pe: tuple[FakeEsphomeDevice, str]
) -> None:
    """assist_satellite.ask_question on an ESPHome device: it fetches the chime and the
    spoken question, listens by itself (as ESPHome firmware does after a start-conversation
    announcement), and its "no thanks" - not a command of this home - answers with id "no"."""
    device, base_url = voice_pe
    asking = hass.async_create_task(
        hass.services.async_call(
            "assist_satellite",
            "ask_question",
            {
                "entity_id": SATELLITE,
                "question": "Do you want the kitchen light on?",
                "answers": [
                    {"id": "yes", "sentences": ["yes [please]"]},
                    {"id": "no", "sentences": ["no [thanks]"]},
                ],
            },
            blocking=True,
            return_response=True,
        )
    )
    async with asyncio.timeout(30):
        while len(device.fetched) < 2:
            await asyncio.sleep(0.05)
    (announcement,) = device.announcements
    assert announcement.start_conversation
    assert announcement.text == "Do you want the kitchen light on?"
    assert announcement.preannounce_media_id == f"{base_url}{PREANNOUNCE_URL}"
    assert device.fetched[1].body.startswith(b"RIFF")
    await device.speak(utterance(0.3, "no thanks", 1.5), wake_word=None)
    async with asyncio.timeout(30):
        response = await asking
    assert response == {"id": "no", "sentence": "no thanks", "slots": {}}
    assert hass.states.get("light.kitchen_light").state == STATE_OFF
