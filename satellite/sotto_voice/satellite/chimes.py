"""Chimes played when a command starts and stops being heard.

The shipped WAVs in sounds/ are made by this module (`python -m sotto_voice.satellite.chimes`):
two soft sine notes with smooth edges, rising for "start" (audio leaves for Home
Assistant), falling for "stop"; "listen" (a command is heard to be recognised on the
device, nothing leaves) is lower and three notes long, so it is told apart by ear; "timer"
(a voice timer finished) alternates two high notes, and rings again and again.
"""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from sotto_voice.audio import PcmFormat

from .errors import AudioError

SOUNDS_DIR: Final = Path(__file__).parent / "sounds"
CHIME_RATE: Final = 22050
_MAX_CHIME_BYTES: Final = 10 * 1024 * 1024

# (frequency Hz, seconds) per note; a fifth apart, short enough not to talk over the user.
_START_NOTES: Final = ((659.25, 0.07), (987.77, 0.11))
_STOP_NOTES: Final = ((987.77, 0.07), (659.25, 0.11))
_LISTEN_NOTES: Final = ((523.25, 0.06), (659.25, 0.06), (783.99, 0.1))
_TIMER_NOTES: Final = ((880.0, 0.14), (1174.66, 0.14), (880.0, 0.14), (1174.66, 0.24))
_BUILTIN: Final = {
    "start": _START_NOTES,
    "stop": _STOP_NOTES,
    "listen": _LISTEN_NOTES,
    "timer": _TIMER_NOTES,
}
_LEVEL: Final = 0.35


@dataclass(frozen=True, slots=True)
class Chime:
    """A short clip in memory."""

    pcm: bytes
    format: PcmFormat


def synthesize(notes: tuple[tuple[float, float], ...], rate: int = CHIME_RATE) -> bytes:
    """Return 16-bit mono PCM of sine notes with raised-cosine edges (no clicks)."""
    parts = []
    for frequency, seconds in notes:
        count = int(rate * seconds)
        t = np.arange(count) / rate
        tone = np.sin(2 * math.pi * frequency * t)
        # A touch of the octave makes it sound like a chime rather than a test tone.
        tone += 0.3 * np.sin(4 * math.pi * frequency * t) * np.exp(-t * 30)
        edge = min(count // 2, int(rate * 0.01))
        envelope = np.ones(count)
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, math.pi, edge))
        envelope[:edge] = ramp
        envelope[-edge:] = ramp[::-1]
        envelope *= np.exp(-t * 6)
        parts.append(tone * envelope)
    audio = np.concatenate(parts)
    audio = audio / np.max(np.abs(audio)) * _LEVEL
    return bytes((audio * 32767).astype("<i2").tobytes())


def load_wav(path: Path) -> Chime:
    """Load a WAV file to play as a chime."""
    try:
        with wave.open(str(path), "rb") as wav:
            fmt = PcmFormat(wav.getframerate(), wav.getsampwidth(), wav.getnchannels())
            if wav.getnframes() * fmt.frame_bytes > _MAX_CHIME_BYTES:
                raise AudioError(f"{path}: too long for a chime")
            return Chime(wav.readframes(wav.getnframes()), fmt)
    except (OSError, EOFError, wave.Error) as err:
        raise AudioError(f"{path}: cannot read the chime ({err})") from err


def builtin(name: str) -> Path:
    """Return the path of a shipped chime: start, stop, listen or timer."""
    return SOUNDS_DIR / f"{name}.wav"


def write_builtin_chimes(directory: Path = SOUNDS_DIR) -> list[Path]:
    """(Re)make the shipped chimes."""
    written = []
    for name, notes in _BUILTIN.items():
        path = directory / f"{name}.wav"
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(CHIME_RATE)
            wav.writeframes(synthesize(notes))
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_builtin_chimes():
        print(written_path)
