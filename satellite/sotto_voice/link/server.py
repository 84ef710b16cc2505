"""Serving links: one handler task per connection, caps on connections in the handshake
(in total and per peer address, so one address's flood cannot lock the others out).

Every problem a peer causes (a scan, garbage, a wrong key, a flood, a broken event) is
logged through a PeerLog: one clear line per peer per minute, naming the address and the
problem; the connection is closed every time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

from .client import check_mode
from .errors import ConnectionClosedError, HandshakeTimeoutError, LinkError
from .frames import FrameReader
from .handshake import server_handshake
from .identity import PeerIdentity
from .keys import LinkKey
from .link import Link
from .peerlog import PeerLog, peer_host
from .settings import DEFAULT_SETTINGS, LinkSettings

_LOGGER = logging.getLogger(__name__)

#: How long a refused connection may take to flush its refusal before it is cut.
_REFUSAL_FLUSH_TIMEOUT: Final = 1.0

LinkHandler = Callable[[Link], Awaitable[None]]


async def _close_quickly(writer: asyncio.StreamWriter) -> None:
    # close() rather than abort(): a refusal frame may still be on its way out.
    writer.close()
    try:
        async with asyncio.timeout(_REFUSAL_FLUSH_TIMEOUT):
            await writer.wait_closed()
    except TimeoutError:
        writer.transport.abort()
    except (ConnectionError, OSError):
        pass


class LinkServer:
    """Accepts links on a TCP port and runs `handler(link)` for each one.

    The handler runs after the handshake; when it returns (or raises) the link is closed.
    """

    def __init__(
        self,
        handler: LinkHandler,
        *,
        key: LinkKey | None,
        identity: PeerIdentity,
        legacy: bool = False,
        settings: LinkSettings = DEFAULT_SETTINGS,
        peer_log: PeerLog | None = None,
    ) -> None:
        check_mode(key, legacy=legacy)
        self._peer_log = peer_log or PeerLog(logger=_LOGGER)
        self._handler = handler
        self._key = key
        self._identity = identity
        self._legacy = legacy
        self._settings = settings
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._handshaking: Counter[str] = Counter()
        """Connections in the handshake, by peer address."""
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The port the server listens on (useful after binding port 0)."""
        if self._port is None:
            raise RuntimeError("LinkServer is not serving")
        return self._port

    @property
    def peer_log(self) -> PeerLog:
        """Where problems with peers are logged (rate-limited per peer)."""
        return self._peer_log

    @property
    def connections(self) -> int:
        """How many connections are open (in the handshake or in a handler)."""
        return len(self._tasks)

    async def start(self, host: str, port: int) -> int:
        """Start listening and return the bound port."""
        if self._server is not None:
            raise RuntimeError("LinkServer is already serving")
        self._server = await asyncio.start_server(self._accept, host, port)
        self._port = int(self._server.sockets[0].getsockname()[1])
        _LOGGER.debug(
            "serving %s links on %s:%s",
            "legacy" if self._legacy else "encrypted",
            host,
            self._port,
        )
        return self._port

    async def stop(self) -> None:
        """Stop listening, close every connection and wait for every handler to end."""
        server, self._server = self._server, None
        self._port = None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        if server is not None:
            await server.wait_closed()

    @contextlib.asynccontextmanager
    async def serving(self, host: str, port: int) -> AsyncIterator[int]:
        """Serve while inside the block; yields the bound port."""
        bound = await self.start(host, port)
        try:
            yield bound
        finally:
            await self.stop()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        where = f"{peername[0]}:{peername[1]}" if peername else "unknown peer"
        host = peer_host(peername)
        if not self._legacy and (refusal := self._handshake_refusal(host)):
            writer.transport.abort()
            self._peer_log.report(host, f"refused {where}: {refusal} (a handshake flood?)")
            return
        # The slot is taken now, not when the task starts: a burst of connections is
        # accepted in one go, before any of their tasks runs.
        self._handshaking[host] += 1
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                self._handshaking[host] -= 1
                if not self._handshaking[host]:
                    del self._handshaking[host]

        task = asyncio.get_running_loop().create_task(
            self._serve(reader, writer, where, host, release), name=f"sotto link {where}"
        )
        self._tasks.add(task)
        self._writers.add(writer)

        def _done(finished: asyncio.Task[None]) -> None:
            release()  # a task cancelled before it ran never reached the handshake's end
            self._tasks.discard(finished)
            self._writers.discard(writer)

        task.add_done_callback(_done)

    def _handshake_refusal(self, host: str) -> str | None:
        """Why a new connection from `host` may not start a handshake now, if it may not."""
        settings = self._settings
        total = self._handshaking.total()
        if total >= settings.max_handshaking:
            return f"{total} connections are already in the handshake"
        if (mine := self._handshaking[host]) >= settings.max_handshaking_per_peer:
            return f"{mine} connections from {host} are already in the handshake"
        return None

    async def _serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        where: str,
        host: str,
        release: Callable[[], None],
    ) -> None:
        peer_log = self._peer_log
        reported = False

        def problem(text: str) -> None:
            nonlocal reported
            reported = True
            peer_log.report(host, text)

        try:
            link = await self._open(reader, writer, where, release, problem)
        except LinkError as err:
            # Logged before closing: whoever sees the connection end can find the line.
            peer_log.report(host, f"refused {where}: {err}")
            await _close_quickly(writer)
            return
        except (ConnectionError, OSError) as err:
            writer.transport.abort()
            peer_log.report(
                host, f"refused {where}: the connection was lost in the handshake ({err})"
            )
            return
        except BaseException:
            writer.transport.abort()
            raise
        try:
            await self._handler(link)
        except ConnectionClosedError as err:
            _LOGGER.debug("link from %s ended: %s", where, err)
        except LinkError as err:
            if not reported:  # the link reported its own failure already
                peer_log.report(host, f"link from {where} failed: {err}")
        except Exception:
            _LOGGER.exception("link handler for %s failed", where)
        finally:
            await link.close()

    async def _open(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        where: str,
        release: Callable[[], None],
        problem: Callable[[str], None],
    ) -> Link:
        settings = self._settings
        if self._legacy:
            release()
            return Link(writer, settings=settings, where=where, reader=reader, problems=problem)
        assert self._key is not None  # checked by check_mode
        frames = FrameReader(reader, settings)
        try:
            async with asyncio.timeout(settings.handshake_timeout):
                cipher, peer = await server_handshake(
                    frames, writer, key=self._key, identity=self._identity, where=where
                )
        except TimeoutError:
            raise HandshakeTimeoutError(
                f"{where} did not finish the handshake within {settings.handshake_timeout} s"
            ) from None
        finally:
            release()
        _LOGGER.debug("link from %s: %s (%s)", where, peer.device_id, peer.name)
        return Link(
            writer,
            settings=settings,
            where=where,
            peer=peer,
            cipher=cipher,
            frames=frames,
            problems=problem,
        )
