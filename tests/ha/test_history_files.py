"""The history's files on disk: exports only into new private folders HA does not serve,
0600 databases, and keys kept away from the audio they open."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import wave
from pathlib import Path

import pytest
import voluptuous as vol
from homeassistant.core import HomeAssistant

from custom_components.sotto.const import DOMAIN
from custom_components.sotto.history.crypto import new_key, open_sealed, seal
from custom_components.sotto.history.errors import HistoryError
from custom_components.sotto.history.files import EXPORTS_DIR
from custom_components.sotto.history.store import AUDIO_SUFFIX, KEYSTORE_FILE, HistoryStore

from .test_history import AUDIO, KEEP_AUDIO, async_setup_home, interaction


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


async def _export(hass: HomeAssistant) -> dict[str, object]:
    response = await hass.services.async_call(
        DOMAIN, "export_history", {}, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


async def _history_with(
    hass: HomeAssistant, tmp_path: Path, transcript: str
) -> tuple[Path, HistoryStore]:
    """The home entry in tmp_path/config, its history holding one command."""
    config = tmp_path / "config"
    _home, store = await async_setup_home(hass, config)
    await store.async_add(interaction(transcript))
    return config, store


async def test_export_goes_to_a_new_private_folder(hass: HomeAssistant, tmp_path: Path) -> None:
    """Each export is a new 0700 folder of 0600 files under sotto_exports, named in the answer;
    a second export never touches the first."""
    config = tmp_path / "config"
    _home, store = await async_setup_home(hass, config, KEEP_AUDIO)
    await store.async_add(interaction("start the flamingo fan", audio=AUDIO))
    await store.async_add(interaction("what time is it", satellite_id="bedroom"))

    first = await _export(hass)
    folder = Path(str(first["folder"]))
    assert folder.parent == config / EXPORTS_DIR
    assert first == {"folder": str(folder), "interactions": 2, "audio_files": 1}
    exported = json.loads((folder / "history.json").read_text())
    row = next(i for i in exported["interactions"] if i["audio_kept"])
    assert row["transcript"] == "start the flamingo fan"
    with wave.open(str(folder / row["audio_file"])) as wav:
        assert wav.getframerate() == 16000
        assert wav.readframes(wav.getnframes()) == AUDIO
    assert _mode(config / EXPORTS_DIR) == 0o700
    assert _mode(folder) == 0o700
    assert {p.name: _mode(p) for p in folder.iterdir()} == {
        "history.json": 0o600,
        row["audio_file"]: 0o600,
    }

    before = {p: p.read_bytes() for p in folder.iterdir()}
    await store.async_add(interaction("close the heron blinds"))
    second = await _export(hass)
    assert second["folder"] != first["folder"]
    assert second["interactions"] == 3
    assert {p: p.read_bytes() for p in folder.iterdir()} == before


async def test_export_cannot_be_pointed_at_a_served_folder(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """There is no path to choose: asking for `www` (which HA serves without login) is refused."""
    config, store = await _history_with(hass, tmp_path, "unlock the badger door")
    (config / "www").mkdir()
    for path in ("www", "www/guest-export", ".storage", "sotto"):
        # The schema names the field it refuses (HA 2026 validates with probatio).
        with pytest.raises(vol.Invalid, match="path"):
            await hass.services.async_call(
                DOMAIN, "export_history", {"path": path}, blocking=True, return_response=True
            )
    assert not list((config / "www").iterdir())
    assert not (config / EXPORTS_DIR).exists()


async def test_export_follows_no_planted_symlink(hass: HomeAssistant, tmp_path: Path) -> None:
    """A symlink planted as the exports folder is refused; nothing lands where it points."""
    config, store = await _history_with(hass, tmp_path, "feed the otter")
    outside = tmp_path / "outside"
    outside.mkdir()
    (config / EXPORTS_DIR).symlink_to(outside)

    with pytest.raises(HistoryError, match="not a plain folder"):
        await _export(hass)
    assert not list(outside.iterdir())


async def test_export_never_overwrites(hass: HomeAssistant, tmp_path: Path) -> None:
    """An export folder that already exists (or a symlink in its place) is an error, and
    what was there is untouched."""
    config, store = await _history_with(hass, tmp_path, "water the gecko plant")
    exports = config / EXPORTS_DIR
    (exports / "taken").mkdir(parents=True)
    (exports / "taken" / "history.json").write_text("mine")
    outside = tmp_path / "outside"
    outside.mkdir()
    (exports / "linked").symlink_to(outside)

    for name in ("taken", "linked"):
        with pytest.raises(HistoryError, match="already exists"):
            await hass.async_add_executor_job(store.export_blocking, config, name)
    assert (exports / "taken" / "history.json").read_text() == "mine"
    assert not list(outside.iterdir())


async def test_purge_removes_exports_unless_asked_to_keep_them(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """An export is a copy of the history: a purge removes it, and says so."""
    config, store = await _history_with(hass, tmp_path, "open the lynx gate")
    await _export(hass)

    kept = await hass.services.async_call(
        DOMAIN,
        "purge_history",
        {"keep_exports": True, "interaction_id": 999},
        blocking=True,
        return_response=True,
    )
    assert kept is not None
    assert kept["exports"] == {"folders": 0}
    assert len(list((config / EXPORTS_DIR).iterdir())) == 1

    result = await hass.services.async_call(
        DOMAIN, "purge_history", {}, blocking=True, return_response=True
    )
    assert result is not None
    assert result["exports"] == {"folders": 1}
    assert not list((config / EXPORTS_DIR).iterdir())
    assert b"lynx" not in b"".join(p.read_bytes() for p in config.rglob("*") if p.is_file())


async def test_history_and_key_files_are_private(hass: HomeAssistant, tmp_path: Path) -> None:
    """history.db, keys.db and their WAL files are 0600, their folders 0700, and the keys
    are not in the history folder, so a copy of that folder cannot open the audio."""
    config = tmp_path / "config"
    _home, store = await async_setup_home(hass, config, KEEP_AUDIO)
    await store.async_add(interaction("turn on the mole light", audio=AUDIO))

    assert not store.keystore_path.is_relative_to(store.directory)
    assert not list(store.directory.rglob(KEYSTORE_FILE))
    files = [
        f"{database}{suffix}"
        for database in (store.database_path, store.keystore_path)
        for suffix in ("", "-wal", "-shm")
    ]
    assert {name: _mode(Path(name)) for name in files} == dict.fromkeys(files, 0o600)
    [sealed] = store.audio_dir.iterdir()
    assert _mode(sealed) == 0o600
    for folder in (store.directory, store.audio_dir, store.keystore_path.parent):
        assert _mode(folder) == 0o700


async def test_a_keystore_beside_the_audio_moves_to_its_own_folder(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """An install that kept keys.db in the history folder finds it moved at start, and the
    audio kept before the move still plays."""
    config = tmp_path / "config"
    history = config / "sotto"
    (history / "audio").mkdir(parents=True)
    key = new_key()
    with sqlite3.connect(history / KEYSTORE_FILE) as keys:
        keys.execute("CREATE TABLE keys (recording_id TEXT PRIMARY KEY, key BLOB)")
        keys.execute("INSERT INTO keys VALUES ('r1', ?)", (key,))
    keys.close()
    (history / "audio" / f"r1{AUDIO_SUFFIX}").write_bytes(seal(key, AUDIO, recording_id="r1"))
    (history / "audio" / f"r1{AUDIO_SUFFIX}").chmod(0o644)

    _home, store = await async_setup_home(hass, config, KEEP_AUDIO)
    assert not (history / KEYSTORE_FILE).exists()
    assert store.keystore_path.exists()
    assert _mode(store.keystore_path) == 0o600
    assert _mode(history / "audio" / f"r1{AUDIO_SUFFIX}") == 0o600
    sealed = (history / "audio" / f"r1{AUDIO_SUFFIX}").read_bytes()
    with sqlite3.connect(store.keystore_path) as moved:
        [(found,)] = moved.execute("SELECT key FROM keys WHERE recording_id = 'r1'").fetchall()
    moved.close()
    assert open_sealed(found, sealed, recording_id="r1") == AUDIO
