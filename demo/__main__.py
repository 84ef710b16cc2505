"""`python -m demo` (./scripts/demo)."""

from __future__ import annotations

import importlib
import sys

from .cli import parse_args


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, then run the demo (which imports Home Assistant)."""
    args = parse_args(argv)
    # Only running needs Home Assistant: --help answers on any Python, before any setup.
    app = importlib.import_module("demo.app")
    status: int = app.run_demo(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
