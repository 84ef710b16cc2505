"""The speech grammar of this home, kept current as names, areas and exposure change."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.debounce import Debouncer

from sotto_voice.engine.stt.errors import SttError
from sotto_voice.engine.stt.grammar import build_grammar, load_templates
from sotto_voice.engine.stt.model import Grammar

from .vocabulary import async_home_vocabulary, async_track_vocabulary

_LOGGER = logging.getLogger(__name__)

LANGUAGE: Final = "en"
# Renaming several entities at once should rebuild the grammar once, not each time.
_REBUILD_COOLDOWN: Final = 2.0

type GrammarCompiler = Callable[[Grammar], Awaitable[object]]


class HomeGrammar:
    """Builds the grammar off the event loop and tells its users when it changes.

    One per home: the in-process recogniser and every remote engine use the same one.
    """

    def __init__(self, hass: HomeAssistant) -> None:
        """Nothing is built until `async_start`."""
        self.hass = hass
        self.grammar: Grammar | None = None
        self.error: str | None = "loading"
        self._templates: dict[str, Any] | None = None
        self._compilers: list[GrammarCompiler] = []
        self._listeners: list[Callable[[], None]] = []
        self._debouncer = Debouncer(
            hass, _LOGGER, cooldown=_REBUILD_COOLDOWN, immediate=False, function=self.async_rebuild
        )
        self._unsub: CALLBACK_TYPE | None = None

    async def async_start(self) -> None:
        """Load the sentence templates and build the first grammar."""
        self._templates = await self.hass.async_add_executor_job(load_templates, LANGUAGE)
        self._unsub = async_track_vocabulary(self.hass, self._debouncer.async_schedule_call)
        await self.async_rebuild()

    @callback
    def async_stop(self) -> None:
        """Stop following changes."""
        if self._unsub is not None:
            self._unsub()
            self._unsub = None
        self._debouncer.async_shutdown()

    @callback
    def add_compiler(self, compile_grammar: GrammarCompiler) -> CALLBACK_TYPE:
        """Await `compile_grammar` on each new grammar before it is used."""
        self._compilers.append(compile_grammar)
        return lambda: self._compilers.remove(compile_grammar)

    @callback
    def subscribe(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call `listener` after each rebuild; returns the unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def async_rebuild(self) -> None:
        """Build (and compile, for in-process use) the grammar for the home as it is now."""
        templates = self._templates
        # Rebuilds are scheduled only by `async_start`, after the templates are loaded.
        assert templates is not None
        home = async_home_vocabulary(self.hass)
        if home is None:
            self.error = "nothing is exposed to Assist yet"
        else:
            try:
                grammar = await self.hass.async_add_executor_job(build_grammar, home, templates)
                for compile_grammar in list(self._compilers):
                    await compile_grammar(grammar)
                self.grammar = grammar
            except SttError as err:
                # Keep the last good grammar; say why the new one failed.
                self.error = str(err)
                _LOGGER.error("Cannot build the speech grammar for this home: %s", err)
                _LOGGER.debug("The home the grammar was built for: %s", home.to_dict())
            else:
                self.error = None
                _LOGGER.debug(
                    "Speech grammar %s ready (%d entities)", self.grammar.digest, len(home.entities)
                )
        for listener in list(self._listeners):
            listener()
