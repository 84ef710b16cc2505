"""Home Assistant's side door: the link server that lets one controller run the satellite.

Only peers that completed the encrypted handshake (so hold the key) reach this code, and
only those that say they are a controller are served. While one controller is in charge,
a second one waits: the first keeps control until its link ends, which for a silent peer
means the link's keepalive declared it dead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from wyoming.error import Error
from wyoming.event import Event

from sotto_voice.link import (
    ROLE_CONTROLLER,
    Link,
    LinkError,
    LinkKey,
    LinkServer,
    LinkSettings,
    PeerIdentity,
    PeerLog,
)
from sotto_voice.link.settings import DEFAULT_SETTINGS
from sotto_voice.messages import ERROR_BUSY

from .core import Satellite

_LOGGER = logging.getLogger(__name__)

ERROR_NOT_CONTROLLER = "not-controller"


class LinkController:
    """A controller reached over a link."""

    def __init__(self, link: Link) -> None:
        self.link = link

    def __repr__(self) -> str:
        peer = self.link.peer
        return f"LinkController({peer.name if peer else '?'} at {self.link.remote})"

    async def send(self, event: Event) -> None:
        """Send one event over the link."""
        await self.link.write_event(event)


class SatelliteServer:
    """Serves the satellite on the link: one controller in charge at a time."""

    def __init__(
        self,
        satellite: Satellite,
        *,
        key: LinkKey,
        identity: PeerIdentity,
        settings: LinkSettings = DEFAULT_SETTINGS,
        peer_log: PeerLog | None = None,
    ) -> None:
        self._satellite = satellite
        self._server = LinkServer(
            self._handle, key=key, identity=identity, settings=settings, peer_log=peer_log
        )
        self._owner: Link | None = None
        self._free = asyncio.Event()
        self._free.set()

    @property
    def port(self) -> int:
        """Return the bound port while serving."""
        return self._server.port

    @contextlib.asynccontextmanager
    async def serving(self, host: str, port: int) -> AsyncIterator[int]:
        """Serve while inside the block; yields the bound port."""
        async with self._server.serving(host, port) as bound:
            yield bound

    async def _handle(self, link: Link) -> None:
        peer = link.peer
        if peer is None or peer.role != ROLE_CONTROLLER:
            role = peer.role if peer else "unknown"
            link.report_problem(f"refused {link.remote}: a {role} may not control a satellite")
            await link.write_event(
                Error(
                    text=f"only a controller may connect to a satellite, not a {role}",
                    code=ERROR_NOT_CONTROLLER,
                ).event()
            )
            return
        if not await self._take_control(link):
            return
        controller = LinkController(link)
        _LOGGER.info("%s (%s) is in control", peer.name, link.remote)
        try:
            await self._satellite.control.attach(controller)
            async for event in link:
                await self._satellite.control.handle_event(event)
        finally:
            self._owner = None
            self._free.set()
            await self._satellite.control.detach(controller)
            _LOGGER.info("%s (%s) left", peer.name, link.remote)

    async def _take_control(self, link: Link) -> bool:
        """Wait until no other controller is in charge and take over; False if link ends."""
        if self._free.is_set():
            self._claim(link)
            return True
        _LOGGER.info("%s connected while another controller is in charge: it waits", link.remote)
        refuser = asyncio.create_task(self._refuse_while_waiting(link))
        try:
            while True:
                free = asyncio.create_task(self._free.wait())
                done, _ = await asyncio.wait({free, refuser}, return_when=asyncio.FIRST_COMPLETED)
                if free not in done:
                    free.cancel()
                    return False  # this link ended while waiting
                if self._free.is_set():  # several may wake up; the first one wins
                    self._claim(link)
                    return True
        finally:
            if not refuser.done():
                refuser.cancel()
            with contextlib.suppress(asyncio.CancelledError, LinkError):
                await refuser

    def _claim(self, link: Link) -> None:
        self._owner = link
        self._free.clear()

    async def _refuse_while_waiting(self, link: Link) -> None:
        # Reading keeps the waiting link's queue empty; every command gets a clear answer.
        with contextlib.suppress(LinkError):
            async for event in link:
                await link.write_event(
                    Error(
                        text="another controller is in charge of this satellite; this "
                        "connection takes over when that one is gone",
                        code=ERROR_BUSY,
                    ).event()
                )
                _LOGGER.debug("refused %s from a waiting controller", event.type)
