"""Speech made on the fly with Debian's espeak-ng and sox, as 16 kHz 16-bit mono PCM."""

from __future__ import annotations

import functools
import math
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path
from typing import Final

import numpy as np

from sotto_voice.audio import VOICE_FORMAT

RATE: Final = VOICE_FORMAT.rate
WIDTH: Final = VOICE_FORMAT.width


class SpeechError(RuntimeError):
    """Speech could not be made (a tool is missing or failed)."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SpeechError(f"{name} is not installed: run ./scripts/setup (apt-get install {name})")
    return path


def silence(seconds: float) -> bytes:
    """Digital silence of the given length."""
    return bytes(int(seconds * RATE) * WIDTH)


@functools.lru_cache(maxsize=256)
def speak(text: str, *, voice: str = "en-us", rate: int = 150, pitch: int = 50) -> bytes:
    """Speak `text` with espeak-ng; raw 16 kHz s16le mono PCM (cached: tests repeat phrases)."""
    espeak, sox = _tool("espeak-ng"), _tool("sox")
    with tempfile.TemporaryDirectory(prefix="sotto-demo-speech-") as tmp:
        spoken = Path(tmp) / "espeak.wav"
        raw = Path(tmp) / "speech.raw"
        try:
            subprocess.run(
                [espeak, "-v", voice, "-s", str(rate), "-p", str(pitch), "-w", str(spoken), text],
                check=True,
                capture_output=True,
            )
            subprocess.run(
                [
                    sox,
                    "-R",  # repeatable: no random dither, the same audio every time
                    str(spoken),
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
                    str(raw),
                ],
                check=True,
                capture_output=True,
            )
        except subprocess.CalledProcessError as err:
            raise SpeechError(f"could not speak {text!r}: {err.stderr.decode()[-300:]}") from err
        return raw.read_bytes()


def utterance(*parts: str | float, voice: str = "en-us", rate: int = 150) -> bytes:
    """Join phrases (str) and pauses (float seconds) into one PCM stream."""
    out = bytearray()
    for part in parts:
        if isinstance(part, float | int):
            out += silence(part)
        else:
            out += speak(part, voice=voice, rate=rate)
    return bytes(out)


def heard_from(pcm: bytes, *, db: float = 0.0, delay: float = 0.0) -> bytes:
    """The same speech as heard farther away: `db` quieter (or louder), `delay` s later."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) * math.pow(10, -db / 20)
    scaled = np.clip(samples, -32768, 32767).astype("<i2").tobytes()
    return silence(delay) + scaled


def write_wav(path: Path, pcm: bytes) -> Path:
    """Write 16 kHz mono PCM as a WAV file."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(WIDTH)
        wav.setframerate(RATE)
        wav.writeframes(pcm)
    return path


def wav_seconds(path: Path) -> float | None:
    """The length of a complete WAV file, or None while it is still being written."""
    try:
        with wave.open(str(path), "rb") as wav:
            frames, rate = wav.getnframes(), wav.getframerate()
    except (OSError, EOFError, wave.Error):
        return None
    return frames / rate if rate else None
