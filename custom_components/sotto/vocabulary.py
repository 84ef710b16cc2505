"""What a command can name in this home: exposed entities, their aliases, areas, floors."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from homeassistant.components.homeassistant.exposed_entities import (
    async_listen_entity_updates,
    async_should_expose,
)
from homeassistant.const import ATTR_FRIENDLY_NAME, EVENT_STATE_CHANGED
from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import (
    area_registry as ar,
)
from homeassistant.helpers import (
    device_registry as dr,
)
from homeassistant.helpers import (
    entity_registry as er,
)
from homeassistant.helpers import (
    floor_registry as fr,
)

from sotto_voice.engine.stt.errors import SttError
from sotto_voice.engine.stt.home import Area, Entity, Floor, Home
from sotto_voice.engine.stt.text import words

_LOGGER = logging.getLogger(__name__)

_ASSISTANT = "conversation"


def speakable(name: str) -> str | None:
    """The name without what has no spoken form (emoji, symbols); None if nothing is left.

    One light named "🎄" must not stop the whole home's grammar from building.
    """
    try:
        words(name)
    except SttError:
        kept = []
        for token in name.split():
            try:
                if words(token):
                    kept.append(token)
            except SttError:
                continue
        return " ".join(kept) or None
    return name


def _speakable_names(names: Iterable[str]) -> tuple[str, ...]:
    """The names that can be said, each once, in order."""
    return tuple(dict.fromkeys(n for name in names if (n := speakable(name)) is not None))


@callback
def async_home_vocabulary(hass: HomeAssistant) -> Home | None:
    """Describe the home as the grammar builder needs it; None when nothing is exposed."""
    unspeakable: list[str] = []
    floor_names = _floor_names(hass, unspeakable)
    areas, area_names = _areas(hass, floor_names, unspeakable)
    entities = _entities(hass, area_names, unspeakable)
    if unspeakable:
        _LOGGER.warning(
            "Voice commands cannot name %s: no spoken words in the name; give each an alias",
            ", ".join(unspeakable),
        )
    if not entities and not areas:
        return None
    return Home(
        tuple(entities), tuple(areas), tuple(Floor(names) for names in floor_names.values())
    )


def _floor_names(hass: HomeAssistant, unspeakable: list[str]) -> dict[str, tuple[str, ...]]:
    """Each floor's speakable names by floor ID; the others are added to `unspeakable`."""
    floor_names: dict[str, tuple[str, ...]] = {}
    for floor in fr.async_get(hass).async_list_floors():
        if names := _speakable_names((floor.name, *sorted(floor.aliases))):
            floor_names[floor.floor_id] = names
        else:
            unspeakable.append(f"floor {floor.name}")
    return floor_names


def _areas(
    hass: HomeAssistant, floor_names: dict[str, tuple[str, ...]], unspeakable: list[str]
) -> tuple[list[Area], dict[str, str]]:
    """The areas that can be named, and each one's spoken name by area ID."""
    areas: list[Area] = []
    area_names: dict[str, str] = {}
    for area in ar.async_get(hass).async_list_areas():
        names = _speakable_names((area.name, *sorted(area.aliases)))
        if not names:
            unspeakable.append(f"area {area.name}")
            continue
        area_names[area.id] = names[0]
        floor_name = floor_names.get(area.floor_id) if area.floor_id else None
        areas.append(Area(names, floor=floor_name[0] if floor_name else None))
    return areas, area_names


def _entities(
    hass: HomeAssistant, area_names: dict[str, str], unspeakable: list[str]
) -> list[Entity]:
    """The exposed entities that can be named, with their aliases and areas."""
    entities: list[Entity] = []
    for state in hass.states.async_all():
        if not async_should_expose(hass, _ASSISTANT, state.entity_id):
            continue
        aliases, area_id = _registry_aliases_and_area(hass, state.entity_id)
        name = state.attributes.get(ATTR_FRIENDLY_NAME) or state.object_id.replace("_", " ")
        entity_names = _speakable_names((str(name), *aliases))
        if not entity_names:
            unspeakable.append(state.entity_id)
            continue
        entities.append(
            Entity(
                state.entity_id,
                entity_names,
                area=area_names.get(area_id) if area_id else None,
                device_class=state.attributes.get("device_class"),
            )
        )
    return entities


def _registry_aliases_and_area(
    hass: HomeAssistant, entity_id: str
) -> tuple[tuple[str, ...], str | None]:
    """An entity's aliases and area (its device's, if it has none of its own)."""
    entry = er.async_get(hass).async_get(entity_id)
    if entry is None:
        return (), None
    # HA 2026 keeps the entity's own (computed) name among its aliases as a
    # marker: HA resolves it to the name it shows.
    aliases = tuple(sorted(er.async_get_entity_aliases(hass, entry)))
    if entry.area_id is None and entry.device_id:
        device = dr.async_get(hass).async_get(entry.device_id)
        return aliases, device.area_id if device else None
    return aliases, entry.area_id


@callback
def async_track_vocabulary(hass: HomeAssistant, changed: Callable[[], None]) -> CALLBACK_TYPE:
    """Call `changed` when names, aliases, areas, floors or exposure may have changed."""

    @callback
    def added_or_removed(event_data: EventStateChangedData) -> bool:
        # Entities without a registry entry only show up as states coming or going.
        return event_data["old_state"] is None or event_data["new_state"] is None

    @callback
    def on_event(_event: Event[Any]) -> None:
        changed()

    unsubs = [
        hass.bus.async_listen(EVENT_STATE_CHANGED, on_event, event_filter=added_or_removed),
        hass.bus.async_listen(er.EVENT_ENTITY_REGISTRY_UPDATED, on_event),
        hass.bus.async_listen(ar.EVENT_AREA_REGISTRY_UPDATED, on_event),
        hass.bus.async_listen(fr.EVENT_FLOOR_REGISTRY_UPDATED, on_event),
        hass.bus.async_listen(dr.EVENT_DEVICE_REGISTRY_UPDATED, on_event),
        async_listen_entity_updates(hass, _ASSISTANT, changed),
    ]

    @callback
    def unsubscribe() -> None:
        for unsub in unsubs:
            unsub()

    return unsubscribe
