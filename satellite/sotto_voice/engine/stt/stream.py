"""Decoding a live stream: all the audio that has arrived goes to the recogniser at once.

Home Assistant's pipeline hands speech-to-text 10 ms chunks, 100 a second per satellite.
Each decode is a round trip to the recognition process with a fixed cost (the request,
the partial hypothesis, the reply), so decoding chunk by chunk kept up with one command
but fell half a second behind with five at once (bench/scale.py). Here a reader takes the
chunks as they come and the decoder takes everything that arrived while it was busy: one
request when it keeps up, fewer and larger ones when it falls behind, never a backlog.
It reads at most a tenth of a second ahead of the decoder, so a stream that arrives faster
than real time is not read far past the end of the command either.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Final, Protocol, TypeAlias, TypeVar

from .endpoint import CommandEnd, PartialLike, Settles

# Audio read but not yet decoded, at most: 0.1 s, ten of HA's chunks per request.
READ_AHEAD_BYTES: Final = 3200

_R = TypeVar("_R")
_R_co = TypeVar("_R_co", covariant=True)


class StreamSession(Settles[_R_co], Protocol[_R_co]):
    """A recognition session: the calls a streamed command needs."""

    async def feed(self, pcm: bytes) -> None: ...
    async def partial(self) -> PartialLike: ...
    async def finish(self) -> _R_co: ...


PartialListener: TypeAlias = Callable[[PartialLike, bool], Awaitable[None]]
"""Awaited with the hypothesis after each decode, and whether it ends the command."""


async def recognise(
    session: StreamSession[_R],
    chunks: AsyncIterable[bytes],
    *,
    on_partial: PartialListener | None = None,
) -> _R:
    """Decode `chunks` (16 kHz mono s16le) until the command is over or the audio ends.

    The stream is no longer read once the command is whole (see CommandEnd); an error
    raised by the stream is raised here.
    """
    buffered = bytearray()
    arrived = asyncio.Event()
    room = asyncio.Event()
    ended = False

    async def read() -> None:
        nonlocal ended
        try:
            async for chunk in chunks:
                while len(buffered) >= READ_AHEAD_BYTES:
                    room.clear()
                    await room.wait()
                buffered.extend(chunk)
                arrived.set()
        finally:
            ended = True
            arrived.set()

    reader = asyncio.create_task(read(), name="sotto-stt-stream")
    command_end = CommandEnd()
    try:
        while True:
            await arrived.wait()
            arrived.clear()
            if reader.done() and (error := reader.exception()) is not None:
                raise error
            batch = bytes(buffered)
            buffered.clear()
            room.set()
            if batch:
                await session.feed(batch)
                command_end.hear(batch)
                partial = await session.partial()
                result = await command_end.settled(session, partial)
                if on_partial is not None:
                    await on_partial(partial, result is not None)
                if result is not None:
                    return result
            if ended and not buffered:
                return await session.finish()
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
