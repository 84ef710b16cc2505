"""Announcements on a real satellite: the pre-announce sound, as on HA's own satellites.

What a user hears is what the satellite's speaker played: its WAV sink keeps each clip.
"""

from __future__ import annotations

import shutil
import wave
from pathlib import Path
from typing import Any

import pytest
from homeassistant.components import assist_satellite
from homeassistant.components.assist_satellite import PREANNOUNCE_FILENAME
from homeassistant.core import HomeAssistant

from custom_components.sotto.audio import pcm_from_url
from demo.processes import SatelliteProcess, run_satellite
from demo.speech import speak, write_wav

from .test_satellite import pair

pytestmark = pytest.mark.usefixtures("socket_enabled")

SATELLITE = "assist_satellite.kitchen_satellite"
HA_CHIME = Path(assist_satellite.__file__).parent / PREANNOUNCE_FILENAME


async def _decoded(path: Path) -> bytes:
    """A media file as ffmpeg decodes it for a satellite (16 kHz mono PCM)."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg is not None, "ffmpeg is needed to decode announcements"
    return b"".join([chunk async for chunk in pcm_from_url(ffmpeg, str(path))])


def _pcm(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        return wav.readframes(wav.getnframes())


async def _announce(hass: HomeAssistant, satellite: SatelliteProcess, **data: Any) -> list[bytes]:
    """Announce, and return the audio of each clip the satellite played for it."""
    before = set(satellite.replies())
    await hass.services.async_call(
        "assist_satellite", "announce", {"entity_id": SATELLITE, **data}, blocking=True
    )
    return [_pcm(path) for path in satellite.replies() if path not in before]


async def test_the_pre_announce_sound_is_played_before_the_message(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """HA's chime by default, the caller's sound when given, nothing with preannounce off;
    the message follows whole each time."""
    message = speak("dinner is ready")
    clip = write_wav(tmp_path / "dinner.wav", message).as_uri()
    bell = write_wav(tmp_path / "bell.wav", speak("ding dong"))
    chime = await _decoded(HA_CHIME)
    assert len(chime) > 3200  # a real sound, not a few stray samples
    async with run_satellite(tmp_path / "satellite") as satellite:
        entry = await pair(hass, satellite)
        assert await _announce(hass, satellite, media_id=clip) == [chime, message]
        assert await _announce(
            hass, satellite, media_id=clip, preannounce_media_id=bell.as_uri()
        ) == [_pcm(bell), message]
        assert await _announce(hass, satellite, media_id=clip, preannounce=False) == [message]
        await hass.config_entries.async_unload(entry.entry_id)
