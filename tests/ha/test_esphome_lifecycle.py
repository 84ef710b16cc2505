"""ESPHome satellites over their life: set-up failures, a new key, HA's ESPHome entries,
the kept ledger, timers, purge, and runs or announcements that cannot finish."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aioesphomeapi.model import (
    APIVersion,
    DeviceInfo,
    VoiceAssistantEventType,
    VoiceAssistantTimerEventType,
)
from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import intent
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sotto.const import DOMAIN
from custom_components.sotto.esphome.session import (
    EsphomeError,
    async_esphome_conflict,
    async_open_session,
)
from demo.home import sotto_device
from demo.speech import utterance
from tests.tools.fake_esphome import MEDIA_PLAYER_FEATURES, new_key, running_device

from .test_esphome import MAC, MUTE, RECORDING, VOICE_EVENTS, _add_home, _pair
from .test_satellite import wait_for_state

pytestmark = pytest.mark.usefixtures("socket_enabled")

E = VoiceAssistantEventType


def _entry(port: int, key: str | None, *, device_id: str = MAC) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        unique_id=device_id,
        title="Kitchen Echo",
        data={
            "kind": "esphome",
            "host": "127.0.0.1",
            "port": port,
            "key": key,
            "device_id": device_id,
            "name": "Kitchen Echo",
            "legacy": key is None,
        },
    )


async def test_setup_retries_without_the_device_or_with_another(hass: HomeAssistant) -> None:
    """Nothing at the address, or another device there: set-up waits and retries."""
    await _add_home(hass)
    async with running_device(key=new_key()) as device:
        free_port = device.port
    nobody = _entry(free_port, new_key())
    nobody.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(nobody.entry_id)
    assert nobody.state is ConfigEntryState.SETUP_RETRY
    async with running_device(key=new_key()) as device:
        other = _entry(device.port, device.key, device_id="aa:bb:cc:dd:ee:99")
        other.add_to_hass(hass)
        assert not await hass.config_entries.async_setup(other.entry_id)
        assert other.state is ConfigEntryState.SETUP_RETRY
        assert "aa:bb:cc:dd:ee:01" in str(other.reason)  # it says who answered instead
        await hass.config_entries.async_unload(other.entry_id)
    await hass.config_entries.async_unload(nobody.entry_id)
    await hass.async_block_till_done()


async def test_new_key_after_a_reboot_starts_reauth(hass: HomeAssistant) -> None:
    """The device comes back with another key: no retry loop, a re-auth flow instead."""
    await _add_home(hass)
    async with running_device(key=new_key()) as device:
        entry = await _pair(hass, device)
        await wait_for_state(hass, MUTE, STATE_OFF)
        await device.stop()
        await wait_for_state(hass, MUTE, STATE_UNAVAILABLE)
        device.key = new_key()
        await device.start()
        async with asyncio.timeout(30):
            while not hass.config_entries.flow.async_progress_by_handler(DOMAIN):
                await asyncio.sleep(0.1)
        (flow,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        assert flow["context"]["source"] == "reauth"
        assert flow["step_id"] == "esphome_reauth"
        assert device.handshakes_refused >= 1
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_reauth_and_discovery_respect_the_esphome_integration(
    hass: HomeAssistant,
) -> None:
    """Re-auth or discovery of a device HA's ESPHome integration also runs: one must give it up."""
    await _add_home(hass)
    async with running_device(key=new_key()) as device:
        entry = await _pair(hass, device)
        await hass.config_entries.async_unload(entry.entry_id)
        MockConfigEntry(domain="esphome", unique_id=MAC, title="Echo in ESPHome").add_to_hass(hass)
        entry.async_start_reauth(hass)
        await hass.async_block_till_done()
        (flow,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        result = await hass.config_entries.flow.async_configure(flow["flow_id"], {"key": new_key()})
        assert result["errors"] == {"base": "invalid_key"}
        result = await hass.config_entries.flow.async_configure(
            flow["flow_id"], {"key": device.key}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "esphome_voice_conflict"
        assert result["description_placeholders"] == {"esphome_entry": "Echo in ESPHome"}
        await hass.config_entries.async_remove(entry.entry_id)
        result = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": config_entries.SOURCE_ZEROCONF},
            data=_announcement(device.port),
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "esphome_voice_conflict"


def _announcement(port: int) -> ZeroconfServiceInfo:
    import ipaddress

    return ZeroconfServiceInfo(
        ip_address=ipaddress.ip_address("127.0.0.1"),
        ip_addresses=[ipaddress.ip_address("127.0.0.1")],
        hostname="kitchen-echo.local.",
        name="kitchen-echo._esphomelib._tcp.local.",
        port=port,
        type="_esphomelib._tcp.local.",
        properties={"mac": "aabbccddee01", "project_name": "sotto.atom-echo"},
    )


async def test_rediscovery_of_a_known_device_brings_it_back(hass: HomeAssistant) -> None:
    """The device announces itself again while away: no new entry, and it reconnects."""
    await _add_home(hass)
    async with running_device(key=new_key()) as device:
        entry = await _pair(hass, device)
        await device.stop()
        await wait_for_state(hass, MUTE, STATE_UNAVAILABLE)
        await device.start()
        result = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": config_entries.SOURCE_ZEROCONF},
            data=_announcement(device.port),
        )
        assert result["reason"] == "already_configured"
        await wait_for_state(hass, MUTE, STATE_OFF)
        assert len(hass.config_entries.async_entries(DOMAIN)) == 2  # the home and the device
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_a_loaded_esphome_entry_without_voice_is_no_conflict(hass: HomeAssistant) -> None:
    """HA's ESPHome integration runs the device but not its voice assistant: no conflict."""
    esphome = MockConfigEntry(domain="esphome", unique_id=MAC, title="Echo in ESPHome")
    esphome.add_to_hass(hass)
    esphome.mock_state(hass, ConfigEntryState.LOADED)
    esphome.runtime_data = SimpleNamespace(
        device_info=DeviceInfo(voice_assistant_feature_flags=0), api_version=APIVersion(1, 10)
    )
    assert async_esphome_conflict(hass, MAC) is None
    esphome.runtime_data = SimpleNamespace(
        device_info=DeviceInfo(voice_assistant_feature_flags=int(MEDIA_PLAYER_FEATURES)),
        api_version=APIVersion(1, 10),
    )
    assert async_esphome_conflict(hass, MAC) == "Echo in ESPHome"
    esphome.mock_state(hass, ConfigEntryState.NOT_LOADED)


async def test_disabling_the_esphome_assist_satellite_ends_the_conflict(
    hass: HomeAssistant,
) -> None:
    """What the repair tells the user to do (disable the device's Assist satellite entity in
    HA's ESPHome integration) is what lifts the conflict."""
    esphome = MockConfigEntry(domain="esphome", unique_id=MAC, title="Echo in ESPHome")
    esphome.add_to_hass(hass)
    registry = er.async_get(hass)
    satellite = registry.async_get_or_create(
        "assist_satellite", "esphome", f"{MAC}-assist_satellite", config_entry=esphome
    )
    registry.async_get_or_create("switch", "esphome", f"{MAC}-mute", config_entry=esphome)
    assert async_esphome_conflict(hass, MAC) == "Echo in ESPHome"
    registry.async_update_entity(satellite.entity_id, disabled_by=er.RegistryEntryDisabler.USER)
    assert async_esphome_conflict(hass, MAC) is None


async def test_damaged_ledger_starts_again_and_purge_clears_it(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """A damaged stored ledger is reported and restarted; purge empties a good one."""
    await _add_home(hass)
    async with running_device(key=new_key()) as device:
        entry = _entry(device.port, device.key)
        hass_storage[f"{DOMAIN}.esphome_ledger.{entry.entry_id}"] = {
            "version": 1,
            "key": f"{DOMAIN}.esphome_ledger.{entry.entry_id}",
            "minor_version": 1,
            "data": {"wakes": "many"},
        }
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await device.wait_subscribed()
        await wait_for_state(hass, MUTE, STATE_OFF)
        ledger = entry.runtime_data.satellite.ledger
        assert ledger is not None
        assert ledger.wakes == 0
        # A command is counted, then the purge action clears the count.
        await device.speak(utterance(0.2, "hello", 0.2))
        await wait_for_state(hass, RECORDING, STATE_OFF)
        async with asyncio.timeout(30):
            while entry.runtime_data.satellite.ledger.wakes != 1:
                await asyncio.sleep(0.05)
        await hass.services.async_call(
            DOMAIN, "purge_history", {}, blocking=True, return_response=True
        )
        async with asyncio.timeout(10):
            while entry.runtime_data.satellite.ledger.wakes != 0:
                await asyncio.sleep(0.05)
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_a_run_that_cannot_start_stops_the_microphone(hass: HomeAssistant) -> None:
    """No speech-to-text in the pipeline: the device stops streaming and the user is told."""
    await _add_home(hass)
    async with running_device(key=new_key()) as device:
        entry = await _pair(hass, device)
        await wait_for_state(hass, MUTE, STATE_OFF)
        from homeassistant.components.assist_pipeline.pipeline import (
            async_get_pipeline,
            async_update_pipeline,
        )

        await async_update_pipeline(hass, async_get_pipeline(hass), stt_engine=None)
        await device.speak(utterance(0.2, "turn on the lights", 3.0))
        await wait_for_state(hass, RECORDING, STATE_OFF)
        assert hass.states.get(VOICE_EVENTS).attributes["code"] == "pipeline-invalid"
        types = device.event_types()
        assert E.VOICE_ASSISTANT_STT_VAD_END in types  # how ESPHome is told to stop listening
        assert types.count(E.VOICE_ASSISTANT_RUN_END) == 1
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_timer_changes_reach_the_device(hass: HomeAssistant) -> None:
    """A timer made longer keeps its name on the device; a finished one ends there."""
    assert await async_setup_component(hass, "intent", {})
    await _add_home(hass)
    async with running_device(key=new_key()) as device:
        entry = await _pair(hass, device)
        ha_device = sotto_device(hass, MAC)
        assert ha_device is not None
        await intent.async_handle(
            hass,
            "test",
            intent.INTENT_START_TIMER,
            {"minutes": {"value": 5}, "name": {"value": "tea"}},
            device_id=ha_device.id,
        )
        await intent.async_handle(
            hass,
            "test",
            intent.INTENT_INCREASE_TIMER,
            {"name": {"value": "tea"}, "minutes": {"value": 1}},
            device_id=ha_device.id,
        )
        async with asyncio.timeout(10):
            while len(device.timers) < 2:
                await asyncio.sleep(0.05)
        started, updated = device.timers[:2]
        assert updated.event_type == VoiceAssistantTimerEventType.VOICE_ASSISTANT_TIMER_UPDATED
        assert (updated.timer_id, updated.name) == (started.timer_id, "tea")
        assert updated.seconds_left > started.seconds_left
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_announcement_to_a_device_that_goes_away_fails_clearly(
    hass: HomeAssistant,
) -> None:
    """The device takes the announcement and drops off: the action says it is not connected."""
    await _add_home(hass)
    async with running_device(
        key=new_key(),
        features=int(MEDIA_PLAYER_FEATURES),
        has_media_player=True,
        finishes_announcements=False,
    ) as device:
        entry = await _pair(hass, device)
        await wait_for_state(hass, MUTE, STATE_OFF)
        call = asyncio.create_task(
            hass.services.async_call(
                "assist_satellite",
                "announce",
                {
                    "entity_id": "assist_satellite.kitchen_echo",
                    "media_id": "http://127.0.0.1:1/chime.mp3",
                    "preannounce": False,
                },
                blocking=True,
            )
        )
        async with asyncio.timeout(10):
            while not device.announcements:
                await asyncio.sleep(0.05)
        await device.stop()
        with pytest.raises(HomeAssistantError, match="not connected"):
            await call
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_a_device_that_never_answers_fails_fast(hass: HomeAssistant) -> None:
    """Something accepts the connection but never speaks: an error in the bound, not a hang.

    (After a network reset a connect can hang far longer than aioesphomeapi's own limits
    suit a reconnect loop.)
    """
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with asyncio.timeout(10):
            with pytest.raises(EsphomeError, match="no answer from 127.0.0.1:.* within 0.5 s"):
                await async_open_session("127.0.0.1", port, new_key(), timeout=0.5)
        assert accepted  # it did connect: the silence is what timed out
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
