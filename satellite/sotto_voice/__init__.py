"""Sotto: a private, local voice assistant library (secure link, satellite, engines)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sotto-voice")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
