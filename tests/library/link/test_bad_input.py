"""Every kind of bad input ends in one typed ProtocolError and a closed connection.

Each case is sent twice: over a legacy (plaintext) link straight on the socket, and inside
the frames of an authenticated encrypted link, since a paired peer can be buggy too.
"""

from __future__ import annotations

import asyncio
import json
import tracemalloc

import pytest
from wyoming.event import Event

from sotto_voice.link import (
    DecryptError,
    FrameTooLargeError,
    Link,
    LinkKey,
    LinkServer,
    LinkSettings,
    MalformedDataError,
    MalformedHeaderError,
    NestingTooDeepError,
    ProtocolError,
    SlowPeerError,
    TruncatedFrameError,
    UnexpectedFrameError,
    connect,
)

from .conftest import CONTROLLER, FAST, SATELLITE
from .peers import DATA, closed_by_peer, frame, raw_client, recording_server


def _header(**fields: object) -> bytes:
    return json.dumps(fields).encode() + b"\n"


NESTED = b"[" * 200 + b"]" * 200

# (id, bytes, error, end) where end says whether the sender then closes its side.
CASES: list[tuple[str, bytes, type[ProtocolError], bool]] = [
    (
        "header line too long",
        b'{"type":"x","pad":"' + b"a" * 6000 + b'"}\n',
        FrameTooLargeError,
        False,
    ),
    ("endless header line", b"a" * 20000, FrameTooLargeError, False),
    ("header not json", b"hello there\n", MalformedHeaderError, False),
    ("header not an object", b"[1, 2, 3]\n", MalformedHeaderError, False),
    ("header is a string", b'"audio-chunk"\n', MalformedHeaderError, False),
    ("header invalid utf-8", b'{"type":"\xff\xfe"}\n', MalformedHeaderError, False),
    ("missing type", _header(data_length=0), MalformedHeaderError, False),
    ("type not a string", _header(type=7), MalformedHeaderError, False),
    ("empty type", _header(type=""), MalformedHeaderError, False),
    ("negative payload length", _header(type="a", payload_length=-1), MalformedHeaderError, False),
    ("float payload length", _header(type="a", payload_length=1.5), MalformedHeaderError, False),
    ("integral float length", _header(type="a", payload_length=2.0), MalformedHeaderError, False),
    ("string payload length", _header(type="a", payload_length="5"), MalformedHeaderError, False),
    ("bool payload length", _header(type="a", payload_length=True), MalformedHeaderError, False),
    ("negative data length", _header(type="a", data_length=-5), MalformedHeaderError, False),
    ("string data length", _header(type="a", data_length="10"), MalformedHeaderError, False),
    ("null-ish data length", b'{"type":"a","data_length":[1]}\n', MalformedHeaderError, False),
    ("huge payload length", _header(type="a", payload_length=10**12), FrameTooLargeError, False),
    ("huge data length", _header(type="a", data_length=10**9), FrameTooLargeError, False),
    ("inline data not an object", _header(type="a", data=[1, 2]), MalformedHeaderError, False),
    ("nested header", b'{"type":"a","x":' + NESTED + b"}\n", NestingTooDeepError, False),
    (
        "nested data",
        _header(type="a", data_length=len(b'{"x":' + NESTED + b"}")) + b'{"x":' + NESTED + b"}",
        NestingTooDeepError,
        False,
    ),
    ("data not an object", _header(type="a", data_length=3) + b"[1]", MalformedDataError, False),
    ("data not json", _header(type="a", data_length=5) + b"{nope", MalformedDataError, False),
    ("truncated header", b'{"type":"audio-chu', TruncatedFrameError, True),
    (
        "truncated payload",
        _header(type="audio-chunk", payload_length=640) + b"\x00" * 100,
        TruncatedFrameError,
        True,
    ),
    ("truncated data", _header(type="a", data_length=50) + b'{"rate":', TruncatedFrameError, True),
    (
        "stalled payload",
        _header(type="audio-chunk", payload_length=640) + b"\x00" * 100,
        SlowPeerError,
        False,
    ),
]


@pytest.mark.parametrize(
    ("raw", "error", "end"),
    [pytest.param(raw, error, end, id=name) for name, raw, error, end in CASES],
)
@pytest.mark.parametrize("encrypted", [False, True], ids=["legacy", "encrypted"])
async def test_bad_input_closes_with_typed_error(
    raw: bytes, error: type[ProtocolError], end: bool, encrypted: bool, key: LinkKey
) -> None:
    tracemalloc.start()
    try:
        async with (
            asyncio.timeout(10),
            recording_server(key if encrypted else None, SATELLITE, FAST) as (port, recorder),
        ):
            if encrypted:
                conn = await raw_client(port, key, CONTROLLER)
                reader, writer = conn.reader, conn.writer
            else:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            tracemalloc.reset_peak()
            if encrypted:
                conn.send_wyoming(raw)
            else:
                writer.write(raw)
            if end:
                writer.write_eof()
            outcome = await recorder.outcome()
            _, peak = tracemalloc.get_traced_memory()
            await _check_closed(reader, writer)
    finally:
        tracemalloc.stop()
    assert isinstance(outcome, error), repr(outcome)
    assert str(outcome)  # says what went wrong
    assert recorder.events == []
    # Whatever lengths were claimed (up to 10**12), the server allocated no more than a
    # socket read, a limit's worth and the first-use costs of logging an error.
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes"


async def _check_closed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    assert await closed_by_peer(reader)
    writer.close()


@pytest.mark.parametrize("encrypted", [False, True], ids=["legacy", "encrypted"])
async def test_trickling_peer_is_cut_off(encrypted: bool, key: LinkKey) -> None:
    """One byte every 0.2 s never trips the stall timeout, but the event deadline ends it."""
    raw = _header(type="audio-chunk", payload_length=4) + b"abcd"
    async with (
        asyncio.timeout(15),
        recording_server(key if encrypted else None, SATELLITE, FAST) as (port, recorder),
    ):
        if encrypted:
            conn = await raw_client(port, key, CONTROLLER)
            reader, writer = conn.reader, conn.writer
            whole = frame(conn.cipher.encrypt(bytes((DATA,)) + raw))
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            whole = raw
        for byte in whole:
            if writer.is_closing() or recorder.ended.done():
                break
            writer.write(bytes((byte,)))
            await asyncio.sleep(0.2)
        outcome = await recorder.outcome()
        assert isinstance(outcome, SlowPeerError)
        assert await closed_by_peer(reader)
        assert recorder.events == []
        writer.close()


async def _frame_case(key: LinkKey, send: str) -> tuple[BaseException | None, list[object]]:
    async with recording_server(key, SATELLITE, FAST) as (port, recorder):
        conn = await raw_client(port, key, CONTROLLER)
        good = b'{"type":"ok"}\n'
        if send == "bad indicator":
            conn.writer.write(b"\x02\x00\x05hello")
        elif send == "plaintext wyoming":
            conn.writer.write(good)
        elif send == "tampered frame":
            body = bytearray(conn.cipher.encrypt(bytes((DATA,)) + good))
            body[3] ^= 0x40
            conn.writer.write(frame(bytes(body)))
        elif send == "replayed frame":
            message = frame(conn.cipher.encrypt(bytes((DATA,)) + good))
            conn.writer.write(message + message)
        elif send == "unknown kind":
            conn.send_frame(9, b"x")
        elif send == "empty plaintext":
            conn.writer.write(frame(conn.cipher.encrypt(b"")))
        elif send == "short frame":
            conn.writer.write(frame(b"tiny"))
        elif send == "truncated frame":
            conn.writer.write(b"\x01\x01\x00" + b"z" * 20)
            conn.writer.write_eof()
        elif send == "stalled frame":
            conn.writer.write(b"\x01\x01\x00" + b"z" * 20)
        outcome = await recorder.outcome()
        assert await closed_by_peer(conn.reader)
        conn.writer.close()
        return outcome, [event.type for event in recorder.events]


@pytest.mark.parametrize(
    ("send", "error", "delivered"),
    [
        ("bad indicator", UnexpectedFrameError, []),
        ("plaintext wyoming", UnexpectedFrameError, []),
        ("tampered frame", DecryptError, []),
        ("replayed frame", DecryptError, ["ok"]),
        ("unknown kind", UnexpectedFrameError, []),
        ("empty plaintext", UnexpectedFrameError, []),
        ("short frame", DecryptError, []),
        ("truncated frame", TruncatedFrameError, []),
        ("stalled frame", SlowPeerError, []),
    ],
)
async def test_bad_frames(
    send: str, error: type[ProtocolError], delivered: list[str], key: LinkKey
) -> None:
    async with asyncio.timeout(10):
        outcome, events = await _frame_case(key, send)
    assert isinstance(outcome, error), repr(outcome)
    assert events == delivered


async def test_event_split_across_tiny_frames_is_fine(key: LinkKey) -> None:
    """Frame boundaries are transport detail: an event may arrive one byte per frame."""
    raw = _header(type="audio-chunk", data_length=2, payload_length=3) + b"{}" + b"\x00\x01\x02"
    async with asyncio.timeout(10), recording_server(key, SATELLITE, FAST) as (port, recorder):
        conn = await raw_client(port, key, CONTROLLER)
        for byte in raw:
            conn.send_wyoming(bytes((byte,)))
        conn.send_frame(DATA, b"")  # an empty data frame is allowed and means nothing
        conn.writer.write_eof()
        assert await recorder.outcome() is None
        conn.writer.close()
    assert recorder.events == [Event("audio-chunk", {}, b"\x00\x01\x02")]


@pytest.mark.parametrize("encrypted", [False, True], ids=["legacy", "encrypted"])
async def test_flood_without_newline_uses_bounded_memory(encrypted: bool, key: LinkKey) -> None:
    """A peer streaming 16 MiB with no newline costs the server a few KiB, not 16 MiB."""
    piece = b"a" * 60000
    tracemalloc.start()
    try:
        async with (
            asyncio.timeout(15),
            recording_server(key if encrypted else None, SATELLITE, FAST) as (port, recorder),
        ):
            if encrypted:
                conn = await raw_client(port, key, CONTROLLER)
                reader, writer = conn.reader, conn.writer
            else:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            tracemalloc.reset_peak()
            try:
                for _ in range(280):
                    if encrypted:
                        conn.send_wyoming(piece)
                    else:
                        writer.write(piece)
                    await writer.drain()
            except ConnectionError:
                pass
            outcome = await recorder.outcome()
            _, peak = tracemalloc.get_traced_memory()
            writer.close()
            assert await closed_by_peer(reader)
    finally:
        tracemalloc.stop()
    assert isinstance(outcome, FrameTooLargeError)
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes"


async def test_slow_consumer_pushes_back_instead_of_buffering(key: LinkKey) -> None:
    """Events the application has not read yet stay within max_queued_bytes; none are lost."""
    # Generous timeouts: both ends share one event loop on a shared machine, and this test
    # is about memory and loss, not about how fast a busy machine pushes 8 MiB.
    settings = LinkSettings(
        max_queued_bytes=64 * 1024,
        keepalive_interval=2.0,
        dead_peer_timeout=20.0,
        read_stall_timeout=10.0,
        event_deadline=15.0,
    )
    release = asyncio.Event()
    all_in = asyncio.Event()
    got: list[int] = []
    count = 500  # 8 MiB of audio: more than loopback socket buffers can absorb

    async def slow(link: Link) -> None:
        await release.wait()
        async for event in link:
            got.append(len(event.payload or b""))
            if len(got) == count:
                all_in.set()

    chunk = Event("audio-chunk", {"rate": 16000, "width": 2, "channels": 1}, bytes(16384))
    server = LinkServer(slow, key=key, identity=SATELLITE, settings=settings)
    tracemalloc.start()
    try:
        async with (
            asyncio.timeout(90),
            server.serving("127.0.0.1", 0) as port,
            connect("127.0.0.1", port, key=key, identity=CONTROLLER, settings=settings) as link,
        ):

            async def produce() -> int:
                sent = 0
                for _ in range(count):
                    await link.write_event(chunk)
                    sent += 1
                return sent

            producer = asyncio.create_task(produce())
            await asyncio.sleep(1.0)
            assert not producer.done()  # the writer is held back by the peer
            current, _ = tracemalloc.get_traced_memory()
            release.set()
            assert await producer == count
            await all_in.wait()
    finally:
        tracemalloc.stop()
    assert got == [16384] * count
    # queue (64 KiB) + socket-side buffers; an unbounded reader would hold ~8 MiB here
    assert current < 3 * 1024 * 1024, f"{current} bytes held while the consumer slept"
