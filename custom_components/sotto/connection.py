"""The typed boundary between a satellite's transport and Home Assistant, and the Sotto link.

Home Assistant asks a satellite with the typed methods of `SatelliteTransport`; the
transport reports back with typed calls on its `SatelliteSink` (the `SatelliteDevice`).
`DeviceConnection` is the transport of a Sotto satellite: one secure link, kept up for as
long as its entry is loaded, and the only place where its Wyoming events are encoded and
decoded. `esphome.transport.EsphomeTransport` is the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import AsyncIterable, Callable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Final, Protocol

from homeassistant.components import intent
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import instance_id
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.snd import Played
from wyoming.timer import TimerCancelled, TimerFinished, TimerStarted, TimerUpdated
from wyoming.wake import Detection

from sotto_voice.audio import PcmFormat
from sotto_voice.engine.protocol import GrammarMessage, GrammarMissing, GrammarReady
from sotto_voice.engine.stt.model import Grammar
from sotto_voice.link import (
    InvalidKeyError,
    Link,
    LinkError,
    LinkKey,
    PeerIdentity,
    connect,
)
from sotto_voice.messages import (
    Configure,
    IndicatorState,
    MessageError,
    MuteSource,
    Purge,
    Purged,
    PushToTalk,
    Recognized,
    RunEnded,
    SetMute,
    SetRinging,
    Silenced,
    SottoInfo,
    SottoLedger,
    SottoState,
    StopStreaming,
    StreamStart,
    StreamStop,
    WakeHeard,
)

from .const import BACKOFF_CAP_SECONDS, BACKOFF_FIRST_SECONDS

if TYPE_CHECKING:
    from homeassistant.components.assist_pipeline import PipelineEvent
    from homeassistant.components.assist_satellite import AssistSatelliteAnnouncement

_LOGGER = logging.getLogger(__name__)

_RANDOM: Final = random.Random()
_CONNECT_ERRORS: Final = (LinkError, OSError, TimeoutError)
# Reconnect waits remembered for diagnostics: enough to show the backoff reach its cap.
_BACKOFF_HISTORY: Final = 16
# One reconnect attempt: the link's own connect (5 s) and handshake (10 s) timeouts fit,
# while a client library stuck on a dead socket (aioesphomeapi waits 60 s) is cut short.
OPEN_TIMEOUT_SECONDS: Final = 20.0


async def async_controller_identity(hass: HomeAssistant) -> PeerIdentity:
    """Home Assistant's identity on the link: its instance ID and location name."""
    return PeerIdentity(
        device_id=await instance_id.async_get(hass),
        name=hass.config.location_name or "Home Assistant",
        role="controller",
    )


def backoff_delay(
    attempt: int,
    *,
    rng: random.Random | None = None,
    first: float = BACKOFF_FIRST_SECONDS,
    cap: float = BACKOFF_CAP_SECONDS,
) -> float:
    """Seconds to wait before reconnect attempt `attempt` (0-based): capped, with jitter."""
    ceiling = min(cap, first * 2.0**attempt)
    # "Equal jitter": at least half the ceiling, so retries never hammer a dead host.
    jitter: float = (rng or _RANDOM).uniform(0, ceiling / 2)
    return ceiling / 2 + jitter


@dataclass(frozen=True, slots=True)
class SatelliteState:
    """The satellite's state as Home Assistant knows it; None where the device does not say.

    A Sotto satellite reports every field (`SottoState`); an ESPHome device reports only
    what its entities and voice assistant show, and the rest stays unknown.
    """

    indicator: IndicatorState
    """What the device is doing, as its indicator shows it."""
    streaming: bool
    """True while audio is leaving the satellite."""
    muted: bool | None = None
    mute_source: MuteSource | None = None
    wake_word: str | None = None
    sensitivity: float | None = None
    volume: float | None = None
    wake_words: tuple[str, ...] = ()
    """Every wake word it listens for, `wake_word` first (empty: `wake_word` alone)."""
    timer_ringing: bool | None = None
    """True while a finished timer rings on the satellite."""

    @property
    def listening_for(self) -> tuple[str, ...]:
        """The wake words it listens for, first one first."""
        return self.wake_words or ((self.wake_word,) if self.wake_word else ())

    @staticmethod
    def reported(state: SottoState) -> SatelliteState:
        """A Sotto satellite's own full report."""
        return SatelliteState(**{f.name: getattr(state, f.name) for f in fields(state)})


@dataclass(frozen=True, slots=True)
class SatelliteInfo:
    """What a satellite is and can do, as Home Assistant knows it; None where it does not say.

    A Sotto satellite reports every field (`SottoInfo`); an ESPHome device reports its
    identity, its wake words and its speaker, and the rest stays unknown.
    """

    device_id: str
    name: str
    version: str
    wake_words: tuple[str, ...]
    """Wake words the satellite can listen for; one of them is active."""
    has_speaker: bool
    remote_wake: bool
    """True if Home Assistant would find the wake word in a constant stream."""
    wake_word_engine: str | None = None
    has_hardware_mute: bool | None = None
    vad_silence_seconds: float | None = None
    max_command_seconds: float | None = None
    protocol: int | None = None
    """The version of Sotto's messages the satellite speaks (None: it speaks another API)."""
    recognizes_on_device: bool = False
    """True if the satellite recognises commands itself and sends only their text."""

    @staticmethod
    def reported(info: SottoInfo) -> SatelliteInfo:
        """A Sotto satellite's own full report."""
        return SatelliteInfo(**{f.name: getattr(info, f.name) for f in fields(info)})


class PurgeError(Exception):
    """A satellite could not be purged; the message says why ("not connected", "no answer")."""


class SatelliteSink(Protocol):
    """What a transport tells Home Assistant about its device, as typed calls.

    `SatelliteDevice` is the one sink of each transport. A streamed command starts
    (`stream_started`), carries audio (`audio`) and stops (`stream_stopped`); a device that
    recognises speech itself sends no audio, only the text (`recognized`).
    """

    def set_info(self, info: SatelliteInfo) -> None:
        """What the device is and can do."""

    def set_state(self, state: SatelliteState) -> None:
        """The device's state changed."""

    def set_ledger(self, ledger: SottoLedger) -> None:
        """The device's privacy ledger changed."""

    def stream_started(self, start: StreamStart) -> None:
        """The device started sending a command."""

    def audio(self, audio: bytes) -> None:
        """A chunk of the command's audio."""

    def stream_stopped(self, stop: StreamStop) -> None:
        """The device stopped sending the command."""

    def recognized(self, command: Recognized) -> None:
        """The device recognised a command itself: its text (or that nothing was understood)."""

    def grammar_ready(self, digest: str) -> None:
        """The device recognises with the grammar of this digest from now on."""

    def wake_heard(self, wake: WakeHeard) -> None:
        """A device that recognises itself heard its wake word (with its evidence)."""

    def wake(self, wake_word: str | None) -> None:
        """The device heard its wake word."""

    def played(self) -> None:
        """The device finished playing what it was sent."""

    def silenced(self, stopped: Silenced) -> None:
        """The user stopped a ringing timer or a reply on the device."""

    def error(self, code: str | None, text: str) -> None:
        """The device reported an error."""

    def availability(self, available: bool) -> None:
        """The device came or went."""


class SatelliteTransport(Protocol):
    """How Home Assistant talks to a satellite, whatever carries it.

    Home Assistant asks with the typed `async_*` methods; the device's reports arrive as
    typed calls on the transport's `sink`. Only a transport encodes and decodes its
    wire: a Sotto satellite's secure link carries Wyoming events, an ESPHome device
    speaks its native API.
    """

    name: str
    peer: PeerIdentity | None
    last_error: str | None
    attempt: int
    sink: SatelliteSink

    @property
    def model(self) -> str:
        """What kind of satellite this is, for the device page."""

    @property
    def unsupported(self) -> Mapping[str, str]:
        """Features the satellite lacks (entity key -> why); their entities are not created."""

    @property
    def available(self) -> bool:
        """Whether the satellite is reachable right now."""

    @property
    def legacy(self) -> bool:
        """Whether the transport is unencrypted (a repair issue says so)."""

    def retry_now(self) -> None:
        """Skip the rest of the reconnect backoff."""

    async def async_set_mute(self, muted: bool) -> bool:
        """Ask the device to close or open its microphone; returns whether it was asked."""

    async def async_set_ringing(self, ringing: bool) -> bool:
        """Ask the device to ring its timer sound until stopped, or to stop ringing."""

    async def async_configure(self, change: Configure) -> bool:
        """Ask the device to change its volume, wake word or sensitivity (those not None)."""

    async def async_push_to_talk(self) -> bool:
        """Have the device listen for a command as if its button was pressed."""

    async def async_stop_streaming(self, stream_id: int | None) -> bool:
        """Stop the command's audio (None: whatever the device is sending)."""

    async def async_run_ended(self, stream_id: int | None) -> bool:
        """Tell the device that the run for its command is over."""

    async def async_yield(self, stream_id: int) -> bool:
        """Another satellite answers: stop this command's audio, back to idle, no chime."""

    async def async_play(self, fmt: PcmFormat, chunks: AsyncIterable[bytes]) -> bool:
        """Send audio to the device's speaker; False when the device could not take it.

        The device's `played` report says when it has played it.
        """

    async def async_timer(self, event: intent.TimerEventType, timer: intent.TimerInfo) -> bool:
        """Tell the device about a voice timer set on it."""

    async def async_purge(self, timeout: float) -> Purged:
        """Have the device clear what it keeps; raises `PurgeError`."""

    async def async_offer_grammar(self, grammar: Grammar) -> bool:
        """Offer a device that recognises itself the home's grammar (sent whole only if it
        lacks this digest); False if the device cannot take one."""

    def pipeline_event(self, event: PipelineEvent) -> None:
        """Follow the Assist pipeline's progress (for devices that show each stage)."""

    async def async_announce(
        self, announcement: AssistSatelliteAnnouncement, *, start_conversation: bool
    ) -> bool:
        """Have the device fetch and play an announcement; False: stream it to it instead."""


def unsupported_features(connection: SatelliteTransport | None) -> Mapping[str, str]:
    """What a satellite cannot offer (entity key -> why); nothing before it is known."""
    return connection.unsupported if connection is not None else {}


class ReconnectingTransport[S]:
    """What every satellite transport shares: its sink, availability and reconnecting.

    A subclass opens a session (`async_open`), serves it until it ends (`_async_serve`),
    closes it (`_async_close`) and says which errors mean "the key was refused".
    """

    model = "Satellite"
    retryable: tuple[type[BaseException], ...] = (OSError, TimeoutError)
    """Errors opening or serving a session that mean: try again later."""
    backoff_first = BACKOFF_FIRST_SECONDS
    """The first reconnect wait's ceiling; each later one doubles it up to `backoff_cap`."""
    backoff_cap = BACKOFF_CAP_SECONDS
    open_timeout = OPEN_TIMEOUT_SECONDS
    """Longest one reconnect attempt may take before it is abandoned and retried."""
    sink: SatelliteSink
    """Where the device's reports go: the `SatelliteDevice` made for this transport."""

    def __init__(
        self, hass: HomeAssistant, *, name: str, on_auth_failed: Callable[[], None]
    ) -> None:
        """Nothing connects until `async_run`."""
        self.hass = hass
        self.name = name
        self._on_auth_failed = on_auth_failed
        self._retry_now = asyncio.Event()
        self._was_available = True
        self.peer: PeerIdentity | None = None
        self.last_error: str | None = None
        self.attempt = 0
        self.backoff_waits: deque[float] = deque(maxlen=_BACKOFF_HISTORY)
        """The latest reconnect waits in seconds, oldest first (the last outage's backoff)."""
        self.unsupported: Mapping[str, str] = {}

    async def async_open(self) -> S:
        """Open one session now, raising on failure."""
        raise NotImplementedError

    async def _async_serve(self, session: S) -> None:
        """Deliver the device's reports until the session ends."""
        raise NotImplementedError

    async def _async_close(self, session: S) -> None:
        """Close a session that ended (or was cancelled)."""
        raise NotImplementedError

    def _auth_refused(self, err: BaseException) -> bool:
        """Whether an error opening a session means the device refused our key."""
        raise NotImplementedError

    @callback
    def retry_now(self) -> None:
        """Skip the rest of the backoff: the device was seen again (zeroconf)."""
        self._retry_now.set()

    @callback
    def pipeline_event(self, event: PipelineEvent) -> None:
        """Sotto's own satellites follow the run through the stream's events alone."""

    async def async_announce(
        self, announcement: AssistSatelliteAnnouncement, *, start_conversation: bool
    ) -> bool:
        """Announcements are streamed to Sotto's own satellites."""
        return False

    async def async_offer_grammar(self, grammar: Grammar) -> bool:
        """A device recognises itself only if its transport says so (Sotto's link)."""
        return False

    async def async_run(self, first: S | None) -> None:
        """Keep a session up until cancelled; `first` is one opened during setup."""
        session = first
        while True:
            if session is None:
                session = await self._async_reconnect()
                if session is None:
                    return  # the key was refused: the re-auth flow has started
            try:
                await self._async_serve(session)
            except self.retryable as err:
                self.last_error = f"{type(err).__name__}: {err}"
            finally:
                with contextlib.suppress(*self.retryable):
                    await self._async_close(session)
                self._set_available(False)
            session = None

    async def _async_reconnect(self) -> S | None:
        """Try until a session opens, waiting with capped, jittered backoff in between."""
        self.attempt = 0
        self.backoff_waits.clear()
        while True:
            delay = backoff_delay(self.attempt, first=self.backoff_first, cap=self.backoff_cap)
            self.backoff_waits.append(delay)
            self._retry_now.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._retry_now.wait()
            try:
                # A client library that hangs on one attempt must not stall the loop.
                async with asyncio.timeout(self.open_timeout):
                    return await self.async_open()
            except self.retryable as err:
                self.last_error = f"{type(err).__name__}: {err}"
                if self._auth_refused(err):
                    _LOGGER.error("%s refused Home Assistant's key: re-pair it", self.name)
                    self._on_auth_failed()
                    return None
                _LOGGER.debug("%s: %s", self.name, err)
            self.attempt += 1

    @callback
    def _set_available(self, available: bool) -> None:
        """Tell the sink, and log once per change (HA's log-when-unavailable rule)."""
        if available == self._was_available:
            return
        self._was_available = available
        if available:
            _LOGGER.info("%s is available again", self.name)
        else:
            _LOGGER.info("%s is unavailable: %s", self.name, self.last_error or "link closed")
        self.sink.availability(available)


type _OpenLink = tuple[Link, contextlib.AsyncExitStack]

# Wyoming's timer events, by the timer event HA reports.
_TIMER_EVENTS: Final[dict[intent.TimerEventType, Callable[[intent.TimerInfo], Event]]] = {
    intent.TimerEventType.STARTED: lambda timer: TimerStarted(
        id=timer.id,
        total_seconds=timer.seconds,
        name=timer.name,
        start_hours=timer.start_hours,
        start_minutes=timer.start_minutes,
        start_seconds=timer.start_seconds,
    ).event(),
    intent.TimerEventType.UPDATED: lambda timer: TimerUpdated(
        id=timer.id, is_active=timer.is_active, total_seconds=timer.seconds
    ).event(),
    intent.TimerEventType.CANCELLED: lambda timer: TimerCancelled(id=timer.id).event(),
    intent.TimerEventType.FINISHED: lambda timer: TimerFinished(id=timer.id).event(),
}


class DeviceConnection(ReconnectingTransport[_OpenLink]):
    """Keeps a secure link to one Sotto satellite open, reconnecting with capped backoff.

    Each event the satellite sends is decoded once, here, into a typed call on the sink;
    each request from Home Assistant is encoded here into the event the satellite reads.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        host: str,
        port: int,
        key: LinkKey | None,
        device_id: str | None,
        name: str,
        on_auth_failed: Callable[[], None],
    ) -> None:
        """Describe the device; nothing connects until `async_run`."""
        super().__init__(hass, name=name, on_auth_failed=on_auth_failed)
        self.host = host
        self.port = port
        self._key = key
        self._device_id = device_id
        self._link: Link | None = None
        self._purges: set[asyncio.Future[Purged]] = set()
        self._offered: Grammar | None = None
        """The grammar last offered, sent whole if the satellite says it lacks it."""

    @property
    def available(self) -> bool:
        """Whether the link is up right now."""
        return self._link is not None and not self._link.closed

    @property
    def legacy(self) -> bool:
        """Whether this is a plaintext link to a stock Wyoming peer."""
        return self._key is None

    async def async_open(self) -> tuple[Link, contextlib.AsyncExitStack]:
        """Open one link now, raising the link's errors; closing the stack closes it."""
        identity = await async_controller_identity(self.hass)
        stack = contextlib.AsyncExitStack()
        link = await stack.enter_async_context(
            connect(
                self.host,
                self.port,
                key=self._key,
                identity=identity,
                expected_device_id=self._device_id,
                legacy=self._key is None,
            )
        )
        return link, stack

    # --- Home Assistant -> satellite ------------------------------------------------------

    async def _async_send(self, event: Event) -> bool:
        """Send an event if connected; returns whether it was written."""
        link = self._link
        if link is None or link.closed:
            return False
        try:
            await link.write_event(event)
        except _CONNECT_ERRORS as err:
            _LOGGER.debug("Sending %s to %s failed: %s", event.type, self.name, err)
            return False
        return True

    async def async_set_mute(self, muted: bool) -> bool:
        """Ask the satellite to close or open its microphone."""
        return await self._async_send(SetMute(muted=muted).event())

    async def async_set_ringing(self, ringing: bool) -> bool:
        """Ask the satellite to ring its timer sound until stopped, or to stop ringing."""
        return await self._async_send(SetRinging(ringing=ringing).event())

    async def async_configure(self, change: Configure) -> bool:
        """Ask the satellite to change its volume, wake word or sensitivity."""
        return await self._async_send(change.event())

    async def async_push_to_talk(self) -> bool:
        """Have the satellite listen for a command."""
        return await self._async_send(PushToTalk().event())

    async def async_stop_streaming(self, stream_id: int | None) -> bool:
        """Stop the command's audio (a satellite ignores a second stop)."""
        return await self._async_send(StopStreaming(stream_id=stream_id).event())

    async def async_run_ended(self, stream_id: int | None) -> bool:
        """Tell the satellite that its command's run is over."""
        return await self._async_send(RunEnded(stream_id=stream_id).event())

    async def async_yield(self, stream_id: int) -> bool:
        """Stop the stream as yielded; the run's end brings an older satellite back to idle."""
        stopped = await self._async_send(StopStreaming(stream_id=stream_id, yielded=True).event())
        return stopped and await self.async_run_ended(stream_id)

    async def async_play(self, fmt: PcmFormat, chunks: AsyncIterable[bytes]) -> bool:
        """Stream audio to the satellite: start, chunks with their timestamps, stop."""
        send = self._async_send
        if not await send(
            AudioStart(rate=fmt.rate, width=fmt.width, channels=fmt.channels).event()
        ):
            return False
        timestamp = 0
        try:
            async for chunk in chunks:
                audio = AudioChunk(
                    rate=fmt.rate,
                    width=fmt.width,
                    channels=fmt.channels,
                    audio=chunk,
                    timestamp=timestamp,
                )
                if not await send(audio.event()):
                    return False
                timestamp += len(chunk) * 1000 // fmt.bytes_per_second
        except BaseException:
            # The audio failed (ffmpeg, a cut stream) or the call was cancelled: end the
            # playback anyway, or the satellite would wait for the rest and stay deaf.
            with contextlib.suppress(Exception):
                await send(AudioStop(timestamp=timestamp).event())
            raise
        return await send(AudioStop(timestamp=timestamp).event())

    async def async_timer(self, event: intent.TimerEventType, timer: intent.TimerInfo) -> bool:
        """Forward a timer's life as Wyoming's timer events."""
        return await self._async_send(_TIMER_EVENTS[event](timer))

    async def async_purge(self, timeout: float) -> Purged:
        """Ask the satellite to clear its ledger and audio, and wait for its answer."""
        answer: asyncio.Future[Purged] = self.hass.loop.create_future()
        self._purges.add(answer)
        try:
            if not await self._async_send(Purge().event()):
                raise PurgeError("not connected")
            async with asyncio.timeout(timeout):
                return await answer
        except (TimeoutError, MessageError) as err:
            raise PurgeError("no answer") from err
        finally:
            self._purges.discard(answer)
            answer.cancel()

    async def async_offer_grammar(self, grammar: Grammar) -> bool:
        """Name the grammar by its digest; the satellite asks for it whole if it lacks it."""
        self._offered = grammar
        return await self._async_send(GrammarMessage(digest=grammar.digest).event())

    async def _async_send_grammar(self, digest: str) -> None:
        """The satellite lacks the grammar it was offered: send it whole."""
        grammar = self._offered
        if grammar is None or grammar.digest != digest:
            return  # a newer grammar has been offered since; its own answer follows
        await self._async_send(GrammarMessage(grammar.digest, grammar.jsgf, grammar.words).event())

    # --- satellite -> Home Assistant ------------------------------------------------------

    retryable = (LinkError, OSError, TimeoutError)

    def _auth_refused(self, err: BaseException) -> bool:
        return isinstance(err, InvalidKeyError)

    async def _async_close(self, session: _OpenLink) -> None:
        self._link = None
        await session[1].aclose()

    async def _async_serve(self, session: _OpenLink) -> None:
        """Hand the satellite's events to the sink until the link ends."""
        link = self._link = session[0]
        self.peer = link.peer
        self.last_error = None
        self._set_available(True)
        decoders = self._decoders()
        async for event in link:
            decode = next((decode for is_type, decode in decoders if is_type(event.type)), None)
            if decode is None:
                continue
            try:
                decode(event)
            except MessageError as err:
                _LOGGER.warning("%s sent a malformed %s: %s", self.name, event.type, err)
                if Purged.is_type(event.type):
                    # The answer a purge waits for was unreadable: fail it now, not at
                    # its timeout. Any other malformed report leaves the purge waiting.
                    self._answer_purge(err)

    def _decoders(self) -> tuple[tuple[Callable[[str], bool], Callable[[Event], None]], ...]:
        """How each event the satellite sends becomes a call on the sink (audio first)."""
        sink = self.sink
        return (
            (AudioChunk.is_type, lambda event: sink.audio(event.payload or b"")),
            (StreamStart.is_type, self._on_stream_start),
            (StreamStop.is_type, self._on_stream_stop),
            (SottoState.is_type, self._on_state),
            (SottoInfo.is_type, self._on_info),
            (SottoLedger.is_type, lambda event: sink.set_ledger(SottoLedger.from_event(event))),
            (Detection.is_type, lambda event: sink.wake(Detection.from_event(event).name)),
            (Played.is_type, lambda _event: sink.played()),
            (Silenced.is_type, lambda event: sink.silenced(Silenced.from_event(event))),
            (Error.is_type, self._on_error),
            (Purged.is_type, lambda event: self._answer_purge(Purged.from_event(event))),
            (Recognized.is_type, lambda event: sink.recognized(Recognized.from_event(event))),
            (WakeHeard.is_type, lambda event: sink.wake_heard(WakeHeard.from_event(event))),
            (GrammarReady.is_type, lambda e: sink.grammar_ready(GrammarReady.from_event(e).digest)),
            (GrammarMissing.is_type, self._on_grammar_missing),
        )

    def _on_grammar_missing(self, event: Event) -> None:
        digest = GrammarMissing.from_event(event).digest
        self.hass.async_create_task(self._async_send_grammar(digest), eager_start=False)

    def _on_info(self, event: Event) -> None:
        self.sink.set_info(SatelliteInfo.reported(SottoInfo.from_event(event)))

    def _on_state(self, event: Event) -> None:
        self.sink.set_state(SatelliteState.reported(SottoState.from_event(event)))

    def _on_stream_start(self, event: Event) -> None:
        if StreamStart.is_stream_start(event):
            self.sink.stream_started(StreamStart.from_event(event))

    def _on_stream_stop(self, event: Event) -> None:
        if StreamStop.is_stream_stop(event):
            self.sink.stream_stopped(StreamStop.from_event(event))

    def _on_error(self, event: Event) -> None:
        error = Error.from_event(event)
        self.sink.error(error.code, error.text)

    def _answer_purge(self, answer: Purged | MessageError) -> None:
        """Answer every purge waiting for the satellite (a malformed answer fails them)."""
        for waiter in self._purges:
            if waiter.done():
                continue
            if isinstance(answer, Purged):
                waiter.set_result(answer)
            else:
                waiter.set_exception(answer)
