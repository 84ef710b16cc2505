"""Device conditions: whether a satellite is muted, or audio is leaving it."""

from __future__ import annotations

from typing import Final

import probatio as vol
from homeassistant.const import (
    CONF_CONDITION,
    CONF_DEVICE_ID,
    CONF_DOMAIN,
    CONF_ENTITY_ID,
    CONF_TYPE,
    STATE_OFF,
    STATE_ON,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import condition
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.config_validation import DEVICE_CONDITION_BASE_SCHEMA
from homeassistant.helpers.typing import ConfigType, TemplateVarsType

from .const import DOMAIN

# condition type -> (entity domain, entity unique-id key, state that makes it true)
CONDITIONS: Final = {
    "is_muted": ("switch", "mute", STATE_ON),
    "is_not_muted": ("switch", "mute", STATE_OFF),
    "is_recording": ("binary_sensor", "recording", STATE_ON),
    "is_not_recording": ("binary_sensor", "recording", STATE_OFF),
}

CONDITION_SCHEMA = DEVICE_CONDITION_BASE_SCHEMA.extend(
    {
        vol.Required(CONF_ENTITY_ID): cv.entity_id_or_uuid,
        vol.Required(CONF_TYPE): vol.In(list(CONDITIONS)),
    }
)


async def async_get_conditions(hass: HomeAssistant, device_id: str) -> list[dict[str, str]]:
    """Offer the conditions whose entity the satellite has."""
    found = []
    for entry in er.async_entries_for_device(er.async_get(hass), device_id):
        if entry.platform != DOMAIN:
            continue
        key = entry.unique_id.rsplit("-", 1)[-1]
        for kind, (domain, wanted_key, _state) in CONDITIONS.items():
            if entry.domain == domain and key == wanted_key:
                found.append(
                    {
                        CONF_CONDITION: "device",
                        CONF_DEVICE_ID: device_id,
                        CONF_DOMAIN: DOMAIN,
                        CONF_ENTITY_ID: entry.id,
                        CONF_TYPE: kind,
                    }
                )
    return found


@callback
def async_condition_from_config(
    hass: HomeAssistant, config: ConfigType
) -> condition.ConditionCheckerType:
    """Test the mute switch's or recording sensor's state."""
    _domain, _key, state = CONDITIONS[config[CONF_TYPE]]
    entity_id = er.async_resolve_entity_id(er.async_get(hass), config[CONF_ENTITY_ID])

    def test(hass: HomeAssistant, variables: TemplateVarsType) -> bool:
        return condition.state(hass, entity_id, state)

    return test
