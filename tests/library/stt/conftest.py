"""Shared fixtures for the speech-to-text tests: one small home and its grammar."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from demo.speech import utterance
from sotto_voice.engine.stt.home import Home
from sotto_voice.engine.stt.model import Grammar
from sotto_voice.engine.stt.recognizer import Recognizer
from sotto_voice.engine.stt.worker import RecognizerProcess

HOME = {
    "entities": [
        {"entity_id": "light.island_pendants", "names": ["Island Pendants"], "area": "Kitchen"},
        {"entity_id": "light.floor_lamp", "names": ["Floor Lamp"], "area": "Living Room"},
        {"entity_id": "light.sonos_lamp", "names": ["Sonos Lamp"], "area": "Living Room"},
        {"entity_id": "cover.blinds", "names": ["Blinds"], "area": "Living Room"},
    ],
    "areas": [{"name": "Kitchen"}, {"name": "Living Room", "aliases": ["Lounge"]}],
    "floors": [{"name": "Ground"}],
}


@pytest.fixture(scope="session")
def templates() -> dict[str, Any]:
    """The real home-assistant-intents English templates."""
    # Grammars are built where Home Assistant runs (it ships hassil and the templates);
    # a bare Pi environment without them skips the tests that need one.
    pytest.importorskip("hassil")
    pytest.importorskip("home_assistant_intents")
    from sotto_voice.engine.stt.grammar import load_templates

    return load_templates("en")


@pytest.fixture(scope="session")
def home() -> Home:
    """A small home with an out-of-dictionary light name."""
    return Home.from_dict(HOME)


@pytest.fixture(scope="session")
def grammar(home: Home, templates: dict[str, Any]) -> Grammar:
    """The grammar of the small home."""
    from sotto_voice.engine.stt.grammar import build_grammar

    return build_grammar(home, templates)


@pytest.fixture(scope="module")
def recognizer(grammar: Grammar) -> Recognizer:
    """A recogniser with the small home's grammar loaded (decoders are reused)."""
    recognizer = Recognizer()
    recognizer.load(grammar)
    return recognizer


@pytest.fixture
async def worker(grammar: Grammar) -> AsyncIterator[RecognizerProcess]:
    """A running child process with the small home's grammar loaded, past its first command.

    (A decoder's first utterance has no cepstral mean yet: it decodes it twice, and its
    partial hypotheses are rough. The in-process tests cover that.)
    """
    process = RecognizerProcess()
    try:
        async with asyncio.timeout(60):
            await process.load(grammar)
            async with await process.open() as session:
                await session.feed(utterance(0.3, "turn on the floor lamp", 0.3))
                await session.finish()
        yield process
    finally:
        await process.close()
