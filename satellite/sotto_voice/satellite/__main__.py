"""`sotto-satellite`: keygen, run and check-config.

Exit status: 0 on success, 2 for a bad configuration or bad arguments, 1 when the
satellite cannot start or stops on an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from sotto_voice.link import create_key_file

from .config import (
    DEFAULT_CONFIG_PATH,
    SatelliteConfig,
    apply_overrides,
    read_yaml,
    set_key,
    validate,
)
from .errors import ConfigError, SatelliteError

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_BAD_CONFIG: Final = 2

# Command-line flags that are shortcuts for configuration keys.
_FLAG_KEYS: Final = (
    ("name", "name", str),
    ("host", "link.host", str),
    ("port", "link.port", int),
    ("key_file", "link.key_file", str),
    ("state_dir", "state_dir", str),
    ("mic_command", "mic.command", str),
    ("mic_wav", "mic.file", str),
    ("speaker_command", "speaker.command", str),
    ("speaker_wav_dir", "speaker.directory", str),
    ("wake_word", "wake.model", str),
)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-c",
        "--config",
        type=Path,
        help=f"YAML configuration file (default: {DEFAULT_CONFIG_PATH} if it exists)",
    )
    common.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a configuration key, e.g. --set wake.sensitivity=0.6 (repeatable)",
    )
    common.add_argument("--name", help="satellite name (name)")
    common.add_argument("--host", help="address to listen on (link.host)")
    common.add_argument("--port", type=int, help="port to listen on (link.port)")
    common.add_argument("--key-file", help="link key file (link.key_file)")
    common.add_argument("--state-dir", help="where mute, settings and the ledger are kept")
    common.add_argument("--mic-command", help="command writing raw 16 kHz 16-bit mono audio")
    common.add_argument("--mic-wav", help="WAV file to use as the microphone (tests, demos)")
    common.add_argument("--speaker-command", help="command playing raw audio from stdin")
    common.add_argument("--speaker-wav-dir", help="directory to write played audio to")
    common.add_argument("--wake-word", help="wake word model (wake.model)")
    common.add_argument("--no-discovery", action="store_true", help="do not announce on zeroconf")
    common.add_argument("--debug", action="store_true", help="log debug messages")

    parser = argparse.ArgumentParser(
        prog="sotto-satellite",
        description="Sotto satellite: hears the wake word on this device, then recognises the "
        "command here or streams it to Home Assistant, over an encrypted link.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    keygen = commands.add_parser(
        "keygen", parents=[common], help="create the link key and print it for Home Assistant"
    )
    keygen.add_argument("--force", action="store_true", help="replace an existing key")
    keygen.add_argument(
        "--show", action="store_true", help="print the existing key instead of creating one"
    )
    commands.add_parser("run", parents=[common], help="run the satellite")
    commands.add_parser(
        "check-config", parents=[common], help="validate the configuration and exit"
    )
    model = commands.add_parser(
        "download-model",
        parents=[common],
        help="download the Whisper model to recognise commands on the device",
    )
    model.add_argument("model_name", nargs="?", help="default: recognition.whisper_model")
    return parser


def _load(args: argparse.Namespace) -> SatelliteConfig:
    path: Path | None = args.config
    if path is None and DEFAULT_CONFIG_PATH.exists():
        path = DEFAULT_CONFIG_PATH
    raw: dict[str, Any] = read_yaml(path) if path is not None else {}
    for attribute, key, kind in _FLAG_KEYS:
        value = getattr(args, attribute)
        if value is not None:
            raw = set_key(raw, key, kind(value))
    if args.mic_command is not None:
        raw = set_key(raw, "mic.source", "command")
    if args.mic_wav is not None:
        raw = set_key(raw, "mic.source", "wav")
    if args.speaker_command is not None:
        raw = set_key(raw, "speaker.sink", "command")
    if args.speaker_wav_dir is not None:
        raw = set_key(raw, "speaker.sink", "wav")
    if args.no_discovery:
        raw = set_key(raw, "discovery.enabled", False)
    if args.debug:
        raw = set_key(raw, "log_level", "debug")
    raw = apply_overrides(raw, args.overrides)
    return validate(raw, source=str(path) if path is not None else "configuration")


def _keygen(args: argparse.Namespace, config: SatelliteConfig) -> int:
    path = config.key_file
    if args.show:
        from sotto_voice.link import load_key_file

        try:
            print(load_key_file(path).to_base64())
        except (OSError, ValueError) as err:
            print(f"sotto-satellite: {path}: {err}", file=sys.stderr)
            return EXIT_FAILED
        return EXIT_OK
    try:
        key = create_key_file(path, overwrite=args.force)
    except FileExistsError:
        print(
            f"sotto-satellite: {path} already exists; use --show to print it or --force to "
            "replace it (Home Assistant must then be given the new key)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except OSError as err:
        print(f"sotto-satellite: cannot write {path}: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(key.to_base64())
    print(
        f"Wrote {path} (readable only by you). Enter the key above in Home Assistant when "
        "you add this satellite.",
        file=sys.stderr,
    )
    return EXIT_OK


def _check(config: SatelliteConfig) -> int:
    from .app import key_file_status, missing_extras, state_summary

    for line in state_summary(config):
        print(line)
    print(key_file_status(config.key_file))
    missing = missing_extras(config)
    if config.recognition.mode == "edge":
        from .recognition import edge_problem

        problem = edge_problem(config)
        missing += [problem] if problem else []
    for line in missing:
        print(f"sotto-satellite: {line}", file=sys.stderr)
    if missing:
        return EXIT_FAILED
    print("configuration ok")
    return EXIT_OK


def _download_model(config: SatelliteConfig, name: str | None) -> int:
    from sotto_voice.engine.stt.download import download_whisper_model_blocking
    from sotto_voice.engine.stt.errors import SttError

    try:
        where = download_whisper_model_blocking(
            name or config.recognition.whisper_model,
            config.models_dir,
            base_url=config.recognition.models_url,
        )
    except SttError as err:
        print(f"sotto-satellite: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Downloaded the Whisper model into {where}")
    return EXIT_OK


def _run(config: SatelliteConfig) -> int:
    from .app import serve  # pulls in numpy and the audio packages

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stop.set)
        await serve(config, stop=stop)

    try:
        asyncio.run(main())
    except SatelliteError as err:
        logging.getLogger("sotto_voice.satellite").error("%s", err)
        print(f"sotto-satellite: {err}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        config = _load(args)
    except ConfigError as err:
        print(f"sotto-satellite: bad configuration: {err}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    logging.basicConfig(
        level=getattr(logging, config.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "keygen":
        return _keygen(args, config)
    if args.command == "check-config":
        return _check(config)
    if args.command == "download-model":
        return _download_model(config, args.model_name)
    return _run(config)


if __name__ == "__main__":
    sys.exit(main())
