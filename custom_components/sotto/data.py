"""Runtime data that every Sotto platform reads through its config entry."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .connection import DeviceConnection
from .const import EntryKind
from .engine import EngineClient
from .grammar import HomeGrammar
from .satellite import SatelliteDevice


@dataclass(slots=True)
class SottoData:
    """What a loaded Sotto config entry holds while it runs.

    The home entry holds the grammar; a satellite entry its link and reported state;
    an engine entry its client.
    """

    kind: EntryKind
    library_version: str
    grammar: HomeGrammar | None = None
    connection: DeviceConnection | None = None
    satellite: SatelliteDevice | None = None
    engine: EngineClient | None = None


type SottoConfigEntry = ConfigEntry[SottoData]
