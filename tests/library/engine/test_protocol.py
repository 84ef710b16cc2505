"""The engine's messages: what one side writes, the other reads back; bad fields are named."""

from __future__ import annotations

import pytest
from wyoming.event import Event

from sotto_voice.engine.protocol import (
    GrammarMessage,
    GrammarMissing,
    GrammarReady,
    PartialTranscript,
)
from sotto_voice.messages import MessageError

MESSAGES = [
    GrammarMessage(digest="abc"),
    GrammarMessage("abc", "#JSGF V1.0;\ngrammar g;\npublic <r> = hello;\n", ("hello",)),
    GrammarReady(digest="abc"),
    GrammarMissing(digest="abc"),
    PartialTranscript(text="turn on", complete=False),
    PartialTranscript(text="turn on the light", complete=True, can_continue=False),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip(message: GrammarMessage | GrammarReady | PartialTranscript) -> None:
    """Every message reads back equal to what was written."""
    assert type(message).from_event(message.event()) == message


def test_a_cached_grammar_is_asked_for_by_digest_alone() -> None:
    """Without JSGF the request carries only the digest: "use the one you have"."""
    assert GrammarMessage(digest="abc").event().data == {"digest": "abc"}


@pytest.mark.parametrize(
    ("event", "named"),
    [
        (Event("sotto-grammar", {"digest": ""}), "'digest' must have at least 1"),
        (Event("sotto-grammar", {"digest": "x" * 129}), "'digest' must have at least 1"),
        (Event("sotto-grammar", {"digest": "abc", "jsgf": 7}), "'jsgf' must be a string"),
        (
            Event("sotto-grammar", {"digest": "abc", "jsgf": "#JSGF", "words": "turn on"}),
            "'words' must be a list",
        ),
        (Event("sotto-grammar-ready", {}), "'digest' is required"),
        (Event("sotto-partial", {"text": "hi"}), "'complete' is required"),
        (Event("sotto-partial", {"text": 5, "complete": True}), "'text' must be a string"),
    ],
)
def test_bad_fields_are_named(event: Event, named: str) -> None:
    """A malformed message is refused with the event type and the field in the error."""
    readers = {m.event().type: type(m).from_event for m in MESSAGES}
    with pytest.raises(MessageError, match=named) as caught:
        readers[event.type](event)
    assert event.type in str(caught.value)


def test_a_message_of_another_type_is_refused() -> None:
    """Reading the wrong event type is an error, not a silently empty message."""
    with pytest.raises(MessageError, match="expected a 'sotto-grammar-ready' event"):
        GrammarReady.from_event(Event("sotto-grammar-missing", {"digest": "abc"}))
