"""The speech grammar of this home, kept current as names, areas and exposure change."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.debounce import Debouncer

from sotto_voice.engine.stt.errors import SttError
from sotto_voice.engine.stt.grammar import ANSWER_INTENT, build_grammar, load_templates
from sotto_voice.engine.stt.model import Grammar

from .vocabulary import async_home_vocabulary, async_track_vocabulary

_LOGGER = logging.getLogger(__name__)

LANGUAGE: Final = "en"
# Renaming several entities at once should rebuild the grammar once, not each time.
_REBUILD_COOLDOWN: Final = 2.0

type GrammarCompiler = Callable[[Grammar], Awaitable[object]]

# The answers' sentences of the question a satellite asked (assist_satellite.ask_question),
# set by that satellite for its pipeline run only: the run's tasks, and so the speech-to-text
# it calls, see it; every other run sees none and gets the home's grammar alone.
question_answers: ContextVar[tuple[str, ...]] = ContextVar("sotto_question_answers", default=())


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
        # Grammars with a question's answers, by the home grammar's digest and the answers.
        self._questions: dict[tuple[str, tuple[str, ...]], asyncio.Task[Grammar]] = {}

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

    @callback
    def async_prepare_question(self, answers: tuple[str, ...]) -> CALLBACK_TYPE:
        """Start building the grammar with these answers; returns what forgets it again."""
        base = self.grammar
        if not answers or base is None:
            return lambda: None
        key = (base.digest, answers)
        if key not in self._questions:
            self._questions[key] = self.hass.async_create_background_task(
                self._async_build_question(base, answers), "sotto question grammar"
            )
        return lambda: self._forget_question(answers)

    @callback
    def _forget_question(self, answers: tuple[str, ...]) -> None:
        # A build still running finishes unseen: another run may be awaiting it.
        for key in [key for key in self._questions if key[1] == answers]:
            del self._questions[key]

    async def async_grammar(self, answers: tuple[str, ...] = ()) -> Grammar | None:
        """The grammar to recognise with: the home's, plus a question's answers if given."""
        base = self.grammar
        if not answers or base is None:
            return base
        key = (base.digest, answers)
        if key not in self._questions:  # asked outside async_prepare_question: not kept
            return await self._async_build_question(base, answers)
        return await asyncio.shield(self._questions[key])

    async def _async_build_question(self, base: Grammar, answers: tuple[str, ...]) -> Grammar:
        """The home's grammar with the answers; the home's alone if they cannot be added."""
        templates = self._templates
        home = async_home_vocabulary(self.hass)
        if templates is None or home is None:
            return base
        try:
            grammar = await self.hass.async_add_executor_job(
                functools.partial(build_grammar, home, templates, answers=answers)
            )
        except SttError as err:
            _LOGGER.warning("The answers %s cannot be recognised: %s", list(answers), err)
            return base
        for skipped in grammar.skipped:
            if skipped.startswith(f"{ANSWER_INTENT}:"):
                _LOGGER.warning(
                    "Cannot recognise the answer %s: only lists this home's sentences know "
                    "({name}, {area}, {floor}, the intents' lists) can be spoken",
                    skipped.removeprefix(f"{ANSWER_INTENT}: "),
                )
        return grammar

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
