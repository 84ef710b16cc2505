"""The voice history: a SQLite file in HA's config directory, written off the event loop.

One row per interaction, kept only as long as the user's retention allows; kept audio
lives in separate files, each sealed with its own key in a separate keystore, so a
purge destroys the key first (crypto-erase) and then the file. The keystore lives apart
from the history folder (in HA's `.storage`), so a copy of that folder alone cannot open
the audio; every folder is 0700 and every file 0600, before anything is written. Both
databases run with `secure_delete`, so deleted rows are overwritten inside the files, and
the write-ahead log is truncated after every purge so no deleted text lingers there either.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import uuid
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.util import dt as dt_util

from sotto_voice.audio import VOICE_FORMAT
from sotto_voice.engine.stt.grammar import is_dismissal

from .crypto import new_key, open_sealed, seal
from .errors import HistoryError
from .files import (
    ExportFolder,
    export_name,
    new_export_folder,
    private_dir,
    private_file,
    write_private,
)
from .model import Interaction, Outcome, RecognizedOn, Trigger
from .settings import Retention

HISTORY_DIR: Final = "sotto"
HISTORY_FILE: Final = "history.db"
KEYS_DIR: Final = (".storage", "sotto")
"""Where the keystore lives, under HA's config directory: not beside the audio."""
KEYSTORE_FILE: Final = "keys.db"
# SQLite's companions of a database file in WAL mode.
_DB_COMPANIONS: Final = ("-wal", "-shm")
AUDIO_DIR: Final = "audio"
AUDIO_SUFFIX: Final = ".sealed"
# Kept audio is the 16 kHz mono s16le the satellites send.
_AUDIO_RATE: Final = VOICE_FORMAT.rate

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS interactions (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    satellite_id TEXT NOT NULL,
    satellite_name TEXT NOT NULL,
    area TEXT,
    trigger TEXT NOT NULL,
    wake_word TEXT,
    transcript TEXT,
    intent_response TEXT,
    targets TEXT NOT NULL,
    outcome TEXT NOT NULL,
    response_text TEXT,
    error_code TEXT,
    audio_seconds REAL,
    stt_ms REAL,
    intent_ms REAL,
    total_ms REAL,
    recording_id TEXT,
    audio_until REAL,
    recognized_on TEXT
);
CREATE INDEX IF NOT EXISTS interactions_started ON interactions (started_at);
CREATE INDEX IF NOT EXISTS interactions_satellite ON interactions (satellite_id, started_at);
CREATE INDEX IF NOT EXISTS interactions_audio ON interactions (audio_until)
    WHERE recording_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS satellite_days (
    day TEXT NOT NULL,
    satellite_id TEXT NOT NULL,
    interactions INTEGER NOT NULL DEFAULT 0,
    false_wakes INTEGER NOT NULL DEFAULT 0,
    audio_seconds REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (day, satellite_id)
);
"""
# Before the day's counters were kept per satellite (so that a satellite's purge resets
# its own share, as the satellite resets its ledger) they were one row per day.
_MIGRATE_DAYS: Final = """
INSERT OR IGNORE INTO satellite_days (day, satellite_id, interactions, false_wakes, audio_seconds)
    SELECT day, '', interactions, false_wakes, audio_seconds FROM days;
DROP TABLE days;
"""
# Rows from before satellites recognised commands themselves: recognised by Home Assistant.
_ADD_RECOGNIZED_ON: Final = "ALTER TABLE interactions ADD COLUMN recognized_on TEXT"
_KEY_SCHEMA: Final = "CREATE TABLE IF NOT EXISTS keys (recording_id TEXT PRIMARY KEY, key BLOB)"

# "That wasn't for me" forgets a satellite's last interaction only if it started this
# recently: said later, it is about something else, and an old command stays kept.
FORGET_WINDOW: Final = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class StoredInteraction:
    """One row of the history, as the review view and the export show it."""

    id: int
    started_at: datetime
    satellite_id: str
    satellite_name: str
    area: str | None
    trigger: Trigger
    wake_word: str | None
    transcript: str | None
    intent_response: str | None
    targets: tuple[str, ...]
    outcome: Outcome
    response_text: str | None
    error_code: str | None
    audio_seconds: float | None
    stt_ms: float | None
    intent_ms: float | None
    total_ms: float | None
    audio_kept: bool
    recording_id: str | None = field(default=None, repr=False)
    recognized_on: RecognizedOn | None = None

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON-ready data (the export and the review view)."""
        return {
            "id": self.id,
            "started_at": self.started_at.isoformat(),
            "satellite_id": self.satellite_id,
            "satellite_name": self.satellite_name,
            "area": self.area,
            "trigger": self.trigger.value,
            "wake_word": self.wake_word,
            "transcript": self.transcript,
            "intent_response": self.intent_response,
            "targets": list(self.targets),
            "outcome": self.outcome.value,
            "response_text": self.response_text,
            "error_code": self.error_code,
            "audio_seconds": self.audio_seconds,
            "stt_ms": self.stt_ms,
            "intent_ms": self.intent_ms,
            "total_ms": self.total_ms,
            "audio_kept": self.audio_kept,
            "recognized_on": self.recognized_on.value if self.recognized_on else None,
        }


def write_wav(out: BinaryIO, pcm: bytes) -> None:
    """Write kept audio (16 kHz 16-bit mono PCM) as a WAV file."""
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(_AUDIO_RATE)
        wav.writeframes(pcm)


@dataclass(frozen=True, slots=True)
class Removed:
    """What one purge of the history took away."""

    interactions: int = 0
    recordings: int = 0
    texts: frozenset[str] = frozenset()
    """Transcripts and replies of the removed rows, to find their copies elsewhere."""


@dataclass(frozen=True, slots=True)
class Exported:
    """Where one export went, and what it holds."""

    folder: Path
    interactions: int
    audio_files: int


@dataclass(frozen=True, slots=True)
class Stats:
    """The figures the home's history sensors show."""

    interactions_today: int = 0
    false_wakes_today: int = 0
    audio_seconds_today: float = 0.0
    items: int = 0
    oldest: datetime | None = None


def _epoch(moment: datetime) -> float:
    return dt_util.as_utc(moment).timestamp()


def _day(moment: datetime) -> str:
    return dt_util.as_local(moment).date().isoformat()


class HistoryStore:
    """Keeps interactions as the retention allows; every file operation runs off the loop."""

    def __init__(
        self, hass: HomeAssistant, directory: Path, retention: Retention, *, keys_dir: Path
    ) -> None:
        """Point the store at its folders (nothing is opened until `async_open`)."""
        self.hass = hass
        self.directory = directory
        self.keys_dir = keys_dir
        self.retention = retention
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._keys: sqlite3.Connection | None = None
        self._listeners: list[Callable[[], None]] = []
        self.stats = Stats()

    @property
    def database_path(self) -> Path:
        """The history database file."""
        return self.directory / HISTORY_FILE

    @property
    def keystore_path(self) -> Path:
        """The keystore holding one key per kept recording."""
        return self.keys_dir / KEYSTORE_FILE

    @property
    def audio_dir(self) -> Path:
        """Where sealed recordings are written."""
        return self.directory / AUDIO_DIR

    @property
    def keeps_audio(self) -> bool:
        """Whether the user has opted in to keeping the audio of commands."""
        return self.retention.audio_kept_days > 0

    # --- life ------------------------------------------------------------------------------

    async def async_open(self) -> None:
        """Open (or create) the databases, then drop whatever is past its retention."""
        await self.hass.async_add_executor_job(self._open)
        await self.async_apply_retention()

    async def async_close(self) -> None:
        """Close the databases."""
        await self.hass.async_add_executor_job(self._close)

    @callback
    def subscribe(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call `listener` after the history or its figures change; returns the unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @callback
    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def _open(self) -> None:
        for directory in (self.directory, self.audio_dir, self.keys_dir):
            private_dir(directory)
        _move_keystore(self.directory / KEYSTORE_FILE, self.keystore_path)
        for database in (self.database_path, self.keystore_path):
            # SQLite gives its -wal and -shm files the database file's mode.
            private_file(database)
            for companion in _DB_COMPANIONS:
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(f"{database}{companion}", 0o600)
        for sealed in self.audio_dir.iterdir():
            sealed.chmod(0o600)
        with self._lock:
            self._db = _connect(self.database_path)
            self._db.executescript(_SCHEMA)
            if self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'days'"
            ).fetchone():
                with self._db:
                    self._db.executescript(_MIGRATE_DAYS)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(interactions)")}
            if "recognized_on" not in columns:
                with self._db:
                    self._db.execute(_ADD_RECOGNIZED_ON)
            self._keys = _connect(self.keystore_path)
            self._keys.execute(_KEY_SCHEMA)

    def _close(self) -> None:
        with self._lock:
            for connection in (self._db, self._keys):
                if connection is not None:
                    connection.close()
            self._db = self._keys = None

    def _conns(self) -> tuple[sqlite3.Connection, sqlite3.Connection]:
        if self._db is None or self._keys is None:
            raise HistoryError("the voice history is not open")
        return self._db, self._keys

    # --- writing ---------------------------------------------------------------------------

    async def async_add(self, interaction: Interaction) -> None:
        """Keep the interaction as the retention settings allow (or not at all)."""
        retention = self.retention
        if interaction.transcript and is_dismissal(interaction.transcript):
            # "Never mind" (and "that wasn't for you") is counted, never kept: it says
            # there was nothing worth keeping.
            retention = Retention(transcript_days=0)
        now = dt_util.utcnow()
        audio = interaction.audio if retention.audio_kept_days else None
        audio_until = (
            _epoch(interaction.started_at + timedelta(days=retention.audio_kept_days))
            if audio
            else None
        )
        await self.hass.async_add_executor_job(
            self._add,
            interaction,
            _day(interaction.started_at),
            retention.transcript_days > 0,
            audio,
            audio_until,
            now,
        )
        await self.async_refresh()

    def _add(
        self,
        interaction: Interaction,
        day: str,
        keep_row: bool,
        audio: bytes | None,
        audio_until: float | None,
        now: datetime,
    ) -> int | None:
        with self._lock:
            db, keys = self._conns()
            with db:
                db.execute(
                    "INSERT INTO satellite_days (day, satellite_id, interactions, audio_seconds) "
                    "VALUES (?, ?, 1, ?) ON CONFLICT(day, satellite_id) DO UPDATE SET "
                    "interactions = interactions + 1, "
                    "audio_seconds = audio_seconds + excluded.audio_seconds",
                    (day, interaction.satellite_id, interaction.audio_seconds or 0.0),
                )
                if not keep_row:
                    return None
                recording_id = None
                if audio:
                    recording_id = uuid.uuid4().hex
                    key = new_key()
                    # The key goes in first: a crash leaves a key without a file,
                    # never a file nobody can find the key of.
                    with keys:
                        keys.execute(
                            "INSERT INTO keys (recording_id, key) VALUES (?, ?)",
                            (recording_id, key),
                        )
                    write_private(
                        self.audio_dir / f"{recording_id}{AUDIO_SUFFIX}",
                        seal(key, audio, recording_id=recording_id),
                    )
                values = _values(interaction, recording_id, audio_until)
                cursor = db.execute(_insert(values), values)
                return cursor.lastrowid

    def add_many_blocking(self, interactions: Iterable[Interaction]) -> None:
        """Insert many rows in one transaction, without audio (the benchmark's filler)."""
        with self._lock:
            db, _keys = self._conns()
            with db:
                rows = [_values(i, None, None) for i in interactions]
                if rows:
                    db.executemany(_insert(rows[0]), rows)

    # --- reading ---------------------------------------------------------------------------

    async def async_refresh(self) -> None:
        """Re-read the figures the sensors show, then tell the listeners."""
        self.stats = await self.hass.async_add_executor_job(self._stats, _day(dt_util.utcnow()))
        self._changed()

    def _stats(self, today: str) -> Stats:
        with self._lock:
            db, _keys = self._conns()
            day = db.execute(
                "SELECT SUM(interactions), SUM(false_wakes), SUM(audio_seconds) "
                "FROM satellite_days WHERE day = ?",
                (today,),
            ).fetchone()
            items, oldest = db.execute(
                "SELECT COUNT(*), MIN(started_at) FROM interactions"
            ).fetchone()
        return Stats(
            interactions_today=day[0] or 0,
            false_wakes_today=day[1] or 0,
            audio_seconds_today=round(day[2] or 0.0, 1),
            items=items,
            oldest=dt_util.utc_from_timestamp(oldest) if oldest is not None else None,
        )

    async def async_list(
        self, *, limit: int = 100, satellite_id: str | None = None
    ) -> list[StoredInteraction]:
        """The newest interactions first."""
        return await self.hass.async_add_executor_job(self._list, limit, satellite_id)

    def _list(self, limit: int | None, satellite_id: str | None) -> list[StoredInteraction]:
        where, args = ("WHERE satellite_id = ?", [satellite_id]) if satellite_id else ("", [])
        with self._lock:
            db, _keys = self._conns()
            cursor = db.cursor()
            cursor.row_factory = sqlite3.Row
            rows = cursor.execute(
                f"SELECT * FROM interactions {where} ORDER BY started_at DESC, id DESC LIMIT ?",
                (*args, -1 if limit is None else limit),
            ).fetchall()
        return [_stored(row) for row in rows]

    async def async_satellite_ids(self) -> set[str]:
        """The satellites the history holds interactions of."""
        return await self.hass.async_add_executor_job(self._satellite_ids)

    def _satellite_ids(self) -> set[str]:
        with self._lock:
            db, _keys = self._conns()
            return {row[0] for row in db.execute("SELECT DISTINCT satellite_id FROM interactions")}

    async def async_audio(self, interaction_id: int) -> bytes | None:
        """The decrypted audio of one interaction, if it was kept."""
        return await self.hass.async_add_executor_job(self._audio, interaction_id)

    def _audio(self, interaction_id: int) -> bytes | None:
        with self._lock:
            db, keys = self._conns()
            row = db.execute(
                "SELECT recording_id FROM interactions WHERE id = ?", (interaction_id,)
            ).fetchone()
            if row is None or row[0] is None:
                return None
            return self._open_recording(keys, row[0])

    def _open_recording(self, keys: sqlite3.Connection, recording_id: str) -> bytes:
        key = keys.execute(
            "SELECT key FROM keys WHERE recording_id = ?", (recording_id,)
        ).fetchone()
        if key is None:
            raise HistoryError(f"the key of recording {recording_id} has been destroyed")
        sealed = (self.audio_dir / f"{recording_id}{AUDIO_SUFFIX}").read_bytes()
        return open_sealed(key[0], sealed, recording_id=recording_id)

    # --- exporting -------------------------------------------------------------------------

    async def async_export(self, config_dir: Path) -> Exported:
        """Write history.json (and kept audio as WAV) into a new folder under the exports."""
        name = export_name(dt_util.utcnow())
        return await self.hass.async_add_executor_job(self.export_blocking, config_dir, name)

    def export_blocking(self, config_dir: Path, name: str) -> Exported:
        """Export into `<config>/sotto_exports/<name>/`, a folder that must not exist yet."""
        with new_export_folder(config_dir, name) as folder:
            interactions, audio_files = self._export(folder)
        return Exported(folder.path, interactions, audio_files)

    def _export(self, directory: ExportFolder) -> tuple[int, int]:
        rows = self._list(None, None)
        audio_files = 0
        items = []
        for row in rows:
            item = row.as_dict()
            if row.recording_id is not None:
                with self._lock:
                    _db, keys = self._conns()
                    pcm = self._open_recording(keys, row.recording_id)
                name = f"interaction-{row.id}.wav"
                with directory.create(name) as out:
                    write_wav(out, pcm)
                item["audio_file"] = name
                audio_files += 1
            items.append(item)
        with directory.create("history.json") as out:
            out.write(json.dumps({"interactions": items}, indent=2, ensure_ascii=False).encode())
        return len(items), audio_files

    # --- purging ---------------------------------------------------------------------------

    async def async_apply_retention(
        self, candidates: frozenset[str] = frozenset(), *, announce: bool = True
    ) -> Removed:
        """Drop rows and audio past the user's retention (on start and on a schedule).

        `candidates` are texts HA holds elsewhere; the result names those the rows held.
        Without `announce` the listeners are not told: the caller tells them (through
        `async_refresh`) once HA's copies are gone too.
        """
        now = dt_util.utcnow()
        # Audio kept under earlier, longer settings goes as soon as the settings shrink.
        removed = await self.hass.async_add_executor_job(
            self._expire,
            _epoch(now - timedelta(days=self.retention.transcript_days)),
            _epoch(now),
            _epoch(now - timedelta(days=self.retention.audio_kept_days)),
            candidates,
        )
        if announce:
            await self.async_refresh()
        return removed

    def _expire(
        self, rows_before: float, now: float, audio_before: float, candidates: frozenset[str]
    ) -> Removed:
        with self._lock:
            db, keys = self._conns()
            removed = self._delete(db, keys, "started_at < ?", (rows_before,), candidates)
            expired = db.execute(
                "SELECT id, recording_id FROM interactions "
                "WHERE recording_id IS NOT NULL AND (audio_until <= ? OR started_at <= ?)",
                (now, audio_before),
            ).fetchall()
            if expired:
                self._erase_recordings(keys, [rec for _id, rec in expired])
                with db:
                    db.executemany(
                        "UPDATE interactions SET recording_id = NULL, audio_until = NULL "
                        "WHERE id = ?",
                        [(row_id,) for row_id, _rec in expired],
                    )
            if removed.interactions or expired:
                _checkpoint(db)
        return Removed(
            interactions=removed.interactions,
            recordings=removed.recordings + len(expired),
            texts=removed.texts,
        )

    async def async_purge(
        self,
        *,
        satellite_id: str | None = None,
        before: datetime | None = None,
        interaction_id: int | None = None,
        candidates: frozenset[str] = frozenset(),
        announce: bool = True,
    ) -> Removed:
        """Delete interactions (all of them when nothing narrows it) and their audio.

        `candidates` are texts found in HA's other stores; the result names those the
        purged rows held, so their copies can be removed too. Without `announce`, as in
        `async_apply_retention`.
        """
        clauses: list[str] = []
        args: list[Any] = []
        if satellite_id is not None:
            clauses.append("satellite_id = ?")
            args.append(satellite_id)
        if before is not None:
            clauses.append("started_at < ?")
            args.append(_epoch(before))
        if interaction_id is not None:
            clauses.append("id = ?")
            args.append(interaction_id)
        where = " AND ".join(clauses) or None
        # The day's counters go with a purge of everything or of a satellite, as each
        # satellite's own ledger does (see README, "Voice history"); a purge of older or
        # single items leaves today's figures as they were.
        counters = before is None and interaction_id is None
        removed = await self.hass.async_add_executor_job(
            self._purge, where, tuple(args), candidates, counters
        )
        if announce:
            await self.async_refresh()
        return removed

    def _purge(
        self,
        where: str | None,
        args: tuple[Any, ...],
        candidates: frozenset[str],
        counters: bool,
    ) -> Removed:
        with self._lock:
            db, keys = self._conns()
            removed = self._delete(db, keys, where, args, candidates)
            if counters:
                with db:
                    db.execute(
                        f"DELETE FROM satellite_days {f'WHERE {where}' if where else ''}", args
                    )
            _checkpoint(db)
        return removed

    def _delete(
        self,
        db: sqlite3.Connection,
        keys: sqlite3.Connection,
        where: str | None,
        args: tuple[Any, ...],
        candidates: frozenset[str] = frozenset(),
    ) -> Removed:
        """Delete matching rows: keys of their audio first, then files, then the rows.

        Only what must be found elsewhere is read back: the distinct replies (the TTS
        cache is keyed by their hash) and which of `candidates` (texts HA holds now) the
        rows contain. Reading every transcript of a big purge would only churn memory.
        """
        clause = f"WHERE {where}" if where else ""
        count = db.execute(f"SELECT COUNT(*) FROM interactions {clause}", args).fetchone()[0]
        if not count:
            return Removed()
        recordings = [
            row[0]
            for row in db.execute(
                f"SELECT recording_id FROM interactions {clause} "
                f"{'AND' if where else 'WHERE'} recording_id IS NOT NULL",
                args,
            )
        ]
        texts = {
            row[0]
            for row in db.execute(f"SELECT DISTINCT response_text FROM interactions {clause}", args)
            if row[0]
        }
        for text in candidates - texts:
            if db.execute(
                f"SELECT 1 FROM interactions {clause} {'AND' if where else 'WHERE'} "
                "(transcript = ? OR response_text = ?) LIMIT 1",
                (*args, text, text),
            ).fetchone():
                texts.add(text)
        self._erase_recordings(keys, recordings)
        with db:
            # Without a WHERE clause SQLite drops the table's pages at once (still zeroed).
            db.execute(f"DELETE FROM interactions {clause}", args)
        return Removed(interactions=count, recordings=len(recordings), texts=frozenset(texts))

    def _erase_recordings(self, keys: sqlite3.Connection, recordings: list[str]) -> None:
        """Crypto-erase: destroy each key (overwritten in place), then remove the file."""
        if not recordings:
            return
        with keys:
            keys.executemany(
                "DELETE FROM keys WHERE recording_id = ?", [(rec,) for rec in recordings]
            )
        _checkpoint(keys)
        for recording_id in recordings:
            (self.audio_dir / f"{recording_id}{AUDIO_SUFFIX}").unlink(missing_ok=True)

    # --- "that wasn't for me" ----------------------------------------------------------------

    async def async_forget_last(
        self,
        *,
        satellite_id: str | None = None,
        candidates: frozenset[str] = frozenset(),
        announce: bool = True,
    ) -> Removed:
        """Delete the last interaction (of one satellite, else of the home) if it started
        within FORGET_WINDOW, counting it as a false wake.

        `candidates` and `announce` as in `async_purge`: the result names the texts HA may
        still hold a copy of.
        """
        now = dt_util.utcnow()
        removed = await self.hass.async_add_executor_job(
            self._forget, satellite_id, _epoch(now - FORGET_WINDOW), _day(now), candidates
        )
        if removed.interactions and announce:
            await self.async_refresh()
        return removed

    def _forget(
        self, satellite_id: str | None, since: float, today: str, candidates: frozenset[str]
    ) -> Removed:
        args: tuple[Any, ...]
        where, args = "started_at >= ?", (since,)
        if satellite_id is not None:
            where, args = f"satellite_id = ? AND {where}", (satellite_id, since)
        with self._lock:
            db, keys = self._conns()
            last = db.execute(
                f"SELECT id, satellite_id FROM interactions WHERE {where} "
                "ORDER BY started_at DESC, id DESC LIMIT 1",
                args,
            ).fetchone()
            if last is None:
                return Removed()
            row_id, owner = last
            removed = self._delete(db, keys, "id = ?", (row_id,), candidates)
            with db:
                db.execute(
                    "INSERT INTO satellite_days (day, satellite_id, false_wakes) VALUES (?, ?, 1) "
                    "ON CONFLICT(day, satellite_id) DO UPDATE SET false_wakes = false_wakes + 1",
                    (today, owner),
                )
            _checkpoint(db)
        return removed


def _move_keystore(old: Path, new: Path) -> None:
    """Move a keystore kept beside the audio (as 0.2.0 did) to its own folder, once."""
    if not old.exists() or new.exists():
        return
    connection = sqlite3.connect(old)
    try:
        _checkpoint(connection)  # everything into the main file, before it moves
    finally:
        connection.close()
    os.replace(old, new)
    for companion in _DB_COMPANIONS:
        Path(f"{old}{companion}").unlink(missing_ok=True)


def _connect(path: Path) -> sqlite3.Connection:
    """Open a database that overwrites what it deletes."""
    connection = sqlite3.connect(path, check_same_thread=False)
    connection.execute("PRAGMA secure_delete = ON")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    return connection


def _checkpoint(connection: sqlite3.Connection) -> None:
    """Fold the write-ahead log into the file and truncate it, so no deleted page lingers."""
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _values(
    interaction: Interaction, recording_id: str | None, audio_until: float | None
) -> dict[str, Any]:
    """An interaction as a row: the one place its columns are listed (`id` is SQLite's)."""
    return {
        "started_at": _epoch(interaction.started_at),
        "satellite_id": interaction.satellite_id,
        "satellite_name": interaction.satellite_name,
        "area": interaction.area,
        "trigger": interaction.trigger.value,
        "wake_word": interaction.wake_word,
        "transcript": interaction.transcript,
        "intent_response": interaction.intent_response,
        "targets": json.dumps(interaction.targets),
        "outcome": interaction.outcome.value,
        "response_text": interaction.response_text,
        "error_code": interaction.error_code,
        "audio_seconds": interaction.audio_seconds,
        "stt_ms": interaction.stt_ms,
        "intent_ms": interaction.intent_ms,
        "total_ms": interaction.total_ms,
        "recording_id": recording_id,
        "audio_until": audio_until,
        "recognized_on": interaction.recognized_on.value if interaction.recognized_on else None,
    }


def _insert(columns: Iterable[str]) -> str:
    """The statement that inserts a row of these columns, each a named parameter."""
    names = list(columns)
    return (
        f"INSERT INTO interactions ({', '.join(names)}) "
        f"VALUES ({', '.join(f':{name}' for name in names)})"
    )


def _stored(row: sqlite3.Row) -> StoredInteraction:
    return StoredInteraction(
        id=row["id"],
        started_at=dt_util.utc_from_timestamp(row["started_at"]),
        satellite_id=row["satellite_id"],
        satellite_name=row["satellite_name"],
        area=row["area"],
        trigger=Trigger(row["trigger"]),
        wake_word=row["wake_word"],
        transcript=row["transcript"],
        intent_response=row["intent_response"],
        targets=tuple(json.loads(row["targets"])),
        outcome=Outcome(row["outcome"]),
        response_text=row["response_text"],
        error_code=row["error_code"],
        audio_seconds=row["audio_seconds"],
        stt_ms=row["stt_ms"],
        intent_ms=row["intent_ms"],
        total_ms=row["total_ms"],
        audio_kept=row["recording_id"] is not None,
        recording_id=row["recording_id"],
        recognized_on=RecognizedOn(row["recognized_on"]) if row["recognized_on"] else None,
    )
