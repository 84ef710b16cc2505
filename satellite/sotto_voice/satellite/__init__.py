"""The Sotto satellite: wake word on the device, then the command over the secure link.

Run it with `sotto-satellite run`; embed it with `Satellite` (see core.py), driven by any
AudioSource and controlled by one Controller. Names are imported on first use, so the
command line can validate a configuration without loading the audio packages.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .audio_in import AudioSource, CommandSource, PushSource, WavFileSource, arecord_source
    from .audio_out import AudioSink, CommandSink, Speaker, WavSink, aplay_sink
    from .config import SatelliteConfig, load_config, validate
    from .control import Controller
    from .core import Satellite, SatelliteSettings
    from .errors import (
        AudioError,
        ConfigError,
        MissingExtraError,
        SatelliteError,
        StateFileError,
        WakeWordError,
    )
    from .indicator import Indicator, IndicatorOutput

_WHERE = {
    "AudioSource": "audio_in",
    "CommandSource": "audio_in",
    "PushSource": "audio_in",
    "WavFileSource": "audio_in",
    "arecord_source": "audio_in",
    "AudioSink": "audio_out",
    "CommandSink": "audio_out",
    "Speaker": "audio_out",
    "WavSink": "audio_out",
    "aplay_sink": "audio_out",
    "SatelliteConfig": "config",
    "load_config": "config",
    "validate": "config",
    "Controller": "control",
    "Satellite": "core",
    "SatelliteSettings": "core",
    "AudioError": "errors",
    "ConfigError": "errors",
    "MissingExtraError": "errors",
    "SatelliteError": "errors",
    "StateFileError": "errors",
    "WakeWordError": "errors",
    "Indicator": "indicator",
    "IndicatorOutput": "indicator",
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
