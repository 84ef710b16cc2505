"""A paired satellite as Home Assistant sees it: what it reports, and what it is doing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback

from sotto_voice.audio import VOICE_FORMAT, level_dbfs
from sotto_voice.engine.stt.model import Grammar
from sotto_voice.messages import (
    Recognized,
    Silenced,
    SottoLedger,
    StopReason,
    StreamStart,
    StreamStop,
    WakeHeard,
)

from .arbiter import Ruling, WakeEvidence
from .connection import SatelliteInfo, SatelliteState, SatelliteTransport

_LOGGER = logging.getLogger(__name__)

# A satellite streams a chunk every few tens of milliseconds while it sends a command.
# This long without one means the stream is lost (a dead network, a stalled link): the
# recording sensor goes off and the run ends, instead of waiting for the link's own
# dead-peer timeout, which is longer.
STREAM_STALL_SECONDS: Final = 1.5
# A satellite that does not report its wake word's level (ESPHome) is judged by the level
# of the audio HA receives from it while the arbiter waits: at most this much of it.
LEVEL_SECONDS: Final = 0.5


class StreamLoss(StrEnum):
    """Why a stream ended without the satellite saying so; also the history's error code."""

    DISCONNECTED = "disconnected"
    STALLED = "stream-stalled"
    CLOSED = "closed"


class VoiceEvent(StrEnum):
    """What the voice event entity reports; also the device trigger types."""

    WAKE_WORD_DETECTED = "wake_word_detected"
    LISTENING_STARTED = "listening_started"
    LISTENING_FINISHED = "listening_finished"
    INTENT_HANDLED = "intent_handled"
    NOT_UNDERSTOOD = "not_understood"
    YIELDED = "yielded"
    """Another satellite heard the same wake word better and answers it."""
    SILENCED = "silenced"
    """The user stopped a ringing timer or an announcement or reply: by voice, with the
    satellite's button, or by muting it (a ringing timer only)."""
    MUTED = "muted"
    UNMUTED = "unmuted"
    ERROR = "error"


@dataclass(slots=True)
class AudioStream:
    """One command, from the satellite to the pipeline: started, its audio, how it ended.

    A satellite that recognises the command itself sends no stream: only its text
    (`SatelliteDevice.recognized`), and the run starts at the intent stage.
    """

    start: StreamStart
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    stop: StreamStop | None = None
    lost: StreamLoss | None = None
    """Set when the stream ended without the satellite's stop: its audio is incomplete."""
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    heard: float = 0.0
    """Loop time of the latest audio (or of the start)."""
    level: float | None = None
    """The loudest chunk HA measured in the stream's first audio (`LEVEL_SECONDS`), dBFS."""
    measured: int = 0
    """Bytes of audio measured so far."""

    @property
    def evidence(self) -> WakeEvidence:
        """How well the satellite says it heard its wake word."""
        start = self.start
        return WakeEvidence(start.speech_level, start.wake_probability, start.wake_time)

    def measure(self, audio: bytes) -> None:
        """Keep the level of the stream's first audio (only when the satellite gave none)."""
        if self.start.speech_level is not None:
            return
        if self.measured < LEVEL_SECONDS * VOICE_FORMAT.bytes_per_second:
            self.measured += len(audio)
            level = level_dbfs(audio)
            self.level = level if self.level is None else max(self.level, level)

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield audio until the satellite stops the stream or the link drops."""
        while (chunk := await self.queue.get()) is not None:
            yield chunk


type VoiceEventListener = Callable[[VoiceEvent, dict[str, str | float | int | None]], None]
type StreamHandler = Callable[[AudioStream], None]
type TextHandler = Callable[[Recognized], None]


class SatelliteDevice:
    """The one sink of a satellite's transport: keeps its reports and routes its commands.

    The transport calls the typed methods below (`set_state`, `stream_started`, `audio`...).
    Entities subscribe here rather than to the transport, so every entity reads one truth:
    the satellite's own reports. Each command goes to the one `on_stream` handler (the
    Assist satellite entity), which runs the pipeline.
    """

    def __init__(self, hass: HomeAssistant, connection: SatelliteTransport) -> None:
        """Become the sink of one transport."""
        self.hass = hass
        self.connection = connection
        self.info: SatelliteInfo | None = None
        self.state: SatelliteState | None = None
        self.ledger: SottoLedger | None = None
        self.stream: AudioStream | None = None
        self.on_stream: StreamHandler | None = None
        """Runs the pipeline for each command the satellite starts sending."""
        self.on_recognized: TextHandler | None = None
        """Runs the pipeline from the intent stage for each command it recognised itself."""
        self.on_wake_heard: Callable[[WakeHeard], None] | None = None
        """Claims the utterance when a satellite that recognises itself hears its wake."""
        self.grammar_digest: str | None = None
        """The home grammar the satellite recognises with, by its own report (edge only)."""
        self.question_grammar: Grammar | None = None
        """While a question is open on a satellite that recognises itself: the grammar with
        its answers, which it keeps (edge.GrammarFeeder offers it instead of the home's)."""
        self.played_event = asyncio.Event()
        self.silences = 0
        """How often the user cut short what the satellite played (voice, button)."""
        self._played_waiters: set[asyncio.Future[bool]] = set()
        self._stall_timer: asyncio.TimerHandle | None = None
        self._update_listeners: list[Callable[[], None]] = []
        self._voice_listeners: list[VoiceEventListener] = []
        connection.sink = self

    @property
    def available(self) -> bool:
        """Whether the satellite is connected."""
        return self.connection.available

    @property
    def streaming(self) -> bool:
        """Whether audio is leaving the satellite right now, by its own report."""
        return self.available and self.stream is not None

    # --- as the arbiter sees it ---------------------------------------------------------

    @property
    def name(self) -> str:
        """The satellite's name."""
        return self.connection.name

    @property
    def can_wake(self) -> bool:
        """Whether the satellite could hear a wake word now: connected and not muted."""
        return self.available and not (self.state is not None and self.state.muted)

    def measured_level(self) -> float | None:
        """The level HA measured in the current stream's first audio."""
        return self.stream.level if self.stream is not None else None

    async def async_yield(self, stream_id: int, ruling: Ruling) -> None:
        """Another satellite answers this utterance: stop at once, then say which one."""
        await self.connection.async_yield(stream_id)
        winner = await ruling.async_winner()
        _LOGGER.debug("%s yielded to %s", self.connection.name, winner.name)
        self.fire(VoiceEvent.YIELDED, winner=winner.name, stream_id=stream_id)

    @callback
    def close(self) -> None:
        """End what the entry's unload cuts off: the stream and any wait for playback."""
        self.on_stream = None
        self.on_recognized = None
        self.on_wake_heard = None
        self._end_stream(None, StreamLoss.CLOSED)
        self._resolve_played(False)

    @callback
    def subscribe_updates(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call `listener` when anything reported changes; returns the unsubscribe."""
        self._update_listeners.append(listener)
        return lambda: self._update_listeners.remove(listener)

    @callback
    def subscribe_voice_events(self, listener: VoiceEventListener) -> CALLBACK_TYPE:
        """Call `listener` with each voice event; returns the unsubscribe."""
        self._voice_listeners.append(listener)
        return lambda: self._voice_listeners.remove(listener)

    @callback
    def fire(self, event: VoiceEvent, **data: str | float | int | None) -> None:
        """Tell voice-event listeners (used by the pipeline bridge too)."""
        for listener in list(self._voice_listeners):
            listener(event, data)

    @callback
    def _changed(self) -> None:
        for listener in list(self._update_listeners):
            listener()

    # --- what the transport reports ---------------------------------------------------

    @callback
    def availability(self, available: bool) -> None:
        """The transport connected or lost the satellite."""
        if not available:
            # The link is gone, so no audio can be leaving: recording goes off now, and
            # nobody waits any longer for a reply to finish playing.
            self._end_stream(None, StreamLoss.DISCONNECTED)
            self._resolve_played(False)
            self.grammar_digest = None  # offered again, by digest, when it is back
        self._changed()

    @callback
    def set_info(self, info: SatelliteInfo) -> None:
        """What the satellite is and can do."""
        self.info = info
        self._changed()

    @callback
    def set_ledger(self, ledger: SottoLedger) -> None:
        """What the satellite has sent Home Assistant, by its own count."""
        self.ledger = ledger
        self._changed()

    @callback
    def set_state(self, state: SatelliteState) -> None:
        """The satellite's state; a change of mute is a voice event too."""
        was_muted = self.state.muted if self.state is not None else None
        self.state = state
        if None not in (was_muted, state.muted) and was_muted != state.muted:
            self.fire(
                VoiceEvent.MUTED if state.muted else VoiceEvent.UNMUTED,
                source=state.mute_source.value if state.mute_source else None,
            )
        self._changed()

    @callback
    def stream_started(self, start: StreamStart) -> None:
        """The satellite started sending a command: the pipeline runs for it."""
        self._end_stream(None, StreamLoss.CLOSED)
        self.stream = AudioStream(start=start, heard=self.hass.loop.time())
        self._watch_stall(self.stream)
        self.fire(
            VoiceEvent.LISTENING_STARTED,
            trigger=start.trigger.value,
            stream_id=start.stream_id,
        )
        self._changed()
        if self.on_stream is not None:
            self.on_stream(self.stream)

    @callback
    def audio(self, audio: bytes) -> None:
        """A chunk of the command, for the pipeline."""
        if self.stream is not None:
            self.stream.heard = self.hass.loop.time()
            self.stream.measure(audio)
            self.stream.queue.put_nowait(audio)

    @callback
    def stream_stopped(self, stop: StreamStop) -> None:
        """The satellite stopped sending the command."""
        self._end_stream(stop)

    @callback
    def recognized(self, command: Recognized) -> None:
        """The satellite recognised a command itself; no audio of it left the room.

        This is the one place where text recognised on a satellite enters the pipeline:
        whatever decides which satellite acts on a wake word heard by several (#24) holds
        the command back here, before `on_recognized` runs it.
        """
        self.fire(
            VoiceEvent.LISTENING_FINISHED,
            reason=command.reason.value,
            stream_id=command.stream_id,
            seconds=0.0,
            seconds_listened=command.seconds,
            recognized_on="satellite",
        )
        if self.on_recognized is not None:
            self.on_recognized(command)

    @callback
    def wake_heard(self, wake: WakeHeard) -> None:
        """A satellite that recognises itself started listening: the voice event a stream
        start fires (no audio leaves), and for a wake word the claim starts now, so that a
        nearer satellite can stop it before it decodes anything."""
        self.fire(
            VoiceEvent.LISTENING_STARTED,
            trigger=wake.trigger.value,
            stream_id=wake.stream_id,
            recognized_on="satellite",
        )
        if self.on_wake_heard is not None:
            self.on_wake_heard(wake)

    @callback
    def grammar_ready(self, digest: str) -> None:
        """The satellite recognises with this grammar from now on."""
        self.grammar_digest = digest
        self._changed()

    @callback
    def wake(self, wake_word: str | None) -> None:
        """The satellite heard its wake word."""
        self.fire(VoiceEvent.WAKE_WORD_DETECTED, wake_word=wake_word)

    @callback
    def played(self) -> None:
        """The satellite finished playing what it was sent."""
        self.played_event.set()
        self._resolve_played(True)

    @callback
    def silenced(self, stopped: Silenced) -> None:
        """The user stopped a ringing timer or what was playing: whatever HA meant to play
        next for a reply cut short (an announcement after its chime) is not played."""
        if stopped.reply:
            self.silences += 1
        self.fire(VoiceEvent.SILENCED, timer=stopped.timer, reply=stopped.reply, by=str(stopped.by))

    @callback
    def error(self, code: str | None, text: str) -> None:
        """The satellite reported an error."""
        _LOGGER.warning("%s reported an error: %s", self.connection.name, text)
        self.fire(VoiceEvent.ERROR, code=code, message=text)

    # --- what Home Assistant waits for -------------------------------------------------------

    async def async_wait_played(self, timeout: float) -> bool:
        """Wait until the satellite says it played what it was sent.

        False if the link dropped first (the rest will never play) or `timeout` passed.
        """
        if self.played_event.is_set():
            return True
        waiter: asyncio.Future[bool] = self.hass.loop.create_future()
        self._played_waiters.add(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await waiter
        except TimeoutError:
            return False
        finally:
            self._played_waiters.discard(waiter)

    @callback
    def _resolve_played(self, played: bool) -> None:
        for waiter in self._played_waiters:
            if not waiter.done():
                waiter.set_result(played)

    @callback
    def _watch_stall(self, stream: AudioStream) -> None:
        """Check, when the stall time is up, that the stream's audio is still arriving."""
        silent = self.hass.loop.time() - stream.heard
        if silent >= STREAM_STALL_SECONDS:
            self._stall_timer = None
            _LOGGER.warning(
                "%s sent no audio for %.1f s in the middle of a command: the stream is lost",
                self.connection.name,
                silent,
            )
            self._end_stream(None, StreamLoss.STALLED)
            return
        self._stall_timer = self.hass.loop.call_later(
            STREAM_STALL_SECONDS - silent, self._watch_stall, stream
        )

    @callback
    def _end_stream(self, stop: StreamStop | None, lost: StreamLoss | None = None) -> None:
        stream = self.stream
        if stream is None:
            return
        self.stream = None
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        stream.stop = stop
        if stop is not None and stop.reason is StopReason.DISCONNECTED:
            # A transport that reports its own disconnect (ESPHome's) says so with a stop.
            lost = StreamLoss.DISCONNECTED
        stream.lost = lost or StreamLoss.DISCONNECTED if stop is None else lost
        stream.queue.put_nowait(None)
        stream.ended.set()
        reason = stop.reason if stop else StopReason.DISCONNECTED
        self.fire(
            VoiceEvent.LISTENING_FINISHED,
            reason=reason.value,
            stream_id=stream.start.stream_id,
            seconds=stop.seconds if stop else None,
        )
        self._changed()
