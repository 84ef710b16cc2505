"""What the speech-to-text tests hand an STT entity: HA's metadata and a satellite's chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator

from homeassistant.components import stt

# 16 kHz 16-bit mono PCM, what every Sotto satellite sends.
METADATA = stt.SpeechMetadata(
    language="en",
    format=stt.AudioFormats.WAV,
    codec=stt.AudioCodecs.PCM,
    bit_rate=stt.AudioBitRates.BITRATE_16,
    sample_rate=stt.AudioSampleRates.SAMPLERATE_16000,
    channel=stt.AudioChannels.CHANNEL_MONO,
)


async def in_chunks(pcm: bytes) -> AsyncIterator[bytes]:
    """Deliver audio in 20 ms chunks, as a satellite does."""
    for start in range(0, len(pcm), 640):
        yield pcm[start : start + 640]
