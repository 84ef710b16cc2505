"""CPU cost of the secure link against plain Wyoming, for one hour of 16 kHz mono audio.

Streams 180,000 audio chunks of 20 ms (640 bytes) over loopback as fast as possible, both
ends in this process, and prints the CPU seconds (user + system) each transport took:
plain Wyoming (the wyoming package's own reader and writer), the Sotto link in legacy
(plaintext) mode, and the encrypted Sotto link. Target: encrypted <= 1.5x plain, and well
under 1 % of a core per real-time stream.

    .venv/bin/python bench/link.py [--seconds 3600] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import Awaitable, Callable

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event, async_read_event, async_write_event

from sotto.link import Link, LinkKey, LinkServer, PeerIdentity, connect

RATE = 16000
CHUNK_MS = 20
CHUNK_BYTES = RATE * 2 * CHUNK_MS // 1000  # 640
SERVER = PeerIdentity(device_id="bench-server", name="bench", role="engine")
CLIENT = PeerIdentity(device_id="bench-client", name="bench", role="controller")


def _events(chunks: int) -> list[Event]:
    audio = bytes(range(256)) * (CHUNK_BYTES // 256) + bytes(CHUNK_BYTES % 256)
    chunk_events = [
        AudioChunk(rate=RATE, width=2, channels=1, audio=audio, timestamp=i * CHUNK_MS).event()
        for i in range(chunks)
    ]
    return [AudioStart(rate=RATE, width=2, channels=1).event(), *chunk_events, AudioStop().event()]


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


def _measure(name: str, run: Callable[[], Awaitable[int]], expected: int) -> float:
    gc.collect()
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    received = asyncio.run(run())  # type: ignore[arg-type]
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
