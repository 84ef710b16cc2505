"""The espeak-ng fallback voice, run as a subprocess so a fresh install still speaks."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import struct
from collections.abc import AsyncGenerator
from typing import Final

from sotto_voice.audio import PcmFormat

from .audio import SpeechChunk
from .errors import SynthesisError, VoiceNotFoundError

ESPEAK_VOICE_PREFIX: Final = "espeak-ng"
DEFAULT_ESPEAK_VOICE: Final = "en-us"
_READ_SIZE: Final = 16 * 1024
# A header bigger than this is not one espeak-ng writes.
_MAX_HEADER_BYTES: Final = 4096
_EXIT_TIMEOUT: Final = 5.0
# espeak-ng voice names are short identifiers such as en-us or en-gb-x-rp; anything else
# (a leading dash above all) must not reach its command line.
_ESPEAK_VOICE_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+-]{0,63}$")


def espeak_executable() -> str | None:
    """Path of espeak-ng (or espeak), or None when neither is installed."""
    return shutil.which("espeak-ng") or shutil.which("espeak")


def espeak_language(language: str) -> str:
    """Map a language code such as en_US to the espeak-ng voice name en-us."""
    return language.replace("_", "-").lower()


def check_espeak_voice(voice: str) -> str:
    """Return voice if it is a plausible espeak-ng voice name, else raise."""
    if not _ESPEAK_VOICE_NAME.match(voice):
        raise VoiceNotFoundError(f"{voice!r} is not an espeak-ng voice name (e.g. en-us)")
    return voice


class _WavReader:
    """Incremental parser for the streaming WAV espeak-ng writes to stdout."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.format: PcmFormat | None = None
        self._in_data = False
        self._remainder = b""

    def feed(self, data: bytes) -> bytes:
        """Consume stdout bytes; return whole PCM frames available so far."""
        if not self._in_data:
            self._buffer += data
            if not self._parse_header():
                if len(self._buffer) > _MAX_HEADER_BYTES:
                    raise SynthesisError("espeak-ng wrote no WAV data header")
                return b""
            data = bytes(self._buffer)
            self._buffer.clear()
        assert self.format is not None
        data = self._remainder + data
        keep = len(data) % self.format.frame_bytes
        self._remainder = data[len(data) - keep :] if keep else b""
        return data[: len(data) - keep]

    def _parse_header(self) -> bool:
        buf = self._buffer
        if len(buf) < 12:
            return False
        if buf[0:4] != b"RIFF" or buf[8:12] != b"WAVE":
            raise SynthesisError("espeak-ng did not write WAV audio")
        offset = 12
        while len(buf) >= offset + 8:
            chunk_id = bytes(buf[offset : offset + 4])
            (size,) = struct.unpack_from("<I", buf, offset + 4)
            body = offset + 8
            if chunk_id == b"data":
                if self.format is None:
                    raise SynthesisError("espeak-ng wrote WAV data before its format")
                del buf[:body]
                self._in_data = True
                return True
            if len(buf) < body + size:
                return False
            if chunk_id == b"fmt ":
                _tag, channels, rate, _byte_rate, _align, bits = struct.unpack_from(
                    "<HHIIHH", buf, body
                )
                if bits % 8 or not channels or not rate:
                    raise SynthesisError("espeak-ng wrote an unexpected WAV format")
                self.format = PcmFormat(rate=rate, width=bits // 8, channels=channels)
            offset = body + size + (size & 1)
        return False


async def espeak_stream(
    text: str,
    *,
    voice: str = DEFAULT_ESPEAK_VOICE,
    executable: str | None = None,
    speed: int | None = None,
) -> AsyncGenerator[SpeechChunk, None]:
    """Speak text with espeak-ng, yielding audio as the process writes it."""
    program = executable or espeak_executable()
    if program is None:
        raise SynthesisError("espeak-ng is not installed (apt-get install espeak-ng)")
    args = [program, "--stdout", "-v", check_espeak_voice(voice)]
    if speed is not None:
        args += ["-s", str(speed)]
    # The text goes through stdin so nothing in it can be read as an option.
    process = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        process.stdin.write(text.encode("utf-8"))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await process.stdin.drain()
        process.stdin.close()
        reader = _WavReader()
        while block := await process.stdout.read(_READ_SIZE):
            pcm = reader.feed(block)
            if pcm and reader.format is not None:
                yield SpeechChunk(audio=pcm, format=reader.format)
        stderr = (await process.stderr.read()).decode("utf-8", "replace").strip()
        code = await process.wait()
        if code != 0:
            message = stderr.removeprefix("Error:").strip() or f"exit status {code}"
            if "voice does not exist" in stderr:
                raise VoiceNotFoundError(f"espeak-ng has no voice {voice!r}: {message}")
            raise SynthesisError(f"espeak-ng failed: {message}")
        if reader.format is None:
            raise SynthesisError("espeak-ng wrote no audio")
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        # Drain the pipes to their end, so their transports close now, not at collection.
        with contextlib.suppress(TimeoutError, OSError):
            async with asyncio.timeout(_EXIT_TIMEOUT):
                await process.communicate()
