"""What travels between recognisers and their users: the grammar (JSGF text plus its
words, no hassil needed to use one) and the results (no pocketsphinx needed to read one)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import GrammarError


@dataclass(frozen=True, slots=True)
class Grammar:
    """A compiled-to-text grammar: JSGF plus every word it uses, ready to send over the link."""

    jsgf: str
    words: tuple[str, ...]
    sentences: int = 0
    skipped: tuple[str, ...] = field(default=(), compare=False)

    @property
    def digest(self) -> str:
        """A stable hash of the grammar, the key the recogniser caches compiled searches by."""
        return hashlib.sha256(self.jsgf.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of the grammar."""
        return {"jsgf": self.jsgf, "words": list(self.words)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Grammar:
        """Rebuild a grammar from its JSON form."""
        jsgf, words = data.get("jsgf"), data.get("words")
        if not isinstance(jsgf, str) or not jsgf.startswith("#JSGF"):
            raise GrammarError("grammar has no JSGF text")
        if not isinstance(words, list) or not all(isinstance(word, str) for word in words):
            raise GrammarError("grammar words must be a list of strings")
        return cls(jsgf=jsgf, words=tuple(words))


@dataclass(frozen=True, slots=True)
class Partial:
    """The hypothesis so far and whether it already is a whole command."""

    text: str
    complete: bool
    """The words so far form a sentence of the grammar: streaming may stop early."""
    can_continue: bool
    """A longer sentence could still follow (wait for a short pause before stopping)."""


@dataclass(frozen=True, slots=True)
class Result:
    """The final recognition result."""

    text: str | None
    """The recognised command, or None when the speech was not a command (rejected)."""
    hypothesis: str
    """The best grammar sentence even when rejected (for diagnostics only)."""
    confidence: float
    """Per-frame score margin of the grammar path over the free phone loop."""
    threshold: float
    frames: int
    dictation: str | None = None
    """Free dictation of the same audio, only when the recogniser was asked for it."""

    @property
    def accepted(self) -> bool:
        """True if the speech was recognised as a command."""
        return self.text is not None
