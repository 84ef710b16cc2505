"""The satellite's playback volume."""

from __future__ import annotations

from homeassistant.components.number import NumberEntity, NumberEntityDescription
from homeassistant.const import PERCENTAGE, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from sotto_voice.messages import Configure

from .connection import unsupported_features
from .data import SatelliteConfigEntry
from .entity import SottoSatelliteEntity

PARALLEL_UPDATES = 1

VOLUME = NumberEntityDescription(
    key="volume",
    translation_key="volume",
    entity_category=EntityCategory.CONFIG,
    native_min_value=0,
    native_max_value=100,
    native_step=1,
    native_unit_of_measurement=PERCENTAGE,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SatelliteConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the volume number if the satellite has a speaker (diagnostics say why not)."""
    unsupported = unsupported_features(entry.runtime_data.connection)
    if VOLUME.key not in unsupported and "speaker" not in unsupported:
        async_add_entities([SottoVolume(entry, VOLUME)])


class SottoVolume(SottoSatelliteEntity, NumberEntity):
    """Volume of replies and announcements, as the satellite reports it."""

    @property
    def native_value(self) -> float | None:
        """The satellite's volume in percent."""
        state = self.satellite.state
        volume = state.volume if state is not None else None
        return None if volume is None else round(volume * 100)

    async def async_set_native_value(self, value: float) -> None:
        """Ask the satellite to change its volume."""
        await self.async_request(
            self.satellite.connection.async_configure(Configure(volume=value / 100))
        )
