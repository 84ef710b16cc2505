"""Voice event device triggers: they fire on events, not on renames, and say what is missing."""

from __future__ import annotations

import asyncio

import pytest
from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_get_device_automations,
)
from wyoming.wake import Detection

from custom_components.sotto.const import DOMAIN, HOME_UNIQUE_ID
from demo.home import sotto_device
from sotto_voice.link import LinkKey

from .peers import paired_entry, serve_peer

pytestmark = pytest.mark.usefixtures("socket_enabled")

KEY = LinkKey.generate()
VOICE_EVENTS = "event.kitchen_satellite_voice_events"


def _automation(device_id: str, entity_id: str) -> dict[str, object]:
    return {
        "automation": {
            "triggers": [
                {
                    "trigger": "device",
                    "domain": DOMAIN,
                    "device_id": device_id,
                    "entity_id": entity_id,
                    "type": "wake_word_detected",
                }
            ],
            "actions": [
                {"event": "sotto_test_fired", "event_data": {"type": "{{ trigger.type }}"}}
            ],
        }
    }


async def test_the_trigger_fires_per_wake_word_and_not_when_the_entity_is_renamed(
    hass: HomeAssistant,
) -> None:
    """Each wake word runs the automation once; renaming the event entity runs nothing."""
    async with serve_peer(KEY) as (peer, port):
        entry = paired_entry(port, KEY.to_base64())
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        device = sotto_device(hass, "kitchen-satellite")
        registry_entry = er.async_get(hass).async_get(VOICE_EVENTS)
        assert device is not None
        assert registry_entry is not None
        fired: asyncio.Queue[str] = asyncio.Queue()

        @callback
        def automation_ran(event: Event) -> None:
            fired.put_nowait(event.data["type"])

        hass.bus.async_listen("sotto_test_fired", automation_ran)
        assert await async_setup_component(
            hass, "automation", _automation(device.id, registry_entry.id)
        )
        async with asyncio.timeout(30):
            while not peer.links:
                await asyncio.sleep(0.05)
        link = peer.links[0]

        await link.write_event(Detection(name="okay_nabu").event())
        async with asyncio.timeout(30):
            assert await fired.get() == "wake_word_detected"

        er.async_get(hass).async_update_entity(VOICE_EVENTS, name="Kitchen wake words")
        await hass.async_block_till_done()
        assert hass.states.get(VOICE_EVENTS).attributes["friendly_name"] == "Kitchen wake words"
        assert fired.empty()

        await link.write_event(Detection(name="okay_nabu").event())
        async with asyncio.timeout(30):
            assert await fired.get() == "wake_word_detected"
        assert fired.empty()
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_the_sotto_home_device_offers_no_voice_triggers(hass: HomeAssistant) -> None:
    """Only satellites have voice events: the home's service device offers none."""
    home = MockConfigEntry(domain=DOMAIN, unique_id=HOME_UNIQUE_ID, data={"kind": "home"})
    home.add_to_hass(hass)
    assert await hass.config_entries.async_setup(home.entry_id)
    await hass.async_block_till_done()
    device = sotto_device(hass, HOME_UNIQUE_ID)
    assert device is not None
    for kind in (DeviceAutomationType.TRIGGER, DeviceAutomationType.CONDITION):
        offered = await async_get_device_automations(hass, kind, device.id)
        assert [item for item in offered if item["domain"] == DOMAIN] == []
    await hass.config_entries.async_unload(home.entry_id)
