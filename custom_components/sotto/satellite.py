"""A paired satellite as Home Assistant sees it: what it reports, and what it is doing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from wyoming.audio import AudioChunk
from wyoming.error import Error
from wyoming.event import Event
from wyoming.snd import Played
from wyoming.wake import Detection

from sotto_voice.messages import (
    MessageError,
    SottoInfo,
    SottoLedger,
    SottoState,
    StopReason,
    StreamStart,
    StreamStop,
)

from .connection import SatelliteTransport

_LOGGER = logging.getLogger(__name__)

# A satellite streams a chunk every few tens of milliseconds while it sends a command.
# This long without one means the stream is lost (a dead network, a stalled link): the
# recording sensor goes off and the run ends, instead of waiting for the link's own
# dead-peer timeout, which is longer.
STREAM_STALL_SECONDS: Final = 1.5


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
    MUTED = "muted"
    UNMUTED = "unmuted"
    ERROR = "error"


@dataclass(slots=True)
class AudioStream:
    """The audio of one command, from the satellite to the pipeline."""

    start: StreamStart
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    stop: StreamStop | None = None
    lost: StreamLoss | None = None
    """Set when the stream ended without the satellite's stop: its audio is incomplete."""
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    heard: float = 0.0
    """Loop time of the latest audio (or of the start)."""

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield audio until the satellite stops the stream or the link drops."""
        while (chunk := await self.queue.get()) is not None:
            yield chunk


type VoiceEventListener = Callable[[VoiceEvent, dict[str, str | float | int | None]], None]
type StreamListener = Callable[[AudioStream], None]


class SatelliteDevice:
    """Keeps the satellite's reported info, state and ledger, and routes its audio.

    Entities subscribe here rather than to the link, so every entity reads one truth:
    the satellite's own reports.
    """

    def __init__(self, hass: HomeAssistant, connection: SatelliteTransport) -> None:
        """Follow one connection's events."""
        self.hass = hass
        self.connection = connection
        self.info: SottoInfo | None = None
        self.state: SottoState | None = None
        self.ledger: SottoLedger | None = None
        self.stream: AudioStream | None = None
        self.played = asyncio.Event()
        self._played_waiters: set[asyncio.Future[bool]] = set()
        self._stall_timer: asyncio.TimerHandle | None = None
        self._update_listeners: list[Callable[[], None]] = []
        self._voice_listeners: list[VoiceEventListener] = []
        self._stream_listeners: list[StreamListener] = []
        self._unsubs = [
            connection.subscribe_events(self._on_event),
            connection.subscribe_availability(self._on_availability),
        ]

    @property
    def available(self) -> bool:
        """Whether the satellite is connected."""
        return self.connection.available

    @property
    def streaming(self) -> bool:
        """Whether audio is leaving the satellite right now, by its own report."""
        return self.available and self.stream is not None

    @callback
    def close(self) -> None:
        """Stop following the connection."""
        for unsub in self._unsubs:
            unsub()
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
    def subscribe_streams(self, listener: StreamListener) -> CALLBACK_TYPE:
        """Call `listener` when the satellite starts sending a command."""
        self._stream_listeners.append(listener)
        return lambda: self._stream_listeners.remove(listener)

    @callback
    def fire(self, event: VoiceEvent, **data: str | float | int | None) -> None:
        """Tell voice-event listeners (used by the pipeline bridge too)."""
        for listener in list(self._voice_listeners):
            listener(event, data)

    @callback
    def _changed(self) -> None:
        for listener in list(self._update_listeners):
            listener()

    @callback
    def _on_availability(self, available: bool) -> None:
        if not available:
            # The link is gone, so no audio can be leaving: recording goes off now, and
            # nobody waits any longer for a reply to finish playing.
            self._end_stream(None, StreamLoss.DISCONNECTED)
            self._resolve_played(False)
        self._changed()

    @callback
    def _on_event(self, event: Event) -> None:
        try:
            self._handle(event)
        except MessageError as err:
            _LOGGER.warning("%s sent a malformed %s: %s", self.connection.name, event.type, err)

    @callback
    def _handle(self, event: Event) -> None:
        if AudioChunk.is_type(event.type):
            if self.stream is not None:
                self.stream.heard = self.hass.loop.time()
                self.stream.queue.put_nowait(event.payload or b"")
        elif StreamStart.is_stream_start(event):
            self._start_stream(StreamStart.from_event(event))
        elif StreamStop.is_stream_stop(event):
            self._end_stream(StreamStop.from_event(event))
        elif SottoState.is_type(event.type):
            self._set_state(SottoState.from_event(event))
        elif SottoInfo.is_type(event.type):
            self.info = SottoInfo.from_event(event)
            self._changed()
        elif SottoLedger.is_type(event.type):
            self.ledger = SottoLedger.from_event(event)
            self._changed()
        elif Detection.is_type(event.type):
            detection = Detection.from_event(event)
            self.fire(VoiceEvent.WAKE_WORD_DETECTED, wake_word=detection.name)
        elif Played.is_type(event.type):
            self.played.set()
            self._resolve_played(True)
        elif Error.is_type(event.type):
            error = Error.from_event(event)
            _LOGGER.warning("%s reported an error: %s", self.connection.name, error.text)
            self.fire(VoiceEvent.ERROR, code=error.code, message=error.text)

    @callback
    def _set_state(self, state: SottoState) -> None:
        before = self.state
        self.state = state
        if before is not None and before.muted != state.muted:
            self.fire(
                VoiceEvent.MUTED if state.muted else VoiceEvent.UNMUTED,
                source=state.mute_source.value if state.mute_source else None,
            )
        self._changed()

    async def async_wait_played(self, timeout: float) -> bool:
        """Wait until the satellite says it played what it was sent.

        False if the link dropped first (the rest will never play) or `timeout` passed.
        """
        if self.played.is_set():
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
    def _start_stream(self, start: StreamStart) -> None:
        self._end_stream(None, StreamLoss.CLOSED)
        self.stream = AudioStream(start=start, heard=self.hass.loop.time())
        self._watch_stall(self.stream)
        self.fire(
            VoiceEvent.LISTENING_STARTED,
            trigger=start.trigger.value,
            stream_id=start.stream_id,
        )
        self._changed()
        for listener in list(self._stream_listeners):
            listener(self.stream)

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
