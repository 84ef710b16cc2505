"""The home's speech grammar as users see it: what it says while it cannot recognise, and
names it cannot speak (emoji, symbols) that must not break voice control for the home."""

from __future__ import annotations

import asyncio
import logging

import pytest
from homeassistant.components import stt
from homeassistant.core import HomeAssistant
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import floor_registry as fr
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sotto.const import DOMAIN, HOME_UNIQUE_ID
from demo.speech import utterance

from .house import async_build_house
from .speech_input import METADATA, in_chunks

LOCAL_STT = "stt.sotto_speech_to_text"


async def _hear(hass: HomeAssistant, *parts: str | float) -> stt.SpeechResult:
    entity = stt.async_get_speech_to_text_entity(hass, LOCAL_STT)
    assert entity is not None
    return await entity.async_process_audio_stream(METADATA, in_chunks(utterance(*parts)))


async def _load_home(hass: HomeAssistant) -> MockConfigEntry:
    home = MockConfigEntry(domain=DOMAIN, unique_id=HOME_UNIQUE_ID, data={"kind": "home"})
    home.add_to_hass(hass)
    assert await hass.config_entries.async_setup(home.entry_id)
    await hass.async_block_till_done()
    return home


async def _rebuilt(home: MockConfigEntry, word: str) -> None:
    """Wait until a rebuilt grammar has `word` (rebuilds are debounced, and one started by
    an earlier change may finish first)."""
    grammar = home.runtime_data.grammar
    assert grammar is not None
    changed = asyncio.Event()
    unsub = grammar.subscribe(changed.set)
    try:
        # A safety net, not a speed target: on a busy machine two rebuilds in a row (the
        # one in progress, then this change's) each compile for several seconds.
        async with asyncio.timeout(90):
            while grammar.grammar is None or word not in grammar.grammar.words:
                await changed.wait()
                changed.clear()
    finally:
        unsub()


async def test_with_nothing_exposed_the_recogniser_says_why(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """A fresh install with nothing exposed: the STT entity shows why it cannot listen;
    once a light is added the grammar is built without a restart."""
    assert await async_setup_component(hass, "conversation", {})
    home = await _load_home(hass)
    state = hass.states.get(LOCAL_STT)
    assert state is not None
    assert state.attributes["grammar_error"] == "nothing is exposed to Assist yet"
    with caplog.at_level(logging.WARNING):
        result = await _hear(hass, 0.3, "turn on the kitchen light", 0.5)
    assert result.result is stt.SpeechResultState.ERROR
    assert "Speech-to-text is not ready: nothing is exposed to Assist yet" in caplog.text

    await async_build_house(hass, {"Kitchen": ["Kitchen Light"]})
    await _rebuilt(home, "kitchen")
    await hass.async_block_till_done()
    assert "grammar_error" not in hass.states.get(LOCAL_STT).attributes
    assert (await _hear(hass, 0.3, "turn on the kitchen light", 0.6)).text == (
        "turn on the kitchen light"
    )
    await hass.config_entries.async_unload(home.entry_id)


async def test_an_emoji_in_a_name_does_not_break_voice_control(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """A light named with an emoji is still commanded by its words; one whose name has no
    words at all is left out with a warning naming it; every other command still works."""
    assert await async_setup_component(hass, "conversation", {})
    await async_build_house(hass, {"Kitchen": ["Kitchen Light"], "Bedroom": ["Bedroom Lamp"]})
    registry = er.async_get(hass)
    registry.async_update_entity("light.bedroom_lamp", name="Bedroom lamp 💡")
    registry.async_update_entity("light.kitchen_light", name="🎄", aliases=set())
    ar.async_get(hass).async_create("🛋️")
    fr.async_get(hass).async_create("🏠")
    with caplog.at_level(logging.WARNING):
        home = await _load_home(hass)
    assert "grammar_error" not in hass.states.get(LOCAL_STT).attributes
    for unspeakable in ("light.kitchen_light", "area 🛋️", "floor 🏠"):
        assert unspeakable in caplog.text
    assert "no spoken words" in caplog.text
    assert (await _hear(hass, 0.3, "turn off the bedroom lamp", 0.6)).text == (
        "turn off the bedroom lamp"
    )
    # An alias gives the unspeakable light a name: it can be commanded after the rebuild.
    registry.async_update_entity("light.kitchen_light", aliases={"christmas tree"})
    await _rebuilt(home, "christmas")
    assert (await _hear(hass, 0.3, "turn on the christmas tree", 0.6)).text == (
        "turn on the christmas tree"
    )
    await hass.config_entries.async_unload(home.entry_id)
