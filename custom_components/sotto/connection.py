"""One secure link to one Sotto device, kept up for as long as its entry is loaded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final, Protocol

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import instance_id
from wyoming.event import Event

from sotto_voice.link import (
    InvalidKeyError,
    Link,
    LinkError,
    LinkKey,
    PeerIdentity,
    connect,
)

from .const import BACKOFF_CAP_SECONDS, BACKOFF_FIRST_SECONDS

if TYPE_CHECKING:
    from homeassistant.components.assist_pipeline import PipelineEvent
    from homeassistant.components.assist_satellite import AssistSatelliteAnnouncement

_LOGGER = logging.getLogger(__name__)

type EventListener = Callable[[Event], None]
type AvailabilityListener = Callable[[bool], None]

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


class SatelliteTransport(Protocol):
    """How Home Assistant talks to a satellite, whatever carries it.

    Everything above this (the pipeline bridge, the entities) speaks Sotto's event
    vocabulary (`sotto_voice.messages` and Wyoming's events). A Sotto satellite's secure link
    carries those events as they are; another transport (ESPHome's native API)
    translates them to and from what its devices speak.
    """

    name: str
    peer: PeerIdentity | None
    last_error: str | None
    attempt: int

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

    def subscribe_events(self, listener: EventListener) -> CALLBACK_TYPE:
        """Call `listener` with every event from the satellite."""

    def subscribe_availability(self, listener: AvailabilityListener) -> CALLBACK_TYPE:
        """Call `listener` when the satellite comes and goes."""

    def retry_now(self) -> None:
        """Skip the rest of the reconnect backoff."""

    async def async_send(self, event: Event) -> bool:
        """Send an event if connected; returns whether it was sent."""

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
    """What every satellite transport shares: listeners, availability and reconnecting.

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

    def __init__(
        self, hass: HomeAssistant, *, name: str, on_auth_failed: Callable[[], None]
    ) -> None:
        """Nothing connects until `async_run`."""
        self.hass = hass
        self.name = name
        self._on_auth_failed = on_auth_failed
        self._event_listeners: list[EventListener] = []
        self._availability_listeners: list[AvailabilityListener] = []
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
        """Deliver the device's events until the session ends."""
        raise NotImplementedError

    async def _async_close(self, session: S) -> None:
        """Close a session that ended (or was cancelled)."""
        raise NotImplementedError

    def _auth_refused(self, err: BaseException) -> bool:
        """Whether an error opening a session means the device refused our key."""
        raise NotImplementedError

    @callback
    def subscribe_events(self, listener: EventListener) -> CALLBACK_TYPE:
        """Call `listener` with every event from the device; returns the unsubscribe."""
        self._event_listeners.append(listener)
        return lambda: self._event_listeners.remove(listener)

    @callback
    def subscribe_availability(self, listener: AvailabilityListener) -> CALLBACK_TYPE:
        """Call `listener` when the device comes and goes; returns the unsubscribe."""
        self._availability_listeners.append(listener)
        return lambda: self._availability_listeners.remove(listener)

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

    @callback
    def _emit(self, event: Event) -> None:
        """Hand an event from the device to every listener."""
        for listener in list(self._event_listeners):
            listener(event)

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
        """Tell listeners, and log once per change (HA's log-when-unavailable rule)."""
        if available == self._was_available:
            return
        self._was_available = available
        if available:
            _LOGGER.info("%s is available again", self.name)
        else:
            _LOGGER.info("%s is unavailable: %s", self.name, self.last_error or "link closed")
        for listener in list(self._availability_listeners):
            listener(available)


type _OpenLink = tuple[Link, contextlib.AsyncExitStack]


class DeviceConnection(ReconnectingTransport[_OpenLink]):
    """Keeps a link to one device open, reconnecting with capped exponential backoff.

    Listeners receive every event the device sends and every change of availability;
    `async_send` writes to the device while it is connected.
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

    async def async_send(self, event: Event) -> bool:
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

    retryable = (LinkError, OSError, TimeoutError)

    def _auth_refused(self, err: BaseException) -> bool:
        return isinstance(err, InvalidKeyError)

    async def _async_close(self, session: _OpenLink) -> None:
        self._link = None
        await session[1].aclose()

    async def _async_serve(self, session: _OpenLink) -> None:
        """Deliver the device's events to listeners until the link ends."""
        link = self._link = session[0]
        self.peer = link.peer
        self.last_error = None
        self._set_available(True)
        async for event in link:
            self._emit(event)
