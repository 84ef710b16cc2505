"""Sotto's message vocabulary: what one side writes, the other reads back; bad fields are named."""

from __future__ import annotations

import pytest
from wyoming.audio import AudioStart, AudioStop
from wyoming.event import Event

from sotto_voice.messages import (
    Configure,
    IndicatorState,
    LedgerDay,
    MessageError,
    MuteSource,
    Purge,
    Purged,
    PushToTalk,
    RunEnded,
    SetMute,
    SottoInfo,
    SottoLedger,
    SottoState,
    StopReason,
    StopStreaming,
    StreamStart,
    StreamStop,
    StreamTrigger,
)

MESSAGES = [
    SottoInfo(
        device_id="abc123",
        name="Kitchen",
        version="0.1.0",
        wake_word_engine="micro",
        wake_words=("okay_nabu", "alexa"),
        has_hardware_mute=True,
        has_speaker=True,
        remote_wake=False,
        vad_silence_seconds=0.35,
        max_command_seconds=15.0,
    ),
    SottoState(
        muted=True,
        mute_source=MuteSource.HARDWARE,
        indicator=IndicatorState.MUTED,
        streaming=False,
        wake_word="okay_nabu",
        sensitivity=0.5,
        volume=0.8,
    ),
    SottoState(
        muted=False,
        mute_source=None,
        indicator=IndicatorState.LISTENING,
        streaming=True,
        wake_word="alexa",
        sensitivity=1.0,
        volume=0.0,
        wake_words=("alexa", "okay_nabu"),
    ),
    SottoLedger(
        wakes=3,
        push_to_talk=1,
        streams=4,
        seconds_sent=9.5,
        last_stream=1_700_000_000.5,
        days=(LedgerDay("2025-04-30", wakes=3, push_to_talk=1, streams=4, seconds_sent=9.5),),
    ),
    Purged(cleared=("ledger",)),
    SetMute(muted=True),
    Configure(wake_word="hey_jarvis", sensitivity=0.7, volume=0.3),
    Configure(volume=0.5),
    Configure(wake_words=("okay_nabu", "alexa")),
    PushToTalk(),
    StopStreaming(stream_id=7),
    StopStreaming(),
    RunEnded(stream_id=2),
    Purge(),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip(message: object) -> None:
    """Every message reads back equal to what was written."""
    event = message.event()  # type: ignore[attr-defined]
    assert type(message).from_event(event) == message  # type: ignore[attr-defined]


def test_stream_events_are_wyoming_audio_events() -> None:
    """A plain Wyoming reader understands the stream bracket; Sotto's reader gets more."""
    start = StreamStart(16000, 2, 1, StreamTrigger.WAKE_WORD, 3, timestamp=1500, wake_word="alexa")
    stop = StreamStop(StopReason.END_OF_SPEECH, 3, seconds=2.25, timestamp=3750)
    assert AudioStart.from_event(start.event()) == AudioStart(16000, 2, 1, timestamp=1500)
    assert AudioStop.from_event(stop.event()).timestamp == 3750
    assert StreamStart.is_stream_start(start.event())
    assert StreamStop.is_stream_stop(stop.event())
    assert StreamStart.from_event(start.event()) == start
    assert StreamStop.from_event(stop.event()) == stop
    # HA's own reply audio is a bare audio-start: not a satellite stream.
    assert not StreamStart.is_stream_start(AudioStart(22050, 2, 1).event())


@pytest.mark.parametrize(
    ("event", "named"),
    [
        (Event("sotto-set-mute", {}), "'muted' is required"),
        (Event("sotto-set-mute", {"muted": "yes"}), "'muted' must be true or false"),
        (Event("sotto-configure", {"sensitivity": 3}), "'sensitivity' must be between"),
        (Event("sotto-configure", {"volume": "loud"}), "'volume' must be a number"),
        (Event("sotto-configure", {"wake_word": 5}), "'wake_word' must be a string"),
        (Event("sotto-stop-streaming", {"stream_id": -1}), "'stream_id' must be a whole number"),
        (Event("sotto-state", {"muted": False}), "'indicator' is required"),
        (
            Event(
                "sotto-state",
                {
                    "muted": True,
                    "mute_source": "cat",
                    "indicator": "idle",
                    "streaming": False,
                    "wake_word": "alexa",
                    "sensitivity": 0.5,
                    "volume": 1,
                },
            ),
            "'mute_source' must be one of ha, hardware",
        ),
        (
            Event(
                "sotto-ledger",
                {"wakes": 1, "push_to_talk": 0, "streams": 0, "seconds_sent": 0, "days": "x"},
            ),
            "'days' must be a list",
        ),
        (Event("audio-stop", {"reason": "bored", "stream_id": 1, "seconds": 1}), "'reason'"),
    ],
)
def test_bad_fields_are_named(event: Event, named: str) -> None:
    """A malformed message is refused with the event type and the field in the error."""
    readers = {m.event().type: type(m).from_event for m in MESSAGES}  # type: ignore[attr-defined]
    readers["audio-stop"] = StreamStop.from_event
    with pytest.raises(MessageError, match=named) as caught:
        readers[event.type](event)
    assert event.type in str(caught.value)


def test_data_must_be_an_object() -> None:
    """Data that is not a JSON object is refused, not crashed on."""
    with pytest.raises(MessageError, match="data must be an object"):
        SetMute.from_event(Event("sotto-set-mute", ["muted"]))  # type: ignore[arg-type]
