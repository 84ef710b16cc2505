"""Only an authenticated controller runs the satellite, one at a time; when HA goes away
the satellite keeps listening, sends nothing, and shows an error."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from wyoming.error import Error

from demo.speech import utterance
from sotto_voice.link import InvalidKeyError, LinkKey, PeerIdentity, connect
from sotto_voice.messages import ERROR_BUSY, IndicatorState, SottoInfo, SottoLedger
from sotto_voice.satellite.server import ERROR_NOT_CONTROLLER

from .harness import TEST_LINK, controller, make_config, running_satellite


class FreezableProxy:
    """A TCP relay on 127.0.0.1 that can stop passing bytes, like a peer that lost power."""

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    def freeze(self) -> None:
        """Stop relaying in both directions (connections stay open)."""
        self._flowing.clear()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        self._writers += [writer, up_writer]
        for pump in (self._pump(reader, up_writer), self._pump(up_reader, writer)):
            task = asyncio.create_task(pump)
            self._tasks.add(task)

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[int]:
        """Relay while inside the block; yields the proxy's port."""
        server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        try:
            yield server.sockets[0].getsockname()[1]
        finally:
            server.close()
            for writer in self._writers:
                writer.transport.abort()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await server.wait_closed()


async def test_second_controller_waits_until_the_first_is_dead(tmp_path: Path) -> None:
    """The first controller keeps control until keepalive declares it dead; then the second
    one is in charge."""
    async with running_satellite(make_config(tmp_path)) as sat:
        proxy = FreezableProxy(sat.port)
        async with proxy.serving() as proxy_port:
            sat_via_proxy = dataclasses.replace(sat, port=proxy_port)
            async with controller(sat_via_proxy, name="old HA") as first:
                await first.wait_for(lambda e: SottoInfo.is_type(e.type))
                async with controller(sat, name="new HA") as second:
                    await second.send(Error(text="hello", code="x").event())
                    refusal = await second.wait_for(lambda e: Error.is_type(e.type))
                    assert Error.from_event(refusal).code == ERROR_BUSY
                    assert not second.of_type("sotto-info")  # not in charge yet
                    await first.settled()  # the first one still is

                    proxy.freeze()  # the first controller goes silent, its TCP stays open
                    await second.wait_for(lambda e: SottoInfo.is_type(e.type), timeout=10)
                    await second.settled()  # now it is in charge
                    assert sat.satellite.controller is not None


async def test_only_a_controller_may_connect(tmp_path: Path) -> None:
    """An authenticated peer that is not a controller (e.g. an engine) gets nothing."""
    async with running_satellite(make_config(tmp_path)) as sat:
        async with controller(sat, role="engine") as engine:
            refusal = await engine.wait_for(lambda e: Error.is_type(e.type))
            assert Error.from_event(refusal).code == ERROR_NOT_CONTROLLER
            await asyncio.wait_for(engine.task, 10)  # the satellite closed the link
        assert not engine.of_type("sotto-info")
        assert sat.satellite.controller is None


async def test_wrong_key_gets_nothing(tmp_path: Path) -> None:
    """A peer without the satellite's key cannot even finish the handshake."""
    async with running_satellite(make_config(tmp_path)) as sat:
        identity = PeerIdentity(device_id="intruder", name="intruder", role="controller")
        with pytest.raises(InvalidKeyError):
            async with connect(
                "127.0.0.1", sat.port, key=LinkKey.generate(), identity=identity, settings=TEST_LINK
            ):
                pass
        assert sat.satellite.controller is None


async def test_without_home_assistant_it_listens_but_sends_nothing(tmp_path: Path) -> None:
    """HA away: the wake word is still heard (and counted), nothing leaves, the light says
    error after the grace period; when HA comes back all is well."""
    async with running_satellite(make_config(tmp_path)) as sat:
        await sat.recorder.wait_for(IndicatorState.ERROR)
        await sat.feed(utterance(0.5, "okay nabu", 0.3, "turn on the kitchen light", 1.5))
        assert len(sat.wakes) == 1
        assert sat.sent == []
        assert IndicatorState.LISTENING not in [state for state, _ in sat.recorder.shown]

        async with controller(sat) as ha:
            await sat.recorder.wait_for(IndicatorState.IDLE)
            ledger = await ha.wait_for(lambda e: SottoLedger.is_type(e.type))
            assert SottoLedger.from_event(ledger).wakes == 1
            assert SottoLedger.from_event(ledger).streams == 0
        await sat.recorder.wait_for(IndicatorState.ERROR)


@pytest.mark.parametrize(("refractory", "wakes"), [(2.5, 1), (0.1, 2)])
async def test_refractory_period(tmp_path: Path, refractory: float, wakes: int) -> None:
    """A second wake word within the refractory period is not a new wake."""
    config = make_config(tmp_path, wake={"refractory_seconds": refractory})
    async with running_satellite(config) as sat:
        await sat.feed(utterance(0.5, "okay nabu", 0.3, "okay nabu", 1.0))
    assert len(sat.wakes) == wakes
