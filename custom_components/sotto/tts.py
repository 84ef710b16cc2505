"""Text-to-speech from a sotto-engine: piper voices, or espeak-ng when none is installed."""

from __future__ import annotations

import io
import logging
import wave
from typing import Any

from homeassistant.components import tts
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .data import EngineConfigEntry, EngineData, SottoConfigEntry, entry_holds
from .engine import EngineError
from .grammar import LANGUAGE

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SottoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the engine's text-to-speech entity."""
    if entry_holds(entry, EngineData):
        async_add_entities([SottoEngineTextToSpeech(entry)])


class SottoEngineTextToSpeech(tts.TextToSpeechEntity):
    """Speaks replies with the voices the engine reports."""

    _attr_has_entity_name = True
    _attr_translation_key = "engine_tts"
    _attr_should_poll = False

    def __init__(self, entry: EngineConfigEntry) -> None:
        """Belong to the engine's device."""
        self._attr_unique_id = f"{entry.unique_id or entry.entry_id}-tts"
        self._engine = entry.runtime_data.engine
        self._attr_device_info = self._engine.device_info
        self._attr_supported_options = [tts.ATTR_VOICE]

    def _voices(self) -> list[tts.Voice]:
        info = self._engine.info
        voices: list[tts.Voice] = []
        for program in info.tts if info else []:
            voices.extend(tts.Voice(voice.name, voice.name) for voice in program.voices)
        return voices

    @property
    def supported_languages(self) -> list[str]:
        """The languages of the engine's voices (English at least: the espeak-ng fallback)."""
        languages = {LANGUAGE}
        info = self._engine.info
        for program in info.tts if info else []:
            for voice in program.voices:
                languages.update(voice.languages)
        return sorted(languages)

    @property
    def default_language(self) -> str:
        """English."""
        return LANGUAGE

    @callback
    def async_get_supported_voices(self, language: str) -> list[tts.Voice] | None:
        """Every voice the engine has; the engine picks the right one for a language."""
        return self._voices() or None

    async def async_get_tts_audio(
        self, message: str, language: str, options: dict[str, Any]
    ) -> tts.TtsAudioType:
        """Synthesise on the engine and return a WAV file."""
        try:
            fmt, pcm = await self._engine.synthesize(message, options.get(tts.ATTR_VOICE))
        except EngineError as err:
            _LOGGER.warning("%s could not speak: %s", self._engine.name, err)
            return None, None
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as wav:
            wav.setframerate(fmt.rate)
            wav.setsampwidth(fmt.width)
            wav.setnchannels(fmt.channels)
            wav.writeframes(pcm)
        return "wav", buffer.getvalue()
