"""A real sotto-engine paired from HA's UI: its voices speak, its recogniser listens."""

from __future__ import annotations

from pathlib import Path

import pytest
from homeassistant import config_entries
from homeassistant.components import stt, tts
from homeassistant.components.tts.const import DATA_COMPONENT as TTS_ENTITIES
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sotto.const import DOMAIN, HOME_UNIQUE_ID
from demo.processes import EngineProcess, run_engine
from demo.speech import utterance

from .house import async_build_house
from .speech_input import METADATA, in_chunks

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def pair_engine(hass: HomeAssistant, engine: EngineProcess) -> config_entries.ConfigEntry:
    """Pair the engine through the config flow's menu, as a user would."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "engine"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"host": "127.0.0.1", "port": engine.port, "key": engine.key.to_base64()},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry: config_entries.ConfigEntry = result["result"]
    return entry


async def test_engine_speaks_and_recognises(hass: HomeAssistant, tmp_path: Path) -> None:
    """TTS returns real speech; remote STT recognises a command with the home's grammar."""
    assert await async_setup_component(hass, "conversation", {})
    await async_build_house(hass, {"Kitchen": ["Kitchen Light"], "Bedroom": ["Bedroom Lamp"]})
    home = MockConfigEntry(domain=DOMAIN, unique_id=HOME_UNIQUE_ID, data={"kind": "home"})
    home.add_to_hass(hass)
    assert await hass.config_entries.async_setup(home.entry_id)

    async with run_engine(tmp_path) as engine:
        entry = await pair_engine(hass, engine)
        assert entry.unique_id == engine.device_id

        extension, audio = await tts.async_get_media_source_audio(
            hass,
            tts.generate_media_source_id(
                hass,
                "The kitchen light is on.",
                "tts.engine_text_to_speech",
                "en",
                options={tts.ATTR_PREFERRED_FORMAT: "wav"},
            ),
        )
        assert extension == "wav"
        assert len(audio) > 16000  # more than half a second of 16 kHz speech

        speaker = hass.data[TTS_ENTITIES].get_entity("tts.engine_text_to_speech")
        assert speaker is not None
        assert "en" in speaker.supported_languages
        voices = speaker.async_get_supported_voices("en") or []
        # No piper voice installed: the engine offers its espeak-ng fallback.
        assert any(voice.voice_id.startswith("espeak-ng") for voice in voices)

        engine_stt = stt.async_get_speech_to_text_entity(hass, "stt.engine_speech_to_text")
        assert engine_stt is not None

        heard = await engine_stt.async_process_audio_stream(
            METADATA, in_chunks(utterance(0.3, "turn off the bedroom lamp", 0.6))
        )
        assert heard.result is stt.SpeechResultState.SUCCESS
        assert heard.text == "turn off the bedroom lamp"
        rejected = await engine_stt.async_process_audio_stream(
            METADATA, in_chunks(utterance(0.3, "what time does the game start", 0.6))
        )
        assert rejected.text is None

        engine.process.terminate()
        await engine.process.wait()
        # The engine is gone: speaking fails cleanly (no audio), it does not hang or raise.
        assert await speaker.async_get_tts_audio("Hello", "en", {}) == (None, None)

        await hass.config_entries.async_unload(entry.entry_id)
        await hass.config_entries.async_unload(home.entry_id)
        await hass.async_block_till_done()


async def test_satellite_form_refuses_an_engine(hass: HomeAssistant, tmp_path: Path) -> None:
    """Pairing an engine as a satellite says what is at that address."""
    MockConfigEntry(domain=DOMAIN, unique_id=HOME_UNIQUE_ID, data={"kind": "home"}).add_to_hass(
        hass
    )
    async with run_engine(tmp_path) as engine:
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": config_entries.SOURCE_USER}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "satellite"}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {"host": "127.0.0.1", "port": engine.port, "key": engine.key.to_base64()},
        )
        assert result["errors"] == {"base": "not_a_satellite"}
