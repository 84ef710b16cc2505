"""Legacy mode talks plaintext Wyoming with the real wyoming package's client and server."""

from __future__ import annotations

import asyncio
import socket

from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.server import AsyncEventHandler, AsyncTcpServer

from sotto_voice.link import Link, LinkServer, MalformedHeaderError, connect

from .conftest import CONTROLLER, FAST, SATELLITE

AUDIO = bytes(range(256)) * 5


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_legacy_client_against_stock_wyoming_server() -> None:
    """Our client streams audio to a stock Wyoming ASR-like server and gets its transcript."""
    received: list[Event] = []

    class Handler(AsyncEventHandler):
        async def handle_event(self, event: Event) -> bool:
            received.append(event)
            if AudioStop.is_type(event.type):
                await self.write_event(Transcript(text="hello world").event())
            return True

    port = _free_port()
    server = AsyncTcpServer("127.0.0.1", port)
    await server.start(Handler)
    try:
        async with (
            asyncio.timeout(10),
            connect(
                "127.0.0.1", port, key=None, identity=CONTROLLER, legacy=True, settings=FAST
            ) as link,
        ):
            assert not link.encrypted
            assert link.peer is None
            await link.write_event(AudioStart(rate=16000, width=2, channels=1).event())
            for i in range(10):
                await link.write_event(
                    AudioChunk(rate=16000, width=2, channels=1, audio=AUDIO, timestamp=i).event()
                )
            await link.write_event(AudioStop().event())
            reply = await link.read_event()
    finally:
        await server.stop()
        assert server._server is not None
        await server._server.wait_closed()
    assert Transcript.from_event(reply).text == "hello world"
    assert [e.type for e in received] == ["audio-start"] + ["audio-chunk"] * 10 + ["audio-stop"]
    assert all(AudioChunk.from_event(e).audio == AUDIO for e in received[1:-1])


async def test_stock_wyoming_client_against_legacy_server() -> None:
    """HA's stock Wyoming client (AsyncTcpClient) works with a legacy LinkServer."""
    received: list[Event] = []
    both = asyncio.Event()

    async def handler(link: Link) -> None:
        async for event in link:
            received.append(event)
            if len(received) == 2:
                both.set()
            if Describe.is_type(event.type):
                await link.write_event(Event("info", {"asr": [{"name": "sotto"}]}))

    server = LinkServer(handler, key=None, identity=SATELLITE, legacy=True, settings=FAST)
    async with asyncio.timeout(10), server.serving("127.0.0.1", 0) as port:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(
                AudioChunk(rate=16000, width=2, channels=1, audio=AUDIO).event()
            )
            await client.write_event(Describe().event())
            info = await client.read_event()
        assert info is not None
        assert info.type == "info"
        assert info.data == {"asr": [{"name": "sotto"}]}
        await both.wait()
    assert received[0].payload == AUDIO
    assert received[1].type == "describe"


async def test_legacy_server_bounds_stock_client_garbage() -> None:
    """The legacy path is the same bounded reader: garbage gets a typed error and a close."""
    failed: asyncio.Future[MalformedHeaderError] = asyncio.get_running_loop().create_future()

    async def handler(link: Link) -> None:
        try:
            await link.read_event()
        except MalformedHeaderError as err:
            failed.set_result(err)

    server = LinkServer(handler, key=None, identity=SATELLITE, legacy=True, settings=FAST)
    async with asyncio.timeout(10), server.serving("127.0.0.1", 0) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b'{"type": "audio-chunk", "payload_length": "lots"}\n')
        assert await reader.read() == b""
        writer.close()
        error = await failed
    assert "payload_length" in str(error)


async def test_old_style_inline_data_is_understood() -> None:
    """Wyoming before 1.2 put data in the header line; such peers still work in legacy mode."""
    got: asyncio.Future[Event] = asyncio.get_running_loop().create_future()

    async def handler(link: Link) -> None:
        got.set_result(await link.read_event())

    server = LinkServer(handler, key=None, identity=SATELLITE, legacy=True, settings=FAST)
    async with asyncio.timeout(10), server.serving("127.0.0.1", 0) as port:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b'{"type": "transcript", "data": {"text": "lights on"}}\n')
        event = await got
        writer.close()
    assert Transcript.from_event(event).text == "lights on"
