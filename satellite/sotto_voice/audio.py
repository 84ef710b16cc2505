"""Raw PCM formats, shared by the satellite's microphone and speaker and the engine's voices."""

from __future__ import annotations

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
