"""Reply audio for satellites: WAV streams from HA's TTS, and media URLs through ffmpeg."""

from __future__ import annotations

import io
import shutil
import struct
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from custom_components.sotto.audio import (
    AudioFormatError,
    pcm_from_url,
    pcm_from_wav_stream,
    rechunk,
)
from demo.speech import speak
from sotto_voice.audio import PcmFormat


def _wav(pcm: bytes, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()


async def _pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _collect(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


@pytest.mark.parametrize("piece", [7, 44, 4096])
async def test_wav_stream_in_any_pieces_gives_format_and_samples(piece: int) -> None:
    """However the TTS stream is cut, the header is read and every sample comes through."""
    pcm = bytes(range(256)) * 40
    fmt, samples = await pcm_from_wav_stream(_pieces(_wav(pcm, rate=22050), piece))
    assert fmt == PcmFormat(22050, 2, 1)
    assert await _collect(samples) == pcm


async def test_a_wav_with_extra_chunks_before_the_data_is_read() -> None:
    """LIST chunks (as ffmpeg writes) before `data` are skipped."""
    pcm = b"\x01\x02" * 100
    plain = _wav(pcm)
    extra = b"LIST" + struct.pack("<I", 5) + b"abcde\x00"  # odd size: padded
    with_list = plain[:36] + extra + plain[36:]
    _fmt, samples = await pcm_from_wav_stream(_pieces(with_list, 10))
    assert await _collect(samples) == pcm


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"ID3\x03 this is an mp3 file", "not a WAV stream"),
        (b"RIFF\x00\x00\x00\x00WAVE", "ended before its WAV header"),
        (b"RIFF\x00\x00\x00\x00WAVEdata\x00\x00\x00\x00", "data chunk before its fmt"),
        (
            b"RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00"
            + struct.pack("<HHIIHH", 3, 1, 16000, 64000, 4, 32),
            "not PCM",
        ),
    ],
)
async def test_reply_audio_that_is_not_pcm_wav_is_refused_clearly(
    data: bytes, message: str
) -> None:
    """Audio the satellite could not play gives an error that says why."""
    with pytest.raises(AudioFormatError, match=message):
        await pcm_from_wav_stream(_pieces(data, 16))


async def test_rechunk_cuts_evenly_and_keeps_the_tail() -> None:
    """The satellite gets fixed-size chunks; nothing is lost at the end."""
    chunks = [c async for c in rechunk(_pieces(bytes(5000), 333), size=2048)]
    assert [len(c) for c in chunks] == [2048, 2048, 904]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
async def test_media_url_is_decoded_to_16k_mono(tmp_path: Path) -> None:
    """An announcement's media (here a 22 kHz WAV file) arrives as 16 kHz mono PCM."""
    speech = speak("dinner is ready")
    source = tmp_path / "dinner.wav"
    source.write_bytes(_wav(speech[: len(speech) // 2 * 2], rate=22050))
    pcm = await _collect(pcm_from_url(shutil.which("ffmpeg") or "ffmpeg", source.as_uri()))
    seconds = len(speech) / 2 / 22050
    assert abs(len(pcm) / 32000 - seconds) < 0.05


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
async def test_a_media_url_ffmpeg_cannot_read_names_the_url(tmp_path: Path) -> None:
    """A broken announcement URL fails with ffmpeg's reason, and no process is left."""
    missing = (tmp_path / "nowhere.wav").as_uri()
    with pytest.raises(AudioFormatError, match="nowhere.wav"):
        await _collect(pcm_from_url(shutil.which("ffmpeg") or "ffmpeg", missing))
