"""Commands at once: end of speech -> light changed when N satellites speak together.

    scripts/py314 run .venv314/bin/python bench/at_once.py [--at-once 5] [--rounds 4]
        [--recognizer engine-whisper|ha-grammar|...]

bench/commands.py's machinery (a real Home Assistant, real `sotto-satellite` processes
paired through Sotto's config flow, a real `sotto-engine` when the recogniser is one of
its, push-to-talk, the same end-of-speech and action timing), on a house of N areas with
one template light and one satellite each. Each satellite's command is espeak-ng's
"turn on the <area> light".

First every satellite speaks alone, one after another, --rounds times; then all N speak
at the same moment (their push-to-talk pressed, each waits until its satellite listens,
then every WAV goes into its microphone together), --rounds times. A warm-up before
each (one command alone, one round together) is printed but not counted: the first
command after a start, and the first overlap, which starts the recogniser pool's second
process. A case counts if its own light turned on.

The last line gives p50 and p95 (nearest rank) of one at a time and of N at once, and
N-at-once over one, for each. Target (issue #23): five at once at most 2x one. The line
before splits each p50 at the moment the satellite stops streaming (its own end of speech),
so what overlap adds to recognition shows apart from the satellites' end-of-speech wait.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from homeassistant.core import HomeAssistant

ROOT: Final = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.commands import (  # noqa: E402
    RECOGNIZERS,
    Case,
    CaseResult,
    Corpus,
    House,
    LightState,
    Satellite,
    async_run_case,
    light_entity_id,
    percentile,
    running_house,
)
from demo.processes import SatelliteProcess  # noqa: E402
from demo.speech import utterance, write_wav  # noqa: E402

AREAS: Final = ("Kitchen", "Bedroom", "Office", "Hallway", "Garage", "Attic", "Porch", "Study")
TARGET_RATIO: Final = 2.0


@dataclass(frozen=True, slots=True)
class Speaker:
    """One satellite with the corpus that holds its one case (its area's light only)."""

    satellite: str
    corpus: Corpus


def make_speakers(directory: Path, count: int) -> tuple[House, list[Speaker]]:
    """The house of `count` areas and, per satellite, its command's WAV and case."""
    areas = {area: [f"{area} Light"] for area in AREAS[:count]}
    satellites = [Satellite(f"{area} satellite", area) for area in areas]
    house = House(areas, satellites)
    speakers: list[Speaker] = []
    for satellite in satellites:
        light = light_entity_id(f"{satellite.area} Light")
        audio = f"{satellite.area.lower()}.wav"
        write_wav(directory / audio, utterance(f"turn on the {satellite.area} light", 0.2))
        own = House({satellite.area: areas[satellite.area]}, [satellite])
        case = Case(audio, satellite.name, {}, {light: LightState(True)})
        speakers.append(Speaker(satellite.name, Corpus(directory, own, [case], {})))
    return house, speakers


async def _speak(
    hass: HomeAssistant,
    speakers: Sequence[Speaker],
    satellites: dict[str, SatelliteProcess],
    *,
    speed: float,
) -> list[CaseResult]:
    """The speakers' commands at the same moment (one speaker: alone)."""
    barrier = asyncio.Barrier(len(speakers))
    results = await asyncio.gather(
        *(
            async_run_case(
                hass,
                speaker.corpus,
                speaker.corpus.cases[0],
                satellites[speaker.satellite],
                speed=speed,
                before_speaking=barrier.wait,
            )
            for speaker in speakers
        )
    )
    if len(speakers) > 1:
        for result in results:
            # Its transcript time is read from HA's newest pipeline run, which may be
            # another speaker's.
            result.stt_end_ms = None
    return results


def _print(label: str, results: Sequence[CaseResult]) -> None:
    for result in results:
        print(f"{label:<10} {result.line()}", flush=True)


async def async_bench(
    count: int, rounds: int, *, speed: float, recognizer: str, workdir: Path
) -> tuple[list[CaseResult], list[CaseResult]]:
    """Every satellite alone `rounds` times, then all together `rounds` times."""
    workdir.mkdir(parents=True, exist_ok=True)
    house, speakers = await asyncio.to_thread(make_speakers, workdir, count)
    alone: list[CaseResult] = []
    together: list[CaseResult] = []
    async with running_house(house, speed=speed, workdir=workdir, recognizer=recognizer) as (
        hass,
        satellites,
    ):
        print(f"{count} satellites, recogniser {recognizer}, speed {speed}x", flush=True)
        _print("warm-up", await _speak(hass, speakers[:1], satellites, speed=speed))
        for _ in range(rounds):
            for speaker in speakers:
                results = await _speak(hass, [speaker], satellites, speed=speed)
                _print("alone", results)
                alone += results
        _print("warm-up", await _speak(hass, speakers, satellites, speed=speed))
        for _ in range(rounds):
            results = await _speak(hass, speakers, satellites, speed=speed)
            _print("at once", results)
            together += results
    return alone, together


def split_line(count: int, alone: Sequence[CaseResult], together: Sequence[CaseResult]) -> str:
    """Where the time goes (p50): until the satellite stops streaming (its end of speech),
    and from then until the light changed (recognition, the intent, the light)."""

    def halves(results: Sequence[CaseResult]) -> str:
        timed = [r for r in results if r.correct and None not in (r.latency_ms, r.stream_stop_ms)]
        stop = percentile([r.stream_stop_ms or 0.0 for r in timed], 50)
        rest = percentile([(r.latency_ms or 0.0) - (r.stream_stop_ms or 0.0) for r in timed], 50)
        if stop is None or rest is None:
            return "n/a"
        return f"audio stops {stop:.0f} ms, then light {rest:.0f} ms"

    return f"p50 one: {halves(alone)}; {count} at once: {halves(together)}"


def summary_line(count: int, alone: Sequence[CaseResult], together: Sequence[CaseResult]) -> str:
    """The last line: p50 and p95 of one and of `count` at once, and their ratios."""

    def figures(results: Sequence[CaseResult]) -> tuple[float | None, float | None, str]:
        latencies = [r.latency_ms for r in results if r.correct and r.latency_ms is not None]
        right = f"{sum(r.correct for r in results)}/{len(results)} correct"
        return percentile(latencies, 50), percentile(latencies, 95), right

    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0f}"

    def ratio(many: float | None, one: float | None) -> str:
        return "n/a" if many is None or not one else f"{many / one:.2f}x"

    one50, one95, one_right = figures(alone)
    many50, many95, many_right = figures(together)
    return (
        f"at once: one {one_right} p50 {ms(one50)} ms p95 {ms(one95)} ms; "
        f"{count} at once {many_right} p50 {ms(many50)} ms p95 {ms(many95)} ms; "
        f"{count} at once / one: p50 {ratio(many50, one50)} p95 {ratio(many95, one95)} "
        f"(target <= {TARGET_RATIO:g}x)"
    )


def main() -> int:
    """Run the benchmark; exit status 0 if it ran (the figures say how well)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--at-once", type=int, default=5, help="satellites speaking together")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of each, after warm-up")
    parser.add_argument("--speed", type=float, default=1.0, help="times real time")
    parser.add_argument(
        "--recognizer", choices=RECOGNIZERS, default="engine-whisper", help="who recognises"
    )
    args = parser.parse_args()
    if not 2 <= args.at_once <= len(AREAS):
        parser.error(f"--at-once must be 2 to {len(AREAS)}")
    if args.rounds < 1 or args.speed <= 0:
        parser.error("--rounds must be at least 1 and --speed above 0")
    with tempfile.TemporaryDirectory(prefix="sotto-bench-at-once-") as tmp:
        alone, together = asyncio.run(
            async_bench(
                args.at_once,
                args.rounds,
                speed=args.speed,
                recognizer=args.recognizer,
                workdir=Path(tmp),
            )
        )
    print(split_line(args.at_once, alone, together))
    print(summary_line(args.at_once, alone, together))
    return 0


if __name__ == "__main__":
    sys.exit(main())
