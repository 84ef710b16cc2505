"""Sotto set up in the demo's Home Assistant through its real config flows."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components import stt
from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_HOST, CONF_PORT, STATE_OFF
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import device_registry as dr

from .processes import EngineProcess, SatelliteProcess

if TYPE_CHECKING:
    from custom_components.sotto.data import SatelliteData

DOMAIN: Final = "sotto"
STT_ENTITY: Final = "stt.sotto_speech_to_text"
# Renaming and moving things rebuilds the speech grammar after a short cool-down.
GRAMMAR_SETTLE: Final = 3.0
# 16 kHz 16-bit mono PCM, what every Sotto satellite sends, as HA describes it to STT.
SPEECH_METADATA: Final = stt.SpeechMetadata(
    language="en",
    format=stt.AudioFormats.WAV,
    codec=stt.AudioCodecs.PCM,
    bit_rate=stt.AudioBitRates.BITRATE_16,
    sample_rate=stt.AudioSampleRates.SAMPLERATE_16000,
    channel=stt.AudioChannels.CHANNEL_MONO,
)


class SetupError(RuntimeError):
    """Sotto could not be set up in the demo's Home Assistant."""


def sotto_device(hass: HomeAssistant, key: str) -> dr.DeviceEntry | None:
    """The HA device of a Sotto satellite or engine (or the home), by its device key."""
    # One config entry per device since HA 2026.8: look up by identifier, not "the" device.
    found = dr.async_get(hass).async_get_devices(identifiers={(DOMAIN, key)})
    return found[0] if found else None


def place_device(hass: HomeAssistant, key: str, area: str) -> None:
    """Put a Sotto device (by its device key) in the named area (made if need be)."""
    device = sotto_device(hass, key)
    if device is None:
        raise SetupError(f"no device for {key}")
    place = ar.async_get(hass).async_get_or_create(area)
    dr.async_get(hass).async_update_device(device.id, area_id=place.id)


async def wait_for_state(
    hass: HomeAssistant, entity_id: str, state: str, timeout: float = 60
) -> None:
    """Wait until the entity has the state; a clear error if it does not in time."""
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
    except TimeoutError as err:
        current = hass.states.get(entity_id)
        raise SetupError(
            f"{entity_id} did not become {state} within {timeout:.0f} s "
            f"(it is {current.state if current else 'missing'})"
        ) from err
    finally:
        unsub()


async def _finish_flow(hass: HomeAssistant, result: Any, user_input: dict[str, Any]) -> str:
    """Submit a form and return the created entry's ID."""
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    if result["type"] is not FlowResultType.CREATE_ENTRY:
        raise SetupError(f"the Sotto config flow did not create an entry: {result}")
    return str(result["result"].entry_id)


async def async_add_home(hass: HomeAssistant) -> str:
    """Add the home entry, as the first run of the config flow does."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    if result.get("step_id") != "home":
        raise SetupError(f"expected the home step first, got {result}")
    return await _finish_flow(hass, result, {})


async def _add_by_menu(hass: HomeAssistant, step: str, user_input: dict[str, Any]) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    if result["type"] is not FlowResultType.MENU:
        raise SetupError(f"expected the Sotto menu, got {result}")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": step}
    )
    return await _finish_flow(hass, result, user_input)


async def async_add_engine(hass: HomeAssistant, engine: EngineProcess) -> str:
    """Pair the engine by address and key, as a person would in the UI."""
    return await _add_by_menu(
        hass,
        "engine",
        {CONF_HOST: "127.0.0.1", CONF_PORT: engine.port, "key": engine.key.to_base64()},
    )


async def async_add_satellite(hass: HomeAssistant, satellite: SatelliteProcess, area: str) -> str:
    """Pair a satellite, put its device in the area, and wait until it reports in."""
    entry_id = await _add_by_menu(
        hass,
        "satellite",
        {CONF_HOST: "127.0.0.1", CONF_PORT: satellite.port, "key": satellite.key.to_base64()},
    )
    place_device(hass, satellite.device_id, area)
    await wait_for_state(hass, mute_entity(satellite), STATE_OFF)
    return entry_id


async def async_wait_for_grammar(hass: HomeAssistant) -> None:
    """Wait until Sotto's speech-to-text has a grammar for this home."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while loop.time() < deadline:
        state = hass.states.get(STT_ENTITY)
        if state is not None and not state.attributes.get("grammar_error"):
            await asyncio.sleep(GRAMMAR_SETTLE)
            return
        await asyncio.sleep(0.2)
    state = hass.states.get(STT_ENTITY)
    why = state.attributes.get("grammar_error") if state else "the entity is missing"
    raise SetupError(f"{STT_ENTITY} has no grammar: {why}")


def satellite_data(hass: HomeAssistant, satellite: SatelliteProcess) -> SatelliteData | None:
    """The loaded config entry data of a paired satellite, or None while it is not loaded."""
    from custom_components.sotto.data import SatelliteData

    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        data = entry.runtime_data
        if isinstance(data, SatelliteData) and entry.unique_id == satellite.device_id:
            return data
    return None


async def async_wait_for_satellite_grammar(hass: HomeAssistant, satellite: SatelliteProcess) -> str:
    """Wait until a satellite that recognises on the device has the home's current grammar;
    returns its digest."""
    from custom_components.sotto.data import home_data

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while loop.time() < deadline:
        home = home_data(hass)
        grammar = home.grammar.grammar if home else None
        data = satellite_data(hass, satellite)
        if (
            grammar is not None
            and data is not None
            and data.satellite.grammar_digest == grammar.digest
        ):
            return grammar.digest
        await asyncio.sleep(0.2)
    raise SetupError(f"{satellite.name} did not receive the home's grammar within 120 s")


def entity_prefix(satellite: SatelliteProcess) -> str:
    """The object-ID prefix of a satellite's entities (e.g. kitchen_satellite)."""
    return satellite.name.lower().replace(" ", "_")


def mute_entity(satellite: SatelliteProcess) -> str:
    """The satellite's mute switch."""
    return f"switch.{entity_prefix(satellite)}_mute"


def recording_entity(satellite: SatelliteProcess) -> str:
    """The satellite's recording sensor."""
    return f"binary_sensor.{entity_prefix(satellite)}_recording"


def voice_events_entity(satellite: SatelliteProcess) -> str:
    """The satellite's voice events (event_type: listening_started, ...)."""
    return f"event.{entity_prefix(satellite)}_voice_events"
