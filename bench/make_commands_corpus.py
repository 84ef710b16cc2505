"""Generate the spoken-command corpus of bench/commands.py with espeak-ng and sox.

    .venv/bin/python bench/make_commands_corpus.py            # -> bench/corpus/commands/
    .venv/bin/python bench/make_commands_corpus.py --wavs-only  # keep the YAML, remake audio

The YAML files (house, cases, transcripts) are committed; the WAVs are made from them by
this script (./scripts/bench runs it when they are missing), so the audio always matches
the committed transcripts. Speech comes from bench/make_corpus.py's `synthesise`: four
speaking conditions (voices and rates), one of them with pink room noise mixed in. Each
condition says every command and every out-of-grammar sentence once.

The house has an out-of-dictionary light name ("Island Pendants": "pendants" is not in
pocketsphinx's dictionary), area-scoped commands ("turn off the lights in the bedroom"),
commands that rely on the satellite's own area ("turn on the lights" said in the
kitchen), brightness commands, and chatter that must change nothing.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import yaml

ROOT: Final = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.make_corpus import light_id, synthesise  # noqa: E402

OUT: Final = ROOT / "bench" / "corpus" / "commands"
NOISE: Final = 0.03  # pink noise amplitude, as bench/make_corpus.py's noisy cases

HOUSE: Final[dict[str, list[str]]] = {
    "Kitchen": ["Island Pendants", "Ceiling Light"],
    "Living Room": ["Floor Lamp", "Reading Light"],
    "Bedroom": ["Bedside Lamp", "Hue Strip"],
}
SATELLITES: Final = [
    {"name": "Kitchen satellite", "area": "Kitchen"},
    {"name": "Living Room satellite", "area": "Living Room"},
    {"name": "Bedroom satellite", "area": "Bedroom"},
]
KITCHEN, LIVING, BEDROOM = (s["name"] for s in SATELLITES)


@dataclass(frozen=True, slots=True)
class Condition:
    """One way of speaking: an espeak-ng voice, a rate (words per minute), noise or not."""

    voice: str
    rate: int
    noisy: bool
    group: str
    """The voice group bench/commands.py reports the condition's cases in."""


CONDITIONS: Final = (
    Condition("en-us", 160, False, "espeak-en-us"),
    Condition("en-gb-x-rp", 140, False, "espeak-en-gb-rp"),
    Condition("en-us+f3", 180, False, "espeak-en-us-f3"),
    Condition("en-us+m3", 165, True, "espeak-en-us-m3-pink-noise"),
)


@dataclass(frozen=True, slots=True)
class Command:
    """A sentence said to a satellite, the lights it starts from and where they must end."""

    text: str
    satellite: str
    initial: dict[str, str]
    expect: dict[str, str]


def _area(area: str, state: str) -> dict[str, str]:
    return {light_id(name): state for name in HOUSE[area]}


def _one(name: str, state: str) -> dict[str, str]:
    return {light_id(name): state}


def commands() -> list[Command]:
    """Every in-grammar command; each changes at least one light."""
    return [
        # The satellite's own area: "the lights" means this room's lights.
        Command("turn on the lights", KITCHEN, _area("Kitchen", "off"), _area("Kitchen", "on")),
        Command(
            "turn off the lights", LIVING, _area("Living Room", "on"), _area("Living Room", "off")
        ),
        Command(
            "set the brightness to sixty percent",
            BEDROOM,
            _area("Bedroom", "on@20"),
            _area("Bedroom", "on@60"),
        ),
        # Another area, by name.
        Command(
            "turn off the lights in the bedroom",
            KITCHEN,
            _area("Bedroom", "on"),
            _area("Bedroom", "off"),
        ),
        Command(
            "turn on the living room lights",
            BEDROOM,
            _area("Living Room", "off"),
            _area("Living Room", "on"),
        ),
        # HA 2025.4's sentences have no "set the AREA lights to N percent"; this is its form.
        Command(
            "set the lights in the kitchen to forty percent",
            LIVING,
            _area("Kitchen", "off"),
            _area("Kitchen", "on@40"),
        ),
        # Lights by name; "pendants" is not in the recogniser's dictionary.
        Command(
            "turn on the island pendants",
            LIVING,
            _one("Island Pendants", "off"),
            _one("Island Pendants", "on"),
        ),
        Command(
            "turn off the island pendants",
            KITCHEN,
            _one("Island Pendants", "on"),
            _one("Island Pendants", "off"),
        ),
        Command(
            "turn on the reading light",
            KITCHEN,
            _one("Reading Light", "off"),
            _one("Reading Light", "on"),
        ),
        Command(
            "turn off the bedside lamp",
            BEDROOM,
            _one("Bedside Lamp", "on"),
            _one("Bedside Lamp", "off"),
        ),
        Command(
            "set the floor lamp to seventy percent",
            LIVING,
            _one("Floor Lamp", "on@20"),
            _one("Floor Lamp", "on@70"),
        ),
        Command(
            "set the brightness of the hue strip to thirty percent",
            KITCHEN,
            _one("Hue Strip", "off"),
            _one("Hue Strip", "on@30"),
        ),
    ]


OUT_OF_GRAMMAR: Final = (
    "did you remember to buy milk",
    "the meeting has been moved to thursday afternoon",
    "she said the lights in the city were beautiful",
)


def every_light() -> list[str]:
    """Entity IDs of every light in the house."""
    return [light_id(name) for names in HOUSE.values() for name in names]


def _background(rng: random.Random) -> dict[str, str]:
    """Other lights in a mixed state, so a command that reaches too far is caught."""
    return {light: rng.choice(("off", "on", "on@50")) for light in every_light()}


def build_yaml(out: Path) -> None:
    """Write house.yaml, cases.yaml and transcripts.yaml."""
    rng = random.Random("sotto-commands")
    cases: list[dict[str, object]] = []
    transcripts: dict[str, str] = {}
    for index_c in range(len(CONDITIONS)):
        sentences: list[tuple[str, str, dict[str, str], dict[str, str]]] = []
        for command in commands():
            base = _background(rng)
            sentences.append(
                (
                    command.text,
                    command.satellite,
                    base | command.initial,
                    base | command.expect,
                )
            )
        for text in OUT_OF_GRAMMAR:
            base = _background(rng)
            sentences.append((text, rng.choice(SATELLITES)["name"], base, dict(base)))
        rng.shuffle(sentences)
        for index_s, (text, satellite, initial, expect) in enumerate(sentences):
            name = f"c{index_c + 1}-{index_s + 1:02d}.wav"
            cases.append(
                {
                    "audio": name,
                    "satellite": satellite,
                    "group": CONDITIONS[index_c].group,
                    "initial": initial,
                    "expect": expect,
                }
            )
            transcripts[name] = text
    house = {
        "areas": {area: {"lights": names} for area, names in HOUSE.items()},
        "satellites": SATELLITES,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "house.yaml").write_text(yaml.safe_dump(house, sort_keys=False))
    (out / "cases.yaml").write_text(yaml.safe_dump(cases, sort_keys=False, width=100))
    (out / "transcripts.yaml").write_text(yaml.safe_dump(transcripts, sort_keys=False))
    print(f"commands corpus: {len(cases)} cases in {out}")


def build_wavs(out: Path) -> None:
    """Speak every transcript in its file's condition (c1..c4 name the condition)."""
    transcripts = yaml.safe_load((out / "transcripts.yaml").read_text())
    for seed, (name, text) in enumerate(transcripts.items()):
        condition = CONDITIONS[int(name[1]) - 1]
        noise = NOISE if condition.noisy else 0.0
        synthesise(text, condition.voice, condition.rate, noise, seed, out / name)
    print(f"commands corpus: {len(transcripts)} WAV files in {out}")


def main() -> None:
    """Write the corpus (YAML and WAVs, or only the WAVs)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=OUT, help=f"default {OUT}")
    parser.add_argument(
        "--wavs-only", action="store_true", help="remake the audio from transcripts.yaml"
    )
    args = parser.parse_args()
    if not args.wavs_only:
        build_yaml(args.out)
    build_wavs(args.out)


if __name__ == "__main__":
    main()
