"""Hand-built peers that speak the link's wire format byte by byte, to misbehave on purpose.

They follow the documented format ([0x01][u16 length][Noise message], NNpsk0 with the
prologue b"sotto-link/1", hello JSON as handshake payloads, a READY transport frame) with
the noise package directly, not with sotto_voice.link's own code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from noise.connection import NoiseConnection
from wyoming.event import Event

from sotto_voice.link import Link, LinkError, LinkKey, LinkServer, LinkSettings, PeerIdentity

PROTOCOL = b"Noise_NNpsk0_25519_ChaChaPoly_SHA256"
PROLOGUE = b"sotto-link/1"
DATA, PING, PONG, READY = 0, 1, 2, 3


def hello(identity: PeerIdentity) -> bytes:
    """The hello JSON a peer sends inside the handshake."""
    return json.dumps(
        {
            "hello": 1,
            "device_id": identity.device_id,
            "name": identity.name,
            "role": identity.role,
            "version": identity.version,
        }
    ).encode()


def frame(message: bytes) -> bytes:
    """Wrap a Noise message in a link frame."""
    return bytes((1, len(message) >> 8, len(message) & 0xFF)) + message


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """Read one link frame's message."""
    head = await reader.readexactly(3)
    assert head[0] == 1
    return await reader.readexactly((head[1] << 8) | head[2])


def noise(key: LinkKey, *, initiator: bool) -> NoiseConnection:
    """A Noise state set up like the link's."""
    conn = NoiseConnection.from_name(PROTOCOL)
    if initiator:
        conn.set_as_initiator()
    else:
        conn.set_as_responder()
    conn.set_psks(psk=key.secret)
    conn.set_prologue(PROLOGUE)
    conn.start_handshake()
    return conn


@dataclass
class RawConnection:
    """A completed handshake, driven by hand."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    cipher: NoiseConnection
    peer_hello: dict[str, object]
    transcript: list[bytes] = field(default_factory=list)

    def send_frame(self, kind: int, body: bytes = b"") -> None:
        """Encrypt and send one transport frame."""
        self.writer.write(frame(self.cipher.encrypt(bytes((kind,)) + body)))

    def send_wyoming(self, raw: bytes) -> None:
        """Send raw Wyoming bytes inside one data frame."""
        self.send_frame(DATA, raw)

    async def recv(self) -> tuple[int, bytes]:
        """Receive and decrypt one transport frame: (kind, body)."""
        plain = self.cipher.decrypt(await read_frame(self.reader))
        return plain[0], plain[1:]


async def raw_client(
    port: int, key: LinkKey, identity: PeerIdentity, *, send_ready: bool = True
) -> RawConnection:
    """Open a connection and run the initiator's handshake by hand."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    conn = noise(key, initiator=True)
    msg1 = frame(bytes(conn.write_message(hello(identity))))
    writer.write(msg1)
    reply = await read_frame(reader)
    assert reply[0] == 0, f"server refused: {reply!r}"
    peer = json.loads(bytes(conn.read_message(reply[1:])))
    ready = frame(conn.encrypt(bytes((READY,))))
    if send_ready:
        writer.write(ready)
    return RawConnection(reader, writer, conn, peer, [msg1, ready])


@contextlib.asynccontextmanager
async def raw_server(
    key: LinkKey, identity: PeerIdentity, *, answer: bool = True, my_hello: bytes | None = None
) -> AsyncIterator[tuple[int, asyncio.Queue[RawConnection]]]:
    """Serve the responder's handshake by hand; completed connections go to the queue.

    With answer=False the server accepts and reads but never replies to the handshake;
    my_hello replaces the hello it sends.
    """
    accepted: asyncio.Queue[RawConnection] = asyncio.Queue()
    writers: list[asyncio.StreamWriter] = []
    tasks: set[asyncio.Task[None]] = set()

    async def handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        conn = noise(key, initiator=False)
        peer = json.loads(bytes(conn.read_message(await read_frame(reader))))
        if not answer:
            await reader.read()  # swallow everything, say nothing
            return
        sent_hello = hello(identity) if my_hello is None else my_hello
        writer.write(frame(b"\x00" + bytes(conn.write_message(sent_hello))))
        plain = conn.decrypt(await read_frame(reader))
        assert plain == bytes((READY,))
        await accepted.put(RawConnection(reader, writer, conn, peer))

    def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(handshake(reader, writer))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], accepted
    finally:
        server.close()
        for writer in writers:
            writer.transport.abort()
        for task in list(tasks):
            task.cancel()
        if tasks:
            await asyncio.wait(list(tasks))
        await server.wait_closed()


async def closed_by_peer(reader: asyncio.StreamReader) -> bool:
    """Drain the reader and report that the peer closed the connection."""
    try:
        while await reader.read(65536):
            pass
    except ConnectionError:
        pass
    return True


def _future() -> asyncio.Future[BaseException | None]:
    return asyncio.get_running_loop().create_future()


@dataclass
class Recorder:
    """A LinkServer handler that records what the link delivered and how it ended."""

    events: list[Event] = field(default_factory=list)
    links: int = 0
    ended: asyncio.Future[BaseException | None] = field(default_factory=_future)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, link: Link) -> None:
        self.links += 1
        try:
            async for event in link:
                self.events.append(event)
                self.arrived.set()
        except LinkError as err:
            if not self.ended.done():
                self.ended.set_result(err)
            return
        if not self.ended.done():
            self.ended.set_result(None)

    async def outcome(self, timeout: float = 10) -> BaseException | None:
        """Wait for the first link to end; return the error it ended with."""
        async with asyncio.timeout(timeout):
            return await self.ended


@contextlib.asynccontextmanager
async def recording_server(
    key: LinkKey | None, identity: PeerIdentity, settings: LinkSettings
) -> AsyncIterator[tuple[int, Recorder]]:
    """A LinkServer (legacy when key is None) whose handler records everything."""
    recorder = Recorder()
    server = LinkServer(recorder, key=key, identity=identity, legacy=key is None, settings=settings)
    async with server.serving("127.0.0.1", 0) as port:
        yield port, recorder
