"""Constants for the Sotto integration."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

DOMAIN: Final = "sotto"

# The home entry holds what is shared by every satellite: in-process speech-to-text,
# the voice history and home-wide privacy controls. Only one may exist.
HOME_UNIQUE_ID: Final = "home"

CONF_KIND: Final = "kind"
CONF_KEY: Final = "key"
CONF_DEVICE_ID: Final = "device_id"
CONF_LEGACY: Final = "legacy"

# The ports sotto-satellite and sotto-engine listen on unless configured otherwise.
DEFAULT_PORT: Final = 10800
DEFAULT_ENGINE_PORT: Final = 10810

# Reconnect backoff: doubles from the first delay up to the cap, with jitter so that
# many satellites do not reconnect in lockstep after Home Assistant restarts.
BACKOFF_FIRST_SECONDS: Final = 1.0
BACKOFF_CAP_SECONDS: Final = 60.0


class EntryKind(StrEnum):
    """What a Sotto config entry stands for."""

    HOME = "home"
    SATELLITE = "satellite"
    ENGINE = "engine"
    ESPHOME = "esphome"


# Entry kinds that are satellites, whatever transport carries them.
SATELLITE_KINDS: Final = frozenset({EntryKind.SATELLITE, EntryKind.ESPHOME})
