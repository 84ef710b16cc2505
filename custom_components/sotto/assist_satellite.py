"""The Assist satellite entity: runs HA's voice pipeline for what a satellite heard."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

from homeassistant.components import assist_satellite, ffmpeg, intent, tts
from homeassistant.components.assist_pipeline import PipelineEvent, PipelineEventType
from homeassistant.components.assist_pipeline.pipeline import (
    PipelineInput,
    PipelineRun,
    PipelineStage,
    async_get_pipeline,
)
from homeassistant.components.assist_satellite import (
    AssistSatelliteAnnouncement,
    AssistSatelliteAnswer,
    AssistSatelliteConfiguration,
    AssistSatelliteEntity,
    AssistSatelliteEntityDescription,
    AssistSatelliteEntityFeature,
    AssistSatelliteWakeWord,
)
from homeassistant.components.assist_satellite.connection_test import CONNECTION_TEST_URL_BASE
from homeassistant.components.assist_satellite.const import PREANNOUNCE_FILENAME, PREANNOUNCE_URL
from homeassistant.core import Context, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import (
    area_registry as ar,
)
from homeassistant.helpers import (
    chat_session,
)
from homeassistant.helpers import (
    device_registry as dr,
)
from homeassistant.helpers import (
    entity_registry as er,
)
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.network import is_hass_url
from homeassistant.helpers.start import async_at_started
from homeassistant.util import dt as dt_util
from yarl import URL

from sotto_voice.audio import PcmFormat
from sotto_voice.engine.stt.model import Grammar
from sotto_voice.messages import (
    MAX_WAKE_WORDS,
    Configure,
    Recognized,
    StopReason,
    StreamTrigger,
    WakeHeard,
)

from .arbiter import WakeEvidence
from .audio import (
    CHANNELS,
    RATE,
    WIDTH,
    AudioFormatError,
    pcm_from_url,
    pcm_from_wav_stream,
    rechunk,
)
from .const import DOMAIN, HOME_UNIQUE_ID
from .data import SatelliteConfigEntry, home_data
from .entity import SottoSatelliteEntity
from .grammar import question_answers
from .history.model import Interaction, Outcome, RecognizedOn, Trigger
from .history.settings import OPTION_EVENT_TRANSCRIPTS
from .satellite import AudioStream, VoiceEvent
from .warmup import async_prepare_agent

_LOGGER = logging.getLogger(__name__)


def spoken(wake_word: str) -> str:
    """A wake word model's phrase from its ID: okay_nabu -> "Okay Nabu"."""
    return wake_word.replace("_", " ").title()


def _phrase(wake_word: str | None) -> str | None:
    """The phrase HA expects at the start of speech-to-text ("Okay Nabu"), as its own
    satellites give it."""
    return None if wake_word is None else spoken(wake_word)


def media_url_for_here(hass: HomeAssistant, media_id: str) -> str:
    """An announcement's media URL as Home Assistant itself can fetch it (ffmpeg runs here).

    HA makes media on itself (its TTS, media sources, the voice setup's test sound)
    absolute with the URL it gives other devices, which its own process may not reach (HA
    listening on one address, an external URL): such media is fetched from the address
    and port HA's web server listens on instead. HA's own pre-announce chime is read from
    its file: the default of every announcement needs no round trip through HTTP.
    """
    api = hass.config.api
    if api is None or not is_hass_url(hass, media_id):
        return media_id
    if URL(media_id).path == PREANNOUNCE_URL:
        return str(_HA_PREANNOUNCE)
    scheme = "https" if api.use_ssl else "http"
    return str(URL(media_id).with_scheme(scheme).with_host(api.host).with_port(api.port))


PARALLEL_UPDATES = 0

# How long a reply may take to play before the satellite is considered stuck.
_PLAYED_TIMEOUT: Final = 120.0
# How long a finished run waits for the satellite's end of its stream (it was told to stop).
_STOP_TIMEOUT: Final = 5.0
# Intent errors that mean "I did not understand", as opposed to a failure.
_NOT_UNDERSTOOD_CODES: Final = frozenset({"no_intent_match", "no_valid_targets"})
_NOT_UNDERSTOOD_ERRORS: Final = frozenset({"stt-no-text-recognized", "intent-failed"})
# HA reports a pipeline that cannot run (PipelineRunValidationError) as an error event with
# this code; Sotto's events and history call it "pipeline-invalid".
_HA_INVALID_PIPELINE: Final = "validation-error"
_PIPELINE_INVALID: Final = "pipeline-invalid"
# The history's error code of a command whose spoken reply did not (all) play.
REPLY_NOT_PLAYED: Final = "reply-not-played"
# Why a satellite stopped hearing a command before its end: told to by HA's arbiter, or
# a purge.
_NOT_HEARD_OUT: Final = frozenset({StopReason.YIELDED, StopReason.PURGED})
# The history's error code of a command a satellite heard but recognised as none it knows.
_NOTHING_RECOGNIZED: Final = "stt-no-text-recognized"

# The sound HA plays before an announcement unless told otherwise (HA serves it at
# PREANNOUNCE_URL).
_HA_PREANNOUNCE: Final = Path(assist_satellite.__file__).parent / PREANNOUNCE_FILENAME
# What ffmpeg decodes announcement media to (see `pcm_from_url`).
_DECODED: Final = PcmFormat(RATE, WIDTH, CHANNELS)

ASSIST = AssistSatelliteEntityDescription(key="assist_satellite")


async def _tee(chunks: AsyncIterator[bytes], keep: bytearray | None) -> AsyncIterator[bytes]:
    """Pass audio on to the pipeline, keeping a copy only if the user opted in."""
    async for chunk in chunks:
        if keep is not None:
            keep += chunk
        yield chunk


def _ms_since(mark: float | None) -> float | None:
    return None if mark is None else round((time.monotonic() - mark) * 1000, 1)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SatelliteConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the satellite's Assist satellite entity."""
    async_add_entities([SottoAssistSatellite(entry, ASSIST)])


class SottoAssistSatellite(SottoSatelliteEntity, AssistSatelliteEntity):
    """Runs a pipeline from the STT stage for each command the satellite streams, and from
    the intent stage for each command it recognised itself."""

    _attr_translation_key = "assist_satellite"
    _attr_name = None
    _attr_supported_features = (
        AssistSatelliteEntityFeature.ANNOUNCE | AssistSatelliteEntityFeature.START_CONVERSATION
    )

    def __init__(
        self, entry: SatelliteConfigEntry, description: AssistSatelliteEntityDescription
    ) -> None:
        """Attach to the satellite."""
        super().__init__(entry, description)
        self._entry = entry
        # Replies arrive as 16 kHz mono WAV, the format every satellite plays.
        self._attr_tts_options = {
            tts.ATTR_PREFERRED_FORMAT: "wav",
            tts.ATTR_PREFERRED_SAMPLE_RATE: RATE,
            tts.ATTR_PREFERRED_SAMPLE_CHANNELS: CHANNELS,
            tts.ATTR_PREFERRED_SAMPLE_BYTES: WIDTH,
        }
        self._stream: AudioStream | None = None
        self._stream_id: int | None = None
        self._claims: dict[int, asyncio.Task[bool]] = {}
        """Claims of commands heard on the satellite, by stream ID, until their text comes."""
        self._reply_task: asyncio.Task[None] | None = None
        self._interaction: Interaction | None = None
        self._marks: dict[str, float] = {}
        self._heard: str | None = None
        # While a question asked here waits for its answer: that, and the answers' sentences.
        self._asking = False
        self._answers: tuple[str, ...] = ()
        # Whether the current run is the answer to a question (it ends at speech-to-text).
        self._answering = False
        # Which wake word's pipeline runs: 0 for the first (and for anything not woken by
        # a wake word), 1 for the second ("Assistant 2"), as HA's ESPHome satellites do.
        self._active_pipeline_index = 0

    @property
    def pipeline_entity_id(self) -> str | None:
        """The pipeline select of the wake word heard (the first one's when none was)."""
        index = self._active_pipeline_index
        return self._sibling("select", "pipeline" if index < 1 else f"pipeline_{index + 1}")

    def _pipeline_index(self, wake_word: str | None) -> int:
        """Which of the satellite's wake words was heard (a device may report the model's
        ID or its phrase); 0 when none or another one."""
        state = self.satellite.state
        words = state.listening_for if state else ()
        return next(
            (
                index
                for index, word in enumerate(words)
                if wake_word is not None and wake_word in (word, spoken(word))
            ),
            0,
        )

    @property
    def vad_sensitivity_entity_id(self) -> str | None:
        """The satellite's finished-speaking detection select."""
        return self._sibling("select", "vad_sensitivity")

    def _sibling(self, platform: str, key: str) -> str | None:
        return er.async_get(self.hass).async_get_entity_id(
            platform, DOMAIN, f"{self._device_key}-{key}"
        )

    @property
    def _device_key(self) -> str:
        return self._entry.unique_id or self._entry.entry_id

    async def async_added_to_hass(self) -> None:
        """Start a pipeline run whenever the satellite starts sending a command."""
        await super().async_added_to_hass()
        self.satellite.on_stream = self._on_stream
        self.satellite.on_recognized = self._on_recognized
        self.satellite.on_wake_heard = self._on_wake_heard
        self.async_on_remove(self._stop_following_streams)
        self.async_on_remove(async_at_started(self.hass, self._prepare_agent))
        if self.registry_entry is not None and self.registry_entry.device_id:
            # Timers set by voice on this satellite are reported back to it.
            self.async_on_remove(
                intent.async_register_timer_handler(
                    self.hass, self.registry_entry.device_id, self._on_timer
                )
            )

    @callback
    def _stop_following_streams(self) -> None:
        if self.satellite.on_stream == self._on_stream:
            self.satellite.on_stream = None
        if self.satellite.on_recognized == self._on_recognized:
            self.satellite.on_recognized = None
        if self.satellite.on_wake_heard == self._on_wake_heard:
            self.satellite.on_wake_heard = None
        self._claims.clear()

    @callback
    def _prepare_agent(self, _hass: HomeAssistant) -> None:
        """Have the conversation agent ready before the first command (see warmup)."""
        try:
            pipeline_id = self._resolve_pipeline()
        except RuntimeError:  # the pipeline select has no state yet: the preferred one
            pipeline_id = None
        self._entry.async_create_background_task(
            self.hass,
            async_prepare_agent(self.hass, pipeline_id),
            f"sotto prepare conversation agent {self.entity_id}",
        )

    async def async_will_remove_from_hass(self) -> None:
        """End any reply still playing."""
        await super().async_will_remove_from_hass()
        if self._reply_task is not None:
            self._reply_task.cancel()

    @callback
    def async_get_configuration(self) -> AssistSatelliteConfiguration:
        """The satellite's wake words, by their spoken names (HA's voice setup wizard shows
        them); those it listens for, as the Wake word selects show them."""
        info, state = self.satellite.info, self.satellite.state
        words = info.wake_words if info else ()
        one = "wake_word_2" in self.satellite.connection.unsupported
        return AssistSatelliteConfiguration(
            available_wake_words=[
                # The on-device models (micro_wake_word) are trained on English.
                AssistSatelliteWakeWord(id=word, wake_word=spoken(word), trained_languages=["en"])
                for word in words
            ],
            active_wake_words=list(state.listening_for) if state else [],
            max_active_wake_words=1 if one else MAX_WAKE_WORDS,
        )

    async def async_set_configuration(self, config: AssistSatelliteConfiguration) -> None:
        """Have the satellite listen for the wake words chosen (in HA's wizard)."""
        if config.active_wake_words:
            words = tuple(config.active_wake_words[:MAX_WAKE_WORDS])
            change = Configure(wake_word=words[0], wake_words=words)
            await self.async_request(self.satellite.connection.async_configure(change))

    @callback
    def _on_timer(self, event_type: intent.TimerEventType, timer: intent.TimerInfo) -> None:
        """Forward a timer's life to the satellite."""
        self._entry.async_create_background_task(
            self.hass, self.satellite.connection.async_timer(event_type, timer), "sotto timer event"
        )

    # --- commands from the satellite --------------------------------------------------------

    @callback
    def _on_stream(self, stream: AudioStream) -> None:
        self._entry.async_create_background_task(
            self.hass, self._async_run(stream), f"sotto pipeline {self.entity_id}"
        )

    async def _async_claim(self, stream_id: int, evidence: WakeEvidence) -> bool:
        """Whether this satellite answers the wake word it heard (see arbiter.py); if not,
        it is told to stop at once.

        Only a wake word is arbitrated: a button or remote wake is meant for this one.
        """
        home = home_data(self.hass)
        if home is None:
            return True
        ruling = await home.arbiter.claim(self.satellite, evidence)
        if ruling:
            _LOGGER.debug("%s answers (waited %.3f s)", self.entity_id, ruling.waited)
            return True
        await self.satellite.async_yield(stream_id, ruling)
        return False

    @callback
    def _on_wake_heard(self, wake: WakeHeard) -> None:
        """A satellite that recognises itself claims at its wake, not when its text comes
        (seconds later, after a decode whose length varies from one satellite to another).

        Only a wake word is arbitrated, as for a stream.
        """
        if wake.trigger is not StreamTrigger.WAKE_WORD:
            return
        evidence = WakeEvidence(wake.speech_level, wake.wake_probability, wake.wake_time)
        self._claims[wake.stream_id] = self._entry.async_create_background_task(
            self.hass,
            self._async_claim(wake.stream_id, evidence),
            f"sotto claim {self.entity_id}",
        )

    def _begin(self, stream_id: int, trigger: StreamTrigger, wake_word: str | None) -> Interaction:
        """A new command: the history row it fills in, and its marks."""
        self._stream_id = stream_id
        self._marks = {"start": time.monotonic()}
        self._heard = None
        self._answering = self._asking
        self._active_pipeline_index = self._pipeline_index(wake_word)
        self._interaction = Interaction(
            started_at=dt_util.utcnow(),
            satellite_id=self._device_key,
            satellite_name=self.satellite.connection.name,
            trigger=Trigger(trigger.value),
            area=self._area_name(),
            wake_word=wake_word,
        )
        return self._interaction

    async def _async_run(self, stream: AudioStream) -> None:
        """Run the pipeline on one stream; the satellite is told when the run is over."""
        start = stream.start
        if start.trigger is StreamTrigger.WAKE_WORD and not await self._async_claim(
            start.stream_id, stream.evidence
        ):
            return  # nothing ran, so the history has nothing to keep
        self._stream = stream
        start = stream.start
        interaction = self._begin(start.stream_id, start.trigger, start.wake_word)
        home = home_data(self.hass)
        recorder = home.history if home else None
        audio = bytearray() if recorder is not None and recorder.keeps_audio else None
        if self._answers:
            # This run answers a question: its speech-to-text hears the answers too.
            question_answers.set(self._answers)
        try:
            pipeline = async_get_pipeline(self.hass, self._resolve_pipeline())
            run = self._entry.async_create_background_task(
                self.hass,
                self.async_accept_pipeline_from_satellite(
                    _tee(stream.chunks(), audio),
                    # Without a TTS engine the run ends at the intent; the satellite chimes.
                    end_stage=PipelineStage.TTS if pipeline.tts_engine else PipelineStage.INTENT,
                    wake_word_phrase=_phrase(stream.start.wake_word),
                ),
                f"sotto pipeline run {self.entity_id}",
            )
            await self._async_follow(run, stream)
        finally:
            if not stream.ended.is_set():
                # The run can end before the satellite's stop arrives (nothing was heard):
                # its seconds are the ones the satellite's ledger counts, so wait for them.
                # A run over with no end of speech (HA's voice wizard wanted only the wake
                # word) stops the audio itself; a satellite ignores the second stop.
                await self.satellite.connection.async_stop_streaming(start.stream_id)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_STOP_TIMEOUT):
                        await stream.ended.wait()
            if stream.lost is not None:
                # The command's audio is incomplete: whatever it recognised is not kept
                # as the user's command, and the row says why it ended.
                interaction.outcome = Outcome.INTERRUPTED
                interaction.error_code = stream.lost.value
            if stream.stop is not None:
                interaction.audio_seconds = stream.stop.seconds
                if stream.stop.reason is StopReason.NO_SPEECH:
                    interaction.outcome = Outcome.NO_SPEECH
            interaction.audio = bytes(audio) if audio else None
            if self._reply_task is None:
                await self._async_run_ended(stream.start.stream_id, interaction)

    @callback
    def _on_recognized(self, command: Recognized) -> None:
        self._entry.async_create_background_task(
            self.hass, self._async_run_recognized(command), f"sotto pipeline {self.entity_id}"
        )

    async def _async_run_recognized(self, command: Recognized) -> None:
        """Run the pipeline from the intent stage on a command the satellite recognised
        itself (no audio left the room); the satellite is told when the run is over.

        A command whose wake word was arbitrated waits for its claim: a satellite that
        yielded was told to stop before decoding, so its text rarely comes at all.
        """
        claim = self._claims.pop(command.stream_id, None)
        if claim is not None and not await claim:
            return
        if command.reason in _NOT_HEARD_OUT:
            return  # nothing was decoded, nothing runs, nothing is kept
        self._stream = None
        interaction = self._begin(command.stream_id, command.trigger, command.wake_word)
        interaction.recognized_on = RecognizedOn.SATELLITE
        interaction.audio_seconds = 0.0  # listened to on the satellite, none of it sent
        interaction.transcript = self._heard = command.text
        try:
            if self._answering:
                # The answer goes back to the question that asked, as speech-to-text's
                # result would; no intent follows.
                self._answer(command.text)
            elif self._intercepted(command):
                pass  # HA's voice wizard wanted only the wake word: nothing is carried out
            elif command.text is None:
                self._nothing_understood(command, interaction)
            else:
                await self._async_accept_text(command.text, command.wake_word)
        finally:
            if self._reply_task is None:
                await self._async_run_ended(command.stream_id, interaction)

    @callback
    def _intercepted(self, command: Recognized) -> bool:
        """Give the wake word's phrase to HA's voice wizard if it waits for it ("say the
        wake word"), as HA does for a streamed command, which it then ends at once."""
        future = self._wake_word_intercept_future
        if future is None or future.done() or command.wake_word is None:
            return False
        _LOGGER.debug("%s: the voice wizard heard its wake word", self.entity_id)
        future.set_result(spoken(command.wake_word))
        self._internal_on_pipeline_event(PipelineEvent(PipelineEventType.RUN_END))
        return True

    @callback
    def _answer(self, text: str | None) -> None:
        stt_end = {"stt_output": {"text": text}}
        self._internal_on_pipeline_event(PipelineEvent(PipelineEventType.STT_END, stt_end))
        self._internal_on_pipeline_event(PipelineEvent(PipelineEventType.RUN_END))

    @callback
    def _nothing_understood(self, command: Recognized, interaction: Interaction) -> None:
        """The satellite heard no command it knows: nothing is acted on."""
        if command.reason is StopReason.NO_SPEECH:
            interaction.outcome = Outcome.NO_SPEECH
            return
        self.satellite.fire(VoiceEvent.NOT_UNDERSTOOD, reason=_NOTHING_RECOGNIZED)
        interaction.outcome = Outcome.NOT_UNDERSTOOD
        interaction.error_code = _NOTHING_RECOGNIZED

    async def _async_accept_text(self, text: str, wake_word: str | None) -> None:
        """Run the pipeline from the intent stage with the satellite's device and area.

        What `async_accept_pipeline_from_satellite` does for audio, for text: the running
        run is cancelled, the entity's state follows the run's events, and the
        conversation goes on in the satellite's chat session.
        """
        await self._cancel_running_pipeline()
        extra_system_prompt, self._extra_system_prompt = self._extra_system_prompt, None
        context = Context()
        self.async_set_context(context)
        self._run_has_tts = False
        pipeline = async_get_pipeline(self.hass, self._resolve_pipeline())
        device_id = self.registry_entry.device_id if self.registry_entry else None
        with chat_session.async_get_chat_session(self.hass, self._conversation_id) as session:
            self._conversation_id = session.conversation_id
            pipeline_input = PipelineInput(
                session=session,
                intent_input=text,
                wake_word_phrase=_phrase(wake_word),
                conversation_extra_system_prompt=extra_system_prompt,
                device_id=device_id,
                satellite_id=self.entity_id,
                run=PipelineRun(
                    self.hass,
                    context=context,
                    pipeline=pipeline,
                    start_stage=PipelineStage.INTENT,
                    # Without a TTS engine the run ends at the intent; the satellite chimes.
                    end_stage=PipelineStage.TTS if pipeline.tts_engine else PipelineStage.INTENT,
                    event_callback=self._internal_on_pipeline_event,
                    tts_audio_output=self.tts_options,
                ),
            )
            self._pipeline_task = self._entry.async_create_background_task(
                self.hass, pipeline_input.execute(validate=True), f"{self.entity_id}_pipeline"
            )
            try:
                await self._pipeline_task
            finally:
                self._pipeline_task = None

    async def _async_follow(self, run: asyncio.Task[None], stream: AudioStream) -> None:
        """Wait for the pipeline run; end it at once if its stream is lost half-way.

        Its audio stopped in the middle of the command, so what was heard so far must not
        be acted on ("turn on the lights in the bed-" would turn on this room's lights).
        """
        lost = asyncio.create_task(stream.ended.wait())
        try:
            await asyncio.wait({run, lost}, return_when=asyncio.FIRST_COMPLETED)
            if not run.done() and stream.lost is not None:
                _LOGGER.info(
                    "%s: the command's audio stopped (%s); its pipeline run is ended",
                    self.entity_id,
                    stream.lost.value,
                )
                run.cancel()
                # A stalled satellite may still be sending: tell it to stop.
                self.hass.async_create_task(
                    self.satellite.connection.async_stop_streaming(stream.start.stream_id)
                )
            await asyncio.wait({run})
        finally:
            lost.cancel()
            if not run.done():
                run.cancel()
        if not run.cancelled() and (err := run.exception()) is not None:
            raise err

    def _area_name(self) -> str | None:
        """The area the satellite's device is in, as the user named it."""
        entry = self.registry_entry
        device = (
            dr.async_get(self.hass).async_get(entry.device_id)
            if entry and entry.device_id
            else None
        )
        area = (
            ar.async_get(self.hass).async_get_area(device.area_id)
            if device and device.area_id
            else None
        )
        return area.name if area else None

    async def _async_record(self, interaction: Interaction | None) -> None:
        """Hand a finished interaction to the history store (which may keep nothing)."""
        if interaction is None:
            return
        if interaction is self._interaction:
            self._interaction = None
            interaction.total_ms = _ms_since(self._marks.get("start"))
        else:
            # A newer command has started meanwhile: its marks are not this one's.
            elapsed = dt_util.utcnow() - interaction.started_at
            interaction.total_ms = round(elapsed.total_seconds() * 1000, 1)
        home = home_data(self.hass)
        if home is None or home.history is None:
            return
        try:
            await home.history.async_add(interaction)
        except HomeAssistantError as err:
            _LOGGER.error("Could not write the voice history: %s", err)

    @callback
    def on_pipeline_event(self, event: PipelineEvent) -> None:
        """Steer the satellite by the pipeline's progress."""
        stream_id = self._stream_id
        data = event.data or {}
        # Event type and error code only: transcripts never go to the log.
        _LOGGER.debug("%s: pipeline %s %s", self.entity_id, event.type, data.get("code", ""))
        self._marks[event.type] = time.monotonic()
        self.satellite.connection.pipeline_event(event)
        if event.type in (
            PipelineEventType.STT_VAD_END,
            PipelineEventType.STT_END,
            PipelineEventType.ERROR,
        ):
            # HA heard the end of speech, has the command, or gave up: audio stops
            # leaving the room now (a satellite ignores the second stop).
            self.hass.async_create_task(self.satellite.connection.async_stop_streaming(stream_id))
        follow = {
            PipelineEventType.STT_END: self._on_stt_end,
            PipelineEventType.INTENT_END: self._on_intent_end,
            PipelineEventType.ERROR: self._on_pipeline_error,
        }.get(event.type)
        if follow is not None:
            follow(data, self._interaction)
        elif event.type is PipelineEventType.TTS_END:
            token = (data.get("tts_output") or {}).get("token")
            if token:
                self._reply_task = self._entry.async_create_background_task(
                    self.hass, self._async_reply(token, stream_id), f"sotto reply {self.entity_id}"
                )

    @callback
    def _on_stt_end(self, data: dict[str, Any], interaction: Interaction | None) -> None:
        """The command was recognised: the history keeps what was heard."""
        self._heard = (data.get("stt_output") or {}).get("text")
        if interaction is not None:
            interaction.transcript = self._heard
            interaction.stt_ms = _ms_since(self._marks.get(PipelineEventType.STT_START))
            if self._answering and self._heard:
                # The answer goes back to the action that asked; no intent follows.
                interaction.outcome = Outcome.HANDLED

    @callback
    def _on_intent_end(self, data: dict[str, Any], interaction: Interaction | None) -> None:
        """The intent was handled, or not understood: a voice event, and the history row."""
        response = (data.get("intent_output") or {}).get("response") or {}
        response_data = response.get("data") or {}
        code = response_data.get("code")
        not_understood = response.get("response_type") == "error" and (
            code in _NOT_UNDERSTOOD_CODES
        )
        heard = {"transcript": self._heard} if self._event_transcripts() else {}
        if not_understood:
            self.satellite.fire(VoiceEvent.NOT_UNDERSTOOD, reason=code, **heard)
        else:
            self.satellite.fire(
                VoiceEvent.INTENT_HANDLED, response_type=response.get("response_type"), **heard
            )
        if interaction is None:
            return
        interaction.outcome = Outcome.NOT_UNDERSTOOD if not_understood else Outcome.HANDLED
        interaction.intent_response = response.get("response_type")
        interaction.targets = [
            target["id"]
            for target in response_data.get("success", [])
            if target.get("type") == "entity"
        ]
        speech = (response.get("speech") or {}).get("plain") or {}
        interaction.response_text = speech.get("speech")
        interaction.intent_ms = _ms_since(self._marks.get(PipelineEventType.INTENT_START))

    @callback
    def _on_pipeline_error(self, data: dict[str, Any], interaction: Interaction | None) -> None:
        """The run failed, or heard nothing it understood: a voice event, and the history row."""
        code = data.get("code")
        if code == _HA_INVALID_PIPELINE:
            # The pipeline cannot run (e.g. no speech-to-text chosen): the audio was
            # stopped with every error; say why.
            _LOGGER.warning(
                "%s cannot run its Assist pipeline: %s", self.entity_id, data.get("message")
            )
            code = _PIPELINE_INVALID
        if code in _NOT_UNDERSTOOD_ERRORS:
            self.satellite.fire(VoiceEvent.NOT_UNDERSTOOD, reason=code)
        else:
            self.satellite.fire(VoiceEvent.ERROR, code=code, message=data.get("message"))
        if interaction is not None:
            interaction.error_code = code
            interaction.outcome = (
                Outcome.NOT_UNDERSTOOD if code in _NOT_UNDERSTOOD_ERRORS else Outcome.ERROR
            )

    async def _async_reply(self, token: str, stream_id: int | None) -> None:
        """Play the pipeline's spoken reply on the satellite, then end the run."""
        interaction = self._interaction
        played = False
        try:
            await self._async_play(*await self._tts_audio(token))
            played = True
        except (HomeAssistantError, ValueError) as err:
            _LOGGER.warning("Could not play the reply on %s: %s", self.entity_id, err)
        finally:
            if not played and interaction is not None:
                # The command may have been carried out; the user did not hear the answer.
                interaction.error_code = interaction.error_code or REPLY_NOT_PLAYED
            self._reply_task = None
            self.tts_response_finished()
            await self._async_run_ended(stream_id, interaction)

    async def _async_run_ended(
        self, stream_id: int | None, interaction: Interaction | None
    ) -> None:
        if stream_id == self._stream_id:
            # Announcements and questions until the next command use the first pipeline.
            self._active_pipeline_index = 0
        await self.satellite.connection.async_run_ended(stream_id)
        await self._async_record(interaction)

    # --- playing audio ---------------------------------------------------------------------

    async def _tts_audio(self, token: str) -> tuple[PcmFormat, AsyncIterator[bytes]]:
        stream = tts.async_get_stream(self.hass, token)
        if stream is None:
            raise HomeAssistantError(
                "the reply audio has expired"
            )  # the token opens it: not logged
        return await pcm_from_wav_stream(stream.async_stream_result())

    async def _async_play(self, fmt: PcmFormat, samples: AsyncIterator[bytes]) -> None:
        """Send audio to the satellite's speaker and wait until it has been played."""
        self.satellite.played_event.clear()
        if not await self.satellite.connection.async_play(fmt, rechunk(samples)):
            raise self.not_connected()
        if await self.satellite.async_wait_played(_PLAYED_TIMEOUT):
            return
        if not self.satellite.available:
            # The link dropped while the satellite was playing: the rest was not heard.
            raise self.not_connected()
        _LOGGER.warning(
            "%s did not say it finished playing within %s s", self.entity_id, _PLAYED_TIMEOUT
        )

    def _event_transcripts(self) -> bool:
        """Whether the user opted in to voice events carrying what was heard."""
        home = self.hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, HOME_UNIQUE_ID)
        return home is not None and bool(home.options.get(OPTION_EVENT_TRANSCRIPTS, False))

    # --- announcements and conversations -----------------------------------------------------

    async def async_announce(self, announcement: AssistSatelliteAnnouncement) -> None:
        """Play an announcement after its pre-announce sound, as HA's own satellites do:
        HA's chime, the caller's `preannounce_media_id`, or nothing (`preannounce: false`)."""
        if await self.satellite.connection.async_announce(announcement, start_conversation=False):
            return
        if announcement.preannounce_media_id:
            # Its own clip, played before the message is fetched: a message that cannot
            # be played still fails with its own error, after the chime.
            silences = self.satellite.silences
            await self._async_play(
                _DECODED, await self._media_audio(announcement.preannounce_media_id)
            )
            if self.satellite.silences != silences:
                return  # stopped (voice, button) during the chime: the message is not wanted
        if announcement.tts_token:
            await self._async_play(*await self._tts_audio(announcement.tts_token))
            return
        try:
            pcm = await self._media_audio(announcement.media_id)
        except HomeAssistantError as err:
            if not announcement.original_media_id.startswith(CONNECTION_TEST_URL_BASE):
                raise
            # HA's voice assistant setup runs its connection test as a background task
            # that reads no error: say it here, or it is lost (and asyncio complains).
            _LOGGER.error("The voice assistant setup's test sound was not played: %s", err)
            return
        await self._async_play(_DECODED, pcm)

    async def _media_audio(self, media_id: str) -> AsyncIterator[bytes]:
        """The media decoded by ffmpeg, once its first audio has arrived.

        Nothing reaches the satellite until then: media that cannot be fetched or decoded
        is an error naming it, not an empty recording played on the satellite's speaker.
        """
        url = media_url_for_here(self.hass, media_id)
        decoded = pcm_from_url(ffmpeg.get_ffmpeg_manager(self.hass).binary, url)
        try:
            first = await anext(decoded)
        except (AudioFormatError, StopAsyncIteration) as err:
            shown = str(URL(url).with_query(None))
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="announcement_unplayable",
                translation_placeholders={
                    "name": self.satellite.connection.name,
                    "media": shown,
                    "error": str(err).replace(url, shown) or "it holds no audio",
                },
            ) from err

        async def whole() -> AsyncIterator[bytes]:
            yield first
            async for chunk in decoded:
                yield chunk

        return whole()

    async def async_start_conversation(
        self, start_announcement: AssistSatelliteAnnouncement
    ) -> None:
        """Say the opening line, then listen as if the user had pressed push-to-talk."""
        connection = self.satellite.connection
        if await connection.async_announce(start_announcement, start_conversation=True):
            return  # the device listens by itself once the line is played
        await self.async_announce(start_announcement)
        await connection.async_push_to_talk()

    async def async_internal_ask_question(
        self,
        question: str | None = None,
        question_media_id: str | None = None,
        preannounce: bool = True,
        preannounce_media_id: str = PREANNOUNCE_URL,
        answers: list[dict[str, Any]] | None = None,
    ) -> AssistSatelliteAnswer | None:
        """Ask as HA does (the question, then listen), with the answers in the grammar.

        The recognisers know only the home's sentences: "yes" would not be heard. The
        answers' sentences are added for the run that answers, and forgotten after.
        """
        sentences = tuple(
            dict.fromkeys(sentence for answer in answers or () for sentence in answer["sentences"])
        )
        home = home_data(self.hass)
        grammar = home.grammar if home else None
        forget = grammar.async_prepare_question(sentences) if grammar else None
        self._asking, self._answers = True, sentences
        on_device = bool(sentences) and self._recognizes_on_device()
        try:
            if on_device and grammar is not None:
                # It recognises the answer itself: it hears the answers until answered
                # (the home's grammar is not offered again meanwhile, even if rebuilt).
                asked = self.satellite.question_grammar = await grammar.async_grammar(sentences)
                await self._async_offer(asked)
            return await super().async_internal_ask_question(
                question=question,
                question_media_id=question_media_id,
                preannounce=preannounce,
                preannounce_media_id=preannounce_media_id,
                answers=answers,
            )
        finally:
            self._asking, self._answers = False, ()
            if forget is not None:
                forget()
            self.satellite.question_grammar = None
            if on_device and grammar is not None:
                await self._async_offer(grammar.grammar)

    def _recognizes_on_device(self) -> bool:
        info = self.satellite.info
        return info is not None and info.recognizes_on_device

    async def _async_offer(self, grammar: Grammar | None) -> None:
        if grammar is not None:
            await self.satellite.connection.async_offer_grammar(grammar)
