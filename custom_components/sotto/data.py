"""Runtime data that every Sotto platform reads through its config entry."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .connection import DeviceConnection
from .const import EntryKind
from .satellite import SatelliteDevice


@dataclass(slots=True)
class SottoData:
    """What a loaded Sotto config entry holds while it runs."""

    kind: EntryKind
    library_version: str
    connection: DeviceConnection | None = None
    satellite: SatelliteDevice | None = None


type SottoConfigEntry = ConfigEntry[SottoData]
