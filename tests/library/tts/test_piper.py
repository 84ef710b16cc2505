"""Piper voices from a directory: a tiny real ONNX voice loaded and run by PiperVoice."""

from __future__ import annotations

import array
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("piper")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from sotto_voice.engine.tts import (
    TextToSpeech,
    TtsSettings,
    VoiceLoadError,
    VoiceNotFoundError,
    scan_voices,
)

from .tiny_voice import SAMPLE_RATE, SAMPLES_PER_ID, build_tiny_voice

VOICE = "en_US-tiny-x_low"


def peak(pcm: bytes) -> int:
    """Largest absolute 16-bit sample."""
    samples = array.array("h", pcm)
    return max((abs(sample) for sample in samples), default=0)


@pytest.fixture
def voices_dir(tmp_path: Path) -> Path:
    build_tiny_voice(tmp_path / "voices", VOICE)
    return tmp_path / "voices"


@pytest.fixture
async def tts(voices_dir: Path) -> AsyncIterator[TextToSpeech]:
    async with TextToSpeech(TtsSettings(voices_dir=voices_dir)) as engine:
        yield engine


def test_scan_finds_voice_with_its_language_and_rate(voices_dir: Path) -> None:
    (voices_dir / "orphan.onnx").write_bytes(b"model without a config")
    (voices_dir / "broken-voice.onnx").write_bytes(b"x")
    (voices_dir / "broken-voice.onnx.json").write_text("{not json", encoding="utf-8")

    voices = scan_voices(voices_dir)

    assert [voice.name for voice in voices] == [VOICE]
    assert voices[0].language == "en_US"
    assert voices[0].sample_rate == SAMPLE_RATE


async def test_installed_voice_speaks_one_chunk_per_sentence(tts: TextToSpeech) -> None:
    assert tts.default_voice == VOICE

    chunks = [chunk async for chunk in tts.stream("Hello there. How are you today?")]

    assert len(chunks) == 2
    for chunk in chunks:
        assert (chunk.format.rate, chunk.format.width, chunk.format.channels) == (
            SAMPLE_RATE,
            2,
            1,
        )
        # One burst per phoneme id: a whole number of bursts, and not silence.
        assert len(chunk.audio) > 0
        assert len(chunk.audio) % (SAMPLES_PER_ID * 2) == 0
        assert peak(chunk.audio) > 10_000
    # The longer sentence has more phonemes, so more audio.
    assert len(chunks[1].audio) > len(chunks[0].audio)


async def test_audio_depends_on_the_text(tts: TextToSpeech) -> None:
    short = await tts.synthesize("Hi.")
    long = await tts.synthesize("Good evening, the kitchen lights are now on.")

    assert short.voice == VOICE
    assert short.format.rate == SAMPLE_RATE
    assert long.seconds > short.seconds > 0


class CountingSession:
    """The real onnxruntime session, counting how many sentences it has run."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.runs = 0

    def run(self, *args: Any, **kwargs: Any) -> Any:
        self.runs += 1
        return self.session.run(*args, **kwargs)


async def test_first_sentence_arrives_before_the_rest_is_synthesised(
    tts: TextToSpeech,
) -> None:
    synthesizer = await tts.load_voice()
    assert synthesizer is not None
    counter = CountingSession(synthesizer.piper.session)
    synthesizer.piper.session = counter
    text = "One sentence. Then a second. Then a third one. And a fourth to finish."

    stream = tts.stream(text)
    first = await anext(stream)
    runs_at_first_chunk = counter.runs
    rest = [chunk async for chunk in stream]

    assert first.audio
    assert len(rest) == 3
    assert counter.runs == 4
    # At most one sentence of read-ahead when the first audio is handed over.
    assert runs_at_first_chunk <= 2


async def test_stopping_early_stops_synthesis(tts: TextToSpeech) -> None:
    synthesizer = await tts.load_voice()
    assert synthesizer is not None
    counter = CountingSession(synthesizer.piper.session)
    synthesizer.piper.session = counter
    text = " ".join(f"Sentence number {n}." for n in range(10))

    stream = tts.stream(text)
    await anext(stream)
    await stream.aclose()
    # Closing waits for nothing; the queued close runs after any sentence in progress.
    await tts.synthesize("Flush the worker.")

    assert counter.runs <= 3


async def test_voice_chosen_by_language_or_name(tts: TextToSpeech) -> None:
    assert tts.describe_choice(None, "en-US") == VOICE
    assert tts.describe_choice(None, "en") == VOICE
    assert tts.describe_choice(None, "de_DE") == "espeak-ng:de-de"
    assert tts.describe_choice("espeak-ng", None) == "espeak-ng:en-us"

    with pytest.raises(VoiceNotFoundError, match="en_GB-alan-low"):
        await anext(tts.stream("Hello.", voice="en_GB-alan-low"))


async def test_listing_puts_the_default_first(voices_dir: Path) -> None:
    build_tiny_voice(voices_dir, "en_GB-tiny-low")
    settings = TtsSettings(voices_dir=voices_dir, default_voice=VOICE)
    async with TextToSpeech(settings) as tts:
        names = [voice.name for voice in tts.voices()]

    assert names[0] == VOICE
    assert set(names) == {VOICE, "en_GB-tiny-low", "espeak-ng:en-us"}


async def test_speaker_of_a_multi_speaker_voice(tmp_path: Path) -> None:
    build_tiny_voice(tmp_path, "en_US-pair-x_low", speakers=("ann", "bob"))
    async with TextToSpeech(TtsSettings(voices_dir=tmp_path)) as tts:
        (info,) = [voice for voice in tts.voices() if voice.engine == "piper"]
        ann = await tts.synthesize("Hello.", speaker="ann")
        bob = await tts.synthesize("Hello.", speaker="bob")
        with pytest.raises(VoiceNotFoundError, match="carol"):
            await tts.synthesize("Hello.", speaker="carol")

    assert info.speakers == ("ann", "bob")
    # Same phonemes, so the same length; the speaker changes the sound.
    assert len(ann.audio) == len(bob.audio)
    assert ann.audio != bob.audio


async def test_unloadable_model_is_a_clear_error(tmp_path: Path) -> None:
    build_tiny_voice(tmp_path, VOICE)
    (tmp_path / f"{VOICE}.onnx").write_bytes(b"this is not an onnx model")
    async with TextToSpeech(TtsSettings(voices_dir=tmp_path)) as tts:
        with pytest.raises(VoiceLoadError, match=VOICE):
            await tts.synthesize("Hello.")
