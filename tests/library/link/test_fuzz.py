"""Fuzzing the frame and event decoders: any bytes end in events or one ProtocolError.

These run in CI in seconds; bench/fuzz_link.py runs the same properties for much longer.
The decoders are fed through a real asyncio.StreamReader (no socket is needed to fuzz a
parser), in random chunkings.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st
from noise.connection import NoiseConnection
from wyoming.event import Event

from sotto_voice.link import LinkKey, LinkSettings, ProtocolError
from sotto_voice.link.codec import StreamSource, encode_event, read_event
from sotto_voice.link.frames import FrameReader, NoiseSource

from .peers import DATA, frame, noise

#: Small limits, so fuzzing reaches every limit quickly.
SMALL = LinkSettings(
    max_header_line=256,
    max_data_length=512,
    max_payload_length=1024,
    max_json_depth=8,
    read_stall_timeout=5,
    event_deadline=10,
)
#: Default limits, for properties about valid streams.
LARGE = LinkSettings()
#: Bytes a decoder may hold: its largest unit plus one socket read.
BOUND = max(SMALL.max_header_line, SMALL.max_data_length, SMALL.max_payload_length) + 65536 * 2

T = TypeVar("T")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
events = st.builds(
    Event,
    type=st.sampled_from(["audio-chunk", "audio-start", "transcript", "x"]),
    data=st.dictionaries(st.text(max_size=6), json_values, max_size=4),
    payload=st.none() | st.binary(max_size=200),
)


def _run(coro_fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(coro_fn())


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


async def _decode(
    source: Any, limits: LinkSettings = SMALL
) -> tuple[list[Event], type[ProtocolError] | None]:
    decoded: list[Event] = []
    error: ProtocolError | None = None
    try:
        while True:
            result = await read_event(source, limits)
            assert source.buffered <= BOUND
            if result is None:
                return decoded, None
            decoded.append(result[0])
    except ProtocolError as err:
        error = err
    assert source.buffered <= BOUND
    assert str(error)  # every error says what went wrong
    return decoded, type(error)


def decode_plain(
    chunks: list[bytes], limits: LinkSettings = SMALL
) -> tuple[list[Event], type[ProtocolError] | None]:
    """Decode Wyoming bytes (in these chunks) with the legacy path's bounded reader."""

    async def go() -> tuple[list[Event], type[ProtocolError] | None]:
        reader = asyncio.StreamReader()
        for chunk in chunks:
            reader.feed_data(chunk)
        reader.feed_eof()
        return await _decode(StreamSource(reader, limits), limits)

    return _run(go)


def _cipher_pair() -> tuple[NoiseConnection, NoiseConnection]:
    key = LinkKey.generate()
    client, server = noise(key, initiator=True), noise(key, initiator=False)
    server.read_message(client.write_message(b""))
    client.read_message(server.write_message(b""))
    return client, server


def decode_frames(wire: bytes, chunks: list[int]) -> tuple[list[Event], type[ProtocolError] | None]:
    """Decode raw link bytes with the frame reader and the decrypting source."""
    _, receiver = _cipher_pair()

    async def go() -> tuple[list[Event], type[ProtocolError] | None]:
        reader = asyncio.StreamReader()
        for chunk in _split(wire, chunks):
            reader.feed_data(chunk)
        reader.feed_eof()
        source = NoiseSource(
            FrameReader(reader, SMALL), receiver, SMALL, send_control=lambda k: None
        )
        return await _decode(source)

    return _run(go)


def check_plain(data: bytes, cuts: list[int]) -> None:
    """Property: any bytes decode to events or one ProtocolError, whatever the chunking."""
    whole = decode_plain([data])
    assert decode_plain(_split(data, cuts)) == whole


def check_valid_stream(batch: list[Event], cuts: list[int]) -> None:
    """Property: valid encodings decode to exactly the events sent, in any chunking."""
    wire = b"".join(encode_event(event, LARGE) for event in batch)
    assert decode_plain(_split(wire, cuts), LARGE) == (batch, None)


def check_mutated(batch: list[Event], flips: list[tuple[int, int]], cut: int) -> None:
    """Property: corrupted and truncated encodings never escape as other exceptions."""
    wire = bytearray(b"".join(encode_event(event, LARGE) for event in batch))
    for position, value in flips:
        if wire:
            wire[position % len(wire)] = value
    truncated = bytes(wire[: cut % (len(wire) + 1)])
    decoded, _ = decode_plain([truncated])
    assert len(decoded) <= len(batch)


def check_frames(batch: list[Event], garbage: bytes, cuts: list[int], where: int) -> None:
    """Property: frames with garbage spliced in decode to a prefix of the events or an error."""
    pair_sender, pair_receiver = _cipher_pair()
    wire = b"".join(
        frame(pair_sender.encrypt(bytes((DATA,)) + encode_event(event, LARGE))) for event in batch
    )
    spot = where % (len(wire) + 1)
    spliced = wire[:spot] + garbage + wire[spot:]

    async def go() -> tuple[list[Event], type[ProtocolError] | None]:
        reader = asyncio.StreamReader()
        for chunk in _split(spliced, cuts):
            reader.feed_data(chunk)
        reader.feed_eof()
        source = NoiseSource(
            FrameReader(reader, LARGE), pair_receiver, LARGE, send_control=lambda k: None
        )
        return await _decode(source, LARGE)

    decoded, error = _run(go)
    if garbage:
        assert decoded == batch[: len(decoded)]
        assert error is not None or decoded == batch
    else:
        assert (decoded, error) == (batch, None)


cuts = st.lists(st.integers(0, 10_000), max_size=6)
FAST_FUZZ = settings(max_examples=75, deadline=None)


@FAST_FUZZ
@given(data=st.binary(max_size=2000), cuts=cuts)
def test_fuzz_arbitrary_bytes(data: bytes, cuts: list[int]) -> None:
    check_plain(data, cuts)


@FAST_FUZZ
@given(
    data=st.lists(
        st.sampled_from(
            [
                *(b"{", b"}", b"[", b"]", b'"', b"\\", b"\n", b":", b",", b"1", b"-", b"e"),
                *(b'"type"', b'"data_length"', b'"payload_length"', b'"data"', b"null", b"1.5"),
            ]
        ),
        max_size=300,
    ).map(b"".join),
    cuts=cuts,
)
def test_fuzz_json_shaped_bytes(data: bytes, cuts: list[int]) -> None:
    check_plain(data, cuts)


@FAST_FUZZ
@given(batch=st.lists(events, max_size=5), cuts=cuts)
def test_fuzz_valid_streams_decode_exactly(batch: list[Event], cuts: list[int]) -> None:
    check_valid_stream(batch, cuts)


@FAST_FUZZ
@given(
    batch=st.lists(events, min_size=1, max_size=4),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
    cut=st.integers(0, 10_000),
)
def test_fuzz_mutated_streams(batch: list[Event], flips: list[tuple[int, int]], cut: int) -> None:
    check_mutated(batch, flips, cut)


@FAST_FUZZ
@given(
    batch=st.lists(events, max_size=4),
    garbage=st.binary(max_size=40),
    cuts=cuts,
    where=st.integers(0, 10_000),
)
def test_fuzz_frames(batch: list[Event], garbage: bytes, cuts: list[int], where: int) -> None:
    check_frames(batch, garbage, cuts, where)


@FAST_FUZZ
@given(wire=st.binary(max_size=600), cuts=cuts)
def test_fuzz_arbitrary_frame_bytes(wire: bytes, cuts: list[int]) -> None:
    decoded, _ = decode_frames(wire, cuts)
    assert decoded == []  # nothing unauthenticated ever becomes an event
