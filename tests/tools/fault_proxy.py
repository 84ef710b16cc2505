"""A TCP proxy on 127.0.0.1 that stands between Home Assistant and a device and breaks
the network on command: latency, a narrow pipe, a clean close, a reset, or a black hole.

Faults are states: while one holds, it applies to the connections that are open and to
every new one, until `heal` returns the proxy to pass-through. A reconnect attempt made
during a fault therefore meets the fault, as it would on a real network.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

_READ_SIZE: Final = 65536
# Queued chunks per direction: a slow side pushes back on the other through TCP.
_QUEUE_CHUNKS: Final = 64
# A throttled pipe writes this many slices a second, so the rate is smooth.
_THROTTLE_SLICES_PER_SECOND: Final = 20


class Fault(StrEnum):
    """What the proxy does to traffic right now."""

    PASS = "pass"
    DELAY = "delay"
    THROTTLE = "throttle"
    CUT = "cut"
    RESET = "reset"
    BLACKHOLE = "blackhole"


@dataclass(eq=False)
class _Pipe:
    """One proxied connection: the client's socket and the upstream one."""

    client_reader: asyncio.StreamReader
    client_writer: asyncio.StreamWriter
    upstream_reader: asyncio.StreamReader | None = None
    upstream_writer: asyncio.StreamWriter | None = None
    blackholed: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def writers(self) -> list[asyncio.StreamWriter]:
        return [w for w in (self.client_writer, self.upstream_writer) if w is not None]


def _abort_with_reset(writer: asyncio.StreamWriter) -> None:
    """Close a socket so the peer sees a TCP reset (SO_LINGER 0), not a clean FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    """Forwards 127.0.0.1:`port` to `target_host`:`target_port`, faults on command."""

    def __init__(self, target_port: int, *, target_host: str = "127.0.0.1") -> None:
        """Nothing listens until `start`."""
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self.fault = Fault.PASS
        self.latency = 0.0
        self.toward_target_at = 0.0
        """When bytes last came from a client on their way to the target (loop time)."""
        self.rate: float | None = None
        self.accepted: list[float] = []
        """When each connection was accepted (loop time), faulted ones included."""
        self._server: asyncio.Server | None = None
        self._pipes: set[_Pipe] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    # --- life --------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and close every connection and task."""
        if self._server is not None:
            self._server.close()
        for pipe in list(self._pipes):
            await self._close(pipe)
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FaultProxy:
        """Start listening."""
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop everything."""
        await self.stop()

    @property
    def open_connections(self) -> int:
        """Connections being proxied (or held in a black hole) right now."""
        return len(self._pipes)

    # --- faults ------------------------------------------------------------------------

    async def quiet_toward_target(self, seconds: float) -> None:
        """Until nothing has come from a client toward the target for `seconds`."""
        loop = asyncio.get_running_loop()
        while (idle := loop.time() - self.toward_target_at) < seconds:
            await asyncio.sleep(seconds - idle)

    def delay(self, seconds: float) -> None:
        """Add `seconds` of latency to every byte from now on, both ways."""
        self.fault, self.latency = Fault.DELAY, seconds

    def throttle(self, bytes_per_second: float) -> None:
        """Let at most `bytes_per_second` through each way; the rest waits (TCP pushes back)."""
        if bytes_per_second <= 0:
            raise ValueError(f"a throttle needs a positive rate, not {bytes_per_second}")
        self.fault, self.rate = Fault.THROTTLE, bytes_per_second

    def cut(self) -> None:
        """Close both sides of every connection cleanly; new ones are closed at once."""
        self.fault = Fault.CUT
        for pipe in list(self._pipes):
            self._spawn(self._close(pipe))

    def reset(self) -> None:
        """Reset both sides of every connection (RST); new ones are reset at once."""
        self.fault = Fault.RESET
        for pipe in list(self._pipes):
            for writer in pipe.writers():
                _abort_with_reset(writer)

    def blackhole(self) -> None:
        """Keep every socket open but drop every byte, both ways, new connections too."""
        self.fault = Fault.BLACKHOLE
        for pipe in self._pipes:
            pipe.blackholed = True

    def heal(self) -> None:
        """Back to pass-through for new connections and for delayed or throttled ones.

        A connection that was in the black hole lost bytes in the middle of its stream,
        so it cannot carry on: it is closed, as either end would on its next frame.
        """
        self.fault, self.latency, self.rate = Fault.PASS, 0.0, None
        for pipe in list(self._pipes):
            if pipe.blackholed:
                self._spawn(self._close(pipe))

    # --- plumbing ----------------------------------------------------------------------

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.accepted.append(asyncio.get_running_loop().time())
        pipe = _Pipe(reader, writer)
        try:
            if self.fault is Fault.CUT:
                writer.close()
                return
            if self.fault is Fault.RESET:
                _abort_with_reset(writer)
                return
            self._pipes.add(pipe)
            if self.fault is Fault.BLACKHOLE:
                pipe.blackholed = True
            else:
                try:
                    pipe.upstream_reader, pipe.upstream_writer = await asyncio.open_connection(
                        self.target_host, self.target_port
                    )
                except OSError:
                    return
            pipe.tasks = [
                asyncio.create_task(
                    self._pump(pipe, reader, pipe.upstream_writer, toward_target=True)
                ),
            ]
            if pipe.upstream_reader is not None:
                pipe.tasks.append(
                    asyncio.create_task(self._pump(pipe, pipe.upstream_reader, writer))
                )
            await asyncio.wait(pipe.tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await self._close(pipe)
            self._handlers.discard(task)

    async def _pump(
        self,
        pipe: _Pipe,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter | None,
        *,
        toward_target: bool = False,
    ) -> None:
        """Read one direction and hand the bytes to its sender, as the fault allows."""
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(_QUEUE_CHUNKS)
        sender = asyncio.create_task(self._send(pipe, queue, writer))
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    data = await reader.read(_READ_SIZE)
                except OSError:
                    data = b""
                if not data:
                    break
                if toward_target:
                    self.toward_target_at = loop.time()
                if pipe.blackholed or writer is None:
                    continue
                await queue.put((loop.time() + self.latency, data))
            await queue.put(None)
            await sender
        finally:
            if not sender.done():
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender

    async def _send(
        self,
        pipe: _Pipe,
        queue: asyncio.Queue[tuple[float, bytes] | None],
        writer: asyncio.StreamWriter | None,
    ) -> None:
        """Write queued bytes when their latency is up, at the throttled rate if any."""
        loop = asyncio.get_running_loop()
        while (item := await queue.get()) is not None:
            due, data = item
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            if pipe.blackholed or writer is None:
                continue
            rate = self.rate
            step = max(1, int(rate / _THROTTLE_SLICES_PER_SECOND)) if rate else len(data)
            for start in range(0, len(data), step):
                if pipe.blackholed:
                    break
                piece = data[start : start + step]
                writer.write(piece)
                try:
                    await writer.drain()
                except OSError:
                    return
                if rate := self.rate:
                    await asyncio.sleep(len(piece) / rate)

    async def _close(self, pipe: _Pipe) -> None:
        """Close both sockets of a connection and wait for its tasks."""
        self._pipes.discard(pipe)
        current = asyncio.current_task()
        for task in pipe.tasks:
            if task is not current:
                task.cancel()
        for writer in pipe.writers():
            writer.close()
        for task in pipe.tasks:
            if task is not current:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for writer in pipe.writers():
            with contextlib.suppress(OSError):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def fault_proxy(target_port: int) -> AsyncIterator[FaultProxy]:
    """A proxy to 127.0.0.1:`target_port`, listening for as long as the block runs."""
    proxy = FaultProxy(target_port)
    async with proxy:
        yield proxy
