"""The command stream: from the chunk that starts a command to the stop that ends it.

Each captured chunk comes here. While a stream runs it is sent (the light is on before the
first byte, `audio-stop` follows the last) and the VAD decides where the command ends;
otherwise a pending push-to-talk starts a stream, or the trigger strategy (wake word or
remote wake) looks at the chunk.

A satellite that recognises on the device passes the command's audio to its recogniser
instead of sending it (its own light and chime say so), which decodes it as it is heard
(recognition.Listening); once the VAD says the command is over, or the recogniser that
nothing can follow it, Home Assistant is sent only the text (`sotto-recognized`) and the
audio is dropped.
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

from sotto_voice.messages import (
    Recognized,
    StopReason,
    StreamStart,
    StreamStop,
    StreamTrigger,
    WakeHeard,
)

from .audio import BYTES_PER_SECOND, MIC_FORMAT, seconds_of
from .chimes import Chime
from .errors import AudioError
from .phase import Phase
from .vad import EndOfSpeech, SpeechProbability, Verdict

if TYPE_CHECKING:
    from .core import Satellite
    from .recognition import Listening
    from .triggers import WakeEvidence

_LOGGER = logging.getLogger(__name__)

AudioListener = Callable[[int, bytes, float], None]
"""Called with (stream id, audio, monotonic time) after each audio chunk was sent."""

COMMAND_DONE: Final = frozenset(
    {StopReason.END_OF_SPEECH, StopReason.MAX_LENGTH, StopReason.HA_COMPLETE}
)
"""Stops after which Home Assistant works on the command (the satellite shows thinking)."""

HEARD_ON_DEVICE: Final = frozenset({StopReason.END_OF_SPEECH, StopReason.MAX_LENGTH})
"""Stops after which a command heard on the device is decoded (the satellite thinks)."""

_TOLD: Final = HEARD_ON_DEVICE | {StopReason.NO_SPEECH, StopReason.YIELDED, StopReason.PURGED}
"""Stops of a command heard on the device that Home Assistant is told about (only those
in HEARD_ON_DEVICE are decoded)."""


@dataclass(slots=True)
class _Stream:
    stream_id: int
    trigger: StreamTrigger
    start_position: int
    """Captured bytes before the stream's first byte."""

    remote: bool
    """A remote-wake stream: Home Assistant decides where it ends, and no chime marks it."""

    on_device: bool = False
    """Recognised on the device: the audio goes to `listening`, never out."""

    wake_word: str | None = None

    captured: int = 0
    """Audio bytes of the command (sent, or kept to recognise on the device)."""

    listening: Listening | None = None
    """The command decoded on the device while it is heard (None once it is decoded or
    dropped, or when there is no grammar to decode it with)."""

    announced: bool = False
    """True once audio-start has been sent (so audio-stop is owed); on the device: once
    Home Assistant can be sent the text."""

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
        listen_chime: Chime | None = None,
    ) -> None:
        self._satellite = satellite
        self._eos = EndOfSpeech(satellite.settings.vad, speech)
        self._start_chime = start_chime
        self._stop_chime = stop_chime
        self._listen_chime = listen_chime or start_chime
        self.stream: _Stream | None = None
        self._lock = asyncio.Lock()
        self._ids = itertools.count(1)
        self._push_to_talk = False
        self._audio_listeners: list[AudioListener] = []
        self._decoding: dict[asyncio.Task[None], _Stream] = {}
        """Decodes of commands heard on the device, until their text is sent."""

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

    async def forget_command(self) -> bool:
        """Purge: drop a command being heard on the device, or decoded, before any of it is
        acted on; True if there was one.

        Its audio is dropped at once and its decode cancelled; Home Assistant is told it
        was purged (no text), so its "listening finished" comes. A streamed command is
        not touched (its audio has left already, and Home Assistant's purge covers what
        it kept).
        """
        decoding = list(self._decoding.items())
        self._decoding.clear()
        for task, _stream in decoding:
            task.cancel()
        for _task, decoded in decoding:
            await self._tell(decoded, StopReason.PURGED, seconds_of(decoded.captured))
        dropped = bool(decoding)
        async with self._lock:
            stream = self.stream
            if stream is not None and stream.on_device:
                await self._finish(StopReason.PURGED)  # told, not decoded: dropped
                dropped = True
        if dropped and self._satellite.phase is Phase.THINKING:
            self._satellite.stop_thinking()
            await self._satellite.refresh()
        return dropped

    async def on_chunk(self, chunk: bytes, position: int) -> None:
        """Act on a chunk the microphone captured at position."""
        sat = self._satellite
        if sat.facts.muted:
            return
        if self.stream is not None:
            async with self._lock:
                if self.stream is not None:
                    await self._take_audio(self.stream, chunk)
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
            on_device = sat.recognizer is not None and not remote
            stream = _Stream(next(self._ids), trigger, position, remote, on_device, wake_word)
            self.stream = stream
            sat.command_started(on_device=on_device)
            self._eos.reset()
            if on_device:
                stream.listening = self._listen(stream)
                self._chime(self._listen_chime, "listen chime")
            elif not remote:
                self._chime(self._start_chime, "start chime")
            # The light is on (every output has it) before the first byte leaves.
            await sat.refresh()
            await self._announce(stream, wake_word, evidence)
            if not stream.announced:
                await self._finish(StopReason.DISCONNECTED)
            elif first:
                await self._take_audio(stream, first)
            if trigger == StreamTrigger.PUSH_TO_TALK:
                sat.ledger.record_push_to_talk()

    async def _announce(
        self, stream: _Stream, wake_word: str | None, evidence: WakeEvidence | None
    ) -> None:
        link = self._satellite.control
        told = True
        if stream.trigger == StreamTrigger.WAKE_WORD:
            told = await link.send(Detection(name=wake_word, timestamp=stream.timestamp()).event())
        if stream.on_device:
            # No audio stream is announced: that listening started, with the wake's
            # evidence (so HA can let a nearer satellite answer), then only the text,
            # once decoded.
            if told:
                told = await link.send(
                    WakeHeard(
                        stream_id=stream.stream_id,
                        trigger=stream.trigger,
                        wake_word=wake_word,
                        wake_probability=evidence.probability if evidence else None,
                        speech_level=evidence.speech_level if evidence else None,
                        wake_time=evidence.detected_at if evidence else None,
                    ).event()
                )
            stream.announced = told and link.controller is not None
            return
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

    async def _take_audio(self, stream: _Stream, pcm: bytes) -> None:
        """Send (or keep, on the device) pcm of the stream, and end the stream if the
        command is over (lock held)."""
        if stream.on_device:
            if stream.listening is not None:
                stream.listening.hear(pcm)
        elif not await self._send_audio(stream, pcm):
            await self._finish(StopReason.DISCONNECTED)
            return
        stream.captured += len(pcm)
        if stream.remote:
            return  # Home Assistant decides when a remote-wake stream ends
        verdict = self._eos.process(pcm)
        if verdict == Verdict.END_OF_SPEECH:
            await self._finish(StopReason.END_OF_SPEECH)
        elif verdict == Verdict.NO_SPEECH:
            await self._finish(StopReason.NO_SPEECH)
        elif seconds_of(stream.captured) >= self._satellite.settings.vad.max_seconds:
            await self._finish(StopReason.MAX_LENGTH)

    async def _send_audio(self, stream: _Stream, pcm: bytes) -> bool:
        """Send pcm to Home Assistant; False if it could not be sent."""
        chunk = AudioChunk(
            rate=MIC_FORMAT.rate,
            width=MIC_FORMAT.width,
            channels=MIC_FORMAT.channels,
            audio=pcm,
            timestamp=stream.timestamp(stream.captured),
        )
        if not await self._satellite.control.send(chunk.event()):
            return False
        sent_at = time.monotonic()
        for listener in list(self._audio_listeners):
            listener(stream.stream_id, pcm, sent_at)
        return True

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
        done = COMMAND_DONE if not stream.on_device else HEARD_ON_DEVICE
        sat.stream_ended(reason in done)
        seconds = seconds_of(stream.captured)
        if stream.on_device:
            if stream.announced and reason in _TOLD:
                decode = sat.spawn(self._recognize(stream, reason, seconds), "recognise")
                self._decoding[decode] = stream
                decode.add_done_callback(lambda done: self._decoding.pop(done, None))
            elif stream.listening is not None:
                self._satellite.spawn(stream.listening.drop(), "drop command")
                stream.listening = None
        elif stream.announced:
            await sat.control.send(
                StreamStop(
                    reason=reason,
                    stream_id=stream.stream_id,
                    seconds=seconds,
                    timestamp=stream.timestamp(stream.captured),
                ).event()
            )
        kind = "command heard on the device" if stream.on_device else "stream"
        _LOGGER.info("%s %d stopped (%s) after %.2f s", kind, stream.stream_id, reason, seconds)
        sat.wake.deafen(sat.mic.position)
        # A satellite that yielded to a nearer one goes quiet: the nearer one chimes.
        if not stream.remote and reason is not StopReason.YIELDED:
            self._chime(self._stop_chime, "stop chime")
        await sat.refresh()
        if stream.captured:
            sat.ledger.record_command(seconds, sent=not stream.on_device)
        await sat.control.send(sat.ledger.ledger.event())

    def _listen(self, stream: _Stream) -> Listening | None:
        """Start decoding the command on the device; when the recogniser finds it whole
        before the VAD's silence ends, the stream ends there (END_OF_SPEECH)."""
        recognizer = self._satellite.recognizer
        if recognizer is None:
            return None

        def whole() -> None:
            ended = self.end(StopReason.END_OF_SPEECH, stream.stream_id)
            self._satellite.spawn(ended, "command whole")

        return recognizer.listen(whole)

    async def _recognize(self, stream: _Stream, reason: StopReason, seconds: float) -> None:
        """Decode a command heard on the device and send Home Assistant its text only."""
        sat = self._satellite
        listening, stream.listening = stream.listening, None
        text = None
        if listening is not None:
            try:
                if reason in HEARD_ON_DEVICE:
                    text = await listening.text()
            finally:
                await listening.drop()  # the command's audio is gone once decoded
        if sat.facts.muted:
            return  # muted meanwhile: what was said is not acted on
        await self._tell(stream, reason, seconds, text)

    async def _tell(
        self, stream: _Stream, reason: StopReason, seconds: float, text: str | None = None
    ) -> None:
        """Send Home Assistant the outcome of a command heard on the device."""
        await self._satellite.control.send(
            Recognized(
                stream_id=stream.stream_id,
                trigger=stream.trigger,
                reason=reason,
                seconds=seconds,
                text=text,
                wake_word=stream.wake_word,
            ).event()
        )

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
