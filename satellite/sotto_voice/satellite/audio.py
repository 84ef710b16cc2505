"""The satellite's audio format and small PCM helpers."""

from __future__ import annotations

from typing import Final

import numpy as np

from sotto_voice.audio import VOICE_FORMAT, PcmFormat

RATE: Final = VOICE_FORMAT.rate
"""Samples per second of everything the microphone captures."""

WIDTH: Final = VOICE_FORMAT.width
"""Bytes per sample (signed 16-bit little-endian)."""

CHANNELS: Final = VOICE_FORMAT.channels

CHUNK_SAMPLES: Final = 1024
"""Samples per captured chunk: 64 ms, two Silero VAD windows. Bigger chunks mean fewer
wake-ups (idle CPU on a Pi); the first audio after a wake word does not wait for a chunk,
since the rest of the detecting chunk is sent at once."""

CHUNK_BYTES: Final = CHUNK_SAMPLES * WIDTH

SOON_BYTES: Final = 512 * WIDTH
"""What the satellite reads when it wants audio sooner: right after a wake word that ended
exactly at the end of a chunk, so the first audio leaves 32 ms later, not 64."""
BYTES_PER_SECOND: Final = RATE * WIDTH * CHANNELS


MIC_FORMAT: Final = VOICE_FORMAT


def seconds_of(byte_count: int, fmt: PcmFormat = MIC_FORMAT) -> float:
    """Return how many seconds of audio byte_count bytes hold."""
    return byte_count / fmt.bytes_per_second


def scale_volume(pcm: bytes, volume: float, width: int = WIDTH) -> bytes:
    """Return 16-bit little-endian PCM scaled by volume (0..1); other widths unchanged."""
    if volume >= 1.0 or width != 2 or not pcm:
        return pcm
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
    scaled = samples.astype(np.float32) * max(0.0, volume)
    return bytes(scaled.astype("<i2").tobytes())
