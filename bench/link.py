"""CPU cost of the secure link against plain Wyoming, for one hour of 16 kHz mono audio.

Streams 180,000 audio chunks of 20 ms (640 bytes) over loopback as fast as possible, both
ends in this process, and prints the CPU seconds (user + system) each transport took:
plain Wyoming (the wyoming package's own reader and writer), the Sotto link in legacy
(plaintext) mode, and the encrypted Sotto link. Target: encrypted <= 1.5x plain, and well
under 1 % of a core per real-time stream.

    .venv/bin/python bench/link.py [--seconds 3600] [--repeat 3] [--realtime-seconds 20]

It also streams --realtime-seconds of audio paced like a live microphone (one chunk every
20 ms), where every chunk costs its own wakeups and system calls, and prints the share of
one core that costs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import Callable, Coroutine
from typing import Any

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event, async_read_event, async_write_event

from sotto_voice.audio import VOICE_FORMAT
from sotto_voice.link import Link, LinkKey, LinkServer, PeerIdentity, connect

RATE = VOICE_FORMAT.rate
CHUNK_MS = 20
CHUNK_BYTES = RATE * 2 * CHUNK_MS // 1000  # 640
SERVER = PeerIdentity(device_id="bench-server", name="bench", role="engine")
CLIENT = PeerIdentity(device_id="bench-client", name="bench", role="controller")


def _events(chunks: int) -> list[Event]:
    audio = bytes(range(256)) * (CHUNK_BYTES // 256) + bytes(CHUNK_BYTES % 256)
    chunk_events = [
        AudioChunk(
            rate=RATE,
            width=VOICE_FORMAT.width,
            channels=VOICE_FORMAT.channels,
            audio=audio,
            timestamp=i * CHUNK_MS,
        ).event()
        for i in range(chunks)
    ]
    return [
        AudioStart(rate=RATE, width=VOICE_FORMAT.width, channels=VOICE_FORMAT.channels).event(),
        *chunk_events,
        AudioStop().event(),
    ]


async def _plain(events: list[Event]) -> int:
    received = 0
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal received
        while True:
            event = await async_read_event(reader)
            if event is None:
                break
            if event.payload:
                received += len(event.payload)
            if AudioStop.is_type(event.type):
                await async_write_event(Event("done"), writer)
                break
        writer.close()
        done.set()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for event in events:
        await async_write_event(event, writer)
    reply = await async_read_event(reader)
    assert reply is not None
    assert reply.type == "done"
    await done.wait()
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    return received


async def _sotto(events: list[Event], *, legacy: bool) -> int:
    received = 0
    key = None if legacy else LinkKey.generate()

    async def handle(link: Link) -> None:
        nonlocal received
        async for event in link:
            if event.payload:
                received += len(event.payload)
            if AudioStop.is_type(event.type):
                await link.write_event(Event("done"))
                break

    server = LinkServer(handle, key=key, identity=SERVER, legacy=legacy)
    async with (
        server.serving("127.0.0.1", 0) as port,
        connect("127.0.0.1", port, key=key, identity=CLIENT, legacy=legacy) as link,
    ):
        for event in events:
            await link.write_event(event)
        reply = await link.read_event()
        assert reply.type == "done"
    return received


async def _paced_plain(events: list[Event]) -> int:
    """Stream in real time over plain Wyoming, for comparison."""
    received = 0
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal received
        while (event := await async_read_event(reader)) is not None:
            if event.payload:
                received += len(event.payload)
            if AudioStop.is_type(event.type):
                await async_write_event(Event("done"), writer)
                break
        writer.close()
        done.set()

    loop = asyncio.get_running_loop()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = loop.time()
    for index, event in enumerate(events):
        delay = start + index * CHUNK_MS / 1000 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await async_write_event(event, writer)
    reply = await async_read_event(reader)
    assert reply is not None
    await done.wait()
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    return received


async def _paced(events: list[Event], *, encrypted: bool) -> int:
    """Stream in real time: one 20 ms chunk every 20 ms, as a satellite does."""
    received = 0
    key = LinkKey.generate() if encrypted else None
    legacy = not encrypted

    async def handle(link: Link) -> None:
        nonlocal received
        async for event in link:
            if event.payload:
                received += len(event.payload)
            if AudioStop.is_type(event.type):
                await link.write_event(Event("done"))
                break

    loop = asyncio.get_running_loop()
    server = LinkServer(handle, key=key, identity=SERVER, legacy=legacy)
    async with (
        server.serving("127.0.0.1", 0) as port,
        connect("127.0.0.1", port, key=key, identity=CLIENT, legacy=legacy) as link,
    ):
        start = loop.time()
        for index, event in enumerate(events):
            delay = start + index * CHUNK_MS / 1000 - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await link.write_event(event)
        reply = await link.read_event()
        assert reply.type == "done"
    return received


def _measure(name: str, run: Callable[[], Coroutine[Any, Any, int]], expected: int) -> float:
    gc.collect()
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    received = asyncio.run(run())
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    if received != expected:
        raise SystemExit(f"{name}: received {received} audio bytes, expected {expected}")
    print(f"  {name:<22} {cpu:7.2f} s CPU  ({wall:6.2f} s wall)", flush=True)
    return cpu


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3600.0, help="audio length")
    parser.add_argument("--repeat", type=int, default=3, help="runs per transport (best kept)")
    parser.add_argument(
        "--realtime-seconds",
        type=float,
        default=20.0,
        help="also stream this much audio at real-time pace (0 to skip)",
    )
    args = parser.parse_args()
    chunks = int(args.seconds * 1000 / CHUNK_MS)
    events = _events(chunks)
    expected = chunks * CHUNK_BYTES
    print(f"{chunks} chunks of {CHUNK_BYTES} bytes ({args.seconds:.0f} s of 16 kHz mono audio)")
    results: dict[str, list[float]] = {"plain": [], "legacy": [], "encrypted": []}
    for attempt in range(args.repeat):
        print(f"run {attempt + 1}/{args.repeat}")
        results["plain"].append(_measure("plain wyoming", lambda: _plain(events), expected))
        results["legacy"].append(
            _measure("sotto link (legacy)", lambda: _sotto(events, legacy=True), expected)
        )
        results["encrypted"].append(
            _measure("sotto link (encrypted)", lambda: _sotto(events, legacy=False), expected)
        )
    if args.realtime_seconds > 0:
        paced_chunks = int(args.realtime_seconds * 1000 / CHUNK_MS)
        paced = _events(paced_chunks)
        print(f"real time: {args.realtime_seconds:.0f} s of audio at its own pace")
        runs: list[tuple[str, Callable[[], Coroutine[Any, Any, int]]]] = [
            ("paced plain wyoming", lambda: _paced_plain(paced)),
            ("paced sotto legacy", lambda: _paced(paced, encrypted=False)),
            ("paced sotto encrypted", lambda: _paced(paced, encrypted=True)),
        ]
        for name, run in runs:
            cpu = _measure(name, run, paced_chunks * CHUNK_BYTES)
            print(f"    = {cpu / args.realtime_seconds * 100:.2f} % of one core, both ends")
    best = {name: min(values) for name, values in results.items()}
    ratio = best["encrypted"] / best["plain"]
    per_stream = best["encrypted"] / args.seconds * 100
    print("best of each:")
    for name, value in best.items():
        print(f"  {name:<10} {value:7.2f} s CPU")
    print(f"encrypted / plain wyoming: {ratio:.2f}x (target <= 1.5x)")
    print(
        f"encrypted link per real-time stream (both ends): {per_stream:.3f} % of one core "
        "(target well under 1 %)"
    )


if __name__ == "__main__":
    main()
