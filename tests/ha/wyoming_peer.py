"""A stock Wyoming satellite, served by the real `wyoming` package, for legacy pairing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from functools import partial

from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, Satellite
from wyoming.server import AsyncEventHandler, AsyncServer


class _Handler(AsyncEventHandler):
    """Answers `describe` like wyoming-satellite does."""

    def __init__(self, name: str, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._name = name

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            info = Info(
                satellite=Satellite(
                    name=self._name,
                    attribution=Attribution(name="test", url=""),
                    installed=True,
                    description="a stock Wyoming satellite",
                    version="1.0",
                )
            )
            await self.write_event(info.event())
        return True


@contextlib.asynccontextmanager
async def serve_wyoming_satellite(name: str) -> AsyncIterator[int]:
    """Serve a stock Wyoming satellite on 127.0.0.1 and yield its port."""
    server = AsyncServer.from_uri("tcp://127.0.0.1:0")
    task = asyncio.create_task(server.run(partial(_Handler, name)))
    for _ in range(100):
        inner = getattr(server, "_server", None)
        if inner is not None and inner.sockets:
            break
        await asyncio.sleep(0.01)
    port = int(server._server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
    try:
        yield port
    finally:
        await server.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
