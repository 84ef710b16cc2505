"""Recognition in a child process: the same results, clear errors, and a child that dies."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import struct
from pathlib import Path

import pytest

from demo.speech import silence, utterance
from sotto_voice.engine.stt.endpoint import CommandEnd
from sotto_voice.engine.stt.errors import GrammarError, RecognizerError
from sotto_voice.engine.stt.model import Grammar
from sotto_voice.engine.stt.worker import RecognizerPool, RecognizerProcess, encode, serve

from .test_endpoint import Hyp

CHUNK = 3200  # 100 ms, as Home Assistant hands audio over


async def _say(worker: RecognizerProcess | RecognizerPool, audio: bytes) -> str | None:
    async with asyncio.timeout(60):
        async with await worker.open() as session:
            for start in range(0, len(audio), CHUNK):
                await session.feed(audio[start : start + CHUNK])
            return (await session.finish()).text


async def test_commands_are_recognised_and_chatter_rejected_in_the_child(
    worker: RecognizerProcess,
) -> None:
    assert worker.pid not in (None, os.getpid())
    pendants = await _say(worker, utterance(0.3, "turn on the island pendants", 0.3))
    assert pendants == "turn on the island pendants"
    assert await _say(worker, utterance(0.3, "what time does the game start", 0.3)) is None


async def test_feeding_brings_back_the_partial_that_completes_a_sentence(
    worker: RecognizerProcess,
) -> None:
    speech = utterance(0.3, "open the blinds")
    async with asyncio.timeout(60), await worker.open() as session:
        await session.feed(speech[: len(speech) // 3])
        assert not (await session.partial()).complete
        for start in range(len(speech) // 3, len(speech), CHUNK):
            await session.feed(speech[start : start + CHUNK])
        await session.feed(silence(0.4))
        late = await session.partial()
        assert (late.text, late.complete) == ("open the blinds", True)
        assert (await session.finish()).text == "open the blinds"
        with pytest.raises(RecognizerError, match="already finished"):
            await session.feed(silence(0.1))


async def test_a_partial_the_final_words_disagree_with_does_not_end_the_command(
    worker: RecognizerProcess,
) -> None:
    """Mid-sentence, a passing guess can look like a whole command (the bench saw
    "set the lights in the kitchen purple" while "forty percent" was being said). Before
    stopping, the recogniser's final words are compared with it: a guess they do not
    confirm is dropped, decoding goes on with nothing lost, and the real command ends it."""
    speech = utterance(0.3, "turn off the floor lamp", 0.5)
    guess = Hyp("turn off the kitchen lights", complete=True, can_continue=False)
    end = CommandEnd()
    async with asyncio.timeout(60), await worker.open() as session:
        half = len(speech) // 2
        await session.feed(speech[:half])
        end.hear(speech[:half])
        assert await end.settled(session, guess) is None
        assert not end.over(guess)  # never trusted again
        result = None
        for start in range(half, len(speech), CHUNK):
            chunk = speech[start : start + CHUNK]
            await session.feed(chunk)
            end.hear(chunk)
            result = await end.settled(session, await session.partial())
            if result is not None:
                break
        assert result is not None
        assert result.text == "turn off the floor lamp"
        with pytest.raises(RecognizerError, match="already finished"):
            await session.feed(silence(0.1))


async def test_a_child_killed_mid_command_fails_that_command_and_the_next_one_works(
    worker: RecognizerProcess,
) -> None:
    first = worker.pid
    assert first is not None
    async with asyncio.timeout(60):
        session = await worker.open()
        await session.feed(silence(0.2))
        os.kill(first, signal.SIGKILL)
        with pytest.raises(RecognizerError, match="worker stopped.*exit status -9"):
            await session.feed(utterance("turn off the floor lamp"))
        await session.close()  # nothing to abandon any more: no error
        # A new child starts on the next command, with the grammar it had.
        assert await _say(worker, utterance(0.3, "turn off the floor lamp", 0.3)) == (
            "turn off the floor lamp"
        )
    assert worker.pid not in (None, first)


async def test_sessions_need_a_grammar_and_a_closed_recogniser_refuses_work() -> None:
    process = RecognizerProcess()
    with pytest.raises(RecognizerError, match="no grammar loaded"):
        await process.open()
    await process.close()
    with pytest.raises(RecognizerError, match="closed"):
        await process.start()


async def test_a_grammar_the_decoder_cannot_use_is_named(worker: RecognizerProcess) -> None:
    broken = Grammar(jsgf="#JSGF V1.0;\ngrammar home;\npublic <command> = (", words=("on",))
    async with asyncio.timeout(60):
        with pytest.raises(GrammarError):
            await worker.load(broken)
        # The child is still there and still knows the good grammar.
        assert await _say(worker, utterance(0.3, "open the blinds", 0.3)) == "open the blinds"


def _replies(data: bytes) -> list[dict[str, object]]:
    replies, stream = [], io.BytesIO(data)
    while header := stream.read(8):
        header_len, payload_len = struct.unpack(">II", header)
        replies.append(json.loads(stream.read(header_len)))
        stream.read(payload_len)
    return replies


def test_the_child_answers_a_bad_request_with_an_error_naming_it() -> None:
    requests = (
        encode({"id": 1, "op": "shout"})
        + encode({"id": 2, "op": "feed", "session": 7}, silence(0.1))
        + encode({"id": 3, "op": "open", "digest": "nope", "session": 1})
        + encode({"id": 4, "op": "load", "grammar": {"jsgf": "hello"}})
    )
    out = io.BytesIO()
    serve(io.BytesIO(requests), out)
    replies = {reply["id"]: reply for reply in _replies(out.getvalue())}
    assert replies[1]["message"] == "unknown worker operation 'shout'"
    assert replies[2]["message"] == "no open recognition session for 'feed'"
    assert replies[3] == {
        "id": 3,
        "error": "GrammarError",
        "message": "no grammar 'nope' is loaded",
    }
    assert replies[4]["error"] == "GrammarError"
    assert "no JSGF" in str(replies[4]["message"])


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (struct.pack(">II", 0, 0), "header of 0 bytes"),
        (struct.pack(">II", 10, 1 << 30), "payload of 1073741824 bytes"),
        (struct.pack(">II", 5, 0) + b"{oops", "not JSON"),
        (struct.pack(">II", 2, 0) + b"[]", "integer id"),
    ],
)
def test_the_child_refuses_a_malformed_message(data: bytes, problem: str) -> None:
    with pytest.raises(RecognizerError, match=problem):
        serve(io.BytesIO(data), io.BytesIO())


async def test_a_command_with_no_audio_at_all_gets_an_answer(grammar: Grammar) -> None:
    """A stream that ends before any audio (a satellite cut off at once) is not a command,
    even as a fresh decoder's first utterance; the child says so and keeps running."""
    process = RecognizerProcess()
    try:
        async with asyncio.timeout(60):
            await process.load(grammar)
            pid = process.pid
            async with await process.open() as session:
                result = await session.finish()
            assert result.text is None
            assert process.pid == pid
    finally:
        await process.close()


async def _first_partial_of_a_fresh_child(grammar: Grammar, cmn_file: Path) -> str:
    process = RecognizerProcess(cmn_file=cmn_file)
    try:
        async with asyncio.timeout(60):
            await process.load(grammar)
            async with await process.open() as session:
                await session.feed(utterance(0.3, "open the blinds", 0.4))
                heard = (await session.partial()).text
                assert (await session.finish()).text == "open the blinds"
        return heard
    finally:
        await process.close()


async def test_what_the_recogniser_learned_survives_a_restart(
    grammar: Grammar, tmp_path: Path
) -> None:
    """The cepstral mean (13 numbers, no audio) is kept in the file given, so after a
    restart the first command's live hypothesis is already right; a damaged file is
    ignored."""
    cmn_file = tmp_path / "stt.cmn"
    await _first_partial_of_a_fresh_child(grammar, cmn_file)
    kept = cmn_file.read_text(encoding="utf-8").split(",")
    assert len(kept) == 13
    assert await _first_partial_of_a_fresh_child(grammar, cmn_file) == "open the blinds"
    cmn_file.write_text("not numbers at all", encoding="utf-8")
    await _first_partial_of_a_fresh_child(grammar, cmn_file)  # cold, but it works
    assert len(cmn_file.read_text(encoding="utf-8").split(",")) == 13


async def test_the_last_eight_grammars_are_kept_on_both_sides() -> None:
    """A ninth grammar drops the least recently used one, here and in the child alike."""
    words = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    small = [
        Grammar(
            jsgf=f"#JSGF V1.0;\ngrammar g;\npublic <c> = turn on light {w};",
            words=("turn", "on", "light", w),
        )
        for w in words
    ]
    process = RecognizerProcess()
    try:
        async with asyncio.timeout(120):
            for each in small[:8]:
                await process.load(each)
            await process.load(small[0])  # used again: now the most recent
            await process.load(small[8])
            assert not process.has_grammar(small[1].digest)
            assert process.has_grammar(small[0].digest)
            with pytest.raises(RecognizerError, match="no grammar loaded"):
                await process.open(small[1].digest)
            async with await process.open(small[0].digest) as session:
                await session.feed(utterance(0.3, "turn on light one", 0.4))
                assert (await session.finish()).text == "turn on light one"
    finally:
        await process.close()


async def test_a_grammar_kept_but_not_current_serves_only_sessions_that_name_it() -> None:
    """A question's grammar (the home's plus its answers) is compiled alongside the home's:
    the satellite that asked names it; every other command still gets the home's."""
    home = Grammar(
        jsgf="#JSGF V1.0;\ngrammar g;\npublic <c> = turn on the light;",
        words=("turn", "on", "the", "light"),
    )
    question = Grammar(
        jsgf="#JSGF V1.0;\ngrammar g;\npublic <c> = turn on the light | yes | no;",
        words=("turn", "on", "the", "light", "yes", "no"),
    )
    process = RecognizerProcess()
    try:
        async with asyncio.timeout(60):
            await process.load(home)
            assert await process.load(question, current=False) == question.digest
            assert process.digest == home.digest
            async with await process.open(question.digest) as session:
                await session.feed(utterance(0.3, "yes", 0.4))
                assert (await session.finish()).text == "yes"
            async with await process.open() as session:
                await session.feed(utterance(0.3, "yes", 0.4))
                assert (await session.finish()).text != "yes"
    finally:
        await process.close()


async def test_overlapping_commands_get_a_second_process_that_stops_when_unused(
    grammar: Grammar,
) -> None:
    """One command at a time keeps one child. A command that starts while another is
    being decoded starts a second child with the same grammar, which the next overlapping
    command uses; both are heard, and the extra child stops after its idle time."""
    pool = RecognizerPool(size=2, idle_seconds=1.0)
    lamp = utterance(0.3, "turn on the floor lamp", 0.4)
    pendants = utterance(0.3, "turn off the island pendants", 0.4)
    try:
        async with asyncio.timeout(120):
            await pool.load(grammar)
            assert await _say(pool, lamp) == "turn on the floor lamp"
            assert len(pool.pids) == 1
            async with await pool.open() as first:
                await first.feed(lamp)
                async with await pool.open() as second:  # overlaps: a child is started
                    await second.feed(pendants)
                    assert (await second.finish()).text == "turn off the island pendants"
                while len(pool.pids) < 2:
                    await asyncio.sleep(0.05)
                extra = next(pid for pid in pool.pids if pid != pool.pid)
                async with await pool.open() as third:  # goes to the idle second child
                    assert third.pid == extra
                    await third.feed(pendants)
                    assert (await third.finish()).text == "turn off the island pendants"
                assert (await first.finish()).text == "turn on the floor lamp"
            while extra in pool.pids:
                await asyncio.sleep(0.1)
            assert pool.pids == [pool.pid]
            while _running(extra):  # it is being stopped and reaped
                await asyncio.sleep(0.1)
    finally:
        await pool.close()
    assert pool.pids == []


async def test_a_pool_kept_warm_has_every_process_from_the_start_and_keeps_them(
    grammar: Grammar,
) -> None:
    """As the engine keeps Whisper's: every child is loaded before the first command, so
    two commands at once are decoded in two processes at once, and an unused child stays."""
    pool = RecognizerPool(size=2, idle_seconds=0.2, keep_warm=True)
    lamp = utterance(0.3, "turn on the floor lamp", 0.4)
    pendants = utterance(0.3, "turn off the island pendants", 0.4)
    try:
        async with asyncio.timeout(120):
            await pool.start()
            assert len(pool.pids) == 2
            await pool.load(grammar)
            async with await pool.open() as first, await pool.open() as second:
                assert first.pid != second.pid
                await first.feed(lamp)
                await second.feed(pendants)
                assert (await second.finish()).text == "turn off the island pendants"
                assert (await first.finish()).text == "turn on the floor lamp"
            await asyncio.sleep(1.0)  # five times the idle time after which a child stops
            assert len(pool.pids) == 2
    finally:
        await pool.close()
    assert pool.pids == []


async def test_a_pool_needs_a_process() -> None:
    with pytest.raises(ValueError, match="at least one process"):
        RecognizerPool(size=0)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
