"""A real satellite process in HA: mute owned by the satellite, and reconnects."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sotto.const import DOMAIN
from tests.speech import utterance
from tests.tools.processes import SatelliteProcess, run_satellite

pytestmark = pytest.mark.usefixtures("socket_enabled")

MUTE = "switch.kitchen_satellite_mute"
RECORDING = "binary_sensor.kitchen_satellite_recording"


async def wait_for_state(
    hass: HomeAssistant, entity_id: str, state: str, timeout: float = 30
) -> None:
    """Wait until the entity has the state (a safety timeout, not a speed assertion)."""
    reached = asyncio.Event()

    @callback
    def check(_event: Event[EventStateChangedData] | None = None) -> None:
        current = hass.states.get(entity_id)
        if current is not None and current.state == state:
            reached.set()

    unsub = hass.bus.async_listen("state_changed", check)
    try:
        check()
        async with asyncio.timeout(timeout):
            await reached.wait()
    finally:
        unsub()


async def pair(hass: HomeAssistant, satellite: SatelliteProcess) -> MockConfigEntry:
    """Add the satellite's entry as the config flow would have, and wait for its report."""
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
    await wait_for_state(hass, MUTE, STATE_OFF)
    return entry


async def test_mute_from_ha_closes_the_microphone(hass: HomeAssistant, tmp_path: Path) -> None:
    """Muted from HA, the satellite reports it, and the wake word sends nothing."""
    async with run_satellite(tmp_path) as satellite:
        entry = await pair(hass, satellite)
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
