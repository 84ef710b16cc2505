"""A finished voice timer rings on the satellite it was set on, until someone stops it.

Home Assistant keeps the timers and tells the satellite about each (Wyoming `timer-*`);
when one finishes, the satellite plays its timer sound again and again (Home Assistant's
Timer ringing switch shows it, and rings or stops it too). Saying the wake word, the
button or muting stops it (see `Satellite.silence`); nobody there, it falls silent by itself.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final

from .chimes import Chime
from .errors import AudioError

if TYPE_CHECKING:
    from .core import Satellite

_LOGGER = logging.getLogger(__name__)

RING_SECONDS: Final = 300.0
"""A timer nobody stops rings this long, then falls silent."""

RING_PAUSE_SECONDS: Final = 0.5
"""Silence between two rings."""

RING_KIND: Final = "timer"
"""The speaker's name for a ring (see `Speaker.clip`)."""


class TimerAlarm:
    """Rings for finished timers: one ring at a time, however many timers finished."""

    def __init__(self, satellite: Satellite, sound: Chime | None) -> None:
        self._satellite = satellite
        self._sound = sound
        self._task: asyncio.Task[None] | None = None

    @property
    def ringing(self) -> bool:
        """Return True from a timer's end until it is stopped or falls silent."""
        return self._task is not None

    def ring(self) -> None:
        """A timer finished: ring (again from the start if one rings already)."""
        sound = self._sound
        if sound is None or not self._satellite.speaker.available:
            _LOGGER.info("a timer finished; this satellite cannot ring (no speaker)")
            return
        self.stop()
        self._task = self._satellite.spawn(self._ring(sound), "timer ring")

    def stop(self) -> asyncio.Task[None] | None:
        """Stop ringing at once; returns the ring, ending, if it was ringing."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        return task

    async def _ring(self, sound: Chime) -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + RING_SECONDS
        try:
            # As before a reply: a remote-wake stream ends (the ring must not be streamed).
            await self._satellite.trigger.before_reply()
            await self._satellite.refresh()  # Home Assistant shows it ringing
            while loop.time() < until:
                await self._satellite.speaker.play(sound.pcm, sound.format, kind=RING_KIND)
                await asyncio.sleep(RING_PAUSE_SECONDS)
            _LOGGER.info("the finished timer rang for %.0f s; nobody stopped it", RING_SECONDS)
        except AudioError as err:
            _LOGGER.error("cannot ring for the finished timer: %s", err)
        finally:
            if self._task is asyncio.current_task():
                self._task = None
        # Fell silent by itself (one stopped is reported by whoever stopped it).
        await self._satellite.refresh()
