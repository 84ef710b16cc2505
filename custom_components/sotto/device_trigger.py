"""Device triggers: "When Kitchen satellite detects the wake word", and the other voice events."""

from __future__ import annotations

from typing import Any

import probatio as vol
from homeassistant.components.device_automation import DEVICE_TRIGGER_BASE_SCHEMA
from homeassistant.components.event import ATTR_EVENT_TYPE
from homeassistant.const import (
    CONF_DEVICE_ID,
    CONF_DOMAIN,
    CONF_ENTITY_ID,
    CONF_PLATFORM,
    CONF_TYPE,
)
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HassJob,
    HomeAssistant,
    callback,
)
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.helpers.trigger import TriggerActionType, TriggerInfo
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN
from .satellite import VoiceEvent

TRIGGER_TYPES = [event.value for event in VoiceEvent]

TRIGGER_SCHEMA = DEVICE_TRIGGER_BASE_SCHEMA.extend(
    {
        vol.Required(CONF_ENTITY_ID): str,
        vol.Required(CONF_TYPE): vol.In(TRIGGER_TYPES),
    }
)


def voice_event_entity(hass: HomeAssistant, device_id: str) -> er.RegistryEntry | None:
    """The voice event entity of a Sotto satellite device."""
    return next(
        (
            entry
            for entry in er.async_entries_for_device(er.async_get(hass), device_id)
            if entry.platform == DOMAIN and entry.domain == "event"
        ),
        None,
    )


async def async_get_triggers(hass: HomeAssistant, device_id: str) -> list[dict[str, Any]]:
    """One trigger per voice event, for satellites that have the event entity."""
    entry = voice_event_entity(hass, device_id)
    if entry is None:
        return []
    return [
        {
            CONF_PLATFORM: "device",
            CONF_DEVICE_ID: device_id,
            CONF_DOMAIN: DOMAIN,
            CONF_ENTITY_ID: entry.id,
            CONF_TYPE: trigger_type,
        }
        for trigger_type in TRIGGER_TYPES
    ]


async def async_attach_trigger(
    hass: HomeAssistant,
    config: ConfigType,
    action: TriggerActionType,
    trigger_info: TriggerInfo,
) -> CALLBACK_TYPE:
    """Fire when the satellite's voice event entity reports this event type."""
    entity_id = er.async_validate_entity_id(er.async_get(hass), config[CONF_ENTITY_ID])
    wanted = config[CONF_TYPE]
    job = HassJob(action, f"sotto device trigger {trigger_info}")

    @callback
    def on_change(event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        old = event.data["old_state"]
        if new is None or new.attributes.get(ATTR_EVENT_TYPE) != wanted:
            return
        if old is not None and old.state == new.state:
            return  # an attribute refresh, not a new event
        hass.async_run_hass_job(
            job,
            {
                "trigger": {
                    **trigger_info["trigger_data"],
                    CONF_PLATFORM: "device",
                    CONF_DOMAIN: DOMAIN,
                    CONF_DEVICE_ID: config[CONF_DEVICE_ID],
                    CONF_ENTITY_ID: entity_id,
                    CONF_TYPE: wanted,
                    "event": {k: v for k, v in new.attributes.items() if k != ATTR_EVENT_TYPE},
                    "description": f"{entity_id} {wanted}",
                }
            },
            event.context,
        )

    return async_track_state_change_event(hass, [entity_id], on_change)
