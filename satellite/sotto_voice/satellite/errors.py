"""The satellite's exception tree: everything it raises on purpose is a SatelliteError."""

from __future__ import annotations

from sotto_voice.errors import SottoError


class SatelliteError(SottoError):
    """Base of every error the satellite raises."""


class ConfigError(SatelliteError):
    """The configuration is invalid; the message names the key and what is wrong."""


class MissingExtraError(SatelliteError):
    """An optional package needed by the configuration is not installed."""

    def __init__(self, feature: str, package: str, hint: str) -> None:
        super().__init__(f"{feature} needs the Python package '{package}': {hint}")
        self.feature = feature
        self.package = package


class AudioError(SatelliteError):
    """A microphone or speaker could not be opened or stopped working."""


class WakeWordError(SatelliteError):
    """A wake word model could not be loaded."""


class StateFileError(SatelliteError):
    """A state file (mute, settings, ledger) could not be read or written."""
