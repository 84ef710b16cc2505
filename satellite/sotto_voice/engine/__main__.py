"""The `sotto-engine` command: keygen, check-config, download, download-model, voices, say, run.

Exit status: 0 on success, 1 when something failed at run time (a download, a port in
use), 2 when the configuration or the command line is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import wave
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from sotto_voice.errors import SottoError

from .config import DEFAULT_CONFIG_PATH, EngineConfig, EngineConfigError, load_config
from .tts import TextToSpeech, TtsError, TtsSettings

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_CONFIG: Final = 2

_LOGGER = logging.getLogger("sotto_voice.engine")


class _Failed(SottoError):
    """A run-time failure already worded for the user."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sotto-engine",
        description="Sotto's speech engines (text-to-speech, speech-to-text) over the secure link.",
    )
    config_help = f"YAML configuration file (default: {DEFAULT_CONFIG_PATH} if it exists)"
    parser.add_argument("-c", "--config", type=Path, default=None, help=config_help)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    # The same options after the command name (`sotto-engine run -c engine.yaml`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", type=Path, default=argparse.SUPPRESS, help=config_help)
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log debug"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    keygen = commands.add_parser(
        "keygen", parents=[common], help="create the link key file and print the key"
    )
    keygen.add_argument("--key-file", type=Path, help="where to write it (default: from config)")
    keygen.add_argument("--force", action="store_true", help="replace an existing key file")

    commands.add_parser(
        "check-config", parents=[common], help="validate the configuration and report on it"
    )

    download = commands.add_parser(
        "download", parents=[common], help="download piper voices by name"
    )
    download.add_argument("voices", nargs="+", metavar="VOICE", help="e.g. en_US-lessac-medium")

    model = commands.add_parser(
        "download-model",
        parents=[common],
        help="download the Whisper model by name into the models directory",
    )
    model.add_argument("name", nargs="?", help="default: stt.whisper_model (tiny.en)")

    commands.add_parser(
        "voices", parents=[common], help="list the voices this engine can speak with"
    )

    say = commands.add_parser(
        "say", parents=[common], help="synthesise text into a WAV file (to try a voice)"
    )
    say.add_argument("text")
    say.add_argument("-o", "--output", type=Path, required=True, help="WAV file to write")
    say.add_argument("--voice", help="voice name (default: the engine's default voice)")

    run = commands.add_parser(
        "run", parents=[common], help="serve until stopped (SIGTERM or Ctrl-C)"
    )
    run.add_argument(
        "--discovery",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="announce the engine over zeroconf (overrides discovery.enabled)",
    )
    return parser


def _config(path: Path | None) -> EngineConfig:
    if path is None:
        return load_config(DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None)
    return load_config(path)


def _tts_settings(config: EngineConfig) -> TtsSettings:
    return TtsSettings(
        voices_dir=config.voices_dir,
        default_voice=config.tts.default_voice,
        espeak_voice=config.tts.espeak_voice,
        voices_url=config.tts.voices_url,
    )


def _keygen(config: EngineConfig, key_file: Path | None, *, force: bool) -> int:
    from sotto_voice.link import create_key_file

    path = key_file or config.key_file
    try:
        key = create_key_file(path, overwrite=force)
    except FileExistsError:
        print(
            f"sotto-engine: {path} already exists; pass --force to replace it "
            "(every paired Home Assistant must then be given the new key)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except OSError as err:
        print(f"sotto-engine: cannot write {path}: {err.strerror}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Wrote the link key to {path} (mode 0600).", file=sys.stderr)
    print("Give this key to Home Assistant when adding the engine:", file=sys.stderr)
    print(key.to_base64())
    return EXIT_OK


def _check_config(config: EngineConfig, source: Path | None) -> int:
    from .server import read_key
    from .tts.espeak import espeak_executable
    from .tts.piper_voice import piper_available
    from .tts.voices import scan_voices

    print(f"Configuration: {source or 'built-in defaults'}: valid")
    print(f"  name: {config.name}")
    print(f"  listen: {config.link.host}:{config.link.port}")
    print(f"  discovery: {'on' if config.discovery.enabled else 'off'}")
    try:
        key = read_key(config)
    except EngineConfigError as err:
        print(f"sotto-engine: {err}", file=sys.stderr)
        return EXIT_CONFIG
    print(f"  link key: {config.key_file} (fingerprint {key.fingerprint})")
    voices = scan_voices(config.voices_dir)
    print(f"  voices directory: {config.voices_dir} ({len(voices)} piper voice(s))")
    piper = piper_available()
    espeak = espeak_executable()
    print(f"  piper-tts: {'installed' if piper else 'not installed'}")
    print(f"  espeak-ng: {espeak or 'not installed'}")
    default = config.tts.default_voice
    if default and not default.startswith("espeak-ng") and default not in {v.name for v in voices}:
        print(
            f"  warning: tts.default_voice {default} is not installed; "
            f"run `sotto-engine download {default}`",
        )
    if not (espeak or (piper and voices)):
        print(
            "sotto-engine: no voice can speak: install espeak-ng or piper-tts with a voice",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    return EXIT_OK


async def _download(config: EngineConfig, names: Sequence[str]) -> int:
    from .tts import download_voice

    status = EXIT_OK
    for name in names:
        try:
            voice = await download_voice(name, config.voices_dir, base_url=config.tts.voices_url)
        except TtsError as err:
            print(f"sotto-engine: {err}", file=sys.stderr)
            status = EXIT_FAILED
            continue
        print(f"Downloaded {voice.name} into {config.voices_dir}")
    return status


async def _download_model(config: EngineConfig, name: str | None) -> int:
    from .stt.download import download_whisper_model
    from .stt.errors import SttError

    try:
        where = await download_whisper_model(name or config.stt.whisper_model, config.models_dir)
    except SttError as err:
        print(f"sotto-engine: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Downloaded the Whisper model into {where}")
    return EXIT_OK


async def _voices(config: EngineConfig) -> int:
    async with TextToSpeech(_tts_settings(config)) as tts:
        default = tts.default_voice
        for voice in tts.voices():
            marker = " (default)" if voice.name == default else ""
            print(f"{voice.name}\t{voice.engine}\t{','.join(voice.languages)}{marker}")
    return EXIT_OK


async def _say(config: EngineConfig, text: str, output: Path, voice: str | None) -> int:
    async with TextToSpeech(_tts_settings(config)) as tts:
        try:
            audio = await tts.synthesize(text, voice=voice)
        except TtsError as err:
            print(f"sotto-engine: {err}", file=sys.stderr)
            return EXIT_FAILED
    with wave.open(str(output), "wb") as wav:
        wav.setframerate(audio.format.rate)
        wav.setsampwidth(audio.format.width)
        wav.setnchannels(audio.format.channels)
        wav.writeframes(audio.audio)
    print(f"Wrote {audio.seconds:.2f} s spoken by {audio.voice} to {output}")
    return EXIT_OK


async def _run(config: EngineConfig) -> int:
    from .server import running_engine

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not possible off the main thread or on Windows: then only Ctrl-C stops it.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    try:
        async with running_engine(config):
            await stop.wait()
    except OSError as err:
        raise _Failed(f"cannot listen on {config.link.host}:{config.link.port}: {err}") from err
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)
    _LOGGER.info("Engine stopped")
    return EXIT_OK


def _command(args: argparse.Namespace, config: EngineConfig) -> int:
    """Run the command the arguments name (the engine itself without one)."""
    commands: dict[str, Callable[[], int]] = {
        "keygen": lambda: _keygen(config, args.key_file, force=args.force),
        "check-config": lambda: _check_config(config, args.config),
        "download": lambda: asyncio.run(_download(config, args.voices)),
        "download-model": lambda: asyncio.run(_download_model(config, args.name)),
        "voices": lambda: asyncio.run(_voices(config)),
        "say": lambda: asyncio.run(_say(config, args.text, args.output, args.voice)),
    }
    return commands.get(args.command, lambda: asyncio.run(_run(config)))()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sotto-engine command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        config = _config(args.config)
        if getattr(args, "discovery", None) is not None:
            from dataclasses import replace

            config = replace(config, discovery=replace(config.discovery, enabled=args.discovery))
        level = logging.DEBUG if args.verbose else getattr(logging, config.log_level.upper())
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return _command(args, config)
    except EngineConfigError as err:
        print(f"sotto-engine: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except _Failed as err:
        print(f"sotto-engine: {err}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
