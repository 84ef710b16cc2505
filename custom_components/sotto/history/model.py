"""One interaction with a satellite, as the pipeline bridge records it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Trigger(StrEnum):
    """How an interaction started."""

    WAKE_WORD = "wake_word"
    PUSH_TO_TALK = "push_to_talk"
    REMOTE_WAKE = "remote_wake"
    ANNOUNCEMENT = "announcement"


class Outcome(StrEnum):
    """How an interaction ended."""

    HANDLED = "handled"
    NOT_UNDERSTOOD = "not_understood"
    NO_SPEECH = "no_speech"
    ERROR = "error"
    INTERRUPTED = "interrupted"


class RecognizedOn(StrEnum):
    """Where a command was recognised (None in a row: by Home Assistant or its engine)."""

    SATELLITE = "satellite"
    """On the satellite itself: only the text left the room."""


@dataclass(slots=True)
class Interaction:
    """Everything one command produced; filled in as the pipeline runs.

    The transcript and response are private: they are written only to the history
    store (if the user keeps transcripts), never to logs, states or event attributes.
    """

    started_at: datetime
    satellite_id: str
    satellite_name: str
    trigger: Trigger
    area: str | None = None
    wake_word: str | None = None
    transcript: str | None = None
    intent_response: str | None = None
    """HA's response type: action_done, query_answer or error."""
    targets: list[str] = field(default_factory=list)
    """Entity IDs the command acted on."""
    outcome: Outcome = Outcome.INTERRUPTED
    response_text: str | None = None
    error_code: str | None = None
    audio_seconds: float | None = None
    """Seconds of audio the satellite sent for this command."""
    recognized_on: RecognizedOn | None = None
    """Where the command was recognised: None means from audio sent to Home Assistant."""
    stt_ms: float | None = None
    intent_ms: float | None = None
    total_ms: float | None = None
    audio: bytes | None = None
    """The command's audio, only while the user has opted in to keeping audio."""
