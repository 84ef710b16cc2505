"""A purge that reaches every copy: Sotto's history and what HA itself kept.

Besides the history store, Home Assistant may hold a command in its recorder (the
states of Sotto's entities), in the assist pipeline's debug runs (transcript and reply),
in the conversation agent's chat logs (kept in memory for a few minutes),
in the TTS cache (the spoken reply, keyed by a hash of its text) and in debug
recordings; the satellite holds its own ledger and audio buffers; and every export an
administrator made is a copy of the whole history.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol

from homeassistant.components.assist_pipeline.const import (
    CONF_DEBUG_RECORDING_DIR,
    DATA_CONFIG,
)
from homeassistant.components.assist_pipeline.pipeline import (
    KEY_ASSIST_PIPELINE,
    async_get_pipelines,
)
from homeassistant.components.conversation.chat_log import (
    DATA_CHAT_LOGS,
    ChatLog,
    SystemContent,
    current_chat_log,
)
from homeassistant.components.tts.const import DATA_TTS_MANAGER
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er

from sotto_voice.messages import Purged

from ..connection import PurgeError  # noqa: TID252
from .files import remove_exports
from .store import HistoryStore, Removed

_LOGGER = logging.getLogger(__name__)

# How long a satellite has to confirm that it cleared what it holds.
SATELLITE_ANSWER_TIMEOUT: Final = 5.0


@dataclass(frozen=True, slots=True)
class PurgeScope:
    """What to purge; nothing set means everything."""

    satellite_id: str | None = None
    """A satellite's device key (its config entry's unique ID)."""
    before: datetime | None = None
    interaction_id: int | None = None

    @property
    def everything(self) -> bool:
        """Whether nothing narrows the purge."""
        return self.satellite_id is None and self.before is None and self.interaction_id is None


class SatelliteLink(Protocol):
    """What a purge needs of a satellite's connection."""

    @property
    def name(self) -> str:
        """The satellite's name."""

    async def async_purge(self, timeout: float) -> Purged:
        """Have the satellite clear what it keeps; raises `PurgeError`."""


async def async_purge_everywhere(
    hass: HomeAssistant,
    store: HistoryStore,
    scope: PurgeScope,
    *,
    domain: str,
    satellites: Mapping[str, SatelliteLink],
    keep_exports: bool = False,
) -> dict[str, Any]:
    """Purge the history and every copy HA or a satellite holds; returns what went, by store.

    Exports go too (each holds the whole history as it was), unless `keep_exports`.
    """
    removed = await store.async_purge(
        satellite_id=scope.satellite_id,
        before=scope.before,
        interaction_id=scope.interaction_id,
        candidates=_texts_held_by_ha(hass),
        announce=False,
    )
    sotto_entities = _sotto_entity_ids(hass, domain, scope.satellite_id)
    result: dict[str, Any] = {
        "history": {"interactions": removed.interactions, "recordings": removed.recordings},
        "pipeline_debug": {"runs": _purge_pipeline_debug(hass, removed, sotto_entities, scope)},
        "chat_logs": {"conversations": _purge_chat_logs(hass, removed)},
        "tts_cache": {"entries": await _async_purge_tts_cache(hass, removed, sotto_entities)},
        "debug_recordings": {
            "directories": await _async_purge_debug_recordings(hass, domain, scope)
        },
        "recorder": {"entities": await _async_purge_recorder(hass, scope, sotto_entities)},
        "satellites": await _async_purge_satellites(scope, satellites),
        "exports": {
            "folders": 0
            if keep_exports
            else await hass.async_add_executor_job(remove_exports, Path(hass.config.config_dir))
        },
    }
    # Only now do the sensors show the smaller history: the purge is complete.
    await store.async_refresh()
    _LOGGER.info(
        "Voice history purged: %s interactions, %s recordings",
        removed.interactions,
        removed.recordings,
    )
    return result


async def async_expire_everywhere(hass: HomeAssistant, store: HistoryStore) -> Removed:
    """Apply the retention, and drop HA's copies (debug runs, chat logs, cached replies)
    of what it removed, so nothing outlives its window elsewhere; the history's listeners
    hear of it once every copy is gone."""
    removed = await store.async_apply_retention(_texts_held_by_ha(hass), announce=False)
    await _async_purge_copies_of(hass, removed)
    await store.async_refresh()
    return removed


async def async_forget_everywhere(
    hass: HomeAssistant, store: HistoryStore, *, satellite_id: str | None
) -> int:
    """Forget the last command ("never mind, that wasn't for you") and HA's copies of it
    (its debug run, the chat log's lines, the cached reply); returns how many went (0/1)."""
    removed = await store.async_forget_last(
        satellite_id=satellite_id, candidates=_texts_held_by_ha(hass), announce=False
    )
    if removed.interactions:
        await _async_purge_copies_of(hass, removed)
        await store.async_refresh()
    return removed.interactions


async def _async_purge_copies_of(hass: HomeAssistant, removed: Removed) -> None:
    """Drop what HA holds of removed interactions' texts, whichever pipeline made it."""
    if removed.texts:
        _purge_pipeline_debug(hass, removed, [], PurgeScope())
        _purge_chat_logs(hass, removed)
        await _async_purge_tts_cache(hass, removed, [])


def _sotto_entity_ids(hass: HomeAssistant, domain: str, satellite_id: str | None) -> list[str]:
    """Sotto's entities: all of them, or one satellite's."""
    registry = er.async_get(hass)
    if satellite_id is None:
        return [e.entity_id for e in registry.entities.values() if e.platform == domain]
    devices = dr.async_get(hass).async_get_devices(identifiers={(domain, satellite_id)})
    return [
        e.entity_id for device in devices for e in er.async_entries_for_device(registry, device.id)
    ]


def _strings(data: Any) -> Iterator[str]:
    """Every string inside nested event data."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, Mapping):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list | tuple):
        for value in data:
            yield from _strings(value)


def _texts_held_by_ha(hass: HomeAssistant) -> frozenset[str]:
    """Texts in HA's debug runs and chat logs, to ask the history which it held."""
    texts: set[str] = set()
    if (data := hass.data.get(KEY_ASSIST_PIPELINE)) is not None:
        for runs in data.pipeline_debug.values():
            for run in runs.values():
                for event in run.events:
                    texts.update(_strings(event.data))
    for log in (hass.data.get(DATA_CHAT_LOGS) or {}).values():
        texts.update(_strings([getattr(content, "content", None) for content in log.content]))
    return frozenset(text for text in texts if text.strip())


def _mentions(data: Any, texts: frozenset[str]) -> bool:
    dumped = json.dumps(data, default=str, ensure_ascii=False)
    return any(text in dumped for text in texts)


def _purge_pipeline_debug(
    hass: HomeAssistant, removed: Removed, sotto_entities: list[str], scope: PurgeScope
) -> int:
    """Drop HA's stored pipeline debug runs: Sotto's pipelines, and any naming a purged text."""
    data = hass.data.get(KEY_ASSIST_PIPELINE)
    if data is None:
        return 0
    ours = set(sotto_entities)
    sotto_pipelines = {
        pipeline.id
        for pipeline in async_get_pipelines(hass)
        if pipeline.stt_engine in ours or pipeline.tts_engine in ours
    }
    count = 0
    for pipeline_id, runs in data.pipeline_debug.items():
        whole = scope.everything and pipeline_id in sotto_pipelines
        for run_id in list(runs):
            run = runs[run_id]
            if whole or (
                removed.texts and _mentions([event.data for event in run.events], removed.texts)
            ):
                del runs[run_id]
                count += 1
    return count


def _purge_chat_logs(hass: HomeAssistant, removed: Removed) -> int:
    """Drop the lines that hold a purged text from the conversation agent's chat logs;
    returns how many conversations lost a line.

    The logs stay (HA removes each when its session ends, and a missing one is an error
    then). The log of a conversation running now is a copy that HA stores back when the
    turn ends ("never mind" continues the command's conversation): it is cleaned too.
    """
    if not removed.texts:
        return 0
    logs = list((hass.data.get(DATA_CHAT_LOGS) or {}).values())
    if (running := current_chat_log.get()) is not None:
        logs.append(running)
    return len({log.conversation_id for log in logs if _drop_lines(log, removed.texts)})


def _drop_lines(log: ChatLog, texts: frozenset[str]) -> bool:
    """Remove a chat log's user and assistant lines that hold one of `texts`."""
    kept = [
        content
        for content in log.content
        if isinstance(content, SystemContent)
        or not _mentions(getattr(content, "content", None), texts)
    ]
    if len(kept) == len(log.content):
        return False
    log.content[:] = kept
    return True


async def _async_purge_tts_cache(
    hass: HomeAssistant, removed: Removed, sotto_entities: list[str]
) -> int:
    """Drop cached replies: those Sotto's TTS made, and any speaking a purged text."""
    manager = hass.data.get(DATA_TTS_MANAGER)
    if manager is None:
        return 0
    engines = tuple(f"_{e}".lower() for e in sotto_entities if e.startswith("tts."))
    hashes = tuple(hashlib.sha1(t.encode()).hexdigest() for t in removed.texts)

    def ours(cache_key: str) -> bool:
        return cache_key.startswith(hashes) or cache_key.endswith(engines)

    gone = {key for key in manager.mem_cache if ours(key)}
    files = {key: name for key, name in manager.file_cache.items() if ours(key)}
    for key in gone:
        del manager.mem_cache[key]
    for key in files:
        del manager.file_cache[key]
    for token, stream in list(manager.token_to_stream.items()):
        if stream.engine.lower().endswith(tuple(e[1:] for e in engines)):
            del manager.token_to_stream[token]
    cache_dir = Path(manager.cache_dir)

    def remove() -> None:
        for name in files.values():
            (cache_dir / name).unlink(missing_ok=True)

    await hass.async_add_executor_job(remove)
    return len(gone | set(files))


async def _async_purge_debug_recordings(hass: HomeAssistant, domain: str, scope: PurgeScope) -> int:
    """Remove the WAVs HA's pipeline debug recording wrote for Sotto's satellites."""
    config = hass.data.get(DATA_CONFIG) or {}
    root = config.get(CONF_DEBUG_RECORDING_DIR)
    if not root or scope.before is not None or scope.interaction_id is not None:
        return 0
    devices = dr.async_get(hass)
    targets = [
        Path(root) / device.id
        for device in devices.devices
        if any(ident[0] == domain for ident in device.identifiers)
        and (scope.satellite_id is None or (domain, scope.satellite_id) in device.identifiers)
    ]

    def remove() -> int:
        count = 0
        for target in targets:
            if target.is_dir():
                shutil.rmtree(target)
                count += 1
        return count

    return await hass.async_add_executor_job(remove)


async def _async_purge_recorder(
    hass: HomeAssistant, scope: PurgeScope, sotto_entities: list[str]
) -> int:
    """Purge the recorder (and so the logbook) rows of Sotto's entities, and wait for it."""
    if "recorder" not in hass.config.components or not sotto_entities:
        return 0
    if scope.before is not None or scope.interaction_id is not None:
        # Entity states never carry transcripts; a narrow purge leaves them be.
        return 0
    from homeassistant.helpers.recorder import get_instance

    await hass.services.async_call(
        "recorder", "purge_entities", {"entity_id": sotto_entities, "keep_days": 0}, blocking=True
    )
    await get_instance(hass).async_block_till_done()
    return len(sotto_entities)


async def _async_purge_satellites(
    scope: PurgeScope, satellites: Mapping[str, SatelliteLink]
) -> dict[str, Any]:
    """Tell each satellite in scope to clear what it holds; report what each cleared."""
    if scope.before is not None or scope.interaction_id is not None:
        return {}
    answers: dict[str, Any] = {}
    await asyncio.gather(
        *(
            _async_purge_satellite(link, answers)
            for key, link in satellites.items()
            if scope.satellite_id is None or key == scope.satellite_id
        )
    )
    return answers


async def _async_purge_satellite(connection: SatelliteLink, answers: dict[str, Any]) -> None:
    try:
        purged = await connection.async_purge(SATELLITE_ANSWER_TIMEOUT)
    except PurgeError as err:
        answers[connection.name] = str(err)
        return
    answers[connection.name] = list(purged.cleared)
