"""The recording sensor: on exactly while audio is leaving the satellite."""

from __future__ import annotations

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .data import SatelliteConfigEntry
from .entity import SottoSatelliteEntity

PARALLEL_UPDATES = 0

RECORDING = BinarySensorEntityDescription(key="recording", translation_key="recording")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SatelliteConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the satellite's recording sensor."""
    async_add_entities([SottoRecordingSensor(entry, RECORDING)])


class SottoRecordingSensor(SottoSatelliteEntity, BinarySensorEntity):
    """Driven by the satellite's own start and stop of each stream, never guessed."""

    @property
    def available(self) -> bool:
        """Always available: a satellite that is not connected sends nothing, so: off."""
        return True

    @property
    def is_on(self) -> bool:
        """Whether audio is leaving the satellite now."""
        return self.satellite.streaming
