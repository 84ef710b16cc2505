"""Runtime data that every Sotto platform reads through the config entry."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry


@dataclass(slots=True)
class SottoData:
    """What a loaded Sotto config entry holds while it runs."""

    library_version: str


type SottoConfigEntry = ConfigEntry[SottoData]
