"""The engine's protocol: Sotto's events beyond Wyoming's, shared by the engine and its clients.

Importing this module is cheap (only `wyoming`, the standard library and
`sotto_voice.messages`, whose `Message` base these messages share), so Home Assistant can
speak to a sotto-engine without loading the engine itself.

Client -> engine                          Engine -> client
`sotto-grammar` {digest, jsgf?, words?}   `sotto-grammar-ready` {digest}, or
                                          `sotto-grammar-missing` {digest}
`transcribe`, `audio-start`,              `sotto-partial` {text, complete, can_continue}
`audio-chunk`..., `audio-stop`            ..., then `transcript` {text, accepted, confidence}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from wyoming.event import Event

from sotto_voice.messages import Message, limits

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

_DIGEST: Final = limits(min_len=1, max_len=128)


# --- Sotto events of the engine protocol (a bad field raises MessageError) ---------------


@dataclass(frozen=True, slots=True)
class GrammarMessage(Message):
    """Client -> engine: use this grammar. Without jsgf, "use the one you have cached"."""

    TYPE: ClassVar[str] = GRAMMAR_TYPE

    digest: str = field(metadata=_DIGEST)
    jsgf: str | None = field(
        default=None, metadata=limits(max_len=4 * 1024 * 1024, omit_default=True)
    )
    words: tuple[str, ...] = field(default=(), metadata=limits(max_len=100_000, omit_default=True))


@dataclass(frozen=True, slots=True)
class GrammarReady(Message):
    """Engine -> client: the grammar is compiled and used by the next transcription."""

    TYPE: ClassVar[str] = GRAMMAR_READY_TYPE

    digest: str = field(metadata=_DIGEST)


@dataclass(frozen=True, slots=True)
class GrammarMissing(Message):
    """Engine -> client: send the whole grammar, the engine does not have this digest."""

    TYPE: ClassVar[str] = GRAMMAR_MISSING_TYPE

    digest: str = field(metadata=_DIGEST)


@dataclass(frozen=True, slots=True)
class PartialTranscript(Message):
    """Engine -> client: the hypothesis so far; complete means streaming may stop now."""

    TYPE: ClassVar[str] = PARTIAL_TYPE

    text: str
    complete: bool
    can_continue: bool = True


def transcript_event(text: str, *, accepted: bool, confidence: float | None) -> Event:
    """A Wyoming `transcript`, with Sotto's verdict beside the text stock readers use."""
    data: dict[str, Any] = {"text": text, "accepted": accepted}
    if confidence is not None and confidence > float("-inf"):
        data["confidence"] = round(confidence, 3)
    return Event(type="transcript", data=data)
