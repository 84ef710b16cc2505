"""The server runs one handler per connection and leaves nothing behind when stopped."""

from __future__ import annotations

import asyncio

import pytest
from wyoming.event import Event

from sotto_voice.link import ConnectionClosedError, Link, LinkKey, LinkServer, PeerIdentity, connect

from .conftest import CONTROLLER, FAST, SATELLITE


async def test_stop_cancels_handlers_and_closes_links(key: LinkKey) -> None:
    started = asyncio.Event()
    cancelled: list[str] = []

    async def forever(link: Link) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(link.peer.device_id if link.peer else "?")
            raise

    server = LinkServer(forever, key=key, identity=SATELLITE, settings=FAST)
    async with asyncio.timeout(10):
        port = await server.start("127.0.0.1", 0)
        assert server.port == port
        async with connect("127.0.0.1", port, key=key, identity=CONTROLLER, settings=FAST) as link:
            await started.wait()
            assert server.connections == 1
            await server.stop()
            with pytest.raises(ConnectionClosedError):
                await link.read_event()
    assert cancelled == [CONTROLLER.device_id]
    assert server.connections == 0
    with pytest.raises(RuntimeError):
        _ = server.port


async def test_each_connection_gets_its_own_handler(key: LinkKey) -> None:
    async def greet(link: Link) -> None:
        assert link.peer is not None
        await link.write_event(Event("hello", {"you": link.peer.device_id}))
        await link.read_event()  # until the client leaves

    server = LinkServer(greet, key=key, identity=SATELLITE, settings=FAST)
    async with asyncio.timeout(10), server.serving("127.0.0.1", 0) as port:
        names = [f"ha-{n}" for n in range(4)]

        async def client(name: str) -> object:
            me = PeerIdentity(device_id=name, name=name, role="controller")
            async with connect("127.0.0.1", port, key=key, identity=me, settings=FAST) as link:
                return (await link.read_event()).data["you"]

        assert await asyncio.gather(*(client(n) for n in names)) == names


async def test_handler_returning_ends_the_link_for_the_client(key: LinkKey) -> None:
    async def one_shot(link: Link) -> None:
        await link.write_event(Event("bye"))

    server = LinkServer(one_shot, key=key, identity=SATELLITE, settings=FAST)
    async with (
        asyncio.timeout(10),
        server.serving("127.0.0.1", 0) as port,
        connect("127.0.0.1", port, key=key, identity=CONTROLLER, settings=FAST) as link,
    ):
        received = [event.type async for event in link]  # ends cleanly at close
    assert received == ["bye"]


async def test_failing_handler_is_logged_and_the_server_carries_on(
    key: LinkKey, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    async def flaky(link: Link) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("handler bug")
        await link.write_event(Event("fine"))

    server = LinkServer(flaky, key=key, identity=SATELLITE, settings=FAST)
    async with asyncio.timeout(10), server.serving("127.0.0.1", 0) as port:
        for expected in ([], ["fine"]):
            async with connect(
                "127.0.0.1", port, key=key, identity=CONTROLLER, settings=FAST
            ) as link:
                assert [event.type async for event in link] == expected
    assert "handler bug" in caplog.text
