"""The base of every entity that belongs to a Sotto satellite."""

from __future__ import annotations

from collections.abc import Awaitable

from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription

from .const import DOMAIN
from .data import SatelliteConfigEntry
from .satellite import SatelliteDevice


class SottoSatelliteEntity(Entity):
    """An entity of one satellite: named by translation, pushed to, never polled."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, entry: SatelliteConfigEntry, description: EntityDescription) -> None:
        """Attach the entity to the satellite's device."""
        satellite = entry.runtime_data.satellite
        self.satellite: SatelliteDevice = satellite
        self.entity_description = description
        device_key = entry.unique_id or entry.entry_id
        self._attr_unique_id = f"{device_key}-{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, device_key)},
            name=entry.title,
            manufacturer="Sotto",
            model=satellite.connection.model,
            sw_version=satellite.connection.peer.version if satellite.connection.peer else None,
        )

    @property
    def available(self) -> bool:
        """Available while the satellite is connected."""
        return self.satellite.available

    async def async_added_to_hass(self) -> None:
        """Follow the satellite's reports for as long as the entity exists."""
        await super().async_added_to_hass()
        self.async_on_remove(self.satellite.subscribe_updates(self._handle_update))

    def _handle_update(self) -> None:
        """Write the new state; entities override to derive more."""
        self.async_write_ha_state()

    async def async_request(self, request: Awaitable[bool]) -> None:
        """Await a request to the satellite; its report (not this call) changes the state."""
        if not await request:
            # Only in the moment the link drops: HA skips entities already unavailable.
            raise self.not_connected()

    def not_connected(self) -> HomeAssistantError:
        """The error of a request the satellite cannot be sent now."""
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="not_connected",
            translation_placeholders={"name": self.satellite.connection.name},
        )
