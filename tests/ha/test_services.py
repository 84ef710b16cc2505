"""Sotto's actions and its "that wasn't for you" intent, addressed by HA device as users do."""

from __future__ import annotations

from pathlib import Path

import pytest
from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import intent
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sotto.const import DOMAIN
from custom_components.sotto.services import INTENT_NOT_FOR_ME

from .test_history import async_setup_home, interaction


def _satellite_device(hass: HomeAssistant, key: str, name: str) -> dr.DeviceEntry:
    """A paired satellite's HA device (its entry need not be loaded for the history)."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id=key, title=name, data={"kind": "satellite"})
    entry.add_to_hass(hass)
    return dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={(DOMAIN, key)}, name=name
    )


async def test_purge_by_the_satellites_device_purges_only_that_satellite(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """The UI's device picker gives an HA device ID: only that satellite's history goes."""
    home, store = await async_setup_home(hass, tmp_path / "config")
    kitchen = _satellite_device(hass, "kitchen-satellite", "Kitchen satellite")
    await store.async_add(interaction("turn on the kitchen light"))
    await store.async_add(interaction("turn off the hall light", satellite_id="hall-satellite"))

    result = await hass.services.async_call(
        DOMAIN, "purge_history", {"satellite": kitchen.id}, blocking=True, return_response=True
    )
    assert result is not None
    assert result["history"]["interactions"] == 1
    assert [row.transcript for row in await store.async_list()] == ["turn off the hall light"]
    await hass.config_entries.async_unload(home.entry_id)


async def test_a_device_of_another_integration_is_refused_by_name(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """Picking a device that is not a Sotto satellite names it instead of purging anything."""
    home, store = await async_setup_home(hass, tmp_path / "config")
    other = MockConfigEntry(domain="demo")
    other.add_to_hass(hass)
    lamp = dr.async_get(hass).async_get_or_create(
        config_entry_id=other.entry_id, identifiers={("demo", "lamp")}, name="Lamp"
    )
    await store.async_add(interaction("turn on the kitchen light"))

    for action in ("purge_history", "not_for_me"):
        with pytest.raises(ServiceValidationError) as caught:
            await hass.services.async_call(DOMAIN, action, {"satellite": lamp.id}, blocking=True)
        assert caught.value.translation_key == "unknown_satellite"
        assert caught.value.translation_placeholders == {"satellite": lamp.id}
    assert len(await store.async_list()) == 1
    await hass.config_entries.async_unload(home.entry_id)


async def test_not_for_me_intent_forgets_only_the_asking_satellites_command(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """An agent (or a custom sentence) calling SottoNotForMe from the hall forgets nothing
    of the kitchen's; from the kitchen it forgets the kitchen's last command."""
    home, store = await async_setup_home(hass, tmp_path / "config")
    kitchen = _satellite_device(hass, "kitchen-satellite", "Kitchen satellite")
    hall = _satellite_device(hass, "hall-satellite", "Hall satellite")
    await store.async_add(interaction("call the otter"))

    response = await intent.async_handle(hass, "test", INTENT_NOT_FOR_ME, device_id=hall.id)
    assert response.speech["plain"]["speech"] == "OK, forgotten."
    assert len(await store.async_list()) == 1

    await intent.async_handle(hass, "test", INTENT_NOT_FOR_ME, device_id=kitchen.id)
    assert await store.async_list() == []
    await hass.async_block_till_done()
    assert hass.states.get("sensor.sotto_false_wakes_today").state == "1"
    await hass.config_entries.async_unload(home.entry_id)


async def test_never_mind_said_to_a_satellite_is_not_kept_either(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """Said to the kitchen satellite, "never mind" forgets its last command, and the
    "never mind" interaction itself is counted but not written to the history."""
    home, store = await async_setup_home(hass, tmp_path / "config")
    kitchen = _satellite_device(hass, "kitchen-satellite", "Kitchen satellite")
    await store.async_add(interaction("call the otter"))

    result = await conversation.async_converse(
        hass,
        "never mind, that wasn't for you",
        None,
        Context(),
        language="en",
        device_id=kitchen.id,
    )
    assert result.response.speech["plain"]["speech"] == "OK, forgotten."
    assert await store.async_list() == []

    # The pipeline bridge then records the "never mind" run itself: it is not kept.
    await store.async_add(interaction("never mind, that wasn't for you", response="OK, forgotten."))
    assert await store.async_list() == []
    # The one after it is kept again.
    await store.async_add(interaction("turn on the kitchen light"))
    assert [row.transcript for row in await store.async_list()] == ["turn on the kitchen light"]
    await hass.config_entries.async_unload(home.entry_id)
