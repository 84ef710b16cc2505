"""The demo's command line, which needs nothing beyond the standard library."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Final

SERVE_PORT: Final = 8123
EXIT_FAILED: Final = 1
EXIT_SETUP: Final = 2
DESCRIPTION: Final = """\
A real home, a spoken scenario, a timeline.

A real Home Assistant with Sotto, a Sotto engine and two satellites on 127.0.0.1; espeak-ng
speaks each command into a satellite's microphone, and every step checks what a user
would notice. Exit status 0 only if every check passed, 1 if one failed, 2 if it could
not start. ./scripts/test runs it too.
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The demo's command line."""
    parser = argparse.ArgumentParser(
        prog="./scripts/demo",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help=f"after the scenario, speak a command in each room (for the Voice history "
        f"panel) and keep Home Assistant at http://127.0.0.1:{SERVE_PORT}",
    )
    parser.add_argument(
        "--mic",
        action="store_true",
        help="the kitchen satellite uses the default microphone and speaker (arecord/aplay)",
    )
    parser.add_argument(
        "--screenshot",
        type=Path,
        metavar="PNG",
        help="with --serve: photograph the kitchen satellite's device page, then exit",
    )
    args = parser.parse_args(argv)
    if args.screenshot and not args.serve:
        parser.error("--screenshot needs --serve")
    if args.mic:
        missing = [tool for tool in ("arecord", "aplay") if shutil.which(tool) is None]
        if missing:
            parser.error(f"--mic needs {' and '.join(missing)}: apt-get install -y alsa-utils")
    return args
