"""Sotto's actions and its "that wasn't for you" intent, addressed by HA device as users do."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import conversation
from homeassistant.components.conversation.chat_log import DATA_CHAT_LOGS
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import intent
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sotto.const import DOMAIN
from custom_components.sotto.history.store import FORGET_WINDOW
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
    of the kitchen's and says so; from the kitchen it forgets the kitchen's last command."""
    home, store = await async_setup_home(hass, tmp_path / "config")
    kitchen = _satellite_device(hass, "kitchen-satellite", "Kitchen satellite")
    hall = _satellite_device(hass, "hall-satellite", "Hall satellite")
    await store.async_add(interaction("call the otter"))

    response = await intent.async_handle(hass, "test", INTENT_NOT_FOR_ME, device_id=hall.id)
    assert response.speech["plain"]["speech"] == "There was nothing to forget."
    assert len(await store.async_list()) == 1
    await hass.async_block_till_done()
    assert hass.states.get("sensor.sotto_false_wakes_today").state == "0"

    response = await intent.async_handle(hass, "test", INTENT_NOT_FOR_ME, device_id=kitchen.id)
    assert response.speech["plain"]["speech"] == "OK, forgotten."
    assert await store.async_list() == []
    await hass.async_block_till_done()
    assert hass.states.get("sensor.sotto_false_wakes_today").state == "1"
    await hass.config_entries.async_unload(home.entry_id)


async def _say(hass: HomeAssistant, text: str, device: dr.DeviceEntry) -> str:
    """Say `text` to a satellite's device, as its pipeline does; returns the spoken reply."""
    result = await conversation.async_converse(
        hass, text, None, Context(), language="en", device_id=device.id
    )
    speech: str = result.response.speech.get("plain", {}).get("speech", "")
    return speech


async def test_never_mind_to_the_kitchen_keeps_the_bedrooms_command(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """A command to the bedroom, then "never mind, that wasn't for you" to the kitchen:
    nothing of the bedroom's goes, the reply says there was nothing to forget, and the
    false-wake counter, the history and the action's answer agree."""
    home, store = await async_setup_home(hass, tmp_path / "config")
    kitchen = _satellite_device(hass, "kitchen-satellite", "Kitchen satellite")
    bedroom = _satellite_device(hass, "bedroom-satellite", "Bedroom satellite")
    await store.async_add(interaction("turn on the heron lamp", satellite_id="bedroom-satellite"))

    reply = await _say(hass, "never mind, that wasn't for you", kitchen)
    assert reply == "There was nothing to forget."
    assert [row.transcript for row in await store.async_list()] == ["turn on the heron lamp"]
    await hass.async_block_till_done()
    assert hass.states.get("sensor.sotto_false_wakes_today").state == "0"
    assert hass.states.get("sensor.sotto_items_in_history").state == "1"

    # The kitchen's own command, even one older than the bedroom's, is the one that goes.
    await store.async_add(interaction("turn on the kitchen light"))
    await store.async_add(interaction("turn off the heron lamp", satellite_id="bedroom-satellite"))
    reply = await _say(hass, "never mind, that wasn't for you", kitchen)
    assert reply == "OK, forgotten."
    assert [row.transcript for row in await store.async_list()] == [
        "turn off the heron lamp",
        "turn on the heron lamp",
    ]
    await hass.async_block_till_done()
    assert hass.states.get("sensor.sotto_false_wakes_today").state == "1"
    assert hass.states.get("sensor.sotto_items_in_history").state == "2"

    response = await hass.services.async_call(
        DOMAIN, "not_for_me", {"satellite": kitchen.id}, blocking=True, return_response=True
    )
    assert response == {"forgotten": 0}
    response = await hass.services.async_call(
        DOMAIN, "not_for_me", {"satellite": bedroom.id}, blocking=True, return_response=True
    )
    assert response == {"forgotten": 1}
    assert [row.transcript for row in await store.async_list()] == ["turn on the heron lamp"]
    await hass.async_block_till_done()
    assert hass.states.get("sensor.sotto_false_wakes_today").state == "2"
    await hass.config_entries.async_unload(home.entry_id)


async def test_an_old_command_is_not_forgotten(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory
) -> None:
    """Said after FORGET_WINDOW, "that wasn't for you" is not about the last command."""
    home, store = await async_setup_home(hass, tmp_path / "config")
    kitchen = _satellite_device(hass, "kitchen-satellite", "Kitchen satellite")
    await store.async_add(interaction("turn on the kitchen light"))
    freezer.tick(FORGET_WINDOW + timedelta(seconds=1))
    assert await _say(hass, "never mind, that wasn't for you", kitchen) == (
        "There was nothing to forget."
    )
    assert len(await store.async_list()) == 1
    await hass.config_entries.async_unload(home.entry_id)


@pytest.mark.parametrize("dismissal", ["never mind, that wasn't for you", "never mind"])
async def test_a_dismissal_said_to_a_satellite_is_not_kept(
    hass: HomeAssistant, tmp_path: Path, dismissal: str
) -> None:
    """The pipeline bridge records the "never mind" run itself: it is counted, not kept;
    bare "never mind" still gets HA's own (silent) answer and forgets nothing."""
    home, store = await async_setup_home(hass, tmp_path / "config")
    kitchen = _satellite_device(hass, "kitchen-satellite", "Kitchen satellite")
    await store.async_add(interaction("call the otter"))
    reply = await _say(hass, dismissal, kitchen)
    kept = [] if dismissal != "never mind" else ["call the otter"]
    assert [row.transcript for row in await store.async_list()] == kept
    if dismissal == "never mind":
        assert reply == ""  # HassNevermind: HA's own behaviour, no reply

    await store.async_add(interaction(dismissal, response=reply))
    assert [row.transcript for row in await store.async_list()] == kept
    await hass.async_block_till_done()
    assert hass.states.get("sensor.sotto_interactions_today").state == "2"
    # The one after it is kept again.
    await store.async_add(interaction("turn on the kitchen light"))
    assert next(row.transcript for row in await store.async_list()) == ("turn on the kitchen light")
    await hass.config_entries.async_unload(home.entry_id)


def _chat_lines(hass: HomeAssistant) -> list[str]:
    """Every line of HA's conversation chat logs."""
    return [
        str(getattr(content, "content", ""))
        for log in hass.data.get(DATA_CHAT_LOGS, {}).values()
        for content in log.content
    ]


async def test_never_mind_takes_the_command_out_of_has_chat_log_too(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """A forgotten command is gone from HA's conversation log as well as from the history,
    although "never mind" continues the command's own conversation (HA stores that
    conversation's log back when the turn ends); the conversation itself goes on."""
    home, store = await async_setup_home(hass, tmp_path / "config")
    kitchen = _satellite_device(hass, "kitchen-satellite", "Kitchen satellite")
    command = "turn on the quokka lamp"
    first = await conversation.async_converse(
        hass, command, None, Context(), language="en", device_id=kitchen.id
    )
    reply = first.response.speech["plain"]["speech"]
    await store.async_add(interaction(command, response=reply))
    assert any(command in line for line in _chat_lines(hass))

    second = await conversation.async_converse(
        hass,
        "never mind, that wasn't for you",
        first.conversation_id,
        Context(),
        language="en",
        device_id=kitchen.id,
    )
    assert second.response.speech["plain"]["speech"] == "OK, forgotten."
    assert await store.async_list() == []
    lines = _chat_lines(hass)
    assert not [line for line in lines if command in line or reply in line]
    assert "OK, forgotten." in lines
    await hass.config_entries.async_unload(home.entry_id)
