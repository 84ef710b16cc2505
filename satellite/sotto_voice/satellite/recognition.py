"""Recognition on the satellite itself: only the text of a command leaves the room.

The recogniser is the engine's own (engine/stt): Whisper tiny.en snapped to the home's
grammar, with its rejection rule, decoding in the engine's worker process
(`RecognizerProcess`) so the satellite's event loop, and its wake word, never wait for it.
The model is loaded and warmed when the satellite starts, so the first command is decoded
as fast as the rest. Home Assistant sends the grammar (`sotto-grammar`, by digest).
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Final

from sotto_voice.engine.stt.errors import RecognizerError
from sotto_voice.engine.stt.model import Grammar
from sotto_voice.engine.stt.worker import WHISPER, RecognizerProcess

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
