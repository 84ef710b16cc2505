"""Constants for the Sotto integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "sotto"

# The home entry holds what is shared by every satellite: in-process speech-to-text,
# the voice history and home-wide privacy controls. Only one may exist.
HOME_UNIQUE_ID: Final = "home"
