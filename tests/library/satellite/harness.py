"""A real satellite on 127.0.0.1 and a real controller talking to it over sotto_voice.link.

The satellite is built from a validated configuration by the same code `sotto-satellite
run` uses; only its microphone is a PushSource the test feeds (or a command source), and
an indicator output records every state it is shown, with the time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from wyoming.audio import AudioChunk
from wyoming.event import Event

from sotto_voice.link import (
    ROLE_CONTROLLER,
    Link,
    LinkKey,
    LinkSettings,
    PeerIdentity,
    connect,
    write_key_file,
)
from sotto_voice.messages import IndicatorState, SottoInfo, SottoState, StreamStart, StreamStop
from sotto_voice.satellite.app import Parts, build, build_source, serve
from sotto_voice.satellite.audio import CHUNK_BYTES
from sotto_voice.satellite.audio_in import AudioSource, PushSource
from sotto_voice.satellite.config import SatelliteConfig, validate

# Short keepalive so a frozen controller is declared dead within a second.
TEST_LINK = LinkSettings(keepalive_interval=0.2, dead_peer_timeout=0.6)


@dataclass
class Recorder:
    """An indicator output that records (state, monotonic time) for every change."""

    shown: list[tuple[IndicatorState, float]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def show(self, state: IndicatorState) -> None:
        """Record the state."""
        self.shown.append((state, time.monotonic()))
        self.changed.set()

    async def close(self) -> None:
        """Nothing to release."""

    @property
    def state(self) -> IndicatorState | None:
        """Return the last state shown."""
        return self.shown[-1][0] if self.shown else None

    async def wait_for(self, state: IndicatorState, timeout: float = 10.0) -> None:
        """Wait until state is the one shown."""
        async with asyncio.timeout(timeout):
            while self.state != state:
                self.changed.clear()
                await self.changed.wait()

    def windows(self, state: IndicatorState) -> list[tuple[float, float]]:
        """Return (entered, left) times of every stretch in state (left=inf if still in)."""
        spans = []
        for index, (shown, at) in enumerate(self.shown):
            if shown == state:
                left = self.shown[index + 1][1] if index + 1 < len(self.shown) else float("inf")
                spans.append((at, left))
        return spans


def make_config(state_dir: Path, **sections: Any) -> SatelliteConfig:
    """Return a validated config for a satellite on 127.0.0.1 with a WAV speaker."""
    raw: dict[str, Any] = {
        "name": "Test satellite",
        "state_dir": str(state_dir),
        "link": {"host": "127.0.0.1", "port": 0},
        "discovery": {"enabled": False},
        "speaker": {"sink": "wav", "directory": str(state_dir / "played")},
        "indicator": {"error_grace_seconds": 0.3},
    }
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    return validate(raw)


def ensure_key(config: SatelliteConfig) -> LinkKey:
    """Create the satellite's key file once; return the key."""
    from sotto_voice.link import load_key_file

    if not config.key_file.exists():
        config.key_file.parent.mkdir(parents=True, exist_ok=True)
        write_key_file(config.key_file, LinkKey.generate())
    return load_key_file(config.key_file)


@dataclass
class RunningSatellite:
    """A satellite being served, with what the test needs to reach and watch it."""

    config: SatelliteConfig
    parts: Parts
    port: int
    key: LinkKey
    recorder: Recorder
    source: AudioSource
    sent: list[tuple[int, bytes, float]] = field(default_factory=list)
    wakes: list[tuple[str, float]] = field(default_factory=list)

    @property
    def satellite(self) -> Any:
        """Return the Satellite."""
        return self.parts.satellite

    @property
    def push(self) -> PushSource:
        """Return the microphone the test feeds."""
        assert isinstance(self.source, PushSource)
        return self.source

    async def feed(self, pcm: bytes) -> None:
        """Push pcm into the microphone and wait until the satellite has processed it all."""
        source = self.push
        source.push(pcm)
        # The capture loop is sequential: once one extra chunk has been taken, every chunk
        # before it has been processed.
        async with asyncio.timeout(30):
            await source.wait_drained()
            source.push(bytes(CHUNK_BYTES))
            await source.wait_drained()


@contextlib.asynccontextmanager
async def running_satellite(
    config: SatelliteConfig, *, source: AudioSource | None = None, mic_from_config: bool = False
) -> AsyncIterator[RunningSatellite]:
    """Serve a satellite built from config until the block ends.

    The microphone is source, else the config's own when mic_from_config, else a PushSource.
    """
    key = ensure_key(config)
    recorder = Recorder()
    mic = source or (build_source(config) if mic_from_config else PushSource())
    parts = build(config, source=mic, outputs=[recorder])
    ports: asyncio.Queue[int] = asyncio.Queue()
    stop = asyncio.Event()
    task = asyncio.create_task(
        serve(config, parts=parts, link_settings=TEST_LINK, started=ports.put_nowait, stop=stop)
    )
    try:
        async with asyncio.timeout(20):
            get_port = asyncio.create_task(ports.get())
            done, _ = await asyncio.wait({get_port, task}, return_when=asyncio.FIRST_COMPLETED)
            if get_port not in done:
                get_port.cancel()
                task.result()  # raises what serve() raised
            port = get_port.result()
        running = RunningSatellite(config, parts, port, key, recorder, mic)
        parts.satellite.add_audio_listener(
            lambda stream_id, pcm, at: running.sent.append((stream_id, pcm, at))
        )
        parts.satellite.add_wake_listener(lambda name, at: running.wakes.append((name, at)))
        yield running
    finally:
        stop.set()
        await task


@dataclass
class Controller:
    """A real controller (as Home Assistant is) on a link to the satellite."""

    link: Link
    events: list[tuple[Event, float]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for event in self.link:
                self.events.append((event, time.monotonic()))
                self.arrived.set()

    async def send(self, event: Event) -> None:
        """Send an event to the satellite."""
        await self.link.write_event(event)

    async def wait_for(
        self, match: Callable[[Event], bool], *, after: int = 0, timeout: float = 10.0
    ) -> Event:
        """Return the first event from index `after` on that matches."""
        async with asyncio.timeout(timeout):
            while True:
                for event, _ in self.events[after:]:
                    if match(event):
                        return event
                self.arrived.clear()
                await self.arrived.wait()

    def of_type(self, event_type: str) -> list[Event]:
        """Return received events of a type."""
        return [event for event, _ in self.events if event.type == event_type]

    def audio(self) -> bytes:
        """Return all audio received from the satellite."""
        return b"".join(AudioChunk.from_event(e).audio for e in self.of_type("audio-chunk"))

    def audio_times(self) -> list[float]:
        """Return the arrival time of every audio chunk."""
        return [at for event, at in self.events if event.type == "audio-chunk"]

    async def state(self, match: Callable[[SottoState], bool], *, after: int = 0) -> SottoState:
        """Wait for a sotto-state report that matches."""
        event = await self.wait_for(
            lambda e: SottoState.is_type(e.type) and match(SottoState.from_event(e)), after=after
        )
        return SottoState.from_event(event)

    async def stream_stop(self, *, after: int = 0) -> StreamStop:
        """Wait for the end of a stream."""
        event = await self.wait_for(StreamStop.is_stream_stop, after=after, timeout=20)
        return StreamStop.from_event(event)

    def stream_starts(self) -> list[StreamStart]:
        """Return the stream starts received."""
        return [
            StreamStart.from_event(e)
            for e in self.of_type("audio-start")
            if StreamStart.is_stream_start(e)
        ]

    async def settled(self) -> None:
        """Wait until everything the satellite sent before now has arrived (describe echo)."""
        mark = len(self.events)
        await self.send(Event("describe"))
        await self.wait_for(lambda e: SottoInfo.is_type(e.type), after=mark)


@contextlib.asynccontextmanager
async def controller(
    running: RunningSatellite, *, name: str = "Home Assistant", role: str = ROLE_CONTROLLER
) -> AsyncIterator[Controller]:
    """Connect a controller to the satellite, reading events in the background."""
    identity = PeerIdentity(device_id=f"ha-{name.replace(' ', '-')}", name=name, role=role)
    async with connect(
        "127.0.0.1", running.port, key=running.key, identity=identity, settings=TEST_LINK
    ) as link:
        ctl = Controller(link)
        ctl.task = asyncio.create_task(ctl._read())
        try:
            yield ctl
        finally:
            await link.close()
            ctl.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ctl.task


def voiced_span(pcm: bytes, threshold: float = 300.0) -> tuple[int, int]:
    """Return (first, last+1) byte offsets of 10 ms frames louder than threshold RMS."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
    loud = np.nonzero(np.sqrt((frames**2).mean(axis=1)) > threshold)[0]
    if len(loud) == 0:
        return (0, 0)
    return int(loud[0]) * 320, (int(loud[-1]) + 1) * 320
