"""Runtime data that every Sotto platform reads through its config entry."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from .connection import SatelliteTransport
from .const import DOMAIN, EntryKind
from .engine import EngineClient
from .grammar import HomeGrammar
from .history.model import InteractionRecorder
from .satellite import SatelliteDevice


@dataclass(slots=True)
class SottoData:
    """What a loaded Sotto config entry holds while it runs.

    The home entry holds the grammar and the history; a satellite entry its link and
    reported state;
    an engine entry its client.
    """

    kind: EntryKind
    library_version: str
    grammar: HomeGrammar | None = None
    local_recognizer: bool = False
    """The home entry recognises speech inside HA (pocketsphinx could be imported)."""
    history: InteractionRecorder | None = None
    connection: SatelliteTransport | None = None
    satellite: SatelliteDevice | None = None
    engine: EngineClient | None = None


type SottoConfigEntry = ConfigEntry[SottoData]


def home_data(hass: HomeAssistant) -> SottoData | None:
    """The loaded home entry's data: the grammar and history every satellite shares."""
    entry: SottoConfigEntry
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        data: SottoData = entry.runtime_data
        if data.kind is EntryKind.HOME:
            return data
    return None
