"""kill -9 of each part in turn: the satellite, the engine, and Home Assistant itself.

Each comes back on its own: the satellite and the engine restart from the same state
directory, key and port and Home Assistant finds them again with the entries it has; a
Home Assistant killed while writing the voice history starts again on the same config
directory with an intact database and its satellite connected, without anyone re-pairing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant

from custom_components.sotto.assist_satellite import REPLY_NOT_PLAYED
from custom_components.sotto.history.model import Outcome
from custom_components.sotto.history.store import HISTORY_DIR, HISTORY_FILE
from demo.harness import REPO
from demo.processes import (
    ENGINE,
    EngineProcess,
    free_port,
    run_engine,
    run_satellite,
    stop_process,
    wait_for_port,
)
from demo.speech import utterance
from sotto_voice.messages import IndicatorState

from .house import async_build_house, async_use_sotto_pipeline
from .test_engine import pair_engine
from .test_faults import COMMAND, WAKE, _after_cooldown, _new_row, _turn_off
from .test_history import async_setup_home
from .test_satellite import pair, wait_for_state

pytestmark = pytest.mark.usefixtures("socket_enabled")

RECORDING = "binary_sensor.kitchen_satellite_recording"
MUTE = "switch.kitchen_satellite_mute"
ASSIST = "assist_satellite.kitchen_satellite"
NAMED_COMMAND = utterance(0.3, "turn on the kitchen light", 1.5)


def _integrity(database: Path) -> str:
    """SQLite's own verdict on a database file."""
    with contextlib.closing(sqlite3.connect(database)) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


@contextlib.asynccontextmanager
async def _restarted_engine(engine: EngineProcess, workdir: Path) -> AsyncIterator[None]:
    """Start sotto-engine again from the config file, key file and state its first run used."""
    log = workdir / "engine-again.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            str(ENGINE),
            "--config",
            str(workdir / "engine.yaml"),
            "run",
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        await wait_for_port(engine.port, process, log)
        yield
    finally:
        await stop_process(process)


async def test_satellite_killed_mid_command_comes_back(hass: HomeAssistant, tmp_path: Path) -> None:
    """kill -9 while it streams: recording off, row 'interrupted'; restarted with its state,
    it is connected and idle again under the same entry, and commands work."""
    assert await async_setup_component_conversation(hass)
    await async_build_house(hass, {"Kitchen": ["Kitchen Light"]})
    _home, store = await async_setup_home(hass, tmp_path / "config")
    await async_use_sotto_pipeline(hass)
    workdir = tmp_path / "satellite"
    async with run_satellite(workdir) as satellite:
        entry = await pair(hass, satellite, "Kitchen")
        connection = entry.runtime_data.connection
        connection.backoff_first, connection.backoff_cap = 0.05, 0.4
        key, port = satellite.key, satellite.port
        satellite.say(WAKE + COMMAND)
        await wait_for_state(hass, RECORDING, STATE_ON)
        # Power cut: the satellite and the helpers it started (microphone, button).
        os.killpg(satellite.process.pid, signal.SIGKILL)
        await satellite.process.wait()
        await wait_for_state(hass, RECORDING, STATE_OFF)
        row = await _new_row(store, 0)
        assert (row.outcome, row.error_code) == (Outcome.INTERRUPTED, "disconnected")
        await wait_for_state(hass, MUTE, STATE_UNAVAILABLE)
        assert hass.states.get(ASSIST).state != "listening"

    # What the microphone was still playing when the power went is not heard again.
    for unheard in (workdir / "mic").glob("*.wav"):
        unheard.unlink()
    async with run_satellite(workdir, key=key, port=port) as again:
        await wait_for_state(hass, MUTE, STATE_OFF)
        assert entry.state is ConfigEntryState.LOADED
        assert not hass.config_entries.flow.async_progress_by_handler("sotto")  # no re-pair
        # The restarted satellite's own report (the one before the kill said listening).
        async with asyncio.timeout(30):
            while (state := entry.runtime_data.satellite.state) is None or (
                state.indicator is not IndicatorState.IDLE
            ):
                await asyncio.sleep(0.05)
        await _after_cooldown(hass)
        again.say(WAKE + COMMAND)
        await wait_for_state(hass, "light.kitchen_light", STATE_ON)
        assert (await _new_row(store, 1)).outcome is Outcome.HANDLED
        await hass.config_entries.async_unload(entry.entry_id)
    assert await hass.async_add_executor_job(_integrity, store.database_path) == "ok"


async def async_setup_component_conversation(hass: HomeAssistant) -> bool:
    """HA's conversation agent, which Sotto's pipeline uses."""
    from homeassistant.setup import async_setup_component

    return await async_setup_component(hass, "conversation", {})


async def test_engine_killed_comes_back(hass: HomeAssistant, tmp_path: Path) -> None:
    """kill -9 of the engine: the next command is carried out, its reply fails cleanly
    (recorded, satellite not stuck speaking); restarted, the same entry speaks again."""
    assert await async_setup_component_conversation(hass)
    await async_build_house(hass, {"Kitchen": ["Kitchen Light"]})
    _home, store = await async_setup_home(hass, tmp_path / "config")
    workdir = tmp_path / "engine"
    async with run_engine(workdir) as engine, run_satellite(tmp_path / "satellite") as satellite:
        engine_entry = await pair_engine(hass, engine)
        # In no area, and naming the light: HA answers a command that only touches the
        # satellite's own area with its acknowledge beep, which needs no engine.
        entry = await pair(hass, satellite)
        await async_use_sotto_pipeline(hass, tts_engine="tts.engine_text_to_speech")
        os.killpg(engine.process.pid, signal.SIGKILL)
        await engine.process.wait()

        satellite.say(WAKE + NAMED_COMMAND)
        await wait_for_state(hass, "light.kitchen_light", STATE_ON)
        row = await _new_row(store, 0)
        # The command was carried out; its spoken answer could not be made or heard.
        assert (row.outcome, row.error_code) == (Outcome.HANDLED, REPLY_NOT_PLAYED), row
        await wait_for_state(hass, ASSIST, "idle")
        await _turn_off(hass)

        async with _restarted_engine(engine, workdir):
            replies = len(satellite.replies())
            await _after_cooldown(hass)
            satellite.say(WAKE + NAMED_COMMAND)
            await wait_for_state(hass, "light.kitchen_light", STATE_ON)
            row = await _new_row(store, 1)
            assert (row.outcome, row.error_code) == (Outcome.HANDLED, None), row
            await wait_for_state(hass, ASSIST, "idle")
            # The spoken reply and the satellite's chimes were played.
            assert len(satellite.replies()) > replies
            assert engine_entry.state is ConfigEntryState.LOADED
            assert not hass.config_entries.flow.async_progress_by_handler("sotto")
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.config_entries.async_unload(engine_entry.entry_id)


# Runs a real Home Assistant (demo/harness.py) on a config directory. The first run adds
# Sotto's home entry and pairs the satellite through the config flows; every run then
# writes voice-history rows as fast as it can, saying on the status file how many are in,
# until it is killed. A later run first says whether the satellite came back by itself.
_HA_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, types
    from pathlib import Path
    from homeassistant.util import dt as dt_util
    from custom_components.sotto.history.model import Interaction, Outcome, Trigger
    from custom_components.sotto.services import history_store
    from demo.harness import running_home_assistant
    from demo.home import async_add_home, async_add_satellite, wait_for_state
    from sotto_voice.link import LinkKey

    config, http_port, port, key, status = sys.argv[1:6]
    satellite = types.SimpleNamespace(
        port=int(port), key=LinkKey.from_base64(key),
        device_id="kitchen-satellite", name="Kitchen satellite",
    )

    async def say(hass, line, suffix=""):
        await hass.async_add_executor_job(Path(status + suffix).write_text, line)

    def saved(config):
        entries = Path(config) / ".storage" / "core.config_entries"
        return entries.exists() and "kitchen-satellite" in entries.read_text()

    async def main():
        link = Path(config) / "custom_components" / "sotto"
        if link.is_symlink():
            link.unlink()  # the harness links the integration in on every start
        async with running_home_assistant(Path(config), port=int(http_port)) as hass:
            entries = hass.config_entries.async_entries("sotto")
            if not entries:
                await async_add_home(hass)
                await async_add_satellite(hass, satellite, "Kitchen")
                # HA saves its config entries a moment later; a kill before that would
                # lose the pairing in HA's own storage, which is not what is tested here.
                while not await hass.async_add_executor_job(saved, config):
                    await asyncio.sleep(0.1)
            await wait_for_state(hass, "switch.kitchen_satellite_mute", "off")
            flows = hass.config_entries.flow.async_progress_by_handler("sotto")
            store = history_store(hass)
            before = len(await store.async_list(limit=None))
            await say(hass, f"back {len(entries)} {len(flows)} {before}", ".back")
            written = 0
            while True:
                await store.async_add(Interaction(
                    started_at=dt_util.utcnow(), satellite_id="kitchen-satellite",
                    satellite_name="Kitchen satellite", trigger=Trigger.WAKE_WORD,
                    transcript=f"turn on the lights {written}", outcome=Outcome.HANDLED,
                ))
                written += 1
                await say(hass, f"writing {len(entries)} {len(flows)} {before} {written}")

    asyncio.run(main())
    """
)


def _written(line: str) -> int | None:
    """Rows the HA process has written, from a 'writing' status line."""
    words = line.split()
    return int(words[4]) if len(words) == 5 and words[0] == "writing" else None


async def _status(path: Path, prefix: str, process: asyncio.subprocess.Process, log: Path) -> str:
    """Until the HA process writes a status line starting with `prefix`."""
    text = ""
    try:
        async with asyncio.timeout(180):
            while True:
                assert process.returncode is None, log.read_text()[-3000:]
                text = path.read_text() if path.exists() else ""
                if text.startswith(prefix) and text.endswith(tuple("0123456789")):
                    return text
                await asyncio.sleep(0.1)
    except TimeoutError:
        ha_log = log.parent / "ha" / "home-assistant.log"
        raise AssertionError(
            f"no {prefix!r} status (last: {text!r}); process log: {log.read_text()[-2000:]}"
            f"\nHA log: {ha_log.read_text()[-3000:] if ha_log.exists() else 'none'}"
        ) from None


@contextlib.asynccontextmanager
async def _home_assistant(
    config: Path, script: Path, satellite_port: int, key: str, status: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A real Home Assistant process on `config`, stopped (or reaped) by its PID."""
    status.unlink(missing_ok=True)
    status.with_suffix(".back").unlink(missing_ok=True)
    log = config.parent / "ha-process.log"
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            str(config),
            str(free_port()),
            str(satellite_port),
            key,
            str(status),
            cwd=REPO,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            start_new_session=True,
        )
    try:
        yield process
    finally:
        await stop_process(process)


async def test_home_assistant_killed_mid_write_comes_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """kill -9 of HA while it writes the history: the database passes SQLite's integrity
    check, and HA started again finds its satellite connected without re-pairing."""
    script = tmp_path / "run_ha.py"
    script.write_text(_HA_SCRIPT)
    config = tmp_path / "ha"
    status = tmp_path / "status"
    log = tmp_path / "ha-process.log"
    async with run_satellite(tmp_path / "satellite") as satellite:
        key = satellite.key.to_base64()
        async with _home_assistant(config, script, satellite.port, key, status) as first:
            written = _written(await _status(status, "writing", first, log))
            # Let it write for a while, then kill it in the middle of it.
            while (_written(status.read_text()) or 0) < written + 20:
                await asyncio.sleep(0.05)
            first.send_signal(signal.SIGKILL)
            await first.wait()
        killed_at = _written(status.read_text())
        assert killed_at is not None
        database = config / HISTORY_DIR / HISTORY_FILE
        assert await asyncio.to_thread(_integrity, database) == "ok"

        async with _home_assistant(config, script, satellite.port, key, status) as second:
            line = await _status(status.with_suffix(".back"), "back", second, log)
            _word, entries, flows, rows = line.split()
            # Both Sotto entries loaded from disk, the satellite reported in (its mute
            # switch is off, not unavailable), and no pairing or re-auth flow is waiting.
            assert (int(entries), int(flows)) == (2, 0), line
            # Every row committed before the kill is there (the last one may have been
            # in flight when the process died).
            assert int(rows) >= killed_at - 1, (line, killed_at)
            with capsys.disabled():
                print(f"\nHA killed after {killed_at} rows written; {rows} rows found on restart")
            await _status(status, "writing", second, log)
            second.send_signal(signal.SIGKILL)
            await second.wait()
        assert await asyncio.to_thread(_integrity, database) == "ok"
