"""Privacy ledger sensors: what the satellite itself counted it has heard and sent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from sotto_voice.messages import LedgerDay, SottoLedger

from .data import HomeData, SatelliteData, SottoConfigEntry, entry_holds
from .entity import SottoSatelliteEntity
from .history_sensors import async_setup_history_sensors

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class LedgerSensorDescription(SensorEntityDescription):
    """A figure read from today's page of the satellite's ledger."""

    value: Callable[[LedgerDay], float | int]


def _seconds_today(key: str, value: Callable[[LedgerDay], float]) -> LedgerSensorDescription:
    """Seconds of today's page, to a tenth."""
    return LedgerSensorDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=1,
        value=lambda day: round(value(day), 1),
    )


LEDGER_SENSORS: tuple[LedgerSensorDescription, ...] = (
    LedgerSensorDescription(
        key="wakes_today",
        translation_key="wakes_today",
        state_class=SensorStateClass.TOTAL,
        value=lambda day: day.wakes,
    ),
    _seconds_today("seconds_sent_today", lambda day: day.seconds_sent),
    # Commands heard, whether sent or recognised on the satellite: beside the seconds
    # sent, it shows how much of what the microphone captured stayed in the room.
    _seconds_today("seconds_listened_today", lambda day: day.seconds_listened),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SottoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the satellite's ledger sensors (the home entry: its history sensors)."""
    if entry_holds(entry, HomeData):
        async_setup_history_sensors(entry.runtime_data, async_add_entities)
    elif entry_holds(entry, SatelliteData):
        async_add_entities(SottoLedgerSensor(entry, desc) for desc in LEDGER_SENSORS)


def today(ledger: SottoLedger | None) -> LedgerDay:
    """Today's page of the ledger (empty when the satellite has not counted anything)."""
    date = dt_util.now().date().isoformat()
    if ledger is not None:
        for day in ledger.days:
            if day.date == date:
                return day
    return LedgerDay(date=date)


class SottoLedgerSensor(SottoSatelliteEntity, SensorEntity):
    """One of today's ledger figures."""

    entity_description: LedgerSensorDescription

    @property
    def native_value(self) -> float | int | None:
        """Today's figure, once the satellite has sent its ledger."""
        if self.satellite.ledger is None:
            return None
        return self.entity_description.value(today(self.satellite.ledger))
