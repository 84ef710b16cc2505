"""Sotto's event vocabulary beyond Wyoming's, shared by the satellite and Home Assistant.

Every message is a small frozen dataclass on the `wyoming` package's own `Eventable`, its
fields declared once: `Message` builds `event()`, `from_event()` and `is_type()` from them,
so both ends speak the same types and every bad field is refused with an error naming the
event and the field. This module imports only `wyoming`, the standard library and
`sotto_voice.errors`: the Home Assistant integration imports it.

Satellite -> Home Assistant
    `sotto-info`, `sotto-state`, `sotto-ledger`, `sotto-purged`; Wyoming `detection` when
    the wake word is heard; the command's audio as `audio-start`
    (`StreamStart`), `audio-chunk`..., `audio-stop` (`StreamStop`), or, from a satellite
    that recognises on the device, its wake's evidence as `sotto-wake-heard` and then only
    its text as `sotto-recognized`; `played` after a reply has been played (or cut short);
    `sotto-silenced` when the user stopped a ringing timer or a reply (by voice, the
    button, muting, or HA's Timer ringing switch); `sotto-grammar-ready` /
    `sotto-grammar-missing` (the engine protocol's) answering `sotto-grammar`; Wyoming
    `error`.
Home Assistant -> satellite
    `sotto-set-mute`, `sotto-set-ringing`, `sotto-configure`, `sotto-push-to-talk`,
    `sotto-stop-streaming`, `sotto-run-ended`, `sotto-purge`, Wyoming `describe`;
    `sotto-grammar` (the home's grammar, by digest) to a satellite that recognises on the
    device; a reply to play as `audio-start`, `audio-chunk`..., `audio-stop`; Wyoming
    `timer-*` for the voice timers set on it (`timer-finished` rings); Wyoming `error`.

`StreamStart` and `StreamStop` are Wyoming's own `audio-start` and `audio-stop` with extra
fields, so any Wyoming reader still understands them. They bracket the audio on the wire
exactly: the first is sent before the first audio byte and the second after the last, so
the "recording" entity in Home Assistant is driven by them and never guessed.
"""

from __future__ import annotations

import math
import types
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from enum import StrEnum
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Final,
    Self,
    TypeVar,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

from wyoming.event import Event, Eventable

from .errors import SottoError

PROTOCOL_VERSION: Final = 1
"""Bumped when a message changes incompatibly."""

MAX_WAKE_WORDS: Final = 2
"""Wake words a satellite listens for at once, each with its own pipeline in HA."""

INFO_TYPE: Final = "sotto-info"
STATE_TYPE: Final = "sotto-state"
LEDGER_TYPE: Final = "sotto-ledger"
PURGED_TYPE: Final = "sotto-purged"
SET_MUTE_TYPE: Final = "sotto-set-mute"
SET_RINGING_TYPE: Final = "sotto-set-ringing"
CONFIGURE_TYPE: Final = "sotto-configure"
PUSH_TO_TALK_TYPE: Final = "sotto-push-to-talk"
STOP_STREAMING_TYPE: Final = "sotto-stop-streaming"
RUN_ENDED_TYPE: Final = "sotto-run-ended"
PURGE_TYPE: Final = "sotto-purge"
RECOGNIZED_TYPE: Final = "sotto-recognized"
WAKE_HEARD_TYPE: Final = "sotto-wake-heard"
SILENCED_TYPE: Final = "sotto-silenced"
STREAM_START_TYPE: Final = "audio-start"
STREAM_STOP_TYPE: Final = "audio-stop"

# Codes the satellite puts in Wyoming `error` events it sends.
ERROR_BAD_MESSAGE: Final = "bad-message"
ERROR_HARDWARE_MUTE: Final = "hardware-mute"
ERROR_MUTED: Final = "muted"
ERROR_UNKNOWN_WAKE_WORD: Final = "unknown-wake-word"
ERROR_NO_SPEAKER: Final = "no-speaker"
ERROR_BUSY: Final = "busy"


_E = TypeVar("_E", bound=StrEnum)
_S = TypeVar("_S", str, tuple[Any, ...])


class MessageError(SottoError, ValueError):
    """An event that claims a Sotto type but whose fields are wrong."""


class MuteSource(StrEnum):
    """Who muted the satellite."""

    HA = "ha"
    HARDWARE = "hardware"


class IndicatorState(StrEnum):
    """What the satellite's indicator shows."""

    IDLE = "idle"
    LISTENING = "listening"
    """A command's audio is leaving the satellite."""
    LISTENING_ON_DEVICE = "listening_on_device"
    """A command is being heard and recognised on the satellite; no audio leaves."""
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
    YIELDED = "yielded"
    """Another satellite heard the same wake word better and answers it (HA said so)."""
    PURGED = "purged"
    """Home Assistant purged while a command was heard on the device: it is dropped."""


class SilencedBy(StrEnum):
    """How the user stopped a ringing timer or a reply on the satellite."""

    VOICE = "voice"
    """The wake word, or "stop" where commands are recognised on the device."""
    BUTTON = "button"
    """The satellite's push-to-talk button."""
    MUTE = "mute"
    """The satellite was muted (from HA or its own input): a ringing timer stops, since
    nobody could stop it by voice any more; a reply plays on."""
    HOME_ASSISTANT = "home_assistant"
    """Home Assistant turned its Timer ringing switch off: a ringing timer stops."""


# --- fields declared once: the dataclass field and its limits drive reading and writing ---


@dataclass(frozen=True, slots=True)
class Limits:
    """How a field is checked when read and written when sent (in the field's metadata)."""

    low: float = 0.0
    """Smallest number allowed (whole numbers are always >= 0)."""

    high: float = math.inf
    """Largest number allowed."""

    min_len: int = 0
    """Fewest characters (strings) or items (lists) allowed."""

    max_len: int | None = None
    """Most characters (strings) or items (lists) allowed."""

    digits: int | None = None
    """Round a number to this many decimals when sending it."""

    omit_default: bool = False
    """Leave the field out of the event while it has its default value."""


_PLAIN: Final = Limits()
_LIMITS: Final = "sotto_limits"


def limits(**kwargs: Any) -> dict[str, Limits]:
    """Field metadata: `field(metadata=limits(high=1.0))`."""
    return {_LIMITS: Limits(**kwargs)}


@dataclass(frozen=True, slots=True)
class _Slot:
    """One declared field as the readers and writers need it."""

    name: str
    hint: Any
    limits: Limits
    spec: Field[Any]

    def absent(self, where: str) -> Any:
        """The value of the field when the data leaves it out."""
        default = self.default()
        if default is not MISSING:
            return default
        if get_origin(self.hint) is tuple:
            return ()
        if _optional(self.hint) is not None:
            return None
        raise MessageError(f"{where}: '{self.name}' is required")

    def default(self) -> Any:
        if self.spec.default is not MISSING:
            return self.spec.default
        if self.spec.default_factory is not MISSING:
            return self.spec.default_factory()
        return MISSING


_LAYOUTS: dict[type, tuple[_Slot, ...]] = {}


def _slots(cls: type) -> tuple[_Slot, ...]:
    """The declared fields of a record class, with their resolved types (worked out once)."""
    layout = _LAYOUTS.get(cls)
    if layout is None:
        hints = get_type_hints(cls)
        layout = tuple(
            _Slot(item.name, hints[item.name], item.metadata.get(_LIMITS, _PLAIN), item)
            for item in fields(cls)
        )
        _LAYOUTS[cls] = layout
    return layout


def _optional(hint: Any) -> Any:
    """The inner type of `X | None`, or None if the hint is not optional."""
    if get_origin(hint) not in (Union, types.UnionType):
        return None
    (inner,) = [arg for arg in get_args(hint) if arg is not type(None)]
    return inner


def event_data(event: Event) -> Mapping[str, Any]:
    """The event's data as a mapping (empty if none); MessageError if it is not one."""
    data: object = event.data  # from the wire: typed as a dict, but any JSON value
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise MessageError(f"{event.type}: data must be an object, got {type(data).__name__}")
    return data


class _Reader:
    """Reads one field of one message; every error names the message and the field."""

    def __init__(self, where: str, key: str, bounds: Limits) -> None:
        self.where, self.key, self.limits = where, key, bounds

    def error(self, problem: str, value: object) -> MessageError:
        return MessageError(f"{self.where}: '{self.key}' {problem}, got {value!r}")

    def read(self, value: object, hint: Any) -> Any:
        inner = _optional(hint)
        if inner is not None:
            return None if value is None else self.read(value, inner)
        if value is None:
            raise MessageError(f"{self.where}: '{self.key}' is required")
        if get_origin(hint) is tuple:
            return self.sequence(value, get_args(hint)[0])
        if isinstance(hint, type) and issubclass(hint, StrEnum):
            return self.choice(value, hint)
        if isinstance(hint, type) and issubclass(hint, Record):
            return self.record(value, hint)
        return _SCALARS[hint](self, value)

    def boolean(self, value: object) -> bool:
        if not isinstance(value, bool):
            raise self.error("must be true or false", value)
        return value

    def whole(self, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.error("must be a whole number >= 0", value)
        return value

    def number(self, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error("must be a number", value)
        low, high = self.limits.low, self.limits.high
        if not low <= value <= high:
            raise MessageError(
                f"{self.where}: '{self.key}' must be between {low} and {high}, got {value}"
            )
        return float(value)

    def text(self, value: object) -> str:
        if not isinstance(value, str):
            raise self.error("must be a string", value)
        return self.sized(value, "characters")

    def sized(self, value: _S, unit: str) -> _S:
        low, high = self.limits.min_len, self.limits.max_len
        if len(value) < low or (high is not None and len(value) > high):
            bounds = [f"at least {low}"] if low else []
            bounds += [] if high is None else [f"at most {high}"]
            raise MessageError(
                f"{self.where}: '{self.key}' must have {' and '.join(bounds)} {unit}, "
                f"got {len(value)}"
            )
        return value

    def choice(self, value: object, enum: type[_E]) -> _E:
        try:
            return enum(self.text(value))
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            raise self.error(f"must be one of {allowed}", value) from None

    def sequence(self, value: object, item: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise self.error("must be a list", value)
        if item is str and not all(isinstance(name, str) for name in value):
            raise self.error("must be a list of strings", value)
        return tuple(self.read(one, item) for one in self.sized(tuple(value), "items"))

    def record(self, value: object, kind: type[Record]) -> Record:
        if not isinstance(value, Mapping):
            raise self.error("items must be objects", value)
        return kind.from_dict(value, self.where)


_SCALARS: Final = {
    bool: _Reader.boolean,
    int: _Reader.whole,
    float: _Reader.number,
    str: _Reader.text,
}


def _write(value: Any, bounds: Limits) -> Any:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, Record):
        return value.as_dict()
    if isinstance(value, tuple):
        return [_write(item, bounds) for item in value]
    if isinstance(value, float) and bounds.digits is not None:
        return round(value, bounds.digits)
    return value


class Record:
    """A frozen dataclass read from and written as JSON data, field by declared field."""

    __slots__ = ()

    if TYPE_CHECKING:  # each subclass is a dataclass with its own __init__

        def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    def as_dict(self) -> dict[str, Any]:
        """Return the fields as JSON-ready data."""
        data: dict[str, Any] = {}
        for slot in _slots(type(self)):
            value = getattr(self, slot.name)
            if not (slot.limits.omit_default and value == slot.default()):
                data[slot.name] = _write(value, slot.limits)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> Self:
        """Read the fields from JSON data; MessageError names `where` and the bad field."""
        values = {
            slot.name: (
                _Reader(where, slot.name, slot.limits).read(data[slot.name], slot.hint)
                if slot.name in data
                else slot.absent(where)
            )
            for slot in _slots(cls)
        }
        return cls(**values)


class Message(Record, Eventable):
    """A Sotto message: a `Record` sent as the data of a Wyoming event of type `TYPE`."""

    __slots__ = ()

    TYPE: ClassVar[str]
    """The Wyoming event type."""

    @classmethod
    def is_type(cls, event_type: str) -> bool:
        """Return True for this message's event type."""
        return event_type == cls.TYPE

    def event(self) -> Event:
        """Return the Wyoming event."""
        return Event(self.TYPE, self.as_dict())

    @classmethod
    def from_event(cls, event: Event) -> Self:
        """Read the message from a Wyoming event (raises MessageError)."""
        if event.type != cls.TYPE:
            raise MessageError(f"expected a '{cls.TYPE}' event, got '{event.type}'")
        return cls.from_dict(event_data(event), event.type)


# --- satellite -> Home Assistant ------------------------------------------------------------

_UNIT: Final = limits(high=1.0)
_SECONDS: Final = limits(digits=3)


@dataclass(frozen=True, slots=True)
class SottoInfo(Message):
    """What a satellite is and can do; sent when a controller connects and on `describe`."""

    TYPE: ClassVar[str] = INFO_TYPE

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

    recognizes_on_device: bool = field(default=False, metadata=limits(omit_default=True))
    """True if the satellite recognises commands itself and sends only their text
    (`sotto-recognized`): it wants the home's grammar (`sotto-grammar`), and no command
    audio leaves it."""


@dataclass(frozen=True, slots=True)
class SottoState(Message):
    """The satellite's state; sent on connect and after every change."""

    TYPE: ClassVar[str] = STATE_TYPE

    muted: bool
    """True while the microphone is closed (the capture process is stopped)."""

    mute_source: MuteSource | None
    """Who muted it; a hardware mute cannot be undone from Home Assistant."""

    indicator: IndicatorState
    """What the indicator shows."""

    streaming: bool
    """True while audio is leaving the satellite."""

    wake_word: str
    """The active wake word (the first, if it listens for two)."""

    sensitivity: float = field(metadata=_UNIT)
    """Wake word sensitivity, 0 (hardly ever) to 1 (very easily); 0.5 is the model's own."""

    volume: float = field(metadata=_UNIT)
    """Playback volume, 0 to 1."""

    wake_words: tuple[str, ...] = field(default=(), metadata=limits(omit_default=True))
    """Every wake word it listens for, `wake_word` first: Home Assistant runs the pipeline
    chosen for the one heard. Empty from an older satellite (`wake_word` alone)."""

    timer_ringing: bool = False
    """True while a finished timer rings, until it is stopped or falls silent."""


@dataclass(frozen=True, slots=True)
class LedgerDay(Record):
    """One day of the privacy ledger (the satellite's local date)."""

    date: str
    """ISO date, e.g. 2025-04-30."""

    wakes: int = 0
    push_to_talk: int = 0
    streams: int = 0
    seconds_sent: float = field(default=0.0, metadata=_SECONDS)
    recognized_on_device: int = 0
    seconds_listened: float = field(default=0.0, metadata=_SECONDS)


@dataclass(frozen=True, slots=True)
class SottoLedger(Message):
    """The privacy ledger: what the satellite has sent, counted on the device itself."""

    TYPE: ClassVar[str] = LEDGER_TYPE

    wakes: int
    """Wake words heard on the device (whether or not audio could be sent)."""

    push_to_talk: int
    """Streams started by push-to-talk (button or Home Assistant)."""

    streams: int
    """Streams of audio sent, whatever started them."""

    seconds_sent: float = field(metadata=_SECONDS)
    """Seconds of audio sent in total."""

    last_stream: float | None
    """When the last stream ended, seconds since the Unix epoch (UTC), or None."""

    days: tuple[LedgerDay, ...] = ()
    """Per-day counters, oldest first, for the most recent days."""

    recognized_on_device: int = 0
    """Commands recognised on the device itself: only their text was sent."""

    seconds_listened: float = field(default=0.0, metadata=_SECONDS)
    """Seconds of command audio the microphone captured, whether sent or recognised on the
    device (so never less than `seconds_sent` in a ledger counted by this version; a peer
    that predates it reads 0)."""


@dataclass(frozen=True, slots=True)
class Purged(Message):
    """Answer to `sotto-purge`: what the satellite cleared."""

    TYPE: ClassVar[str] = PURGED_TYPE

    cleared: tuple[str, ...]
    """Names of what was cleared, e.g. `ledger`, `audio_buffers`."""


@dataclass(frozen=True, slots=True)
class StreamStart(Message):
    """Audio is about to leave the satellite (Wyoming `audio-start` plus why and which).

    `is_type` is True for any `audio-start`; `is_stream_start` for one with Sotto's fields.
    """

    TYPE: ClassVar[str] = STREAM_START_TYPE

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

    # The wake's evidence, for Home Assistant to pick the nearest of several satellites
    # that heard one utterance. Optional: an older satellite leaves them out.
    wake_probability: float | None = field(default=None, metadata=limits(high=1.0, digits=3))
    """The wake word model's probability at the detection (0 to 1)."""

    speech_level: float | None = field(
        default=None, metadata=limits(low=-120.0, high=0.0, digits=1)
    )
    """How loud the wake word was, in dBFS: its loudest 64 ms of audio."""

    wake_time: float | None = field(default=None, metadata=limits(digits=3))
    """The satellite's monotonic clock at the detection, in seconds (its own clock only)."""

    @staticmethod
    def is_stream_start(event: Event) -> bool:
        """Return True if the event is an `audio-start` that carries a Sotto trigger."""
        return event.type == STREAM_START_TYPE and "trigger" in event_data(event)


@dataclass(frozen=True, slots=True)
class StreamStop(Message):
    """No more audio leaves the satellite (Wyoming `audio-stop` plus why).

    `is_type` is True for any `audio-stop`; `is_stream_stop` for one with Sotto's fields.
    """

    TYPE: ClassVar[str] = STREAM_STOP_TYPE

    reason: StopReason
    """Why the stream stopped."""

    stream_id: int
    """The stream that stopped."""

    seconds: float = field(metadata=_SECONDS)
    """Seconds of audio the stream sent."""

    timestamp: int | None = None
    """Milliseconds of captured audio after the stream's last sample."""

    @staticmethod
    def is_stream_stop(event: Event) -> bool:
        """Return True if the event is an `audio-stop` that carries a Sotto reason."""
        return event.type == STREAM_STOP_TYPE and "reason" in event_data(event)


@dataclass(frozen=True, slots=True)
class Recognized(Message):
    """A command the satellite heard and recognised itself: its text, never its audio.

    Sent once per command after the satellite's end of speech, instead of the stream of
    audio a streaming satellite sends; `text` None means nothing was understood.
    """

    TYPE: ClassVar[str] = RECOGNIZED_TYPE

    stream_id: int
    """Counts up with the satellite's streams (one counter for both kinds of command)."""

    trigger: StreamTrigger
    """What started listening."""

    reason: StopReason
    """Why listening ended (`end_of_speech`, `max_length`, `no_speech`)."""

    seconds: float = field(metadata=_SECONDS)
    """Seconds of audio the satellite listened to (none of it sent)."""

    text: str | None = field(default=None, metadata=limits(min_len=1, max_len=1000))
    """The recognised command, or None when nothing was understood."""

    wake_word: str | None = None
    """The wake word heard, for `wake_word` commands."""


@dataclass(frozen=True, slots=True)
class WakeHeard(Message):
    """A satellite that recognises on the device started listening to a command: what
    woke it and, for a wake word, how well it was heard.

    It announces no audio stream, so this stands for `StreamStart`: Home Assistant's
    "listening started" voice event, and for a wake word what the arbiter needs to pick
    the nearest of the satellites that heard one utterance and tell the others to stop
    listening (`sotto-stop-streaming`, yielded) before any of them has decoded, let alone
    sent, a command.
    """

    TYPE: ClassVar[str] = WAKE_HEARD_TYPE

    stream_id: int
    """The command's number, as its `sotto-recognized` will carry."""

    trigger: StreamTrigger = StreamTrigger.WAKE_WORD
    """What started listening (satellites from before this field sent it for wake words)."""

    wake_word: str | None = None
    wake_probability: float | None = field(default=None, metadata=limits(high=1.0, digits=3))
    speech_level: float | None = field(
        default=None, metadata=limits(low=-120.0, high=0.0, digits=1)
    )
    wake_time: float | None = field(default=None, metadata=limits(digits=3))
    """As in `StreamStart`."""


@dataclass(frozen=True, slots=True)
class Silenced(Message):
    """The user stopped what the satellite was sounding: a ringing timer, or a reply or
    announcement playing (its `played` follows). Nothing was streamed: a word was heard on
    the device, a button pressed, the satellite muted or HA's switch turned off, and no
    command follows it."""

    TYPE: ClassVar[str] = SILENCED_TYPE

    timer: bool = False
    """A ringing timer was stopped."""

    reply: bool = False
    """A reply or announcement was cut short."""

    word: str | None = None
    """What was said (by voice): the wake word's model, or `stop`."""

    by: SilencedBy = SilencedBy.VOICE
    """How it was stopped."""


# --- Home Assistant -> satellite ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetMute(Message):
    """Mute or unmute the satellite; a hardware mute is not undone (answered with `error`)."""

    TYPE: ClassVar[str] = SET_MUTE_TYPE

    muted: bool


@dataclass(frozen=True, slots=True)
class SetRinging(Message):
    """Ring the timer sound until stopped (as when a timer finishes), or stop it ringing."""

    TYPE: ClassVar[str] = SET_RINGING_TYPE

    ringing: bool


_UNCHANGED: Final = limits(omit_default=True)


@dataclass(frozen=True, slots=True)
class Configure(Message):
    """Change settings Home Assistant may change; fields left None stay as they are."""

    TYPE: ClassVar[str] = CONFIGURE_TYPE

    wake_word: str | None = field(default=None, metadata=_UNCHANGED)
    """One of `SottoInfo.wake_words`: the first wake word (a second one stays)."""

    wake_words: tuple[str, ...] | None = field(default=None, metadata=_UNCHANGED)
    """Listen for exactly these (one or `MAX_WAKE_WORDS` different ones of
    `SottoInfo.wake_words`), the first one first; overrides `wake_word`."""

    sensitivity: float | None = field(default=None, metadata=limits(high=1.0, omit_default=True))
    """0 to 1; 0.5 is the model's own threshold."""

    volume: float | None = field(default=None, metadata=limits(high=1.0, omit_default=True))
    """0 to 1."""


@dataclass(frozen=True, slots=True)
class PushToTalk(Message):
    """Start a stream now, as if the wake word had been heard (refused while muted)."""

    TYPE: ClassVar[str] = PUSH_TO_TALK_TYPE


@dataclass(frozen=True, slots=True)
class StopStreaming(Message):
    """Home Assistant has the whole command: stop sending audio now."""

    TYPE: ClassVar[str] = STOP_STREAMING_TYPE

    stream_id: int | None = None
    """Only stop this stream (ignored if another one is running); None stops any."""

    yielded: bool = field(default=False, metadata=limits(omit_default=True))
    """Another satellite answers this wake word: go back to idle at once, no chime."""


@dataclass(frozen=True, slots=True)
class RunEnded(Message):
    """Home Assistant's pipeline run for the last stream is over (reply played or none)."""

    TYPE: ClassVar[str] = RUN_ENDED_TYPE

    stream_id: int | None = None
    """The stream whose run ended, if known."""


@dataclass(frozen=True, slots=True)
class Purge(Message):
    """Clear everything the satellite holds (ledger history, audio buffers)."""

    TYPE: ClassVar[str] = PURGE_TYPE
