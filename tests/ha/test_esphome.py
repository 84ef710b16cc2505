"""ESPHome satellites: the real aioesphomeapi client against a fake device on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aioesphomeapi.model import (
    VoiceAssistantCommandFlag,
    VoiceAssistantEventType,
    VoiceAssistantFeature,
    VoiceAssistantTimerEventType,
)
from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import intent
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sotto.const import DOMAIN, HOME_UNIQUE_ID
from custom_components.sotto.diagnostics import async_get_config_entry_diagnostics
from demo.home import sotto_device
from demo.processes import run_engine
from demo.speech import utterance
from tests.tools.fake_esphome import FakeEsphomeDevice, new_key, running_device

from .house import async_build_house, async_use_sotto_pipeline
from .test_engine import pair_engine
from .test_satellite import wait_for_state

pytestmark = pytest.mark.usefixtures("socket_enabled")

MAC = "aa:bb:cc:dd:ee:01"
RECORDING = "binary_sensor.kitchen_echo_recording"
VOICE_EVENTS = "event.kitchen_echo_voice_events"
MUTE = "switch.kitchen_echo_mute"
WAKE_WORD = "select.kitchen_echo_wake_word"


async def _add_home(hass: HomeAssistant) -> None:
    home = MockConfigEntry(domain=DOMAIN, unique_id=HOME_UNIQUE_ID, data={"kind": "home"})
    home.add_to_hass(hass)
    assert await hass.config_entries.async_setup(home.entry_id)


async def _start_flow(hass: HomeAssistant) -> str:
    """Open the add menu and choose an ESPHome satellite, as a user would."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert "esphome" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "esphome"}
    )
    assert result["step_id"] == "esphome"
    flow_id: str = result["flow_id"]
    return flow_id


async def _pair(hass: HomeAssistant, device: FakeEsphomeDevice) -> config_entries.ConfigEntry:
    """Add the device through the config flow with its key."""
    flow_id = await _start_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"host": "127.0.0.1", "port": device.port, "key": device.key}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry: config_entries.ConfigEntry = result["result"]
    assert entry.unique_id == MAC
    assert entry.state is ConfigEntryState.LOADED
    await device.wait_subscribed()
    return entry


async def test_a_spoken_command_runs_the_pipeline(hass: HomeAssistant, tmp_path: Path) -> None:
    """Kitchen lights on; recording exactly around the stream; the reply is streamed back."""
    assert await async_setup_component(hass, "conversation", {})
    await async_build_house(hass, {"Kitchen": ["Kitchen Light"], "Bedroom": ["Bedroom Lamp"]})
    await _add_home(hass)
    async with run_engine(tmp_path / "engine") as engine, running_device(key=new_key()) as device:
        entry = await _pair(hass, device)
        engine_entry = await pair_engine(hass, engine)
        await async_use_sotto_pipeline(hass, tts_engine="tts.engine_text_to_speech")
        sat_device = sotto_device(hass, MAC)
        kitchen = ar.async_get(hass).async_get_area_by_name("Kitchen")
        assert sat_device is not None
        assert kitchen is not None
        dr.async_get(hass).async_update_device(sat_device.id, area_id=kitchen.id)
        await wait_for_state(hass, MUTE, STATE_OFF)
        assert hass.states.get(WAKE_WORD).state == "okay_nabu"

        recording: list[str] = []
        voice: list[str] = []

        @callback
        def follow(event: Event[EventStateChangedData]) -> None:
            new = event.data["new_state"]
            if new is None:
                return
            if new.entity_id == RECORDING:
                recording.append(new.state)
            elif new.entity_id == VOICE_EVENTS:
                voice.append(new.attributes.get("event_type", ""))

        unsub = hass.bus.async_listen("state_changed", follow)
        # The wake word was heard on the device: only the command leaves it.
        await device.speak(utterance(0.3, "turn on the lights", 1.5))
        await wait_for_state(hass, "light.kitchen_light", STATE_ON)
        await wait_for_state(hass, RECORDING, STATE_OFF)
        async with asyncio.timeout(30):
            await device.run_ended.wait()
            await device.reply_done.wait()
        unsub()

        assert hass.states.get("light.bedroom_lamp").state == STATE_OFF
        assert recording == [STATE_ON, STATE_OFF]
        assert voice.index("wake_word_detected") < voice.index("listening_started")
        assert voice.index("listening_started") < voice.index("listening_finished")
        assert voice.index("listening_started") < voice.index("intent_handled")
        assert "transcript" not in hass.states.get(VOICE_EVENTS).attributes
        # The device was told when to stop its microphone, and the reply came back to it.
        types = device.event_types()
        E = VoiceAssistantEventType
        assert types.index(E.VOICE_ASSISTANT_RUN_START) < types.index(E.VOICE_ASSISTANT_STT_VAD_END)
        assert types.index(E.VOICE_ASSISTANT_TTS_STREAM_START) < types.index(
            E.VOICE_ASSISTANT_TTS_STREAM_END
        )
        # The pipeline's own run end, once: the device is not told twice.
        assert types.count(E.VOICE_ASSISTANT_RUN_END) == 1
        assert types.index(E.VOICE_ASSISTANT_TTS_END) < types.index(E.VOICE_ASSISTANT_RUN_END)
        assert len(device.reply_audio) > 16000  # half a second of real speech, not a click
        # The ledger the device cannot keep is kept by Home Assistant: one wake, its seconds.
        ledger = entry.runtime_data.satellite.ledger
        assert ledger is not None
        assert (ledger.wakes, ledger.streams) == (1, 1)
        assert ledger.seconds_sent == pytest.approx(device.sent_audio / 32000, abs=0.001)
        assert ledger.seconds_sent > 2.0  # the whole command, counted on HA's side

        await hass.config_entries.async_unload(entry.entry_id)
        await hass.config_entries.async_unload(engine_entry.entry_id)
        await hass.async_block_till_done()


async def test_mute_follows_the_device(hass: HomeAssistant) -> None:
    """The switch mutes the device; the device's own button shows in HA; muted, nothing streams."""
    await _add_home(hass)
    async with running_device(key=new_key()) as device:
        entry = await _pair(hass, device)
        await wait_for_state(hass, MUTE, STATE_OFF)
        await hass.services.async_call("switch", "turn_on", {"entity_id": MUTE}, blocking=True)
        await wait_for_state(hass, MUTE, STATE_ON)
        assert device.muted
        await device.speak(utterance(0.2, "turn on the lights", 0.5))
        assert device.sent_audio == 0  # refused: no audio left the muted device
        assert hass.states.get(RECORDING).state == STATE_OFF
        device.press_mute()
        await wait_for_state(hass, MUTE, STATE_OFF)
        await hass.services.async_call(
            "select", "select_option", {"entity_id": WAKE_WORD, "option": "hey_jarvis"}
        )
        await wait_for_state(hass, WAKE_WORD, "hey_jarvis")
        assert device.wake_word == "hey_jarvis"
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_what_the_device_does_not_report_stays_unknown(hass: HomeAssistant) -> None:
    """ESPHome reports its mute switch, not who pressed it, nor a sensitivity, a volume, a
    wake word engine or a command limit: the switch shows the mute with no source, and
    diagnostics show the rest as unknown."""
    await _add_home(hass)
    async with running_device(key=new_key()) as device:
        entry = await _pair(hass, device)
        await wait_for_state(hass, MUTE, STATE_OFF)
        device.press_mute()
        await wait_for_state(hass, MUTE, STATE_ON)
        assert hass.states.get(MUTE).attributes["mute_source"] is None
        diagnostics = await async_get_config_entry_diagnostics(hass, entry)
        state = diagnostics["satellite"]["state"]
        assert (state["muted"], state["mute_source"]) == (True, None)
        assert (state["sensitivity"], state["volume"]) == (None, None)
        info = diagnostics["satellite"]["info"]
        assert (info["wake_word_engine"], info["max_command_seconds"]) == (None, None)
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_the_wake_word_select_is_not_its_sensitivity(hass: HomeAssistant) -> None:
    """A device that also has a "Wake word sensitivity" select (Voice PE's firmware lists
    it first) offers its wake words, not sensitivity levels, as Sotto's wake word."""
    await _add_home(hass)
    async with running_device(key=new_key(), has_sensitivity_select=True) as device:
        entry = await _pair(hass, device)
        await wait_for_state(hass, WAKE_WORD, "okay_nabu")
        assert hass.states.get(WAKE_WORD).attributes["options"] == ["okay_nabu", "hey_jarvis"]
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_missing_features_mean_missing_entities(hass: HomeAssistant) -> None:
    """No mute switch or wake word select on the device: no entity, and diagnostics say why."""
    await _add_home(hass)
    async with running_device(key=new_key(), has_mute_switch=False, wake_words=()) as device:
        entry = await _pair(hass, device)
        registry = er.async_get(hass)
        assert registry.async_get_entity_id("switch", DOMAIN, f"{MAC}-mute") is None
        assert registry.async_get_entity_id("select", DOMAIN, f"{MAC}-wake_word") is None
        assert registry.async_get_entity_id("binary_sensor", DOMAIN, f"{MAC}-recording")
        diagnostics = await async_get_config_entry_diagnostics(hass, entry)
        unsupported = diagnostics["satellite"]["unsupported"]
        assert "mute" in unsupported["mute"]
        assert "wake_word" in unsupported["wake_word"]
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_wrong_key_is_refused_then_reauth_fixes_it(hass: HomeAssistant) -> None:
    """A wrong key fails the form; a stored key the device no longer takes starts re-auth."""
    await _add_home(hass)
    async with running_device(key=new_key()) as device:
        flow_id = await _start_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": device.port, "key": new_key()}
        )
        assert result["errors"] == {"base": "invalid_key"}
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": device.port, "key": "not base64!"}
        )
        assert result["errors"] == {"base": "invalid_key_format"}
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": device.port}
        )
        assert result["errors"] == {"key": "esphome_key_required"}

        entry = MockConfigEntry(
            domain=DOMAIN,
            unique_id=MAC,
            title="Kitchen Echo",
            data={
                "kind": "esphome",
                "host": "127.0.0.1",
                "port": device.port,
                "key": new_key(),
                "device_id": MAC,
                "name": "Kitchen Echo",
                "legacy": False,
            },
        )
        entry.add_to_hass(hass)
        assert not await hass.config_entries.async_setup(entry.entry_id)
        assert entry.state is ConfigEntryState.SETUP_ERROR
        flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        reauth = [flow for flow in flows if flow["context"]["source"] == "reauth"]
        assert len(reauth) == 1
        assert reauth[0]["step_id"] == "esphome_reauth"
        result = await hass.config_entries.flow.async_configure(
            reauth[0]["flow_id"], {"key": device.key}
        )
        assert result["reason"] == "reauth_successful"
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        assert entry.data["key"] == device.key
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_reboot_makes_it_unavailable_then_reconnects(hass: HomeAssistant) -> None:
    """Device off: entities unavailable, recording off; device back: they come back."""
    await _add_home(hass)
    device = FakeEsphomeDevice(key=new_key())
    await device.start()
    try:
        entry = await _pair(hass, device)
        await wait_for_state(hass, MUTE, STATE_OFF)
        await device.stop()
        await wait_for_state(hass, MUTE, STATE_UNAVAILABLE)
        # Nothing can leave a device that is not connected: recording says off, not unknown.
        assert hass.states.get(RECORDING).state == STATE_OFF
        await device.start()
        await wait_for_state(hass, MUTE, STATE_OFF)
        await device.wait_subscribed()
        transport = entry.runtime_data.connection
        assert transport is not None
        assert transport.available
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    finally:
        await device.stop()


async def test_device_in_the_esphome_integration_is_refused(hass: HomeAssistant) -> None:
    """The same device in HA's ESPHome integration: the user is told one must give it up."""
    await _add_home(hass)
    MockConfigEntry(domain="esphome", unique_id=MAC, title="Kitchen Echo (ESPHome)").add_to_hass(
        hass
    )
    async with running_device(key=new_key()) as device:
        flow_id = await _start_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": device.port, "key": device.key}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "esphome_voice_conflict"
        assert result["description_placeholders"] == {"esphome_entry": "Kitchen Echo (ESPHome)"}


async def test_device_without_voice_assistant_is_refused(hass: HomeAssistant) -> None:
    """A plain ESPHome device (a plug, a sensor) is not a satellite."""
    await _add_home(hass)
    async with running_device(key=new_key(), features=0) as device:
        flow_id = await _start_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": device.port, "key": device.key}
        )
        assert result["errors"] == {"base": "not_a_voice_device"}
    async with running_device(
        key=new_key(), features=int(VoiceAssistantFeature.VOICE_ASSISTANT)
    ) as device:
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": device.port, "key": device.key}
        )
        assert result["errors"] == {"base": "not_a_voice_device"}


async def test_unencrypted_device_needs_explicit_opt_in(hass: HomeAssistant) -> None:
    """No key: refused unless the user opts in; then the entry carries a repair issue."""
    await _add_home(hass)
    async with running_device(key=new_key()) as device:
        flow_id = await _start_flow(hass)
        # Opting in to no encryption does not get past a device that has a key.
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": device.port, "allow_unencrypted": True}
        )
        assert result["errors"] == {"base": "esphome_key_required"}
    async with running_device(key=None) as device:
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": device.port, "key": ""}
        )
        assert result["errors"] == {"key": "esphome_key_required"}
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": device.port, "key": new_key()}
        )
        assert result["errors"] == {"base": "device_not_encrypted"}
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": device.port, "allow_unencrypted": True}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY, result
        await hass.async_block_till_done()
        entry = result["result"]
        assert entry.data["legacy"] is True
        issue = ir.async_get(hass).async_get_issue(DOMAIN, f"esphome_unencrypted_{entry.entry_id}")
        assert issue is not None
        await wait_for_state(hass, MUTE, STATE_OFF)  # it still works, just unencrypted
        await hass.config_entries.async_remove(entry.entry_id)
        await hass.async_block_till_done()
        assert not ir.async_get(hass).async_get_issue(
            DOMAIN, f"esphome_unencrypted_{entry.entry_id}"
        )


async def test_zeroconf_offers_only_voice_firmware(hass: HomeAssistant) -> None:
    """A light bulb's announcement ends at once; Sotto firmware asks for its key first."""
    from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo

    await _add_home(hass)

    def announce(port: int, project: str) -> ZeroconfServiceInfo:
        return ZeroconfServiceInfo(
            ip_address=__import__("ipaddress").ip_address("127.0.0.1"),
            ip_addresses=[__import__("ipaddress").ip_address("127.0.0.1")],
            hostname="kitchen-echo.local.",
            name="kitchen-echo._esphomelib._tcp.local.",
            port=port,
            type="_esphomelib._tcp.local.",
            properties={"mac": "aabbccddee01", "project_name": project, "friendly_name": "K"},
        )

    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_ZEROCONF},
        data=announce(6053, "acme.smart-bulb"),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_a_voice_device"
    async with running_device(key=new_key()) as device:
        result = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": config_entries.SOURCE_ZEROCONF},
            data=announce(device.port, "sotto.atom-echo"),
        )
        assert result["step_id"] == "esphome_confirm"
        assert not device.connected  # nothing is sent to it before the user confirms
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"key": device.key}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY, result
        await hass.async_block_till_done()
        entry = result["result"]
        assert not ir.async_get(hass).async_get_issue(
            DOMAIN, f"esphome_unencrypted_{entry.entry_id}"
        )
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_remote_wake_word_is_refused(hass: HomeAssistant) -> None:
    """A device asking HA to find the wake word in its stream sends nothing: refused."""
    await _add_home(hass)
    async with running_device(key=new_key()) as device:
        entry = await _pair(hass, device)
        await wait_for_state(hass, MUTE, STATE_OFF)
        await device.speak(
            utterance(0.2, "okay nabu turn on the lights", 0.5),
            wake_word=None,
            flags=int(VoiceAssistantCommandFlag.USE_WAKE_WORD),
        )
        assert device.sent_audio == 0
        await wait_for_state(hass, RECORDING, STATE_OFF)
        events = hass.states.get(VOICE_EVENTS)
        assert events.attributes["event_type"] == "error"
        assert events.attributes["code"] == "remote-wake"
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_voice_timers_reach_the_device(hass: HomeAssistant) -> None:
    """A timer set for this satellite's device is shown by the ESPHome device."""
    assert await async_setup_component(hass, "intent", {})
    await _add_home(hass)
    async with running_device(key=new_key()) as device:
        entry = await _pair(hass, device)
        await wait_for_state(hass, MUTE, STATE_OFF)
        ha_device = sotto_device(hass, MAC)
        assert ha_device is not None
        response = await intent.async_handle(
            hass,
            "test",
            intent.INTENT_START_TIMER,
            {"minutes": {"value": 5}, "name": {"value": "tea"}},
            device_id=ha_device.id,
        )
        assert response.response_type is intent.IntentResponseType.ACTION_DONE
        await intent.async_handle(
            hass,
            "test",
            intent.INTENT_CANCEL_TIMER,
            {"name": {"value": "tea"}},
            device_id=ha_device.id,
        )
        async with asyncio.timeout(10):
            while len(device.timers) < 2:
                await asyncio.sleep(0.05)
        started, cancelled = device.timers
        assert started.event_type == VoiceAssistantTimerEventType.VOICE_ASSISTANT_TIMER_STARTED
        assert (started.name, started.total_seconds, started.is_active) == ("tea", 300, True)
        assert cancelled.event_type == (
            VoiceAssistantTimerEventType.VOICE_ASSISTANT_TIMER_CANCELLED
        )
        assert cancelled.timer_id == started.timer_id
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_conflict_found_later_opens_a_repair_issue(hass: HomeAssistant) -> None:
    """Added to HA's ESPHome integration after Sotto: a repair issue names both."""
    await _add_home(hass)
    async with running_device(key=new_key()) as device:
        entry = await _pair(hass, device)
        issue_id = f"esphome_voice_conflict_{entry.entry_id}"
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
        MockConfigEntry(domain="esphome", unique_id=MAC, title="Echo in ESPHome").add_to_hass(hass)
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert issue.translation_placeholders["esphome_entry"] == "Echo in ESPHome"
        # The user does what the repair says: the issue goes away, without a reload.
        registry = er.async_get(hass)
        esphome = hass.config_entries.async_entries("esphome")[0]
        satellite = registry.async_get_or_create(
            "assist_satellite", "esphome", f"{MAC}-assist_satellite", config_entry=esphome
        )
        await hass.async_block_till_done()
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
        registry.async_update_entity(satellite.entity_id, disabled_by=er.RegistryEntryDisabler.USER)
        await hass.async_block_till_done()
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_muting_on_the_device_ends_the_stream(hass: HomeAssistant) -> None:
    """The device's mute button mid-command: recording goes off, and HA shows it muted."""
    assert await async_setup_component(hass, "conversation", {})
    await async_build_house(hass, {"Kitchen": ["Kitchen Light"]})
    await _add_home(hass)
    await async_use_sotto_pipeline(hass)
    async with running_device(key=new_key()) as device:
        entry = await _pair(hass, device)
        await wait_for_state(hass, MUTE, STATE_OFF)
        voice: list[dict[str, object]] = []

        @callback
        def follow(event: Event[EventStateChangedData]) -> None:
            new = event.data["new_state"]
            if new is not None and new.entity_id == VOICE_EVENTS:
                voice.append(dict(new.attributes))

        unsub = hass.bus.async_listen("state_changed", follow)
        # A long command, so the button is pressed while audio is still leaving.
        speaking = asyncio.create_task(device.speak(utterance(0.3, "turn on the lights", 8.0)))
        try:
            async with asyncio.timeout(10):
                await device.wait_streaming()
            assert hass.states.get(RECORDING).state == STATE_ON
            device.press_mute()
        finally:
            await speaking
        await wait_for_state(hass, RECORDING, STATE_OFF)
        await wait_for_state(hass, MUTE, STATE_ON)
        unsub()
        kinds = [event["event_type"] for event in voice]
        assert kinds.index("listening_started") < kinds.index("listening_finished")
        assert "muted" in kinds
        sent = entry.runtime_data.satellite.ledger
        assert sent is not None
        assert sent.seconds_sent == pytest.approx(device.sent_audio / 32000, abs=0.001)
        assert (sent.wakes, sent.streams) == (1, 1)
        # The device keeps no ledger: Home Assistant's count survives a reload (a restart).
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.runtime_data.satellite.ledger == sent
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
