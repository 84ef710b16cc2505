"""The satellite itself: microphone -> wake word -> stream to Home Assistant, and back.

The Satellite is driven by an AudioSource and talks to at most one Controller (Home
Assistant over the link, or a test). It owns the privacy rules:

- nothing is sent before a wake word heard here (or push-to-talk, or a remote-wake mode
  the configuration enabled), and the audio sent starts after the detection point;
- while muted the source is stopped (the capture process ends), and mute survives restarts;
  a hardware mute cannot be undone from Home Assistant;
- the indicator shows "listening" before the first audio byte is sent and until after the
  last; a chime marks the start and the end of every stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final, Protocol

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.snd import Played
from wyoming.wake import Detection

from sotto_voice.audio import PcmFormat
from sotto_voice.messages import (
    ERROR_BAD_MESSAGE,
    ERROR_BUSY,
    ERROR_HARDWARE_MUTE,
    ERROR_MUTED,
    ERROR_UNKNOWN_WAKE_WORD,
    Configure,
    IndicatorState,
    MessageError,
    MuteSource,
    Purge,
    Purged,
    PushToTalk,
    RunEnded,
    SetMute,
    SottoInfo,
    SottoState,
    StopReason,
    StopStreaming,
    StreamStart,
    StreamStop,
    StreamTrigger,
)

from .audio import (
    BYTES_PER_SECOND,
    CHUNK_BYTES,
    MIC_FORMAT,
    SOON_BYTES,
    seconds_of,
)
from .audio_in import AudioSource, EndOfAudio
from .audio_out import Speaker
from .chimes import Chime
from .config import VadConfig
from .errors import AudioError, SatelliteError, WakeWordError
from .indicator import Indicator
from .ledger import Ledger
from .store import StateStore
from .vad import EndOfSpeech, SpeechProbability, Verdict
from .wake import WakeWordDetector

_LOGGER = logging.getLogger(__name__)

THINKING_TIMEOUT: Final = 15.0
"""Seconds to show "thinking" after a command when Home Assistant says nothing more."""

ERROR_FLASH_SECONDS: Final = 2.0
"""How long an error reported by Home Assistant shows on the indicator."""

ECHO_TAIL_SECONDS: Final = 0.3
"""The wake word stays deaf this long after playback ends (room echo, speaker buffers)."""

MIC_RETRY_SECONDS: Final = (1.0, 2.0, 5.0, 10.0)
"""Delays before reopening a microphone that failed, growing while it keeps failing."""

PLAYBACK_QUEUE_CHUNKS: Final = 64
"""Reply chunks waiting for the speaker; beyond that the link pushes back on HA."""


class Controller(Protocol):
    """The one peer allowed to control the satellite (Home Assistant)."""

    async def send(self, event: Event) -> None:
        """Send an event to the controller (raises if the connection is gone)."""


@dataclass(frozen=True, slots=True)
class SatelliteSettings:
    """What the core needs to know about this satellite."""

    device_id: str
    name: str
    version: str
    wake_engine: str
    wake_words: tuple[str, ...]
    wake_word: str
    sensitivity: float
    vad: VadConfig
    refractory_seconds: float = 2.0
    remote_wake: bool = False
    error_grace_seconds: float = 5.0
    has_hardware_mute: bool = False
    thinking_timeout: float = THINKING_TIMEOUT


DetectorFactory = Callable[[str, float], WakeWordDetector]
"""Loads a detector for (wake word, sensitivity)."""

WakeListener = Callable[[str, float], None]
"""Called with (wake word, monotonic time) at each detection."""

AudioListener = Callable[[int, bytes, float], None]
"""Called with (stream id, audio, monotonic time) after each audio chunk was sent."""


@dataclass(slots=True)
class _Stream:
    stream_id: int
    trigger: StreamTrigger
    start_position: int
    """Captured bytes before the stream's first byte."""

    sent: int = 0
    """Audio bytes sent."""

    announced: bool = False
    """True once audio-start has been sent (so audio-stop is owed)."""


class Satellite:
    """The satellite's state machine; see the module docstring for its rules."""

    def __init__(
        self,
        settings: SatelliteSettings,
        *,
        source: AudioSource,
        detector_factory: DetectorFactory,
        speech: SpeechProbability,
        speaker: Speaker,
        indicator: Indicator,
        store: StateStore,
        ledger: Ledger,
        start_chime: Chime | None = None,
        stop_chime: Chime | None = None,
    ) -> None:
        self.settings = settings
        self._source = source
        self._detector_factory = detector_factory
        self._speaker = speaker
        self._indicator = indicator
        self._store = store
        self._ledger = ledger
        self._start_chime = start_chime
        self._stop_chime = stop_chime

        stored = store.state
        self._wake_word: str = settings.wake_word
        if stored.wake_word is not None and stored.wake_word in settings.wake_words:
            self._wake_word = stored.wake_word  # chosen in Home Assistant, kept over restarts
        self._sensitivity = (
            stored.sensitivity if stored.sensitivity is not None else settings.sensitivity
        )
        if stored.volume is not None:
            speaker.volume = stored.volume
        self._detector = detector_factory(self._wake_word, self._sensitivity)
        self._eos = EndOfSpeech(settings.vad, speech)

        self._muted = stored.muted
        self._mute_source = stored.mute_source if stored.muted else None
        self._controller: Controller | None = None
        self._stream: _Stream | None = None
        self._stream_ids = itertools.count(1)
        self._stream_lock = asyncio.Lock()
        self._mute_lock = asyncio.Lock()
        self._captured = 0
        self._deaf_until = 0
        self._push_to_talk = False
        self._next_read = CHUNK_BYTES
        self._thinking = False
        self._speaking = False
        self._ha_missing = False
        self._mic_failed = False
        self._error_flash = False
        self._error_flashes = 0
        self._last_state: SottoState | None = None

        self._capture_task: asyncio.Task[None] | None = None
        self._grace_task: asyncio.Task[None] | None = None
        self._thinking_task: asyncio.Task[None] | None = None
        self._playback_task: asyncio.Task[None] | None = None
        self._playback_queue: asyncio.Queue[bytes | None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake_listeners: list[WakeListener] = []
        self._audio_listeners: list[AudioListener] = []
        self._unsubscribe_speaker: Callable[[], None] | None = None
        self._running = False

    # --- observation ---------------------------------------------------------------------

    @property
    def muted(self) -> bool:
        """Return True while the microphone is closed."""
        return self._muted

    @property
    def mute_source(self) -> MuteSource | None:
        """Return who muted the satellite."""
        return self._mute_source

    @property
    def streaming(self) -> bool:
        """Return True while audio is leaving the satellite."""
        return self._stream is not None

    @property
    def capturing(self) -> bool:
        """Return True while the microphone is open."""
        return self._capture_task is not None and not self._capture_task.done()

    @property
    def controller(self) -> Controller | None:
        """Return the controller in charge, if any."""
        return self._controller

    @property
    def wake_word(self) -> str:
        """Return the active wake word."""
        return self._wake_word

    def add_wake_listener(self, listener: WakeListener) -> Callable[[], None]:
        """Call listener at every wake word detection; returns an unsubscribe callable."""
        self._wake_listeners.append(listener)
        return lambda: self._wake_listeners.remove(listener)

    def add_audio_listener(self, listener: AudioListener) -> Callable[[], None]:
        """Call listener after every audio chunk sent; returns an unsubscribe callable."""
        self._audio_listeners.append(listener)
        return lambda: self._audio_listeners.remove(listener)

    def info(self) -> SottoInfo:
        """Return what this satellite is and can do."""
        vad = self.settings.vad
        return SottoInfo(
            device_id=self.settings.device_id,
            name=self.settings.name,
            version=self.settings.version,
            wake_word_engine=self.settings.wake_engine,
            wake_words=self.settings.wake_words,
            has_hardware_mute=self.settings.has_hardware_mute,
            has_speaker=self._speaker.available,
            remote_wake=self.settings.remote_wake,
            vad_silence_seconds=vad.silence_seconds,
            max_command_seconds=vad.max_seconds,
        )

    def state(self) -> SottoState:
        """Return the state as reported to Home Assistant."""
        return SottoState(
            muted=self._muted,
            mute_source=self._mute_source,
            indicator=self._indicator.state,
            streaming=self._stream is not None,
            wake_word=self._wake_word,
            sensitivity=self._sensitivity,
            volume=self._speaker.volume,
        )

    # --- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Open the microphone (unless muted) and start watching for Home Assistant."""
        if self._running:
            return
        self._running = True
        self._unsubscribe_speaker = self._speaker.add_listener(self._on_playing)
        self._grace_task = asyncio.create_task(self._grace_period())
        if not self._muted:
            self._start_capture()
        await self._refresh()

    async def stop(self) -> None:
        """Close the microphone, end any stream and stop every task."""
        if not self._running:
            return
        self._running = False
        await self._stop_capture()
        await self._end_stream(StopReason.DISCONNECTED)
        tasks = [
            task
            for task in (
                self._grace_task,
                self._thinking_task,
                self._playback_task,
                *self._tasks,
            )
            if task is not None
        ]
        self._end_playback()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self._tasks.clear()
        if self._unsubscribe_speaker is not None:
            self._unsubscribe_speaker()
            self._unsubscribe_speaker = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Satellite]:
        """Run the satellite while inside the block."""
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=f"sotto-satellite {name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- controller ----------------------------------------------------------------------

    async def attach(self, controller: Controller) -> None:
        """Put controller in charge and tell it everything about the satellite."""
        if self._controller is not None and self._controller is not controller:
            raise SatelliteError("another controller is in charge")
        self._controller = controller
        if self._grace_task is not None:
            self._grace_task.cancel()
            self._grace_task = None
        self._ha_missing = False
        self._last_state = None
        await self._send(self.info().event())
        await self._refresh()
        await self._send(self._ledger.ledger.event())

    async def detach(self, controller: Controller) -> None:
        """Forget controller (its link is gone): stop sending, show an error after a grace."""
        if self._controller is not controller:
            return
        await self._drop_controller(controller)

    async def _drop_controller(self, controller: Controller) -> None:
        if self._controller is not controller:
            return
        self._controller = None
        _LOGGER.info("Home Assistant is gone: listening on, sending nothing")
        await self._end_stream(StopReason.DISCONNECTED)
        self._thinking = False
        self._end_playback()
        if self._running and self._grace_task is None:
            self._grace_task = asyncio.create_task(self._grace_period())
        await self._refresh()

    async def _grace_period(self) -> None:
        await asyncio.sleep(self.settings.error_grace_seconds)
        self._grace_task = None
        if self._controller is None:
            self._ha_missing = True
            await self._refresh()

    async def _send(self, event: Event) -> bool:
        """Send to the controller; on failure drop it. Returns True if sent."""
        controller = self._controller
        if controller is None:
            return False
        try:
            await controller.send(event)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # any failure of the link means it is gone
            _LOGGER.info("cannot send to Home Assistant (%s); dropping the connection", err)
            self._spawn(self._drop_controller(controller), "drop controller")
            return False
        return True

    async def _send_error(self, text: str, code: str) -> None:
        _LOGGER.info("refused: %s", text)
        await self._send(Error(text=text, code=code).event())

    # --- indicator and state reports -----------------------------------------------------

    def _derived_state(self) -> IndicatorState:
        if self._stream is not None:
            return IndicatorState.LISTENING
        if self._muted:
            return IndicatorState.MUTED
        if self._speaking:
            return IndicatorState.SPEAKING
        if self._thinking:
            return IndicatorState.THINKING
        if self._ha_missing or self._mic_failed or self._error_flash:
            return IndicatorState.ERROR
        return IndicatorState.IDLE

    async def _refresh(self) -> None:
        """Show the derived state, then report the state if anything changed."""
        await self._indicator.show(self._derived_state())
        state = self.state()
        if state != self._last_state and await self._send(state.event()):
            self._last_state = state

    # --- microphone ----------------------------------------------------------------------

    def _start_capture(self) -> None:
        if self._capture_task is None or self._capture_task.done():
            self._capture_task = asyncio.create_task(self._capture(), name="sotto-satellite mic")

    async def _stop_capture(self) -> None:
        task, self._capture_task = self._capture_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _capture(self) -> None:
        failures = 0
        while not self._muted:
            try:
                await self._source.start()
                try:
                    if self._mic_failed:
                        self._mic_failed = False
                        await self._refresh()
                    while True:
                        size, self._next_read = self._next_read, CHUNK_BYTES
                        chunk = await self._source.read(size)
                        failures = 0
                        await self._on_chunk(chunk)
                finally:
                    await self._source.stop()
            except EndOfAudio:
                _LOGGER.info("the microphone's audio ended")
                await self._end_stream(StopReason.ERROR)
                return
            except AudioError as err:
                delay = MIC_RETRY_SECONDS[min(failures, len(MIC_RETRY_SECONDS) - 1)]
                failures += 1
                _LOGGER.error("microphone failed: %s; retrying in %.0f s", err, delay)
                await self._end_stream(StopReason.ERROR)
                self._mic_failed = True
                await self._refresh()
                await asyncio.sleep(delay)

    async def _on_chunk(self, chunk: bytes) -> None:
        position = self._captured
        self._captured += len(chunk)
        if self._muted:
            return
        if self._stream is not None:
            await self._stream_audio(chunk)
            return
        if self._push_to_talk:
            self._push_to_talk = False
            await self._start_stream(StreamTrigger.PUSH_TO_TALK, None, chunk, position)
            return
        if self.settings.remote_wake:
            if (
                self._controller is not None
                and not self._speaker.playing
                and not self._thinking
                and not self._speaking
            ):
                await self._start_stream(StreamTrigger.REMOTE_WAKE, None, chunk, position)
            return
        if self._speaking or self._speaker.playing or position < self._deaf_until:
            return  # our own voice, its echo, or the refractory period
        hit = self._detector.process(chunk)
        if hit is None:
            return
        detected_at = time.monotonic()
        for listener in list(self._wake_listeners):
            listener(hit.name, detected_at)
        end = position + hit.offset
        self._deaf_until = end + int(self.settings.refractory_seconds * BYTES_PER_SECOND)
        if self._controller is None:
            _LOGGER.info("wake word %s heard, but Home Assistant is not connected", hit.name)
        else:
            _LOGGER.info("wake word %s heard", hit.name)
            if hit.offset >= len(chunk):
                self._next_read = SOON_BYTES  # nothing after the wake word yet: read less
            await self._start_stream(StreamTrigger.WAKE_WORD, hit.name, chunk[hit.offset :], end)
        # Counted after the stream is under way: writing the file must not delay it.
        self._ledger.record_wake()

    def _on_playing(self, kind: str, playing: bool) -> None:
        if not playing:
            # Features of our own voice must not complete a wake word later.
            self._detector.reset()
            tail = self._captured + int(ECHO_TAIL_SECONDS * BYTES_PER_SECOND)
            self._deaf_until = max(self._deaf_until, tail)

    # --- streams -------------------------------------------------------------------------

    async def _start_stream(
        self, trigger: StreamTrigger, wake_word: str | None, first: bytes, position: int
    ) -> None:
        async with self._stream_lock:
            if self._stream is not None or self._controller is None or self._muted:
                return
            stream = _Stream(next(self._stream_ids), trigger, position)
            self._stream = stream
            self._cancel_thinking()
            self._eos.reset()
            if trigger != StreamTrigger.REMOTE_WAKE and self._start_chime is not None:
                self._spawn(self._play_chime(self._start_chime), "start chime")
            # The light is on (every output has it) before the first byte leaves.
            await self._refresh()
            timestamp = position * 1000 // BYTES_PER_SECOND
            if trigger == StreamTrigger.WAKE_WORD:
                await self._send(Detection(name=wake_word, timestamp=timestamp).event())
            start_stage = (
                PipelineStage.WAKE if trigger == StreamTrigger.REMOTE_WAKE else PipelineStage.ASR
            )
            await self._send(
                RunPipeline(
                    start_stage=start_stage,
                    end_stage=PipelineStage.TTS,
                    restart_on_end=False,
                ).event()
            )
            sent = await self._send(
                StreamStart(
                    rate=MIC_FORMAT.rate,
                    width=MIC_FORMAT.width,
                    channels=MIC_FORMAT.channels,
                    trigger=trigger,
                    stream_id=stream.stream_id,
                    timestamp=timestamp,
                    wake_word=wake_word,
                ).event()
            )
            stream.announced = sent
            if not sent:
                await self._finish_stream(StopReason.DISCONNECTED)
            elif first:
                await self._send_audio(stream, first)
            if trigger == StreamTrigger.PUSH_TO_TALK:
                self._ledger.record_push_to_talk()

    async def _stream_audio(self, chunk: bytes) -> None:
        async with self._stream_lock:
            stream = self._stream
            if stream is None:
                return
            await self._send_audio(stream, chunk)

    async def _send_audio(self, stream: _Stream, pcm: bytes) -> None:
        """Send pcm of the stream and end the stream if the command is over (lock held)."""
        timestamp = (stream.start_position + stream.sent) * 1000 // BYTES_PER_SECOND
        chunk = AudioChunk(
            rate=MIC_FORMAT.rate,
            width=MIC_FORMAT.width,
            channels=MIC_FORMAT.channels,
            audio=pcm,
            timestamp=timestamp,
        )
        if not await self._send(chunk.event()):
            await self._finish_stream(StopReason.DISCONNECTED)
            return
        stream.sent += len(pcm)
        sent_at = time.monotonic()
        for listener in list(self._audio_listeners):
            listener(stream.stream_id, pcm, sent_at)
        if stream.trigger == StreamTrigger.REMOTE_WAKE:
            return  # Home Assistant decides when a remote-wake stream ends
        verdict = self._eos.process(pcm)
        if verdict == Verdict.END_OF_SPEECH:
            await self._finish_stream(StopReason.END_OF_SPEECH)
        elif verdict == Verdict.NO_SPEECH:
            await self._finish_stream(StopReason.NO_SPEECH)
        elif seconds_of(stream.sent) >= self.settings.vad.max_seconds:
            await self._finish_stream(StopReason.MAX_LENGTH)

    async def _end_stream(self, reason: StopReason, stream_id: int | None = None) -> None:
        async with self._stream_lock:
            stream = self._stream
            if stream is None or (stream_id is not None and stream.stream_id != stream_id):
                return
            await self._finish_stream(reason)

    async def _finish_stream(self, reason: StopReason) -> None:
        """End the current stream (stream lock held): audio-stop first, then the light."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        seconds = seconds_of(stream.sent)
        end = (stream.start_position + stream.sent) * 1000 // BYTES_PER_SECOND
        if stream.announced:
            await self._send(
                StreamStop(
                    reason=reason, stream_id=stream.stream_id, seconds=seconds, timestamp=end
                ).event()
            )
        _LOGGER.info("stream %d stopped (%s) after %.2f s", stream.stream_id, reason, seconds)
        self._detector.reset()
        self._deaf_until = max(self._deaf_until, self._captured)
        if reason in (StopReason.END_OF_SPEECH, StopReason.MAX_LENGTH, StopReason.HA_COMPLETE):
            self._start_thinking()
        if stream.trigger != StreamTrigger.REMOTE_WAKE and self._stop_chime is not None:
            self._spawn(self._play_chime(self._stop_chime), "stop chime")
        await self._refresh()
        if stream.sent:
            self._ledger.record_stream(seconds)
        await self._send(self._ledger.ledger.event())

    async def _play_chime(self, chime: Chime) -> None:
        if not self._speaker.available:
            return
        try:
            await self._speaker.play(chime.pcm, chime.format, kind="chime")
        except AudioError as err:
            _LOGGER.warning("cannot play a chime: %s", err)

    # --- thinking, errors ----------------------------------------------------------------

    def _start_thinking(self) -> None:
        self._cancel_thinking()
        self._thinking = True
        self._thinking_task = asyncio.create_task(self._thinking_timeout())

    def _cancel_thinking(self) -> None:
        self._thinking = False
        task, self._thinking_task = self._thinking_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _thinking_timeout(self) -> None:
        await asyncio.sleep(self.settings.thinking_timeout)
        self._thinking_task = None
        self._thinking = False
        await self._refresh()

    async def _flash_error(self) -> None:
        self._error_flashes += 1
        flash = self._error_flashes
        self._error_flash = True
        await self._refresh()
        await asyncio.sleep(ERROR_FLASH_SECONDS)
        if flash == self._error_flashes:  # a newer flash keeps it on for longer
            self._error_flash = False
            await self._refresh()

    # --- mute ----------------------------------------------------------------------------

    async def set_mute(self, muted: bool, source: MuteSource) -> bool:
        """Mute or unmute; returns False if refused (HA may not undo a hardware mute)."""
        async with self._mute_lock:
            if muted:
                if self._muted and (self._mute_source in (MuteSource.HARDWARE, source)):
                    return True
                first = not self._muted
                self._muted = True  # from here on no chunk is used, even one in flight
                self._mute_source = source
                self._push_to_talk = False
                if first:
                    await self._stop_capture()
                    await self._end_stream(StopReason.MUTED)
                self._store.update(muted=True, mute_source=source)
                _LOGGER.info("muted (%s)", source)
            else:
                if not self._muted:
                    return True
                if source == MuteSource.HA and self._mute_source == MuteSource.HARDWARE:
                    await self._refresh()
                    return False
                self._store.update(muted=False, mute_source=None)
                self._muted = False
                self._mute_source = None
                self._detector.reset()
                if self._running:
                    self._start_capture()
                _LOGGER.info("unmuted (%s)", source)
            await self._refresh()
            return True

    async def hardware_action(self, action: str) -> None:
        """Apply a hardware mute input: `mute`, `unmute` or `toggle`."""
        if action == "toggle":
            action = "unmute" if self._muted else "mute"
        await self.set_mute(action == "mute", MuteSource.HARDWARE)

    def on_hardware_action(self, action: str) -> None:
        """Callback form of hardware_action for input hooks."""
        self._spawn(self.hardware_action(action), f"hardware {action}")

    async def push_to_talk(self) -> bool:
        """Start a stream with the next captured audio; False if muted or not possible."""
        if self._muted or self._controller is None or not self.capturing:
            return False
        if self._stream is not None:
            return False
        self._push_to_talk = True
        return True

    def on_push_to_talk(self, word: str) -> None:
        """Callback form of push_to_talk for input hooks."""
        self._spawn(self._local_push_to_talk(), "push to talk")

    async def _local_push_to_talk(self) -> None:
        if not await self.push_to_talk():
            _LOGGER.info("push-to-talk ignored (muted, streaming or Home Assistant away)")

    # --- events from the controller ------------------------------------------------------

    async def handle_event(self, event: Event) -> None:
        """Act on one event from the controller."""
        try:
            await self._handle(event)
        except MessageError as err:
            await self._send_error(str(err), ERROR_BAD_MESSAGE)

    async def _handle(self, event: Event) -> None:
        if SetMute.is_type(event.type):
            request = SetMute.from_event(event)
            if not await self.set_mute(request.muted, MuteSource.HA):
                await self._send_error(
                    "the satellite was muted on the device; unmute it there", ERROR_HARDWARE_MUTE
                )
        elif Configure.is_type(event.type):
            await self._configure(Configure.from_event(event))
        elif PushToTalk.is_type(event.type):
            PushToTalk.from_event(event)
            if self._muted:
                await self._send_error("the satellite is muted", ERROR_MUTED)
            elif not await self.push_to_talk():
                await self._send_error("the satellite is already streaming", ERROR_BUSY)
        elif StopStreaming.is_type(event.type):
            await self._end_stream(
                StopReason.HA_COMPLETE, StopStreaming.from_event(event).stream_id
            )
        elif RunEnded.is_type(event.type):
            RunEnded.from_event(event)
            if self._stream is None and not self._speaking:
                self._cancel_thinking()
                await self._refresh()
        elif Purge.is_type(event.type):
            Purge.from_event(event)
            self._ledger.clear()
            self._detector.reset()
            if self._stream is None:
                # Mid-stream, the VAD holds under 32 ms of audio that is leaving anyway;
                # resetting it would forget that speech began, and the stream would run
                # on to the no-speech timeout (seconds more audio out of the room).
                self._eos.reset()
            await self._send(Purged(cleared=("ledger", "wake_word_audio", "vad_audio")).event())
            await self._send(self._ledger.ledger.event())
        elif Describe.is_type(event.type):
            self._last_state = None
            await self._send(self.info().event())
            await self._refresh()
            await self._send(self._ledger.ledger.event())
        elif AudioStart.is_type(event.type):
            await self._begin_playback(event)
        elif AudioChunk.is_type(event.type):
            await self._playback_chunk(event)
        elif AudioStop.is_type(event.type):
            AudioStop.from_event(event)
            await self._finish_playback()
        elif Error.is_type(event.type):
            data = event.data or {}
            _LOGGER.warning("Home Assistant reports an error: %s", data.get("text"))
            await self._end_stream(StopReason.ERROR)
            self._cancel_thinking()
            self._spawn(self._flash_error(), "error flash")
        else:
            _LOGGER.debug("ignoring %s from Home Assistant", event.type)

    async def _configure(self, request: Configure) -> None:
        if request.wake_word is not None and request.wake_word != self._wake_word:
            if request.wake_word not in self.settings.wake_words:
                await self._send_error(
                    f"unknown wake word {request.wake_word!r}; this satellite has "
                    + ", ".join(self.settings.wake_words),
                    ERROR_UNKNOWN_WAKE_WORD,
                )
                return
            try:
                self._detector = self._detector_factory(request.wake_word, self._sensitivity)
            except WakeWordError as err:
                await self._send_error(str(err), ERROR_UNKNOWN_WAKE_WORD)
                return
            self._wake_word = request.wake_word
            self._store.update(wake_word=request.wake_word)
        if request.sensitivity is not None:
            self._sensitivity = request.sensitivity
            self._detector.set_sensitivity(request.sensitivity)
            self._store.update(sensitivity=request.sensitivity)
        if request.volume is not None:
            self._speaker.volume = request.volume
            self._store.update(volume=request.volume)
        await self._refresh()

    # --- playback of replies -------------------------------------------------------------

    async def _begin_playback(self, event: Event) -> None:
        start = AudioStart.from_event(event)
        self._end_playback()
        if not self._speaker.available:
            self._playback_queue = None
            return
        if self.settings.remote_wake:
            await self._end_stream(StopReason.PLAYBACK)
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(PLAYBACK_QUEUE_CHUNKS)
        self._playback_queue = queue
        fmt = PcmFormat(start.rate, start.width, start.channels)
        # Deaf from now on: the reply may hold the wake word (HA saying "okay nabu ...").
        self._speaking = True
        self._playback_task = asyncio.create_task(self._play_reply(fmt, queue))

    async def _playback_chunk(self, event: Event) -> None:
        chunk = AudioChunk.from_event(event)
        queue = self._playback_queue
        if queue is not None and chunk.audio:
            await queue.put(chunk.audio)

    async def _finish_playback(self) -> None:
        queue, self._playback_queue = self._playback_queue, None
        if queue is None:
            await self._send(Played().event())  # nothing to play: say so at once
            return
        await queue.put(None)

    def _end_playback(self) -> None:
        """Abandon a reply being played (a new one, or Home Assistant left)."""
        self._playback_queue = None
        task, self._playback_task = self._playback_task, None
        self._speaking = False
        if task is not None and not task.done():
            task.cancel()

    async def _play_reply(self, fmt: PcmFormat, queue: asyncio.Queue[bytes | None]) -> None:
        self._cancel_thinking()
        await self._refresh()
        finished = False
        try:
            async with self._speaker.clip(fmt, kind="reply") as write:
                while (pcm := await queue.get()) is not None:
                    await write(pcm)
            finished = True
        except AudioError as err:
            _LOGGER.error("cannot play the reply: %s", err)
        finally:
            current = asyncio.current_task()
            if self._playback_task in (current, None):  # not replaced by a newer reply
                self._speaking = False
                self._playback_task = None
        await self._refresh()
        if finished:
            await self._send(Played().event())
