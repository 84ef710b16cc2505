"""Why a satellite's entry does not load, as HA's integrations page shows it."""

from __future__ import annotations

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sotto.const import DOMAIN
from demo.processes import free_port
from sotto_voice.link import LinkKey

from .peers import paired_entry

pytestmark = pytest.mark.usefixtures("socket_enabled")


def _satellite_entry(port: int, key_text: str) -> MockConfigEntry:
    return paired_entry(port, key_text)


async def test_a_satellite_that_is_off_is_retried_and_named(hass: HomeAssistant) -> None:
    """Nothing answers: HA retries later and says which satellite it cannot reach."""
    entry = _satellite_entry(free_port(), LinkKey.generate().to_base64())
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.error_reason_translation_key == "cannot_connect"
    assert entry.reason is not None
    assert entry.reason.startswith("Cannot connect to Kitchen satellite: ")
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_damaged_stored_key_asks_for_the_key_again(hass: HomeAssistant) -> None:
    """A key that no longer decodes is not retried forever: HA asks to re-pair."""
    entry = _satellite_entry(free_port(), "not base64 at all")
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.error_reason_translation_key == "bad_stored_key"
    assert entry.reason is not None
    assert entry.reason.startswith("The stored pairing key is damaged; re-pair the satellite")
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
