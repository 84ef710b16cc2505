"""How a command starts when nobody pressed a button: a wake word heard on the device, or
remote wake (stream whenever idle, Home Assistant listens for the wake word).

The satellite picks one strategy at start-up from its configuration (`wake.remote`); the
command stream hands it every chunk heard while idle, and the reply player asks it what a
reply does to a stream. Push-to-talk works the same with either.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from sotto_voice.audio import level_dbfs
from sotto_voice.messages import MAX_WAKE_WORDS, SilencedBy, StopReason, StreamTrigger

from .audio import BYTES_PER_SECOND
from .errors import WakeWordError
from .phase import Phase
from .wake import WakeHit, WakeWordDetector

if TYPE_CHECKING:
    from .core import Satellite, SatelliteSettings

_LOGGER = logging.getLogger(__name__)

DetectorFactory = Callable[[str, float], WakeWordDetector]
"""Loads a detector for (wake word, sensitivity)."""

WakeListener = Callable[[str, float], None]
"""Called with (wake word, monotonic time) at each detection."""

LEVEL_CHUNKS: Final = 16
"""Chunks of audio (64 ms each: about a second) whose loudest is the wake word's level."""


@dataclass(frozen=True, slots=True)
class WakeEvidence:
    """How well this satellite heard its wake word: Home Assistant compares it with the
    other satellites' evidence when several heard one utterance, and the nearest answers."""

    probability: float
    """The model's probability at the detection."""

    speech_level: float
    """dBFS of the loudest chunk of the last second: the wake word's own level."""

    detected_at: float
    """Monotonic time of the detection (this device's clock)."""


class WakeWord:
    """The wake word detectors on the device (one, or two heard at once), and the audio
    they must not hear."""

    def __init__(
        self,
        settings: SatelliteSettings,
        factory: DetectorFactory,
        *,
        chosen: str | None,
        sensitivity: float | None,
        second: str | None = None,
    ) -> None:
        self._factory = factory
        self._choices = settings.wake_words
        self._refractory_bytes = int(settings.refractory_seconds * BYTES_PER_SECOND)
        # chosen, second and sensitivity were set from Home Assistant and kept over restarts.
        first = chosen if chosen in self._choices else settings.wake_word
        names = (first,) if second not in self._choices or second == first else (first, second)
        self.sensitivity = sensitivity if sensitivity is not None else settings.sensitivity
        self.names: tuple[str, ...] = ()
        self._detectors: list[WakeWordDetector] = []
        self._load(names)
        self.deaf_until = 0
        """Captured bytes before which a detection does not count."""
        self._listeners: list[WakeListener] = []
        self._levels: deque[float] = deque(maxlen=LEVEL_CHUNKS)

    @property
    def name(self) -> str:
        """The first wake word."""
        return self.names[0]

    def add_listener(self, listener: WakeListener) -> Callable[[], None]:
        """Call listener at every detection; returns an unsubscribe callable."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def choose(self, name: str) -> None:
        """Listen for name first from now on, and still for the second wake word (raises
        WakeWordError if it cannot)."""
        self.choose_all((name, *(other for other in self.names[1:] if other != name)))

    def choose_all(self, names: Sequence[str]) -> None:
        """Listen for exactly these wake words, one or two (raises WakeWordError if not)."""
        for name in names:
            if name not in self._choices:
                raise WakeWordError(
                    f"unknown wake word {name!r}; this satellite has " + ", ".join(self._choices)
                )
        if not 1 <= len(names) <= MAX_WAKE_WORDS or len(set(names)) != len(names):
            raise WakeWordError(
                f"choose one or {MAX_WAKE_WORDS} different wake words, got {', '.join(names)}"
            )
        self._load(tuple(names))

    def _load(self, names: tuple[str, ...]) -> None:
        kept = dict(zip(self.names, self._detectors, strict=True))
        self._detectors = [
            kept.get(name) or self._factory(name, self.sensitivity) for name in names
        ]
        self.names = names

    def set_sensitivity(self, sensitivity: float) -> None:
        """Change how easily the wake words are heard (0..1)."""
        self.sensitivity = sensitivity
        for detector in self._detectors:
            detector.set_sensitivity(sensitivity)

    def reset(self) -> None:
        """Forget the audio heard so far (half a wake word must not complete later)."""
        for detector in self._detectors:
            detector.reset()

    def deafen(self, until: int) -> None:
        """Forget the audio heard so far and ignore detections before byte until."""
        self.reset()
        self.deaf_until = max(self.deaf_until, until)

    def hear(self, chunk: bytes, position: int) -> tuple[WakeHit, WakeEvidence] | None:
        """Feed the chunk captured at position; return the detection, if one counts."""
        self._levels.append(level_dbfs(chunk))
        if position < self.deaf_until:
            return None  # the refractory period, or the echo of our own voice
        hit = next(filter(None, (detector.process(chunk) for detector in self._detectors)), None)
        if hit is None:
            return None
        self.reset()  # the other model has heard half this wake word
        detected_at = time.monotonic()
        for listener in list(self._listeners):
            listener(hit.name, detected_at)
        self.deaf_until = position + hit.offset + self._refractory_bytes
        return hit, WakeEvidence(hit.probability, max(self._levels), detected_at)


class Trigger(Protocol):
    """Starts a stream from audio heard while idle."""

    async def on_idle_audio(self, chunk: bytes, position: int) -> None:
        """Act on a chunk captured at position while no stream runs."""

    async def before_reply(self) -> None:
        """Prepare for a reply from Home Assistant (or a timer's ring) about to play."""


class WakeWordTrigger:
    """A stream starts right after the wake word, heard here; nothing is sent before it."""

    def __init__(self, satellite: Satellite) -> None:
        self._satellite = satellite

    async def on_idle_audio(self, chunk: bytes, position: int) -> None:
        """Listen for the wake word; start a stream with the audio after it."""
        sat = self._satellite
        if sat.sounding:
            await self._stop_sounding(chunk, position)
            return
        if sat.phase is Phase.SPEAKING or sat.speaker.playing:
            return  # our own voice or a chime
        heard = sat.wake.hear(chunk, position)
        if heard is None:
            return
        hit, evidence = heard
        if sat.controller is None:
            _LOGGER.info("wake word %s heard, but Home Assistant is not connected", hit.name)
        else:
            _LOGGER.info("wake word %s heard", hit.name)
            if hit.offset >= len(chunk):
                sat.mic.read_soon()  # nothing after the wake word yet: read less
            end = position + hit.offset
            await sat.commands.start(
                StreamTrigger.WAKE_WORD, chunk[hit.offset :], end, hit.name, evidence=evidence
            )
        # Counted after the stream is under way: writing the file must not delay it.
        sat.ledger.record_wake()

    async def _stop_sounding(self, chunk: bytes, position: int) -> None:
        """While a timer rings or a reply plays, the wake word (or "stop", see stopword.py)
        stops it; no command starts (nothing is sent), and the wake is not counted as one."""
        sat = self._satellite
        heard = sat.wake.hear(chunk, position)
        if heard is not None:
            await sat.silence(SilencedBy.VOICE, heard[0].name)
        elif sat.stop_word is not None:
            sat.stop_word.hear(chunk, position)

    async def before_reply(self) -> None:
        """A reply plays beside a stream; the stream ends where the command does."""


class RemoteWakeTrigger:
    """Remote wake: audio streams whenever the satellite is idle, and Home Assistant hears
    the wake word. Only the satellite's own configuration turns it on (HA raises a repair
    issue); its streams have no chimes, and Home Assistant decides where they end."""

    def __init__(self, satellite: Satellite) -> None:
        self._satellite = satellite

    async def on_idle_audio(self, chunk: bytes, position: int) -> None:
        """Stream, unless Home Assistant is away or busy with a command, or a sound plays."""
        sat = self._satellite
        if (
            sat.controller is not None
            and sat.phase is Phase.IDLE
            and not sat.speaker.playing
            and not sat.sounding  # nor between two rings of a timer
        ):
            await sat.commands.start(StreamTrigger.REMOTE_WAKE, chunk, position, remote=True)

    async def before_reply(self) -> None:
        """End the stream: the satellite must not stream its own reply back."""
        await self._satellite.commands.end(StopReason.PLAYBACK)


def trigger_for(satellite: Satellite) -> Trigger:
    """Return the strategy the satellite's configuration asks for."""
    if satellite.settings.remote_wake:
        return RemoteWakeTrigger(satellite)
    return WakeWordTrigger(satellite)
