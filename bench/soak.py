"""Soak: five satellites on a real Home Assistant for N minutes, and what drifted.

Everything is real and on 127.0.0.1: Home Assistant in this process (Sotto installed as a
custom integration, paired through its config flows), a `sotto-engine` speaking the
replies with espeak-ng, and `sotto-satellite` processes whose microphones play WAV files
dropped into their spool directories (demo/mic_feeder.py). Every few seconds the next
satellite in turn hears "okay nabu, turn on/off the lights" and its area's light must
change; in between, satellites are muted and unmuted from Home Assistant's mute switch and
the voice history is purged.

Printed:
- RSS and open file descriptors of Home Assistant (this process), the engine and each
  satellite process, after a warm-up (a command on every satellite, then --warmup minutes
  of the soak's own pattern) and at the end, with the drift (target: under 5 % after 30
  minutes); the drift from just after pairing is printed too;
- errors seen: ERROR log records from Sotto's loggers in Home Assistant, ERROR lines in
  the satellites' and the engine's logs, failed commands, mutes and purges (target: 0);
- latency per window (default 5 minutes): from the end of speech (the last voiced 10 ms
  of the WAV, counted from when it was dropped into the spool) to the light's change, and
  to the recording sensor going off; p50, p95 and the worst.

With --tracemalloc, Python's allocations in Home Assistant are traced from the start
figures on, and the lines of code whose live memory grew most are printed at the end (to
tell a cache filling up from a leak; tracing slows Home Assistant down, so latency figures
of such a run are not comparable).

    .venv/bin/python bench/soak.py [--minutes 30] [--satellites 5] [--interval 4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import math
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event

from demo import home, house, serve
from demo.harness import cancel_on_signals, running_home_assistant
from demo.processes import EngineProcess, SatelliteProcess, free_port, run_engine, run_satellite
from demo.speech import utterance

if TYPE_CHECKING:
    from custom_components.sotto.history.store import HistoryStore, StoredInteraction

# No "Office": "turn off the lights" and "turn office lights" sound alike to the recogniser.
AREAS: Final = ("Kitchen", "Bedroom", "Study", "Hallway", "Garage")
WAKE: Final = "okay nabu"
# Safety nets, not targets: a busy two-core machine can be slow.
COMMAND_TIMEOUT: Final = 45.0
MUTE_TIMEOUT: Final = 20.0
SPEECH_RATE: Final = 32000  # bytes per second of 16 kHz 16-bit mono
MUTE_EVERY: Final = 7
"""Every this many commands, a satellite that is not busy is muted and unmuted."""
PURGE_EVERY: Final = 15
"""Every this many commands, the whole voice history is purged."""
SOTTO_LOGGERS: Final = ("custom_components.sotto", "sotto_voice")
LOOP_PROBE: Final = 0.1
STALL_SECONDS: Final = 0.5
"""An event-loop stall this long is reported (HA's own slow-callback warning is 0.1 s)."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Resident memory and open file descriptors of one process."""

    rss_kb: int
    fds: int
    threads: int


def children(pid: int) -> list[int]:
    """Direct child processes of pid."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def snapshot(pids: dict[str, int]) -> dict[str, Usage]:
    """Usage of the named processes, and of Home Assistant's other children (its speech-to-text
    worker) as "HA child <pid>"."""
    known = set(pids.values())
    named = dict(pids)
    for child in children(os.getpid()):
        if child not in known:
            named[f"HA child {child}"] = child
    result: dict[str, Usage] = {}
    for name, pid in named.items():
        with contextlib.suppress(OSError):
            result[name] = usage(pid)
    return result


def usage(pid: int) -> Usage:
    """Read a process's RSS, open file descriptors and threads from /proc."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return Usage(
        int(fields.get("VmRSS", "0 kB").split()[0]),
        len(os.listdir(f"/proc/{pid}/fd")),
        # Each new thread costs RSS of its own (stack pages, a malloc arena).
        int(fields.get("Threads", "0")),
    )


def _shared_library(name: str, soname: str) -> ctypes.CDLL | None:
    """A C library already loaded in this process (dlopen hands back the same one)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library(name) or soname)
    except OSError:
        return None


def sqlite_bytes() -> int | None:
    """Memory SQLite holds in this process (page caches of the recorder's and the history's
    connections, prepared statements), from the library Python's sqlite3 module uses."""
    if (library := _shared_library("sqlite3", "libsqlite3.so.0")) is None:
        return None
    library.sqlite3_memory_used.restype = ctypes.c_int64
    return int(library.sqlite3_memory_used())


def trimmed_rss_kb() -> int | None:
    """This process's RSS after glibc hands freed memory back to the system (malloc_trim);
    the drop is memory that was freed but kept by the allocator, not live data."""
    if (libc := _shared_library("c", "libc.so.6")) is None:
        return None
    libc.malloc_trim(0)
    return usage(os.getpid()).rss_kb


class ErrorCounter(logging.Handler):
    """Counts ERROR (and worse) records from Sotto's loggers, and warnings apart."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.first: list[str] = []
        self.warnings = 0
        self.first_warnings: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(SOTTO_LOGGERS):
            return
        line = f"{time.strftime('%H:%M:%S')} {record.name}: {record.getMessage()[:300]}"
        if record.levelno >= logging.ERROR:
            self.count += 1
            if len(self.first) < 10:
                self.first.append(line)
        else:
            self.warnings += 1
            if len(self.first_warnings) < 10:
                self.first_warnings.append(line)


@dataclass(slots=True)
class Outcome:
    """One spoken command and what came of it."""

    at: float
    """Seconds since the soak began, when the command was spoken."""
    satellite: str
    command: str
    light: float | None = None
    """End of speech to the light's change (s); None if it did not change."""
    recording_off: float | None = None
    """End of speech to the recording sensor going off (s)."""
    failure: str | None = None


def voiced_end(pcm: bytes, threshold: float = 300.0) -> int:
    """Byte offset just after the last 10 ms frame louder than threshold RMS."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
    loud = np.nonzero(np.sqrt((frames**2).mean(axis=1)) > threshold)[0]
    return (int(loud[-1]) + 1) * 320 if len(loud) else len(pcm)


def light_entity(area: str) -> str:
    """The template light of an area."""
    return f"light.{area.lower()}_light"


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class NewRows:
    """The voice history's new rows of one satellite, polled while a command runs."""

    store: HistoryStore
    satellite_id: str
    known: set[int] = field(default_factory=set)
    heard: dict[int, str] = field(default_factory=dict)

    async def _latest(self) -> list[StoredInteraction]:
        return await self.store.async_list(limit=5, satellite_id=self.satellite_id)

    async def skip_known(self) -> None:
        """Remember the rows from before the command."""
        self.known = {row.id for row in await self._latest()}

    async def follow(self) -> None:
        """Note each new row as it comes (until cancelled).

        Polled, so a row that a purge removes later is still known.
        """
        while True:
            for row in await self._latest():
                if row.id not in self.known:
                    self.heard[row.id] = f"heard {row.transcript!r} ({row.outcome.value})"
            await asyncio.sleep(0.5)


@dataclass
class Changes:
    """When the light and the recording sensor changed as one command should change them."""

    light: str
    target: str
    """The state the light should reach."""
    recording: str
    stamps: dict[str, float] = field(default_factory=dict)
    """light, recording_on, recording_off -> when (time.monotonic)."""
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @callback
    def seen(self, event: Event[EventStateChangedData]) -> None:
        """Note a state change of the light or the recording sensor."""
        new = event.data["new_state"]
        if new is None:
            return
        stamp = time.monotonic()
        if new.entity_id == self.light and new.state == self.target:
            self.stamps.setdefault("light", stamp)
        elif new.entity_id == self.recording:
            if new.state == STATE_ON:
                self.stamps.setdefault("recording_on", stamp)
            elif new.state == STATE_OFF and "recording_on" in self.stamps:
                self.stamps.setdefault("recording_off", stamp)
        if "light" in self.stamps and "recording_off" in self.stamps:
            self.done.set()

    async def wait(self, history: NewRows) -> list[str] | None:
        """Wait for both changes; None once they came, else what the history heard."""
        follower = asyncio.create_task(history.follow())
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                await self.done.wait()
        except TimeoutError:
            return list(history.heard.values())
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        return None

    def after(self, key: str, start: float) -> float | None:
        """Seconds from start to the change `key`; None if it did not come."""
        return self.stamps[key] - start if key in self.stamps else None


@dataclass
class Soak:
    """Drives commands, mutes and purges against the running home and keeps the results."""

    hass: HomeAssistant
    satellites: dict[str, SatelliteProcess]
    """Area -> satellite."""
    began: float = field(default_factory=time.monotonic)
    outcomes: list[Outcome] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    overlap_purges: bool = False
    """Purge while other satellites' commands are in flight, not between commands."""
    mutes: int = 0
    purges: int = 0
    purge_times: list[float] = field(default_factory=list)
    purge_seconds: list[float] = field(default_factory=list)
    stalls: list[tuple[float, float]] = field(default_factory=list)
    """(when, seconds) of every event-loop stall over STALL_SECONDS."""
    busy: set[str] = field(default_factory=set)

    def now(self) -> float:
        """Seconds since the soak began."""
        return time.monotonic() - self.began

    async def command(self, area: str) -> Outcome:
        """Speak a command to the area's satellite; wait for the light and the recording."""
        satellite = self.satellites[area]
        light = light_entity(area)
        current = self.hass.states.get(light)
        turn_on = current is None or current.state != STATE_ON
        words = "turn on the lights" if turn_on else "turn off the lights"
        outcome = Outcome(self.now(), area, words)
        pcm = await asyncio.to_thread(utterance, 0.5, WAKE, 0.4, words, 1.5)
        end = voiced_end(pcm) / SPEECH_RATE
        changes = Changes(
            light, STATE_ON if turn_on else STATE_OFF, home.recording_entity(satellite)
        )
        # Imported once Home Assistant has loaded the integration (as demo/scenario.py does).
        from custom_components.sotto.services import history_store

        history = NewRows(history_store(self.hass), satellite.device_id)
        await history.skip_known()
        unsub = async_track_state_change_event(
            self.hass, [changes.light, changes.recording], changes.seen
        )
        self.busy.add(area)
        try:
            spoken = time.monotonic()
            await asyncio.to_thread(satellite.say, pcm)
            heard = await changes.wait(history)
            if heard is not None:
                outcome.failure = self._failure(outcome, changes, heard)
            outcome.light = changes.after("light", spoken + end)
            outcome.recording_off = changes.after("recording_off", spoken + end)
        finally:
            unsub()
            self.busy.discard(area)
        if outcome.failure:
            self.failures.append(f"{outcome.at:7.1f}s {outcome.failure}")
        self.outcomes.append(outcome)
        return outcome

    def _failure(self, outcome: Outcome, changes: Changes, heard: list[str]) -> str:
        """What went wrong with a command that did not finish in time."""
        missing = [k for k in ("light", "recording_off") if k not in changes.stamps]
        purged = [t for t in self.purge_times if outcome.at - 5 <= t]
        return (
            f"{outcome.satellite}: {outcome.command!r}: no {' and no '.join(missing)} change; "
            + ("; ".join(heard) or "no interaction recorded")
            + (f"; purged at {', '.join(f'{t:.0f}' for t in purged)} s" if purged else "")
        )

    async def toggle_mute(self, area: str) -> None:
        """Mute the satellite from Home Assistant's switch and unmute it again."""
        satellite = self.satellites[area]
        switch = home.mute_entity(satellite)
        self.busy.add(area)
        try:
            for action, state in (("turn_on", STATE_ON), ("turn_off", STATE_OFF)):
                await self.hass.services.async_call(
                    "switch", action, {"entity_id": switch}, blocking=True
                )
                await home.wait_for_state(self.hass, switch, state, timeout=MUTE_TIMEOUT)
            self.mutes += 1
        except Exception as err:  # a failure is a finding, not a reason to stop
            self.failures.append(f"{self.now():7.1f}s mute toggle of {area}: {err!r}")
        finally:
            self.busy.discard(area)

    async def purge(self) -> None:
        """Purge the whole voice history (and every copy of it)."""
        started = self.now()
        try:
            await self.hass.services.async_call(
                home.DOMAIN, "purge_history", {}, blocking=True, return_response=True
            )
            self.purges += 1
            self.purge_times.append(started)
            self.purge_seconds.append(self.now() - started)
        except Exception as err:
            self.failures.append(f"{self.now():7.1f}s purge: {err!r}")

    async def watch_loop(self) -> None:
        """Record when Home Assistant's event loop (this process's) stalls."""
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(LOOP_PROBE)
            late = loop.time() - before - LOOP_PROBE
            if late >= STALL_SECONDS:
                self.stalls.append((self.now() - late, late))

    async def run(self, *, seconds: float, interval: float) -> None:
        """Start a command every interval seconds until seconds have passed."""
        tasks: set[asyncio.Task[object]] = set()
        areas = list(self.satellites)

        def launch(coro: Awaitable[object]) -> None:
            task: asyncio.Task[object] = asyncio.ensure_future(coro)
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        turn = 0
        issued = 0
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                idle = [areas[(turn + step) % len(areas)] for step in range(len(areas))]
                idle = [area for area in idle if area not in self.busy]
                if idle:
                    turn = (areas.index(idle[0]) + 1) % len(areas)
                    launch(self.command(idle[0]))
                    issued += 1
                    if issued % MUTE_EVERY == 0 and len(idle) > 1:
                        launch(self.toggle_mute(idle[-1]))
                    if issued % PURGE_EVERY == 0:
                        if self.overlap_purges:
                            launch(self.purge())
                        else:
                            # Between commands: wait until none is in flight, then purge.
                            await self._quiet(tasks)
                            await self.purge()
                await asyncio.sleep(interval)
            if tasks:
                await asyncio.wait(set(tasks))
        finally:
            for task in list(tasks):
                task.cancel()

    async def _quiet(self, tasks: set[asyncio.Task[object]]) -> None:
        while tasks:
            await asyncio.wait(set(tasks))


def _log_errors(path: Path) -> list[str]:
    """ERROR lines of a satellite's or the engine's log."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [line for line in lines if " ERROR " in line or line.startswith("Traceback")]


def _traced_growth(top: int = 15) -> list[str]:
    """Live traced memory at the end, grouped by its allocating call stack, largest first.

    Everything traced was allocated after the start figures, so what is still alive at the
    end is the growth; a cache shows up as one stack with a bounded size, a leak as one
    that keeps growing with the number of commands.
    """
    snapshot_ = tracemalloc.take_snapshot().filter_traces(
        (tracemalloc.Filter(inclusive=False, filename_pattern=tracemalloc.__file__),)
    )
    overhead = tracemalloc.get_tracemalloc_memory()
    tracemalloc.stop()
    stats = snapshot_.statistics("traceback")
    total = sum(stat.size for stat in stats)
    lines = [
        f"in all {total / 1024:.0f} KiB in {sum(stat.count for stat in stats)} blocks "
        f"(the tracing itself used {overhead / 2**20:.1f} MB of the RSS)"
    ]
    lines.append("by the line that allocated it:")
    lines.extend(
        f"{stat.size / 1024:8.0f} KiB in {stat.count:6d} blocks at {stat.traceback[-1]}"
        for stat in snapshot_.statistics("lineno")[:top]
    )
    lines.append("by the whole call stack:")
    for stat in stats[: top // 2]:
        lines.append(f"{stat.size / 1024:8.0f} KiB in {stat.count:6d} blocks, allocated at:")
        # Most recent call first: the allocation, then who asked for it.
        frames = list(stat.traceback)[::-1][:8]
        lines.extend(f"      {frame.filename}:{frame.lineno}" for frame in frames)
    return lines


def _row(name: str, first: Usage, last: Usage) -> str:
    def drift(a: int, b: int) -> str:
        return f"{(b - a) * 100 / a:+6.1f} %" if a else "     -"

    return (
        f"  {name:<22} RSS {first.rss_kb / 1024:7.1f} -> {last.rss_kb / 1024:7.1f} MB "
        f"({drift(first.rss_kb, last.rss_kb)})   fds {first.fds:4d} -> {last.fds:4d} "
        f"({drift(first.fds, last.fds)})   threads {first.threads:3d} -> {last.threads:3d}"
    )


def report_latency(outcomes: list[Outcome], window: float, *, since: float = 0.0) -> None:
    """Print p50/p95/max latency per window of soak time (from `since` on)."""
    print(f"\nlatency from the end of speech, per {window / 60:g}-minute window:")
    if not outcomes:
        print("  no commands")
        return
    last = max(outcome.at for outcome in outcomes)
    for index in range(int(since // window), int(last // window) + 1):
        group = [o for o in outcomes if index * window <= o.at < (index + 1) * window]
        failed = sum(1 for o in group if o.failure)
        parts = [f"  {index * window / 60:4.0f}-{(index + 1) * window / 60:<4.0f} min"]
        parts.append(f"{len(group):4d} commands, {failed} failed")
        for label, values in (
            ("light", [o.light for o in group if o.light is not None]),
            ("recording off", [o.recording_off for o in group if o.recording_off is not None]),
        ):
            if values:
                parts.append(
                    f"{label}: p50 {statistics.median(values):5.2f} s  "
                    f"p95 {percentile(values, 0.95):5.2f} s  max {max(values):5.2f} s"
                )
        print("  |  ".join(parts))


async def soak(args: argparse.Namespace, workdir: Path) -> int:
    """Start the home, warm up, soak, and print the figures; the exit status."""
    areas = AREAS[: args.satellites]
    lights = {area: [f"{area} Light"] for area in areas}
    config_dir = workdir / "config"
    print(f"soak in {workdir} (Home Assistant's log: {config_dir}/home-assistant.log)", flush=True)
    async with contextlib.AsyncExitStack() as stack:
        engine, satellites = await _start_devices(stack, workdir, areas)
        serve.mark_onboarded(config_dir)
        hass = await stack.enter_async_context(
            running_home_assistant(
                config_dir,
                port=free_port(),
                # Every speech-to-text decision with its confidence, to explain a failure.
                extra=house.house_configuration(lights)
                | {"logger": {"default": "info", "logs": {"custom_components.sotto.stt": "debug"}}},
            )
        )
        errors = ErrorCounter()
        logging.getLogger().addHandler(errors)
        stack.callback(logging.getLogger().removeHandler, errors)
        await _pair(hass, engine, satellites, lights)
        print(f"paired {len(areas)} satellites and the engine; warming up", flush=True)

        pids = _pids(engine, satellites)
        cold = await asyncio.to_thread(snapshot, pids)
        warm_failures = await _warm_up(Soak(hass, satellites), args)
        runner = Soak(hass, satellites, overlap_purges=args.overlap_purges)
        await asyncio.sleep(2.0)
        if args.tracemalloc:
            tracemalloc.start(args.tracemalloc)
        first = await asyncio.to_thread(snapshot, pids)
        # In a worker: finding the libraries runs ldconfig, and reading /proc is file I/O,
        # neither of which belongs on Home Assistant's event loop.
        first_sqlite = await asyncio.to_thread(sqlite_bytes)
        # Trimmed after the start figures are read, so they stay comparable with runs
        # before; the trimmed start is compared with the trimmed end at the end.
        first_trimmed = await asyncio.to_thread(trimmed_rss_kb)
        print(
            f"soaking for {args.minutes:g} min: a command every {args.interval:g} s, a mute "
            f"toggle every {MUTE_EVERY} commands, a purge every {PURGE_EVERY} "
            + ("(overlapping commands)" if args.overlap_purges else "(between commands)"),
            flush=True,
        )
        await _soak_with_progress(runner, args, pids, errors)
        await asyncio.sleep(2.0)
        last = await asyncio.to_thread(snapshot, pids)
        last_sqlite = await asyncio.to_thread(sqlite_bytes)
        grown = _traced_growth() if args.tracemalloc else []
        trimmed = await asyncio.to_thread(trimmed_rss_kb)

        print(f"\nafter {runner.now() / 60:.1f} minutes of soak:")
        _report_usage(pids, cold, first, last)
        _report_ha_growth(first, last, (first_sqlite, last_sqlite), (first_trimmed, trimmed))
        if args.tracemalloc:
            print("Python memory in Home Assistant that grew most, by where it was allocated:")
            for line in grown:
                print(f"  {line}")
        logs = {"engine": engine.log} | {area: sat.log for area, sat in satellites.items()}
        total = await _report_errors(runner, errors, logs, warm_failures)
        report_latency(runner.outcomes, args.window * 60)
    return 0 if total == 0 else 1


async def _start_devices(
    stack: contextlib.AsyncExitStack, workdir: Path, areas: tuple[str, ...]
) -> tuple[EngineProcess, dict[str, SatelliteProcess]]:
    """Start the engine and a satellite per area, stopped when the stack closes."""
    engine: EngineProcess = await stack.enter_async_context(
        run_engine(workdir / "engine", device_id="soak-engine", name="Engine")
    )
    satellites: dict[str, SatelliteProcess] = {}
    for area in areas:
        satellites[area] = await stack.enter_async_context(
            run_satellite(
                workdir / area.lower(),
                device_id=f"{area.lower()}-satellite",
                name=f"{area} satellite",
            )
        )
    return engine, satellites


async def _pair(
    hass: HomeAssistant,
    engine: EngineProcess,
    satellites: dict[str, SatelliteProcess],
    lights: dict[str, list[str]],
) -> None:
    """Place the house, add Sotto's home, the engine and the satellites, and wait for the
    grammar."""
    await house.async_place_house(hass, lights)
    await home.async_add_home(hass)
    await home.async_add_engine(hass, engine)
    for area, satellite in satellites.items():
        await home.async_add_satellite(hass, satellite, area)
    await house.async_use_sotto_pipeline(hass, tts_engine="tts.engine_text_to_speech")
    await home.async_wait_for_grammar(hass)


def _pids(engine: EngineProcess, satellites: dict[str, SatelliteProcess]) -> dict[str, int]:
    """The processes whose usage is followed, by name."""
    pids: dict[str, int] = {"Home Assistant": os.getpid()}
    if engine.process.pid is not None:
        pids["engine"] = engine.process.pid
    for area, satellite in satellites.items():
        pids[f"satellite {area.lower()}"] = satellite.process.pid
    return pids


async def _warm_up(runner: Soak, args: argparse.Namespace) -> list[str]:
    """A command on every satellite, then --warmup minutes of the pattern; what failed."""
    for area in runner.satellites:  # one command each: models, grammar and caches are loaded
        outcome = await runner.command(area)
        print(
            f"  warm-up {area}: " + (outcome.failure or f"light after {outcome.light:.2f} s"),
            flush=True,
        )
    if args.warmup > 0:
        # The soak's own pattern for a while: concurrent commands, mutes and purges
        # allocate what they need once (decoders, caches); drift is measured after.
        print(f"  warm-up: {args.warmup:g} min of the soak's pattern", flush=True)
        await runner.run(seconds=args.warmup * 60, interval=args.interval)
    return list(runner.failures)


async def _soak_with_progress(
    runner: Soak, args: argparse.Namespace, pids: dict[str, int], errors: ErrorCounter
) -> None:
    """Run the soak, printing each window's latency and usage as it ends."""
    window = args.window * 60

    async def progress() -> None:
        next_report = window
        while True:
            await asyncio.sleep(5)
            if runner.now() < next_report:
                continue
            report_latency(
                [o for o in runner.outcomes if o.at >= next_report - window],
                window,
                since=next_report - window,
            )
            ha = (await asyncio.to_thread(snapshot, pids))["Home Assistant"]
            print(
                f"  at {runner.now() / 60:.1f} min: HA RSS {ha.rss_kb / 1024:.1f} MB, "
                f"fds {ha.fds}, threads {ha.threads}; errors so far {errors.count}, "
                f"failures {len(runner.failures)}",
                flush=True,
            )
            next_report += window

    reporter = asyncio.create_task(progress())
    watcher = asyncio.create_task(runner.watch_loop())
    try:
        await runner.run(seconds=args.minutes * 60, interval=args.interval)
    finally:
        for task in (reporter, watcher):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _report_usage(
    pids: dict[str, int],
    cold: dict[str, Usage],
    first: dict[str, Usage],
    last: dict[str, Usage],
) -> None:
    """Print each process's usage after warm-up and at the end, and from just after pairing."""
    print("RSS and open file descriptors (after warm-up -> end):")
    extra = sorted((first.keys() | last.keys()) - pids.keys())
    for name in [*pids, *extra]:
        if name in first and name in last:
            print(_row(name, first[name], last[name]))
        else:
            print(f"  {name:<22} only {'at the start' if name in first else 'at the end'}")
    print("  (from just after pairing, before any command -> end):")
    for name in pids:
        print(_row(name, cold[name], last[name]))


def _report_ha_growth(
    first: dict[str, Usage],
    last: dict[str, Usage],
    sqlite: tuple[int | None, int | None],
    trimmed: tuple[int | None, int | None],
) -> None:
    """Print where Home Assistant's RSS growth went: SQLite, and memory glibc kept."""
    print("Home Assistant's RSS growth after warm-up, where it went:")
    ha_first, ha_last = first["Home Assistant"].rss_kb, last["Home Assistant"].rss_kb
    print(f"  RSS grew {(ha_last - ha_first) / 1024:+.1f} MB")
    first_sqlite, last_sqlite = sqlite
    if first_sqlite is not None and last_sqlite is not None:
        print(
            f"  SQLite (page caches of HA's recorder and Sotto's history, statements): "
            f"{first_sqlite / 2**20:.1f} -> {last_sqlite / 2**20:.1f} MB "
            f"({(last_sqlite - first_sqlite) / 2**20:+.1f} MB)"
        )
    first_trimmed, last_trimmed = trimmed
    if last_trimmed is not None and first_trimmed is not None:
        print(
            f"  freed memory glibc kept: RSS fell by "
            f"{(ha_last - last_trimmed) / 1024:.1f} MB after malloc_trim "
            f"(to {last_trimmed / 1024:.1f} MB)"
        )
        print(
            f"  RSS right after malloc_trim, start -> end: {first_trimmed / 1024:.1f} -> "
            f"{last_trimmed / 1024:.1f} MB ({(last_trimmed - first_trimmed) / first_trimmed:+.1%})"
        )


async def _report_errors(
    runner: Soak, errors: ErrorCounter, logs: dict[str, Path], warm_failures: list[str]
) -> int:
    """Print the commands' tally and every error seen; how many errors were counted."""
    done = runner.outcomes
    ok = [o for o in done if not o.failure]
    print(
        f"\ncommands: {len(done)} ({len(ok)} ok, {len(done) - len(ok)} failed); "
        f"mute toggles: {runner.mutes}; purges: {runner.purges}"
    )
    process_errors = {
        label: await asyncio.to_thread(_log_errors, log) for label, log in logs.items()
    }
    total = errors.count + len(runner.failures) + sum(map(len, process_errors.values()))
    print(f"errors seen: {total}")
    print(f"  ERROR records from Sotto in Home Assistant: {errors.count}")
    _print_lines(errors.first)
    for label, lines in process_errors.items():
        if lines:
            print(f"  ERROR lines in the {label} log: {len(lines)}")
            _print_lines(line[:300] for line in lines[:5])
    print(f"  (warnings from Sotto in Home Assistant, not counted: {errors.warnings})")
    _print_lines(errors.first_warnings)
    if runner.purge_seconds:
        print(
            f"  purges took {min(runner.purge_seconds):.2f}-{max(runner.purge_seconds):.2f} s "
            f"(median {statistics.median(runner.purge_seconds):.2f} s)"
        )
    _report_stalls(runner)
    print(f"  failed commands, mutes and purges: {len(runner.failures)}")
    _print_lines(runner.failures[:20])
    if warm_failures:
        print(f"  warm-up failures, not counted: {len(warm_failures)}")
        _print_lines(warm_failures[:10])
    return total


def _report_stalls(runner: Soak) -> None:
    """Print Home Assistant's event-loop stalls, and the purge each may have come from."""
    print(
        f"  Home Assistant event-loop stalls over {STALL_SECONDS} s: {len(runner.stalls)}"
        + (f", worst {max(late for _, late in runner.stalls):.2f} s" if runner.stalls else "")
    )
    for at, late in runner.stalls[:15]:
        near = [t for t in runner.purge_times if t - 1 <= at <= t + 10]
        print(
            f"    {at:7.1f}s stalled {late:.2f} s"
            + (f" (a purge began at {near[0]:.1f}s)" if near else "")
        )


def _print_lines(lines: Iterable[str]) -> None:
    for line in lines:
        print(f"    {line}")


async def _main(args: argparse.Namespace) -> int:
    cancel_on_signals()
    workdir = Path(tempfile.mkdtemp(prefix="sotto-soak-"))
    try:
        return await soak(args, workdir)
    finally:
        print(f"\nlogs are kept in {workdir} (rm -rf it when done)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the soak; 0 if no error was seen."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="soak length (default 30)")
    parser.add_argument(
        "--satellites", type=int, default=5, choices=range(1, len(AREAS) + 1), metavar="1-5"
    )
    parser.add_argument(
        "--interval", type=float, default=4.0, help="seconds between commands (default 4)"
    )
    parser.add_argument(
        "--window", type=float, default=5.0, help="minutes per latency window (default 5)"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=2.0,
        help="minutes of the soak's pattern before the start figures (default 2)",
    )
    parser.add_argument(
        "--overlap-purges",
        action="store_true",
        help="purge while other commands are in flight (default: between commands)",
    )
    parser.add_argument(
        "--tracemalloc",
        type=int,
        default=0,
        metavar="FRAMES",
        help="trace Python allocations in Home Assistant with this many frames per stack, "
        "and print where live memory grew (default: off)",
    )
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_main(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\nstopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
