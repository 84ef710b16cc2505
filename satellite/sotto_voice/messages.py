"""Sotto's event vocabulary beyond Wyoming's, shared by the satellite and Home Assistant.

Every message is a small frozen dataclass with `event()`, `from_event()` and `is_type()`,
in the style of the `wyoming` package, so both ends speak the same types. This module
imports only `wyoming` and the standard library: the Home Assistant integration imports it.

Satellite -> Home Assistant
    `sotto-info`, `sotto-state`, `sotto-ledger`, `sotto-purged`; Wyoming `detection` and
    `run-pipeline` when a command starts; the command's audio as `audio-start`
    (`StreamStart`), `audio-chunk`..., `audio-stop` (`StreamStop`); `played` after a
    reply has been played; Wyoming `error`.
Home Assistant -> satellite
    `sotto-set-mute`, `sotto-configure`, `sotto-push-to-talk`, `sotto-stop-streaming`,
    `sotto-run-ended`, `sotto-purge`, Wyoming `describe`; a reply to play as
    `audio-start`, `audio-chunk`..., `audio-stop`; Wyoming `error`.

`StreamStart` and `StreamStop` are Wyoming's own `audio-start` and `audio-stop` with extra
fields, so any Wyoming reader still understands them. They bracket the audio on the wire
exactly: the first is sent before the first audio byte and the second after the last, so
the "recording" entity in Home Assistant is driven by them and never guessed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, TypeVar

from wyoming.event import Event

PROTOCOL_VERSION: Final = 1
"""Bumped when a message changes incompatibly."""

INFO_TYPE: Final = "sotto-info"
STATE_TYPE: Final = "sotto-state"
LEDGER_TYPE: Final = "sotto-ledger"
PURGED_TYPE: Final = "sotto-purged"
SET_MUTE_TYPE: Final = "sotto-set-mute"
CONFIGURE_TYPE: Final = "sotto-configure"
PUSH_TO_TALK_TYPE: Final = "sotto-push-to-talk"
STOP_STREAMING_TYPE: Final = "sotto-stop-streaming"
RUN_ENDED_TYPE: Final = "sotto-run-ended"
PURGE_TYPE: Final = "sotto-purge"
STREAM_START_TYPE: Final = "audio-start"
STREAM_STOP_TYPE: Final = "audio-stop"

# Codes the satellite puts in Wyoming `error` events it sends.
ERROR_BAD_MESSAGE: Final = "bad-message"
ERROR_HARDWARE_MUTE: Final = "hardware-mute"
ERROR_MUTED: Final = "muted"
ERROR_UNKNOWN_WAKE_WORD: Final = "unknown-wake-word"
ERROR_NO_SPEAKER: Final = "no-speaker"
ERROR_BUSY: Final = "busy"


class MessageError(ValueError):
    """An event that claims a Sotto type but whose fields are wrong."""


class MuteSource(StrEnum):
    """Who muted the satellite."""

    HA = "ha"
    HARDWARE = "hardware"


class IndicatorState(StrEnum):
    """What the satellite's indicator shows."""

    IDLE = "idle"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    MUTED = "muted"
    ERROR = "error"


class StreamTrigger(StrEnum):
    """What started a stream of audio to Home Assistant."""

    WAKE_WORD = "wake_word"
    PUSH_TO_TALK = "push_to_talk"
    REMOTE_WAKE = "remote_wake"


class StopReason(StrEnum):
    """Why a stream of audio to Home Assistant stopped."""

    END_OF_SPEECH = "end_of_speech"
    NO_SPEECH = "no_speech"
    MAX_LENGTH = "max_length"
    HA_COMPLETE = "ha_complete"
    MUTED = "muted"
    PLAYBACK = "playback"
    DISCONNECTED = "disconnected"
    ERROR = "error"


_E = TypeVar("_E", bound=StrEnum)


# --- field readers: every bad field gets an error naming the event and the field --------


def _data(event: Event) -> Mapping[str, Any]:
    data: object = event.data  # from the wire: typed as a dict, but any JSON value
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise MessageError(f"{event.type}: data must be an object, got {type(data).__name__}")
    return data


def _missing(event: Event, key: str) -> MessageError:
    return MessageError(f"{event.type}: '{key}' is required")


def _bool(event: Event, key: str, default: bool | None = None) -> bool:
    value = _data(event).get(key, default)
    if value is None:
        raise _missing(event, key)
    if not isinstance(value, bool):
        raise MessageError(f"{event.type}: '{key}' must be true or false, got {value!r}")
    return value


def _str(event: Event, key: str) -> str:
    value = _data(event).get(key)
    if value is None:
        raise _missing(event, key)
    if not isinstance(value, str):
        raise MessageError(f"{event.type}: '{key}' must be a string, got {value!r}")
    return value


def _opt_str(event: Event, key: str) -> str | None:
    if _data(event).get(key) is None:
        return None
    return _str(event, key)


def _int(event: Event, key: str, default: int | None = None) -> int:
    value = _data(event).get(key, default)
    if value is None:
        raise _missing(event, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MessageError(f"{event.type}: '{key}' must be a whole number >= 0, got {value!r}")
    return int(value)


def _opt_int(event: Event, key: str) -> int | None:
    if _data(event).get(key) is None:
        return None
    return _int(event, key)


def _float(
    event: Event, key: str, low: float = 0.0, high: float = math.inf, default: float | None = None
) -> float:
    value = _data(event).get(key, default)
    if value is None:
        raise _missing(event, key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MessageError(f"{event.type}: '{key}' must be a number, got {value!r}")
    number = float(value)
    if not low <= number <= high:
        raise MessageError(f"{event.type}: '{key}' must be between {low} and {high}, got {value}")
    return number


def _opt_float(event: Event, key: str, low: float = 0.0, high: float = math.inf) -> float | None:
    if _data(event).get(key) is None:
        return None
    return _float(event, key, low, high)


def _enum(event: Event, key: str, enum: type[_E]) -> _E:
    value = _str(event, key)
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise MessageError(
            f"{event.type}: '{key}' must be one of {allowed}, got {value!r}"
        ) from None


def _check_type(event: Event, expected: str) -> None:
    if event.type != expected:
        raise MessageError(f"expected a '{expected}' event, got '{event.type}'")


def _names(event: Event, key: str) -> tuple[str, ...]:
    value = _data(event).get(key, [])
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise MessageError(f"{event.type}: '{key}' must be a list of strings, got {value!r}")
    return tuple(value)


# --- satellite -> Home Assistant ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SottoInfo:
    """What a satellite is and can do; sent when a controller connects and on `describe`."""

    device_id: str
    """Stable id of the satellite (also in its zeroconf TXT record)."""

    name: str
    """Name the user gave the satellite."""

    version: str
    """Version of the `sotto` library it runs."""

    wake_word_engine: str
    """`micro` (pymicro-wakeword) or `openwakeword` (pyopen-wakeword)."""

    wake_words: tuple[str, ...]
    """Wake words the satellite can listen for; one of them is active (see `SottoState`)."""

    has_hardware_mute: bool
    """True if a button or switch on the device can mute it."""

    has_speaker: bool
    """True if the satellite can play replies and announcements."""

    remote_wake: bool
    """True if the satellite streams all the time and Home Assistant finds the wake word.

    Only when the satellite's own configuration enables it; never switched on remotely.
    """

    vad_silence_seconds: float
    """Silence that ends a command, decided on the satellite."""

    max_command_seconds: float
    """Hard limit on the length of one stream."""

    protocol: int = PROTOCOL_VERSION
    """Version of this message vocabulary."""

    @staticmethod
    def is_type(event_type: str) -> bool:
        """Return True for `sotto-info`."""
        return event_type == INFO_TYPE

    def event(self) -> Event:
        """Return the Wyoming event."""
        return Event(
            INFO_TYPE,
            {
                "device_id": self.device_id,
                "name": self.name,
                "version": self.version,
                "wake_word_engine": self.wake_word_engine,
                "wake_words": list(self.wake_words),
                "has_hardware_mute": self.has_hardware_mute,
                "has_speaker": self.has_speaker,
                "remote_wake": self.remote_wake,
                "vad_silence_seconds": self.vad_silence_seconds,
                "max_command_seconds": self.max_command_seconds,
                "protocol": self.protocol,
            },
        )

    @staticmethod
    def from_event(event: Event) -> SottoInfo:
        """Read the message from a Wyoming event (raises MessageError)."""
        _check_type(event, INFO_TYPE)
        return SottoInfo(
            device_id=_str(event, "device_id"),
            name=_str(event, "name"),
            version=_str(event, "version"),
            wake_word_engine=_str(event, "wake_word_engine"),
            wake_words=_names(event, "wake_words"),
            has_hardware_mute=_bool(event, "has_hardware_mute"),
            has_speaker=_bool(event, "has_speaker"),
            remote_wake=_bool(event, "remote_wake"),
            vad_silence_seconds=_float(event, "vad_silence_seconds"),
            max_command_seconds=_float(event, "max_command_seconds"),
            protocol=_int(event, "protocol", PROTOCOL_VERSION),
        )


@dataclass(frozen=True, slots=True)
class SottoState:
    """The satellite's state; sent on connect and after every change."""

    muted: bool
    """True while the microphone is closed (the capture process is stopped)."""

    mute_source: MuteSource | None
    """Who muted it; a hardware mute cannot be undone from Home Assistant."""

    indicator: IndicatorState
    """What the indicator shows."""

    streaming: bool
    """True while audio is leaving the satellite."""

    wake_word: str
    """The active wake word."""

    sensitivity: float
    """Wake word sensitivity, 0 (hardly ever) to 1 (very easily); 0.5 is the model's own."""

    volume: float
    """Playback volume, 0 to 1."""

    @staticmethod
    def is_type(event_type: str) -> bool:
        """Return True for `sotto-state`."""
        return event_type == STATE_TYPE

    def event(self) -> Event:
        """Return the Wyoming event."""
        return Event(
            STATE_TYPE,
            {
                "muted": self.muted,
                "mute_source": None if self.mute_source is None else self.mute_source.value,
                "indicator": self.indicator.value,
                "streaming": self.streaming,
                "wake_word": self.wake_word,
                "sensitivity": self.sensitivity,
                "volume": self.volume,
            },
        )

    @staticmethod
    def from_event(event: Event) -> SottoState:
        """Read the message from a Wyoming event (raises MessageError)."""
        _check_type(event, STATE_TYPE)
        source = (
            None
            if _data(event).get("mute_source") is None
            else _enum(event, "mute_source", MuteSource)
        )
        return SottoState(
            muted=_bool(event, "muted"),
            mute_source=source,
            indicator=_enum(event, "indicator", IndicatorState),
            streaming=_bool(event, "streaming"),
            wake_word=_str(event, "wake_word"),
            sensitivity=_float(event, "sensitivity", 0.0, 1.0),
            volume=_float(event, "volume", 0.0, 1.0),
        )


@dataclass(frozen=True, slots=True)
class LedgerDay:
    """One day of the privacy ledger (the satellite's local date)."""

    date: str
    """ISO date, e.g. 2025-04-30."""

    wakes: int = 0
    push_to_talk: int = 0
    streams: int = 0
    seconds_sent: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Return the day as JSON-ready data."""
        return {
            "date": self.date,
            "wakes": self.wakes,
            "push_to_talk": self.push_to_talk,
            "streams": self.streams,
            "seconds_sent": round(self.seconds_sent, 3),
        }

    @staticmethod
    def from_dict(data: Any, where: str = LEDGER_TYPE) -> LedgerDay:
        """Read a day from JSON data (raises MessageError)."""
        if not isinstance(data, Mapping):
            raise MessageError(f"{where}: each day must be an object, got {data!r}")
        fake = Event(where, dict(data))
        return LedgerDay(
            date=_str(fake, "date"),
            wakes=_int(fake, "wakes", 0),
            push_to_talk=_int(fake, "push_to_talk", 0),
            streams=_int(fake, "streams", 0),
            seconds_sent=_float(fake, "seconds_sent", default=0.0),
        )


@dataclass(frozen=True, slots=True)
class SottoLedger:
    """The privacy ledger: what the satellite has sent, counted on the device itself."""

    wakes: int
    """Wake words heard on the device (whether or not audio could be sent)."""

    push_to_talk: int
    """Streams started by push-to-talk (button or Home Assistant)."""

    streams: int
    """Streams of audio sent, whatever started them."""

    seconds_sent: float
    """Seconds of audio sent in total."""

    last_stream: float | None
    """When the last stream ended, seconds since the Unix epoch (UTC), or None."""

    days: tuple[LedgerDay, ...] = ()
    """Per-day counters, oldest first, for the most recent days."""

    @staticmethod
    def is_type(event_type: str) -> bool:
        """Return True for `sotto-ledger`."""
        return event_type == LEDGER_TYPE

    def event(self) -> Event:
        """Return the Wyoming event."""
        return Event(
            LEDGER_TYPE,
            {
                "wakes": self.wakes,
                "push_to_talk": self.push_to_talk,
                "streams": self.streams,
                "seconds_sent": round(self.seconds_sent, 3),
                "last_stream": self.last_stream,
                "days": [day.as_dict() for day in self.days],
            },
        )

    @staticmethod
    def from_event(event: Event) -> SottoLedger:
        """Read the message from a Wyoming event (raises MessageError)."""
        _check_type(event, LEDGER_TYPE)
        days = _data(event).get("days", [])
        if not isinstance(days, list | tuple):
            raise MessageError(f"{event.type}: 'days' must be a list, got {days!r}")
        return SottoLedger(
            wakes=_int(event, "wakes"),
            push_to_talk=_int(event, "push_to_talk"),
            streams=_int(event, "streams"),
            seconds_sent=_float(event, "seconds_sent"),
            last_stream=_opt_float(event, "last_stream"),
            days=tuple(LedgerDay.from_dict(day) for day in days),
        )


@dataclass(frozen=True, slots=True)
class Purged:
    """Answer to `sotto-purge`: what the satellite cleared."""

    cleared: tuple[str, ...]
    """Names of what was cleared, e.g. `ledger`, `audio_buffers`."""

    @staticmethod
    def is_type(event_type: str) -> bool:
        """Return True for `sotto-purged`."""
        return event_type == PURGED_TYPE

    def event(self) -> Event:
        """Return the Wyoming event."""
        return Event(PURGED_TYPE, {"cleared": list(self.cleared)})

    @staticmethod
    def from_event(event: Event) -> Purged:
        """Read the message from a Wyoming event (raises MessageError)."""
        _check_type(event, PURGED_TYPE)
        return Purged(cleared=_names(event, "cleared"))


@dataclass(frozen=True, slots=True)
class StreamStart:
    """Audio is about to leave the satellite (Wyoming `audio-start` plus why and which)."""

    rate: int
    width: int
    channels: int
    trigger: StreamTrigger
    """What started the stream."""

    stream_id: int
    """Counts up from 1 for each stream since the satellite started."""

    timestamp: int | None = None
    """Milliseconds of captured audio before the stream's first sample."""

    wake_word: str | None = None
    """The wake word heard, for `wake_word` streams."""

    @staticmethod
    def is_type(event_type: str) -> bool:
        """Return True for `audio-start` (check `is_stream_start` for Sotto's extra fields)."""
        return event_type == STREAM_START_TYPE

    @staticmethod
    def is_stream_start(event: Event) -> bool:
        """Return True if the event is an `audio-start` that carries a Sotto trigger."""
        return event.type == STREAM_START_TYPE and "trigger" in _data(event)

    def event(self) -> Event:
        """Return the Wyoming event."""
        return Event(
            STREAM_START_TYPE,
            {
                "rate": self.rate,
                "width": self.width,
                "channels": self.channels,
                "timestamp": self.timestamp,
                "trigger": self.trigger.value,
                "stream_id": self.stream_id,
                "wake_word": self.wake_word,
            },
        )

    @staticmethod
    def from_event(event: Event) -> StreamStart:
        """Read the message from a Wyoming event (raises MessageError)."""
        _check_type(event, STREAM_START_TYPE)
        return StreamStart(
            rate=_int(event, "rate"),
            width=_int(event, "width"),
            channels=_int(event, "channels"),
            trigger=_enum(event, "trigger", StreamTrigger),
            stream_id=_int(event, "stream_id"),
            timestamp=_opt_int(event, "timestamp"),
            wake_word=_opt_str(event, "wake_word"),
        )


@dataclass(frozen=True, slots=True)
class StreamStop:
    """No more audio leaves the satellite (Wyoming `audio-stop` plus why)."""

    reason: StopReason
    """Why the stream stopped."""

    stream_id: int
    """The stream that stopped."""

    seconds: float
    """Seconds of audio the stream sent."""

    timestamp: int | None = None
    """Milliseconds of captured audio after the stream's last sample."""

    @staticmethod
    def is_type(event_type: str) -> bool:
        """Return True for `audio-stop` (check `is_stream_stop` for Sotto's extra fields)."""
        return event_type == STREAM_STOP_TYPE

    @staticmethod
    def is_stream_stop(event: Event) -> bool:
        """Return True if the event is an `audio-stop` that carries a Sotto reason."""
        return event.type == STREAM_STOP_TYPE and "reason" in _data(event)

    def event(self) -> Event:
        """Return the Wyoming event."""
        return Event(
            STREAM_STOP_TYPE,
            {
                "timestamp": self.timestamp,
                "reason": self.reason.value,
                "stream_id": self.stream_id,
                "seconds": round(self.seconds, 3),
            },
        )

    @staticmethod
    def from_event(event: Event) -> StreamStop:
        """Read the message from a Wyoming event (raises MessageError)."""
        _check_type(event, STREAM_STOP_TYPE)
        return StreamStop(
            reason=_enum(event, "reason", StopReason),
            stream_id=_int(event, "stream_id"),
            seconds=_float(event, "seconds"),
            timestamp=_opt_int(event, "timestamp"),
        )


# --- Home Assistant -> satellite ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetMute:
    """Mute or unmute the satellite; a hardware mute is not undone (answered with `error`)."""

    muted: bool

    @staticmethod
    def is_type(event_type: str) -> bool:
        """Return True for `sotto-set-mute`."""
        return event_type == SET_MUTE_TYPE

    def event(self) -> Event:
        """Return the Wyoming event."""
        return Event(SET_MUTE_TYPE, {"muted": self.muted})

    @staticmethod
    def from_event(event: Event) -> SetMute:
        """Read the message from a Wyoming event (raises MessageError)."""
        _check_type(event, SET_MUTE_TYPE)
        return SetMute(muted=_bool(event, "muted"))


@dataclass(frozen=True, slots=True)
class Configure:
    """Change settings Home Assistant may change; fields left None stay as they are."""

    wake_word: str | None = None
    """One of `SottoInfo.wake_words`."""

    sensitivity: float | None = None
    """0 to 1; 0.5 is the model's own threshold."""

    volume: float | None = None
    """0 to 1."""

    @staticmethod
    def is_type(event_type: str) -> bool:
        """Return True for `sotto-configure`."""
        return event_type == CONFIGURE_TYPE

    def event(self) -> Event:
        """Return the Wyoming event."""
        data: dict[str, Any] = {}
        if self.wake_word is not None:
            data["wake_word"] = self.wake_word
        if self.sensitivity is not None:
            data["sensitivity"] = self.sensitivity
        if self.volume is not None:
            data["volume"] = self.volume
        return Event(CONFIGURE_TYPE, data)

    @staticmethod
    def from_event(event: Event) -> Configure:
        """Read the message from a Wyoming event (raises MessageError)."""
        _check_type(event, CONFIGURE_TYPE)
        return Configure(
            wake_word=_opt_str(event, "wake_word"),
            sensitivity=_opt_float(event, "sensitivity", 0.0, 1.0),
            volume=_opt_float(event, "volume", 0.0, 1.0),
        )


@dataclass(frozen=True, slots=True)
class PushToTalk:
    """Start a stream now, as if the wake word had been heard (refused while muted)."""

    @staticmethod
    def is_type(event_type: str) -> bool:
        """Return True for `sotto-push-to-talk`."""
        return event_type == PUSH_TO_TALK_TYPE

    def event(self) -> Event:
        """Return the Wyoming event."""
        return Event(PUSH_TO_TALK_TYPE)

    @staticmethod
    def from_event(event: Event) -> PushToTalk:
        """Read the message from a Wyoming event (raises MessageError)."""
        _check_type(event, PUSH_TO_TALK_TYPE)
        return PushToTalk()


@dataclass(frozen=True, slots=True)
class StopStreaming:
    """Home Assistant has the whole command: stop sending audio now."""

    stream_id: int | None = None
    """Only stop this stream (ignored if another one is running); None stops any."""

    @staticmethod
    def is_type(event_type: str) -> bool:
        """Return True for `sotto-stop-streaming`."""
        return event_type == STOP_STREAMING_TYPE

    def event(self) -> Event:
        """Return the Wyoming event."""
        return Event(STOP_STREAMING_TYPE, {"stream_id": self.stream_id})

    @staticmethod
    def from_event(event: Event) -> StopStreaming:
        """Read the message from a Wyoming event (raises MessageError)."""
        _check_type(event, STOP_STREAMING_TYPE)
        return StopStreaming(stream_id=_opt_int(event, "stream_id"))


@dataclass(frozen=True, slots=True)
class RunEnded:
    """Home Assistant's pipeline run for the last stream is over (reply played or none)."""

    stream_id: int | None = None
    """The stream whose run ended, if known."""

    @staticmethod
    def is_type(event_type: str) -> bool:
        """Return True for `sotto-run-ended`."""
        return event_type == RUN_ENDED_TYPE

    def event(self) -> Event:
        """Return the Wyoming event."""
        return Event(RUN_ENDED_TYPE, {"stream_id": self.stream_id})

    @staticmethod
    def from_event(event: Event) -> RunEnded:
        """Read the message from a Wyoming event (raises MessageError)."""
        _check_type(event, RUN_ENDED_TYPE)
        return RunEnded(stream_id=_opt_int(event, "stream_id"))


@dataclass(frozen=True, slots=True)
class Purge:
    """Clear everything the satellite holds (ledger history, audio buffers)."""

    @staticmethod
    def is_type(event_type: str) -> bool:
        """Return True for `sotto-purge`."""
        return event_type == PURGE_TYPE

    def event(self) -> Event:
        """Return the Wyoming event."""
        return Event(PURGE_TYPE)

    @staticmethod
    def from_event(event: Event) -> Purge:
        """Read the message from a Wyoming event (raises MessageError)."""
        _check_type(event, PURGE_TYPE)
        return Purge()
