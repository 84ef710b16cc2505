"""A running sotto-engine on 127.0.0.1 and a real sotto_voice.link client to talk to it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from wyoming.event import Event

from sotto_voice.engine.config import EngineConfig, validate
from sotto_voice.engine.server import RunningEngine, running_engine
from sotto_voice.link import Link, LinkKey, PeerIdentity, connect, write_key_file

HOME_ASSISTANT = PeerIdentity(device_id="ha-test", name="Home Assistant", role="controller")
# Ends of a reply: the events after which the engine waits for the next request.
REPLY_ENDS = frozenset({"audio-stop", "error", "info", "transcript", "sotto-grammar-ready"})


def engine_config(tmp_path: Path, **overrides: Any) -> EngineConfig:
    """A configuration for an engine on a free port of 127.0.0.1 with its state in tmp_path."""
    raw: dict[str, Any] = {
        "name": "Test engine",
        "device_id": "engine-test",
        "state_dir": str(tmp_path / "state"),
        "link": {"host": "127.0.0.1", "port": 0},
        # The grammar recogniser unless a test asks for another (test_server_whisper.py).
        "stt": {"enabled": False, "recognizer": "grammar"},
    }
    for key, value in overrides.items():
        if isinstance(value, dict):
            raw[key] = {**raw.get(key, {}), **value}
        else:
            raw[key] = value
    return validate(raw, source="test")


@pytest.fixture
def key() -> LinkKey:
    """A fresh pre-shared key."""
    return LinkKey.generate()


EngineFactory = Callable[..., contextlib.AbstractAsyncContextManager[RunningEngine]]


@pytest.fixture
def start_engine(tmp_path: Path, key: LinkKey) -> EngineFactory:
    """Start an engine from a configuration (its key written to the configured key file)."""

    @contextlib.asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[RunningEngine]:
        config = engine_config(tmp_path, **overrides)
        config.state_dir.mkdir(parents=True, exist_ok=True)
        if not config.key_file.exists():
            write_key_file(config.key_file, key)
        async with running_engine(config) as engine:
            yield engine

    return start


@contextlib.asynccontextmanager
async def client(engine: RunningEngine, key: LinkKey) -> AsyncIterator[Link]:
    """A link to the engine, checking it is the engine we expect."""
    async with connect(
        "127.0.0.1",
        engine.port,
        key=key,
        identity=HOME_ASSISTANT,
        expected_device_id=engine.identity.device_id,
    ) as link:
        yield link


async def reply(link: Link, *events: Event) -> list[Event]:
    """Send events, then read the engine's answer up to and including its last event."""
    for event in events:
        await link.write_event(event)
    answer: list[Event] = []
    while True:
        event = await link.read_event()
        answer.append(event)
        if event.type in REPLY_ENDS or event.type == "sotto-grammar-missing":
            return answer
