"""Hostile peers, built by hand on raw sockets, and a clock the tests move themselves."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from sotto_voice.link import LinkKey, PeerIdentity
from tests.library.link.peers import closed_by_peer, frame, hello, noise, raw_client, read_frame

HOST = "127.0.0.1"


@dataclass
class FakeClock:
    """A monotonic clock that moves only when told."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


async def _cut_off(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Wait until the server has closed the connection, then close our side."""
    async with asyncio.timeout(10):
        assert await closed_by_peer(reader)
    writer.close()


async def port_scan(port: int) -> None:
    """Connect and hang up without a byte (a scanner's connect probe)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write_eof()
    await _cut_off(reader, writer)


async def garbage(port: int) -> None:
    """Send bytes that are no link frame (a web scanner's request)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(b"GET / HTTP/1.1\r\nHost: sotto\r\n\r\n" + bytes(range(256)))
    await _cut_off(reader, writer)


async def wrong_key(port: int, claim: PeerIdentity) -> int:
    """Start a handshake claiming `claim` with a key of our own; returns the server's status."""
    reader, writer = await asyncio.open_connection(HOST, port)
    conn = noise(LinkKey.generate(), initiator=True)
    writer.write(frame(bytes(conn.write_message(hello(claim)))))
    reply = await read_frame(reader)
    await _cut_off(reader, writer)
    return reply[0]


async def oversize(port: int, key: LinkKey, identity: PeerIdentity) -> None:
    """Complete the handshake with the right key, then announce a 1 GB payload."""
    conn = await raw_client(port, key, identity)
    header = json.dumps({"type": "audio-chunk", "payload_length": 10**9}).encode() + b"\n"
    conn.send_wyoming(header + bytes(1000))
    await _cut_off(conn.reader, conn.writer)


async def right_key(port: int, key: LinkKey, identity: PeerIdentity) -> None:
    """Complete the handshake with the right key as `identity`, then wait to be dropped."""
    conn = await raw_client(port, key, identity)
    await _cut_off(conn.reader, conn.writer)


async def half_open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect and say nothing, holding a handshake slot."""
    return await asyncio.open_connection(HOST, port)


__all__ = [
    "HOST",
    "FakeClock",
    "closed_by_peer",
    "garbage",
    "half_open",
    "oversize",
    "port_scan",
    "right_key",
    "wrong_key",
]
