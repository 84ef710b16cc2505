"""An established link: reads and writes Wyoming events, keeps the peer honest and alive."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from typing import Final

from wyoming.event import Event

from .codec import ByteSource, StreamSource, encode_event, read_event
from .errors import ConnectionClosedError, LinkError, PeerDeadError, ProtocolError
from .frames import (
    KIND_DATA,
    KIND_PING,
    KIND_PONG,
    MAX_DATA_PER_FRAME,
    Cipher,
    FrameReader,
    NoiseSource,
    pack_frame,
)
from .identity import PeerIdentity
from .settings import LinkSettings

_LOGGER = logging.getLogger(__name__)

#: How long close() lets buffered bytes drain to the peer before cutting the connection.
_CLOSE_FLUSH_TIMEOUT: Final = 1.0
_DATA_KIND: Final = bytes((KIND_DATA,))
#: What a queued event costs beyond its wire bytes (Event, dict and bytes objects), so a
#: flood of tiny events cannot hold far more memory than max_queued_bytes suggests.
_EVENT_OVERHEAD: Final = 512
#: A writer that never has to wait yields to the event loop after this many events.
_YIELD_EVERY: Final = 32
#: Above this many unsent bytes, pongs are skipped rather than queued.
_PONG_BACKLOG_LIMIT: Final = 64 * 1024


class Link:
    """One established connection carrying Wyoming events.

    A background task reads the socket all the time, so keepalive pongs are answered and
    dead peers noticed even while the application only writes. Received events wait in
    a queue bounded by LinkSettings.max_queued_bytes; when it is full the link stops
    reading, and TCP pushes back on the peer. One task should read; any number may write.
    """

    def __init__(
        self,
        writer: asyncio.StreamWriter,
        *,
        settings: LinkSettings,
        where: str,
        peer: PeerIdentity | None = None,
        cipher: Cipher | None = None,
        frames: FrameReader | None = None,
        reader: asyncio.StreamReader | None = None,
        problems: Callable[[str], None] | None = None,
    ) -> None:
        self._writer = writer
        self._problems = problems
        self._transport = writer.transport
        self._settings = settings
        self._where = where
        self._peer = peer
        self._cipher = cipher
        self._source: ByteSource
        if cipher is not None:
            if frames is None:
                raise ValueError("an encrypted link needs its frame reader")
            self._source = NoiseSource(frames, cipher, settings, send_control=self._send_control)
        else:
            if reader is None:
                raise ValueError("a legacy link needs its stream reader")
            self._source = StreamSource(reader, settings)
        self._queue: collections.deque[tuple[Event, int]] = collections.deque()
        self._queued_bytes = 0
        self._readable = asyncio.Event()
        self._space = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._error: LinkError | None = None
        self._closed = False
        self._consumer_blocked = False
        self._writes_since_yield = 0
        loop = asyncio.get_running_loop()
        self._heard_override = loop.time()
        self._reader_task = loop.create_task(self._read_loop(), name=f"sotto link reader {where}")
        self._watchdog_task: asyncio.Task[None] | None = None
        if cipher is not None:
            self._watchdog_task = loop.create_task(
                self._watchdog(), name=f"sotto link keepalive {where}"
            )

    @property
    def peer(self) -> PeerIdentity | None:
        """The peer's identity from the handshake; None on a legacy link (a stock peer)."""
        return self._peer

    @property
    def encrypted(self) -> bool:
        """Whether this link is encrypted and authenticated (False only in legacy mode)."""
        return self._cipher is not None

    @property
    def closed(self) -> bool:
        """Whether the link has ended, by either side or by an error."""
        return self._closed or self._error is not None

    @property
    def remote(self) -> str:
        """The peer's address, for logs."""
        return self._where

    def report_problem(self, text: str) -> None:
        """Log a problem with the peer: a warning, rate-limited per peer on a server."""
        if self._problems is not None:
            self._problems(text)
        else:
            _LOGGER.warning("%s", text)

    def __repr__(self) -> str:
        mode = "encrypted" if self.encrypted else "legacy"
        who = self._peer.device_id if self._peer is not None else "?"
        return f"<Link {mode} {self._where} peer={who} closed={self.closed}>"

    # --- reading -------------------------------------------------------------------------

    async def read_event(self) -> Event:
        """Return the next event; raises ConnectionClosedError once the link has ended."""
        while True:
            if self._closed:
                raise ConnectionClosedError(f"link to {self._where} is closed")
            if self._queue:
                event, size = self._queue.popleft()
                self._queued_bytes -= size
                self._space.set()
                return event
            if self._error is not None:
                raise self._error
            self._readable.clear()
            await self._readable.wait()

    def __aiter__(self) -> Link:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self.read_event()
        except ConnectionClosedError:
            raise StopAsyncIteration from None

    async def _read_loop(self) -> None:
        source = self._source
        settings = self._settings
        limit = settings.max_queued_bytes
        queue = self._queue
        try:
            while True:
                result = await read_event(source, settings)
                if result is None:
                    self._fail(ConnectionClosedError(f"{self._where} closed the link"))
                    return
                size = result[1] + _EVENT_OVERHEAD
                result = (result[0], size)
                while self._queued_bytes and self._queued_bytes + size > limit:
                    self._space.clear()
                    self._consumer_blocked = True
                    try:
                        await self._space.wait()
                    finally:
                        self._consumer_blocked = False
                        self._heard_override = asyncio.get_running_loop().time()
                    if self._closed or self._error is not None:
                        return
                queue.append(result)
                self._queued_bytes += size
                self._readable.set()
        except LinkError as err:
            self._fail(err)
        except (ConnectionError, OSError) as err:
            self._fail(ConnectionClosedError(f"connection to {self._where} lost: {err}"))
        except Exception as err:
            # A bug must end the link loudly, never leave a reader waiting forever.
            _LOGGER.exception("reading from %s failed", self._where)
            self._fail(LinkError(f"reading from {self._where} failed: {err!r}"))

    # --- writing -------------------------------------------------------------------------

    async def write_event(self, event: Event) -> None:
        """Send one event, waiting while the peer is slow to take it (backpressure)."""
        wire = encode_event(event, self._settings)
        async with self._write_lock:
            self._check_writable()
            transport = self._transport
            cipher = self._cipher
            if cipher is None:
                transport.write(wire)
            elif len(wire) <= MAX_DATA_PER_FRAME:
                transport.write(pack_frame(cipher.encrypt(_DATA_KIND + wire)))
            else:
                view = memoryview(wire)
                for start in range(0, len(wire), MAX_DATA_PER_FRAME):
                    piece = _DATA_KIND + bytes(view[start : start + MAX_DATA_PER_FRAME])
                    transport.write(pack_frame(cipher.encrypt(piece)))
            try:
                await self._writer.drain()
                self._writes_since_yield += 1
                if self._writes_since_yield >= _YIELD_EVERY:
                    # drain() does not yield while the socket takes everything; without
                    # this a flat-out writer would starve the reader and the keepalive.
                    self._writes_since_yield = 0
                    await asyncio.sleep(0)
            except (ConnectionError, OSError) as err:
                self._fail(ConnectionClosedError(f"connection to {self._where} lost: {err}"))
                raise self._error_now() from None

    def _check_writable(self) -> None:
        if self._closed:
            raise ConnectionClosedError(f"link to {self._where} is closed")
        if self._error is not None:
            raise self._error
        if self._transport.is_closing():
            self._fail(ConnectionClosedError(f"connection to {self._where} is closing"))
            raise self._error_now()

    def _error_now(self) -> LinkError:
        return self._error or ConnectionClosedError(f"link to {self._where} is closed")

    def _send_control(self, kind: int) -> None:
        # Encrypt and write without awaiting, so control frames never interleave with the
        # frames of an event in a way that breaks the nonce order.
        cipher = self._cipher
        transport = self._transport
        if cipher is None or self._error is not None or transport.is_closing():
            return
        if kind == KIND_PONG and transport.get_write_buffer_size() > _PONG_BACKLOG_LIMIT:
            # Unsent data is queued, so the peer will hear from us anyway; and a peer that
            # floods pings without reading must not grow our buffers. (Pings are never
            # skipped: the watchdog sends at most one per keepalive interval.)
            return
        transport.write(pack_frame(cipher.encrypt(bytes((kind,)))))

    # --- keepalive -----------------------------------------------------------------------

    async def _watchdog(self) -> None:
        settings = self._settings
        loop = asyncio.get_running_loop()
        last_ping = loop.time()
        while self._error is None:
            due = loop.time() + settings.watchdog_tick
            await asyncio.sleep(settings.watchdog_tick)
            now = loop.time()
            if now - due > settings.keepalive_interval:
                # Our own event loop stalled, so the peer's answers may sit unread: judge
                # it afresh (ping now, give it the rest of the timeout to answer).
                self._heard_override = max(self._heard_override, now - settings.keepalive_interval)
            if self._consumer_blocked:
                # The link stopped reading because our application is behind, not because
                # the peer went quiet: silence does not count while that lasts.
                self._heard_override = now
                continue
            silent = now - max(self._source.last_rx, self._heard_override)
            if silent >= settings.dead_peer_timeout:
                self._fail(
                    PeerDeadError(
                        f"{self._where} sent nothing for {silent:.1f} s despite keepalive "
                        f"pings (dead-peer timeout {settings.dead_peer_timeout} s)"
                    )
                )
                return
            if silent >= settings.keepalive_interval and (
                now - last_ping >= settings.keepalive_interval
            ):
                self._send_control(KIND_PING)
                last_ping = now

    # --- ending --------------------------------------------------------------------------

    def _fail(self, error: LinkError) -> None:
        if self._error is not None:
            return
        self._error = error
        if isinstance(error, ConnectionClosedError):
            _LOGGER.debug("%s", error)
            self._transport.close()
        else:
            # Closed first: a rate-limited log line must never keep a bad peer connected.
            self._transport.abort()
            if self._problems is not None:
                self._problems(f"link from {self._where} failed: {error}")
            else:
                level = logging.WARNING if isinstance(error, ProtocolError | PeerDeadError) else 0
                _LOGGER.log(level or logging.INFO, "link to %s failed: %s", self._where, error)
        self._readable.set()
        self._space.set()

    async def close(self) -> None:
        """Close the link: flush what was written, stop the background tasks."""
        if self._closed:
            return
        self._closed = True
        if self._error is None:
            self._error = ConnectionClosedError(f"link to {self._where} closed locally")
        self._readable.set()
        self._space.set()
        current = asyncio.current_task()
        tasks = [
            task
            for task in (self._reader_task, self._watchdog_task)
            if task is not None and task is not current
        ]
        for task in tasks:
            task.cancel()
        if tasks:
            # wait() (unlike awaiting each task) never mistakes their cancellation for ours
            await asyncio.wait(tasks)
        if not self._transport.is_closing():
            self._writer.close()
        try:
            async with asyncio.timeout(_CLOSE_FLUSH_TIMEOUT):
                await self._writer.wait_closed()
        except TimeoutError:
            self._transport.abort()
        except (ConnectionError, OSError):
            pass
