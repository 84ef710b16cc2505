"""Replies from Home Assistant: `audio-start`, `audio-chunk`..., `audio-stop` played on the
speaker, then `played` sent back. A new reply replaces the one playing."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final

from wyoming.audio import AudioChunk, AudioStart
from wyoming.snd import Played

from sotto_voice.audio import PcmFormat

from .errors import AudioError

if TYPE_CHECKING:
    from .core import Satellite

_LOGGER = logging.getLogger(__name__)

PLAYBACK_QUEUE_CHUNKS: Final = 64
"""Reply chunks waiting for the speaker; beyond that the link pushes back on HA."""


class Replies:
    """Plays the reply Home Assistant sends, one at a time."""

    def __init__(self, satellite: Satellite) -> None:
        self._satellite = satellite
        self._queue: asyncio.Queue[bytes | None] | None = None
        self.task: asyncio.Task[None] | None = None
        """The reply being played, from its audio-start until the speaker has played it."""

    @property
    def playing(self) -> bool:
        """Return True from a reply's audio-start until it has been played."""
        return self.task is not None

    async def begin(self, start: AudioStart) -> None:
        """Get ready to play a reply in start's format."""
        sat = self._satellite
        self.abandon()
        if not sat.speaker.available:
            return
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(PLAYBACK_QUEUE_CHUNKS)
        self._queue = queue
        fmt = PcmFormat(start.rate, start.width, start.channels)
        self.task = asyncio.create_task(self._play(fmt, queue))
        # Deaf from now on: the reply may hold the wake word (HA saying "okay nabu ...").
        # Speaking before the trigger acts: remote wake ends its stream, and no new stream
        # may start in that moment and carry the reply back to Home Assistant.
        sat.reply_started()
        await sat.trigger.before_reply()

    async def add(self, chunk: AudioChunk) -> None:
        """Queue a chunk of the reply (waits while the speaker is behind)."""
        queue = self._queue
        if queue is not None and chunk.audio:
            await queue.put(chunk.audio)

    async def finish(self) -> None:
        """The reply is complete: play the rest, then say `played`."""
        queue, self._queue = self._queue, None
        if queue is None:
            await self._satellite.control.send(Played().event())  # nothing to play: say so
            return
        await queue.put(None)

    def stop(self) -> bool | None:
        """The user stopped the reply: None if none was playing, else whether its `played`
        is owed now (its audio-stop came already; if not, `finish` will say it)."""
        if self.task is None:
            return None
        complete = self._queue is None
        self.abandon()
        return complete

    def abandon(self) -> None:
        """Stop the reply being played (a new one came, or Home Assistant left)."""
        self._queue = None
        task, self.task = self.task, None
        if task is None:
            return
        if not task.done():
            task.cancel()
        self._satellite.reply_ended()

    async def _play(self, fmt: PcmFormat, queue: asyncio.Queue[bytes | None]) -> None:
        sat = self._satellite
        await sat.refresh()
        finished = False
        try:
            async with sat.speaker.clip(fmt, kind="reply") as write:
                while (pcm := await queue.get()) is not None:
                    await write(pcm)
            finished = True
        except AudioError as err:
            _LOGGER.error("cannot play the reply: %s", err)
        finally:
            if self.task is asyncio.current_task():  # not abandoned or replaced
                self.task = None
                sat.reply_ended()
        await sat.refresh()
        if finished:
            await sat.control.send(Played().event())
