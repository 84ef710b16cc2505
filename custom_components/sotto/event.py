"""The voice event entity: what the satellite and its pipeline runs did, to automate on."""

from __future__ import annotations

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .data import SatelliteConfigEntry
from .entity import SottoSatelliteEntity
from .satellite import VoiceEvent

PARALLEL_UPDATES = 0

VOICE_EVENTS = EventEntityDescription(
    key="voice_events",
    translation_key="voice_events",
    event_types=[event.value for event in VoiceEvent],
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SatelliteConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the satellite's voice event entity."""
    async_add_entities([SottoVoiceEventEntity(entry, VOICE_EVENTS)])


class SottoVoiceEventEntity(SottoSatelliteEntity, EventEntity):
    """Fires wake word, listening, intent, mute and error events.

    What was heard is in the intent events only if the user opted in (the home's options),
    and HA's recorder never stores it.
    """

    _unrecorded_attributes = frozenset({"transcript"})

    async def async_added_to_hass(self) -> None:
        """Follow the satellite's voice events."""
        await super().async_added_to_hass()
        self.async_on_remove(self.satellite.subscribe_voice_events(self._on_voice_event))

    @callback
    def _on_voice_event(self, event: VoiceEvent, data: dict[str, str | float | int | None]) -> None:
        self._trigger_event(event.value, {k: v for k, v in data.items() if v is not None})
        self.async_write_ha_state()
