"""Shared helpers for the voice history tests: a home entry in a temporary config dir."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sotto.const import DOMAIN, HOME_UNIQUE_ID
from custom_components.sotto.history.model import Interaction, Outcome, Trigger
from custom_components.sotto.history.store import HistoryStore


async def async_setup_home(
    hass: HomeAssistant, config_dir: Path, options: dict[str, Any] | None = None
) -> tuple[MockConfigEntry, HistoryStore]:
    """Load the home entry with its history in `config_dir`."""
    hass.config.config_dir = str(config_dir)
    home = MockConfigEntry(
        domain=DOMAIN, unique_id=HOME_UNIQUE_ID, data={"kind": "home"}, options=options or {}
    )
    home.add_to_hass(hass)
    assert await hass.config_entries.async_setup(home.entry_id)
    await hass.async_block_till_done()
    store = home.runtime_data.history
    assert isinstance(store, HistoryStore)
    return home, store


def interaction(
    transcript: str,
    *,
    satellite_id: str = "kitchen-satellite",
    audio: bytes | None = None,
    started_at: datetime | None = None,
    response: str | None = "Turned on the light",
) -> Interaction:
    """A finished command, as the pipeline bridge hands it over."""
    return Interaction(
        started_at=started_at or dt_util.utcnow(),
        satellite_id=satellite_id,
        satellite_name="Kitchen satellite",
        trigger=Trigger.WAKE_WORD,
        area="Kitchen",
        wake_word="okay_nabu",
        transcript=transcript,
        intent_response="action_done",
        targets=["light.kitchen_light"],
        outcome=Outcome.HANDLED,
        response_text=response,
        audio_seconds=2.5,
        stt_ms=310.0,
        intent_ms=12.0,
        total_ms=900.0,
        audio=audio,
    )


def files_bytes(directory: Path) -> bytes:
    """Every byte of every file under `directory` (what a disk image would show)."""
    return b"".join(p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file())
