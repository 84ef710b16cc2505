"""Reply audio for satellites: PCM out of HA's TTS streams and media URLs."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterable, AsyncIterator
from typing import Final

from homeassistant.exceptions import HomeAssistantError

from sotto_voice.audio import VOICE_FORMAT, PcmFormat

RATE: Final = VOICE_FORMAT.rate
WIDTH: Final = VOICE_FORMAT.width
CHANNELS: Final = VOICE_FORMAT.channels
CHUNK_BYTES: Final = 2048  # 64 ms at 16 kHz: small enough to start playing at once
_MAX_WAV_HEADER: Final = 64 * 1024


class AudioFormatError(HomeAssistantError, ValueError):
    """Reply or announcement audio a satellite cannot play; the message says why.

    A HomeAssistantError, so an action that fails on it shows the reason in the UI
    rather than "Unknown error".
    """


async def pcm_from_wav_stream(
    stream: AsyncIterable[bytes],
) -> tuple[PcmFormat, AsyncIterator[bytes]]:
    """Read a WAV stream's header, then return its format and its sample data as it comes.

    Streamed WAV (as ffmpeg writes it) may give no real data length, so the data chunk
    is read to the end of the stream rather than by its declared size.
    """
    iterator = aiter(stream)
    buffer = bytearray()
    while True:
        found = _parse_wav_header(bytes(buffer))
        if found is not None:
            fmt, offset = found
            break
        if len(buffer) > _MAX_WAV_HEADER:
            raise AudioFormatError("no WAV data chunk within the first 64 KiB")
        try:
            buffer += await anext(iterator)
        except StopAsyncIteration:
            raise AudioFormatError("the audio ended before its WAV header did") from None

    async def data() -> AsyncIterator[bytes]:
        if len(buffer) > offset:
            yield bytes(buffer[offset:])
        async for chunk in iterator:
            if chunk:
                yield chunk

    return fmt, data()


def _parse_wav_header(data: bytes) -> tuple[PcmFormat, int] | None:
    """Return the format and where samples begin, or None if more bytes are needed."""
    if len(data) < 12:
        return None
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFormatError("reply audio is not a WAV stream")
    pos = 12
    fmt: PcmFormat | None = None
    while len(data) >= pos + 8:
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if chunk_id == b"data":
            if fmt is None:
                raise AudioFormatError("WAV data chunk before its fmt chunk")
            return fmt, body
        if len(data) < body + size:
            return None
        if chunk_id == b"fmt ":
            tag, channels, rate, _byte_rate, _align, bits = struct.unpack_from(
                "<HHIIHH", data, body
            )
            if tag not in (1, 0xFFFE):
                raise AudioFormatError(f"WAV audio is not PCM (format tag {tag})")
            fmt = PcmFormat(rate=rate, width=bits // 8, channels=channels)
        pos = body + size + (size & 1)
    return None


async def rechunk(data: AsyncIterable[bytes], size: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
    """Re-cut a byte stream into chunks of `size` (the last may be shorter)."""
    pending = bytearray()
    async for piece in data:
        pending += piece
        while len(pending) >= size:
            yield bytes(pending[:size])
            del pending[:size]
    if pending:
        yield bytes(pending)


async def pcm_from_url(ffmpeg_binary: str, url: str) -> AsyncIterator[bytes]:
    """Decode any media URL to 16 kHz 16-bit mono PCM with ffmpeg, as it arrives."""
    process = await asyncio.create_subprocess_exec(
        ffmpeg_binary,
        "-nostdin",
        "-loglevel",
        "error",
        "-i",
        url,
        "-f",
        "s16le",
        "-ac",
        str(CHANNELS),
        "-ar",
        str(RATE),
        "pipe:1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        while chunk := await process.stdout.read(CHUNK_BYTES):
            yield chunk
        if await process.wait() != 0:
            assert process.stderr is not None
            message = (await process.stderr.read()).decode(errors="replace").strip()
            raise AudioFormatError(f"ffmpeg could not play {url}: {message[-200:]}")
    finally:
        if process.returncode is None:
            process.kill()
            # Reading may be paused on a full buffer, and then the pipe's end is never
            # seen and wait() never returns: read the rest (at most a pipe's worth).
            await process.communicate()
