"""The voice history: what is kept, for how long, and how it is reviewed and exported."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.sotto.const import DOMAIN, HOME_UNIQUE_ID
from custom_components.sotto.history.crypto import open_sealed
from custom_components.sotto.history.errors import HistoryError
from custom_components.sotto.history.lifecycle import RETENTION_INTERVAL
from custom_components.sotto.history.model import Interaction, Outcome, Trigger
from custom_components.sotto.history.settings import Retention
from custom_components.sotto.history.store import AUDIO_SUFFIX, HistoryStore


async def async_setup_home(
    hass: HomeAssistant, config_dir: Path, options: dict[str, Any] | None = None
) -> tuple[MockConfigEntry, HistoryStore]:
    """Load the home entry with its history in `config_dir`."""
    config_dir.mkdir(parents=True, exist_ok=True)
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


AUDIO = bytes(range(256)) * 200  # 0.8 s of "speech" that is easy to find in a file
KEEP_AUDIO = {"transcript_days": 7, "keep_audio": True, "audio_days": 1}


async def _pass_time(hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta) -> None:
    """Let time pass the way a running HA sees it: the schedule fires on its own."""
    freezer.tick(delta)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    freezer.tick(RETENTION_INTERVAL)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def test_default_install_keeps_no_audio_and_no_transcript_after_a_week(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory
) -> None:
    """Out of the box: no audio at all, and transcripts only for the default 7 days."""
    _home, store = await async_setup_home(hass, tmp_path)
    assert not store.keeps_audio
    await store.async_add(interaction("turn on the porcupine light", audio=AUDIO))

    [row] = await store.async_list()
    assert row.transcript == "turn on the porcupine light"
    assert not row.audio_kept
    assert not list(store.audio_dir.iterdir())
    assert AUDIO[:4096] not in files_bytes(tmp_path)

    await _pass_time(hass, freezer, timedelta(days=6))
    assert len(await store.async_list()) == 1

    await _pass_time(hass, freezer, timedelta(days=1))
    assert await store.async_list() == []
    assert b"porcupine" not in files_bytes(store.directory)


async def test_retention_removes_rows_and_audio_without_a_button(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory
) -> None:
    """Audio goes after its own window, the row after the transcript window."""
    _home, store = await async_setup_home(hass, tmp_path, KEEP_AUDIO)
    assert store.keeps_audio
    await store.async_add(interaction("open the walrus blinds", audio=AUDIO))
    [row] = await store.async_list()
    assert row.audio_kept
    assert await store.async_audio(row.id) == AUDIO
    assert len(list(store.audio_dir.iterdir())) == 1

    await _pass_time(hass, freezer, timedelta(days=1))
    [row] = await store.async_list()
    assert not row.audio_kept
    assert not list(store.audio_dir.iterdir())
    assert row.transcript == "open the walrus blinds"

    await _pass_time(hass, freezer, timedelta(days=6))
    assert await store.async_list() == []
    assert b"walrus" not in files_bytes(store.directory)


async def test_old_rows_are_dropped_at_startup(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory
) -> None:
    """A history left behind while HA was off is pruned when the home entry loads."""
    home, store = await async_setup_home(hass, tmp_path, {"transcript_days": 1})
    await store.async_add(interaction("dim the narwhal lamp"))
    assert await hass.config_entries.async_unload(home.entry_id)
    freezer.tick(timedelta(days=2))
    assert await hass.config_entries.async_setup(home.entry_id)
    await hass.async_block_till_done()
    store = home.runtime_data.history
    assert await store.async_list() == []


async def test_none_keeps_nothing_but_counts(hass: HomeAssistant, tmp_path: Path) -> None:
    """With transcripts kept for "none" no row is written; today's figures still count."""
    _home, store = await async_setup_home(hass, tmp_path, {"transcript_days": 0})
    await store.async_add(interaction("lock the pelican door", audio=AUDIO))
    assert await store.async_list() == []
    assert b"pelican" not in files_bytes(store.directory)
    assert hass.states.get("sensor.sotto_interactions_today").state == "1"
    assert hass.states.get("sensor.sotto_items_in_history").state == "0"


async def test_crypto_erase_leaves_recovered_bytes_unreadable(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """After a purge the key is gone from the keystore file, so a copy of the audio is noise."""
    _home, store = await async_setup_home(hass, tmp_path, KEEP_AUDIO)
    await store.async_add(interaction("play the albatross song", audio=AUDIO))
    [row] = await store.async_list()
    [sealed_path] = store.audio_dir.iterdir()
    recording_id = sealed_path.name.removesuffix(AUDIO_SUFFIX)
    recovered = sealed_path.read_bytes()
    with sqlite3.connect(store.keystore_path) as keys:
        [(key,)] = keys.execute("SELECT key FROM keys").fetchall()
    # The file is sealed: the audio is not in it, and it opens only with its key.
    assert AUDIO[:64] not in recovered
    assert open_sealed(key, recovered, recording_id=recording_id) == AUDIO

    await hass.services.async_call(
        DOMAIN, "purge_history", {"interaction_id": row.id}, blocking=True
    )
    assert not sealed_path.exists()
    keystore = files_bytes(store.keystore_path.parent)
    assert key not in keystore  # secure_delete overwrote it; the WAL was truncated
    with sqlite3.connect(store.keystore_path) as keys:
        assert keys.execute("SELECT COUNT(*) FROM keys").fetchone() == (0,)
    with pytest.raises(HistoryError):
        open_sealed(bytes(32), recovered, recording_id=recording_id)


async def test_sensors_count_today_and_what_is_kept(hass: HomeAssistant, tmp_path: Path) -> None:
    """The home's sensors follow the history; "not for me" counts a false wake."""
    _home, store = await async_setup_home(hass, tmp_path)
    await store.async_add(interaction("turn on the heron light"))
    await store.async_add(interaction("turn off the heron light"))
    await hass.async_block_till_done()
    assert hass.states.get("sensor.sotto_interactions_today").state == "2"
    assert hass.states.get("sensor.sotto_items_in_history").state == "2"
    assert float(hass.states.get("sensor.sotto_audio_sent_today").state) == 5.0
    assert hass.states.get("sensor.sotto_oldest_item_in_history").state not in ("unknown", None)
    assert hass.states.get("sensor.sotto_false_wakes_today").state == "0"

    response = await hass.services.async_call(
        DOMAIN, "not_for_me", {}, blocking=True, return_response=True
    )
    assert response == {"forgotten": 1}
    await hass.async_block_till_done()
    assert [row.transcript for row in await store.async_list()] == ["turn on the heron light"]
    assert hass.states.get("sensor.sotto_false_wakes_today").state == "1"
    assert hass.states.get("sensor.sotto_items_in_history").state == "1"
    # Nothing private ever becomes a state or an attribute.
    for state in hass.states.async_all():
        assert "heron" not in str(state.state) + json.dumps(state.attributes, default=str)

    # The one before it is now the last: it goes too, if asked again.
    response = await hass.services.async_call(
        DOMAIN, "not_for_me", {}, blocking=True, return_response=True
    )
    assert response == {"forgotten": 1}
    response = await hass.services.async_call(
        DOMAIN, "not_for_me", {}, blocking=True, return_response=True
    )
    assert response == {"forgotten": 0}
    await hass.async_block_till_done()
    assert hass.states.get("sensor.sotto_false_wakes_today").state == "2"


def _today(hass: HomeAssistant) -> tuple[str, str, str]:
    return tuple(  # type: ignore[return-value]
        hass.states.get(f"sensor.sotto_{key}").state
        for key in ("interactions_today", "audio_sent_today", "false_wakes_today")
    )


async def test_a_purge_resets_the_days_counters_of_what_it_purged(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """The satellites clear their own ledgers on a purge of everything or of one of them;
    the home's figures for today go the same way, so both places show the same."""
    home, store = await async_setup_home(hass, tmp_path)
    await store.async_add(interaction("turn on the heron light"))
    await store.async_add(interaction("turn off the heron light"))
    await store.async_add(interaction("turn on the hall light", satellite_id="hall-satellite"))
    assert (await store.async_forget_last(satellite_id="hall-satellite")).interactions == 1
    await hass.async_block_till_done()
    assert _today(hass) == ("3", "7.5", "1")

    await hass.services.async_call(
        DOMAIN, "purge_history", {"interaction_id": 1}, blocking=True, return_response=True
    )
    await hass.async_block_till_done()
    assert _today(hass) == ("3", "7.5", "1"), "one item purged: today's figures stay"

    await hass.services.async_call(
        DOMAIN,
        "purge_history",
        {"satellite": "kitchen-satellite"},
        blocking=True,
        return_response=True,
    )
    await hass.async_block_till_done()
    assert _today(hass) == ("1", "2.5", "1"), "the hall's share is left"

    await hass.services.async_call(DOMAIN, "purge_history", {}, blocking=True, return_response=True)
    await hass.async_block_till_done()
    assert _today(hass) == ("0", "0.0", "0")
    assert hass.states.get("sensor.sotto_items_in_history").state == "0"
    await hass.config_entries.async_unload(home.entry_id)


async def test_counters_of_an_older_history_are_kept(hass: HomeAssistant, tmp_path: Path) -> None:
    """A history written before the counters were kept per satellite opens with its days."""
    directory = tmp_path / "sotto"
    directory.mkdir()
    with sqlite3.connect(directory / "history.db") as old:
        old.execute(
            "CREATE TABLE days (day TEXT PRIMARY KEY, interactions INTEGER NOT NULL DEFAULT 0, "
            "false_wakes INTEGER NOT NULL DEFAULT 0, audio_seconds REAL NOT NULL DEFAULT 0)"
        )
        today = dt_util.now().date().isoformat()
        old.execute("INSERT INTO days VALUES (?, 4, 1, 7.2)", (today,))
    old.close()
    home, _store = await async_setup_home(hass, tmp_path)
    assert _today(hass) == ("4", "7.2", "1")
    await hass.config_entries.async_unload(home.entry_id)


async def test_never_mind_sentence_forgets_the_last_command(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """Saying "never mind, that wasn't for you" deletes the last interaction."""
    _home, store = await async_setup_home(hass, tmp_path)
    await store.async_add(interaction("call the otter"))
    result = await hass.services.async_call(
        "conversation",
        "process",
        {"text": "never mind, that wasn't for you", "language": "en"},
        blocking=True,
        return_response=True,
    )
    assert result["response"]["speech"]["plain"]["speech"] == "OK, forgotten."
    assert await store.async_list() == []
    await hass.async_block_till_done()
    assert hass.states.get("sensor.sotto_false_wakes_today").state == "1"


async def test_options_flow_sets_retention(hass: HomeAssistant, tmp_path: Path) -> None:
    """The home entry's options change what the running history keeps."""
    home, store = await async_setup_home(hass, tmp_path)
    assert store.retention == Retention()

    flow = await hass.config_entries.options.async_init(home.entry_id)
    assert flow["type"] is FlowResultType.FORM
    bad = await hass.config_entries.options.async_configure(
        flow["flow_id"], {"transcript_days": "0", "keep_audio": True, "audio_days": 3}
    )
    assert bad["errors"] == {"keep_audio": "audio_needs_history"}
    done = await hass.config_entries.options.async_configure(
        bad["flow_id"], {"transcript_days": "30", "keep_audio": True, "audio_days": 3}
    )
    assert done["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert home.options == {
        "transcript_days": 30,
        "keep_audio": True,
        "audio_days": 3,
        "event_transcripts": False,  # off unless the user turns it on
        "arbitration_window_ms": 120,  # the default, kept as it was
    }
    assert store.retention == Retention(transcript_days=30, keep_audio=True, audio_days=3)
    assert store.keeps_audio


async def test_the_transcripts_in_events_option_says_who_can_read_them(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """The opt-in's text, as HA's options form shows it, says that every user can read them."""
    home, _store = await async_setup_home(hass, tmp_path)
    flow = await hass.config_entries.options.async_init(home.entry_id)
    assert "event_transcripts" in flow["data_schema"].schema
    strings = await async_get_translations(hass, "en", "options", [DOMAIN])
    key = f"component.{DOMAIN}.options.step.{flow['step_id']}.data_description.event_transcripts"
    assert "Every Home Assistant user who can see those entities can read it" in strings[key]
    hass.config_entries.options.async_abort(flow["flow_id"])


async def test_turning_audio_off_erases_kept_audio(hass: HomeAssistant, tmp_path: Path) -> None:
    """Withdrawing the opt-in removes the audio already kept, at once."""
    home, store = await async_setup_home(hass, tmp_path, KEEP_AUDIO)
    await store.async_add(interaction("feed the goldfish", audio=AUDIO))
    assert len(list(store.audio_dir.iterdir())) == 1
    hass.config_entries.async_update_entry(home, options={**KEEP_AUDIO, "keep_audio": False})
    await hass.async_block_till_done()
    assert not list(store.audio_dir.iterdir())
    [row] = await store.async_list()
    assert not row.audio_kept


def test_bad_retention_options_name_the_problem() -> None:
    """Options outside the offered choices are refused with the allowed values."""
    with pytest.raises(ValueError, match="transcript_days must be one of"):
        Retention.from_options({"transcript_days": 3})
    with pytest.raises(ValueError, match="audio_days must be 1 to 90"):
        Retention.from_options({"audio_days": 0})
