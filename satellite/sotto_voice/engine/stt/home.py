"""A plain, serialisable description of the home the grammar is built from."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .errors import HomeError

_ENTITY_ID: Final = re.compile(r"[a-z0-9_]+\.[a-z0-9_]+")


def _names(raw: Any, what: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, Sequence) or not all(isinstance(name, str) for name in raw):
        raise HomeError(f"{what}: names must be a list of strings, got {raw!r}")
    names = tuple(name.strip() for name in raw if name.strip())
    if not names:
        raise HomeError(f"{what} has no name")
    return names


@dataclass(frozen=True, slots=True)
class Floor:
    """A floor; the first name is the primary one, the rest are aliases."""

    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Area:
    """An area (room), optionally on a floor."""

    names: tuple[str, ...]
    floor: str | None = None


@dataclass(frozen=True, slots=True)
class Entity:
    """An exposed entity: its id, spoken names (name plus aliases) and where it is."""

    entity_id: str
    names: tuple[str, ...]
    area: str | None = None
    device_class: str | None = None

    @property
    def domain(self) -> str:
        """The entity's domain ("light" for light.kitchen)."""
        return self.entity_id.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class Home:
    """Everything a spoken command can refer to."""

    entities: tuple[Entity, ...]
    areas: tuple[Area, ...] = ()
    floors: tuple[Floor, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.entities and not self.areas:
            raise HomeError("the home has no entities and no areas: nothing could be commanded")
        for entity in self.entities:
            if not _ENTITY_ID.fullmatch(entity.entity_id):
                raise HomeError(f"bad entity id {entity.entity_id!r}: expected domain.object_id")
            if not entity.names:
                raise HomeError(f"{entity.entity_id} has no name")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Home:
        """Build a home from its JSON form (as sent over the link)."""
        if not isinstance(data, Mapping):
            raise HomeError(f"a home must be a mapping, got {type(data).__name__}")
        entities = []
        for raw in data.get("entities", ()):
            if not isinstance(raw, Mapping) or not isinstance(raw.get("entity_id"), str):
                raise HomeError(f"entity without an entity_id: {raw!r}")
            entity_id = raw["entity_id"]
            names = _names(list(_as_list(raw.get("names", raw.get("name")))), entity_id)
            names += tuple(_as_list(raw.get("aliases")))
            domain = raw.get("domain")
            if domain is not None and domain != entity_id.split(".", 1)[0]:
                raise HomeError(f"{entity_id}: domain {domain!r} does not match its entity id")
            entities.append(
                Entity(entity_id, names, area=raw.get("area"), device_class=raw.get("device_class"))
            )
        areas = [
            Area(
                _names(_as_list(raw.get("name")) + _as_list(raw.get("aliases")), f"area {raw!r}"),
                floor=raw.get("floor"),
            )
            for raw in data.get("areas", ())
        ]
        floors = [
            Floor(
                _names(_as_list(raw.get("name")) + _as_list(raw.get("aliases")), f"floor {raw!r}")
            )
            for raw in data.get("floors", ())
        ]
        return cls(tuple(entities), tuple(areas), tuple(floors))

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of the home."""
        return {
            "entities": [
                {
                    "entity_id": entity.entity_id,
                    "names": list(entity.names),
                    "area": entity.area,
                    "device_class": entity.device_class,
                }
                for entity in self.entities
            ],
            "areas": [
                {"name": area.names[0], "aliases": list(area.names[1:]), "floor": area.floor}
                for area in self.areas
            ],
            "floors": [
                {"name": floor.names[0], "aliases": list(floor.names[1:])} for floor in self.floors
            ],
        }


def _as_list(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, Sequence) and all(isinstance(item, str) for item in raw):
        return list(raw)
    raise HomeError(f"expected a name or a list of names, got {raw!r}")
