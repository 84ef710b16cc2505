"""Reply and announcement audio a satellite cannot play is refused clearly, and cleaned up."""

from __future__ import annotations

import asyncio
import shutil
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.sotto.audio import AudioFormatError, pcm_from_url, pcm_from_wav_stream
from demo.speech import silence, write_wav
from sotto_voice.link import LinkKey

from .peers import paired_entry, serve_peer

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed")


async def _pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_a_wav_whose_data_never_starts_is_refused_without_reading_it_all() -> None:
    """A stream with a huge chunk before `data` is refused once 64 KiB are read, not buffered."""
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
    junk = b"junk" + struct.pack("<I", 10_000_000) + bytes(10_000_000)
    read = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal read
        async for piece in _pieces(b"RIFF\0\0\0\0WAVE" + fmt + junk, 4096):
            read += len(piece)
            yield piece

    with pytest.raises(AudioFormatError, match="no WAV data chunk within the first 64 KiB"):
        await pcm_from_wav_stream(counted())
    assert read < 100_000


@needs_ffmpeg
async def test_leaving_a_media_url_early_stops_ffmpeg(tmp_path: Path) -> None:
    """An announcement cut short (cancelled, link gone) leaves no ffmpeg running."""
    clip = write_wav(tmp_path / "long.wav", silence(60.0))
    decoded = pcm_from_url(FFMPEG or "ffmpeg", clip.as_uri())
    first = await anext(decoded)
    assert first
    [ffmpeg] = [child for child in psutil.Process().children() if child.name() == "ffmpeg"]
    await decoded.aclose()
    assert not ffmpeg.is_running() or ffmpeg.status() == psutil.STATUS_ZOMBIE
    assert [child for child in psutil.Process().children() if child.name() == "ffmpeg"] == []


@needs_ffmpeg
@pytest.mark.usefixtures("socket_enabled")
async def test_an_announcement_that_cannot_play_says_why_in_the_ui(
    hass: HomeAssistant, tmp_path: Path, hass_ws_client: WebSocketGenerator
) -> None:
    """The announce action shows ffmpeg's reason and the URL, not "Unknown error"; the
    satellite is sent nothing (not an empty recording to play), and stays free."""
    key = LinkKey.generate()
    missing = (tmp_path / "nowhere.mp3").as_uri()
    async with serve_peer(key) as (peer, port):
        entry = paired_entry(port, key.to_base64())
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()

        client = await hass_ws_client(hass)
        await client.send_json_auto_id(
            {
                "type": "call_service",
                "domain": "assist_satellite",
                "service": "announce",
                "service_data": {
                    "entity_id": "assist_satellite.kitchen_satellite",
                    "media_id": missing,
                    "preannounce": False,
                },
            }
        )
        async with asyncio.timeout(30):
            reply = await client.receive_json()
        assert not reply["success"]
        assert reply["error"]["code"] == "home_assistant_error"
        message = reply["error"]["message"]
        assert message.startswith("Kitchen satellite could not play the announcement:")
        assert "nowhere.mp3" in message
        assert "audio-start" not in peer.received
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
