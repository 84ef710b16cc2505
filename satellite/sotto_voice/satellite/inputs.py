"""Hardware inputs through a command hook: a long-running command prints one word per line.

Mute hooks print `mute`, `unmute` or `toggle`; push-to-talk hooks print `talk`. This
covers anything that can write to stdout: evtest on a USB button, a GPIO tool, a script.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from typing import Final

_LOGGER = logging.getLogger(__name__)

_RESTART_DELAYS: Final = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds before restarting a hook that exited, growing while it keeps failing."""

_HEALTHY_SECONDS: Final = 60.0
_MAX_LINE: Final = 256


class CommandInput:
    """Runs a hook command and passes each recognised word it prints to on_word."""

    def __init__(
        self,
        argv: tuple[str, ...],
        *,
        words: Collection[str],
        on_word: Callable[[str], None],
        name: str,
    ) -> None:
        self._argv = argv
        self._words = frozenset(words)
        self._on_word = on_word
        self._name = name
        self._task: asyncio.Task[None] | None = None
        self._process: asyncio.subprocess.Process | None = None

    def start(self) -> None:
        """Start the hook (and restart it whenever it exits)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"sotto-{self._name}-hook")

    async def _run(self) -> None:
        failures = 0
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self._run_once()
            except OSError as err:
                _LOGGER.error("%s hook %r cannot start: %s", self._name, self._argv[0], err)
            # A hook that ran for a good while was healthy: start the backoff again.
            failures = 0 if loop.time() - started > _HEALTHY_SECONDS else failures + 1
            delay = _RESTART_DELAYS[min(failures, len(_RESTART_DELAYS) - 1)]
            _LOGGER.warning(
                "%s hook %r exited; restarting in %.0f s", self._name, self._argv[0], delay
            )
            await asyncio.sleep(delay)

    async def _run_once(self) -> None:
        self._process = process = await asyncio.create_subprocess_exec(
            *self._argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            limit=_MAX_LINE * 4,
        )
        assert process.stdout is not None
        try:
            while True:
                try:
                    line = await process.stdout.readline()
                except ValueError:
                    _LOGGER.warning("%s hook printed an over-long line; ignored", self._name)
                    continue
                if not line:
                    break
                word = line.decode("utf-8", "replace").strip().lower()
                if word in self._words:
                    self._on_word(word)
                elif word:
                    _LOGGER.warning(
                        "%s hook printed %r; expected one of %s",
                        self._name,
                        word[:40],
                        ", ".join(sorted(self._words)),
                    )
        finally:
            await _stop(process)
            self._process = None

    async def stop(self) -> None:
        """Stop the hook."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 2.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
