"""Hostile peers on every listening port: the satellite's link server and the engine's.

A port scan, garbage bytes, a handshake flood, a peer claiming a satellite's identity with
the wrong key, and a peer with the key sending an oversize event. Each gets one clear
warning naming its address and the problem, at most one per peer per minute (the count of
the rest comes with the next line), is disconnected every time, and changes nothing for
the legitimate controller already connected: its commands still complete on the same link.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from wyoming.audio import AudioChunk
from wyoming.event import Event
from wyoming.tts import Synthesize

from demo.speech import utterance
from sotto_voice.engine.server import running_engine
from sotto_voice.link import (
    ROLE_CONTROLLER,
    ROLE_SATELLITE,
    Link,
    LinkKey,
    LinkSettings,
    PeerIdentity,
    PeerLog,
    connect,
    write_key_file,
)
from sotto_voice.messages import PushToTalk, RunEnded, StopReason
from sotto_voice.satellite.app import build, serve
from sotto_voice.satellite.audio_in import PushSource
from tests.library.engine.conftest import engine_config
from tests.library.satellite.harness import (
    Controller,
    Recorder,
    RunningSatellite,
    controller,
    make_config,
)
from tests.library.satellite.harness import ensure_key as satellite_key

from .peers import (
    HOST,
    FakeClock,
    closed_by_peer,
    garbage,
    half_open,
    oversize,
    port_scan,
    right_key,
    wrong_key,
)

# A keepalive lenient enough that a busy machine never drops the legitimate controller;
# a short handshake timeout so the flood's held connections are cut within the test.
SETTINGS = LinkSettings(
    keepalive_interval=1.0,
    dead_peer_timeout=5.0,
    handshake_timeout=2.0,
    read_stall_timeout=1.0,
    event_deadline=2.0,
)
PEER_LOGGER = "sotto_voice.link.server"
HOME_ASSISTANT = PeerIdentity(device_id="ha-main", name="Home Assistant", role=ROLE_CONTROLLER)
SECOND_HA = PeerIdentity(device_id="ha-second", name="Other controller", role=ROLE_CONTROLLER)
COMMAND = ("turn on the kitchen light", 1.0)


@dataclass
class Target:
    """A server under attack, with a legitimate controller connected to it."""

    port: int
    key: LinkKey
    identity: PeerIdentity
    """The server's own identity (what an impostor claims)."""
    clock: FakeClock
    legit: Link
    exchange: Callable[[], Awaitable[None]]
    """A command-like round trip on the legitimate link; fails if it does not complete."""


@contextlib.asynccontextmanager
async def satellite_target(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Target]:
    """A real satellite (PushSource microphone) and Home Assistant's link to it."""
    config = make_config(tmp_path)
    key = satellite_key(config)
    source = PushSource()
    recorder = Recorder()
    parts = build(config, source=source, outputs=[recorder])
    ports: asyncio.Queue[int] = asyncio.Queue()
    stop = asyncio.Event()
    task = asyncio.create_task(
        serve(
            config,
            parts=parts,
            link_settings=SETTINGS,
            started=ports.put_nowait,
            stop=stop,
            peer_log=PeerLog(clock=clock),
        )
    )
    try:
        async with asyncio.timeout(30):
            port = await ports.get()
        running = RunningSatellite(config, parts, port, key, recorder, source)
        async with controller(running) as ha:

            async def exchange() -> None:
                await push_to_talk_command(running, ha)

            yield Target(port, key, parts.identity, clock, ha.link, exchange)
    finally:
        stop.set()
        await task


async def push_to_talk_command(sat: RunningSatellite, ha: Controller) -> None:
    """Push-to-talk from HA, a spoken command, its audio at HA, the stream's end."""
    mark = len(ha.events)
    await ha.send(PushToTalk().event())
    await ha.settled()
    await sat.feed(utterance(0.1, *COMMAND))
    stop = await ha.stream_stop(after=mark)
    assert stop.reason == StopReason.END_OF_SPEECH
    audio = [e for e, _ in ha.events[mark:] if e.type == "audio-chunk"]
    assert sum(len(AudioChunk.from_event(e).audio) for e in audio) > 16000  # > 0.5 s
    await ha.send(RunEnded(stop.stream_id).event())
    await ha.settled()


@contextlib.asynccontextmanager
async def engine_target(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Target]:
    """A real sotto-engine (espeak-ng voice, no speech-to-text) and HA's link to it."""
    key = LinkKey.generate()
    config = engine_config(tmp_path)
    config.state_dir.mkdir(parents=True, exist_ok=True)
    write_key_file(config.key_file, key)
    async with (
        running_engine(config, link_settings=SETTINGS, peer_log=PeerLog(clock=clock)) as engine,
        connect(HOST, engine.port, key=key, identity=HOME_ASSISTANT, settings=SETTINGS) as link,
    ):

        async def exchange() -> None:
            async with asyncio.timeout(30):
                await link.write_event(Synthesize(text="The kitchen light is on.").event())
                kinds: list[str] = []
                while not kinds or kinds[-1] not in ("audio-stop", "error"):
                    kinds.append((await link.read_event()).type)
            assert kinds[0] == "audio-start", kinds
            assert kinds[-1] == "audio-stop", kinds
            assert kinds.count("audio-chunk") > 3

        yield Target(engine.port, key, engine.identity, clock, link, exchange)


TARGETS = {"satellite": satellite_target, "engine": engine_target}


@pytest.fixture(params=sorted(TARGETS))
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    """Each listening port in turn, with its legitimate controller connected."""
    async with TARGETS[request.param](tmp_path, FakeClock()) as running:
        await running.exchange()  # works before the attack
        yield running


def peer_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The warnings about peers logged so far."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == PEER_LOGGER and record.levelno == logging.WARNING
    ]


async def _scan(target: Target) -> None:
    await port_scan(target.port)


async def _garbage(target: Target) -> None:
    await garbage(target.port)


async def _impostor(target: Target) -> None:
    """Claims to be the satellite itself (name and device ID), holding another key."""
    claim = PeerIdentity(
        device_id=target.identity.device_id, name=target.identity.name, role=ROLE_SATELLITE
    )
    assert await wrong_key(target.port, claim) == 0x01  # told: wrong key


async def _oversize(target: Target) -> None:
    await oversize(target.port, target.key, SECOND_HA)


# (attack, words the warning must hold)
ATTACKS: dict[str, tuple[Callable[[Target], Awaitable[None]], str]] = {
    "port scan": (_scan, "closed the connection without sending anything"),
    "garbage": (_garbage, "expected a Sotto link frame (0x01), got byte 0x47"),
    "wrong key": (_impostor, "it holds a different link key"),
    "oversize": (_oversize, "payload_length 1000000000 exceeds the limit of 262144 bytes"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_hostile_peer_gets_one_line_a_minute_and_is_cut_off_each_time(
    target: Target, attack: str, caplog: pytest.LogCaptureFixture
) -> None:
    run, problem = ATTACKS[attack]
    caplog.clear()
    async with asyncio.timeout(60):
        for _ in range(3):
            await run(target)  # each time the server closes the connection
        lines = peer_lines(caplog)
        assert len(lines) == 1, lines
        assert problem in lines[0]
        assert f"{HOST}:" in lines[0]  # the peer's address, with its port

        target.clock.advance(60)
        await run(target)
        lines = peer_lines(caplog)
        assert len(lines) == 2, lines
        assert problem in lines[1]
        assert lines[1].endswith(f"(2 more problems with {HOST} not logged in the last 60 s)")

        await target.exchange()  # the controller's link is untouched
    assert not target.legit.closed


async def test_handshake_flood_is_one_line_and_the_session_carries_on(
    target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    """More half-open handshakes than one address may hold: the extra ones are closed at
    once, the held ones at the handshake timeout; one line; the established controller
    never notices."""
    cap = SETTINGS.max_handshaking_per_peer
    caplog.clear()
    async with asyncio.timeout(60):
        held = []
        for _ in range(cap):
            held.append(await half_open(target.port))
        await asyncio.sleep(0.2)  # let the server start a handshake for each
        extra = [await half_open(target.port) for _ in range(4)]
        for reader, writer in extra:
            assert await closed_by_peer(reader)
            writer.close()
        lines = peer_lines(caplog)
        assert len(lines) == 1, lines
        assert f"{cap} connections from {HOST} are already in the handshake" in lines[0]
        assert f"refused {HOST}:" in lines[0]

        await target.exchange()  # while the flood holds every handshake slot
        for reader, writer in held:
            assert await closed_by_peer(reader)  # at the handshake timeout
            writer.close()
        assert len(peer_lines(caplog)) == 1

        # The slots are free again: a client with the key completes its handshake.
        async with connect(
            HOST, target.port, key=target.key, identity=SECOND_HA, settings=SETTINGS
        ) as second:
            assert second.peer is not None

        target.clock.advance(60)
        await port_scan(target.port)
        lines = peer_lines(caplog)
        assert len(lines) == 2, lines
        # 3 more refused at the cap and the timeouts of the held ones
        assert f"({3 + cap} more problems with {HOST} not logged" in lines[1]
        await target.exchange()
    assert not target.legit.closed


async def test_peer_with_the_key_claiming_to_be_a_satellite_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Only a controller may run a satellite: a second "satellite" is refused, logged once
    a minute, and Home Assistant's session goes on."""
    async with satellite_target(tmp_path, FakeClock()) as sat, asyncio.timeout(60):
        caplog.clear()
        claim = PeerIdentity(device_id=sat.identity.device_id, name="Kitchen", role="satellite")
        for _ in range(3):
            await right_key(sat.port, sat.key, claim)
        lines = peer_lines(caplog)
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"refused {HOST}:")
        assert lines[0].endswith("a satellite may not control a satellite")
        await sat.exchange()
        assert not sat.legit.closed


async def test_legitimate_traffic_logs_no_warning_about_peers(
    target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    """The lines above come from the attacks: a normal session and a clean goodbye log none."""
    caplog.clear()
    async with asyncio.timeout(60):
        await target.exchange()
        async with connect(
            HOST, target.port, key=target.key, identity=SECOND_HA, settings=SETTINGS
        ) as second:
            await second.write_event(Event("describe"))
    assert peer_lines(caplog) == []
