"""A real satellite process in HA: mute owned by the satellite, and reconnects."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest
from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.components.homeassistant.exposed_entities import async_should_expose
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import condition
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_get_device_automations,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sotto.const import DOMAIN
from demo.home import mute_entity, place_device, sotto_device, wait_for_state
from demo.processes import SatelliteProcess, run_satellite
from demo.speech import speak, utterance, wav_seconds, write_wav

pytestmark = pytest.mark.usefixtures("socket_enabled")

MUTE = "switch.kitchen_satellite_mute"
RECORDING = "binary_sensor.kitchen_satellite_recording"


async def pair(
    hass: HomeAssistant, satellite: SatelliteProcess, area: str | None = None
) -> MockConfigEntry:
    """Add the satellite's entry as the config flow would have (in `area`), wait for its report."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=satellite.device_id,
        title=satellite.name,
        data={
            "kind": "satellite",
            "host": "127.0.0.1",
            "port": satellite.port,
            "key": satellite.key.to_base64(),
            "device_id": satellite.device_id,
            "name": satellite.name,
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    if area is not None:
        place_device(hass, satellite.device_id, area)
    await wait_for_state(hass, mute_entity(satellite), STATE_OFF)
    return entry


async def test_mute_from_ha_closes_the_microphone(hass: HomeAssistant, tmp_path: Path) -> None:
    """Muted from HA, the satellite reports it, and the wake word sends nothing."""
    async with run_satellite(tmp_path) as satellite:
        entry = await pair(hass, satellite)
        # Shown among the device's controls, but not something Assist switches by voice.
        assert not async_should_expose(hass, "conversation", MUTE)
        recording: list[str] = []

        @callback
        def follow(event: Event[EventStateChangedData]) -> None:
            if event.data["entity_id"] == RECORDING and event.data["new_state"] is not None:
                recording.append(event.data["new_state"].state)

        unsub = hass.bus.async_listen("state_changed", follow)
        await hass.services.async_call("switch", "turn_on", {"entity_id": MUTE}, blocking=True)
        await wait_for_state(hass, MUTE, STATE_ON)
        assert hass.states.get(MUTE).attributes["mute_source"] == "ha"

        speech = utterance(0.3, "okay nabu", 0.4, "turn on the kitchen light", 1.0)
        satellite.say(speech)
        await asyncio.sleep(len(speech) / 32000 + 1.0)  # as long as the sentence lasts
        unsub()
        assert recording == []
        assert hass.states.get(RECORDING).state == STATE_OFF
        # The capture process was stopped, not ignored: nobody read the sentence at all.
        unheard = list(satellite.spool.glob("*.wav"))
        assert len(unheard) == 1
        unheard[0].unlink()

        await hass.services.async_call("switch", "turn_off", {"entity_id": MUTE}, blocking=True)
        await wait_for_state(hass, MUTE, STATE_OFF)
        await hass.config_entries.async_unload(entry.entry_id)


async def test_hardware_mute_cannot_be_undone_from_ha(hass: HomeAssistant, tmp_path: Path) -> None:
    """The satellite's own button wins: HA shows it, and says why it cannot unmute."""
    async with run_satellite(tmp_path) as satellite:
        entry = await pair(hass, satellite)
        satellite.press("mute")
        await wait_for_state(hass, MUTE, STATE_ON)
        assert hass.states.get(MUTE).attributes["mute_source"] == "hardware"

        with pytest.raises(HomeAssistantError, match="own button"):
            await hass.services.async_call("switch", "turn_off", {"entity_id": MUTE}, blocking=True)
        assert hass.states.get(MUTE).state == STATE_ON

        satellite.press("unmute")
        await wait_for_state(hass, MUTE, STATE_OFF)
        await hass.config_entries.async_unload(entry.entry_id)


async def test_killed_satellite_goes_unavailable_and_comes_back(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """Entities go unavailable when the satellite dies and return when it restarts."""
    async with run_satellite(tmp_path) as satellite:
        entry = await pair(hass, satellite)
        key, port = satellite.key, satellite.port
        satellite.process.send_signal(signal.SIGKILL)
        await satellite.process.wait()
        await wait_for_state(hass, MUTE, STATE_UNAVAILABLE)
        assert hass.states.get(RECORDING).state == STATE_OFF

    async with run_satellite(tmp_path, key=key, port=port):
        await wait_for_state(hass, MUTE, STATE_OFF, timeout=60)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_entities_device_automations_and_diagnostics(
    hass: HomeAssistant, tmp_path: Path, hass_client: ClientSessionGenerator
) -> None:
    """Every entity a user reads about exists, the automation editor offers the voice
    events, and diagnostics leave out the key and the address."""
    async with run_satellite(tmp_path) as satellite:
        entry = await pair(hass, satellite)
        for entity_id in (
            "assist_satellite.kitchen_satellite",
            MUTE,
            RECORDING,
            "event.kitchen_satellite_voice_events",
            "select.kitchen_satellite_assistant",
            "select.kitchen_satellite_finished_speaking_detection",
            "select.kitchen_satellite_wake_word",
            "select.kitchen_satellite_wake_word_sensitivity",
            "number.kitchen_satellite_volume",
            "sensor.kitchen_satellite_wakes_today",
            "sensor.kitchen_satellite_audio_sent_today",
        ):
            state = hass.states.get(entity_id)
            assert state is not None, entity_id
            assert state.state != STATE_UNAVAILABLE, entity_id
        assert hass.states.get("select.kitchen_satellite_wake_word").state == "okay_nabu"
        assert (
            "hey_jarvis"
            in hass.states.get("select.kitchen_satellite_wake_word").attributes["options"]
        )

        device = sotto_device(hass, satellite.device_id)
        assert device is not None
        triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, device.id)
        assert {t["type"] for t in triggers if t["domain"] == DOMAIN} >= {
            "wake_word_detected",
            "listening_started",
            "not_understood",
            "muted",
        }
        conditions = await async_get_device_automations(
            hass, DeviceAutomationType.CONDITION, device.id
        )
        assert {c["type"] for c in conditions if c["domain"] == DOMAIN} == {
            "is_muted",
            "is_not_muted",
            "is_recording",
            "is_not_recording",
        }

        diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        text = json.dumps(diagnostics)
        assert satellite.key.to_base64() not in text
        assert "127.0.0.1" not in text
        assert diagnostics["link"]["encrypted"] is True
        assert diagnostics["satellite"]["state"]["muted"] is False
        await hass.config_entries.async_unload(entry.entry_id)


async def test_wake_word_device_trigger_runs_an_automation(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """An automation on 'Kitchen satellite detected the wake word' runs when it is heard."""
    async with run_satellite(tmp_path) as satellite:
        entry = await pair(hass, satellite)
        device = sotto_device(hass, satellite.device_id)
        assert device is not None
        event_entity = er.async_get(hass).async_get("event.kitchen_satellite_voice_events")
        assert event_entity is not None
        calls: list[str] = []
        fired = asyncio.Event()

        @callback
        def automation_ran(event: Event) -> None:
            calls.append(event.data["type"])
            fired.set()

        hass.bus.async_listen("sotto_test_fired", automation_ran)
        assert await async_setup_component(
            hass,
            "automation",
            {
                "automation": {
                    "triggers": [
                        {
                            "trigger": "device",
                            "domain": DOMAIN,
                            "device_id": device.id,
                            "entity_id": event_entity.id,
                            "type": "wake_word_detected",
                        }
                    ],
                    "actions": [
                        {
                            "event": "sotto_test_fired",
                            "event_data": {"type": "{{ trigger.type }}"},
                        }
                    ],
                }
            },
        )
        satellite.say(utterance(0.3, "okay nabu", 0.4, "turn on the kitchen light", 1.0))
        async with asyncio.timeout(30):
            await fired.wait()
        assert calls == ["wake_word_detected"]
        # Without speech-to-text in the pipeline the run cannot start: the satellite is
        # told to stop streaming, so the recording sensor goes off again.
        await wait_for_state(hass, RECORDING, STATE_OFF)
        await hass.config_entries.async_unload(entry.entry_id)


async def test_announcement_from_a_media_url_is_played(hass: HomeAssistant, tmp_path: Path) -> None:
    """An announcement's audio (decoded by ffmpeg) is played by the satellite's speaker."""
    message = speak("dinner is ready")
    clip = write_wav(tmp_path / "dinner.wav", message)
    async with run_satellite(tmp_path / "satellite") as satellite:
        entry = await pair(hass, satellite)
        before = set(satellite.replies())
        await hass.services.async_call(
            "assist_satellite",
            "announce",
            {
                "entity_id": "assist_satellite.kitchen_satellite",
                "media_id": clip.as_uri(),
                "preannounce": False,
            },
            blocking=True,
        )
        played = [path for path in satellite.replies() if path not in before]
        seconds = [wav_seconds(path) or 0.0 for path in played]
        # The whole clip was played (the satellite's chimes are far shorter).
        assert max(seconds) >= len(message) / 32000 - 0.1
        await hass.config_entries.async_unload(entry.entry_id)


async def test_device_conditions_follow_mute(hass: HomeAssistant, tmp_path: Path) -> None:
    """'Kitchen satellite is muted' is true exactly while the satellite reports muted."""
    async with run_satellite(tmp_path) as satellite:
        entry = await pair(hass, satellite)
        device = sotto_device(hass, satellite.device_id)
        assert device is not None
        conditions = {
            c["type"]: await condition.async_from_config(
                hass, await condition.async_validate_condition_config(hass, c)
            )
            for c in await async_get_device_automations(
                hass, DeviceAutomationType.CONDITION, device.id
            )
            if c["domain"] == DOMAIN
        }
        assert conditions["is_not_muted"](hass, {})
        assert not conditions["is_muted"](hass, {})
        assert conditions["is_not_recording"](hass, {})
        await hass.services.async_call("switch", "turn_on", {"entity_id": MUTE}, blocking=True)
        await wait_for_state(hass, MUTE, STATE_ON)
        assert conditions["is_muted"](hass, {})
        assert not conditions["is_not_muted"](hass, {})
        await hass.config_entries.async_unload(entry.entry_id)


async def test_remote_wake_word_mode_raises_a_repair_issue(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """A satellite set to stream for wake word detection in HA (audio leaves the room
    before the wake word) shows a repair issue naming it; removing the entry clears it."""
    async with run_satellite(tmp_path / "sat", extra={"wake": {"remote": True}}) as satellite:
        entry = await pair(hass, satellite)
        issue_id = f"remote_wake_{entry.entry_id}"
        issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert issue.translation_key == "remote_wake"
        assert issue.translation_placeholders == {
            "name": "Kitchen satellite",
            "host": "127.0.0.1",
        }
        assert await hass.config_entries.async_remove(entry.entry_id)
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
