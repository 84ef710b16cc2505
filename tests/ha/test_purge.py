"""A purge reaches every copy: the history, HA's recorder, pipeline debug runs, the TTS
cache, debug recordings, and the satellite's own buffers."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import tts
from homeassistant.components.assist_pipeline import (
    PipelineEvent,
    PipelineEventType,
    async_get_pipeline,
    async_update_pipeline,
)
from homeassistant.components.assist_pipeline.pipeline import (
    KEY_ASSIST_PIPELINE,
    PipelineInput,
    PipelineRun,
    PipelineStage,
)
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.util import session_scope
from homeassistant.components.tts.const import DATA_TTS_MANAGER
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import chat_session
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from sqlalchemy import text

from custom_components.sotto.const import DOMAIN
from custom_components.sotto.history.lifecycle import RETENTION_INTERVAL
from demo.home import sotto_device
from demo.processes import run_satellite

from .test_history import async_setup_home, files_bytes, interaction
from .test_satellite import pair


@pytest.fixture(autouse=True)
async def _home_assistant_core(
    recorder_mock: Recorder, hass: HomeAssistant, enable_custom_integrations: None
) -> None:
    """The recorder starts before custom integrations are enabled, as the plugin requires."""
    assert await async_setup_component(hass, "homeassistant", {})


async def run_text_pipeline(hass: HomeAssistant, sentence: str) -> tuple[str, str]:
    """Run HA's own pipeline from text to speech; returns the reply text and TTS token."""
    events: list[PipelineEvent] = []
    run = PipelineRun(
        hass,
        context=Context(),
        pipeline=async_get_pipeline(hass),
        start_stage=PipelineStage.INTENT,
        end_stage=PipelineStage.TTS,
        event_callback=events.append,
    )
    with chat_session.async_get_chat_session(hass) as session:
        pipeline_input = PipelineInput(run=run, session=session, intent_input=sentence)
        await pipeline_input.validate()
        await pipeline_input.execute()
    intent_end = next(e for e in events if e.type is PipelineEventType.INTENT_END)
    tts_end = next(e for e in events if e.type is PipelineEventType.TTS_END)
    assert intent_end.data
    assert tts_end.data
    reply: str = intent_end.data["intent_output"]["response"]["speech"]["plain"]["speech"]
    token: str = tts_end.data["tts_output"]["token"]
    stream = tts.async_get_stream(hass, token)
    assert stream is not None
    audio = b"".join([chunk async for chunk in stream.async_stream_result()])
    assert audio
    await hass.async_block_till_done()  # the TTS cache file is written in the background
    return reply, token


def _sotto_rows_before(hass: HomeAssistant, moment: float) -> int:
    """Recorder rows of Sotto's entities last updated before `moment`."""
    with session_scope(hass=hass, read_only=True) as session:
        count = session.execute(
            text(
                "SELECT COUNT(*) FROM states JOIN states_meta "
                "ON states.metadata_id = states_meta.metadata_id "
                "WHERE states_meta.entity_id LIKE '%sotto%' AND states.last_updated_ts < :t"
            ),
            {"t": moment},
        ).scalar()
    return int(count or 0)


def _debug_runs_mentioning(hass: HomeAssistant, word: str) -> int:
    return sum(
        word in repr([event.data for event in run.events])
        for runs in hass.data[KEY_ASSIST_PIPELINE].pipeline_debug.values()
        for run in runs.values()
    )


async def test_purge_all_reaches_every_store(hass: HomeAssistant, tmp_path: Path) -> None:
    """History rows, recorder rows, debug runs, cached replies and recordings all go."""
    hass.config.config_dir = str(tmp_path)
    # TTS first: the pipeline's own setup would load it without the demo engine.
    assert await async_setup_component(hass, "tts", {"tts": {"platform": "demo"}})
    await hass.async_block_till_done()
    assert await async_setup_component(
        hass,
        "assist_pipeline",
        {"assist_pipeline": {"debug_recording_dir": str(tmp_path / "debug")}},
    )
    assert await async_setup_component(hass, "conversation", {})
    _home, store = await async_setup_home(hass, tmp_path)
    await async_update_pipeline(
        hass, async_get_pipeline(hass), tts_engine="demo", tts_language="en"
    )

    sentence = "turn on the quokka light"
    reply, _token = await run_text_pipeline(hass, sentence)
    await store.async_add(interaction(sentence, response=reply))
    # HA writes the reply into its TTS cache in a background task of its own.
    await hass.async_block_till_done(wait_background_tasks=True)
    manager = hass.data[DATA_TTS_MANAGER]
    reply_hash = hashlib.sha1(reply.encode()).hexdigest()
    assert any(key.startswith(reply_hash) for key in manager.file_cache)
    assert any(p.name.startswith(reply_hash) for p in (tmp_path / "tts").iterdir())
    assert _debug_runs_mentioning(hass, "quokka") == 1
    # HA's pipeline writes debug WAVs per device under debug_recording_dir/<device id>/.
    home_device = sotto_device(hass, "home")
    assert home_device is not None
    recording = tmp_path / "debug" / home_device.id / "Home Assistant" / "1" / "stt.wav"
    recording.parent.mkdir(parents=True)
    recording.write_bytes(b"RIFF")

    await async_wait_recording_done(hass)
    moment = dt_util.utcnow().timestamp()
    assert _sotto_rows_before(hass, moment) > 0

    result: dict[str, Any] = await hass.services.async_call(
        DOMAIN, "purge_history", {}, blocking=True, return_response=True
    )
    await async_wait_recording_done(hass)

    assert result["history"] == {"interactions": 1, "recordings": 0}
    assert result["pipeline_debug"] == {"runs": 1}
    assert result["chat_logs"] == {"conversations": 1}
    assert result["tts_cache"]["entries"] >= 1
    assert result["debug_recordings"] == {"directories": 1}
    assert result["recorder"]["entities"] >= 5
    assert result["satellites"] == {}
    assert await store.async_list() == []
    assert b"quokka" not in files_bytes(store.directory)
    assert _debug_runs_mentioning(hass, "quokka") == 0
    assert not any(key.startswith(reply_hash) for key in manager.mem_cache)
    assert not any(key.startswith(reply_hash) for key in manager.file_cache)
    assert not any(p.name.startswith(reply_hash) for p in (tmp_path / "tts").iterdir())
    assert not recording.exists()
    assert _sotto_rows_before(hass, moment) == 0


async def test_purge_one_interaction_leaves_the_rest(hass: HomeAssistant, tmp_path: Path) -> None:
    """A narrow purge removes exactly what was asked for, by ID or by age or satellite."""
    _home, store = await async_setup_home(hass, tmp_path)
    now = dt_util.utcnow()
    await store.async_add(interaction("old one", started_at=now.replace(year=now.year - 1)))
    await store.async_add(interaction("bedroom one", satellite_id="bedroom"))
    await store.async_add(interaction("kitchen one"))
    rows = {row.transcript: row.id for row in await store.async_list()}

    result = await hass.services.async_call(
        DOMAIN,
        "purge_history",
        {"interaction_id": rows["kitchen one"]},
        blocking=True,
        return_response=True,
    )
    assert result["history"] == {"interactions": 1, "recordings": 0}
    await hass.services.async_call(
        DOMAIN, "purge_history", {"older_than": now.isoformat()}, blocking=True
    )
    assert [row.transcript for row in await store.async_list()] == ["bedroom one"]
    await hass.services.async_call(DOMAIN, "purge_history", {"satellite": "bedroom"}, blocking=True)
    assert await store.async_list() == []


@pytest.mark.usefixtures("socket_enabled")
async def test_purge_buttons_clear_the_satellite_too(hass: HomeAssistant, tmp_path: Path) -> None:
    """The satellite's button purges its interactions and the satellite confirms its own."""
    _home, store = await async_setup_home(hass, tmp_path / "config")
    async with run_satellite(tmp_path / "kitchen") as satellite:
        entry = await pair(hass, satellite)
        await store.async_add(interaction("kitchen command", satellite_id=satellite.device_id))
        await store.async_add(interaction("bedroom command", satellite_id="bedroom"))

        result = await hass.services.async_call(
            DOMAIN,
            "purge_history",
            {"satellite": satellite.device_id},
            blocking=True,
            return_response=True,
        )
        assert result["satellites"] == {
            "Kitchen satellite": ["ledger", "wake_word_audio", "vad_audio"]
        }
        assert [row.transcript for row in await store.async_list()] == ["bedroom command"]

        await store.async_add(interaction("kitchen again", satellite_id=satellite.device_id))
        await hass.services.async_call(
            "button",
            "press",
            {"entity_id": "button.kitchen_satellite_purge_voice_history"},
            blocking=True,
        )
        assert [row.transcript for row in await store.async_list()] == ["bedroom command"]

        await hass.services.async_call(
            "button", "press", {"entity_id": "button.sotto_purge_voice_history"}, blocking=True
        )
        assert await store.async_list() == []
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_retention_also_clears_ha_copies(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory
) -> None:
    """When a row ages out, its reply leaves the TTS cache and its debug run goes too, and
    the history says it is smaller only once they have gone (the scheduled run is one of
    HA's background tasks, which the test waits for)."""
    hass.config.config_dir = str(tmp_path)
    assert await async_setup_component(hass, "tts", {"tts": {"platform": "demo"}})
    await hass.async_block_till_done()
    assert await async_setup_component(hass, "conversation", {})
    _home, store = await async_setup_home(hass, tmp_path, {"transcript_days": 1})
    await async_update_pipeline(
        hass, async_get_pipeline(hass), tts_engine="demo", tts_language="en"
    )
    sentence = "what time is it in wombat town"
    reply, _token = await run_text_pipeline(hass, sentence)
    await store.async_add(interaction(sentence, response=reply))
    reply_hash = hashlib.sha1(reply.encode()).hexdigest()
    assert any(p.name.startswith(reply_hash) for p in (tmp_path / "tts").iterdir())
    assert _debug_runs_mentioning(hass, "wombat") == 1

    manager = hass.data[DATA_TTS_MANAGER]
    announced: list[tuple[int, int, bool]] = []

    def on_change() -> None:  # what the sensors would show, and what HA still holds then
        cached = any(k.startswith(reply_hash) for k in [*manager.mem_cache, *manager.file_cache])
        announced.append((store.stats.items, _debug_runs_mentioning(hass, "wombat"), cached))

    unsubscribe = store.subscribe(on_change)
    freezer.tick(timedelta(days=1) + RETENTION_INTERVAL)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    unsubscribe()

    assert announced  # each time the history said it changed, HA's copies were gone
    assert set(announced) == {(0, 0, False)}
    assert await store.async_list() == []
    assert _debug_runs_mentioning(hass, "wombat") == 0
    assert not any(p.name.startswith(reply_hash) for p in (tmp_path / "tts").iterdir())
