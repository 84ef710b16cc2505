"""Wake word detection on the device: pymicro-wakeword (default) or pyopen-wakeword."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final, Protocol

from .config import MICRO_WAKE_WORDS, OPEN_WAKE_WORDS
from .errors import MissingExtraError, WakeWordError

_LOGGER = logging.getLogger(__name__)

_MICRO_STEP_BYTES: Final = 320
"""microWakeWord's feature step: 10 ms of 16 kHz 16-bit audio."""

_NEVER: Final = 0.99
"""Cutoff at sensitivity 0: only a near-certain wake word counts."""

_OPEN_DEFAULT_CUTOFF: Final = 0.5


def cutoff_for(sensitivity: float, model_cutoff: float) -> float:
    """Map sensitivity (0..1, 0.5 = the model's own cutoff) to a probability cutoff."""
    sensitivity = min(1.0, max(0.0, sensitivity))
    if sensitivity <= 0.5:
        return model_cutoff + (0.5 - sensitivity) * 2 * (_NEVER - model_cutoff)
    # Up to half the model's cutoff at 1: easier, but never "anything at all".
    return model_cutoff - (sensitivity - 0.5) * model_cutoff


@dataclass(frozen=True, slots=True)
class WakeHit:
    """A wake word heard in a chunk."""

    name: str
    """Model id, e.g. okay_nabu."""

    offset: int
    """Bytes into the chunk at which the detection was made; audio after it is new."""

    probability: float


class WakeWordDetector(Protocol):
    """Finds a wake word in a stream of 16 kHz 16-bit mono chunks."""

    @property
    def name(self) -> str:
        """Return the model id."""

    def process(self, chunk: bytes) -> WakeHit | None:
        """Feed one chunk; return a hit if the wake word ended in it."""

    def reset(self) -> None:
        """Forget all audio heard so far."""

    def set_sensitivity(self, sensitivity: float) -> None:
        """Change the sensitivity (0..1)."""


def _import(module: str, package: str) -> Any:
    try:
        return __import__(module)
    except ImportError as err:
        raise MissingExtraError(
            "wake word detection", package, "install it with: pip install 'sotto-voice[satellite]'"
        ) from err


class MicroWakeWordDetector:
    """pymicro-wakeword with one of its built-in models."""

    def __init__(self, model: str, *, sensitivity: float = 0.5) -> None:
        if model not in MICRO_WAKE_WORDS:
            raise WakeWordError(
                f"unknown microWakeWord model {model!r}; "
                f"choose one of {', '.join(MICRO_WAKE_WORDS)}"
            )
        lib = _import("pymicro_wakeword", "pymicro-wakeword")
        try:
            self._mww = lib.MicroWakeWord.from_builtin(lib.Model(model))
        except (OSError, ValueError) as err:
            raise WakeWordError(f"cannot load the wake word model {model!r}: {err}") from err
        self._features = lib.MicroWakeWordFeatures()
        self._name = model
        self._model_cutoff = float(self._mww.probability_cutoff)
        self._cutoff = cutoff_for(sensitivity, self._model_cutoff)

    @property
    def name(self) -> str:
        """Return the model id."""
        return self._name

    @property
    def cutoff(self) -> float:
        """Return the probability cutoff in use."""
        return self._cutoff

    def set_sensitivity(self, sensitivity: float) -> None:
        """Change the sensitivity (0..1)."""
        self._cutoff = cutoff_for(sensitivity, self._model_cutoff)

    def process(self, chunk: bytes) -> WakeHit | None:
        """Feed one chunk; return a hit with the offset of the 10 ms step that completed it."""
        for start in range(0, len(chunk), _MICRO_STEP_BYTES):
            end = min(len(chunk), start + _MICRO_STEP_BYTES)
            for features in self._features.process_streaming(chunk[start:end]):
                probability = self._mww.process_streaming_prob(features)
                if probability is not None and probability > self._cutoff:
                    self.reset()
                    return WakeHit(self._name, end, float(probability))
        return None

    def reset(self) -> None:
        """Forget all audio heard so far."""
        self._mww.reset()
        self._features.reset()


class OpenWakeWordDetector:
    """pyopen-wakeword with one of its built-in models (the alternative engine)."""

    def __init__(self, model: str, *, sensitivity: float = 0.5) -> None:
        if model not in OPEN_WAKE_WORDS:
            raise WakeWordError(
                f"unknown openWakeWord model {model!r}; choose one of {', '.join(OPEN_WAKE_WORDS)}"
            )
        lib = _import("pyopen_wakeword", "pyopen-wakeword")
        try:
            self._oww = lib.OpenWakeWord.from_builtin(lib.Model(model))
            self._features = lib.OpenWakeWordFeatures.from_builtin()
        except (OSError, ValueError) as err:
            raise WakeWordError(f"cannot load the wake word model {model!r}: {err}") from err
        self._name = model
        self._cutoff = cutoff_for(sensitivity, _OPEN_DEFAULT_CUTOFF)

    @property
    def name(self) -> str:
        """Return the model id."""
        return self._name

    @property
    def cutoff(self) -> float:
        """Return the probability cutoff in use."""
        return self._cutoff

    def set_sensitivity(self, sensitivity: float) -> None:
        """Change the sensitivity (0..1)."""
        self._cutoff = cutoff_for(sensitivity, _OPEN_DEFAULT_CUTOFF)

    def process(self, chunk: bytes) -> WakeHit | None:
        """Feed one chunk; openWakeWord decides per 80 ms, so a hit ends the chunk."""
        for embeddings in self._features.process_streaming(chunk):
            for probability in self._oww.process_streaming(embeddings):
                if probability > self._cutoff:
                    self.reset()
                    return WakeHit(self._name, len(chunk), float(probability))
        return None

    def reset(self) -> None:
        """Forget all audio heard so far."""
        self._oww.reset()
        self._features.reset()


def available_models(engine: str) -> tuple[str, ...]:
    """Return the built-in wake words of an engine."""
    return MICRO_WAKE_WORDS if engine == "micro" else OPEN_WAKE_WORDS


def load_detector(engine: str, model: str, *, sensitivity: float = 0.5) -> WakeWordDetector:
    """Load a wake word detector (raises WakeWordError or MissingExtraError)."""
    _LOGGER.debug("loading wake word %s (%s)", model, engine)
    if engine == "micro":
        return MicroWakeWordDetector(model, sensitivity=sensitivity)
    if engine == "openwakeword":
        return OpenWakeWordDetector(model, sensitivity=sensitivity)
    raise WakeWordError(f"unknown wake word engine {engine!r}; choose micro or openwakeword")
