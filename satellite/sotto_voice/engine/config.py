"""sotto-engine's configuration: a YAML file validated with voluptuous.

Every error names the key (as a dotted path, e.g. `link.port`) and what is wrong with it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import voluptuous as vol

from sotto_voice import configfile
from sotto_voice.configfile import DiscoveryConfig, LinkConfig, ProgramConfig, checked
from sotto_voice.errors import SottoError

from .tts.download import DEFAULT_VOICES_URL
from .tts.errors import InvalidVoiceNameError, VoiceNotFoundError
from .tts.espeak import DEFAULT_ESPEAK_VOICE, ESPEAK_VOICE_PREFIX, check_espeak_voice
from .tts.voices import VoiceName

DEFAULT_CONFIG_PATH: Final = Path("/etc/sotto/engine.yaml")
# The satellite listens on 10800; an engine may share its host.
DEFAULT_PORT: Final = 10810
_DEVICE_ID_FILE: Final = "device_id"


class EngineConfigError(SottoError):
    """The engine's configuration is missing, unreadable or invalid."""


# --- checks ---------------------------------------------------------------------------------


def _voice(value: Any) -> str:
    text = configfile.text(value)
    if text == ESPEAK_VOICE_PREFIX:
        return text
    if text.startswith(ESPEAK_VOICE_PREFIX + ":"):
        _espeak_voice(text.removeprefix(ESPEAK_VOICE_PREFIX + ":"))
        return text
    try:
        VoiceName.parse(text)
    except InvalidVoiceNameError as err:
        raise vol.Invalid(f"{err}, or espeak-ng:<voice>") from None
    return text


def _espeak_voice(value: Any) -> str:
    text = configfile.text(value)
    try:
        return check_espeak_voice(text)
    except VoiceNotFoundError:
        raise vol.Invalid("must be an espeak-ng voice name such as en-us or en-gb") from None


# --- the configuration: each field declared once, with its default and its check ----------


@dataclass(frozen=True, slots=True)
class TtsConfig:
    """Text-to-speech voices."""

    voices_dir: Path | None = field(default=None, metadata=checked(configfile.path))
    """None means `<state_dir>/voices`."""

    default_voice: str | None = field(default=None, metadata=checked(vol.Any(None, _voice)))
    espeak_voice: str = field(default=DEFAULT_ESPEAK_VOICE, metadata=checked(_espeak_voice))
    voices_url: str = field(default=DEFAULT_VOICES_URL, metadata=checked(configfile.url))
    preload: bool = field(default=True, metadata=checked(configfile.boolean))
    """Load the default voice at start so the first reply is not delayed by it."""


# The recognisers sotto-engine can run (engine/stt/worker.py's make_recognizer).
RECOGNIZERS: Final = ("grammar", "whisper", "cascade")
DEFAULT_RECOGNIZER: Final = "whisper"
DEFAULT_WHISPER_MODEL: Final = "tiny.en"


@dataclass(frozen=True, slots=True)
class SttConfig:
    """Speech-to-text."""

    enabled: bool = field(default=True, metadata=checked(configfile.boolean))
    language: str = field(
        default="en",
        # pocketsphinx ships an en-us model only.
        metadata=checked(
            vol.All(str, vol.In(("en",), msg="must be en (the pocketsphinx model is en-us)"))
        ),
    )
    recognizer: str = field(
        default=DEFAULT_RECOGNIZER, metadata=checked(configfile.one_of(*RECOGNIZERS))
    )
    """whisper (Whisper snapped to the grammar), grammar (pocketsphinx) or cascade
    (pocketsphinx ends the command, Whisper decides). Whisper is the default: on voices no
    choice was tuned on it is right far more often and acts on nothing overheard, at
    about twice the CPU and 2.5 times the memory of pocketsphinx."""
    whisper_model: str = field(default=DEFAULT_WHISPER_MODEL, metadata=checked(configfile.text))
    """A model name (a directory `whisper-<name>` in the models directory) or a directory."""
    models_dir: Path | None = field(default=None, metadata=checked(configfile.path))
    """None means `<state_dir>/models`."""


@dataclass(frozen=True, slots=True)
class EngineConfig(ProgramConfig):
    """The whole configuration of one engine."""

    link: LinkConfig = field(default_factory=lambda: LinkConfig(port=DEFAULT_PORT))
    discovery: DiscoveryConfig = field(default_factory=lambda: DiscoveryConfig(enabled=False))
    tts: TtsConfig = field(default_factory=TtsConfig)
    stt: SttConfig = field(default_factory=SttConfig)

    @property
    def voices_dir(self) -> Path:
        """The directory of piper voices."""
        return self.tts.voices_dir or self.state_dir / "voices"

    @property
    def models_dir(self) -> Path:
        """The directory of recogniser models."""
        return self.stt.models_dir or self.state_dir / "models"

    @property
    def whisper_model_dir(self) -> Path:
        """Where the Whisper model is: stt.whisper_model itself if it names a directory
        (a path with a slash, or ~), else `whisper-<name>` in the models directory."""
        return configfile.whisper_model_dir(self.stt.whisper_model, self.models_dir)


# --- loading --------------------------------------------------------------------------------


def validate(raw: Mapping[str, Any], *, source: str = "configuration") -> EngineConfig:
    """Validate raw configuration data and return the config (raises EngineConfigError)."""
    return configfile.validate(
        EngineConfig,
        raw,
        source=source,
        error=EngineConfigError,
        program="sotto-engine",
        name=f"Sotto engine on {socket.gethostname() or 'this host'}",
    )


def load_config(path: Path | None) -> EngineConfig:
    """Load and validate the YAML file at path (None: defaults only)."""
    if path is None:
        return validate({})
    return validate(configfile.read_yaml(path, error=EngineConfigError), source=str(path))


def resolve_device_id(config: EngineConfig) -> str:
    """The configured device id, else one generated once and kept in the state directory."""
    if config.device_id:
        return config.device_id
    id_file = config.state_dir / _DEVICE_ID_FILE
    with contextlib.suppress(FileNotFoundError):
        stored = id_file.read_text(encoding="utf-8").strip()
        try:
            return configfile.device_id(stored)
        except vol.Invalid as err:
            raise EngineConfigError(f"{id_file}: stored device id {err.msg}") from None
    device_id = f"engine-{secrets.token_hex(6)}"
    try:
        config.state_dir.mkdir(parents=True, exist_ok=True)
        temp = id_file.with_name(f".{_DEVICE_ID_FILE}.{secrets.token_hex(4)}.tmp")
        temp.write_text(device_id + "\n", encoding="utf-8")
        os.replace(temp, id_file)
    except OSError as err:
        raise EngineConfigError(
            f"state_dir: cannot keep the device id in {config.state_dir} ({err.strerror})"
        ) from None
    return device_id
