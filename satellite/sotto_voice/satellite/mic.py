"""The microphone loop: open while unmuted, every chunk to the command stream, a failed
microphone reopened after growing delays (shown as an error meanwhile)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Final

from sotto_voice.messages import StopReason

from .audio import CHUNK_BYTES, SOON_BYTES
from .audio_in import AudioSource, EndOfAudio
from .errors import AudioError

if TYPE_CHECKING:
    from .core import Satellite

_LOGGER = logging.getLogger(__name__)

MIC_RETRY_SECONDS: Final = (1.0, 2.0, 5.0, 10.0)
"""Delays before reopening a microphone that failed, growing while it keeps failing."""


class Microphone:
    """Captures from an AudioSource while the satellite is unmuted."""

    def __init__(self, satellite: Satellite, source: AudioSource) -> None:
        self._satellite = satellite
        self._source = source
        self._task: asyncio.Task[None] | None = None
        self._next_read = CHUNK_BYTES
        self.position = 0
        """Bytes captured so far: the position of the next chunk in the audio."""

    @property
    def capturing(self) -> bool:
        """Return True while the microphone is open."""
        return self._task is not None and not self._task.done()

    def open(self) -> None:
        """Start capturing (the capture process starts)."""
        if not self.capturing:
            self._task = asyncio.create_task(self._capture(), name="sotto-satellite mic")

    async def close(self) -> None:
        """Stop capturing; returns once the capture process has ended."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def read_soon(self) -> None:
        """Make the next read a short one, so the audio after a wake word leaves sooner."""
        self._next_read = SOON_BYTES

    async def _capture(self) -> None:
        sat = self._satellite
        failures = 0
        while not sat.facts.muted:
            try:
                await self._source.start()
                try:
                    if not sat.facts.mic_ok:
                        sat.facts.mic_ok = True
                        await sat.refresh()
                    while True:
                        size, self._next_read = self._next_read, CHUNK_BYTES
                        chunk = await self._source.read(size)
                        failures = 0
                        position = self.position
                        self.position += len(chunk)
                        await sat.commands.on_chunk(chunk, position)
                finally:
                    await self._source.stop()
            except EndOfAudio:
                _LOGGER.info("the microphone's audio ended")
                await sat.commands.end(StopReason.ERROR)
                return
            except AudioError as err:
                delay = MIC_RETRY_SECONDS[min(failures, len(MIC_RETRY_SECONDS) - 1)]
                failures += 1
                _LOGGER.error("microphone failed: %s; retrying in %.0f s", err, delay)
                await sat.commands.end(StopReason.ERROR)
                sat.facts.mic_ok = False
                await sat.refresh()
                await asyncio.sleep(delay)
