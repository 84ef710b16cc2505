"""The grammar as it travels: JSGF text plus its words (no hassil needed to use one)."""

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
