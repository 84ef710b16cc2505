"""Sotto at scale: 25 satellites on one Home Assistant, idle and speaking at once.

    .venv/bin/python bench/scale.py [--satellites 25] [--idle-seconds 20] [--trials 4]

1. Idle cost. Home Assistant runs in this process (demo/harness.py) with five areas of
   template lights. Its CPU (user + system time of every thread of this process, from
   getrusage, over --idle-seconds of doing nothing) and its resident memory (VmRSS) are
   measured three times: with the lights only, after Sotto's home entry (the speech-to-text
   grammar), and after --satellites satellites are paired and connected. What is
   attributable to Sotto is the third figure minus the first; the satellites' share is the
   third minus the second.
2. Load. One satellite per area says "turn on the lights" (its own area's lights): first
   one at a time (--trials rounds of five single commands), then five at once (--trials
   rounds). End of speech to action is measured as in bench/commands.py (the WAV's speech
   end by the same threshold; action = the first state change of that area's light). The
   figure is p95 of five-at-once over p95 of one-at-a-time. Target: at most 2x. The first
   command after start and the first five at once are printed but not counted (see the
   comment where they run); a round in which Home Assistant's event loop was blocked
   for more than 0.2 s says for how long.

The satellites are the library's own Satellite (sotto_voice.satellite.app.build and serve, the
code `sotto-satellite run` runs), each with its own encrypted link server on 127.0.0.1,
pymicro-wakeword listening, Silero VAD and end-of-speech logic, all in ONE separate
process (this script with --farm): 25 `sotto-satellite` processes would take about 25 x
70 MB and half a core of wake-word work on this two-core machine and drown what is
measured. Their microphones are in-process sources that deliver silence in real time and
play a WAV when told; push-to-talk is the satellite's own push_to_talk(), what its button
calls. The farm's own CPU and memory are printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import resource
import sys
import tempfile
import time
import wave
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RATE: Final = 16000
BYTES_PER_SECOND: Final = RATE * 2
CHUNK: Final = 640
AREAS: Final = ("Kitchen", "Living Room", "Bedroom", "Office", "Hallway")
COMMAND: Final = "turn on the lights"
FARM_START_TIMEOUT: Final = 180.0
RUN_TIMEOUT: Final = 40.0
LOOP_REPORT: Final = 0.2  # a round in which HA's loop stalled longer says so


# --- the satellite farm (a separate process) -----------------------------------------------


class PacedSource:
    """A microphone delivering silence in real time, or a WAV when one is queued."""

    def __init__(self, on_start: Callable[[], None]) -> None:
        self._on_start = on_start
        self._queued: list[bytes] = []
        self._pending = b""
        self._due = 0.0

    def say(self, pcm: bytes) -> None:
        """Queue speech; it starts with the next chunk read."""
        self._queued.append(pcm)

    async def start(self) -> None:
        """Start the clock."""
        self._due = time.monotonic()

    async def read(self, size: int = CHUNK) -> bytes:
        """The next `size` bytes, at the pace of a real microphone."""
        wait = self._due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._due = max(self._due, time.monotonic() - 0.5) + size / BYTES_PER_SECOND
        if not self._pending and self._queued:
            self._pending = self._queued.pop(0)
            self._on_start()
        chunk, self._pending = self._pending[:size], self._pending[size:]
        return chunk.ljust(size, b"\0")

    async def stop(self) -> None:
        """Nothing to close."""


async def farm(spec_path: Path) -> None:
    """Run the satellites in `spec_path` until stdin says quit; obey say/talk lines."""
    from sotto_voice.satellite.app import build, serve
    from sotto_voice.satellite.config import validate

    spec = json.loads(spec_path.read_text())
    stop = asyncio.Event()
    sources: list[PacedSource] = []
    parts_list = []
    ready = 0

    def out(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def started(_port: int) -> None:
        nonlocal ready
        ready += 1
        if ready == len(spec):
            out("ready")

    def announce_start(index: int) -> None:
        out(f"started {index} {time.time():.6f}")

    tasks = []
    for index, entry in enumerate(spec):
        config = validate(
            {
                "name": entry["name"],
                "device_id": entry["device_id"],
                "state_dir": entry["state_dir"],
                "link": {"host": "127.0.0.1", "port": entry["port"], "key_file": entry["key"]},
                "discovery": {"enabled": False},
                "mic": {"source": "command", "command": ["true"]},  # replaced below
                "speaker": {"sink": "none"},
            }
        )
        source = PacedSource(functools.partial(announce_start, index))
        parts = build(config, source=source)
        sources.append(source)
        parts_list.append(parts)
        tasks.append(asyncio.create_task(serve(config, parts=parts, started=started, stop=stop)))

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().split():
        if line[0] == "quit":
            break
        index = int(line[1])
        if line[0] == "talk":
            ok = await parts_list[index].satellite.push_to_talk()
            out(f"talk {index} {'ok' if ok else 'refused'}")
        elif line[0] == "say":
            with wave.open(line[2], "rb") as wav:
                sources[index].say(wav.readframes(wav.getnframes()))
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)


# --- measuring -----------------------------------------------------------------------------


def process_cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of this process (all threads) or of another by PID."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass(frozen=True, slots=True)
class Idle:
    """One idle measurement."""

    cpu_percent: float
    rss_mb: float
    farm_cpu_percent: float | None = None
    farm_rss_mb: float | None = None


async def measure_idle(seconds: float, farm_pid: int | None = None) -> Idle:
    """CPU share of one core and RSS while nothing happens."""
    import gc

    gc.collect()
    start_wall, start_cpu = time.monotonic(), process_cpu_seconds()
    farm_cpu = process_cpu_seconds(farm_pid) if farm_pid else None
    await asyncio.sleep(seconds)
    wall = time.monotonic() - start_wall
    cpu = (process_cpu_seconds() - start_cpu) / wall * 100
    if farm_pid and farm_cpu is not None:
        return Idle(
            cpu,
            rss_mb(),
            (process_cpu_seconds(farm_pid) - farm_cpu) / wall * 100,
            rss_mb(farm_pid),
        )
    return Idle(cpu, rss_mb())


# --- the bench -----------------------------------------------------------------------------


class Farm:
    """The farm process: send it lines, read its reports."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.starts: dict[int, float] = {}
        self._ready = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := (await self.process.stdout.readline()).decode().split():
            if line[0] == "ready":
                self._ready.set()
            elif line[0] == "started":
                self.starts[int(line[1])] = float(line[2])

    async def ready(self) -> None:
        """Wait until every satellite listens."""
        async with asyncio.timeout(FARM_START_TIMEOUT):
            ready = asyncio.create_task(self._ready.wait())
            done, _ = await asyncio.wait({ready, self._reader}, return_when="FIRST_COMPLETED")
            if ready not in done:
                ready.cancel()
                raise RuntimeError("the satellite farm stopped: see farm.log")

    async def send(self, line: str) -> None:
        """One command line."""
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def close(self) -> None:
        """Ask it to quit, then stop it by its PID."""
        from demo.processes import stop_process

        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await self.send("quit")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await self.process.wait()
        await stop_process(self.process)
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


def _write_key(path: Path, key: Any) -> None:
    from sotto_voice.link import write_key_file

    path.parent.mkdir(parents=True, exist_ok=True)
    write_key_file(path, key, overwrite=True)


@contextlib.asynccontextmanager
async def running_farm(workdir: Path, count: int) -> AsyncIterator[tuple[Farm, list[Any]]]:
    """Start the farm process with `count` satellites; yields it and their pairing data."""
    from demo.processes import SatelliteProcess, free_port
    from sotto_voice.link import LinkKey

    spec = []
    satellites = []
    for index in range(count):
        area = AREAS[index % len(AREAS)]
        name = f"{area} satellite {index // len(AREAS) + 1}"
        device_id = f"scale-{index + 1:02d}"
        home = workdir / device_id
        key = LinkKey.generate()
        key_file = home / "link.key"
        await asyncio.to_thread(_write_key, key_file, key)
        port = free_port()
        spec.append(
            {
                "name": name,
                "device_id": device_id,
                "state_dir": str(home / "state"),
                "port": port,
                "key": str(key_file),
            }
        )
        satellites.append((index, area, name, device_id, port, key, home))
    spec_path = workdir / "farm.json"
    await asyncio.to_thread(spec_path.write_text, json.dumps(spec))
    log = await asyncio.to_thread((workdir / "farm.log").open, "wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--farm",
        str(spec_path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
        start_new_session=True,
    )
    farm_ = Farm(process)
    try:
        await farm_.ready()
        handles = [
            (
                index,
                area,
                SatelliteProcess(
                    device_id, name, port, key, home, home, False, process, Path(log.name)
                ),
            )
            for index, area, name, device_id, port, key, home in satellites
        ]
        yield farm_, handles
    finally:
        await farm_.close()
        log.close()


class LoopWatch:
    """The longest the event loop (Home Assistant's) was late to wake a 10 ms ticker."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + 0.01
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, loop.time() - due)

    def __enter__(self) -> LoopWatch:
        self._task = asyncio.create_task(self._tick())
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()


async def _run_round(
    hass: Any,
    farm_: Farm,
    talkers: list[tuple[int, str, Any]],
    wav: Path,
    all_changed: asyncio.Event,
) -> None:
    """Press push-to-talk on each talker, then play the WAV to each; wait for the runs."""
    from homeassistant.const import STATE_OFF, STATE_ON

    from demo import home

    for index, _, _ in talkers:
        await farm_.send(f"talk {index}")
    for _, _, satellite in talkers:
        await home.wait_for_state(hass, home.recording_entity(satellite), STATE_ON, 10)
    for index, _, _ in talkers:
        farm_.starts.pop(index, None)
        await farm_.send(f"say {index} {wav}")
    async with asyncio.timeout(RUN_TIMEOUT):
        await all_changed.wait()
    for _, _, satellite in talkers:
        await home.wait_for_state(hass, home.recording_entity(satellite), STATE_OFF, 10)


async def _speak_and_time(
    hass: Any, farm_: Farm, talkers: list[tuple[int, str, Any]], wav: Path, speech_end: float
) -> list[float]:
    """Push-to-talk on each talker at once, play the WAV to each; latency per talker."""
    from homeassistant.const import STATE_ON
    from homeassistant.core import callback

    from bench.commands import LightState, async_set_lights, light_entity_id
    from demo import home

    lights = {area: light_entity_id(f"{area} Light") for _, area, _ in talkers}
    all_lights = [light_entity_id(f"{area} Light") for area in AREAS]
    await async_set_lights(hass, all_lights, dict.fromkeys(all_lights, LightState(False)))
    first_change: dict[str, float] = {}
    all_changed = asyncio.Event()

    @callback
    def on_change(event: Any) -> None:
        new = event.data["new_state"]
        if new is not None and new.entity_id in lights.values() and new.state == STATE_ON:
            first_change.setdefault(new.entity_id, event.time_fired_timestamp)
            if len(first_change) == len(lights):
                all_changed.set()

    unsub = hass.bus.async_listen("state_changed", on_change)
    with LoopWatch() as watch:
        try:
            await _run_round(hass, farm_, talkers, wav, all_changed)
        except (TimeoutError, home.SetupError) as err:
            missing = sorted(set(lights.values()) - set(first_change))
            print(
                f"  (not every command finished: {err or type(err).__name__}; "
                f"no change on {', '.join(missing) or 'none'})",
                flush=True,
            )
        finally:
            unsub()
    await asyncio.sleep(1.0)  # let every run end before the next round
    if watch.worst > LOOP_REPORT:
        print(f"  (Home Assistant's event loop was blocked up to {watch.worst * 1000:.0f} ms)")
    latencies = []
    for index, area, _ in talkers:
        changed, start = first_change.get(lights[area]), farm_.starts.get(index)
        if changed is not None and start is not None:
            latencies.append((changed - (start + speech_end)) * 1000)
    return latencies


def _ms(values: list[float]) -> str:
    return " ".join(f"{v:.0f}" for v in values) + " ms" if values else "none finished"


async def bench(args: argparse.Namespace, workdir: Path) -> int:
    """Run both parts; print the figures."""
    from bench.commands import percentile, speech_end_seconds
    from demo import home
    from demo.harness import running_home_assistant
    from demo.house import async_place_house, async_use_sotto_pipeline, house_configuration
    from demo.processes import free_port
    from demo.speech import utterance, write_wav

    lights = {area: [f"{area} Light"] for area in AREAS}
    pcm = utterance(0.3, COMMAND, 0.3)
    wav = write_wav(workdir / "command.wav", pcm)  # before HA starts: no blocking calls in it
    speech_end = speech_end_seconds(pcm)
    async with running_home_assistant(
        workdir / "config", port=free_port(), extra=house_configuration(lights)
    ) as hass:
        await async_place_house(hass, lights)
        await asyncio.sleep(5)  # start-up work (recorder, HTTP) settles
        bare = await measure_idle(args.idle_seconds)
        print(f"HA idle, lights only:          {bare.cpu_percent:5.2f} % of a core, "
              f"RSS {bare.rss_mb:6.1f} MB", flush=True)  # fmt: skip
        await home.async_add_home(hass)
        await async_use_sotto_pipeline(hass)
        await home.async_wait_for_grammar(hass)
        with_home = await measure_idle(args.idle_seconds)
        print(f"HA idle, + Sotto home entry:   {with_home.cpu_percent:5.2f} % of a core, "
              f"RSS {with_home.rss_mb:6.1f} MB", flush=True)  # fmt: skip
        async with running_farm(workdir / "farm", args.satellites) as (farm_, handles):
            for _, area, satellite in handles:
                await home.async_add_satellite(hass, satellite, area)
            await home.async_wait_for_grammar(hass)
            loaded = await measure_idle(args.idle_seconds, farm_.process.pid)
            print(f"HA idle, + {args.satellites} satellites:     {loaded.cpu_percent:5.2f} % "
                  f"of a core, RSS {loaded.rss_mb:6.1f} MB", flush=True)  # fmt: skip
            print(
                f"satellite farm ({args.satellites} satellites in one process): "
                f"{loaded.farm_cpu_percent:.1f} % of a core, RSS {loaded.farm_rss_mb:.0f} MB",
                flush=True,
            )
            talkers = [handles[i] for i in range(len(AREAS))]
            # The first command after a start loads HA's intents and warms a decoder; the
            # first five at once make the recogniser's pool grow to five decoders. Both
            # are shown, not counted: a home that has been up a while has done them.
            cold = await _speak_and_time(hass, farm_, talkers[:1], wav, speech_end)
            print(f"first command after start (not counted): {_ms(cold)}", flush=True)
            cold = await _speak_and_time(hass, farm_, talkers, wav, speech_end)
            print(f"first five at once (not counted): {_ms(cold)}", flush=True)
            single: list[float] = []
            for _ in range(args.trials):
                for talker in talkers:
                    single += await _speak_and_time(hass, farm_, [talker], wav, speech_end)
            print(f"one at a time: {len(single)} commands: {_ms(single)}", flush=True)
            together: list[float] = []
            for _ in range(args.trials):
                together += await _speak_and_time(hass, farm_, talkers, wav, speech_end)
            print(f"five at once: {len(together)} commands: {_ms(together)}", flush=True)
    cpu = loaded.cpu_percent - bare.cpu_percent
    mem = loaded.rss_mb - bare.rss_mb
    sats_cpu = loaded.cpu_percent - with_home.cpu_percent
    sats_mem = loaded.rss_mb - with_home.rss_mb
    p95_single, p95_together = percentile(single, 95), percentile(together, 95)
    print(
        f"attributable to Sotto: {cpu:+.2f} % of a core, {mem:+.1f} MB "
        f"(of which the {args.satellites} connected satellites: {sats_cpu:+.2f} %, "
        f"{sats_mem:+.1f} MB)"
    )
    ratio = (
        p95_together / p95_single
        if p95_single and p95_together is not None and p95_single > 0
        else None
    )

    def shown(value: float | None, unit: str) -> str:
        return "n/a" if value is None else f"{value:.{2 if unit == 'x' else 0}f}"

    print(
        f"scale: {args.satellites} satellites idle: HA +{cpu:.2f} % of a core, +{mem:.0f} MB; "
        f"5 at once p95 {shown(p95_together, 'ms')} ms vs single p95 {shown(p95_single, 'ms')} "
        f"ms = {shown(ratio, 'x')}x (target <= 2x)"
    )
    return 0


def main() -> int:
    """Run the scale benchmark (or, with --farm, be the satellites)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--satellites", type=int, default=25)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--trials", type=int, default=4, help="rounds of each kind")
    parser.add_argument("--keep", action="store_true", help="keep the logs and configs")
    parser.add_argument("--farm", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.farm:
        asyncio.run(farm(args.farm))
        return 0
    if args.satellites < len(AREAS):
        parser.error(f"--satellites must be at least {len(AREAS)} (one per area)")
    if args.keep:
        workdir = Path(tempfile.mkdtemp(prefix="sotto-bench-scale-"))
        print(f"work directory (kept): {workdir}")
        return asyncio.run(bench(args, workdir))
    with tempfile.TemporaryDirectory(prefix="sotto-bench-scale-") as tmp:
        return asyncio.run(bench(args, Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
