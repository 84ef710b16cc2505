"""Test speech made with Debian's espeak-ng and sox, as 16 kHz 16-bit mono PCM.

Tests use synthetic speech in place of people; nothing is ever trained or tuned on it
beyond thresholds chosen on a separate corpus.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

RATE = 16000
WIDTH = 2
CHANNELS = 1


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise RuntimeError(f"{tool} is not installed: run ./scripts/setup (apt-get install {tool})")
    return path


def silence(seconds: float) -> bytes:
    """Return digital silence of the given length."""
    return bytes(int(seconds * RATE) * WIDTH)


@functools.lru_cache(maxsize=256)
def speak(text: str, *, voice: str = "en-us", rate: int = 150, pitch: int = 50) -> bytes:
    """Speak text with espeak-ng and return raw 16 kHz s16le mono PCM (no padding)."""
    espeak = _require("espeak-ng")
    sox = _require("sox")
    with tempfile.TemporaryDirectory(prefix="sotto-speech-") as tmp:
        raw_wav = Path(tmp) / "espeak.wav"
        pcm = Path(tmp) / "speech.raw"
        subprocess.run(
            [espeak, "-v", voice, "-s", str(rate), "-p", str(pitch), "-w", str(raw_wav), text],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                sox,
                str(raw_wav),
                "-r",
                str(RATE),
                "-c",
                "1",
                "-b",
                "16",
                "-e",
                "signed-integer",
                "-t",
                "raw",
                str(pcm),
            ],
            check=True,
            capture_output=True,
        )
        return pcm.read_bytes()


def utterance(*parts: str | float, voice: str = "en-us", rate: int = 150) -> bytes:
    """Join spoken phrases (str) and pauses (float seconds) into one PCM stream."""
    out = bytearray()
    for part in parts:
        out += (
            silence(part) if isinstance(part, float | int) else speak(part, voice=voice, rate=rate)
        )
    return bytes(out)


def write_wav(path: Path, pcm: bytes) -> Path:
    """Write 16 kHz mono PCM to a WAV file and return its path."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(CHANNELS)
        wav.setsampwidth(WIDTH)
        wav.setframerate(RATE)
        wav.writeframes(pcm)
    return path
