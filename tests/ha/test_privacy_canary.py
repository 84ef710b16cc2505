"""The canary: a spoken command with a unique phrase is kept, purged, and then found nowhere.

It runs the real path: a `sotto-satellite` process hears the phrase through its spool
microphone, streams it over the encrypted link, the integration's pipeline bridge runs
HA's assist pipeline (Sotto's in-process speech-to-text, HA's agent, `sotto-engine`'s
speech), and the bridge writes the history row.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path

import pytest
from homeassistant.components.assist_pipeline.pipeline import KEY_ASSIST_PIPELINE
from homeassistant.components.conversation.chat_log import DATA_CHAT_LOGS
from homeassistant.components.recorder import Recorder
from homeassistant.components.tts.const import DATA_TTS_MANAGER
from homeassistant.const import STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.sotto.const import DOMAIN
from demo.processes import run_engine, run_satellite
from demo.speech import utterance

from .house import async_build_house, async_use_sotto_pipeline
from .test_engine import pair_engine
from .test_history import async_setup_home, files_bytes
from .test_satellite import pair, wait_for_state

pytestmark = pytest.mark.usefixtures("socket_enabled")

CANARY = "turn on the quokka lamp"
# HA's own assist_pipeline and conversation loggers print commands at DEBUG (the README
# says so); Sotto's own never do.
SOTTO_LOGGERS = ("custom_components.sotto", "sotto_voice")


@pytest.fixture(autouse=True)
async def _home_assistant_core(
    recorder_mock: Recorder, hass: HomeAssistant, enable_custom_integrations: None
) -> None:
    """The recorder starts before custom integrations are enabled, as the plugin requires."""
    assert await async_setup_component(hass, "homeassistant", {})


@pytest.mark.parametrize("persistent_database", [True])
async def test_canary_is_nowhere_after_a_purge(
    hass: HomeAssistant,
    tmp_path: Path,
    recorder_db_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Spoken, recognised, kept; purged; then absent from every store and every log.

    Every log runs at DEBUG, HA's and the satellite's and engine's, and none of them ever
    holds the sentence (a log outlives every purge).
    """
    caplog.set_level(logging.DEBUG)
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    hass.config.config_dir = str(config_dir)
    assert await async_setup_component(hass, "conversation", {})
    # The lamp is in another room than the satellite: HA answers a command for the
    # satellite's own room with its acknowledge beep, and the spoken reply is what is tested.
    await async_build_house(hass, {"Kitchen": ["Kitchen Lamp"], "Bedroom": ["Quokka Lamp"]})
    _home, store = await async_setup_home(hass, config_dir)
    debug = {"log_level": "debug"}
    async with (
        run_engine(tmp_path / "engine", extra=debug) as engine,
        run_satellite(tmp_path / "kitchen", extra=debug) as satellite,
    ):
        entry = await pair(hass, satellite, "Kitchen")
        engine_entry = await pair_engine(hass, engine)
        await async_use_sotto_pipeline(hass, tts_engine="tts.engine_text_to_speech")
        await hass.async_block_till_done()

        written = asyncio.Event()
        unsubscribe = store.subscribe(written.set)
        satellite.say(utterance(0.3, "okay nabu", 0.4, CANARY, 1.5))
        await wait_for_state(hass, "light.quokka_lamp", STATE_ON)
        async with asyncio.timeout(30):
            while not store.stats.items:  # the row is written when the run ends
                written.clear()
                await written.wait()
        unsubscribe()
        [row] = await store.async_list()
        assert row.transcript == CANARY
        assert row.area == "Kitchen"
        assert row.response_text
        reply_hash = hashlib.sha1(row.response_text.encode()).hexdigest()
        await async_wait_recording_done(hass)
        # Before the purge the canary is where HA and Sotto put it (so the search works).
        assert CANARY.encode() in files_bytes(store.directory)
        assert _in_pipeline_debug(hass)
        assert any(p.name.startswith(reply_hash) for p in (config_dir / "tts").iterdir())

        result = await hass.services.async_call(
            DOMAIN, "purge_history", {}, blocking=True, return_response=True
        )
        await async_wait_recording_done(hass)
        assert result["history"]["interactions"] == 1
        assert result["satellites"] == {
            "Kitchen satellite": ["ledger", "wake_word_audio", "vad_audio"]
        }

        assert CANARY.encode() not in files_bytes(store.directory)
        assert not _in_pipeline_debug(hass)
        assert not any(
            CANARY in str(getattr(c, "content", ""))
            for log in hass.data.get(DATA_CHAT_LOGS, {}).values()
            for c in log.content
        )
        manager = hass.data[DATA_TTS_MANAGER]
        assert not any(k.startswith(reply_hash) for k in [*manager.mem_cache, *manager.file_cache])
        assert not any(p.name.startswith(reply_hash) for p in (config_dir / "tts").iterdir())
        database = Path(recorder_db_url.removeprefix("sqlite:///"))
        recorder_files = b"".join(
            p.read_bytes() for p in database.parent.glob(database.name + "*") if p.is_file()
        )
        assert recorder_files
        assert CANARY.encode() not in recorder_files
        assert CANARY.encode() not in files_bytes(config_dir)
        ours = [r for r in caplog.records if r.name.startswith(SOTTO_LOGGERS)]
        assert [r for r in ours if r.levelno == logging.DEBUG]
        assert not [r.getMessage() for r in ours if CANARY in r.getMessage()]
        assert "DEBUG" in satellite.log.read_text()
        assert "DEBUG" in engine.log.read_text()
        for log in (satellite.log, engine.log):
            assert CANARY not in log.read_text()

        await hass.config_entries.async_unload(entry.entry_id)
        await hass.config_entries.async_unload(engine_entry.entry_id)
        await hass.async_block_till_done()


def _in_pipeline_debug(hass: HomeAssistant) -> bool:
    return any(
        CANARY in repr([event.data for event in run.events])
        for runs in hass.data[KEY_ASSIST_PIPELINE].pipeline_debug.values()
        for run in runs.values()
    )
