"""Speech-to-text inside Home Assistant: pocketsphinx against a grammar of this home."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable
from typing import Any, Final

from homeassistant.components import stt
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.debounce import Debouncer
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from sotto.engine.stt.errors import SttError
from sotto.engine.stt.grammar import build_grammar, load_templates
from sotto.engine.stt.recognizer import AsyncRecognitionSession, Recognizer

from .const import DOMAIN, EntryKind
from .data import SottoConfigEntry
from .vocabulary import async_home_vocabulary, async_track_vocabulary

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0

LANGUAGE: Final = "en"
# Renaming several entities at once should rebuild the grammar once, not each time.
_REBUILD_COOLDOWN: Final = 2.0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SottoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the in-process speech-to-text entity to the home entry."""
    if entry.runtime_data.kind is EntryKind.HOME:
        async_add_entities([SottoLocalSpeechToText(entry)])


class SottoLocalSpeechToText(stt.SpeechToTextEntity):
    """Recognises only what can be said to this home, and says so when it hears otherwise."""

    _attr_has_entity_name = True
    _attr_translation_key = "local_stt"
    _attr_should_poll = False

    def __init__(self, entry: SottoConfigEntry) -> None:
        """Name the entity after the home entry."""
        self._attr_unique_id = f"{entry.entry_id}-local_stt"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry.entry_id)},
            name="Sotto",
            manufacturer="Sotto",
            entry_type=DeviceEntryType.SERVICE,
        )
        self._recognizer: Recognizer | None = None
        self._templates: dict[str, Any] | None = None
        self._grammar_error: str | None = None
        self._debouncer: Debouncer[Any] | None = None

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

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Why commands cannot be recognised, if the grammar could not be built."""
        return {"grammar_error": self._grammar_error} if self._grammar_error else {}

    async def async_added_to_hass(self) -> None:
        """Load the recogniser and build the first grammar, off the event loop."""
        await super().async_added_to_hass()
        self._debouncer = Debouncer(
            self.hass,
            _LOGGER,
            cooldown=_REBUILD_COOLDOWN,
            immediate=False,
            function=self._async_rebuild,
        )
        self.async_on_remove(self._debouncer.async_shutdown)
        self.async_on_remove(async_track_vocabulary(self.hass, self._vocabulary_changed))
        self._recognizer = await self.hass.async_add_executor_job(Recognizer)
        self._templates = await self.hass.async_add_executor_job(load_templates, LANGUAGE)
        await self._async_rebuild()

    @callback
    def _vocabulary_changed(self) -> None:
        if self._debouncer is not None:
            self._debouncer.async_schedule_call()

    async def _async_rebuild(self) -> None:
        """Build and compile the grammar for the home as it is now."""
        recognizer, templates = self._recognizer, self._templates
        if recognizer is None or templates is None:
            return
        home = async_home_vocabulary(self.hass)
        if home is None:
            self._grammar_error = "nothing is exposed to Assist yet"
            self.async_write_ha_state()
            return

        def compile_grammar() -> str:
            return recognizer.load(build_grammar(home, templates))

        try:
            digest = await self.hass.async_add_executor_job(compile_grammar)
        except SttError as err:
            # Keep the last good grammar; say why the new one failed.
            self._grammar_error = str(err)
            _LOGGER.error("Cannot build the speech grammar for this home: %s", err)
        else:
            self._grammar_error = None
            _LOGGER.debug("Speech grammar %s ready (%d entities)", digest, len(home.entities))
        self.async_write_ha_state()

    async def async_process_audio_stream(
        self, metadata: stt.SpeechMetadata, stream: AsyncIterable[bytes]
    ) -> stt.SpeechResult:
        """Decode as audio arrives; stop as soon as the words make a whole command."""
        recognizer = self._recognizer
        if recognizer is None or recognizer.digest is None:
            _LOGGER.warning("Speech-to-text is not ready: %s", self._grammar_error or "loading")
            return stt.SpeechResult(None, stt.SpeechResultState.ERROR)
        async with await AsyncRecognitionSession.start(recognizer) as session:
            async for chunk in stream:
                await session.feed(chunk)
                partial = await session.partial()
                if partial.complete and not partial.can_continue:
                    break
            result = await session.finish()
        if result.text is None:
            return stt.SpeechResult(None, stt.SpeechResultState.ERROR)
        return stt.SpeechResult(result.text, stt.SpeechResultState.SUCCESS)
