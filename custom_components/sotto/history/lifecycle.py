"""The history's life on the home entry: opened at start, pruned on a schedule."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.event import async_track_time_interval

from .panel import async_register_panel
from .purge import async_expire_everywhere
from .settings import Retention
from .store import HISTORY_DIR, KEYS_DIR, HistoryStore

# Retention is applied this often, so nothing outlives its window by more than this.
RETENTION_INTERVAL: Final = timedelta(minutes=10)


async def async_start_history(hass: HomeAssistant, entry: ConfigEntry[Any]) -> HistoryStore:
    """Open the store, drop what is past its retention now and every interval after."""
    store = HistoryStore(
        hass,
        Path(hass.config.path(HISTORY_DIR)),
        Retention.from_options(entry.options),
        keys_dir=Path(hass.config.path(*KEYS_DIR)),
    )
    await store.async_open()
    entry.async_on_unload(store.async_close)

    async def apply_retention(_now: Any = None) -> None:
        await async_expire_everywhere(hass, store)

    entry.async_on_unload(
        async_track_time_interval(
            hass, apply_retention, RETENTION_INTERVAL, name="sotto history retention"
        )
    )

    async def options_updated(_hass: HomeAssistant, updated: ConfigEntry[Any]) -> None:
        store.retention = Retention.from_options(updated.options)
        await async_expire_everywhere(hass, store)

    entry.async_on_unload(entry.add_update_listener(options_updated))
    if "frontend" in hass.config.components:
        entry.async_on_unload(await async_register_panel(hass))
    return store
