"""bench/make_voices_corpus.py: its three splits are corpora bench/commands.py accepts,
with voice groups, separate houses and sentences; every command in them is one Home
Assistant's own agent carries out as the case expects (typed, from the satellite's area);
and its audio is the same on every run, with noise at the SNR its group names. The YAML
is the generator's, written to a temporary directory; only a few WAVs are made."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
import yaml
from homeassistant.components.conversation import async_converse
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from bench.commands import (
    Corpus,
    async_set_lights,
    compare,
    light_state,
    load_corpus,
    normalise,
)
from bench.make_voices_corpus import GROUPS, Group, _piper, make_wav, write_yaml
from bench.voices_sentences import SPLITS

from .house import async_build_house

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "bench" / "corpus" / "voices"


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Corpus]:
    """Each split as the generator writes it, loaded by bench/commands.py's loader."""
    out = tmp_path_factory.mktemp("voices")
    for split in SPLITS.values():
        write_yaml(split, out / split.name)
    return {name: load_corpus(out / name, check_audio=False) for name in SPLITS}


def test_the_committed_yaml_is_what_the_generator_writes(corpora: dict[str, Corpus]) -> None:
    """Nobody edited a split by hand, and the generator's seeds still give the same cases."""
    for name, corpus in corpora.items():
        for file in ("house.yaml", "cases.yaml", "transcripts.yaml"):
            committed = (COMMITTED / name / file).read_text()
            assert (corpus.directory / file).read_text() == committed, f"{name}/{file}"


def test_every_case_has_its_wav_name_transcript_and_voice_group(
    corpora: dict[str, Corpus],
) -> None:
    """The loader took every case (so expect lists every light and the states parse);
    each WAV is named after its group, said once, and every group is in every split."""
    for name, corpus in corpora.items():
        audio = [case.audio for case in corpus.cases]
        assert len(set(audio)) == len(audio), name
        assert set(corpus.transcripts) == set(audio), name
        for case in corpus.cases:
            assert case.group in GROUPS, case
            assert case.audio.endswith(f"-{case.group}.wav"), case
            assert set(case.expect) == set(corpus.house.lights), case
        assert {case.group for case in corpus.cases} == set(GROUPS), name
        assert len(corpus.cases) == len(GROUPS) * (6 + SPLITS[name].overheard_per_group), name


def test_each_group_has_commands_and_overheard_speech(corpora: dict[str, Corpus]) -> None:
    """Every group of every split says 6 commands and its split's share of overheard
    speech (one per three commands in test and untouched; tune, where rejection rules are
    chosen, one per command), each overheard WAV a different sentence within a group."""
    shares = {name: split.overheard_per_group for name, split in SPLITS.items()}
    assert shares == {"tune": 6, "test": 2, "untouched": 2}
    for name, corpus in corpora.items():
        for group in GROUPS:
            cases = [case for case in corpus.cases if case.group == group]
            overheard = [case for case in cases if case.out_of_grammar]
            assert len(cases) - len(overheard) == 6, (name, group)
            assert len(overheard) == shares[name], (name, group)
            said = {corpus.transcripts[case.audio] for case in overheard}
            assert len(said) == len(overheard), (name, group)


def _sentences(directory: Path) -> set[str]:
    path = directory / "transcripts.yaml"
    return {normalise(text) for text in yaml.safe_load(path.read_text()).values()}


def test_splits_share_no_house_and_no_sentence(corpora: dict[str, Corpus]) -> None:
    """No sentence is in two splits or in the project's other corpora; no light name is in
    two splits' houses or in bench/corpus/commands."""
    others = [ROOT / "bench" / "corpus" / name for name in ("commands", "tune", "test")]
    said_elsewhere = set().union(*(_sentences(other) for other in others))
    lit_elsewhere = set(load_corpus(others[0], check_audio=False).house.lights)
    names = list(corpora)
    for index, name in enumerate(names):
        said = _sentences(corpora[name].directory)
        lights = set(corpora[name].house.lights)
        assert not said & said_elsewhere, name
        assert not lights & lit_elsewhere, name
        for other in names[index + 1 :]:
            assert not said & _sentences(corpora[other].directory), (name, other)
            assert not lights & set(corpora[other].house.lights), (name, other)


async def _place_satellites(hass: HomeAssistant, corpus: Corpus) -> dict[str, str]:
    """A device in each satellite's area; its ID by satellite name."""
    entry = MockConfigEntry(domain="test")
    entry.add_to_hass(hass)
    areas, devices = ar.async_get(hass), dr.async_get(hass)
    placed: dict[str, str] = {}
    for satellite in corpus.house.satellites:
        device = devices.async_get_or_create(
            config_entry_id=entry.entry_id, identifiers={("test", satellite.name)}
        )
        area = areas.async_get_area_by_name(satellite.area)
        assert area is not None
        devices.async_update_device(device.id, area_id=area.id)
        placed[satellite.name] = device.id
    return placed


@pytest.mark.parametrize("split", list(SPLITS))
async def test_every_command_is_one_home_assistant_carries_out(
    hass: HomeAssistant, corpora: dict[str, Corpus], split: str
) -> None:
    """Typed to HA's agent from the satellite's device, each command ends every light as
    its case expects: a failure in the bench is the recogniser's, not the corpus's."""
    corpus = corpora[split]
    assert await async_setup_component(hass, "conversation", {})
    await async_build_house(hass, corpus.house.areas)
    devices = await _place_satellites(hass, corpus)
    lights = list(corpus.house.lights)
    wrong: list[str] = []
    done: set[tuple[str, str]] = set()
    for case in corpus.cases:
        text = corpus.transcripts[case.audio]
        if case.out_of_grammar or (text, case.satellite) in done:
            continue
        done.add((text, case.satellite))
        await async_set_lights(hass, lights, case.initial)
        await async_converse(
            hass, text, None, Context(), language="en", device_id=devices[case.satellite]
        )
        await hass.async_block_till_done()
        actual = {e: s for e in lights if (s := light_state(hass, e)) is not None}
        if mismatches := compare(case.expect, actual):
            wrong.append(f"{text!r} at {case.satellite}: {mismatches}")
    assert done, split
    assert not wrong, "\n".join(wrong)


def _samples(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(float)


@pytest.mark.parametrize(("kind", "within_db"), [("pink", 0.5), ("babble", 1.5)])
def test_noise_is_mixed_at_the_snr_its_group_names(
    tmp_path: Path, kind: str, within_db: float
) -> None:
    """The same speech with and without noise differ by noise 10 dB below the speech's
    level (its 10 ms frames within 30 dB of the loudest). The SNR is set against the noise
    track's long-term power: babble comes and goes, so one WAV's excerpt of it is a little
    louder or quieter."""
    text = "turn on the lights in the hallway"
    clean, noisy = tmp_path / "clean" / "one.wav", tmp_path / "noisy" / "one.wav"
    for path in (clean, noisy):
        path.parent.mkdir()
    make_wav(text, Group("clean", ("en-us",)), "tune", clean)
    make_wav(text, Group("noisy", ("en-us",), noise=kind, snr_db=10), "tune", noisy)
    speech = _samples(clean)
    noise = _samples(noisy) - speech
    frames = (speech[: len(speech) // 160 * 160].reshape(-1, 160) ** 2).mean(axis=1)
    level = frames[frames >= frames.max() / 1000].mean()
    snr = 10 * np.log10(level / (noise**2).mean())
    assert abs(snr - 10) <= within_db
    assert np.abs(noise[:1600]).mean() > 0  # noise before the speech too, as in a room


def test_a_split_sounds_the_same_on_every_run(tmp_path: Path) -> None:
    """espeak-ng's breathy voices and piper's noise are seeded: made again in a new piper
    session, a split's WAVs are the same bytes."""
    made: list[list[bytes]] = []
    for run in ("first", "second"):
        _piper.cache_clear()
        directory = tmp_path / run / "tune"
        directory.mkdir(parents=True)
        wavs = []
        for group in ("espeak-en-us-f3", "piper", "piper-pitch-down"):
            path = directory / f"{group}.wav"
            make_wav("switch on the lights", GROUPS[group], "tune", path)
            wavs.append(path.read_bytes())
        made.append(wavs)
    assert made[0] == made[1]
    assert len(set(made[0])) == 3
