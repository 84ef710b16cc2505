"""Only peers holding the key get through, and no application byte moves before that."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.server import AsyncEventHandler, AsyncTcpServer

from sotto_voice.link import (
    ConnectionFailedError,
    HandshakeError,
    HandshakeTimeoutError,
    InvalidKeyError,
    Link,
    LinkKey,
    LinkServer,
    LinkSettings,
    LinkTimeoutError,
    UnexpectedFrameError,
    WrongDeviceError,
    connect,
)

from .conftest import CONTROLLER, FAST, SATELLITE
from .peers import (
    closed_by_peer,
    frame,
    noise,
    raw_client,
    raw_server,
    read_frame,
    recording_server,
)


async def test_wrong_key_is_invalid_key_and_nothing_is_delivered(key: LinkKey) -> None:
    async with asyncio.timeout(10), recording_server(key, SATELLITE, FAST) as (port, recorder):
        with pytest.raises(InvalidKeyError, match="different link key"):
            async with connect(
                "127.0.0.1", port, key=LinkKey.generate(), identity=CONTROLLER, settings=FAST
            ) as link:
                await link.write_event(Event("secret"))  # pragma: no cover - never reached
        assert recorder.links == 0
        assert recorder.events == []


async def test_server_with_other_key_is_invalid_key_for_the_client(key: LinkKey) -> None:
    """A server that is not ours (different key) is reported as such to the client."""
    async with asyncio.timeout(10), recording_server(key, SATELLITE, FAST) as (port, _):
        with pytest.raises(InvalidKeyError):
            async with connect(
                "127.0.0.1", port, key=LinkKey.generate(), identity=CONTROLLER, settings=FAST
            ):
                pass  # pragma: no cover


async def test_impostor_is_wrong_device_naming_both(key: LinkKey) -> None:
    async with asyncio.timeout(10), recording_server(key, SATELLITE, FAST) as (port, recorder):
        with pytest.raises(WrongDeviceError) as caught:
            async with connect(
                "127.0.0.1",
                port,
                key=key,
                identity=CONTROLLER,
                expected_device_id="sat-bedroom",
                settings=FAST,
            ):
                pass  # pragma: no cover
        message = str(caught.value)
        assert "sat-bedroom" in message
        assert SATELLITE.device_id in message
        assert SATELLITE.name in message
        assert caught.value.expected == "sat-bedroom"
        assert caught.value.actual == SATELLITE.device_id
        await asyncio.sleep(0.1)
        assert recorder.links == 0  # the client never confirmed, so no handler ran


async def test_replayed_handshake_never_reaches_a_handler(key: LinkKey) -> None:
    """Bytes captured from a real client, replayed, get the attacker nothing."""
    async with asyncio.timeout(10), recording_server(key, SATELLITE, FAST) as (port, recorder):
        genuine = await raw_client(port, key, CONTROLLER)
        genuine.send_wyoming(b'{"type":"transcript","data_length":2}\n{}')
        transcript = [*genuine.transcript, b""]
        await recorder.arrived.wait()
        genuine.writer.close()

        # Replay msg1, READY and the data frame exactly as captured.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"".join(transcript))
        reply = await read_frame(reader)
        assert reply[0] == 0  # the server answered msg1 with a fresh ephemeral key...
        assert await closed_by_peer(reader)  # ...and dropped us when READY did not decrypt
        writer.close()
        assert recorder.links == 1  # only the genuine client's handler ever ran
        assert len(recorder.events) == 1


async def test_client_that_never_confirms_is_dropped(key: LinkKey) -> None:
    async with asyncio.timeout(10), recording_server(key, SATELLITE, FAST) as (port, recorder):
        conn = await raw_client(port, key, CONTROLLER, send_ready=False)
        assert await closed_by_peer(conn.reader)  # within handshake_timeout
        conn.writer.close()
        assert recorder.links == 0


async def test_plaintext_wyoming_client_gets_nothing(key: LinkKey) -> None:
    """A stock Wyoming client against an encrypted server: closed, no event delivered."""
    async with asyncio.timeout(10), recording_server(key, SATELLITE, FAST) as (port, recorder):
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Event("describe"))
            assert await client.read_event() is None  # closed without a word
        assert recorder.links == 0
        assert recorder.events == []


async def test_encrypted_client_against_plaintext_wyoming_server(key: LinkKey) -> None:
    """No silent fallback: the client fails instead of talking plaintext."""
    seen: list[Event] = []

    class Handler(AsyncEventHandler):
        async def handle_event(self, event: Event) -> bool:
            seen.append(event)
            return True

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = AsyncTcpServer("127.0.0.1", port)
    await server.start(Handler)
    try:
        async with asyncio.timeout(10):
            with pytest.raises((HandshakeError, UnexpectedFrameError)):
                async with connect("127.0.0.1", port, key=key, identity=CONTROLLER, settings=FAST):
                    pass  # pragma: no cover
    finally:
        await server.stop()
        assert server._server is not None
        await server._server.wait_closed()
    assert seen == []


async def test_server_that_never_answers_is_a_handshake_timeout(key: LinkKey) -> None:
    async with asyncio.timeout(10), raw_server(key, SATELLITE, answer=False) as (port, _):
        with pytest.raises(HandshakeTimeoutError):
            async with connect("127.0.0.1", port, key=key, identity=CONTROLLER, settings=FAST):
                pass  # pragma: no cover


async def test_handshake_cap_refuses_extra_connections(key: LinkKey) -> None:
    settings = LinkSettings(max_handshaking=2, handshake_timeout=5.0)
    async with (
        asyncio.timeout(10),
        recording_server(key, SATELLITE, settings) as (port, recorder),
    ):
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        await asyncio.sleep(0.1)
        extra_reader, extra_writer = await asyncio.open_connection("127.0.0.1", port)
        assert await closed_by_peer(extra_reader)  # closed at once, not after 5 s
        extra_writer.close()
        for _, writer in idle:
            writer.close()
        await asyncio.sleep(0.1)
        # The slots are free again: a real client gets in.
        async with connect("127.0.0.1", port, key=key, identity=CONTROLLER, settings=settings):
            pass
        await asyncio.sleep(0.05)
        assert recorder.links == 1


async def test_a_flood_from_one_address_does_not_lock_the_owner_out(key: LinkKey) -> None:
    """Idle sockets from 127.0.0.2 hold only that address's slots; the rest are closed at
    once, and the owner's controller on 127.0.0.1 completes its handshake mid-flood."""
    settings = LinkSettings(handshake_timeout=60.0)  # the flood holds its slots throughout
    flooder = ("127.0.0.2", 0)
    async with (
        asyncio.timeout(30),
        recording_server(key, SATELLITE, settings) as (port, recorder),
    ):
        flood = [
            await asyncio.open_connection("127.0.0.1", port, local_addr=flooder)
            for _ in range(settings.max_handshaking + 4)  # more than every slot
        ]
        held, extra = (
            flood[: settings.max_handshaking_per_peer],
            flood[settings.max_handshaking_per_peer :],
        )
        for reader, _writer in extra:
            assert await closed_by_peer(reader)  # closed at once, not after 60 s

        async with connect(
            "127.0.0.1", port, key=key, identity=CONTROLLER, settings=settings
        ) as link:
            assert link.peer is not None
            assert link.peer.device_id == SATELLITE.device_id
        for reader, writer in held:
            assert not reader.at_eof()  # still held: the owner got in during the flood
            writer.close()
        for _reader, writer in extra:
            writer.close()
        await asyncio.sleep(0.05)
        assert recorder.links == 1


async def test_missing_key_needs_explicit_legacy() -> None:
    with pytest.raises(ValueError, match="legacy=True"):
        async with connect("127.0.0.1", 9, key=None, identity=CONTROLLER):
            pass  # pragma: no cover
    with pytest.raises(ValueError, match="legacy"):
        LinkServer(lambda link: asyncio.sleep(0), key=None, identity=SATELLITE)
    with pytest.raises(ValueError, match="do not pass a key"):
        async with connect(
            "127.0.0.1", 9, key=LinkKey.generate(), identity=CONTROLLER, legacy=True
        ):
            pass  # pragma: no cover
    with pytest.raises(ValueError, match="cannot prove"):
        async with connect(
            "127.0.0.1", 9, key=None, identity=CONTROLLER, legacy=True, expected_device_id="x"
        ):
            pass  # pragma: no cover


async def test_nothing_listening_is_connection_failed(key: LinkKey) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionFailedError, match=str(port)):
        async with connect("127.0.0.1", port, key=key, identity=CONTROLLER, settings=FAST):
            pass  # pragma: no cover


async def test_unaccepted_connection_is_a_connect_timeout(key: LinkKey) -> None:
    """A listener whose backlog is full drops SYNs: the connect timeout fires."""
    settings = LinkSettings(connect_timeout=0.5)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers: list[socket.socket] = []
        try:
            for _ in range(8):  # fill the accept queue; later SYNs go unanswered
                filler = socket.socket()
                filler.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    filler.connect(("127.0.0.1", port))
                fillers.append(filler)
            await asyncio.sleep(0.1)
            async with asyncio.timeout(10):
                with pytest.raises(LinkTimeoutError, match="within 0.5 s"):
                    async with connect(
                        "127.0.0.1", port, key=key, identity=CONTROLLER, settings=settings
                    ):
                        pass  # pragma: no cover
        finally:
            for filler in fillers:
                filler.close()


async def test_link_api_shape(echo_server: int, key: LinkKey) -> None:
    """What the satellite and engine code relies on: peer, flags, iteration, closing."""
    async with asyncio.timeout(10):
        async with connect(
            "127.0.0.1", echo_server, key=key, identity=CONTROLLER, settings=FAST
        ) as link:
            assert isinstance(link, Link)
            assert not link.closed
            await link.write_event(Event("ping-me"))
            async for event in link:
                assert event.type == "ping-me"
                break
        assert link.closed
        from sotto_voice.link import ConnectionClosedError

        with pytest.raises(ConnectionClosedError):
            await link.read_event()
        with pytest.raises(ConnectionClosedError):
            await link.write_event(Event("late"))


@pytest.mark.parametrize(
    ("bad_hello", "problem"),
    [
        (b"not json", "not valid JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"hello": 2, "device_id": "x", "name": "", "role": "engine", "version": ""}', "version"),
        (b'{"hello": 1, "device_id": "x", "name": "", "role": "toaster", "version": ""}', "role"),
        (b'{"hello": 1, "device_id": 5, "name": "", "role": "engine", "version": ""}', "device_id"),
        (b'{"hello": 1, "pad": "' + b"a" * 3000 + b'"}', "limit"),
    ],
)
async def test_malformed_server_hello_is_a_handshake_error(
    key: LinkKey, bad_hello: bytes, problem: str
) -> None:
    async with (
        asyncio.timeout(10),
        raw_server(key, SATELLITE, my_hello=bad_hello) as (port, accepted),
    ):
        with pytest.raises(HandshakeError, match=problem):
            async with connect("127.0.0.1", port, key=key, identity=CONTROLLER, settings=FAST):
                pass  # pragma: no cover
        assert accepted.empty()  # the client never confirmed


async def test_malformed_client_hello_is_refused_with_a_reason(key: LinkKey) -> None:
    async with asyncio.timeout(10), recording_server(key, SATELLITE, FAST) as (port, recorder):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        conn = noise(key, initiator=True)
        bad = b'{"hello": 1, "device_id": "x", "name": "", "role": "toaster", "version": ""}'
        writer.write(frame(bytes(conn.write_message(bad))))
        reply = await read_frame(reader)
        assert reply[0] == 2  # refused, with a reason the client can show
        assert b"role" in reply[1:]
        assert await closed_by_peer(reader)
        writer.close()
        assert recorder.links == 0
