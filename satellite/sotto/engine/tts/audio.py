"""Audio produced by text-to-speech."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AudioFormat:
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


@dataclass(frozen=True, slots=True)
class SpeechChunk:
    """A piece of synthesised speech (usually one sentence), little-endian PCM."""

    audio: bytes
    format: AudioFormat

    @property
    def seconds(self) -> float:
        """Length of this chunk in seconds."""
        return len(self.audio) / self.format.bytes_per_second


@dataclass(frozen=True, slots=True)
class SpeechAudio:
    """A whole synthesised reply."""

    audio: bytes
    format: AudioFormat
    voice: str

    @property
    def seconds(self) -> float:
        """Length of the reply in seconds."""
        return len(self.audio) / self.format.bytes_per_second


def split_audio(audio: bytes, fmt: AudioFormat, max_bytes: int) -> list[bytes]:
    """Split PCM into pieces of at most max_bytes that never cut a frame in two."""
    step = max(fmt.frame_bytes, max_bytes - max_bytes % fmt.frame_bytes)
    return [audio[start : start + step] for start in range(0, len(audio), step)]
