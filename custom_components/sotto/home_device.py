"""The home entry's one device, "Sotto", which every entity of the home entry belongs to."""

from __future__ import annotations

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo

from .const import DOMAIN, HOME_UNIQUE_ID


def home_device_info() -> DeviceInfo:
    """The home's service device, by the home entry's own unique ID."""
    return DeviceInfo(
        identifiers={(DOMAIN, HOME_UNIQUE_ID)},
        name="Sotto",
        manufacturer="Sotto",
        model="Home",
        entry_type=DeviceEntryType.SERVICE,
    )


@callback
def async_merge_home_devices(hass: HomeAssistant, entry_id: str) -> None:
    """Fold the second device older versions made (named by the entry ID) into the home's.

    Its entities move first, keeping their IDs and settings: removing a device removes
    the entities still on it.
    """
    devices = dr.async_get(hass)
    old = devices.async_get_device_by_identifier((DOMAIN, entry_id), entry_id)
    if old is None:
        return
    home = devices.async_get_or_create(config_entry_id=entry_id, **home_device_info())
    entities = er.async_get(hass)
    for entity in er.async_entries_for_device(entities, old.id, include_disabled_entities=True):
        entities.async_update_entity(entity.entity_id, device_id=home.id)
    devices.async_remove_device(old.id)
