"""The Sotto satellite: wake word on the device, then the command over the secure link.

Run it with `sotto-satellite run`; embed it with `Satellite` (see core.py), driven by any
AudioSource and controlled by one Controller.
"""

from __future__ import annotations

from .audio_in import AudioSource, CommandSource, PushSource, WavFileSource, arecord_source
from .audio_out import AudioSink, CommandSink, Speaker, WavSink, aplay_sink
from .config import SatelliteConfig, load_config, validate
from .core import Controller, Satellite, SatelliteSettings
from .errors import (
    AudioError,
    ConfigError,
    MissingExtraError,
    SatelliteError,
    StateFileError,
    WakeWordError,
)
from .indicator import Indicator, IndicatorOutput

__all__ = [
    "AudioError",
    "AudioSink",
    "AudioSource",
    "CommandSink",
    "CommandSource",
    "ConfigError",
    "Controller",
    "Indicator",
    "IndicatorOutput",
    "MissingExtraError",
    "PushSource",
    "Satellite",
    "SatelliteConfig",
    "SatelliteError",
    "SatelliteSettings",
    "Speaker",
    "StateFileError",
    "WakeWordError",
    "WavFileSource",
    "WavSink",
    "aplay_sink",
    "arecord_source",
    "load_config",
    "validate",
]
