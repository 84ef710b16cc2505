"""One wake, one room: three real satellites hear one command; only the nearest acts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.translation import async_get_translations
from homeassistant.setup import async_setup_component
from homeassistant.util import slugify
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sotto.arbiter import DEFAULT_WINDOW_MS
from custom_components.sotto.const import DOMAIN, HOME_UNIQUE_ID
from demo.home import place_device, wait_for_state
from demo.processes import SatelliteProcess, run_engine, run_satellite
from demo.speech import heard_from, utterance
from tests.tools.fake_esphome import new_key, running_device

from .house import async_build_house, async_use_sotto_pipeline
from .test_engine import pair_engine
from .test_esphome import MAC
from .test_esphome import _pair as pair_esphome
from .test_history import async_setup_home
from .test_satellite import pair

pytestmark = pytest.mark.usefixtures("socket_enabled")

# Each room's satellite and light, and how far the speaker is from it: dB quieter, s later.
ROOMS = {
    "Kitchen": (0.0, 0.0),
    "Living Room": (6.0, 0.02),
    "Bedroom": (12.0, 0.04),
}
COMMAND = utterance(0.3, "okay nabu", 0.4, "turn on the lights", 1.5)


def _entity(domain: str, room: str, key: str) -> str:
    return f"{domain}.{slugify(room)}_satellite_{key}"


def _follow_voice(
    hass: HomeAssistant,
) -> tuple[list[tuple[str, str, str | None]], Callable[[], None]]:
    """Every satellite's voice events from now on: (entity, event type, winner if yielded),
    and what stops following."""
    voice: list[tuple[str, str, str | None]] = []

    @callback
    def follow(event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        if new is not None and new.entity_id.endswith("_voice_events"):
            attributes = new.attributes
            voice.append((new.entity_id, attributes["event_type"], attributes.get("winner")))

    return voice, hass.bus.async_listen("state_changed", follow)


async def _house_and_home(
    hass: HomeAssistant, lights: dict[str, list[str]], options: dict[str, int] | None = None
) -> MockConfigEntry:
    """Conversation, a light (or more) in each room, and the Sotto home entry."""
    assert await async_setup_component(hass, "conversation", {})
    await async_build_house(hass, lights)
    home = MockConfigEntry(
        domain=DOMAIN, unique_id=HOME_UNIQUE_ID, data={"kind": "home"}, options=options or {}
    )
    home.add_to_hass(hass)
    assert await hass.config_entries.async_setup(home.entry_id)
    return home


async def _room_satellites(
    stack: contextlib.AsyncExitStack,
    tmp_path: Path,
    rooms: Iterable[str],
    extra: dict[str, object] | None = None,
) -> dict[str, SatelliteProcess]:
    """A real satellite process in each room, named for it, stopped with the stack."""
    return {
        room: await stack.enter_async_context(
            run_satellite(
                tmp_path / slugify(room),
                device_id=f"{slugify(room)}-satellite",
                name=f"{room} satellite",
                extra=extra,
            )
        )
        for room in rooms
    }


async def _history_satellites(home: MockConfigEntry) -> list[str]:
    """The satellites of the history's rows, once it has one."""
    store = home.runtime_data.history
    async with asyncio.timeout(30):
        while not (rows := await store.async_list()):
            await asyncio.sleep(0.1)
    return [row.satellite_id for row in rows]


async def test_only_the_nearest_room_answers(hass: HomeAssistant, tmp_path: Path) -> None:
    """The kitchen is nearest: its lights come on; the other rooms yield and stop at once."""
    home = await _house_and_home(hass, {room: [f"{room} Light"] for room in ROOMS})
    async with contextlib.AsyncExitStack() as stack:
        engine = await stack.enter_async_context(run_engine(tmp_path / "engine"))
        satellites = await _room_satellites(stack, tmp_path, ROOMS)
        for room, satellite in satellites.items():
            await pair(hass, satellite, room)
        await pair_engine(hass, engine)
        await async_use_sotto_pipeline(hass, tts_engine="tts.engine_text_to_speech")
        await hass.async_block_till_done()

        recording: list[tuple[str, str]] = []
        voice: list[tuple[str, str, str | None]] = []

        @callback
        def follow(event: Event[EventStateChangedData]) -> None:
            new = event.data["new_state"]
            if new is None:
                return
            if new.entity_id.endswith("_recording"):
                recording.append((new.entity_id, new.state))
            elif new.entity_id.endswith("_voice_events"):
                attributes = new.attributes
                voice.append((new.entity_id, attributes["event_type"], attributes.get("winner")))

        unsub = hass.bus.async_listen("state_changed", follow)
        for room, (db, delay) in ROOMS.items():
            satellites[room].say(heard_from(COMMAND, db=db, delay=delay))
        await wait_for_state(hass, "light.kitchen_light", STATE_ON)
        kitchen_voice = _entity("event", "Kitchen", "voice_events")
        async with asyncio.timeout(30):
            while (kitchen_voice, "intent_handled", None) not in voice:
                await asyncio.sleep(0.1)
        for room in ROOMS:
            await wait_for_state(hass, _entity("binary_sensor", room, "recording"), STATE_OFF)
        unsub()

        assert hass.states.get("light.living_room_light").state == STATE_OFF
        assert hass.states.get("light.bedroom_light").state == STATE_OFF
        kitchen_off = recording.index((_entity("binary_sensor", "Kitchen", "recording"), STATE_OFF))
        for room in ("Living Room", "Bedroom"):
            sensor = _entity("binary_sensor", room, "recording")
            events = _entity("event", room, "voice_events")
            # It heard the wake word too (even 12 dB down), yielded to the kitchen, and its
            # audio stopped before the kitchen's command had even ended.
            assert (events, "yielded", "Kitchen satellite") in voice
            assert recording.index((sensor, STATE_OFF)) < kitchen_off
            assert (events, "intent_handled", None) not in voice
        assert (kitchen_voice, "yielded", None) not in voice
        # The history keeps the kitchen's command; the rooms that yielded ran nothing, and
        # wrote nothing (they stopped first, so a row of theirs would be there by now).
        assert await _history_satellites(home) == ["kitchen-satellite"]


async def test_the_window_is_a_setting_of_the_home(hass: HomeAssistant, tmp_path: Path) -> None:
    """The home's options form offers the window, explained; the running arbiter follows it."""
    home, _store = await async_setup_home(hass, tmp_path)
    arbiter = home.runtime_data.arbiter
    assert arbiter.window == DEFAULT_WINDOW_MS / 1000
    flow = await hass.config_entries.options.async_init(home.entry_id)
    assert flow["data_schema"]({})["arbitration_window_ms"] == DEFAULT_WINDOW_MS
    strings = await async_get_translations(hass, "en", "options", [DOMAIN])
    step = f"component.{DOMAIN}.options.step.{flow['step_id']}"
    assert "Wait for other satellites" in strings[f"{step}.data.arbitration_window_ms"]
    assert (
        "with one satellite there is no wait"
        in strings[f"{step}.data_description.arbitration_window_ms"]
    )
    done = await hass.config_entries.options.async_configure(
        flow["flow_id"],
        {
            "transcript_days": "7",
            "keep_audio": False,
            "audio_days": 1,
            "arbitration_window_ms": 250,
        },
    )
    assert done["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert home.options["arbitration_window_ms"] == 250
    assert arbiter.window == 0.25


async def test_an_esphome_satellite_is_judged_by_the_audio_it_sends(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """An ESPHome device reports no level: HA measures its audio. Nearer than the Pi
    satellite in the living room, it answers; the Pi satellite yields to it."""
    # A window long enough that the device's claim, sent after the Pi's, is in the round.
    await _house_and_home(
        hass,
        {"Kitchen": ["Kitchen Light"], "Living Room": ["Sofa Lamp"]},
        {"arbitration_window_ms": 1000},
    )
    async with (
        run_engine(tmp_path / "engine") as engine,
        running_device(key=new_key()) as device,
        run_satellite(
            tmp_path / "living", device_id="living-room-satellite", name="Living Room satellite"
        ) as satellite,
    ):
        echo = await pair_esphome(hass, device)
        place_device(hass, MAC, "Kitchen")
        await pair(hass, satellite, "Living Room")
        await pair_engine(hass, engine)
        await async_use_sotto_pipeline(hass)
        await hass.async_block_till_done()

        voice, unsub = _follow_voice(hass)
        living = _entity("event", "Living Room", "voice_events")
        satellite.say(heard_from(COMMAND, db=12.0))
        async with asyncio.timeout(30):
            while (living, "wake_word_detected", None) not in voice:
                await asyncio.sleep(0.05)
        # The kitchen device heard the same wake word, from nearby; its command follows.
        await device.speak(utterance(0.1, "turn on the lights", 1.5))
        await wait_for_state(hass, "light.kitchen_light", STATE_ON)
        await wait_for_state(hass, _entity("binary_sensor", "Living Room", "recording"), STATE_OFF)
        unsub()

        assert hass.states.get("light.sofa_lamp").state == STATE_OFF
        assert (living, "yielded", echo.title) in voice
        assert (living, "intent_handled", None) not in voice


async def test_satellites_that_recognise_on_the_device_arbitrate_at_the_wake(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """Two satellites that recognise commands themselves hear one command: they claim at
    the wake word, so the farther one is stopped before it decodes (no text, no action),
    and only the nearer room's light comes on."""
    from demo.home import async_wait_for_satellite_grammar
    from demo.processes import on_device_recognition

    rooms = {"Kitchen": (0.0, 0.0), "Bedroom": (9.0, 0.03)}
    await _house_and_home(hass, {room: [f"{room} Light"] for room in rooms})
    async with contextlib.AsyncExitStack() as stack:
        satellites = await _room_satellites(stack, tmp_path, rooms, on_device_recognition())
        for room, satellite in satellites.items():
            await pair(hass, satellite, room)
        await async_use_sotto_pipeline(hass)
        for satellite in satellites.values():
            await async_wait_for_satellite_grammar(hass, satellite)

        voice, unsub = _follow_voice(hass)
        for room, (db, delay) in rooms.items():
            satellites[room].say(heard_from(COMMAND, db=db, delay=delay))
        await wait_for_state(hass, "light.kitchen_light", STATE_ON)
        kitchen = _entity("event", "Kitchen", "voice_events")
        bedroom = _entity("event", "Bedroom", "voice_events")
        async with asyncio.timeout(30):
            while (kitchen, "intent_handled", None) not in voice:
                await asyncio.sleep(0.1)
        await asyncio.sleep(2.0)  # time enough for a late text from the bedroom to act
        unsub()

        assert hass.states.get("light.bedroom_light").state == STATE_OFF
        assert (bedroom, "yielded", "Kitchen satellite") in voice
        # It started listening, yielded and stopped: no text, nothing understood or not.
        assert {kind for room, kind, _ in voice if room == bedroom} == {
            "wake_word_detected",
            "listening_started",
            "yielded",
            "listening_finished",
        }
        assert (kitchen, "yielded", None) not in voice
