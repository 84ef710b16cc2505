"""The ESPHome transport: the second transport behind the one pipeline bridge.

`EsphomeTransport` speaks ESPHome's native API with aioesphomeapi and calls its sink (the
`SatelliteDevice`) straight from aioesphomeapi's callbacks and models, so the entities and
the Assist satellite entity serve an ESP32 exactly as they serve a Pi:

- voice-assistant start -> `wake` (when the device heard its wake word) and
  `stream_started`; its audio -> `audio`; its stop -> `stream_stopped`;
- the device's mute switch and wake word select -> `set_state` (what the device does not
  report stays unknown); device info and entities -> `set_info`;
- the privacy ledger, which the device does not keep, is counted here -> `set_ledger`;
- `async_set_mute`, `async_configure`, `async_stop_streaming`, `async_run_ended` and
  `async_play` -> switch and select commands, voice-assistant events and streamed audio;
- the Assist pipeline's own events -> the device's voice-assistant events, mapped as
  Home Assistant's ESPHome integration maps them, so its LEDs and screen follow the run;
- replies and announcements for a device that plays media rather than streamed audio ->
  a URL it fetches from Home Assistant.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from aioesphomeapi.core import (
    APIConnectionError,
)
from aioesphomeapi.model import (
    EntityState,
    SelectState,
    SwitchState,
    VoiceAssistantAudioSettings,
    VoiceAssistantCommandFlag,
    VoiceAssistantEventType,
    VoiceAssistantFeature,
    VoiceAssistantTimerEventType,
)
from homeassistant.components import intent
from homeassistant.components.assist_pipeline import PipelineEvent, PipelineEventType
from homeassistant.components.assist_satellite import AssistSatelliteAnnouncement
from homeassistant.components.media_player.browse_media import async_process_play_media_url
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.device_registry import format_mac

from sotto_voice.audio import VOICE_FORMAT, PcmFormat
from sotto_voice.link import PeerIdentity
from sotto_voice.messages import (
    ERROR_MUTED,
    ERROR_NO_SPEAKER,
    Configure,
    IndicatorState,
    Purged,
    StopReason,
    StreamStart,
    StreamStop,
    StreamTrigger,
)

from ..connection import (  # noqa: TID252
    PurgeError,
    ReconnectingTransport,
    SatelliteInfo,
    SatelliteState,
)
from ..const import DOMAIN  # noqa: TID252
from .ledger import EsphomeLedger
from .session import (
    CONFIG_TIMEOUT,
    EsphomeAuthError,
    EsphomeError,
    EsphomeSession,
    async_open_session,
)

_LOGGER = logging.getLogger(__name__)


# ESPHome microphones stream 16 kHz, 16-bit mono, as Sotto's own satellites do.
_RATE: Final = VOICE_FORMAT.rate
_WIDTH: Final = VOICE_FORMAT.width
_CHANNELS: Final = VOICE_FORMAT.channels
_BYTES_PER_SECOND: Final = VOICE_FORMAT.bytes_per_second
# Reply audio goes out in ESPHome's own chunk size and is paced a little faster than it
# plays, as HA's ESPHome integration does, so the device's buffer never overflows.
_REPLY_CHUNK: Final = 1024
_REPLY_PACE: Final = 0.9
# After the last chunk (sent 10 % ahead of playback) a device on a working network
# answers in milliseconds; one that has not answered in this long did not get the reply.
_REPLY_CONFIRM_TIMEOUT: Final = 5.0
# A voice timer's life, as ESPHome's voice assistant knows it.
_TIMER_EVENTS: Final = {
    intent.TimerEventType.STARTED: VoiceAssistantTimerEventType.VOICE_ASSISTANT_TIMER_STARTED,
    intent.TimerEventType.UPDATED: VoiceAssistantTimerEventType.VOICE_ASSISTANT_TIMER_UPDATED,
    intent.TimerEventType.CANCELLED: VoiceAssistantTimerEventType.VOICE_ASSISTANT_TIMER_CANCELLED,
    intent.TimerEventType.FINISHED: VoiceAssistantTimerEventType.VOICE_ASSISTANT_TIMER_FINISHED,
}
# How long an announcement may play before the device is considered stuck (HA's own
# ESPHome integration allows the same).
_ANNOUNCE_TIMEOUT: Final = 300.0
# The error code when Home Assistant has no URL a device could fetch its reply from.
ERROR_NO_URL: Final = "no-reply-url"

# The pipeline's events as ESPHome's voice assistant knows them: the device's LEDs,
# screen and triggers (on_listening, on_stt_end, on_tts_end...) follow these.
_PIPELINE_TO_DEVICE: Final[dict[str, VoiceAssistantEventType]] = {
    PipelineEventType.RUN_START: VoiceAssistantEventType.VOICE_ASSISTANT_RUN_START,
    PipelineEventType.RUN_END: VoiceAssistantEventType.VOICE_ASSISTANT_RUN_END,
    PipelineEventType.WAKE_WORD_START: VoiceAssistantEventType.VOICE_ASSISTANT_WAKE_WORD_START,
    PipelineEventType.WAKE_WORD_END: VoiceAssistantEventType.VOICE_ASSISTANT_WAKE_WORD_END,
    PipelineEventType.STT_START: VoiceAssistantEventType.VOICE_ASSISTANT_STT_START,
    PipelineEventType.STT_VAD_START: VoiceAssistantEventType.VOICE_ASSISTANT_STT_VAD_START,
    PipelineEventType.STT_VAD_END: VoiceAssistantEventType.VOICE_ASSISTANT_STT_VAD_END,
    PipelineEventType.STT_END: VoiceAssistantEventType.VOICE_ASSISTANT_STT_END,
    PipelineEventType.INTENT_START: VoiceAssistantEventType.VOICE_ASSISTANT_INTENT_START,
    PipelineEventType.INTENT_END: VoiceAssistantEventType.VOICE_ASSISTANT_INTENT_END,
    PipelineEventType.TTS_START: VoiceAssistantEventType.VOICE_ASSISTANT_TTS_START,
    PipelineEventType.TTS_END: VoiceAssistantEventType.VOICE_ASSISTANT_TTS_END,
    PipelineEventType.ERROR: VoiceAssistantEventType.VOICE_ASSISTANT_ERROR,
}

# Why an entity is missing, by the Sotto feature it would have offered.
UNSUPPORTED_NO_MUTE: Final = "the device has no switch named 'mute' in its ESPHome YAML"
UNSUPPORTED_NO_WAKE_WORD: Final = (
    "the device has no select named 'wake_word' in its ESPHome YAML"
    " (micro_wake_word models are chosen there)"
)
UNSUPPORTED_SECOND_WAKE_WORD: Final = (
    "the device listens for one wake word at a time (its voice assistant reports"
    " max_active_wake_words 1, or no configuration); the pipeline it runs still follows"
    " the wake word it reports"
)
UNSUPPORTED_SENSITIVITY: Final = (
    "ESPHome's micro_wake_word sets each model's cutoff in the device's YAML"
)
UNSUPPORTED_VOLUME: Final = "ESPHome sets its speaker volume on the device's media player"
UNSUPPORTED_PURGE_BUTTON: Final = "the device keeps no ledger or audio to purge"
UNSUPPORTED_TIMER_RINGING: Final = "an ESPHome device rings its timers in its own YAML"
UNSUPPORTED_SPEAKER: Final = (
    "the device has neither a voice_assistant speaker (streamed replies) nor a"
    " media_player (replies and announcements by URL)"
)


@dataclass(slots=True)
class _UrlReply:
    """A reply the device fetches by URL: over when both sides are done with it."""

    device_done: bool = False
    """The device's media player finished playing it."""
    bridge_done: bool = False
    """The pipeline bridge sent the whole reply (which this transport does not forward)."""


type _DeviceData = Callable[[EsphomeSession, Mapping[str, Any]], dict[str, str]]


class EsphomeTransport(ReconnectingTransport[EsphomeSession]):
    """Keeps an ESPHome device's API connection up and reports it to its sink, typed."""

    model = "ESPHome satellite"

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        host: str,
        port: int,
        key: str | None,
        mac: str | None,
        name: str,
        on_auth_failed: Callable[[], None],
    ) -> None:
        """Describe the device; nothing connects until `async_run`."""
        super().__init__(hass, name=name, on_auth_failed=on_auth_failed)
        self.host = host
        self.port = port
        self._key = key
        self._mac = mac
        self._session: EsphomeSession | None = None
        self._ledger = EsphomeLedger()
        # Called with the ledger's data after each change, so it can be kept across restarts.
        self.on_ledger: Callable[[dict[str, Any]], None] | None = None
        # The device's own reports; None until its switch or select has said.
        self._muted: bool | None = None
        self._wake_word: str | None = None
        # Every wake word a device that holds two listens for (its configuration's report).
        self._wake_words: tuple[str, ...] = ()
        self._stream: StreamStart | None = None
        self._stream_bytes = 0
        self._stream_id = 0
        self._run_end_sent = False
        self._replying = False
        self._url_reply: _UrlReply | None = None
        self.reply_confirm_timeout = _REPLY_CONFIRM_TIMEOUT
        """How long the device may take to confirm it received a streamed reply."""
        # What each pipeline event tells the device besides its type.
        self._device_data: dict[VoiceAssistantEventType, _DeviceData] = {
            VoiceAssistantEventType.VOICE_ASSISTANT_STT_VAD_END: self._vad_end_data,
            VoiceAssistantEventType.VOICE_ASSISTANT_STT_END: self._stt_end_data,
            VoiceAssistantEventType.VOICE_ASSISTANT_INTENT_END: _intent_end_data,
            VoiceAssistantEventType.VOICE_ASSISTANT_TTS_START: _tts_start_data,
            VoiceAssistantEventType.VOICE_ASSISTANT_TTS_END: self._tts_end_data,
            VoiceAssistantEventType.VOICE_ASSISTANT_ERROR: self._error_data,
            VoiceAssistantEventType.VOICE_ASSISTANT_RUN_END: self._run_end_data,
        }

    @property
    def available(self) -> bool:
        """Whether the API connection is up right now."""
        return self._open_session() is not None

    @property
    def legacy(self) -> bool:
        """Whether the API is unencrypted (the user opted in; a repair issue says so)."""
        return not self._key

    async def async_open(self) -> EsphomeSession:
        """Open one connection now, raising `EsphomeError`s."""
        session = await async_open_session(self.host, self.port, self._key, expected_mac=self._mac)
        self._describe(session)
        return session

    def restore_ledger(self, data: Mapping[str, Any] | None) -> None:
        """Continue the ledger kept before Home Assistant restarted."""
        self._ledger = EsphomeLedger.from_dict(data)

    def ledger_data(self) -> dict[str, Any]:
        """The ledger as JSON-ready data."""
        return self._ledger.as_dict()

    @callback
    def _ledger_changed(self) -> None:
        self.sink.set_ledger(self._ledger.message())
        if self.on_ledger is not None:
            self.on_ledger(self._ledger.as_dict())

    def _open_session(self) -> EsphomeSession | None:
        """The API connection, if it is up."""
        session = self._session
        return None if session is None or session.closed.is_set() else session

    # --- the connection loop -----------------------------------------------------------

    retryable = (EsphomeError, APIConnectionError, OSError, TimeoutError)

    def _auth_refused(self, err: BaseException) -> bool:
        return isinstance(err, EsphomeAuthError)

    async def _async_close(self, session: EsphomeSession) -> None:
        self._session = None
        self._end_stream(StopReason.DISCONNECTED)
        await session.client.disconnect(force=True)

    async def _async_serve(self, session: EsphomeSession) -> None:
        """Follow the device's states and voice assistant until the connection ends."""
        client = session.client
        self._session = session
        self.last_error = None
        self._wake_words = _active_wake_words(session)
        client.subscribe_states(self._on_state)
        unsubscribe = client.subscribe_voice_assistant(
            handle_start=self._handle_start,
            handle_stop=self._handle_stop,
            handle_audio=self._handle_audio,
            handle_announcement_finished=self._handle_announcement_finished,
        )
        try:
            self.sink.set_info(self._info(session))
            self.sink.set_state(self._state())
            self.sink.set_ledger(self._ledger.message())
            self._set_available(True)
            await session.closed.wait()
            self.last_error = self.last_error or "the device closed the connection"
        finally:
            # A reply cut off with the connection is over: after a reconnect the device is
            # idle, not still speaking (nothing could send its end any more).
            self._replying = False
            self._url_reply = None
            if not session.closed.is_set():
                with contextlib.suppress(APIConnectionError):
                    unsubscribe()

    @callback
    def _describe(self, session: EsphomeSession) -> None:
        """Learn who the device is and which Sotto features it lacks."""
        info = session.info
        self.peer = PeerIdentity(
            device_id=format_mac(info.mac_address),
            name=info.friendly_name or info.name,
            role="satellite",
            version=info.esphome_version,
        )
        unsupported = {
            "wake_word_sensitivity": UNSUPPORTED_SENSITIVITY,
            "volume": UNSUPPORTED_VOLUME,
            "purge": UNSUPPORTED_PURGE_BUTTON,
            "timer_ringing": UNSUPPORTED_TIMER_RINGING,
        }
        if session.mute is None:
            unsupported["mute"] = UNSUPPORTED_NO_MUTE
        if session.wake_word is None:
            unsupported["wake_word"] = UNSUPPORTED_NO_WAKE_WORD
        if session.max_active_wake_words < 2:
            unsupported["wake_word_2"] = UNSUPPORTED_SECOND_WAKE_WORD
        if not (session.streams_replies or session.plays_urls):
            unsupported["speaker"] = UNSUPPORTED_SPEAKER
        self.unsupported = unsupported

    def _info(self, session: EsphomeSession) -> SatelliteInfo:
        """What the device reports: its identity, its wake word select and its features.

        Its wake word engine, a mute button and its end-of-speech and length limits are
        not reported over the API, so they stay unknown. Remote wake is never on: this
        transport refuses a device that asks HA to find its wake word.
        """
        info = session.info
        return SatelliteInfo(
            device_id=format_mac(info.mac_address),
            name=info.friendly_name or info.name,
            version=info.esphome_version,
            wake_words=tuple(session.wake_word.options) if session.wake_word else (),
            has_speaker=session.streams_replies or session.plays_urls,
            remote_wake=False,
        )

    def _state(self) -> SatelliteState:
        """What the device reports: its switch, its select and its voice assistant.

        Who muted it, its wake word sensitivity and its volume are not reported over the
        API, so they stay unknown.
        """
        if self._muted:
            indicator = IndicatorState.MUTED
        elif self._stream is not None:
            indicator = IndicatorState.LISTENING
        elif self._replying:
            indicator = IndicatorState.SPEAKING
        else:
            indicator = IndicatorState.IDLE
        return SatelliteState(
            indicator=indicator,
            streaming=self._stream is not None,
            muted=self._muted,
            wake_word=self._wake_word,
            wake_words=self._wake_words,
        )

    # --- from the device -----------------------------------------------------------------

    @callback
    def _on_state(self, state: EntityState) -> None:
        session = self._session
        if session is None:
            return
        if isinstance(state, SwitchState) and session.mute and state.key == session.mute.key:
            if state.state == self._muted:
                return
            self._muted = state.state
            if self._muted:
                self._end_stream(StopReason.MUTED)
        elif (
            isinstance(state, SelectState)
            and session.wake_word
            and state.key == session.wake_word.key
        ):
            self._wake_word = state.state
        else:
            return
        self.sink.set_state(self._state())

    async def _handle_start(
        self,
        conversation_id: str,
        flags: int,
        audio_settings: VoiceAssistantAudioSettings,
        wake_word_phrase: str | None,
    ) -> int | None:
        """The device wants to send a command; 0 means "over the API connection"."""
        if flags & VoiceAssistantCommandFlag.USE_WAKE_WORD:
            # The device asks Home Assistant to find the wake word in a constant stream:
            # audio would leave the room before any wake word. Sotto refuses.
            _LOGGER.warning(
                "%s asked to stream for a wake word in Home Assistant; enable"
                " micro_wake_word on the device instead",
                self.name,
            )
            self.sink.error("remote-wake", "remote wake word refused")
            return None
        if self._muted:
            self.sink.error(ERROR_MUTED, "the device is muted")
            return None
        self._end_stream(StopReason.ERROR)
        self._stream_id += 1
        self._stream_bytes = 0
        self._run_end_sent = False
        trigger = StreamTrigger.WAKE_WORD if wake_word_phrase else StreamTrigger.PUSH_TO_TALK
        self._ledger.count(wake=bool(wake_word_phrase), push_to_talk=not wake_word_phrase)
        if wake_word_phrase:
            self.sink.wake(wake_word_phrase)
        self._stream = StreamStart(
            rate=_RATE,
            width=_WIDTH,
            channels=_CHANNELS,
            trigger=trigger,
            stream_id=self._stream_id,
            wake_word=wake_word_phrase,
        )
        self.sink.stream_started(self._stream)
        self.sink.set_state(self._state())
        return 0

    async def _handle_audio(self, data: bytes, _raw: bytes | None = None) -> None:
        """A chunk of the command, passed on only while a stream is open.

        A device with two microphone channels also sends the unprocessed one (`_raw`);
        Sotto uses the first, the device's cleaned-up audio, as HA's ESPHome does by default.
        """
        if self._stream is None:
            # In flight when the stream was stopped: dropped, but it did leave the
            # device, so the ledger counts it (the device itself keeps no count).
            self._ledger.count(seconds=len(data) / _BYTES_PER_SECOND)
            self._ledger_changed()
            return
        self._stream_bytes += len(data)
        self.sink.audio(data)

    async def _handle_stop(self, abort: bool) -> None:
        """The device stopped sending: its own end of speech, its button, or its mute."""
        self._end_stream(StopReason.END_OF_SPEECH)

    async def _handle_announcement_finished(self, finished: object) -> None:
        """The device's media player finished an announcement or a reply it fetched."""
        reply = self._url_reply
        if reply is None:
            self.sink.played()
            return
        reply.device_done = True
        self._finish_url_reply()

    @callback
    def _finish_url_reply(self) -> None:
        """A fetched reply is over once the device played it and the bridge sent it all."""
        reply = self._url_reply
        if reply is None or not (reply.device_done and reply.bridge_done):
            return
        self._url_reply = None
        self._replying = False
        self.sink.played()

    @callback
    def _end_stream(self, reason: StopReason) -> None:
        stream = self._stream
        if stream is None:
            return
        self._stream = None
        seconds = self._stream_bytes / _BYTES_PER_SECOND
        self._ledger.count(seconds=seconds)
        self.sink.stream_stopped(
            StreamStop(reason=reason, stream_id=stream.stream_id, seconds=seconds)
        )
        self.sink.set_state(self._state())
        self._ledger_changed()

    # --- to the device -------------------------------------------------------------------

    def _send_va_event(
        self, event_type: VoiceAssistantEventType, data: dict[str, str] | None = None
    ) -> bool:
        session = self._open_session()
        if session is None:
            return False
        try:
            session.client.send_voice_assistant_event(event_type, data or {})
        except APIConnectionError:
            return False
        return True

    def _command(self, what: str, send: Callable[[EsphomeSession], bool]) -> bool:
        """Send a request if connected; returns whether the device was asked."""
        session = self._open_session()
        if session is None:
            return False
        try:
            return send(session)
        except APIConnectionError as err:
            _LOGGER.debug("Sending %s to %s failed: %s", what, self.name, err)
            return False

    async def async_set_mute(self, muted: bool) -> bool:
        """Turn the device's mute switch on or off; False if it has none."""

        def switch(session: EsphomeSession) -> bool:
            if session.mute is None:
                return False
            session.client.switch_command(session.mute.key, muted)
            return True

        return self._command("mute", switch)

    async def async_set_ringing(self, ringing: bool) -> bool:
        """Not offered (see UNSUPPORTED_TIMER_RINGING): nothing is asked."""
        return False

    async def async_configure(self, change: Configure) -> bool:
        """Choose the device's wake word in its select, and on a device that holds two,
        the wake words it listens for (as HA's ESPHome sets them); the rest is in its YAML."""
        # `wake_words` overrides `wake_word`, as on Sotto's own satellites.
        first = change.wake_words[0] if change.wake_words else change.wake_word

        def select(session: EsphomeSession) -> bool:
            if first is None or session.wake_word is None:
                return False
            session.client.select_command(session.wake_word.key, first)
            return True

        selected = self._command("wake word", select)
        session = self._open_session()
        if first is None or session is None or session.max_active_wake_words < 2:
            return selected
        # A new first wake word alone keeps the second one, unless it is the same word.
        words = change.wake_words or (first, *(w for w in self._wake_words[1:] if w != first))
        return await self._async_set_wake_words(session, words)

    async def _async_set_wake_words(self, session: EsphomeSession, words: tuple[str, ...]) -> bool:
        """Set the device's active wake words, then report them as it tells them back."""
        client = session.client
        try:
            await client.set_voice_assistant_configuration(active_wake_words=list(words))
            session.wake_config = await client.get_voice_assistant_configuration(CONFIG_TIMEOUT)
        except APIConnectionError as err:  # no answer in time too (TimeoutAPIError)
            _LOGGER.debug("Setting the wake words of %s failed: %r", self.name, err)
            return False
        if session is self._session:
            self._wake_words = _active_wake_words(session)
            self.sink.set_state(self._state())
        return True

    async def async_push_to_talk(self) -> bool:
        """Remote push-to-talk has no ESPHome counterpart."""
        return False

    async def async_stop_streaming(self, stream_id: int | None) -> bool:
        """End the command's audio: ESPHome's voice assistant closes its mic on VAD end."""
        if self._open_session() is None:
            return False
        stream = self._stream
        if stream is None or stream_id not in (None, stream.stream_id):
            return True
        self._send_va_event(VoiceAssistantEventType.VOICE_ASSISTANT_STT_VAD_END)
        self._end_stream(StopReason.HA_COMPLETE)
        return True

    async def async_yield(self, stream_id: int) -> bool:
        """Another satellite answers: the device closes its microphone and ends its run."""
        if self._stream is not None and self._stream.stream_id == stream_id:
            self._close_microphone(StopReason.YIELDED)
        return await self.async_run_ended(stream_id)

    async def async_run_ended(self, stream_id: int | None) -> bool:
        """The run is over: the device is told the run ended, once."""
        if self._open_session() is None:
            return False
        if stream_id is not None and stream_id != self._stream_id:
            return True  # an earlier command's run, ended after a new one began
        self._end_stream(StopReason.HA_COMPLETE)
        self._replying = False
        self._url_reply = None
        if self._run_end_sent:
            return True  # the pipeline's own run end was forwarded already
        self._run_end_sent = True
        return self._send_va_event(VoiceAssistantEventType.VOICE_ASSISTANT_RUN_END)

    async def async_play(self, fmt: PcmFormat, chunks: AsyncIterable[bytes]) -> bool:
        """Stream a reply to the device's speaker; one fetched by URL only ends here."""
        session = self._open_session()
        if session is None or not self._start_reply(session):
            return False
        sent = False
        try:
            sent = await self._async_reply_audio(fmt, chunks)
        finally:
            # Even when the audio failed: the device would wait for the rest and stay deaf.
            ended = self._command("reply end", self._end_reply)
        return sent and ended

    def _start_reply(self, session: EsphomeSession) -> bool:
        if session.streams_replies:
            self._replying = True
            return self._send_va_event(VoiceAssistantEventType.VOICE_ASSISTANT_TTS_STREAM_START)
        if not session.plays_urls:
            self.sink.error(ERROR_NO_SPEAKER, UNSUPPORTED_SPEAKER)
        # Otherwise the device fetches the reply by the URL it was given with TTS end.
        return True

    async def _async_reply_audio(self, fmt: PcmFormat, chunks: AsyncIterable[bytes]) -> bool:
        """Send the reply in ESPHome's chunk size, paced a little faster than it plays."""
        async for audio in chunks:
            session = self._open_session()
            if session is None:
                return False  # the connection dropped mid-reply
            if not session.streams_replies:
                continue  # fetched by URL, or nothing to play it on (said at the start)
            if (fmt.rate, fmt.width, fmt.channels) != (_RATE, _WIDTH, _CHANNELS):
                _LOGGER.warning("%s plays only 16 kHz 16-bit mono audio", self.name)
                return False
            if not self._command("reply audio", partial(_send_audio, audio)):
                return False
            await asyncio.sleep(len(audio) / _BYTES_PER_SECOND * _REPLY_PACE)
        return True

    def _end_reply(self, session: EsphomeSession) -> bool:
        """The whole reply was sent: done when the device has it (or has played it)."""
        if self._url_reply is not None:
            # The device plays the reply it fetched; done when it says so.
            self._url_reply.bridge_done = True
            self._finish_url_reply()
            return True
        if not session.streams_replies:
            self._replying = False
            self.sink.played()
            return True
        self._send_va_event(VoiceAssistantEventType.VOICE_ASSISTANT_TTS_STREAM_END)
        self.hass.async_create_background_task(
            self._async_confirm_reply(session), f"sotto confirm reply {self.name}"
        )
        return True

    async def _async_confirm_reply(self, session: EsphomeSession) -> None:
        """Count a streamed reply as played only once the device has received all of it.

        ESPHome's voice assistant sends nothing back after a streamed reply, so the
        transport asks the device a question after the last chunk: the API connection is
        ordered, so its answer proves every chunk before it arrived. No answer in time
        means the reply was lost (a dead or choked network, which TCP alone would take
        minutes to notice): the connection is dropped and reopened, and the run records
        that the answer was not heard.
        """
        try:
            async with asyncio.timeout(self.reply_confirm_timeout):
                await session.client.device_info()
        except (APIConnectionError, TimeoutError) as err:
            if session.closed.is_set():
                return  # the connection ended on its own; that already says "not played"
            _LOGGER.warning(
                "%s did not confirm receiving its reply within %g s (%s); reconnecting",
                self.name,
                self.reply_confirm_timeout,
                type(err).__name__,
            )
            self.last_error = "the reply was not confirmed"
            session.closed.set()
            return
        if session is self._session and not session.closed.is_set():
            self._replying = False
            self.sink.played()

    async def async_timer(self, event: intent.TimerEventType, timer: intent.TimerInfo) -> bool:
        """Show a voice timer's life on the device, if it shows timers."""

        def send(session: EsphomeSession) -> bool:
            if not session.features & VoiceAssistantFeature.TIMERS:
                return False
            session.client.send_voice_assistant_timer_event(
                _TIMER_EVENTS[event],
                timer.id,
                timer.name,
                timer.created_seconds,
                timer.seconds_left,
                timer.is_active,
            )
            return True

        return self._command("timer", send)

    async def async_purge(self, timeout: float) -> Purged:
        """Forget the ledger Home Assistant keeps for the device (it keeps nothing itself)."""
        if self._open_session() is None:
            raise PurgeError("not connected")
        self._ledger = EsphomeLedger()
        self._ledger_changed()
        return Purged(cleared=("ledger",))

    # --- the pipeline's progress, and announcements --------------------------------------

    @callback
    def pipeline_event(self, event: PipelineEvent) -> None:
        """Tell the device how the run goes, as Home Assistant's ESPHome integration does."""
        event_type = _PIPELINE_TO_DEVICE.get(event.type)
        session = self._session
        if event_type is None or session is None:
            return
        device_data = self._device_data.get(event_type)
        data = device_data(session, event.data or {}) if device_data else {}
        self._send_va_event(event_type, data)

    @callback
    def _close_microphone(self, reason: StopReason) -> None:
        """End a command still streaming; the device closes its microphone only on VAD end."""
        if self._stream is not None:
            self._send_va_event(VoiceAssistantEventType.VOICE_ASSISTANT_STT_VAD_END)
            self._end_stream(reason)

    def _vad_end_data(self, _session: EsphomeSession, _data: Mapping[str, Any]) -> dict[str, str]:
        # The device closes its microphone on this event.
        self._end_stream(StopReason.HA_COMPLETE)
        return {}

    def _stt_end_data(self, _session: EsphomeSession, data: Mapping[str, Any]) -> dict[str, str]:
        # The command may be recognised before the end of speech was heard.
        self._close_microphone(StopReason.HA_COMPLETE)
        return {"text": (data.get("stt_output") or {}).get("text") or ""}

    def _error_data(self, _session: EsphomeSession, data: Mapping[str, Any]) -> dict[str, str]:
        # The run is over (e.g. a pipeline that cannot run at all): the device stops listening.
        self._close_microphone(StopReason.ERROR)
        return {"code": str(data.get("code") or ""), "message": str(data.get("message") or "")}

    def _run_end_data(self, _session: EsphomeSession, _data: Mapping[str, Any]) -> dict[str, str]:
        self._run_end_sent = True
        return {}

    @callback
    def _tts_end_data(self, session: EsphomeSession, data: Mapping[str, Any]) -> dict[str, str]:
        """The reply's address for the device; a device without a speaker fetches it."""
        tts_output = data.get("tts_output")
        if not tts_output or not tts_output.get("url"):
            return {}
        try:
            url = async_process_play_media_url(self.hass, tts_output["url"])
        except HomeAssistantError as err:
            if session.plays_urls and not session.streams_replies:
                _LOGGER.warning("%s cannot fetch its reply: %s", self.name, err)
                self.sink.error(ERROR_NO_URL, f"no reply URL: {err}")
            return {}
        if not session.streams_replies and session.plays_urls:
            self._url_reply = _UrlReply()
            self._replying = True
        return {"url": url}

    async def async_announce(
        self, announcement: AssistSatelliteAnnouncement, *, start_conversation: bool
    ) -> bool:
        """Have the device fetch and play an announcement, as its media player can."""
        session = self._session
        wanted = VoiceAssistantFeature.ANNOUNCE
        if start_conversation:
            wanted |= VoiceAssistantFeature.START_CONVERSATION
        if session is None or session.features & wanted != wanted:
            return False  # streamed instead, if the device has a speaker
        self._replying = True
        self.sink.set_state(self._state())
        try:
            await session.client.send_voice_assistant_announcement_await_response(
                announcement.media_id,
                _ANNOUNCE_TIMEOUT,
                announcement.message,
                preannounce_media_id=announcement.preannounce_media_id or "",
                start_conversation=start_conversation,
            )
        except APIConnectionError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="not_connected",
                translation_placeholders={"name": self.name},
            ) from err
        finally:
            self._replying = False
            self.sink.set_state(self._state())
        return True


def _active_wake_words(session: EsphomeSession) -> tuple[str, ...]:
    """The wake words a device that holds two listens for; () for one that holds one
    (its select's wake word is the one)."""
    config = session.wake_config
    if config is None or session.max_active_wake_words < 2:
        return ()
    return tuple(config.active_wake_words)


def _send_audio(audio: bytes, session: EsphomeSession) -> bool:
    """Send reply audio in ESPHome's own chunk size."""
    for start in range(0, len(audio), _REPLY_CHUNK):
        session.client.send_voice_assistant_audio(audio[start : start + _REPLY_CHUNK])
    return True


def _intent_end_data(_session: EsphomeSession, data: Mapping[str, Any]) -> dict[str, str]:
    output = data.get("intent_output") or {}
    return {
        "conversation_id": output.get("conversation_id") or "",
        "continue_conversation": str(int(bool(output.get("continue_conversation")))),
    }


def _tts_start_data(_session: EsphomeSession, data: Mapping[str, Any]) -> dict[str, str]:
    return {"text": data.get("tts_input") or ""}
