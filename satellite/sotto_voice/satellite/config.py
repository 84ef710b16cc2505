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
from sotto_voice.configfile import DiscoveryConfig, LinkConfig

from .errors import ConfigError

DEFAULT_CONFIG_PATH: Final = Path("/etc/sotto/satellite.yaml")
DEFAULT_PORT: Final = 10800
MICRO_WAKE_WORDS: Final = ("okay_nabu", "hey_jarvis", "hey_mycroft", "alexa")
OPEN_WAKE_WORDS: Final = ("okay_nabu", "hey_jarvis", "hey_mycroft", "alexa", "hey_rhasspy")
WAKE_ENGINES: Final = {"micro": MICRO_WAKE_WORDS, "openwakeword": OPEN_WAKE_WORDS}


# --- models ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MicConfig:
    """Where captured audio comes from."""

    source: str = "arecord"
    """`arecord`, `command` (raw 16 kHz 16-bit mono on stdout) or `wav`."""

    device: str = "default"
    """ALSA device for arecord."""

    command: tuple[str, ...] = ()
    file: Path | None = None
    speed: float = 1.0
    """WAV source only: 1 is real time, 4 four times faster, 0 as fast as possible."""

    after_end: str = "silence"
    """WAV source only: `silence` (like a quiet room) or `stop`."""


@dataclass(frozen=True, slots=True)
class SpeakerConfig:
    """Where replies, announcements and chimes are played."""

    sink: str = "aplay"
    """`aplay`, `command` (raw PCM on stdin), `wav` (one file per playback) or `none`."""

    device: str = "default"
    command: tuple[str, ...] = ()
    """May contain {rate}, {width} and {channels}."""

    directory: Path | None = None
    volume: float = 1.0


@dataclass(frozen=True, slots=True)
class WakeConfig:
    """Wake word detection on the device."""

    engine: str = "micro"
    model: str = "okay_nabu"
    sensitivity: float = 0.5
    """0 (hardly ever) .. 1 (very easily); 0.5 is the model's own threshold."""

    refractory_seconds: float = 2.0
    remote: bool = False
    """Stream all the time and let Home Assistant find the wake word (explicit opt-in)."""


# The satellite's end of speech: longer than a pause inside a sentence (a comma's: 0.2 to
# 0.5 s in natural speech), so "never mind, that wasn't for you" is one command; a sentence
# nothing can extend still ends sooner, where it is recognised (stt.endpoint).
SILENCE_SECONDS: Final = 0.55


@dataclass(frozen=True, slots=True)
class VadConfig:
    """When a command ends."""

    threshold: float = 0.5
    silence_seconds: float = SILENCE_SECONDS
    min_speech_seconds: float = 0.15
    no_speech_seconds: float = 5.0
    max_seconds: float = 15.0


@dataclass(frozen=True, slots=True)
class ChimeConfig:
    """Chimes played when audio starts and stops leaving the satellite."""

    enabled: bool = True
    start: Path | None = None
    """None plays the chime shipped with Sotto."""

    stop: Path | None = None


@dataclass(frozen=True, slots=True)
class GpioButtonConfig:
    """A mute button or switch on a GPIO pin (needs the gpiozero package)."""

    pin: int
    mode: str = "toggle"
    """`toggle`: each press flips mute; `switch`: muted while the switch is closed."""

    pull_up: bool = True


@dataclass(frozen=True, slots=True)
class MuteConfig:
    """Hardware mute inputs."""

    gpio: GpioButtonConfig | None = None
    command: tuple[str, ...] = ()
    """A long-running command printing lines `mute`, `unmute` or `toggle`."""

    @property
    def has_hardware(self) -> bool:
        """Return True if any hardware mute input is configured."""
        return self.gpio is not None or bool(self.command)


@dataclass(frozen=True, slots=True)
class PushToTalkConfig:
    """Local push-to-talk inputs."""

    gpio_pin: int | None = None
    pull_up: bool = True
    command: tuple[str, ...] = ()
    """A long-running command printing a line `talk` for each press."""


@dataclass(frozen=True, slots=True)
class OutputConfig:
    """One indicator output."""

    type: str
    """`command`, `gpio_led` or `apa102`."""

    command: tuple[str, ...] = ()
    """`command`: run on every state change with {state} replaced and SOTTO_STATE set."""

    pin: int = 0
    active_high: bool = True
    leds: int = 3
    brightness: float = 0.2
    spi_bus: int = 0
    spi_device: int = 1


@dataclass(frozen=True, slots=True)
class IndicatorConfig:
    """The indicator and its outputs."""

    outputs: tuple[OutputConfig, ...] = ()
    error_grace_seconds: float = 5.0
    """How long Home Assistant may be away before the indicator shows an error."""


@dataclass(frozen=True, slots=True)
class SatelliteConfig:
    """The whole configuration of one satellite."""

    name: str
    state_dir: Path
    device_id: str | None = None
    """None means an id generated once and kept in the state directory."""

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
    log_level: str = "info"

    @property
    def key_file(self) -> Path:
        """Return the link key file."""
        return self.link.key_file or self.state_dir / "link.key"


# --- schema ---------------------------------------------------------------------------------


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


def _number(low: float, high: float | None = None) -> vol.All:
    checks: list[Any] = [vol.Coerce(float)]
    checks.append(vol.Range(min=low, max=high))
    return vol.All(vol.Any(int, float, msg="must be a number"), *checks)


def default_state_dir() -> Path:
    """Return where state lives: systemd's STATE_DIRECTORY, else ~/.local/state."""
    return configfile.default_state_dir("sotto-satellite")


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML config file into a dict, with clear errors."""
    return configfile.read_yaml(path, error=ConfigError)


_LINK = configfile.link_schema(DEFAULT_PORT)
_DISCOVERY = configfile.discovery_schema(enabled=True)
_MIC = vol.Schema(
    {
        vol.Optional("source", default="arecord"): configfile.one_of("arecord", "command", "wav"),
        vol.Optional("device", default="default"): vol.All(str, vol.Length(min=1)),
        vol.Optional("command"): _command,
        vol.Optional("file"): configfile.path,
        vol.Optional("speed", default=1.0): _number(0.0, 100.0),
        vol.Optional("after_end", default="silence"): configfile.one_of("silence", "stop"),
    }
)
_SPEAKER = vol.Schema(
    {
        vol.Optional("sink", default="aplay"): configfile.one_of("aplay", "command", "wav", "none"),
        vol.Optional("device", default="default"): vol.All(str, vol.Length(min=1)),
        vol.Optional("command"): _command,
        vol.Optional("directory"): configfile.path,
        vol.Optional("volume", default=1.0): _number(0.0, 1.0),
    }
)
_WAKE = vol.Schema(
    {
        vol.Optional("engine", default="micro"): configfile.one_of(*WAKE_ENGINES),
        vol.Optional("model", default="okay_nabu"): vol.All(str, vol.Length(min=1)),
        vol.Optional("sensitivity", default=0.5): _number(0.0, 1.0),
        vol.Optional("refractory_seconds", default=2.0): _number(0.0, 60.0),
        vol.Optional("remote", default=False): configfile.boolean,
    }
)
_VAD = vol.Schema(
    {
        vol.Optional("threshold", default=0.5): _number(0.05, 0.95),
        vol.Optional("silence_seconds", default=SILENCE_SECONDS): _number(0.1, 5.0),
        vol.Optional("min_speech_seconds", default=0.15): _number(0.0, 5.0),
        vol.Optional("no_speech_seconds", default=5.0): _number(0.5, 60.0),
        vol.Optional("max_seconds", default=15.0): _number(1.0, 300.0),
    }
)
_CHIMES = vol.Schema(
    {
        vol.Optional("enabled", default=True): configfile.boolean,
        vol.Optional("start"): configfile.path,
        vol.Optional("stop"): configfile.path,
    }
)
_GPIO_BUTTON = vol.Schema(
    {
        vol.Required("pin"): vol.All(
            vol.Any(int, msg="must be a GPIO number"), vol.Range(min=0, max=63)
        ),
        vol.Optional("mode", default="toggle"): configfile.one_of("toggle", "switch"),
        vol.Optional("pull_up", default=True): configfile.boolean,
    }
)
_MUTE = vol.Schema(
    {
        vol.Optional("gpio"): _GPIO_BUTTON,
        vol.Optional("command"): _command,
    }
)
_PUSH_TO_TALK = vol.Schema(
    {
        vol.Optional("gpio"): vol.Schema(
            {
                vol.Required("pin"): vol.All(
                    vol.Any(int, msg="must be a GPIO number"), vol.Range(min=0, max=63)
                ),
                vol.Optional("pull_up", default=True): configfile.boolean,
            }
        ),
        vol.Optional("command"): _command,
    }
)
_OUTPUT = vol.Schema(
    {
        vol.Required("type"): configfile.one_of("command", "gpio_led", "apa102"),
        vol.Optional("command"): _command,
        vol.Optional("pin", default=0): vol.All(
            vol.Any(int, msg="must be a GPIO number"), vol.Range(min=0, max=63)
        ),
        vol.Optional("active_high", default=True): configfile.boolean,
        vol.Optional("leds", default=3): vol.All(
            vol.Any(int, msg="must be a whole number"), vol.Range(min=1, max=255)
        ),
        vol.Optional("brightness", default=0.2): _number(0.0, 1.0),
        vol.Optional("spi_bus", default=0): vol.All(int, vol.Range(min=0, max=9)),
        vol.Optional("spi_device", default=1): vol.All(int, vol.Range(min=0, max=9)),
    }
)
_INDICATOR = vol.Schema(
    {
        vol.Optional("outputs", default=list): vol.All(
            vol.Any(list, msg="must be a list of outputs"), [_OUTPUT]
        ),
        vol.Optional("error_grace_seconds", default=5.0): _number(0.0, 600.0),
    }
)
SCHEMA: Final = vol.Schema(
    {
        vol.Optional("name"): configfile.name,
        vol.Optional("device_id"): configfile.device_id,
        vol.Optional("state_dir"): configfile.path,
        vol.Optional("link", default=dict): _LINK,
        vol.Optional("discovery", default=dict): _DISCOVERY,
        vol.Optional("mic", default=dict): _MIC,
        vol.Optional("speaker", default=dict): _SPEAKER,
        vol.Optional("wake", default=dict): _WAKE,
        vol.Optional("vad", default=dict): _VAD,
        vol.Optional("chimes", default=dict): _CHIMES,
        vol.Optional("mute", default=dict): _MUTE,
        vol.Optional("push_to_talk", default=dict): _PUSH_TO_TALK,
        vol.Optional("indicator", default=dict): _INDICATOR,
        vol.Optional("log_level", default="info"): configfile.one_of(
            "debug", "info", "warning", "error"
        ),
    }
)


# --- loading --------------------------------------------------------------------------------


def _check_combinations(conf: Mapping[str, Any]) -> list[str]:
    """Return errors that involve more than one key."""
    errors: list[str] = []
    mic = conf["mic"]
    if mic["source"] == "command" and "command" not in mic:
        errors.append("mic.command: is required when mic.source is 'command'")
    if mic["source"] == "wav":
        if "file" not in mic:
            errors.append("mic.file: is required when mic.source is 'wav'")
        elif not mic["file"].is_file():
            errors.append(f"mic.file: no such file: {mic['file']}")
    speaker = conf["speaker"]
    if speaker["sink"] == "command" and "command" not in speaker:
        errors.append("speaker.command: is required when speaker.sink is 'command'")
    if speaker["sink"] == "wav" and "directory" not in speaker:
        errors.append("speaker.directory: is required when speaker.sink is 'wav'")
    wake = conf["wake"]
    models = WAKE_ENGINES[wake["engine"]]
    if wake["model"] not in models:
        errors.append(
            f"wake.model: '{wake['model']}' is not a {wake['engine']} model; "
            f"choose one of: {', '.join(models)}"
        )
    chimes = conf["chimes"]
    for key in ("start", "stop"):
        if key in chimes and not chimes[key].is_file():
            errors.append(f"chimes.{key}: no such file: {chimes[key]}")
    for index, output in enumerate(conf["indicator"]["outputs"]):
        where = f"indicator.outputs[{index}]"
        if output["type"] == "command" and "command" not in output:
            errors.append(f"{where}.command: is required for a 'command' output")
        if output["type"] == "gpio_led" and output["pin"] == 0:
            errors.append(f"{where}.pin: is required for a 'gpio_led' output")
    vad = conf["vad"]
    if vad["max_seconds"] <= vad["silence_seconds"]:
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
    conf = configfile.check(SCHEMA, raw, source=source, error=ConfigError)
    problems = _check_combinations(conf)
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))
    return _build(conf)


def load_config(path: Path | None, overrides: Sequence[str] = ()) -> SatelliteConfig:
    """Load the YAML file at path (None: defaults only), apply overrides, validate."""
    raw = read_yaml(path) if path is not None else {}
    merged = apply_overrides(raw, overrides)
    return validate(merged, source=str(path) if path is not None else "configuration")


def _build(conf: Mapping[str, Any]) -> SatelliteConfig:
    link, mic, speaker = conf["link"], conf["mic"], conf["speaker"]
    wake, vad, chimes, mute = conf["wake"], conf["vad"], conf["chimes"], conf["mute"]
    indicator = conf["indicator"]
    gpio = mute.get("gpio")
    ptt_gpio = conf["push_to_talk"].get("gpio")
    return SatelliteConfig(
        name=conf.get("name") or socket.gethostname() or "sotto",
        state_dir=conf.get("state_dir") or default_state_dir(),
        device_id=conf.get("device_id"),
        link=LinkConfig.from_section(link),
        discovery=DiscoveryConfig.from_section(conf["discovery"]),
        mic=MicConfig(
            source=mic["source"],
            device=mic["device"],
            command=mic.get("command", ()),
            file=mic.get("file"),
            speed=mic["speed"],
            after_end=mic["after_end"],
        ),
        speaker=SpeakerConfig(
            sink=speaker["sink"],
            device=speaker["device"],
            command=speaker.get("command", ()),
            directory=speaker.get("directory"),
            volume=speaker["volume"],
        ),
        wake=WakeConfig(
            engine=wake["engine"],
            model=wake["model"],
            sensitivity=wake["sensitivity"],
            refractory_seconds=wake["refractory_seconds"],
            remote=wake["remote"],
        ),
        vad=VadConfig(
            threshold=vad["threshold"],
            silence_seconds=vad["silence_seconds"],
            min_speech_seconds=vad["min_speech_seconds"],
            no_speech_seconds=vad["no_speech_seconds"],
            max_seconds=vad["max_seconds"],
        ),
        chimes=ChimeConfig(
            enabled=chimes["enabled"], start=chimes.get("start"), stop=chimes.get("stop")
        ),
        mute=MuteConfig(
            gpio=None
            if gpio is None
            else GpioButtonConfig(pin=gpio["pin"], mode=gpio["mode"], pull_up=gpio["pull_up"]),
            command=mute.get("command", ()),
        ),
        push_to_talk=PushToTalkConfig(
            gpio_pin=None if ptt_gpio is None else ptt_gpio["pin"],
            pull_up=True if ptt_gpio is None else ptt_gpio["pull_up"],
            command=conf["push_to_talk"].get("command", ()),
        ),
        indicator=IndicatorConfig(
            outputs=tuple(
                OutputConfig(
                    type=output["type"],
                    command=output.get("command", ()),
                    pin=output["pin"],
                    active_high=output["active_high"],
                    leds=output["leds"],
                    brightness=output["brightness"],
                    spi_bus=output["spi_bus"],
                    spi_device=output["spi_device"],
                )
                for output in indicator["outputs"]
            ),
            error_grace_seconds=indicator["error_grace_seconds"],
        ),
        log_level=conf["log_level"],
    )
