"""Raw PCM formats, shared by the satellite's microphone and speaker and the engine's voices."""

from __future__ import annotations

import math
import sys
from array import array
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class PcmFormat:
    """Raw PCM format: samples per second, bytes per sample, channels."""

    rate: int
    width: int
    channels: int

    @property
    def bytes_per_second(self) -> int:
        """Bytes of PCM per second of audio."""
        return self.rate * self.width * self.channels

    @property
    def frame_bytes(self) -> int:
        """Bytes in one frame (one sample for every channel)."""
        return self.width * self.channels


VOICE_FORMAT: Final = PcmFormat(rate=16000, width=2, channels=1)
"""The one format of spoken commands, declared only here: what satellites capture, the
link and ESPHome carry, speech-to-text reads and history keeps (16 kHz, signed 16-bit
little-endian, mono)."""


SILENCE_DBFS: Final = -120.0
"""The level of digital silence (and the floor of `level_dbfs`)."""


def level_dbfs(pcm: bytes) -> float:
    """How loud 16-bit little-endian PCM is: its RMS in dBFS (full scale is 0)."""
    samples = array("h", pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    if not samples:
        return SILENCE_DBFS
    rms = math.sqrt(sum(sample * sample for sample in samples) / len(samples))
    return max(SILENCE_DBFS, 20 * math.log10(rms / 32768)) if rms else SILENCE_DBFS
