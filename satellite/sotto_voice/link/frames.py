"""Noise transport frames: [0x01][u16 big-endian length][Noise message], as ESPHome frames them.

Inside every encrypted frame the first plaintext byte says what the rest is: Wyoming
event bytes, or one of the link's own control messages (ping, pong, ready), which never
reach the application.
"""

from __future__ import annotations

import asyncio
from typing import Final, Protocol

from .codec import ByteSource
from .errors import DecryptError, TruncatedFrameError, UnexpectedFrameError
from .settings import MAX_NOISE_MESSAGE, LinkSettings

FRAME_INDICATOR: Final = 0x01
FRAME_HEADER_BYTES: Final = 3
TAG_BYTES: Final = 16

KIND_DATA: Final = 0x00
KIND_PING: Final = 0x01
KIND_PONG: Final = 0x02
KIND_READY: Final = 0x03

#: Wyoming bytes that fit in one frame: the Noise limit less the tag and the kind byte.
MAX_DATA_PER_FRAME: Final = MAX_NOISE_MESSAGE - TAG_BYTES - 1

_READ_SIZE: Final = 65536
_EMPTY: Final = b""


class Cipher(Protocol):
    """The part of noise.connection.NoiseConnection the link uses after the handshake."""

    def encrypt(self, data: bytes) -> bytes:
        """Encrypt one transport message."""

    def decrypt(self, data: bytes) -> bytes:
        """Decrypt and authenticate one transport message."""


class ControlSender(Protocol):
    """Sends one control frame (ping, pong) at once, without waiting."""

    def __call__(self, kind: int) -> None:
        """Send a control frame of this kind."""


def pack_frame(message: bytes) -> bytes:
    """Return one frame around a Noise message."""
    size = len(message)
    if size > MAX_NOISE_MESSAGE:
        raise ValueError(f"a Noise message is at most {MAX_NOISE_MESSAGE} bytes, not {size}")
    return bytes((FRAME_INDICATOR, size >> 8, size & 0xFF)) + message


class FrameReader:
    """Reads whole frames from a stream, holding at most one frame plus one read."""

    def __init__(self, reader: asyncio.StreamReader, settings: LinkSettings) -> None:
        self._reader = reader
        self._settings = settings
        self._loop = asyncio.get_running_loop()
        self._raw = _EMPTY
        self._pos = 0
        self._frame_start = 0.0
        #: When bytes last arrived from the peer (loop time).
        self.last_rx = self._loop.time()

    async def read_frame(self, deadline: float | None = None) -> bytes | None:
        """Return the next frame's message; None on a clean end between frames."""
        while True:
            raw = self._raw
            pos = self._pos
            avail = len(raw) - pos
            wait_until = deadline
            if avail:
                if raw[pos] != FRAME_INDICATOR:
                    raise UnexpectedFrameError(
                        f"expected a Sotto link frame (0x01), got byte 0x{raw[pos]:02x}: "
                        "the peer is not speaking the encrypted link (a plaintext Wyoming "
                        "peer needs legacy mode)"
                    )
                if avail >= FRAME_HEADER_BYTES:
                    end = pos + FRAME_HEADER_BYTES + ((raw[pos + 1] << 8) | raw[pos + 2])
                    if len(raw) >= end:
                        self._pos = end
                        # Whatever follows arrived with the last read: the next frame's start.
                        self._frame_start = self.last_rx
                        return raw[pos + FRAME_HEADER_BYTES : end]
                # A frame has started: it must keep coming, and finish within the deadline.
                settings = self._settings
                frame_deadline = min(
                    self._loop.time() + settings.read_stall_timeout,
                    self._frame_start + settings.event_deadline,
                )
                wait_until = frame_deadline if deadline is None else min(deadline, frame_deadline)
            if wait_until is None:
                chunk = await self._reader.read(_READ_SIZE)
            else:
                async with asyncio.timeout_at(wait_until):
                    chunk = await self._reader.read(_READ_SIZE)
            if not chunk:
                if avail:
                    raise TruncatedFrameError("connection ended in the middle of a frame")
                return None
            now = self._loop.time()
            self.last_rx = now
            if avail:
                self._raw = raw[pos:] + chunk
            else:
                self._raw = chunk
                self._frame_start = now
            self._pos = 0


class NoiseSource(ByteSource):
    """Wyoming bytes from decrypted data frames; answers pings on the way."""

    def __init__(
        self,
        frames: FrameReader,
        cipher: Cipher,
        settings: LinkSettings,
        *,
        send_control: ControlSender,
    ) -> None:
        super().__init__(settings)
        self._frames = frames
        self._cipher = cipher
        self._send_control = send_control

    @property
    def last_rx(self) -> float:
        """When bytes last arrived, counting control frames and partial frames."""
        return self._frames.last_rx

    async def _more(self, deadline: float | None) -> bytes:
        frames = self._frames
        while True:
            message = await frames.read_frame(deadline)
            if message is None:
                return _EMPTY
            try:
                plain = self._cipher.decrypt(message)
            except Exception as err:  # any failure means an unauthentic frame
                raise DecryptError(
                    f"a frame failed authentication ({type(err).__name__}): tampered, "
                    "replayed or out of order"
                ) from None
            if not plain:
                raise UnexpectedFrameError("an encrypted frame with no kind byte")
            kind = plain[0]
            if kind == KIND_DATA:
                if len(plain) > 1:
                    return plain[1:]
            elif kind == KIND_PING:
                self._send_control(KIND_PONG)
            elif kind == KIND_PONG:
                pass  # arriving at all is the point: last_rx moved
            else:
                raise UnexpectedFrameError(f"unknown frame kind 0x{kind:02x}")
