"""Runtime data: what each kind of Sotto config entry holds while it is loaded.

Each kind has its own type, so a platform learns what an entry holds by its type (see
`entry_holds`), and a satellite-only platform takes a `SatelliteConfigEntry`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from .arbiter import Arbiter
from .connection import SatelliteTransport
from .const import CONF_KIND, DOMAIN, EntryKind
from .engine import EngineClient
from .grammar import HomeGrammar
from .history.store import HistoryStore
from .satellite import SatelliteDevice


@dataclass(slots=True, frozen=True)
class HomeData:
    """The home entry: the grammar every recogniser uses, the voice history, and the
    arbiter that picks which satellite answers when several heard one wake word."""

    grammar: HomeGrammar
    history: HistoryStore
    local_recognizer: bool
    """Speech is recognised inside HA (pocketsphinx could be imported)."""
    arbiter: Arbiter


@dataclass(slots=True, frozen=True)
class SatelliteData:
    """A satellite entry (a Sotto satellite or an ESPHome device): its link and its state."""

    satellite: SatelliteDevice

    @property
    def connection(self) -> SatelliteTransport:
        """The satellite's transport (the one its device follows)."""
        return self.satellite.connection


@dataclass(slots=True, frozen=True)
class EngineData:
    """An engine entry: the client that reaches the sotto-engine."""

    engine: EngineClient


type SottoData = HomeData | SatelliteData | EngineData
type SottoConfigEntry = ConfigEntry[SottoData]
type HomeConfigEntry = ConfigEntry[HomeData]
type SatelliteConfigEntry = ConfigEntry[SatelliteData]
"""Also the entry of a platform that only satellites set up."""
type EngineConfigEntry = ConfigEntry[EngineData]


def entry_kind(entry: ConfigEntry[Any]) -> EntryKind:
    """What the entry configures (entries from before kinds were stored are the home)."""
    return EntryKind(entry.data.get(CONF_KIND, EntryKind.HOME))


def entry_holds[DataT: SottoData](
    entry: SottoConfigEntry, kind: type[DataT]
) -> TypeGuard[ConfigEntry[DataT]]:
    """Whether a loaded entry holds this kind of data (and is typed for it from here on)."""
    return isinstance(entry.runtime_data, kind)


def satellites(hass: HomeAssistant) -> list[SatelliteDevice]:
    """Every loaded satellite of the home (Sotto and ESPHome alike), connected or not."""
    return [
        data.satellite
        for entry in hass.config_entries.async_loaded_entries(DOMAIN)
        if isinstance(data := entry.runtime_data, SatelliteData)
    ]


def home_data(hass: HomeAssistant) -> HomeData | None:
    """The loaded home entry's data: the grammar and history every satellite shares."""
    entry: SottoConfigEntry
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        if isinstance(data := entry.runtime_data, HomeData):
            return data
    return None
