"""One secure link to one Sotto device, kept up for as long as its entry is loaded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from typing import Final, Protocol

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import instance_id
from wyoming.event import Event

from sotto.link import (
    HandshakeError,
    InvalidKeyError,
    Link,
    LinkError,
    LinkKey,
    PeerIdentity,
    WrongDeviceError,
    connect,
)

from .const import BACKOFF_CAP_SECONDS, BACKOFF_FIRST_SECONDS

_LOGGER = logging.getLogger(__name__)

type EventListener = Callable[[Event], None]
type AvailabilityListener = Callable[[bool], None]

_RANDOM: Final = random.Random()
_CONNECT_ERRORS: Final = (LinkError, OSError, TimeoutError)


async def async_controller_identity(hass: HomeAssistant) -> PeerIdentity:
    """Home Assistant's identity on the link: its instance ID and location name."""
    return PeerIdentity(
        device_id=await instance_id.async_get(hass),
        name=hass.config.location_name or "Home Assistant",
        role="controller",
    )


def backoff_delay(attempt: int, *, rng: random.Random | None = None) -> float:
    """Seconds to wait before reconnect attempt `attempt` (0-based): capped, with jitter."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_FIRST_SECONDS * 2.0**attempt)
    # "Equal jitter": at least half the ceiling, so retries never hammer a dead host.
    jitter: float = (rng or _RANDOM).uniform(0, ceiling / 2)
    return ceiling / 2 + jitter


class SatelliteTransport(Protocol):
    """How Home Assistant talks to a satellite, whatever carries it.

    Everything above this (the pipeline bridge, the entities) speaks Sotto's event
    vocabulary (`sotto.messages` and Wyoming's events). A Sotto satellite's secure link
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


def unsupported_features(connection: SatelliteTransport | None) -> Mapping[str, str]:
    """What a satellite cannot offer (entity key -> why); nothing before it is known."""
    return connection.unsupported if connection is not None else {}


class DeviceConnection:
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
        """Describe the device; nothing connects until `async_start`."""
        self.hass = hass
        self.host = host
        self.port = port
        self.name = name
        self._key = key
        self._device_id = device_id
        self._on_auth_failed = on_auth_failed
        self._link: Link | None = None
        self._event_listeners: list[EventListener] = []
        self._availability_listeners: list[AvailabilityListener] = []
        self._retry_now = asyncio.Event()
        self._was_available = True
        self.peer: PeerIdentity | None = None
        self.last_error: str | None = None
        self.attempt = 0
        self.model = "Satellite"
        # A Sotto satellite reports every feature itself.
        self.unsupported: Mapping[str, str] = {}

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

    async def async_run(self, first: tuple[Link, contextlib.AsyncExitStack] | None) -> None:
        """Keep the link up until cancelled; `first` is a link opened during setup."""
        opened = first
        while True:
            if opened is None:
                opened = await self._async_reconnect()
                if opened is None:
                    return  # authentication failed: the re-auth flow has started
            link, stack = opened
            try:
                await self._async_serve(link)
            except _CONNECT_ERRORS as err:
                self.last_error = f"{type(err).__name__}: {err}"
            finally:
                self._link = None
                with contextlib.suppress(*_CONNECT_ERRORS):
                    await stack.aclose()
                self._set_available(False)
            opened = None

    async def _async_reconnect(self) -> tuple[Link, contextlib.AsyncExitStack] | None:
        """Try until a link opens, waiting with backoff between attempts."""
        self.attempt = 0
        while True:
            delay = backoff_delay(self.attempt)
            self._retry_now.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._retry_now.wait()
            try:
                return await self.async_open()
            except InvalidKeyError:
                _LOGGER.error("%s refused Home Assistant's key: re-pair it", self.name)
                self._on_auth_failed()
                return None
            except WrongDeviceError as err:
                self.last_error = str(err)
                _LOGGER.debug("%s: %s", self.name, err)
            except HandshakeError as err:
                self.last_error = f"{type(err).__name__}: {err}"
            except _CONNECT_ERRORS as err:
                self.last_error = f"{type(err).__name__}: {err}"
            self.attempt += 1

    async def _async_serve(self, link: Link) -> None:
        """Deliver the device's events to listeners until the link ends."""
        self._link = link
        self.peer = link.peer
        self.last_error = None
        self._set_available(True)
        async for event in link:
            for listener in list(self._event_listeners):
                listener(event)

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
