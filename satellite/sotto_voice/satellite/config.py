"""The satellite's configuration: a YAML file validated with voluptuous, plus overrides.

Every error names the key (as a dotted path, e.g. `wake.sensitivity`) and what is wrong.
"""

from __future__ import annotations

import shlex
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import voluptuous as vol
import yaml

from sotto_voice import configfile
from sotto_voice.configfile import DiscoveryConfig, LinkConfig, ProgramConfig, checked

from .errors import ConfigError

DEFAULT_CONFIG_PATH: Final = Path("/etc/sotto/satellite.yaml")
DEFAULT_PORT: Final = 10800
MICRO_WAKE_WORDS: Final = ("okay_nabu", "hey_jarvis", "hey_mycroft", "alexa")
OPEN_WAKE_WORDS: Final = ("okay_nabu", "hey_jarvis", "hey_mycroft", "alexa", "hey_rhasspy")
WAKE_ENGINES: Final = {"micro": MICRO_WAKE_WORDS, "openwakeword": OPEN_WAKE_WORDS}


# --- checks ---------------------------------------------------------------------------------


def _command(value: Any) -> tuple[str, ...]:
    """Accept a command as a shell-like string or a list of arguments."""
    if isinstance(value, str):
        try:
            parts = shlex.split(value)
        except ValueError as err:
            raise vol.Invalid(f"cannot split the command into arguments ({err})") from None
    elif isinstance(value, list) and all(isinstance(part, str | int | float) for part in value):
        parts = [str(part) for part in value]
    else:
        raise vol.Invalid("must be a command: a string or a list of strings")
    if not parts:
        raise vol.Invalid("must not be an empty command")
    return tuple(parts)


def _number(low: float, high: float) -> dict[str, Any]:
    """Field metadata: a number from low to high."""
    return checked(
        vol.All(
            vol.Any(int, float, msg="must be a number"), vol.Coerce(float), vol.Range(low, high)
        )
    )


def _whole(
    low: int, high: int, msg: str = "must be a whole number", *, required: bool = False
) -> dict[str, Any]:
    """Field metadata: a whole number from low to high."""
    return checked(vol.All(vol.Any(int, msg=msg), vol.Range(min=low, max=high)), required=required)


_COMMAND: Final = checked(_command)
_PATH: Final = checked(configfile.path)
_FLAG: Final = checked(configfile.boolean)
_WORD: Final = checked(vol.All(str, vol.Length(min=1)))
_GPIO_PIN: Final = _whole(0, 63, "must be a GPIO number")
_GPIO_PIN_REQUIRED: Final = _whole(0, 63, "must be a GPIO number", required=True)


# --- the configuration: each field declared once, with its default and its check ----------


@dataclass(frozen=True, slots=True)
class MicConfig:
    """Where captured audio comes from."""

    source: str = field(
        default="arecord", metadata=checked(configfile.one_of("arecord", "command", "wav"))
    )
    """`arecord`, `command` (raw 16 kHz 16-bit mono on stdout) or `wav`."""

    device: str = field(default="default", metadata=_WORD)
    """ALSA device for arecord."""

    command: tuple[str, ...] = field(default=(), metadata=_COMMAND)
    file: Path | None = field(default=None, metadata=_PATH)
    speed: float = field(default=1.0, metadata=_number(0.0, 100.0))
    """WAV source only: 1 is real time, 4 four times faster, 0 as fast as possible."""

    after_end: str = field(
        default="silence", metadata=checked(configfile.one_of("silence", "stop"))
    )
    """WAV source only: `silence` (like a quiet room) or `stop`."""


@dataclass(frozen=True, slots=True)
class SpeakerConfig:
    """Where replies, announcements and chimes are played."""

    sink: str = field(
        default="aplay", metadata=checked(configfile.one_of("aplay", "command", "wav", "none"))
    )
    """`aplay`, `command` (raw PCM on stdin), `wav` (one file per playback) or `none`."""

    device: str = field(default="default", metadata=_WORD)
    command: tuple[str, ...] = field(default=(), metadata=_COMMAND)
    """May contain {rate}, {width} and {channels}."""

    directory: Path | None = field(default=None, metadata=_PATH)
    volume: float = field(default=1.0, metadata=_number(0.0, 1.0))


@dataclass(frozen=True, slots=True)
class WakeConfig:
    """Wake word detection on the device."""

    engine: str = field(default="micro", metadata=checked(configfile.one_of(*WAKE_ENGINES)))
    model: str = field(default="okay_nabu", metadata=_WORD)
    sensitivity: float = field(default=0.5, metadata=_number(0.0, 1.0))
    """0 (hardly ever) .. 1 (very easily); 0.5 is the model's own threshold."""

    refractory_seconds: float = field(default=2.0, metadata=_number(0.0, 60.0))
    remote: bool = field(default=False, metadata=_FLAG)
    """Stream all the time and let Home Assistant find the wake word (explicit opt-in)."""


# The satellite's end of speech: longer than a pause inside a sentence (a comma's: 0.2 to
# 0.5 s in natural speech), so "never mind, that wasn't for you" is one command; a sentence
# nothing can extend still ends sooner, where it is recognised (stt.endpoint).
SILENCE_SECONDS: Final = 0.55


@dataclass(frozen=True, slots=True)
class VadConfig:
    """When a command ends."""

    threshold: float = field(default=0.5, metadata=_number(0.05, 0.95))
    silence_seconds: float = field(default=SILENCE_SECONDS, metadata=_number(0.1, 5.0))
    min_speech_seconds: float = field(default=0.15, metadata=_number(0.0, 5.0))
    no_speech_seconds: float = field(default=5.0, metadata=_number(0.5, 60.0))
    max_seconds: float = field(default=15.0, metadata=_number(1.0, 300.0))


@dataclass(frozen=True, slots=True)
class ChimeConfig:
    """Chimes played when a command starts and stops being heard."""

    enabled: bool = field(default=True, metadata=_FLAG)
    start: Path | None = field(default=None, metadata=_PATH)
    """None plays the chime shipped with Sotto."""

    stop: Path | None = field(default=None, metadata=_PATH)
    listen: Path | None = field(default=None, metadata=_PATH)
    """Played instead of `start` when the command is recognised on the device."""

    timer: Path | None = field(default=None, metadata=_PATH)
    """Rung when a voice timer finishes, until stopped (even with chimes off)."""


@dataclass(frozen=True, slots=True)
class PushButtonConfig:
    """A push button on a GPIO pin (needs the gpiozero package)."""

    pin: int = field(metadata=_GPIO_PIN_REQUIRED)
    pull_up: bool = field(default=True, metadata=_FLAG)


@dataclass(frozen=True, slots=True)
class GpioButtonConfig:
    """A mute button or switch on a GPIO pin (needs the gpiozero package)."""

    pin: int = field(metadata=_GPIO_PIN_REQUIRED)
    mode: str = field(default="toggle", metadata=checked(configfile.one_of("toggle", "switch")))
    """`toggle`: each press flips mute; `switch`: muted while the switch is closed."""

    pull_up: bool = field(default=True, metadata=_FLAG)


@dataclass(frozen=True, slots=True)
class MuteConfig:
    """Hardware mute inputs."""

    gpio: GpioButtonConfig | None = None
    command: tuple[str, ...] = field(default=(), metadata=_COMMAND)
    """A long-running command printing lines `mute`, `unmute` or `toggle`."""

    @property
    def has_hardware(self) -> bool:
        """Return True if any hardware mute input is configured."""
        return self.gpio is not None or bool(self.command)


@dataclass(frozen=True, slots=True)
class PushToTalkConfig:
    """Local push-to-talk inputs."""

    gpio: PushButtonConfig | None = None
    command: tuple[str, ...] = field(default=(), metadata=_COMMAND)
    """A long-running command printing a line `talk` for each press."""

    @property
    def gpio_pin(self) -> int | None:
        """The button's GPIO pin, if there is one."""
        return None if self.gpio is None else self.gpio.pin

    @property
    def pull_up(self) -> bool:
        """Whether the button's pin is pulled up (True without a button)."""
        return True if self.gpio is None else self.gpio.pull_up


@dataclass(frozen=True, slots=True)
class OutputConfig:
    """One indicator output."""

    type: str = field(
        metadata=checked(configfile.one_of("command", "gpio_led", "apa102"), required=True)
    )
    """`command`, `gpio_led` or `apa102`."""

    command: tuple[str, ...] = field(default=(), metadata=_COMMAND)
    """`command`: run on every state change with {state} replaced and SOTTO_STATE set."""

    pin: int = field(default=0, metadata=_GPIO_PIN)
    active_high: bool = field(default=True, metadata=_FLAG)
    leds: int = field(default=3, metadata=_whole(1, 255))
    brightness: float = field(default=0.2, metadata=_number(0.0, 1.0))
    spi_bus: int = field(default=0, metadata=_whole(0, 9))
    spi_device: int = field(default=1, metadata=_whole(0, 9))


@dataclass(frozen=True, slots=True)
class IndicatorConfig:
    """The indicator and its outputs."""

    outputs: tuple[OutputConfig, ...] = ()
    error_grace_seconds: float = field(default=5.0, metadata=_number(0.0, 600.0))
    """How long Home Assistant may be away before the indicator shows an error."""


RECOGNITION_MODES: Final = ("auto", "edge", "stream")
DEFAULT_WHISPER_MODEL: Final = "tiny.en"


@dataclass(frozen=True, slots=True)
class RecognitionConfig:
    """Where commands are recognised: on the satellite (edge) or by Home Assistant."""

    mode: str = field(default="auto", metadata=checked(configfile.one_of(*RECOGNITION_MODES)))
    """`edge`: recognise on the device, only the text leaves; `stream`: send the command's
    audio to Home Assistant (and its engine); `auto`: edge when faster-whisper and the
    Whisper model are installed, else stream."""

    whisper_model: str = field(default=DEFAULT_WHISPER_MODEL, metadata=checked(configfile.text))
    """A model name (a directory `whisper-<name>` in the models directory) or a directory."""

    models_dir: Path | None = field(default=None, metadata=_PATH)
    """None means `<state_dir>/models`."""

    models_url: str | None = field(default=None, metadata=checked(configfile.url))
    """Where `download-model` fetches the model's files (None: the model's upstream
    repository); a mirror must serve the same files, which are checked against pinned
    hashes all the same."""


@dataclass(frozen=True, slots=True)
class SatelliteConfig(ProgramConfig):
    """The whole configuration of one satellite."""

    link: LinkConfig = field(default_factory=lambda: LinkConfig(port=DEFAULT_PORT))
    discovery: DiscoveryConfig = field(default_factory=lambda: DiscoveryConfig(enabled=True))
    mic: MicConfig = field(default_factory=MicConfig)
    speaker: SpeakerConfig = field(default_factory=SpeakerConfig)
    wake: WakeConfig = field(default_factory=WakeConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    chimes: ChimeConfig = field(default_factory=ChimeConfig)
    mute: MuteConfig = field(default_factory=MuteConfig)
    push_to_talk: PushToTalkConfig = field(default_factory=PushToTalkConfig)
    indicator: IndicatorConfig = field(default_factory=IndicatorConfig)
    recognition: RecognitionConfig = field(default_factory=RecognitionConfig)

    @property
    def models_dir(self) -> Path:
        """The directory of recogniser models."""
        return self.recognition.models_dir or self.state_dir / "models"

    @property
    def whisper_model_dir(self) -> Path:
        """Where the Whisper model is: recognition.whisper_model itself if it names a
        directory (a path with a slash, or ~), else `whisper-<name>` in the models directory."""
        return configfile.whisper_model_dir(self.recognition.whisper_model, self.models_dir)


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML config file into a dict, with clear errors."""
    return configfile.read_yaml(path, error=ConfigError)


# --- loading --------------------------------------------------------------------------------


def _input_problems(config: SatelliteConfig) -> list[str]:
    errors: list[str] = []
    mic, speaker = config.mic, config.speaker
    if mic.source == "command" and not mic.command:
        errors.append("mic.command: is required when mic.source is 'command'")
    if mic.source == "wav" and mic.file is None:
        errors.append("mic.file: is required when mic.source is 'wav'")
    elif mic.source == "wav" and mic.file is not None and not mic.file.is_file():
        errors.append(f"mic.file: no such file: {mic.file}")
    if speaker.sink == "command" and not speaker.command:
        errors.append("speaker.command: is required when speaker.sink is 'command'")
    if speaker.sink == "wav" and speaker.directory is None:
        errors.append("speaker.directory: is required when speaker.sink is 'wav'")
    return errors


def _output_problems(config: SatelliteConfig) -> list[str]:
    errors: list[str] = []
    for index, output in enumerate(config.indicator.outputs):
        where = f"indicator.outputs[{index}]"
        if output.type == "command" and not output.command:
            errors.append(f"{where}.command: is required for a 'command' output")
        if output.type == "gpio_led" and output.pin == 0:
            errors.append(f"{where}.pin: is required for a 'gpio_led' output")
    return errors


def _check_combinations(config: SatelliteConfig) -> list[str]:
    """Return errors that involve more than one key."""
    errors = _input_problems(config)
    wake = config.wake
    models = WAKE_ENGINES[wake.engine]
    if wake.model not in models:
        errors.append(
            f"wake.model: '{wake.model}' is not a {wake.engine} model; "
            f"choose one of: {', '.join(models)}"
        )
    chimes = config.chimes
    for key in ("start", "stop", "listen", "timer"):
        chime = getattr(chimes, key)
        if chime is not None and not chime.is_file():
            errors.append(f"chimes.{key}: no such file: {chime}")
    errors += _output_problems(config)
    if config.vad.max_seconds <= config.vad.silence_seconds:
        errors.append("vad.max_seconds: must be longer than vad.silence_seconds")
    return errors


def _parse_override(text: str) -> tuple[list[str], Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: must look like key.subkey=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {key}: the value is not valid YAML ({err})") from None
    return key.strip().split("."), value


def set_key(raw: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """Return raw config with the value at dotted key (e.g. wake.model) replaced."""
    keys = dotted.split(".")
    merged: dict[str, Any] = dict(raw)
    node = merged
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = {}
        elif not isinstance(child, dict):
            where = ".".join(keys[: depth + 1])
            raise ConfigError(f"{dotted}: cannot set it, {where} is not a mapping")
        else:
            child = dict(child)
        node[key] = child
        node = child
    node[keys[-1]] = value
    return merged


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return raw config with `key.subkey=value` overrides (values are YAML) applied."""
    merged = raw
    for text in overrides:
        keys, value = _parse_override(text)
        merged = set_key(merged, ".".join(keys), value)
    return merged


def validate(raw: Mapping[str, Any], *, source: str = "configuration") -> SatelliteConfig:
    """Validate raw configuration data and return the config (raises ConfigError)."""
    config = configfile.validate(
        SatelliteConfig,
        raw,
        source=source,
        error=ConfigError,
        program="sotto-satellite",
        name=socket.gethostname() or "sotto",
    )
    problems = _check_combinations(config)
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))
    return config


def load_config(path: Path | None, overrides: Sequence[str] = ()) -> SatelliteConfig:
    """Load the YAML file at path (None: defaults only), apply overrides, validate."""
    raw = read_yaml(path) if path is not None else {}
    merged = apply_overrides(raw, overrides)
    return validate(merged, source=str(path) if path is not None else "configuration")
