"""Real Sotto link servers on 127.0.0.1 that stand where a device would be."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sotto.const import DOMAIN
from sotto_voice.link import (
    ConnectionClosedError,
    Link,
    LinkError,
    LinkKey,
    LinkServer,
    PeerIdentity,
)


@dataclass
class LinkPeer:
    """A device's side of the link: records who connected and what they sent."""

    key: LinkKey | None
    identity: PeerIdentity
    handshakes: int = 0
    received: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)

    async def handle(self, link: Link) -> None:
        """Hold the link open and note each event type it carries."""
        self.handshakes += 1
        self.links.append(link)
        with contextlib.suppress(ConnectionClosedError, LinkError):
            async for event in link:
                self.received.append(event.type)


@contextlib.asynccontextmanager
async def serve_peer(
    key: LinkKey | None,
    *,
    device_id: str = "kitchen-satellite",
    name: str = "Kitchen satellite",
    port: int = 0,
) -> AsyncIterator[tuple[LinkPeer, int]]:
    """Serve a peer on 127.0.0.1 (port 0 picks a free one) while inside the block."""
    peer = LinkPeer(key, PeerIdentity(device_id=device_id, name=name, role="satellite"))
    server = LinkServer(peer.handle, key=key, identity=peer.identity, legacy=key is None)
    async with server.serving("127.0.0.1", port) as bound:
        yield peer, bound
    await asyncio.sleep(0)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def paired_entry(
    port: int,
    key: str,
    *,
    kind: str = "satellite",
    device_id: str = "kitchen-satellite",
    name: str = "Kitchen satellite",
) -> MockConfigEntry:
    """A paired satellite's (or engine's) config entry for a peer on 127.0.0.1, not yet
    added to HA."""
    return MockConfigEntry(
        domain=DOMAIN,
        unique_id=device_id,
        title=name,
        data={
            "kind": kind,
            "host": "127.0.0.1",
            "port": port,
            "key": key,
            "device_id": device_id,
            "name": name,
        },
    )
