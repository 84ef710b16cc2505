"""The home entry shows as one device, "Sotto", in a real Home Assistant."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sotto.const import DOMAIN, HOME_UNIQUE_ID

LOCAL_STT = "stt.sotto_speech_to_text"
INTERACTIONS = "sensor.sotto_interactions_today"


def _home_entry(hass: HomeAssistant) -> MockConfigEntry:
    home = MockConfigEntry(domain=DOMAIN, unique_id=HOME_UNIQUE_ID, data={"kind": "home"})
    home.add_to_hass(hass)
    return home


def _devices(hass: HomeAssistant, entry: MockConfigEntry) -> list[dr.DeviceEntry]:
    return dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)


async def test_the_home_is_one_device_holding_its_speech_to_text_and_history(
    hass: HomeAssistant,
) -> None:
    """Speech-to-text and the history sensors sit on the one "Sotto" device, a service."""
    home = _home_entry(hass)
    assert await hass.config_entries.async_setup(home.entry_id)
    await hass.async_block_till_done()

    devices = _devices(hass, home)
    assert len(devices) == 1
    device = devices[0]
    assert device.identifiers == {(DOMAIN, HOME_UNIQUE_ID)}
    assert (device.name, device.manufacturer, device.model) == ("Sotto", "Sotto", "Home")
    assert device.entry_type is dr.DeviceEntryType.SERVICE
    entities = er.async_get(hass)
    on_device = {e.entity_id for e in er.async_entries_for_device(entities, device.id)}
    assert {LOCAL_STT, INTERACTIONS, "button.sotto_purge_voice_history"} <= on_device
    assert on_device == {
        e.entity_id for e in er.async_entries_for_config_entry(entities, home.entry_id)
    }
    await hass.config_entries.async_unload(home.entry_id)


async def test_an_install_with_two_home_devices_ends_with_one(hass: HomeAssistant) -> None:
    """Earlier versions put speech-to-text on a second "Sotto" device named by the entry ID:
    setup moves it to the home's device, keeping the entity's ID, and removes the other."""
    home = _home_entry(hass)
    devices, entities = dr.async_get(hass), er.async_get(hass)
    old = devices.async_get_or_create(
        config_entry_id=home.entry_id,
        identifiers={(DOMAIN, home.entry_id)},
        name="Sotto",
        manufacturer="Sotto",
        entry_type=dr.DeviceEntryType.SERVICE,
    )
    kept = devices.async_get_or_create(
        config_entry_id=home.entry_id,
        identifiers={(DOMAIN, HOME_UNIQUE_ID)},
        name="Sotto",
        manufacturer="Sotto",
        model="Home",
        entry_type=dr.DeviceEntryType.SERVICE,
    )
    # The user had renamed the speech-to-text entity: that must survive the move.
    renamed = entities.async_get_or_create(
        "stt",
        DOMAIN,
        f"{home.entry_id}-local_stt",
        config_entry=home,
        device_id=old.id,
        suggested_object_id="kitchen_words",
    ).entity_id
    entities.async_get_or_create(
        "sensor",
        DOMAIN,
        f"{HOME_UNIQUE_ID}-interactions_today",
        config_entry=home,
        device_id=kept.id,
        suggested_object_id="sotto_interactions_today",
    )
    assert len(_devices(hass, home)) == 2

    assert await hass.config_entries.async_setup(home.entry_id)
    await hass.async_block_till_done()

    assert [device.id for device in _devices(hass, home)] == [kept.id]
    assert devices.async_get(old.id) is None
    stt_entry = entities.async_get(renamed)
    assert stt_entry is not None
    assert stt_entry.device_id == kept.id
    assert hass.states.get(renamed) is not None
    assert hass.states.get(LOCAL_STT) is None
    interactions = entities.async_get(INTERACTIONS)
    assert interactions is not None
    assert interactions.device_id == kept.id
    await hass.config_entries.async_unload(home.entry_id)
