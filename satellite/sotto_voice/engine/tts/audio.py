"""Audio produced by text-to-speech."""

from __future__ import annotations

from dataclasses import dataclass

from sotto_voice.audio import PcmFormat


@dataclass(frozen=True, slots=True)
class SpeechChunk:
    """A piece of synthesised speech (usually one sentence), little-endian PCM."""

    audio: bytes
    format: PcmFormat

    @property
    def seconds(self) -> float:
        """Length of this chunk in seconds."""
        return len(self.audio) / self.format.bytes_per_second


@dataclass(frozen=True, slots=True)
class SpeechAudio:
    """A whole synthesised reply."""

    audio: bytes
    format: PcmFormat
    voice: str

    @property
    def seconds(self) -> float:
        """Length of the reply in seconds."""
        return len(self.audio) / self.format.bytes_per_second


def split_audio(audio: bytes, fmt: PcmFormat, max_bytes: int) -> list[bytes]:
    """Split PCM into pieces of at most max_bytes that never cut a frame in two."""
    step = max(fmt.frame_bytes, max_bytes - max_bytes % fmt.frame_bytes)
    return [audio[start : start + step] for start in range(0, len(audio), step)]
