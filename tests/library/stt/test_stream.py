"""Decoding a live stream: a busy recogniser catches up, and the stream is read no further
than the command needs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from demo.speech import silence, speak, utterance
from sotto_voice.engine.stt.endpoint import EXTENDABLE_QUIET_SECONDS
from sotto_voice.engine.stt.model import Partial, Result
from sotto_voice.engine.stt.stream import READ_AHEAD_BYTES, recognise
from sotto_voice.engine.stt.worker import RecognizerProcess, WorkerSession

HA_CHUNK = 320  # 10 ms: what Home Assistant's pipeline hands speech-to-text


class BusySession:
    """A real recognition session in a child that is busy for 50 ms before each request,
    as when five satellites speak at once on a small machine."""

    def __init__(self, session: WorkerSession) -> None:
        self._session = session
        self.fed: list[int] = []

    async def feed(self, pcm: bytes) -> None:
        self.fed.append(len(pcm))
        await asyncio.sleep(0.05)
        await self._session.feed(pcm)

    async def partial(self) -> Partial:
        return await self._session.partial()

    async def settle(self, expected: str) -> Result | None:
        return await self._session.settle(expected)

    async def finish(self) -> Result:
        return await self._session.finish()


async def _real_time(audio: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(audio), HA_CHUNK):
        yield audio[start : start + HA_CHUNK]
        await asyncio.sleep(HA_CHUNK / 32000)


async def test_a_busy_recogniser_takes_what_arrived_meanwhile_in_one_request(
    worker: RecognizerProcess,
) -> None:
    speech = utterance(0.3, "turn on the island pendants", 0.6)
    async with asyncio.timeout(60), await worker.open() as session:
        busy = BusySession(session)
        result = await recognise(busy, _real_time(speech))

    assert result.text == "turn on the island pendants"
    chunks = len(speech) // HA_CHUNK
    # Chunk by chunk, each 10 ms of audio would wait 50 ms: the command would be heard
    # seconds late. Batched, the requests are a fraction of the chunks.
    assert len(busy.fed) < chunks / 3
    assert max(busy.fed) <= READ_AHEAD_BYTES + HA_CHUNK


async def test_the_stream_is_read_no_further_than_the_command(
    worker: RecognizerProcess,
) -> None:
    """Even audio that comes faster than real time is not read far past the command."""
    speech = utterance(0.3, "turn on the floor lamp")
    taken = 0

    async def then_silence() -> AsyncIterator[bytes]:
        nonlocal taken
        audio = speech + silence(3.0)
        for start in range(0, len(audio), HA_CHUNK):
            taken = start + HA_CHUNK
            yield audio[start : start + HA_CHUNK]

    async with asyncio.timeout(60), await worker.open() as session:
        result = await recognise(session, then_silence())

    assert result.text == "turn on the floor lamp"
    # Read no further than the quiet that ends an extendable sentence, and a read-ahead.
    assert taken < len(speech) + EXTENDABLE_QUIET_SECONDS * 32000 + READ_AHEAD_BYTES + HA_CHUNK


async def test_chatter_is_rejected_and_every_hypothesis_is_told(
    worker: RecognizerProcess,
) -> None:
    partials: list[str] = []

    async def heard(partial: Partial, _over: bool) -> None:
        partials.append(partial.text)

    chatter = utterance(0.3, "what time does the game start", 0.3)
    async with asyncio.timeout(60), await worker.open() as session:
        result = await recognise(session, _real_time(chatter), on_partial=heard)

    assert result.text is None
    # What the grammar forced the chatter into was told as it grew.
    assert result.hypothesis in partials


async def test_a_stream_that_breaks_raises_its_error(worker: RecognizerProcess) -> None:
    speech = utterance(0.3, "turn on the floor lamp")

    async def cut_off() -> AsyncIterator[bytes]:
        yield speech[:6400]
        raise ConnectionResetError("the satellite is gone")

    async with asyncio.timeout(60), await worker.open() as session:
        with pytest.raises(ConnectionResetError, match="satellite is gone"):
            await recognise(session, cut_off())
    # The recogniser is not left stuck: the next command is heard.
    async with asyncio.timeout(60), await worker.open() as session:
        result = await recognise(session, _real_time(utterance(0.3, "open the blinds", 0.6)))
    assert result.text == "open the blinds"


def _trimmed(text: str) -> bytes:
    """espeak-ng's speech without the silence it adds before and after."""
    audio = speak(text)
    samples = memoryview(audio).cast("h")
    loud = [i for i, value in enumerate(samples) if abs(value) > 300]
    return audio[loud[0] * 2 : (loud[-1] + 1) * 2]


@pytest.mark.parametrize("pause", [0.2, 0.35, 0.5])
@pytest.mark.parametrize(
    ("whole", "rest"),
    [
        ("never mind", "that wasn't for you"),
        ("turn on the lights", "in the kitchen"),
        ("set the island pendants to fifty", "percent"),
    ],
)
async def test_a_pause_inside_a_sentence_does_not_end_it(
    worker: RecognizerProcess, whole: str, rest: str, pause: float
) -> None:
    """A whole sentence that the grammar can extend, then a comma's pause, then the rest:
    the command is the whole of what was said, not the sentence before the pause."""
    speech = silence(0.3) + _trimmed(whole) + silence(pause) + _trimmed(rest) + silence(1.0)
    ended: list[str] = []

    async def heard(partial: Partial, over: bool) -> None:
        if over:
            ended.append(partial.text)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(speech), HA_CHUNK):
            yield speech[start : start + HA_CHUNK]

    async with asyncio.timeout(60), await worker.open() as session:
        result = await recognise(session, chunks(), on_partial=heard)
    assert result.text == f"{whole} {rest}"
    assert ended == [result.text]
