"""The mute switch: mirrors the satellite's own mute, which the satellite owns; the timer
ringing switch: on while a finished timer rings on the satellite, off stops it."""

from __future__ import annotations

from typing import Any

from homeassistant.components.conversation import DOMAIN as CONVERSATION_DOMAIN
from homeassistant.components.homeassistant.const import DATA_EXPOSED_ENTITIES
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from sotto_voice.messages import MuteSource

from .connection import unsupported_features
from .const import DOMAIN
from .data import SatelliteConfigEntry
from .entity import SottoSatelliteEntity

PARALLEL_UPDATES = 1

# No entity category: muting is what the device is used for, so HA's generated dashboard
# shows it among the controls (as it does for a Voice PE's mute).
MUTE = SwitchEntityDescription(key="mute", translation_key="mute")
# As the internal switch of a Voice PE, shown: turned on it rings (an alarm from an
# automation), turned off it stops a ringing timer from a dashboard or an automation.
TIMER_RINGING = SwitchEntityDescription(key="timer_ringing", translation_key="timer_ringing")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SatelliteConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the satellite's switches it has (diagnostics say why not)."""
    unsupported = unsupported_features(entry.runtime_data.connection)
    async_add_entities(
        switch(entry, description)
        for switch, description in (
            (SottoMuteSwitch, MUTE),
            (SottoTimerRingingSwitch, TIMER_RINGING),
        )
        if description.key not in unsupported
    )


class SottoSwitch(SottoSatelliteEntity, SwitchEntity):
    """A switch on the satellite's device page, kept out of Assist."""

    async def async_added_to_hass(self) -> None:
        """Keep the switch out of Assist unless the user exposes it: without an entity
        category HA would expose it, and its name ("Kitchen satellite Mute") would enter
        every satellite's grammar as a thing to switch by voice."""
        await super().async_added_to_hass()
        entry = self.registry_entry
        if entry is None or DATA_EXPOSED_ENTITIES not in self.hass.data:
            return
        if "should_expose" not in entry.options.get(CONVERSATION_DOMAIN, {}):
            async_expose_entity(self.hass, CONVERSATION_DOMAIN, self.entity_id, False)


class SottoMuteSwitch(SottoSwitch):
    """On while the satellite's microphone is closed."""

    @property
    def is_on(self) -> bool | None:
        """The satellite's own report; unknown until it has sent one."""
        state = self.satellite.state
        return None if state is None else state.muted

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Who muted it: a hardware mute can only be undone on the device."""
        state = self.satellite.state
        source = state.mute_source if state else None
        return {"mute_source": source.value if source else None}

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Ask the satellite to close its microphone."""
        await self.async_request(self.satellite.connection.async_set_mute(True))

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Ask the satellite to open its microphone, unless its own button muted it."""
        state = self.satellite.state
        if state is not None and state.muted and state.mute_source is MuteSource.HARDWARE:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="hardware_muted",
                translation_placeholders={"name": self.satellite.connection.name},
            )
        await self.async_request(self.satellite.connection.async_set_mute(False))


class SottoTimerRingingSwitch(SottoSwitch):
    """On while a finished timer rings on the satellite; off stops it, on rings."""

    @property
    def is_on(self) -> bool | None:
        """The satellite's own report; unknown until it has sent one."""
        state = self.satellite.state
        return None if state is None else state.timer_ringing

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Ring the satellite's timer sound until stopped."""
        await self.async_request(self.satellite.connection.async_set_ringing(True))

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Stop the ringing (the voice events say `silenced`, by `home_assistant`)."""
        await self.async_request(self.satellite.connection.async_set_ringing(False))
