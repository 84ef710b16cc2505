"""A small tune set for the Whisper recogniser's choices (bench/stt.py --recognizer ...).

    .venv/bin/python bench/make_asr_tune.py            # -> bench/corpus/asr-tune/

Another house than bench/corpus/commands (whose names the choices must not see), five
espeak-ng voice groups (en-us, en-gb-x-rp slower, en-us+f3 high and fast, en-us+m3 with
pink room noise, en-gb-scotland), each saying 12 commands, 12 sentences near the grammar
(a device the home does not have, a thermostat, "don't ...", a story that quotes a
command, the home's names in remarks) and 3 ordinary sentences. Same format as
bench/corpus/commands (house.yaml, cases.yaml with a `group` per case, transcripts.yaml;
the WAVs are made here and git ignores them). Only for choosing: results that matter
are reported on corpora no choice looked at.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

import yaml

ROOT: Final = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.make_corpus import light_id, synthesise  # noqa: E402

OUT: Final = ROOT / "bench" / "corpus" / "asr-tune"
HOUSE: Final[dict[str, list[str]]] = {
    "Office": ["Desk Lamp"],
    "Dining Room": ["Chandelier", "Wall Sconce"],
    "Hallway": ["Porch Light"],
    "Bathroom": ["Mirror Light"],
}
SATELLITES: Final = {"Office satellite": "Office", "Hallway satellite": "Hallway"}
# What is said, to which satellite, and the lights it changes (level in %, 0 = off).
COMMANDS: Final[list[tuple[str, str, dict[str, int]]]] = [
    ("turn on the desk lamp", "Hallway satellite", {"Desk Lamp": 100}),
    ("turn off the chandelier", "Office satellite", {"Chandelier": 0}),
    ("turn on the lights in the office", "Hallway satellite", {"Desk Lamp": 100}),
    ("set the wall sconce to fifty percent", "Office satellite", {"Wall Sconce": 50}),
    ("turn off the porch light", "Office satellite", {"Porch Light": 0}),
    ("turn on the mirror light", "Office satellite", {"Mirror Light": 100}),
    ("set the brightness of the chandelier to twenty percent", "Office satellite",
     {"Chandelier": 20}),
    ("turn off the lights", "Office satellite", {"Desk Lamp": 0}),
    ("turn on the lights in the dining room", "Office satellite",
     {"Chandelier": 100, "Wall Sconce": 100}),
    ("set the desk lamp to eighty percent", "Hallway satellite", {"Desk Lamp": 80}),
    ("turn off the lights in the hallway", "Office satellite", {"Porch Light": 0}),
    ("turn on the wall sconce", "Hallway satellite", {"Wall Sconce": 100}),
]  # fmt: skip
NEAR: Final = [
    "turn on the sauna",
    "turn off the garage light",
    "set the thermostat to seventy degrees",
    "don't turn on the desk lamp",
    "i told him to turn off the chandelier",
    "the porch light is broken again",
    "turn on the television",
    "she always says turn on the lights",
    "the chandelier was really expensive",
    "turn up the music in the office",
    "set the oven to four hundred",
    "please don't touch the mirror light",
]
FAR: Final = [
    "the meeting has been moved to thursday afternoon",
    "did you remember to buy milk",
    "we should go for a walk later",
]
# (group, espeak-ng voice, words per minute, pink noise amplitude)
VOICES: Final = [
    ("en-us", "en-us", 160, 0.0),
    ("en-gb-rp-slow", "en-gb-x-rp", 140, 0.0),
    ("en-us-high-fast", "en-us+f3", 180, 0.0),
    ("en-us-low-noisy", "en-us+m3", 165, 0.03),
    ("en-gb-scotland", "en-gb-scotland", 150, 0.0),
]


def _state(level: int) -> str:
    return "off" if level == 0 else ("on" if level == 100 else f"on@{level}")


def main() -> None:
    """Write the corpus."""
    OUT.mkdir(parents=True, exist_ok=True)
    lights = [name for names in HOUSE.values() for name in names]
    # The other lights are in a mixed state, so a command that reaches too far shows.
    initial = {light_id(name): ("on@40" if i % 2 else "off") for i, name in enumerate(lights)}
    house = {
        "areas": {area: {"lights": names} for area, names in HOUSE.items()},
        "satellites": [{"name": name, "area": area} for name, area in SATELLITES.items()],
    }
    cases: list[dict[str, object]] = []
    transcripts: dict[str, str] = {}
    for number, (group, voice, rate, noise) in enumerate(VOICES):
        said: list[tuple[str, str, dict[str, int]]] = [
            *COMMANDS,
            *((text, "Office satellite", {}) for text in (*NEAR, *FAR)),
        ]
        for index, (text, satellite, changes) in enumerate(said):
            audio = f"v{number}-{index:02d}.wav"
            synthesise(text, voice, rate, noise, index, OUT / audio)
            # A light the command changes starts the other way, so the change shows.
            before = dict(initial) | {
                light_id(name): "on@40" if level == 0 else "off" for name, level in changes.items()
            }
            expect = before | {light_id(name): _state(level) for name, level in changes.items()}
            cases.append(
                {
                    "audio": audio,
                    "satellite": satellite,
                    "group": group,
                    "initial": before,
                    "expect": expect,
                }
            )
            transcripts[audio] = text
    (OUT / "house.yaml").write_text(yaml.safe_dump(house, sort_keys=False))
    (OUT / "cases.yaml").write_text(yaml.safe_dump(cases, sort_keys=False))
    (OUT / "transcripts.yaml").write_text(yaml.safe_dump(transcripts, sort_keys=False))
    print(f"{len(cases)} cases in {OUT}")


if __name__ == "__main__":
    main()
