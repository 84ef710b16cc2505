"""Recognition on the satellite itself: only the text of a command leaves the room.

The recogniser is the engine's own (engine/stt): Whisper tiny.en snapped to the home's
grammar, with its rejection rule, decoding in the engine's worker process
(`RecognizerProcess`) so the satellite's event loop, and its wake word, never wait for it.
The model is loaded and warmed when the satellite starts, so the first command is decoded
as fast as the rest. Home Assistant sends the grammar (`sotto-grammar`, by digest).

A command is decoded while it is heard (`Listening`), as the engine decodes a stream: the
worker starts Whisper once the voice has stopped, while the VAD still waits out its
silence, and a command nothing can extend ends the listening at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Final

from sotto_voice.engine.stt.errors import RecognizerError
from sotto_voice.engine.stt.model import Grammar, Result
from sotto_voice.engine.stt.stream import recognise
from sotto_voice.engine.stt.worker import WHISPER, RecognizerProcess, WorkerSession

from .config import SatelliteConfig
from .errors import SatelliteError

_LOGGER = logging.getLogger(__name__)

EDGE_EXTRA: Final = "pip install 'sotto-voice[satellite-edge]'"
# What the Whisper recogniser imports in its worker process.
_MODULES: Final = ("numpy", "ctranslate2", "faster_whisper", "tokenizers")


def edge_problem(config: SatelliteConfig) -> str | None:
    """Why this satellite cannot recognise on the device (None when it can)."""
    for module in _MODULES:
        if importlib.util.find_spec(module) is None:
            return f"missing package {module!r} for recognition on the device: {EDGE_EXTRA}"
    from sotto_voice.engine.stt.whisper import check_model_dir

    model = config.whisper_model_dir
    try:
        check_model_dir(model)
    except RecognizerError:
        return (
            f"no Whisper model in {model} for recognition on the device: run "
            "`sotto-satellite download-model`, or set recognition.whisper_model to a "
            "directory holding a CTranslate2 Whisper model"
        )
    return None


def recognizes_on_device(config: SatelliteConfig) -> bool:
    """Whether to recognise on the device: `edge` must (a SatelliteError says what is
    missing), `auto` does when it can, `stream` never does."""
    mode = config.recognition.mode
    if mode == "stream":
        return False
    problem = edge_problem(config)
    if problem is not None and mode == "edge":
        raise SatelliteError(f"recognition.mode is 'edge', but: {problem}")
    if problem is not None:
        _LOGGER.info("Commands are streamed to Home Assistant: %s", problem)
    return problem is None


class OnDeviceRecognizer:
    """The engine's Whisper recogniser in its worker process, with the grammar HA sent."""

    def __init__(self, model_dir: Path) -> None:
        """Nothing runs until `start`."""
        self.model_dir = model_dir
        self._process = RecognizerProcess(recognizer=WHISPER, whisper_model=model_dir)
        self.digest: str | None = None
        """The grammar Home Assistant said is current (None before it sent one)."""

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs."""
        return self._process.pid

    async def start(self) -> None:
        """Start the worker and wait until the model is loaded and warmed."""
        await self._process.start()

    async def close(self) -> None:
        """Stop the worker."""
        await self._process.close()

    def use(self, digest: str) -> bool:
        """Make the grammar with this digest current, if it is kept; False if it is not."""
        if not self.has_grammar(digest):
            return False
        self.digest = digest
        return True

    async def load(self, grammar: Grammar) -> str:
        """Compile the grammar Home Assistant sent and make it current (GrammarError if bad)."""
        self.digest = await self._process.load(grammar)
        return self.digest

    def has_grammar(self, digest: str) -> bool:
        """Whether the grammar with this digest is compiled and kept."""
        return self._process.has_grammar(digest)

    async def keep(self, grammar: Grammar) -> None:
        """Compile a grammar of the satellite's own (the stop word) without making it current."""
        await self._process.load(grammar, current=False)

    def listen(self, on_whole: Callable[[], None]) -> Listening | None:
        """Start decoding a command as it is heard, with the current grammar (None, logged,
        when there is none). `on_whole` is called if the command is over before
        `Listening.text` is asked for. Nothing here waits for the worker."""
        if self.digest is None:
            _LOGGER.warning("Home Assistant has sent no grammar yet: nothing is understood")
            return None
        return Listening(self._process, self.digest, on_whole)

    async def recognize(self, pcm: bytes, digest: str | None = None) -> str | None:
        """The command in pcm (16 kHz mono s16le), or None when it is not one of the home's
        (or of the grammar with `digest`, one that is kept)."""
        digest = digest or self.digest
        if digest is None:
            _LOGGER.warning("Home Assistant has sent no grammar yet: nothing is understood")
            return None
        try:
            async with await self._process.open(digest) as session:
                await session.feed(pcm)
                result = await session.finish()
        except RecognizerError as err:
            _LOGGER.error("Recognition on the device failed: %s", err)
            return None
        return result.text


class Listening:
    """One command decoded in the worker while it is heard (engine/stt/stream.recognise)."""

    def __init__(
        self, process: RecognizerProcess, digest: str, on_whole: Callable[[], None]
    ) -> None:
        """Start decoding with the grammar `digest`; audio comes through `hear`."""
        self._process = process
        self._digest = digest
        self._session: WorkerSession | None = None
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._ended = False
        self._task = asyncio.get_running_loop().create_task(
            self._decode(on_whole), name="sotto-edge-recognise"
        )

    def hear(self, pcm: bytes) -> None:
        """Pass on a chunk of the command (16 kHz mono s16le)."""
        if not self._ended:
            self._chunks.put_nowait(pcm)

    async def text(self) -> str | None:
        """The command, once all of it is heard: None if it is not one of the home's, or if
        the decode failed (logged)."""
        self._end()
        try:
            result = await self._task
        except RecognizerError as err:
            _LOGGER.error("Recognition on the device failed: %s", err)
            return None
        return result.text

    async def drop(self) -> None:
        """Abandon the command: its audio is dropped in the worker, nothing is decoded."""
        self._end()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, RecognizerError):
            await self._task
        if self._session is not None:
            await self._session.close()

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            self._chunks.put_nowait(None)

    async def _audio(self) -> AsyncIterator[bytes]:
        while (chunk := await self._chunks.get()) is not None:
            yield chunk

    async def _decode(self, on_whole: Callable[[], None]) -> Result:
        self._session = await self._process.open(self._digest)
        async with self._session:
            result = await recognise(self._session, self._audio())
        if not self._ended:
            on_whole()  # over before the VAD's silence ended
        return result
