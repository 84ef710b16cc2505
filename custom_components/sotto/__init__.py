"""Sotto: a private, local voice assistant for Home Assistant."""

from __future__ import annotations

from homeassistant.core import HomeAssistant

import sotto

from .data import SottoConfigEntry, SottoData

PLATFORMS: list[str] = []


async def async_setup_entry(hass: HomeAssistant, entry: SottoConfigEntry) -> bool:
    """Set up Sotto from a config entry."""
    entry.runtime_data = SottoData(library_version=sotto.__version__)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: SottoConfigEntry) -> bool:
    """Unload a config entry and everything it started."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
