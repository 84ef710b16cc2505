"""The demo home: two areas with template lights, and a pipeline that uses Sotto."""

from __future__ import annotations

from typing import Any

from homeassistant.components.assist_pipeline.pipeline import (
    async_get_pipeline,
    async_update_pipeline,
)
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.core import HomeAssistant
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import floor_registry as fr
from homeassistant.util import slugify


class HouseError(RuntimeError):
    """The demo home could not be built."""


def _template_light(name: str) -> dict[str, Any]:
    """A light whose power and brightness live in helpers, so HA really switches it."""
    slug = slugify(name)
    power = f"input_boolean.{slug}_power"
    level = f"input_number.{slug}_level"
    return {
        "unique_id": slug,
        "name": name,
        "state": f"{{{{ is_state('{power}', 'on') }}}}",
        "level": f"{{{{ states('{level}') | int(0) }}}}",
        "turn_on": {"action": "input_boolean.turn_on", "target": {"entity_id": power}},
        "turn_off": {"action": "input_boolean.turn_off", "target": {"entity_id": power}},
        "set_level": [
            {
                "action": "input_number.set_value",
                "target": {"entity_id": level},
                "data": {"value": "{{ brightness }}"},
            },
            {"action": "input_boolean.turn_on", "target": {"entity_id": power}},
        ],
    }


def house_configuration(lights: dict[str, list[str]]) -> dict[str, Any]:
    """configuration.yaml entries for the lights and the helpers that hold their state."""
    names = [name for area_lights in lights.values() for name in area_lights]
    return {
        "input_boolean": {f"{slugify(n)}_power": {"name": f"{n} power"} for n in names},
        "input_number": {
            f"{slugify(n)}_level": {"name": f"{n} level", "min": 0, "max": 255, "step": 1}
            for n in names
        },
        "template": [{"light": [_template_light(n) for n in names]}],
    }


async def async_place_house(hass: HomeAssistant, lights: dict[str, list[str]]) -> None:
    """Put the lights in their areas; only the lights (not their helpers) face Assist."""
    await hass.async_block_till_done()
    areas = ar.async_get(hass)
    entities = er.async_get(hass)
    floor = fr.async_get(hass).async_create("Ground floor")
    for area_name, area_lights in lights.items():
        area = areas.async_get_or_create(area_name)
        areas.async_update(area.id, floor_id=floor.floor_id)
        for name in area_lights:
            entity_id = entities.async_get_entity_id("light", "template", slugify(name))
            if entity_id is None:
                raise HouseError(f"the template light {name!r} was not created: see the HA log")
            entities.async_update_entity(entity_id, area_id=area.id)
    for state in hass.states.async_all(("input_boolean", "input_number")):
        async_expose_entity(hass, "conversation", state.entity_id, False)
    await hass.async_block_till_done()


async def async_use_sotto_pipeline(
    hass: HomeAssistant,
    *,
    stt_engine: str = "stt.sotto_speech_to_text",
    tts_engine: str | None = None,
) -> None:
    """Point the preferred pipeline at Sotto's speech-to-text (HA's own, or an engine's),
    HA's agent and the engine (without a TTS engine the satellite confirms with its chime)."""
    await async_update_pipeline(
        hass,
        async_get_pipeline(hass),
        name="Sotto",
        conversation_engine="conversation.home_assistant",
        conversation_language="en",
        language="en",
        stt_engine=stt_engine,
        stt_language="en",
        tts_engine=tts_engine,
        tts_language="en" if tts_engine else None,
    )
