"""Errors raised by text-to-speech."""

from __future__ import annotations

from sotto_voice.errors import SottoError


class TtsError(SottoError):
    """Root of every text-to-speech error."""


class InvalidVoiceNameError(TtsError):
    """A voice name does not follow piper's <lang>_<REGION>-<dataset>-<quality> form."""


class VoiceNotFoundError(TtsError):
    """The requested voice is not installed (or not in the voice catalogue)."""


class VoiceLoadError(TtsError):
    """An installed voice could not be loaded."""


class DownloadError(TtsError):
    """A voice could not be downloaded."""


class SynthesisError(TtsError):
    """Text could not be turned into audio."""
