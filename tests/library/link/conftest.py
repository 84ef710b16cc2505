"""Shared pieces for the link tests: keys, identities, short timeouts, a running server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from sotto_voice.link import Link, LinkKey, LinkServer, LinkSettings, PeerIdentity

#: Test timeouts: short enough to keep the suite fast, long enough for a busy machine.
FAST = LinkSettings(
    handshake_timeout=1.0,
    read_stall_timeout=0.5,
    event_deadline=1.5,
    keepalive_interval=0.2,
    dead_peer_timeout=0.6,
    connect_timeout=2.0,
)

SATELLITE = PeerIdentity(device_id="sat-kitchen", name="Kitchen", role="satellite", version="1")
CONTROLLER = PeerIdentity(device_id="ha-main", name="Home Assistant", role="controller")


@pytest.fixture
def key() -> LinkKey:
    """A fresh pre-shared key."""
    return LinkKey.generate()


async def echo(link: Link) -> None:
    """Send every event back."""
    async for event in link:
        await link.write_event(event)


@pytest.fixture
async def echo_server(key: LinkKey) -> AsyncIterator[int]:
    """An encrypted echo server; yields its port."""
    server = LinkServer(echo, key=key, identity=SATELLITE, settings=FAST)
    async with server.serving("127.0.0.1", 0) as port:
        yield port


Handler = Callable[[Link], Awaitable[None]]
