"""The espeak-ng fallback: a fresh install with no piper voice still speaks."""

from __future__ import annotations

import array
import math
from pathlib import Path

import pytest

from sotto_voice.engine.tts import (
    SynthesisError,
    TextToSpeech,
    TtsSettings,
    VoiceNotFoundError,
    espeak_executable,
    espeak_stream,
)

pytestmark = pytest.mark.skipif(espeak_executable() is None, reason="espeak-ng not installed")


def rms(pcm: bytes) -> float:
    """Root mean square of 16-bit samples."""
    samples = array.array("h", pcm)
    return math.sqrt(sum(sample * sample for sample in samples) / max(1, len(samples)))


async def test_fresh_install_speaks_with_espeak(tmp_path: Path) -> None:
    settings = TtsSettings(voices_dir=tmp_path / "no-voices-yet")
    async with TextToSpeech(settings) as tts:
        assert [voice.name for voice in tts.voices()] == ["espeak-ng:en-us"]
        assert tts.default_voice == "espeak-ng:en-us"
        reply = await tts.synthesize("The kitchen lights are on.")

    assert reply.voice == "espeak-ng:en-us"
    assert (reply.format.rate, reply.format.width, reply.format.channels) == (22050, 2, 1)
    # About a second and a half of audible speech, not silence or a click.
    assert 0.8 < reply.seconds < 5.0
    assert rms(reply.audio) > 500


async def test_configured_default_that_is_not_installed_falls_back(tmp_path: Path) -> None:
    settings = TtsSettings(voices_dir=tmp_path, default_voice="en_US-lessac-medium")
    async with TextToSpeech(settings) as tts:
        reply = await tts.synthesize("Hello.")

    assert reply.voice == "espeak-ng:en-us"
    assert reply.audio


async def test_text_that_looks_like_an_option_is_spoken(tmp_path: Path) -> None:
    chunks = [chunk async for chunk in espeak_stream("--help me -v now")]

    assert sum(len(chunk.audio) for chunk in chunks) > 22050  # over half a second
    for chunk in chunks:
        assert len(chunk.audio) % 2 == 0


async def test_unknown_espeak_voice_is_named(tmp_path: Path) -> None:
    async with TextToSpeech(TtsSettings(voices_dir=tmp_path)) as tts:
        with pytest.raises(VoiceNotFoundError, match="xx-nowhere"):
            await tts.synthesize("Hello.", voice="espeak-ng:xx-nowhere")
        with pytest.raises(VoiceNotFoundError, match="not an espeak-ng voice name"):
            await tts.synthesize("Hello.", voice="espeak-ng:-w/tmp/x")


async def test_empty_and_oversized_text_are_refused(tmp_path: Path) -> None:
    async with TextToSpeech(TtsSettings(voices_dir=tmp_path)) as tts:
        with pytest.raises(SynthesisError, match="empty"):
            await tts.synthesize("   ")
        with pytest.raises(SynthesisError, match="too long"):
            await tts.synthesize("word " * 5000)


async def test_long_text_streams_in_pieces_and_can_be_abandoned(tmp_path: Path) -> None:
    text = " ".join(f"This is sentence number {n}." for n in range(30))
    stream = espeak_stream(text)
    first = await anext(stream)
    await stream.aclose()

    # The first piece is far shorter than the whole reply would be (about 40 s).
    assert 0 < first.seconds < 5.0
