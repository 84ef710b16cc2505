"""Generate a spoken-command corpus with espeak-ng and sox.

    python bench/make_corpus.py --split tune   # -> bench/corpus/tune/
    python bench/make_corpus.py --split test   # -> bench/corpus/test/

The two splits use different voices and speaking rates, so thresholds chosen on `tune`
are reported on `test` by speech they never saw. Nothing is ever trained on this speech.

Format (shared with the end-to-end benchmark):
  house.yaml       areas: {Area: {lights: [Light Name, ...]}}, satellites: [{name, area}]
  cases.yaml       [{audio: FILE.wav, satellite: NAME, initial: {entity_id: state},
                     expect: {entity_id: state}}]   state: "on", "off" or "on@N" (N% brightness)
  transcripts.yaml {FILE.wav: text}  (reporting only)
WAVs are 16 kHz mono 16-bit, one command each, without wake word. Out-of-grammar speech
(chatter, TV) expects no change; every in-grammar case changes at least one light.
"""

from __future__ import annotations

import argparse
import functools
import random
import re
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sotto_voice.audio import VOICE_FORMAT

RATE = VOICE_FORMAT.rate
LEAD_SILENCE = 0.3
TRAIL_SILENCE = 0.3

HOUSE: dict[str, list[str]] = {
    "Kitchen": ["Island Pendants", "Ceiling Light"],
    "Living Room": ["Floor Lamp", "Reading Light", "Sonos Lamp"],
    "Bedroom": ["Bedside Lamp", "Hue Strip"],
}
SATELLITES = [
    {"name": "kitchen_satellite", "area": "Kitchen"},
    {"name": "living_room_satellite", "area": "Living Room"},
    {"name": "bedroom_satellite", "area": "Bedroom"},
]

# Different people (voices) and paces per split; noise is mixed into some cases of both.
SPLITS: dict[str, dict[str, list[Any]]] = {
    "tune": {
        "voices": ["en-us", "en-gb", "en-us+m3", "en-us+f2", "en-us+klatt"],
        "rates": [145, 170],
    },
    "test": {
        "voices": ["en-us+m1", "en-gb-x-rp", "en-us+f3", "en-us+m5", "en-us-nyc", "en"],
        "rates": [135, 160, 180],
    },
}

OUT_OF_GRAMMAR = [
    "what time does the game start",
    "I think we should go to the beach tomorrow",
    "did you remember to buy milk",
    "and now the weather for the weekend",
    "he scored in the final minute of the match",
    "can you pass me the salt please",
    "that movie was much better than I expected",
    "the meeting has been moved to Thursday afternoon",
    "let's order pizza tonight",
    "she said the lights in the city were beautiful",
]


def slug(name: str) -> str:
    """Entity id object part from a name: "Floor Lamp" -> "floor_lamp"."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def light_id(name: str) -> str:
    """Entity id of a light in the house."""
    return f"light.{slug(name)}"


@dataclass(frozen=True)
class Command:
    text: str
    satellite: str
    initial: dict[str, str]
    expect: dict[str, str]


def commands() -> list[Command]:
    """Every in-grammar command of the corpus, each changing at least one light."""
    out: list[Command] = []
    kitchen, living, bedroom = (s["name"] for s in SATELLITES)
    lights = {area: [light_id(n) for n in names] for area, names in HOUSE.items()}

    def one(text: str, sat: str, entity: str, before: str, after: str) -> None:
        out.append(Command(text, sat, {entity: before}, {entity: after}))

    one("turn on the island pendants", kitchen, light_id("Island Pendants"), "off", "on")
    one("turn off the island pendants", living, light_id("Island Pendants"), "on", "off")
    one("turn on the floor lamp", living, light_id("Floor Lamp"), "off", "on")
    one("switch off the reading light", living, light_id("Reading Light"), "on", "off")
    one("turn on the sonos lamp", bedroom, light_id("Sonos Lamp"), "off", "on")
    one("turn off the hue strip", bedroom, light_id("Hue Strip"), "on", "off")
    one("turn on the bedside lamp", kitchen, light_id("Bedside Lamp"), "off", "on")
    one("turn off the ceiling light", kitchen, light_id("Ceiling Light"), "on", "off")
    one("set the floor lamp to fifty percent", living, light_id("Floor Lamp"), "off", "on@50")
    one(
        "set the ceiling light brightness to twenty percent",
        kitchen,
        light_id("Ceiling Light"),
        "on",
        "on@20",
    )
    one("set the bedside lamp to eighty percent", bedroom, light_id("Bedside Lamp"), "off", "on@80")
    out.append(
        Command(
            "turn on the lights",
            bedroom,
            dict.fromkeys(lights["Bedroom"], "off"),
            dict.fromkeys(lights["Bedroom"], "on"),
        )
    )
    out.append(
        Command(
            "turn off the lights in the kitchen",
            living,
            dict.fromkeys(lights["Kitchen"], "on"),
            dict.fromkeys(lights["Kitchen"], "off"),
        )
    )
    out.append(
        Command(
            "turn on the living room lights",
            kitchen,
            dict.fromkeys(lights["Living Room"], "off"),
            dict.fromkeys(lights["Living Room"], "on"),
        )
    )
    return out


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        sys.exit(f"{tool} is not installed (apt-get install {tool})")
    return path


@functools.cache
def espeak_command() -> tuple[str, ...]:
    """espeak-ng, in its deterministic mode where it has one: 1.52 (the chroot's) seeds the
    breath noise of voices such as en-us+f3 from the clock, so they spoke differently on
    every run; 1.51 (the host's) has neither."""
    espeak = require("espeak-ng")
    usage = subprocess.run([espeak, "--help"], capture_output=True, text=True, check=False)
    return (espeak, "-D") if re.search(r"^-D\b", usage.stdout, re.MULTILINE) else (espeak,)


def synthesise(text: str, voice: str, rate: int, noise: float, seed: int, out: Path) -> None:
    """Speak text into a 16 kHz mono 16-bit WAV with silence around it, optionally noisy."""
    sox = require("sox")
    with tempfile.TemporaryDirectory(prefix="sotto-corpus-") as tmp:
        raw = Path(tmp) / "espeak.wav"
        speech = Path(tmp) / "speech.wav"
        subprocess.run(
            [*espeak_command(), "-v", voice, "-s", str(rate), "-w", str(raw), text],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [sox, "-R", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer",
             str(speech), "pad", str(LEAD_SILENCE), str(TRAIL_SILENCE)],
            check=True, capture_output=True,
        )  # fmt: skip
        if noise <= 0:
            shutil.copy(speech, out)
            return
        with wave.open(str(speech)) as wav:
            seconds = wav.getnframes() / RATE
        hum = Path(tmp) / "noise.wav"
        # Pink noise (room, fan, distant TV hiss) at the given amplitude.
        subprocess.run(
            [sox, "-R", "-n", "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer",
             str(hum), "synth", f"{seconds:.3f}", "pinknoise", "vol", f"{noise}"],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [sox, "-R", "-m", str(speech), str(hum),
             "-r", str(RATE), "-c", "1", "-b", "16", str(out)],
            check=True, capture_output=True,
        )  # fmt: skip
    # sox -R seeds its noise and its dither: the same corpus on every run and machine
    # with the same espeak-ng and sox (unseeded dither changed every WAV, and with it
    # which out-of-grammar sentence was falsely accepted: 1 or 2 of 60).
    del seed  # kept for a future generator


def build(split: str, out_dir: Path, noise_level: float) -> None:
    spec = SPLITS[split]
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"sotto-{split}")
    cases: list[dict[str, Any]] = []
    transcripts: dict[str, str] = {}
    index = 0

    def add(
        text: str,
        satellite: str,
        initial: dict[str, str],
        expect: dict[str, str],
        voice: str,
        rate: int,
        noisy: bool,
    ) -> None:
        nonlocal index
        index += 1
        name = f"{index:04d}.wav"
        synthesise(text, voice, rate, noise_level if noisy else 0.0, index, out_dir / name)
        cases.append({"audio": name, "satellite": satellite, "initial": initial, "expect": expect})
        transcripts[name] = text

    for voice in spec["voices"]:
        for command in commands():
            rate = rng.choice(spec["rates"])
            add(
                command.text,
                command.satellite,
                command.initial,
                command.expect,
                voice,
                rate,
                rng.random() < 0.25,
            )
        for text in OUT_OF_GRAMMAR:
            rate = rng.choice(spec["rates"])
            satellite = rng.choice(SATELLITES)["name"]
            entity = light_id(rng.choice(HOUSE[rng.choice(list(HOUSE))]))
            state = rng.choice(["on", "off"])
            add(text, satellite, {entity: state}, {entity: state}, voice, rate, rng.random() < 0.25)

    house = {
        "areas": {area: {"lights": names} for area, names in HOUSE.items()},
        "satellites": SATELLITES,
    }
    (out_dir / "house.yaml").write_text(yaml.safe_dump(house, sort_keys=False))
    (out_dir / "cases.yaml").write_text(yaml.safe_dump(cases, sort_keys=False))
    (out_dir / "transcripts.yaml").write_text(yaml.safe_dump(transcripts, sort_keys=False))
    print(f"{split}: {len(cases)} cases in {out_dir}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--split", choices=sorted(SPLITS), required=True)
    parser.add_argument("--out", type=Path, help="output directory (default bench/corpus/SPLIT)")
    parser.add_argument(
        "--noise", type=float, default=0.03, help="pink noise amplitude for noisy cases"
    )
    args = parser.parse_args()
    out = args.out or Path(__file__).resolve().parent / "corpus" / args.split
    build(args.split, out, args.noise)


if __name__ == "__main__":
    main()
