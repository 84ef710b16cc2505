"""Setting up and removing Sotto in a real Home Assistant."""

from __future__ import annotations

from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.sotto.const import DOMAIN
from custom_components.sotto.data import HomeData


async def test_user_flow_creates_entry_that_loads_and_unloads(hass: HomeAssistant) -> None:
    """The home entry is created from the UI, loads, and unloads cleanly."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert entry.state is ConfigEntryState.LOADED
    assert isinstance(entry.runtime_data, HomeData)

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_once_home_exists_the_flow_offers_devices(hass: HomeAssistant) -> None:
    """Only one home entry can exist; afterwards the flow offers what can be added."""
    first = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    await hass.config_entries.flow.async_configure(first["flow_id"], {})
    await hass.async_block_till_done()

    second = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert second["type"] is FlowResultType.MENU
    assert second["menu_options"] == ["satellite", "esphome", "engine"]
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1
