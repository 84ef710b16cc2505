"""The conversation agent is ready once a satellite is, not during its first command."""

from __future__ import annotations

import asyncio

import pytest
from homeassistant.components.conversation.agent_manager import async_get_agent
from homeassistant.components.conversation.default_agent import DefaultAgent
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

from sotto.link import LinkKey

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
