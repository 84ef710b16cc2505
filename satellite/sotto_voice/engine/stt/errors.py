"""The speech-to-text exception tree."""

from __future__ import annotations

from sotto_voice.errors import SottoError


class SttError(SottoError):
    """Base class for every speech-to-text error."""


class HomeError(SttError):
    """The description of the home is unusable (empty, malformed, or unspeakable)."""


class GrammarError(SttError):
    """A grammar could not be built, parsed, or loaded into the decoder."""


class PronunciationError(SttError):
    """A word has no dictionary entry and no pronunciation could be generated for it."""


class RecognizerError(SttError):
    """The recogniser was used wrongly (for example audio fed after finish)."""
