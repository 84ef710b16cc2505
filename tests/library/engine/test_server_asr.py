"""Speech-to-text served by sotto-engine: grammar once, then Wyoming transcribe over the link."""

from __future__ import annotations

import array
import asyncio

import pytest

pytest.importorskip("pocketsphinx")
# The recogniser's import chain needs every speech-to-text dependency (hassil included).
pytest.importorskip("sotto_voice.engine.stt.recognizer")

from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe

from demo.speech import RATE, utterance
from sotto_voice.engine.protocol import (
    ERROR_BAD_MESSAGE,
    ERROR_NO_GRAMMAR,
    GrammarMessage,
    GrammarReady,
    PartialTranscript,
)
from sotto_voice.engine.stt.model import Grammar
from sotto_voice.link import ConnectionClosedError, Link, LinkKey

from .conftest import EngineFactory, client, reply

JSGF = """#JSGF V1.0;
grammar sotto;
public <command> = (<on> | <off>);
<on> = turn on the kitchen light;
<off> = turn off the (kitchen | bedroom) light [please];
"""
GRAMMAR = Grammar(
    jsgf=JSGF,
    words=("turn", "on", "off", "the", "kitchen", "bedroom", "light", "please"),
)
CHUNK = RATE * 2 // 10  # 100 ms of 16 kHz s16le


def chunks(pcm: bytes, rate: int = RATE, width: int = 2, channels: int = 1) -> list[Event]:
    """The audio as Wyoming audio-chunk events of about 100 ms."""
    size = rate * width * channels // 10
    return [
        AudioChunk(rate=rate, width=width, channels=channels, audio=pcm[i : i + size]).event()
        for i in range(0, len(pcm), size)
    ]


def full_grammar() -> Event:
    """The sotto-grammar event carrying the whole grammar."""
    return GrammarMessage(GRAMMAR.digest, GRAMMAR.jsgf, GRAMMAR.words).event()


async def transcribe(link: Link, audio_events: list[Event]) -> list[Event]:
    """Run one transcription and return every event up to the transcript."""
    fmt = AudioChunk.from_event(audio_events[0])
    return await reply(
        link,
        Transcribe(language="en").event(),
        AudioStart(rate=fmt.rate, width=fmt.width, channels=fmt.channels).event(),
        *audio_events,
        AudioStop().event(),
    )


async def test_command_is_transcribed_with_an_early_complete_partial(
    start_engine: EngineFactory, key: LinkKey
) -> None:
    speech = utterance(0.3, "turn on the kitchen light", 0.6)
    async with start_engine(stt={"enabled": True}) as engine, client(engine, key) as link:
        # Only the digest first: the engine has never seen this grammar.
        (missing,) = await reply(link, GrammarMessage(GRAMMAR.digest).event())
        (ready,) = await reply(link, full_grammar())
        events = await transcribe(link, chunks(speech))

    assert missing.type == "sotto-grammar-missing"
    assert GrammarReady.from_event(ready).digest == GRAMMAR.digest
    transcript = events[-1]
    assert transcript.type == "transcript"
    assert transcript.data["text"] == "turn on the kitchen light"
    assert transcript.data["accepted"] is True
    partials = [PartialTranscript.from_event(e) for e in events if e.type == "sotto-partial"]
    complete = [p for p in partials if p.complete]
    # The caller learns the command is whole before the transcript, so it can stop streaming.
    assert complete
    assert complete[0].text == "turn on the kitchen light"
    assert not complete[0].can_continue


async def test_grammar_is_compiled_once_and_shared(
    start_engine: EngineFactory, key: LinkKey
) -> None:
    speech = utterance(0.3, "turn off the bedroom light", 0.6)
    async with start_engine(stt={"enabled": True}) as engine:
        async with client(engine, key) as link:
            await reply(link, full_grammar())
        async with client(engine, key) as link:
            # A new connection names the grammar by digest only: it is cached.
            (ready,) = await reply(link, GrammarMessage(GRAMMAR.digest).event())
            events = await transcribe(link, chunks(speech))

    assert ready.type == "sotto-grammar-ready"
    assert events[-1].data["text"] == "turn off the bedroom light"


async def test_other_audio_formats_are_converted(start_engine: EngineFactory, key: LinkKey) -> None:
    speech = array.array("h", utterance(0.3, "turn on the kitchen light", 0.6))
    # 48 kHz stereo: every sample three times, in both channels.
    stereo_48k = array.array("h", (s for s in speech for _ in range(6)))
    async with start_engine(stt={"enabled": True}) as engine, client(engine, key) as link:
        await reply(link, full_grammar())
        events = await transcribe(
            link, chunks(stereo_48k.tobytes(), rate=48000, width=2, channels=2)
        )

    assert events[-1].data["text"] == "turn on the kitchen light"


async def test_stop_streaming_when_the_command_is_complete(
    start_engine: EngineFactory, key: LinkKey
) -> None:
    speech = utterance(0.3, "turn on the kitchen light", 3.0)
    audio = chunks(speech)
    async with start_engine(stt={"enabled": True}) as engine, client(engine, key) as link:
        await reply(link, full_grammar())
        complete = asyncio.Event()

        async def stream() -> None:
            await link.write_event(Transcribe().event())
            await link.write_event(AudioStart(rate=RATE, width=2, channels=1).event())
            for event in audio:
                if complete.is_set():
                    break
                await link.write_event(event)
                await asyncio.sleep(0.02)
            await link.write_event(AudioStop().event())

        sender = asyncio.create_task(stream())
        try:
            async with asyncio.timeout(60):
                while (event := await link.read_event()).type != "transcript":
                    if event.type == "sotto-partial" and event.data["complete"]:
                        complete.set()
        finally:
            await sender

    assert complete.is_set()
    assert event.data["text"] == "turn on the kitchen light"


async def test_a_request_after_the_audio_is_answered_after_the_transcript(
    start_engine: EngineFactory, key: LinkKey
) -> None:
    """The engine decodes while it reads; what was asked next still comes next."""
    speech = utterance(0.3, "turn off the kitchen light", 0.6)
    async with start_engine(stt={"enabled": True}) as engine, client(engine, key) as link:
        await reply(link, full_grammar())
        for event in (
            Transcribe(language="en").event(),
            AudioStart(rate=RATE, width=2, channels=1).event(),
            *chunks(speech),
            AudioStop().event(),
            Describe().event(),
        ):
            await link.write_event(event)
        answers = []
        async with asyncio.timeout(60):
            while not answers or answers[-1].type != "info":
                answers.append(await link.read_event())

    kinds = [event.type for event in answers if event.type != "sotto-partial"]
    assert kinds == ["transcript", "info"]
    assert answers[-2].data["text"] == "turn off the kitchen light"


async def test_transcribe_without_a_grammar_is_refused(
    start_engine: EngineFactory, key: LinkKey
) -> None:
    async with start_engine(stt={"enabled": True}) as engine, client(engine, key) as link:
        (event,) = await reply(link, Transcribe().event())

    error = Error.from_event(event)
    assert error.code == ERROR_NO_GRAMMAR
    assert "sotto-grammar" in error.text


@pytest.mark.parametrize(
    "data",
    [
        {"digest": ""},
        {"digest": "abc", "jsgf": 7},
        {"digest": "abc", "jsgf": "#JSGF V1.0;", "words": "turn on"},
    ],
)
async def test_malformed_grammar_closes_the_link(
    start_engine: EngineFactory, key: LinkKey, data: dict
) -> None:
    async with start_engine(stt={"enabled": True}) as engine, client(engine, key) as link:
        (event,) = await reply(link, Event(type="sotto-grammar", data=data))
        with pytest.raises(ConnectionClosedError):
            async with asyncio.timeout(5):
                await link.read_event()

    assert Error.from_event(event).code == ERROR_BAD_MESSAGE


async def test_unusable_grammar_is_an_error(start_engine: EngineFactory, key: LinkKey) -> None:
    async with start_engine(stt={"enabled": True}) as engine, client(engine, key) as link:
        (event,) = await reply(
            link, GrammarMessage("x", "#JSGF V1.0;\ngrammar g;\n<a> = b;\n", ("b",)).event()
        )
        (still_open,) = await reply(link, GrammarMessage(GRAMMAR.digest).event())

    error = Error.from_event(event)
    assert error.code == "grammar-failed"
    assert "public rule" in error.text
    assert still_open.type == "sotto-grammar-missing"


async def test_describe_lists_speech_to_text(start_engine: EngineFactory, key: LinkKey) -> None:
    from wyoming.info import Describe, Info

    async with start_engine(stt={"enabled": True}) as engine, client(engine, key) as link:
        (event,) = await reply(link, Describe().event())

    info = Info.from_event(event)
    (program,) = info.asr
    assert program.models[0].languages == ["en"]
    assert info.tts
