"""Text-to-speech served by sotto-engine over the secure link, to a real link client."""

from __future__ import annotations

import asyncio
import importlib.util
import os
from pathlib import Path

import pytest
from wyoming.audio import AudioChunk, AudioStart
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from sotto_voice.engine.protocol import ERROR_BAD_MESSAGE, ERROR_VOICE_NOT_FOUND
from sotto_voice.engine.server import TTS_CHUNK_SAMPLES
from sotto_voice.engine.tts import TextToSpeech, TtsSettings, espeak_executable
from sotto_voice.link import ConnectionClosedError, LinkKey

from .conftest import EngineFactory, client, reply

HAS_PIPER = all(importlib.util.find_spec(name) for name in ("piper", "onnx", "onnxruntime"))
needs_espeak = pytest.mark.skipif(espeak_executable() is None, reason="espeak-ng not installed")
needs_piper = pytest.mark.skipif(not HAS_PIPER, reason="needs piper-tts and onnx")


def audio_of(events: list) -> tuple[AudioStart, bytes, list[AudioChunk]]:
    """Check the audio-start, chunks, audio-stop shape; return the format and the audio."""
    assert events[0].type == "audio-start", events[0]
    assert events[-1].type == "audio-stop", events[-1]
    start = AudioStart.from_event(events[0])
    chunks = [AudioChunk.from_event(event) for event in events[1:-1]]
    assert chunks, "no audio"
    for chunk in chunks:
        assert (chunk.rate, chunk.width, chunk.channels) == (
            start.rate,
            start.width,
            start.channels,
        )
    return start, b"".join(chunk.audio for chunk in chunks), chunks


@needs_espeak
async def test_fresh_engine_speaks_with_espeak(start_engine: EngineFactory, key: LinkKey) -> None:
    async with start_engine() as engine, client(engine, key) as link:
        assert link.peer is not None
        assert link.peer.role == "engine"
        events = await reply(link, Synthesize(text="The front door is locked.").event())

    start, audio, chunks = audio_of(events)
    assert (start.rate, start.width, start.channels) == (22050, 2, 1)
    assert len(audio) / (22050 * 2) > 0.8  # over 0.8 s of speech
    # Small chunks, so playback can start at once.
    assert max(len(chunk.audio) for chunk in chunks) <= TTS_CHUNK_SAMPLES * 2
    assert len(chunks) > 1


@needs_espeak
async def test_describe_lists_the_voices(start_engine: EngineFactory, key: LinkKey) -> None:
    async with start_engine() as engine, client(engine, key) as link:
        (event,) = await reply(link, Describe().event())

    info = Info.from_event(event)
    assert info.asr == []  # speech-to-text is off in this configuration
    (program,) = info.tts
    assert [voice.name for voice in program.voices] == ["espeak-ng:en-us"]
    assert program.voices[0].installed


@needs_piper
async def test_installed_piper_voice_is_served(
    start_engine: EngineFactory, key: LinkKey, tmp_path: Path
) -> None:
    from tests.library.tts.tiny_voice import SAMPLE_RATE, build_tiny_voice

    voices = tmp_path / "voices"
    build_tiny_voice(voices, "en_US-tiny-x_low")
    text = "Good morning. It is sunny. The heating is on."
    async with TextToSpeech(TtsSettings(voices_dir=voices)) as tts:
        expected = await tts.synthesize(text)

    async with (
        start_engine(
            tts={"voices_dir": str(voices), "default_voice": "en_US-tiny-x_low"}
        ) as engine,
        client(engine, key) as link,
    ):
        (info_event,) = await reply(link, Describe().event())
        events = await reply(link, Synthesize(text=text).event())
        by_name = await reply(
            link, Synthesize(text=text, voice=SynthesizeVoice(name="en_US-tiny-x_low")).event()
        )
        espeak = await reply(
            link, Synthesize(text="Hello.", voice=SynthesizeVoice(name="espeak-ng")).event()
        )
        # Language only, as Home Assistant sends when no voice is chosen.
        english = await reply(
            link, Event(type="synthesize", data={"text": text, "voice": {"language": "en-US"}})
        )
        german = await reply(
            link, Event(type="synthesize", data={"text": text, "voice": {"language": "de"}})
        )

    names = [voice.name for voice in Info.from_event(info_event).tts[0].voices]
    assert names[0] == "en_US-tiny-x_low"
    start, audio, _ = audio_of(events)
    assert start.rate == SAMPLE_RATE
    # Exactly the voice's own audio, delivered whole over the link.
    assert audio == expected.audio
    assert audio_of(by_name)[1] == expected.audio
    assert audio_of(espeak)[1] != expected.audio
    assert audio_of(english)[1] == expected.audio
    german_audio = audio_of(german)[1]  # no German piper voice: espeak-ng speaks German
    assert german_audio
    assert german_audio != expected.audio


async def test_unknown_voice_is_an_error_and_the_link_stays_open(
    start_engine: EngineFactory, key: LinkKey
) -> None:
    async with start_engine() as engine, client(engine, key) as link:
        (event,) = await reply(
            link, Synthesize(text="Hi.", voice=SynthesizeVoice(name="en_GB-alan-low")).event()
        )
        error = Error.from_event(event)
        (info,) = await reply(link, Describe().event())

    assert error.code == ERROR_VOICE_NOT_FOUND
    assert "en_GB-alan-low" in error.text
    assert info.type == "info"


@pytest.mark.parametrize(
    "data",
    [{}, {"text": 42}, {"text": "Hi.", "voice": "alan"}, {"text": "Hi.", "voice": {"name": 1}}],
)
async def test_malformed_synthesize_closes_the_link(
    start_engine: EngineFactory, key: LinkKey, data: dict
) -> None:
    from wyoming.event import Event

    async with start_engine() as engine, client(engine, key) as link:
        (event,) = await reply(link, Event(type="synthesize", data=data))
        error = Error.from_event(event)
        with pytest.raises(ConnectionClosedError):
            async with asyncio.timeout(5):
                await link.read_event()

    assert error.code == ERROR_BAD_MESSAGE
    assert "synthesize" in error.text


@needs_espeak
async def test_two_clients_are_served_at_once(start_engine: EngineFactory, key: LinkKey) -> None:
    async with start_engine() as engine:

        async def ask(text: str) -> bytes:
            async with client(engine, key) as link:
                return audio_of(await reply(link, Synthesize(text=text).event()))[1]

        short, long = await asyncio.gather(
            ask("Yes."), ask("The washing machine has finished its long cycle.")
        )

    assert 0 < len(short) < len(long)


def espeak_children() -> list[int]:
    """PIDs of espeak-ng processes started by this test process."""
    me = str(os.getpid())
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:
            continue
        if fields.get("PPid", "").strip() == me and fields.get("Name", "").startswith("espeak"):
            found.append(int(status.parent.name))
    return found


@needs_espeak
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
async def test_client_hanging_up_mid_reply_stops_synthesis(
    start_engine: EngineFactory, key: LinkKey
) -> None:
    long_text = " ".join(f"This is sentence number {n} of a very long reply." for n in range(200))
    async with start_engine() as engine:
        async with client(engine, key) as link:
            await link.write_event(Synthesize(text=long_text).event())
            assert (await link.read_event()).type == "audio-start"
            assert (await link.read_event()).type == "audio-chunk"
        # The engine notices the closed link and stops espeak-ng.
        async with asyncio.timeout(10):
            while espeak_children():
                await asyncio.sleep(0.05)
        async with client(engine, key) as link:
            events = await reply(link, Synthesize(text="Still here.").event())

    assert events[-1].type == "audio-stop"


@needs_piper
async def test_voice_added_while_running_is_offered(
    start_engine: EngineFactory, key: LinkKey, tmp_path: Path
) -> None:
    from tests.library.tts.tiny_voice import build_tiny_voice

    voices = tmp_path / "voices"
    async with (
        start_engine(tts={"voices_dir": str(voices)}) as engine,
        client(engine, key) as link,
    ):
        (before,) = await reply(link, Describe().event())
        build_tiny_voice(voices, "en_GB-tiny-low")  # as `sotto-engine download` would
        events = await reply(
            link, Synthesize(text="Hello.", voice=SynthesizeVoice(name="en_GB-tiny-low")).event()
        )
        (after,) = await reply(link, Describe().event())

    assert [v.name for v in Info.from_event(before).tts[0].voices] == ["espeak-ng:en-us"]
    assert audio_of(events)[1]
    assert "en_GB-tiny-low" in [v.name for v in Info.from_event(after).tts[0].voices]
