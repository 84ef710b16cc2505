"""The conversation agent is ready once a satellite is, not during its first command."""

from __future__ import annotations

import asyncio
import threading
from unittest.mock import patch

import pytest
from homeassistant.components.conversation.agent_manager import async_get_agent
from homeassistant.components.conversation.default_agent import DefaultAgent
from homeassistant.components.homeassistant.exposed_entities import (
    DATA_EXPOSED_ENTITIES,
    async_should_expose,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component

from custom_components.sotto.warmup import async_prepare_agent
from sotto_voice.link import LinkKey

from .peers import paired_entry, serve_peer

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def test_a_satellite_readies_the_agent_of_its_pipeline(hass: HomeAssistant) -> None:
    """HA loads the agent's sentences at the first command otherwise, holding up that
    command by about a second (seconds on a Pi)."""
    assert await async_setup_component(hass, "conversation", {})
    agent = async_get_agent(hass, "conversation.home_assistant")
    assert isinstance(agent, DefaultAgent)
    assert agent._lang_intents.get("en") is None  # what HA loads lazily

    key = LinkKey.generate()
    async with serve_peer(key) as (_peer, port):
        entry = paired_entry(port, key.to_base64())
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        async with asyncio.timeout(30):  # loading takes a second or two
            while agent._lang_intents.get("en") is None:
                await asyncio.sleep(0.05)
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_the_warm_up_asks_about_exposure_only_on_home_assistants_loop(
    hass: HomeAssistant,
) -> None:
    """Whether an entity is exposed is a loop-only question in HA: asked the first time, it
    writes the entity registry. The warm-up's text matches nothing, and a text that matches
    nothing made HA's agent go on to every entity in a worker thread, asking it there;
    with an entity added meanwhile at start-up, HA refused the registry write from that
    thread (a RuntimeError that failed a CI run)."""
    assert await async_setup_component(hass, "conversation", {})
    assert await async_setup_component(hass, "assist_pipeline", {})
    lamp = er.async_get(hass).async_get_or_create("light", "test", "lamp")
    hass.states.async_set(lamp.entity_id, "off", {"friendly_name": "Lamp"})
    agent = async_get_agent(hass, "conversation.home_assistant")
    assert isinstance(agent, DefaultAgent)

    exposed = hass.data[DATA_EXPOSED_ENTITIES]
    asked_from: set[int] = set()
    should_expose = exposed.async_should_expose

    def recording_thread(assistant: str, entity_id: str) -> bool:
        asked_from.add(threading.get_ident())
        return should_expose(assistant, entity_id)

    with patch.object(exposed, "async_should_expose", recording_thread):
        await async_prepare_agent(hass, None)
    assert agent._lang_intents.get("en") is not None
    assert asked_from == {hass.loop_thread_id}
    # And the lamp can still be named by voice.
    assert async_should_expose(hass, "conversation", lamp.entity_id)
