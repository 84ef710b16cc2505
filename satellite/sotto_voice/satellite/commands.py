"""The command stream: from the chunk that starts a command to the stop that ends it.

Each captured chunk comes here. While a stream runs it is sent (the light is on before the
first byte, `audio-stop` follows the last) and the VAD decides where the command ends;
otherwise a pending push-to-talk starts a stream, or the trigger strategy (wake word or
remote wake) looks at the chunk.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from wyoming.audio import AudioChunk
from wyoming.wake import Detection

from sotto_voice.messages import StopReason, StreamStart, StreamStop, StreamTrigger

from .audio import BYTES_PER_SECOND, MIC_FORMAT, seconds_of
from .chimes import Chime
from .errors import AudioError
from .vad import EndOfSpeech, SpeechProbability, Verdict

if TYPE_CHECKING:
    from .core import Satellite
    from .triggers import WakeEvidence

_LOGGER = logging.getLogger(__name__)

AudioListener = Callable[[int, bytes, float], None]
"""Called with (stream id, audio, monotonic time) after each audio chunk was sent."""

COMMAND_DONE: Final = frozenset(
    {StopReason.END_OF_SPEECH, StopReason.MAX_LENGTH, StopReason.HA_COMPLETE}
)
"""Stops after which Home Assistant works on the command (the satellite shows thinking)."""


@dataclass(slots=True)
class _Stream:
    stream_id: int
    trigger: StreamTrigger
    start_position: int
    """Captured bytes before the stream's first byte."""

    remote: bool
    """A remote-wake stream: Home Assistant decides where it ends, and no chime marks it."""

    sent: int = 0
    """Audio bytes sent."""

    announced: bool = False
    """True once audio-start has been sent (so audio-stop is owed)."""

    def timestamp(self, offset: int = 0) -> int:
        """Return the milliseconds into the capture of the stream's byte at offset."""
        return (self.start_position + offset) * 1000 // BYTES_PER_SECOND


class CommandStream:
    """Starts, feeds and ends the one stream of audio to Home Assistant."""

    def __init__(
        self,
        satellite: Satellite,
        speech: SpeechProbability,
        start_chime: Chime | None,
        stop_chime: Chime | None,
    ) -> None:
        self._satellite = satellite
        self._eos = EndOfSpeech(satellite.settings.vad, speech)
        self._start_chime = start_chime
        self._stop_chime = stop_chime
        self.stream: _Stream | None = None
        self._lock = asyncio.Lock()
        self._ids = itertools.count(1)
        self._push_to_talk = False
        self._audio_listeners: list[AudioListener] = []

    def add_audio_listener(self, listener: AudioListener) -> Callable[[], None]:
        """Call listener after every audio chunk sent; returns an unsubscribe callable."""
        self._audio_listeners.append(listener)
        return lambda: self._audio_listeners.remove(listener)

    def push_to_talk(self, pending: bool) -> None:
        """Start (True) or no longer start (False) a stream with the next captured chunk."""
        self._push_to_talk = pending

    def forget_speech(self) -> None:
        """Purge: forget the audio the VAD holds, unless a stream is using it."""
        # Mid-stream, the VAD holds under 32 ms of audio that is leaving anyway; resetting
        # it would forget that speech began, and the stream would run on to the no-speech
        # timeout (seconds more audio out of the room).
        if self.stream is None:
            self._eos.reset()

    async def on_chunk(self, chunk: bytes, position: int) -> None:
        """Act on a chunk the microphone captured at position."""
        sat = self._satellite
        if sat.facts.muted:
            return
        if self.stream is not None:
            async with self._lock:
                if self.stream is not None:
                    await self._send_audio(self.stream, chunk)
        elif self._push_to_talk:
            self._push_to_talk = False
            await self.start(StreamTrigger.PUSH_TO_TALK, chunk, position)
        else:
            await sat.trigger.on_idle_audio(chunk, position)

    async def start(
        self,
        trigger: StreamTrigger,
        first: bytes,
        position: int,
        wake_word: str | None = None,
        *,
        remote: bool = False,
        evidence: WakeEvidence | None = None,
    ) -> None:
        """Start a stream whose first audio is first, captured at position."""
        sat = self._satellite
        async with self._lock:
            if self.stream is not None or sat.controller is None or sat.facts.muted:
                return
            stream = _Stream(next(self._ids), trigger, position, remote)
            self.stream = stream
            sat.stream_started()
            self._eos.reset()
            if not remote:
                self._chime(self._start_chime, "start chime")
            # The light is on (every output has it) before the first byte leaves.
            await sat.refresh()
            await self._announce(stream, wake_word, evidence)
            if not stream.announced:
                await self._finish(StopReason.DISCONNECTED)
            elif first:
                await self._send_audio(stream, first)
            if trigger == StreamTrigger.PUSH_TO_TALK:
                sat.ledger.record_push_to_talk()

    async def _announce(
        self, stream: _Stream, wake_word: str | None, evidence: WakeEvidence | None
    ) -> None:
        link = self._satellite.control
        if stream.trigger == StreamTrigger.WAKE_WORD:
            await link.send(Detection(name=wake_word, timestamp=stream.timestamp()).event())
        stream.announced = await link.send(
            StreamStart(
                rate=MIC_FORMAT.rate,
                width=MIC_FORMAT.width,
                channels=MIC_FORMAT.channels,
                trigger=stream.trigger,
                stream_id=stream.stream_id,
                timestamp=stream.timestamp(),
                wake_word=wake_word,
                wake_probability=evidence.probability if evidence else None,
                speech_level=evidence.speech_level if evidence else None,
                wake_time=evidence.detected_at if evidence else None,
            ).event()
        )

    async def _send_audio(self, stream: _Stream, pcm: bytes) -> None:
        """Send pcm of the stream and end the stream if the command is over (lock held)."""
        chunk = AudioChunk(
            rate=MIC_FORMAT.rate,
            width=MIC_FORMAT.width,
            channels=MIC_FORMAT.channels,
            audio=pcm,
            timestamp=stream.timestamp(stream.sent),
        )
        if not await self._satellite.control.send(chunk.event()):
            await self._finish(StopReason.DISCONNECTED)
            return
        stream.sent += len(pcm)
        sent_at = time.monotonic()
        for listener in list(self._audio_listeners):
            listener(stream.stream_id, pcm, sent_at)
        if stream.remote:
            return  # Home Assistant decides when a remote-wake stream ends
        verdict = self._eos.process(pcm)
        if verdict == Verdict.END_OF_SPEECH:
            await self._finish(StopReason.END_OF_SPEECH)
        elif verdict == Verdict.NO_SPEECH:
            await self._finish(StopReason.NO_SPEECH)
        elif seconds_of(stream.sent) >= self._satellite.settings.vad.max_seconds:
            await self._finish(StopReason.MAX_LENGTH)

    async def end(self, reason: StopReason, stream_id: int | None = None) -> None:
        """End the stream (only if it is stream_id, when given)."""
        async with self._lock:
            stream = self.stream
            if stream is None or (stream_id is not None and stream.stream_id != stream_id):
                return
            await self._finish(reason)

    async def _finish(self, reason: StopReason) -> None:
        """End the current stream (lock held): audio-stop first, then the light."""
        sat = self._satellite
        stream, self.stream = self.stream, None
        if stream is None:
            return
        sat.stream_ended(reason in COMMAND_DONE)
        seconds = seconds_of(stream.sent)
        if stream.announced:
            await sat.control.send(
                StreamStop(
                    reason=reason,
                    stream_id=stream.stream_id,
                    seconds=seconds,
                    timestamp=stream.timestamp(stream.sent),
                ).event()
            )
        _LOGGER.info("stream %d stopped (%s) after %.2f s", stream.stream_id, reason, seconds)
        sat.wake.deafen(sat.mic.position)
        # A satellite that yielded to a nearer one goes quiet: the nearer one chimes.
        if not stream.remote and reason is not StopReason.YIELDED:
            self._chime(self._stop_chime, "stop chime")
        await sat.refresh()
        if stream.sent:
            sat.ledger.record_stream(seconds)
        await sat.control.send(sat.ledger.ledger.event())

    def _chime(self, chime: Chime | None, name: str) -> None:
        if chime is not None:
            self._satellite.spawn(self._play_chime(chime), name)

    async def _play_chime(self, chime: Chime) -> None:
        speaker = self._satellite.speaker
        if not speaker.available:
            return
        try:
            await speaker.play(chime.pcm, chime.format, kind="chime")
        except AudioError as err:
            _LOGGER.warning("cannot play a chime: %s", err)
