"""Speech-to-text: pocketsphinx against this home's grammar, in HA or on a sotto-engine."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable
from pathlib import Path
from typing import Any

from homeassistant.components import stt
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.storage import STORAGE_DIR

from sotto_voice.engine.stt.errors import SttError
from sotto_voice.engine.stt.stream import recognise
from sotto_voice.engine.stt.worker import RecognizerPool

from .const import DOMAIN
from .data import (
    EngineConfigEntry,
    EngineData,
    HomeConfigEntry,
    HomeData,
    SottoConfigEntry,
    entry_holds,
)
from .engine import EngineError
from .grammar import LANGUAGE, question_answers
from .home_device import home_device_info

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SottoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add in-process STT to the home entry, and remote STT to an engine entry."""
    if entry_holds(entry, HomeData):
        if entry.runtime_data.local_recognizer:
            async_add_entities([SottoLocalSpeechToText(entry)])
    elif entry_holds(entry, EngineData):
        async_add_entities([SottoEngineSpeechToText(entry)])


class _SottoSpeechToText(stt.SpeechToTextEntity):
    """What both recognisers share: the audio they take and how they are named."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    @property
    def supported_languages(self) -> list[str]:
        """English: the acoustic model that ships in pocketsphinx's wheel."""
        return [LANGUAGE]

    @property
    def supported_formats(self) -> list[stt.AudioFormats]:
        """Raw PCM or WAV."""
        return [stt.AudioFormats.WAV]

    @property
    def supported_codecs(self) -> list[stt.AudioCodecs]:
        """16-bit PCM."""
        return [stt.AudioCodecs.PCM]

    @property
    def supported_bit_rates(self) -> list[stt.AudioBitRates]:
        """16 bits per sample."""
        return [stt.AudioBitRates.BITRATE_16]

    @property
    def supported_sample_rates(self) -> list[stt.AudioSampleRates]:
        """16 kHz, what the model was trained on."""
        return [stt.AudioSampleRates.SAMPLERATE_16000]

    @property
    def supported_channels(self) -> list[stt.AudioChannels]:
        """Mono."""
        return [stt.AudioChannels.CHANNEL_MONO]


class SottoLocalSpeechToText(_SottoSpeechToText):
    """Recognises only what can be said to this home, inside Home Assistant."""

    _attr_translation_key = "local_stt"

    def __init__(self, entry: HomeConfigEntry) -> None:
        """Belong to the home's device."""
        self._attr_unique_id = f"{entry.entry_id}-local_stt"
        self._attr_device_info = home_device_info()
        self._grammar = entry.runtime_data.grammar
        self._recognizer: RecognizerPool | None = None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Why commands cannot be recognised, if the grammar could not be built."""
        return {"grammar_error": self._grammar.error} if self._grammar.error else {}

    async def async_added_to_hass(self) -> None:
        """Start pocketsphinx in its own process; compile each new grammar before use.

        pocketsphinx holds Python's interpreter lock while it decodes, so in a thread of
        this process it would stall Home Assistant's event loop; a child process decodes
        on its own core instead.
        """
        await super().async_added_to_hass()
        # What it learns of the microphones' sound (13 numbers, no audio) is kept, so the
        # first command after a restart is decoded once and can stop early.
        recognizer = RecognizerPool(
            cmn_file=Path(self.hass.config.path(STORAGE_DIR, f"{DOMAIN}.stt_cmn"))
        )
        self._recognizer = recognizer
        self.async_on_remove(self._grammar.add_compiler(recognizer.load))
        self.async_on_remove(self._grammar.subscribe(self.async_write_ha_state))
        if self._grammar.grammar is not None:
            await recognizer.load(self._grammar.grammar)

    async def async_will_remove_from_hass(self) -> None:
        """Stop the recognition process."""
        recognizer, self._recognizer = self._recognizer, None
        if recognizer is not None:
            await recognizer.close()

    async def async_process_audio_stream(
        self, metadata: stt.SpeechMetadata, stream: AsyncIterable[bytes]
    ) -> stt.SpeechResult:
        """Decode as audio arrives; stop once the words make a whole command (see recognise)."""
        recognizer = self._recognizer
        if recognizer is None or recognizer.digest is None:
            _LOGGER.warning("Speech-to-text is not ready: %s", self._grammar.error or "loading")
            return stt.SpeechResult(None, stt.SpeechResultState.ERROR)
        try:
            digest = None
            if answers := question_answers.get():
                # This satellite asked a question: its answers are heard too, in this run only.
                grammar = await self._grammar.async_grammar(answers)
                if grammar is not None:
                    digest = await recognizer.load(grammar, current=False)
            async with await recognizer.open(digest) as session:
                result = await recognise(session, stream)
        except SttError as err:  # the recognition process died: this command is lost
            _LOGGER.error("Speech-to-text failed: %s", err)
            return stt.SpeechResult(None, stt.SpeechResultState.ERROR)
        # Never the words themselves: a log outlives every purge of the history.
        _LOGGER.debug(
            "%s %d words: confidence %.2f (threshold %.2f) over %d frames",
            "Heard" if result.accepted else "Rejected",
            len(result.hypothesis.split()),
            result.confidence,
            result.threshold,
            result.frames,
        )
        # A rejected utterance is a success with no text: the pipeline reports
        # "no text recognized" (not understood) rather than a failure.
        return stt.SpeechResult(result.text, stt.SpeechResultState.SUCCESS)


class SottoEngineSpeechToText(_SottoSpeechToText):
    """The same recogniser, running in a sotto-engine on another host."""

    _attr_translation_key = "engine_stt"

    def __init__(self, entry: EngineConfigEntry) -> None:
        """Belong to the engine's device."""
        self._attr_unique_id = f"{entry.unique_id or entry.entry_id}-stt"
        self._engine = entry.runtime_data.engine
        self._attr_device_info = self._engine.device_info

    async def async_process_audio_stream(
        self, metadata: stt.SpeechMetadata, stream: AsyncIterable[bytes]
    ) -> stt.SpeechResult:
        """Send the grammar (if the engine lacks it), then the audio."""
        home = self._engine.home_grammar()
        # With a question open on the satellite, the grammar holds its answers too.
        grammar = await home.async_grammar(question_answers.get()) if home else None
        if grammar is None:
            _LOGGER.warning("No speech grammar to send to %s yet", self._engine.name)
            return stt.SpeechResult(None, stt.SpeechResultState.ERROR)
        try:
            text = await self._engine.transcribe(grammar, stream)
        except EngineError as err:
            _LOGGER.warning("%s could not transcribe: %s", self._engine.name, err)
            return stt.SpeechResult(None, stt.SpeechResultState.ERROR)
        return stt.SpeechResult(text, stt.SpeechResultState.SUCCESS)
