"""The engine's optional zeroconf announcement: `_sotto._tcp` with TXT role=engine."""

from __future__ import annotations

import pytest

pytest.importorskip("zeroconf")

from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from sotto_voice.discovery import SERVICE_TYPE

from .conftest import EngineFactory


async def resolve(name: str) -> AsyncServiceInfo:
    """Look the service up over multicast DNS on the loopback interface."""
    zeroconf = AsyncZeroconf(ip_version=IPVersion.V4Only, interfaces=["127.0.0.1"])
    try:
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        assert await info.async_request(zeroconf.zeroconf, 3000), f"{name} not found"
        return info
    finally:
        await zeroconf.async_close()


async def test_engine_announces_itself_when_asked(start_engine: EngineFactory) -> None:
    async with start_engine(discovery={"enabled": True, "address": "127.0.0.1"}) as engine:
        info = await resolve(f"Test engine {engine.identity.device_id[-6:]}.{SERVICE_TYPE}")

    assert info.port == engine.port
    assert info.parsed_addresses() == ["127.0.0.1"]
    assert info.properties[b"role"] == b"engine"
    assert info.properties[b"id"] == engine.identity.device_id.encode()
    assert info.properties[b"encrypted"] == b"1"


async def test_engine_is_silent_by_default(start_engine: EngineFactory) -> None:
    async with start_engine() as engine:
        zeroconf = AsyncZeroconf(ip_version=IPVersion.V4Only, interfaces=["127.0.0.1"])
        try:
            info = AsyncServiceInfo(
                SERVICE_TYPE, f"Test engine {engine.identity.device_id[-6:]}.{SERVICE_TYPE}"
            )
            found = await info.async_request(zeroconf.zeroconf, 1000)
        finally:
            await zeroconf.async_close()

    assert not found
