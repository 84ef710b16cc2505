"""Purge buttons: one for the whole home, one on each satellite (administrators only)."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .data import HomeData, SatelliteConfigEntry, SatelliteData, SottoConfigEntry, entry_holds
from .entity import SottoSatelliteEntity
from .history.purge import PurgeScope
from .history_sensors import SottoHomeEntity
from .services import async_purge, async_require_admin

PARALLEL_UPDATES = 1

PURGE = ButtonEntityDescription(
    key="purge_history", translation_key="purge_history", entity_category=EntityCategory.CONFIG
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SottoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the purge button of the home or of a satellite."""
    if entry_holds(entry, HomeData):
        async_add_entities([SottoHomePurgeButton(entry.runtime_data, PURGE)])
    elif entry_holds(entry, SatelliteData):
        async_add_entities([SottoSatellitePurgeButton(entry, PURGE)])


class SottoHomePurgeButton(SottoHomeEntity, ButtonEntity):
    """Purges the whole home's history and every copy of it."""

    async def async_press(self) -> None:
        """Purge everything."""
        await async_require_admin(self.hass, self._context)
        await async_purge(self.hass, PurgeScope())


class SottoSatellitePurgeButton(SottoSatelliteEntity, ButtonEntity):
    """Purges one satellite's history and what it holds itself."""

    def __init__(self, entry: SatelliteConfigEntry, description: ButtonEntityDescription) -> None:
        """Remember which satellite this button purges."""
        super().__init__(entry, description)
        self._device_key = entry.unique_id or entry.entry_id

    @property
    def available(self) -> bool:
        """The history can be purged even while the satellite is away."""
        return True

    async def async_press(self) -> None:
        """Purge this satellite's interactions."""
        await async_require_admin(self.hass, self._context)
        await async_purge(self.hass, PurgeScope(satellite_id=self._device_key))
