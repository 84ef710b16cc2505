"""The engine's protocol: Sotto's events beyond Wyoming's, shared by the engine and its clients.

Importing this module is cheap (only `wyoming` and the standard library), so Home
Assistant can speak to a sotto-engine without loading the engine itself.

Client -> engine                          Engine -> client
`sotto-grammar` {digest, jsgf?, words?}   `sotto-grammar-ready` {digest}, or
                                          `sotto-grammar-missing` {digest}
`transcribe`, `audio-start`,              `sotto-partial` {text, complete, can_continue}
`audio-chunk`..., `audio-stop`            ..., then `transcript` {text, accepted, confidence}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from wyoming.event import Event

GRAMMAR_TYPE: Final = "sotto-grammar"
GRAMMAR_READY_TYPE: Final = "sotto-grammar-ready"
GRAMMAR_MISSING_TYPE: Final = "sotto-grammar-missing"
PARTIAL_TYPE: Final = "sotto-partial"

# Wyoming `error` codes the engine sends.
ERROR_BAD_MESSAGE: Final = "bad-message"
ERROR_UNSUPPORTED: Final = "unsupported"
ERROR_VOICE_NOT_FOUND: Final = "voice-not-found"
ERROR_TTS_FAILED: Final = "tts-failed"
ERROR_STT_UNAVAILABLE: Final = "stt-unavailable"
ERROR_NO_GRAMMAR: Final = "no-grammar"
ERROR_GRAMMAR_FAILED: Final = "grammar-failed"
ERROR_STT_FAILED: Final = "stt-failed"

_MAX_JSGF_CHARS: Final = 4 * 1024 * 1024
_MAX_WORDS: Final = 100_000
_MAX_DIGEST_CHARS: Final = 128


class BadMessageError(ValueError):
    """An event from the client is malformed; the connection will be closed."""


# --- Sotto events of the engine protocol -------------------------------------------------


def event_data(event: Event) -> Mapping[str, Any]:
    """The event's data as a mapping (empty if none); BadMessageError if it is not one."""
    data: object = event.data  # from the wire: typed as a dict, but any JSON value
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise BadMessageError(f"{event.type}: data must be an object")
    return data


def _digest(event: Event) -> str:
    digest = event_data(event).get("digest")
    if not isinstance(digest, str) or not digest or len(digest) > _MAX_DIGEST_CHARS:
        raise BadMessageError(f"{event.type}: 'digest' must be a non-empty string")
    return digest


@dataclass(frozen=True, slots=True)
class GrammarMessage:
    """Client -> engine: use this grammar. Without jsgf, "use the one you have cached"."""

    digest: str
    jsgf: str | None = None
    words: tuple[str, ...] = ()

    @staticmethod
    def is_type(event_type: str) -> bool:
        """Whether the event type is this message's."""
        return event_type == GRAMMAR_TYPE

    def event(self) -> Event:
        """The event to send."""
        data: dict[str, Any] = {"digest": self.digest}
        if self.jsgf is not None:
            data["jsgf"] = self.jsgf
            data["words"] = list(self.words)
        return Event(type=GRAMMAR_TYPE, data=data)

    @classmethod
    def from_event(cls, event: Event) -> GrammarMessage:
        """Parse the event, raising BadMessageError when a field is wrong."""
        data = event_data(event)
        digest = _digest(event)
        jsgf = data.get("jsgf")
        if jsgf is None:
            return cls(digest=digest)
        if not isinstance(jsgf, str) or len(jsgf) > _MAX_JSGF_CHARS:
            raise BadMessageError(f"{event.type}: 'jsgf' must be a string of JSGF")
        words = data.get("words", [])
        if (
            not isinstance(words, list)
            or len(words) > _MAX_WORDS
            or not all(isinstance(word, str) for word in words)
        ):
            raise BadMessageError(f"{event.type}: 'words' must be a list of strings")
        return cls(digest=digest, jsgf=jsgf, words=tuple(words))


@dataclass(frozen=True, slots=True)
class GrammarReady:
    """Engine -> client: the grammar is compiled and used by the next transcription."""

    digest: str

    @staticmethod
    def is_type(event_type: str) -> bool:
        """Whether the event type is this message's."""
        return event_type == GRAMMAR_READY_TYPE

    def event(self) -> Event:
        """The event to send."""
        return Event(type=GRAMMAR_READY_TYPE, data={"digest": self.digest})

    @classmethod
    def from_event(cls, event: Event) -> GrammarReady:
        """Parse the event."""
        return cls(digest=_digest(event))


@dataclass(frozen=True, slots=True)
class GrammarMissing:
    """Engine -> client: send the whole grammar, the engine does not have this digest."""

    digest: str

    @staticmethod
    def is_type(event_type: str) -> bool:
        """Whether the event type is this message's."""
        return event_type == GRAMMAR_MISSING_TYPE

    def event(self) -> Event:
        """The event to send."""
        return Event(type=GRAMMAR_MISSING_TYPE, data={"digest": self.digest})

    @classmethod
    def from_event(cls, event: Event) -> GrammarMissing:
        """Parse the event."""
        return cls(digest=_digest(event))


@dataclass(frozen=True, slots=True)
class PartialTranscript:
    """Engine -> client: the hypothesis so far; complete means streaming may stop now."""

    text: str
    complete: bool
    can_continue: bool = True

    @staticmethod
    def is_type(event_type: str) -> bool:
        """Whether the event type is this message's."""
        return event_type == PARTIAL_TYPE

    def event(self) -> Event:
        """The event to send."""
        return Event(
            type=PARTIAL_TYPE,
            data={
                "text": self.text,
                "complete": self.complete,
                "can_continue": self.can_continue,
            },
        )

    @classmethod
    def from_event(cls, event: Event) -> PartialTranscript:
        """Parse the event."""
        data = event_data(event)
        text, complete = data.get("text"), data.get("complete")
        can_continue = data.get("can_continue", True)
        if not isinstance(text, str) or not isinstance(complete, bool):
            raise BadMessageError(f"{event.type}: needs 'text' and 'complete'")
        return cls(text=text, complete=complete, can_continue=bool(can_continue))


def transcript_event(text: str, *, accepted: bool, confidence: float | None) -> Event:
    """A Wyoming `transcript`, with Sotto's verdict beside the text stock readers use."""
    data: dict[str, Any] = {"text": text, "accepted": accepted}
    if confidence is not None and confidence > float("-inf"):
        data["confidence"] = round(confidence, 3)
    return Event(type="transcript", data=data)
