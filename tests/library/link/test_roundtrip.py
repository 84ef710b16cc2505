"""Events go through the link unchanged, and each side learns who the other is."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.ping import Ping, Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import RunSatellite, StreamingStarted, StreamingStopped
from wyoming.tts import Synthesize
from wyoming.vad import VoiceStarted, VoiceStopped
from wyoming.wake import Detection

from sotto_voice.link import Link, LinkKey, LinkServer, connect

from .conftest import CONTROLLER, FAST, SATELLITE, echo

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
events = st.builds(
    Event,
    type=st.text(min_size=1, max_size=30),
    data=st.dictionaries(st.text(max_size=12), json_values, max_size=6),
    payload=st.none() | st.binary(max_size=3000),
)

WYOMING_EVENTS = [
    AudioStart(rate=16000, width=2, channels=1, timestamp=0).event(),
    AudioChunk(rate=16000, width=2, channels=1, audio=bytes(640), timestamp=20).event(),
    AudioChunk(rate=22050, width=2, channels=1, audio=b"").event(),
    AudioStop(timestamp=40).event(),
    Transcribe(language="en").event(),
    Transcript(text="turn on the kitchen lights ✓").event(),
    Synthesize(text="Les lumières sont allumées").event(),
    Describe().event(),
    Detection(name="okay_nabu", timestamp=5).event(),
    VoiceStarted(timestamp=1).event(),
    VoiceStopped(timestamp=2).event(),
    RunPipeline(start_stage=PipelineStage.WAKE, end_stage=PipelineStage.TTS).event(),
    RunSatellite().event(),
    StreamingStarted().event(),
    StreamingStopped().event(),
    Ping(text="x").event(),
    Pong(text="x").event(),
]


@contextlib.asynccontextmanager
async def _echo_pair(key: LinkKey, *, legacy: bool) -> AsyncIterator[Link]:
    server = LinkServer(
        echo, key=None if legacy else key, identity=SATELLITE, legacy=legacy, settings=FAST
    )
    async with (
        server.serving("127.0.0.1", 0) as port,
        connect(
            "127.0.0.1",
            port,
            key=None if legacy else key,
            identity=CONTROLLER,
            legacy=legacy,
            settings=FAST,
        ) as link,
    ):
        yield link


async def test_every_wyoming_event_round_trips(key: LinkKey) -> None:
    for legacy in (False, True):
        async with asyncio.timeout(10), _echo_pair(key, legacy=legacy) as link:
            assert link.encrypted is not legacy
            for event in WYOMING_EVENTS:
                await link.write_event(event)
            received = [await link.read_event() for _ in WYOMING_EVENTS]
        assert received == WYOMING_EVENTS
        chunk = AudioChunk.from_event(received[2])
        assert chunk.audio == b""
        assert received[2].payload == b""  # an empty chunk is data, not end of stream


async def test_identities_are_exchanged(key: LinkKey) -> None:
    seen: asyncio.Future[object] = asyncio.get_running_loop().create_future()

    async def handler(link: Link) -> None:
        seen.set_result(link.peer)

    server = LinkServer(handler, key=key, identity=SATELLITE, settings=FAST)
    async with (
        asyncio.timeout(10),
        server.serving("127.0.0.1", 0) as port,
        connect(
            "127.0.0.1",
            port,
            key=key,
            identity=CONTROLLER,
            expected_device_id=SATELLITE.device_id,
            settings=FAST,
        ) as link,
    ):
        assert link.peer == SATELLITE
        assert await seen == CONTROLLER


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(events, min_size=1, max_size=8), legacy=st.booleans())
def test_any_event_round_trips(batch: list[Event], legacy: bool) -> None:
    """Property: whatever events go in come out equal, in order, over a real socket."""

    async def run() -> list[Event]:
        async with asyncio.timeout(10), _echo_pair(LinkKey.generate(), legacy=legacy) as link:
            for event in batch:
                await link.write_event(event)
            return [await link.read_event() for _ in batch]

    received = asyncio.run(run())
    expected: list[dict[str, Any]] = [
        {"type": e.type, "data": e.data, "payload": e.payload} for e in batch
    ]
    assert [{"type": e.type, "data": e.data, "payload": e.payload} for e in received] == expected


async def test_large_event_spans_frames(key: LinkKey) -> None:
    payload = bytes(range(256)) * 1000  # 250 KiB: four transport frames
    async with asyncio.timeout(10), _echo_pair(key, legacy=False) as link:
        await link.write_event(Event("blob", {"n": 1}, payload))
        echoed = await link.read_event()
    assert echoed.payload == payload
    assert echoed.data == {"n": 1}


async def test_writes_from_many_tasks_do_not_interleave(key: LinkKey) -> None:
    """Concurrent writers each get whole events through, including multi-frame ones."""
    big = bytes(100_000)

    async def writer(link: Link, name: str) -> None:
        for i in range(20):
            payload = big if i % 5 == 0 else name.encode() * 50
            await link.write_event(Event("chunk", {"from": name, "i": i}, payload))

    async with asyncio.timeout(20), _echo_pair(key, legacy=False) as link:
        names = [f"t{n}" for n in range(5)]
        await asyncio.gather(*(writer(link, name) for name in names))
        received = [await link.read_event() for _ in range(100)]
    for name in names:
        mine = [e for e in received if e.data["from"] == name]
        assert [e.data["i"] for e in mine] == list(range(20))
        for event in mine:
            i = event.data["i"]
            assert event.payload == (big if i % 5 == 0 else name.encode() * 50)


async def test_oversized_outgoing_event_is_refused_locally(key: LinkKey) -> None:
    async with asyncio.timeout(10), _echo_pair(key, legacy=False) as link:
        with pytest.raises(ValueError, match="max_payload_length"):
            await link.write_event(Event("blob", payload=bytes(FAST.max_payload_length + 1)))
        await link.write_event(Event("after"))  # the link is still fine
        assert (await link.read_event()).type == "after"
