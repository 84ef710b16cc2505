"""Wake word in noise: does speex noise suppression before the detector hear more of them?

    scripts/py314 run .venv314/bin/python bench/wake_noise.py [--per-group 30]

"Okay Nabu" said by the voices corpus's groups (bench/make_voices_corpus.py's make_wav:
the same voices, levels and pink or babble noise at the same SNRs; WAVs made afresh in a
temporary directory from seeds named after the file, so every run hears the same audio),
each preceded by 2 s of its own room noise (its first 250 ms, repeated), as a satellite
that listens all the time hears the room before anyone speaks. The satellite's own
detector (pymicro-wakeword okay_nabu at sensitivity 0.5) hears it raw and through
pyspeex-noise (HA's assist_pipeline dependency) at each --suppression level, with a fresh
speex state per WAV. False wakes: the same detector on the voices corpus's tune WAVs
(commands and overheard speech, none of which says the wake word), if they are there,
played back to back as one stream.

Measurement only: the satellite does not suppress noise (see docs/benchmarks.md).
Run it in the chroot: the piper voice and pyspeex-noise are in .venv314.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.make_voices_corpus import GROUPS, OUT, make_wav  # noqa: E402
from bench.stt import speex  # noqa: E402
from sotto_voice.satellite.wake import MicroWakeWordDetector  # noqa: E402

WAKE_WORD: Final = "okay_nabu"
PHRASE: Final = "okay nabu"
NOISY_GROUPS: Final = (
    "espeak-noise-20db-pink",
    "espeak-noise-10db-babble",
    "piper-noise-20db-pink",
    "piper-noise-10db-pink",
    "piper-noise-10db-babble",
    "espeak-en-us",
    "piper",
)
LEAD_BYTES: Final = 8000  # 250 ms of 16 kHz 16-bit audio
LEAD_REPEATS: Final = 8  # 2 s of room before the wake word
CHUNK_BYTES: Final = 1024


def read(path: Path) -> bytes:
    """A WAV's 16 kHz mono 16-bit samples."""
    with wave.open(str(path), "rb") as wav:
        return wav.readframes(wav.getnframes())


def heard(pcm: bytes, detector: MicroWakeWordDetector, suppression: int) -> bool:
    """Whether the detector hears the wake word in pcm (after speex, unless 0)."""
    audio = speex(pcm, suppression, 0.0) if suppression else pcm
    detector.reset()
    hits = [
        detector.process(audio[at : at + CHUNK_BYTES]) for at in range(0, len(audio), CHUNK_BYTES)
    ]
    return any(hits)


def wake_words(levels: Sequence[int], per_group: int, tmp: Path) -> None:
    """Print, per group, how many wake words each suppression level hears."""
    detector = MicroWakeWordDetector(WAKE_WORD)
    for group in NOISY_GROUPS:
        counts = dict.fromkeys(levels, 0)
        for number in range(per_group):
            path = tmp / f"{group}-{number}.wav"
            make_wav(PHRASE, GROUPS[group], "wake", path)
            pcm = read(path)
            pcm = pcm[:LEAD_BYTES] * LEAD_REPEATS + pcm
            for level in levels:
                counts[level] += heard(pcm, detector, level)
        row = "  ".join(f"{_name(level)} {counts[level]}/{per_group}" for level in levels)
        print(f"  {group:26s} {row}", flush=True)


def false_wakes(levels: Sequence[int], corpus: Path) -> None:
    """Print how often the corpus's WAVs (no wake word in them), played back to back as one
    stream through one speex state, wake each level."""
    paths = sorted(corpus.glob("*.wav"))
    if not paths:
        print(f"false wakes: no WAVs in {corpus} (make them with bench/make_voices_corpus.py)")
        return
    stream = b"".join(read(path) for path in paths)
    detector = MicroWakeWordDetector(WAKE_WORD)
    counts = []
    for level in levels:
        audio = speex(stream, level, 0.0) if level else stream
        detector.reset()
        chunks = range(0, len(audio), CHUNK_BYTES)
        found = [detector.process(audio[at : at + CHUNK_BYTES]) for at in chunks]
        counts.append(f"{_name(level)} {sum(hit is not None for hit in found)}")
    minutes = len(stream) / 32000 / 60
    print(
        f"false wakes in {corpus.name}'s {len(paths)} WAVs ({minutes:.1f} min): {'  '.join(counts)}"
    )


def _name(level: int) -> str:
    return f"speex {level} dB" if level else "raw"


def main() -> None:
    """Run both measurements."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-group", type=int, default=30, help="wake words per group")
    parser.add_argument(
        "--suppression",
        type=int,
        action="append",
        help="speex noise suppression in dB, negative (repeatable; default -15 and -30)",
    )
    parser.add_argument("--corpus", type=Path, default=OUT / "tune", help="for false wakes")
    args = parser.parse_args()
    levels = [0, *(args.suppression or [-15, -30])]
    if any(level >= 0 for level in levels[1:]):
        sys.exit("--suppression takes negative dB, e.g. -15")
    print(f"wake word {WAKE_WORD}, heard of {args.per_group} per group:")
    with tempfile.TemporaryDirectory(prefix="sotto-wake-") as tmp:
        wake_words(levels, args.per_group, Path(tmp))
    false_wakes(levels, args.corpus)


if __name__ == "__main__":
    main()
