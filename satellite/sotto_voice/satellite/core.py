"""The satellite itself: microphone -> wake word -> the command to Home Assistant (its audio,
or only its text when it is recognised on the device), and back.

The Satellite is driven by an AudioSource and talks to at most one Controller (Home
Assistant over the link, or a test). It owns the privacy rules:

- nothing is sent before a wake word heard here (or push-to-talk, or a remote-wake mode
  the configuration enabled), and the audio sent starts after the detection point;
- while muted the source is stopped (the capture process ends), and mute survives restarts;
  a hardware mute cannot be undone from Home Assistant;
- the indicator shows "listening" before the first audio byte is sent and until after the
  last; a chime marks the start and the end of every stream.

Its state is one phase (phase.py) and independent facts; the parts it is made of call it
directly when the phase moves:

    mic.py       Microphone      the capture loop; each chunk to the command stream
    commands.py  CommandStream   push-to-talk or the trigger starts a stream; VAD ends it
    triggers.py  WakeWord        the detector; WakeWordTrigger or RemoteWakeTrigger
    replies.py   Replies         a reply from Home Assistant played on the speaker
    alarm.py     TimerAlarm      a finished voice timer ringing until stopped
    control.py   Control         the controller in charge, what it is sent, its messages
    recognition.py OnDeviceRecognizer  the engine's Whisper recogniser, when configured
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final

from wyoming.snd import Played

from sotto_voice.messages import (
    MuteSource,
    Silenced,
    SilencedBy,
    SottoInfo,
    SottoState,
    StopReason,
)

from .alarm import RING_KIND, TimerAlarm
from .audio import BYTES_PER_SECOND
from .audio_in import AudioSource
from .audio_out import Speaker
from .chimes import Chime
from .commands import AudioListener, CommandStream
from .config import VadConfig
from .control import Control, Controller
from .indicator import Indicator
from .ledger import Ledger
from .mic import Microphone
from .phase import Facts, Phase, PhaseMachine, indicator_state, reported_state
from .recognition import OnDeviceRecognizer
from .replies import Replies
from .stopword import StopWord
from .store import StateStore
from .triggers import DetectorFactory, WakeListener, WakeWord, trigger_for
from .vad import SpeechProbability

_LOGGER = logging.getLogger(__name__)

THINKING_TIMEOUT: Final = 15.0
"""Seconds to show "thinking" after a command when Home Assistant says nothing more."""

_COMMAND_PHASES: Final = (Phase.STREAMING, Phase.LISTENING)

_STOPS_REPLIES: Final = frozenset({SilencedBy.VOICE, SilencedBy.BUTTON})
"""Who, stopping a ringing timer, also stops a reply: the person in the room."""

ECHO_TAIL_SECONDS: Final = 0.3
"""The wake word stays deaf this long after playback ends (room echo, speaker buffers)."""


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


class Satellite:
    """The satellite: its phase and facts, and the parts that act on them."""

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
        recognizer: OnDeviceRecognizer | None = None,
        listen_chime: Chime | None = None,
        timer_sound: Chime | None = None,
    ) -> None:
        self.settings = settings
        self.recognizer = recognizer
        """Recognises commands on the device (None: their audio is streamed to HA)."""
        self.speaker = speaker
        self.store = store
        self.ledger = ledger
        self._indicator = indicator

        stored = store.state
        if stored.volume is not None:
            speaker.volume = stored.volume
        self.facts = Facts(
            muted=stored.muted, mute_source=stored.mute_source if stored.muted else None
        )
        self._phases = PhaseMachine()

        self.wake = WakeWord(
            settings,
            detector_factory,
            chosen=stored.wake_word,
            second=stored.second_wake_word,
            sensitivity=stored.sensitivity,
        )
        self.trigger = trigger_for(self)
        self.mic = Microphone(self, source)
        self.commands = CommandStream(self, speech, start_chime, stop_chime, listen_chime)
        self.replies = Replies(self)
        self.alarm = TimerAlarm(self, timer_sound)
        self.stop_word = (
            StopWord(self, recognizer, speech, settings.vad) if recognizer is not None else None
        )
        """Hears "stop" while something sounds (only where commands are recognised here)."""
        self.control = Control(self)

        self._mute_lock = asyncio.Lock()
        self._thinking_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe_speaker: Callable[[], None] | None = None
        self._running = False

    # --- observation ---------------------------------------------------------------------

    @property
    def phase(self) -> Phase:
        """Return where the satellite is in a command."""
        return self._phases.phase

    @property
    def is_running(self) -> bool:
        """Return True between start and stop."""
        return self._running

    @property
    def muted(self) -> bool:
        """Return True while the microphone is closed."""
        return self.facts.muted

    @property
    def mute_source(self) -> MuteSource | None:
        """Return who muted the satellite."""
        return self.facts.mute_source

    @property
    def streaming(self) -> bool:
        """Return True while audio is leaving the satellite."""
        return self.phase is Phase.STREAMING

    @property
    def capturing(self) -> bool:
        """Return True while the microphone is open."""
        return self.mic.capturing

    @property
    def controller(self) -> Controller | None:
        """Return the controller in charge, if any."""
        return self.control.controller

    @property
    def wake_word(self) -> str:
        """Return the active wake word (the first, if it listens for two)."""
        return self.wake.name

    def add_wake_listener(self, listener: WakeListener) -> Callable[[], None]:
        """Call listener at every wake word detection; returns an unsubscribe callable."""
        return self.wake.add_listener(listener)

    def add_audio_listener(self, listener: AudioListener) -> Callable[[], None]:
        """Call listener after every audio chunk sent; returns an unsubscribe callable."""
        return self.commands.add_audio_listener(listener)

    def info(self) -> SottoInfo:
        """Return what this satellite is and can do."""
        settings = self.settings
        return SottoInfo(
            device_id=settings.device_id,
            name=settings.name,
            version=settings.version,
            wake_word_engine=settings.wake_engine,
            wake_words=settings.wake_words,
            has_hardware_mute=settings.has_hardware_mute,
            has_speaker=self.speaker.available,
            remote_wake=settings.remote_wake,
            vad_silence_seconds=settings.vad.silence_seconds,
            max_command_seconds=settings.vad.max_seconds,
            recognizes_on_device=self.recognizer is not None,
        )

    def state(self) -> SottoState:
        """Return the state as reported to Home Assistant."""
        return reported_state(
            self.phase,
            self.facts,
            wake_words=self.wake.names,
            sensitivity=self.wake.sensitivity,
            volume=self.speaker.volume,
            timer_ringing=self.alarm.ringing,
        )

    async def refresh(self) -> None:
        """Show the indicator for the phase and facts, then report the state if it changed."""
        await self._indicator.show(indicator_state(self.phase, self.facts))
        await self.control.report(self.state())

    # --- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Open the microphone (unless muted) and start watching for Home Assistant.

        A recogniser on the device is loaded and warmed first: the first command is
        decoded as fast as the rest.
        """
        if self._running:
            return
        if self.recognizer is not None:
            await self.recognizer.start()
        self._running = True
        self._unsubscribe_speaker = self.speaker.add_listener(self._on_playing)
        self.control.start_grace()
        if not self.facts.muted:
            self.mic.open()
        await self.refresh()

    async def stop(self) -> None:
        """Close the microphone, end any stream and stop every task."""
        if not self._running:
            return
        self._running = False
        await self.mic.close()
        await self.commands.end(StopReason.DISCONNECTED)
        tasks = [
            task
            for task in (
                self.control.grace_task,
                self._thinking_task,
                self.replies.task,
                *self._tasks,
            )
            if task is not None
        ]
        self.replies.abandon()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self._tasks.clear()
        if self._unsubscribe_speaker is not None:
            self._unsubscribe_speaker()
            self._unsubscribe_speaker = None
        if self.recognizer is not None:
            await self.recognizer.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Satellite]:
        """Run the satellite while inside the block."""
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run coro as a task that stop() cancels."""
        task: asyncio.Task[None] = asyncio.create_task(coro, name=f"sotto-satellite {name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _on_playing(self, kind: str, playing: bool) -> None:
        # Not between two rings: the wake word that stops the ringing may span one.
        if not playing and kind != RING_KIND:
            # Features of our own voice must not complete a wake word later.
            tail = self.mic.position + int(ECHO_TAIL_SECONDS * BYTES_PER_SECOND)
            self.wake.deafen(tail)

    # --- the phase: every move, and why ---------------------------------------------------

    def command_started(self, *, on_device: bool) -> None:
        """A command started, streamed or heard on the device (whatever the phase was)."""
        self._cancel_thinking()
        self._phases.go(Phase.LISTENING if on_device else Phase.STREAMING)

    def stream_ended(self, command_done: bool) -> None:
        """The command ended; command_done when it is now worked on (decoded, or by HA)."""
        if command_done:
            self._start_thinking()
        if self.replies.playing:
            self._phases.go(Phase.SPEAKING)  # a reply that began during the stream
        else:
            self._phases.go(Phase.THINKING if command_done else Phase.IDLE)

    def reply_started(self) -> None:
        """A reply from Home Assistant started (it answers whatever was thought about)."""
        self._cancel_thinking()
        if self.phase not in _COMMAND_PHASES:  # a command being heard shows first
            self._phases.go(Phase.SPEAKING)

    def reply_ended(self) -> None:
        """The reply was played or abandoned."""
        if self.phase is Phase.SPEAKING:
            # Still thinking when a command ended while the reply played.
            thinking = self._thinking_task is not None
            self._phases.go(Phase.THINKING if thinking else Phase.IDLE)

    def stop_thinking(self) -> None:
        """Home Assistant is done with the command (run ended, error, gone)."""
        self._cancel_thinking()
        if self.phase is Phase.THINKING:
            self._phases.go(Phase.IDLE)

    def _start_thinking(self) -> None:
        self._cancel_thinking()
        self._thinking_task = asyncio.create_task(self._thinking_timeout())

    def _cancel_thinking(self) -> None:
        task, self._thinking_task = self._thinking_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _thinking_timeout(self) -> None:
        await asyncio.sleep(self.settings.thinking_timeout)
        self._thinking_task = None
        self.stop_thinking()
        await self.refresh()

    # --- stopping by voice ----------------------------------------------------------------

    @property
    def sounding(self) -> bool:
        """Return True while a timer rings or a reply or announcement plays: the wake word
        (there is no "stop" model), where commands are recognised on the device the word
        "stop", or the push-to-talk button stops it instead of starting a command."""
        return self.alarm.ringing or self.replies.playing

    async def silence(self, by: SilencedBy, word: str | None = None) -> None:
        """The user stopped the ringing and the reply (`word` said, the button pressed):
        stop both at once, start nothing, and tell Home Assistant (its `played` follows a
        reply cut short). Muting, or HA's switch, stops only the ringing: a reply plays on."""
        ring = self.alarm.stop()
        playing = self.replies.task if by in _STOPS_REPLIES else None
        owed = self.replies.stop() if by in _STOPS_REPLIES else None
        # Told once the speaker has let go of the stopped sound (aplay ended, a WAV sink's
        # file closed): Home Assistant's `played` must mean nothing sounds any more.
        if stopped := [task for task in (ring, playing) if task is not None]:
            await asyncio.wait(stopped)
        timer = ring is not None
        reply = owed is not None
        _LOGGER.info("%s: stopped %s", word or by, "the timer" if timer else "the reply")
        await self.control.send(Silenced(timer=timer, reply=reply, word=word, by=by).event())
        if owed:
            await self.control.send(Played().event())
        await self.refresh()

    # --- mute and push-to-talk -----------------------------------------------------------

    async def set_mute(self, muted: bool, source: MuteSource) -> bool:
        """Mute or unmute; returns False if refused (HA may not undo a hardware mute)."""
        facts = self.facts
        async with self._mute_lock:
            if muted:
                if facts.muted and facts.mute_source in (MuteSource.HARDWARE, source):
                    return True
                await self._mute(source)
            else:
                if not facts.muted:
                    return True
                if source == MuteSource.HA and facts.mute_source == MuteSource.HARDWARE:
                    await self.refresh()
                    return False
                self._unmute(source)
            await self.refresh()
            return True

    async def _mute(self, source: MuteSource) -> None:
        first = not self.facts.muted
        self.facts.muted = True  # from here on no chunk is used, even one in flight
        self.facts.mute_source = source
        self.commands.push_to_talk(False)
        if first:
            await self.mic.close()
            await self.commands.end(StopReason.MUTED)
        if self.alarm.ringing:
            # Nobody could stop it by voice now: it would ring on for minutes.
            await self.silence(SilencedBy.MUTE)
        self.store.update(muted=True, mute_source=source)
        _LOGGER.info("muted (%s)", source)

    def _unmute(self, source: MuteSource) -> None:
        self.store.update(muted=False, mute_source=None)
        self.facts.muted = False
        self.facts.mute_source = None
        self.wake.reset()
        if self._running:
            self.mic.open()
        _LOGGER.info("unmuted (%s)", source)

    async def hardware_action(self, action: str) -> None:
        """Apply a hardware mute input: `mute`, `unmute` or `toggle`."""
        if action == "toggle":
            action = "unmute" if self.facts.muted else "mute"
        await self.set_mute(action == "mute", MuteSource.HARDWARE)

    def on_hardware_action(self, action: str) -> None:
        """Callback form of hardware_action for input hooks."""
        self.spawn(self.hardware_action(action), f"hardware {action}")

    async def push_to_talk(self) -> bool:
        """Start a stream with the next captured audio; False if muted or not possible."""
        if self.facts.muted or self.controller is None or not self.mic.capturing:
            return False
        if self.phase in _COMMAND_PHASES:
            return False
        self.commands.push_to_talk(True)
        return True

    def on_push_to_talk(self, word: str) -> None:
        """The push-to-talk button (input hooks): stop what sounds, or start a command."""
        self.spawn(self._local_push_to_talk(), "push to talk")

    async def _local_push_to_talk(self) -> None:
        if self.sounding:
            # As HA Voice PE's button: a press over a ringing timer or a reply stops it.
            await self.silence(SilencedBy.BUTTON)
            return
        if not await self.push_to_talk():
            _LOGGER.info("push-to-talk ignored (muted, streaming or Home Assistant away)")
