"""Text-to-speech speed: time to first audio and real-time factor, per voice.

Voices: the espeak-ng fallback, the tiny test voice (a real PiperVoice running a tiny ONNX
model, so the figures are piper's own overhead: phonemisation, onnxruntime, conversion),
and every piper voice in --voices-dir if given (e.g. a downloaded en_US-lessac-medium).

For each voice and reply it prints, as the median of --repeat runs:
  first audio   seconds from the request to the first audio chunk
  total         seconds to synthesise the whole reply
  audio         seconds of speech produced
  RTF           total / audio (below 1 is faster than real time)
once in-process (TextToSpeech.stream) and once through a running sotto-engine over the
encrypted link on 127.0.0.1 (request sent -> first audio-chunk received).

    .venv/bin/python bench/tts.py [--repeat 5] [--voices-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from wyoming.audio import AudioChunk
from wyoming.tts import Synthesize, SynthesizeVoice

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sotto_voice.engine.config import validate
from sotto_voice.engine.server import running_engine
from sotto_voice.engine.tts import TextToSpeech, TtsSettings
from sotto_voice.link import LinkKey, PeerIdentity, connect

REPLIES = {
    "short": "The kitchen lights are on.",
    "three sentences": (
        "Good evening. The front door is locked and the alarm is set. "
        "It will be twelve degrees tonight."
    ),
    "paragraph": " ".join(
        f"This is sentence number {n} of a long announcement about the house." for n in range(8)
    ),
}
CLIENT = PeerIdentity(device_id="bench-client", name="bench", role="controller")


@dataclass
class Run:
    """One synthesis."""

    first: float
    total: float
    audio: float


def _median(runs: list[Run]) -> Run:
    return Run(
        first=statistics.median(r.first for r in runs),
        total=statistics.median(r.total for r in runs),
        audio=statistics.median(r.audio for r in runs),
    )


async def _in_process(tts: TextToSpeech, voice: str, text: str) -> Run:
    started = time.perf_counter()
    first = None
    audio = 0.0
    async for chunk in tts.stream(text, voice=voice):
        if first is None:
            first = time.perf_counter() - started
        audio += chunk.seconds
    total = time.perf_counter() - started
    return Run(first=first or total, total=total, audio=audio)


async def _over_link(port: int, key: LinkKey, voice: str, text: str) -> Run:
    async with connect("127.0.0.1", port, key=key, identity=CLIENT) as link:
        started = time.perf_counter()
        await link.write_event(Synthesize(text=text, voice=SynthesizeVoice(name=voice)).event())
        first = None
        audio = 0.0
        while True:
            event = await link.read_event()
            if AudioChunk.is_type(event.type):
                if first is None:
                    first = time.perf_counter() - started
                chunk = AudioChunk.from_event(event)
                audio += chunk.seconds
            elif event.type in ("audio-stop", "error"):
                if event.type == "error":
                    raise RuntimeError(event.data)
                break
        total = time.perf_counter() - started
    return Run(first=first or total, total=total, audio=audio)


def _print(where: str, voice: str, reply: str, run: Run) -> None:
    rtf = run.total / run.audio if run.audio else float("nan")
    print(
        f"{where:<10} {voice:<26} {reply:<16} first audio {run.first * 1000:7.1f} ms   "
        f"total {run.total * 1000:8.1f} ms   audio {run.audio:6.2f} s   RTF {rtf:.3f}"
    )


async def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--voices-dir", type=Path, help="also measure the piper voices here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sotto-bench-tts-") as tmp:
        voices_dir = _voices(Path(tmp) / "voices", args.voices_dir)
        voices = await _bench_in_process(voices_dir, args.repeat)
        print()
        await _bench_over_link(Path(tmp) / "state", voices_dir, voices, args.repeat)


def _voices(voices_dir: Path, more: Path | None) -> Path:
    """A voices directory with the tiny test voice, and links to the piper voices in `more`."""
    from tests.library.tts.tiny_voice import build_tiny_voice

    build_tiny_voice(voices_dir, "en_US-tiny-x_low")
    for model in sorted(more.glob("*.onnx")) if more else []:
        for suffix in (".onnx", ".onnx.json"):
            source = model.with_name(model.name.removesuffix(".onnx") + suffix)
            if source.exists():
                (voices_dir / source.name).symlink_to(source.resolve())
    return voices_dir


async def _bench_in_process(voices_dir: Path, repeat: int) -> list[str]:
    """Time each voice's load and each reply in this process; the voices' names."""
    async with TextToSpeech(TtsSettings(voices_dir=voices_dir)) as tts:
        voices = [voice.name for voice in tts.voices()]
        print(f"voices: {', '.join(voices)}; {repeat} runs each, medians\n")
        for voice in voices:
            started = time.perf_counter()
            await tts.load_voice(voice)
            if not voice.startswith("espeak-ng"):
                print(f"load {voice}: {(time.perf_counter() - started) * 1000:.0f} ms")
        print()
        for voice in voices:
            for name, text in REPLIES.items():
                await _in_process(tts, voice, text)  # warm up
                runs = [await _in_process(tts, voice, text) for _ in range(repeat)]
                _print("in-process", voice, name, _median(runs))
    return voices


async def _bench_over_link(
    state_dir: Path, voices_dir: Path, voices: list[str], repeat: int
) -> None:
    """Time each reply from a sotto-engine over the encrypted link."""
    key = LinkKey.generate()
    config = validate(
        {
            "device_id": "bench-engine",
            "state_dir": str(state_dir),
            "link": {"host": "127.0.0.1", "port": 0},
            "tts": {"voices_dir": str(voices_dir)},
            "stt": {"enabled": False},
        }
    )
    async with running_engine(config, key=key) as engine:
        for voice in voices:
            for name, text in REPLIES.items():
                await _over_link(engine.port, key, voice, text)  # warm up
                runs = [await _over_link(engine.port, key, voice, text) for _ in range(repeat)]
                _print("link", voice, name, _median(runs))


if __name__ == "__main__":
    asyncio.run(main())
