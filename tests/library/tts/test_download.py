"""Downloading a voice by name, against a local stand-in for the piper voices repository."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from sotto_voice.engine.tts import (
    DownloadError,
    InvalidVoiceNameError,
    TextToSpeech,
    TtsSettings,
    VoiceNotFoundError,
    download_voice,
)

from .voice_server import Reply, serve_repository

VOICE = "en_US-tiny-x_low"
CONFIG = json.dumps(
    {"audio": {"sample_rate": 16000}, "phoneme_id_map": {"_": [0]}, "espeak": {"voice": "en-us"}}
).encode()
MODEL = bytes(range(256)) * 400  # 100 kB standing in for the ONNX model


async def test_download_by_name_lands_both_files(tmp_path: Path) -> None:
    voices_dir = tmp_path / "voices"
    async with serve_repository() as repository:
        repository.add_voice(VOICE, MODEL, CONFIG)
        installed = await download_voice(VOICE, voices_dir, base_url=repository.url)

    assert "/en/en_US/tiny/x_low/en_US-tiny-x_low.onnx" in repository.requests
    assert installed.name == VOICE
    assert installed.sample_rate == 16000
    assert (voices_dir / f"{VOICE}.onnx").read_bytes() == MODEL
    assert (voices_dir / f"{VOICE}.onnx.json").read_bytes() == CONFIG
    assert repository.voice_files(voices_dir) == [f"{VOICE}.onnx", f"{VOICE}.onnx.json"]


async def test_download_without_a_catalogue(tmp_path: Path) -> None:
    async with serve_repository() as repository:
        repository.add_voice(VOICE, MODEL, CONFIG, catalogue=False)
        await download_voice(VOICE, tmp_path, base_url=repository.url)

    assert (tmp_path / f"{VOICE}.onnx").read_bytes() == MODEL


async def test_missing_file_is_a_clear_http_error(tmp_path: Path) -> None:
    async with serve_repository() as repository:
        repository.add_voice(VOICE, MODEL, CONFIG, catalogue=False)
        del repository.replies["/en/en_US/tiny/x_low/en_US-tiny-x_low.onnx"]
        with pytest.raises(DownloadError, match=r"HTTP 404.*|en_US-tiny-x_low\.onnx.*404"):
            await download_voice(VOICE, tmp_path, base_url=repository.url)

    # The config had arrived, but nothing half-installed is left behind.
    assert repository.voice_files(tmp_path) == []


async def test_voice_not_in_catalogue(tmp_path: Path) -> None:
    async with serve_repository() as repository:
        repository.add_voice(VOICE, MODEL, CONFIG)
        with pytest.raises(VoiceNotFoundError, match="en_GB-alan-low"):
            await download_voice("en_GB-alan-low", tmp_path, base_url=repository.url)


async def test_truncated_download_leaves_no_file(tmp_path: Path) -> None:
    async with serve_repository() as repository:
        repository.add_voice(VOICE, MODEL, CONFIG, catalogue=False)
        path = "/en/en_US/tiny/x_low/en_US-tiny-x_low.onnx"
        repository.replies[path] = Reply(MODEL, truncate_to=len(MODEL) // 2)
        with pytest.raises(DownloadError, match="cut short"):
            await download_voice(VOICE, tmp_path, base_url=repository.url)

    assert repository.voice_files(tmp_path) == []


async def test_corrupt_download_fails_the_checksum(tmp_path: Path) -> None:
    async with serve_repository() as repository:
        repository.add_voice(VOICE, MODEL, CONFIG)
        path = "/en/en_US/tiny/x_low/en_US-tiny-x_low.onnx"
        corrupt = bytearray(MODEL)
        corrupt[1000] ^= 0xFF
        repository.replies[path] = Reply(bytes(corrupt))
        with pytest.raises(DownloadError, match="checksum"):
            await download_voice(VOICE, tmp_path, base_url=repository.url)

    assert repository.voice_files(tmp_path) == []


async def test_redownload_replaces_the_old_files(tmp_path: Path) -> None:
    (tmp_path / f"{VOICE}.onnx").write_bytes(b"old model")
    async with serve_repository() as repository:
        repository.add_voice(VOICE, MODEL, CONFIG)
        await download_voice(VOICE, tmp_path, base_url=repository.url)

    assert (tmp_path / f"{VOICE}.onnx").read_bytes() == MODEL


@pytest.mark.parametrize("name", ["../../etc/passwd", "lessac", "en_US-lessac", "en_US/x-y-z"])
async def test_malformed_voice_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidVoiceNameError, match="not a piper voice name"):
        await download_voice(name, tmp_path, base_url="http://127.0.0.1:9/")


async def test_unreachable_repository(tmp_path: Path) -> None:
    async with serve_repository() as repository:
        url = repository.url
    # The server is gone: the connection is refused.
    with pytest.raises(DownloadError, match="failed"):
        await download_voice(VOICE, tmp_path, base_url=url)


@pytest.mark.skipif(
    importlib.util.find_spec("onnx") is None or importlib.util.find_spec("piper") is None,
    reason="needs onnx and piper-tts",
)
async def test_downloaded_voice_speaks(tmp_path: Path) -> None:
    from .tiny_voice import build_tiny_voice

    model_path = build_tiny_voice(tmp_path / "built", VOICE)
    model = model_path.read_bytes()
    config = model_path.with_suffix(".onnx.json").read_bytes()
    voices_dir = tmp_path / "voices"
    async with serve_repository() as repository:
        repository.add_voice(VOICE, model, config)
        settings = TtsSettings(voices_dir=voices_dir, voices_url=repository.url)
        async with TextToSpeech(settings) as tts:
            assert tts.default_voice == "espeak-ng:en-us"
            await tts.download(VOICE)
            reply = await tts.synthesize("Now I have a voice.")

    assert reply.voice == VOICE
    assert reply.audio
