"""Idle links stay up on internal pings; a peer that goes silent is declared dead."""

from __future__ import annotations

import asyncio

import pytest
from wyoming.event import Event

from sotto_voice.link import (
    DEFAULT_SETTINGS,
    Link,
    LinkKey,
    LinkServer,
    LinkSettings,
    PeerDeadError,
    connect,
)

from .conftest import CONTROLLER, FAST, SATELLITE
from .peers import PING, PONG, raw_client, raw_server


async def test_idle_link_survives_and_pings_stay_internal(echo_server: int, key: LinkKey) -> None:
    async with (
        asyncio.timeout(10),
        connect("127.0.0.1", echo_server, key=key, identity=CONTROLLER, settings=FAST) as link,
    ):
        reader = asyncio.create_task(link.read_event())
        await asyncio.sleep(3 * FAST.dead_peer_timeout)  # many keepalive rounds, no data
        assert not reader.done()  # pings and pongs never surface as events
        assert not link.closed
        await link.write_event(Event("still-here"))
        assert (await reader).type == "still-here"


async def test_link_answers_pings_with_pongs(key: LinkKey) -> None:
    async with asyncio.timeout(10):
        server = LinkServer(lambda link: asyncio.sleep(3), key=key, identity=SATELLITE)
        async with server.serving("127.0.0.1", 0) as port:
            conn = await raw_client(port, key, CONTROLLER)
            conn.send_frame(PING)
            assert await conn.recv() == (PONG, b"")
            conn.writer.close()


async def test_silent_server_is_detected_as_dead(key: LinkKey) -> None:
    """A server that completes the handshake, then neither reads nor answers."""
    async with (
        asyncio.timeout(10),
        raw_server(key, SATELLITE) as (port, accepted),
        connect("127.0.0.1", port, key=key, identity=CONTROLLER, settings=FAST) as link,
    ):
        await accepted.get()  # the raw server now sits there, reading nothing
        with pytest.raises(PeerDeadError, match="keepalive"):
            await link.read_event()
        assert link.closed


async def test_silent_client_is_detected_by_the_server(key: LinkKey) -> None:
    ended: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()

    async def handler(link: Link) -> None:
        try:
            await link.read_event()
        except PeerDeadError as err:
            ended.set_result(err)

    server = LinkServer(handler, key=key, identity=SATELLITE, settings=FAST)
    async with asyncio.timeout(10), server.serving("127.0.0.1", 0) as port:
        conn = await raw_client(port, key, CONTROLLER)  # then never reads or answers
        assert isinstance(await ended, PeerDeadError)
        conn.writer.close()


async def test_dead_peer_with_default_keepalive(key: LinkKey) -> None:
    """The production numbers (ping after 2 s idle, dead after 5 s) end a silent link."""
    assert DEFAULT_SETTINGS.dead_peer_timeout + DEFAULT_SETTINGS.watchdog_tick < 7
    async with (
        asyncio.timeout(12),
        raw_server(key, SATELLITE) as (port, accepted),
        connect("127.0.0.1", port, key=key, identity=CONTROLLER) as link,
    ):
        await accepted.get()
        with pytest.raises(PeerDeadError):
            await link.read_event()


async def test_writer_blocked_on_dead_peer_is_released(key: LinkKey) -> None:
    """A task stuck writing to a peer that stopped reading gets PeerDeadError, not a hang."""
    chunk = Event("audio-chunk", {"rate": 16000, "width": 2, "channels": 1}, bytes(60000))
    async with (
        asyncio.timeout(10),
        raw_server(key, SATELLITE) as (port, accepted),
        connect("127.0.0.1", port, key=key, identity=CONTROLLER, settings=FAST) as link,
    ):
        await accepted.get()

        async def write_forever() -> None:
            while True:
                await link.write_event(chunk)

        with pytest.raises(PeerDeadError):
            await write_forever()


async def test_one_way_stream_keeps_the_link_alive(key: LinkKey) -> None:
    """A client streaming flat out, hearing nothing back, still gets its pings answered."""
    settings = LinkSettings(keepalive_interval=0.3, dead_peer_timeout=1.0)
    received = 0

    async def sink(link: Link) -> None:
        nonlocal received
        async for _ in link:
            received += 1

    chunk = Event("audio-chunk", {"rate": 16000, "width": 2, "channels": 1}, bytes(640))
    server = LinkServer(sink, key=key, identity=SATELLITE, settings=settings)
    loop = asyncio.get_running_loop()
    async with (
        asyncio.timeout(20),
        server.serving("127.0.0.1", 0) as port,
        connect("127.0.0.1", port, key=key, identity=CONTROLLER, settings=settings) as link,
    ):
        end = loop.time() + 3 * settings.dead_peer_timeout
        sent = 0
        while loop.time() < end:
            await link.write_event(chunk)  # raises PeerDeadError if pings went unanswered
            sent += 1
        assert not link.closed
    assert sent > 1000
