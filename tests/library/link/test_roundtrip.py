"""Events go through the encrypted link unchanged, and each side learns who the other is."""

from __future__ import annotations

import asyncio

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event

from sotto.link import LinkKey, connect

from .conftest import CONTROLLER, FAST, SATELLITE


async def test_audio_round_trip_and_identities(echo_server: int, key: LinkKey) -> None:
    async with (
        asyncio.timeout(10),
        connect(
            "127.0.0.1",
            echo_server,
            key=key,
            identity=CONTROLLER,
            expected_device_id=SATELLITE.device_id,
            settings=FAST,
        ) as link,
    ):
        assert link.encrypted
        assert link.peer == SATELLITE
        sent = [
            AudioStart(rate=16000, width=2, channels=1).event(),
            AudioChunk(rate=16000, width=2, channels=1, audio=b"\x01\x02" * 320).event(),
            AudioChunk(rate=16000, width=2, channels=1, audio=b"").event(),
            AudioStop().event(),
        ]
        for event in sent:
            await link.write_event(event)
        received = [await link.read_event() for _ in sent]
        assert received == sent
        chunk = AudioChunk.from_event(received[2])
        assert chunk.audio == b""
        assert received[2].payload == b""  # empty chunk is data, not end of stream


async def test_large_event_spans_frames(echo_server: int, key: LinkKey) -> None:
    payload = bytes(range(256)) * 800  # 200 KiB: four transport frames
    async with (
        asyncio.timeout(10),
        connect("127.0.0.1", echo_server, key=key, identity=CONTROLLER, settings=FAST) as link,
    ):
        await link.write_event(Event("blob", {"n": 1}, payload))
        echoed = await link.read_event()
    assert echoed.payload == payload
    assert echoed.data == {"n": 1}
