"""What the speech-to-text tests hand an STT entity: HA's metadata and a satellite's chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator

from demo.home import SPEECH_METADATA as METADATA

__all__ = ["METADATA", "in_chunks"]


async def in_chunks(pcm: bytes) -> AsyncIterator[bytes]:
    """Deliver audio in 20 ms chunks, as a satellite does."""
    for start in range(0, len(pcm), 640):
        yield pcm[start : start + 640]
