"""The home's history sensors: today's interactions and false wakes, and what is kept."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfTime
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import HOME_UNIQUE_ID
from .data import HomeData
from .history.store import HistoryStore, Stats
from .home_device import home_device_info

PARALLEL_UPDATES = 0


class SottoHomeEntity(Entity):
    """An entity of the home entry (the "Sotto" service device): pushed to, never polled."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, home: HomeData, description: EntityDescription) -> None:
        """Attach the entity to the home's device."""
        self.history: HistoryStore = home.history
        self.entity_description = description
        self._attr_unique_id = f"{HOME_UNIQUE_ID}-{description.key}"
        self._attr_device_info = home_device_info()


@dataclass(frozen=True, kw_only=True)
class HistorySensorDescription(SensorEntityDescription):
    """A figure read from the history's stats."""

    value: Callable[[Stats], float | int | datetime | None]


HISTORY_SENSORS: tuple[HistorySensorDescription, ...] = (
    HistorySensorDescription(
        key="interactions_today",
        translation_key="interactions_today",
        state_class=SensorStateClass.TOTAL,
        value=lambda stats: stats.interactions_today,
    ),
    HistorySensorDescription(
        key="false_wakes_today",
        translation_key="false_wakes_today",
        state_class=SensorStateClass.TOTAL,
        value=lambda stats: stats.false_wakes_today,
    ),
    HistorySensorDescription(
        key="audio_seconds_today",
        translation_key="audio_seconds_today",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=1,
        value=lambda stats: stats.audio_seconds_today,
    ),
    HistorySensorDescription(
        key="history_items",
        translation_key="history_items",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value=lambda stats: stats.items,
    ),
    HistorySensorDescription(
        key="oldest_item",
        translation_key="oldest_item",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value=lambda stats: stats.oldest,
    ),
)


def async_setup_history_sensors(
    home: HomeData, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the home's history sensors."""
    async_add_entities(SottoHistorySensor(home, description) for description in HISTORY_SENSORS)


class SottoHistorySensor(SottoHomeEntity, SensorEntity):
    """One figure of the voice history; never a transcript."""

    entity_description: HistorySensorDescription

    async def async_added_to_hass(self) -> None:
        """Follow the history for as long as the entity exists."""
        await super().async_added_to_hass()
        self.async_on_remove(self.history.subscribe(self.async_write_ha_state))

    @property
    def native_value(self) -> float | int | datetime | None:
        """The figure now."""
        return self.entity_description.value(self.history.stats)
