"""The history's one exception tree."""

from __future__ import annotations

from homeassistant.exceptions import HomeAssistantError


class HistoryError(HomeAssistantError):
    """The history store could not do what was asked."""
