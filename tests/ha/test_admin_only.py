"""Only HA's administrators control the voice history: a household member who is not an
administrator ("Guest"), calling through HA's own websocket and REST APIs as the frontend
and apps do, is refused every action that reads, exports, deletes or forgets, and nothing
happens; an administrator still can."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from homeassistant.auth.const import GROUP_ID_USER
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import CLIENT_ID
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from custom_components.sotto.const import DOMAIN
from custom_components.sotto.history.files import EXPORTS_DIR
from custom_components.sotto.history.store import HistoryStore

from .test_history import async_setup_home, interaction

type Caller = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]
"""Calls domain.service with data over HA's websocket API; returns HA's answer."""


def _caller(hass_ws_client: WebSocketGenerator, token: str) -> Caller:
    async def call(domain: str, service: str, data: dict[str, Any]) -> dict[str, Any]:
        client = await hass_ws_client(access_token=token)
        await client.send_json_auto_id(
            {
                "type": "call_service",
                "domain": domain,
                "service": service,
                "service_data": data,
                "return_response": domain == DOMAIN,
            }
        )
        answer: dict[str, Any] = await client.receive_json()
        await client.close()
        return answer

    return call


@pytest.fixture
async def guest_token(hass: HomeAssistant) -> str:
    """A real, non-admin HA user (the "Users" group), signed in."""
    user = await hass.auth.async_create_user("Guest", group_ids=[GROUP_ID_USER])
    assert not user.is_admin
    refresh = await hass.auth.async_create_refresh_token(user, CLIENT_ID)
    return hass.auth.async_create_access_token(refresh)


@pytest.fixture
def as_guest(hass_ws_client: WebSocketGenerator, guest_token: str) -> Caller:
    """Call actions as Guest, as HA's frontend and apps do."""
    return _caller(hass_ws_client, guest_token)


@pytest.fixture
def as_admin(hass_ws_client: WebSocketGenerator, hass_access_token: str) -> Caller:
    """Call actions as an administrator."""
    return _caller(hass_ws_client, hass_access_token)


async def _home(hass: HomeAssistant, tmp_path: Path) -> HistoryStore:
    assert await async_setup_component(hass, "http", {})
    _entry, store = await async_setup_home(hass, tmp_path / "config")
    await store.async_add(interaction("turn on the aardvark lamp"))
    return store


def _refused(answer: dict[str, Any]) -> bool:
    """HA's websocket API answers an Unauthorized action this way (as for its own)."""
    return answer["success"] is False and answer["error"]["message"] == "Unauthorized"


async def test_a_guest_cannot_purge(
    hass: HomeAssistant, tmp_path: Path, as_guest: Caller, as_admin: Caller
) -> None:
    """Guest's purge is refused and every row stays; the administrator's purge works."""
    store = await _home(hass, tmp_path)

    assert _refused(await as_guest(DOMAIN, "purge_history", {}))
    assert [row.transcript for row in await store.async_list()] == ["turn on the aardvark lamp"]

    answer = await as_admin(DOMAIN, "purge_history", {})
    assert answer["success"], answer
    assert answer["result"]["response"]["history"]["interactions"] == 1
    assert await store.async_list() == []


async def test_a_guest_cannot_purge_over_rest(
    hass: HomeAssistant,
    tmp_path: Path,
    hass_client: ClientSessionGenerator,
    guest_token: str,
) -> None:
    """The REST API refuses Guest the same way (401), and nothing is purged."""
    store = await _home(hass, tmp_path)
    assert await async_setup_component(hass, "api", {})
    client = await hass_client(guest_token)
    response = await client.post(f"/api/services/{DOMAIN}/purge_history", json={})
    assert response.status == 401
    assert len(await store.async_list()) == 1


async def test_a_guest_cannot_export(
    hass: HomeAssistant, tmp_path: Path, as_guest: Caller, as_admin: Caller
) -> None:
    """Guest's export is refused and no export folder appears; the administrator's works."""
    await _home(hass, tmp_path)
    exports = tmp_path / "config" / EXPORTS_DIR

    assert _refused(await as_guest(DOMAIN, "export_history", {}))
    assert not exports.exists()

    answer = await as_admin(DOMAIN, "export_history", {})
    assert answer["success"], answer
    folder = Path(answer["result"]["response"]["folder"])
    assert folder.parent == exports
    assert b"aardvark" in (folder / "history.json").read_bytes()


async def test_a_guest_cannot_forget(
    hass: HomeAssistant, tmp_path: Path, as_guest: Caller, as_admin: Caller
) -> None:
    """Guest's "that wasn't for me" is refused and the command is still there."""
    store = await _home(hass, tmp_path)

    assert _refused(await as_guest(DOMAIN, "not_for_me", {}))
    assert len(await store.async_list()) == 1
    assert store.stats.false_wakes_today == 0

    answer = await as_admin(DOMAIN, "not_for_me", {})
    assert answer["success"], answer
    assert answer["result"]["response"] == {"forgotten": 1}
    assert await store.async_list() == []


async def test_a_guest_cannot_press_purge(
    hass: HomeAssistant, tmp_path: Path, as_guest: Caller, as_admin: Caller
) -> None:
    """The purge button is an action too: Guest's press is refused, the administrator's works."""
    store = await _home(hass, tmp_path)
    press = {"entity_id": "button.sotto_purge_voice_history"}

    assert _refused(await as_guest("button", "press", press))
    assert len(await store.async_list()) == 1

    assert (await as_admin("button", "press", press))["success"]
    assert await store.async_list() == []


async def _typed(hass_ws_client: WebSocketGenerator, token: str, text: str) -> str:
    """Type a sentence into Assist (HA's conversation API) as the token's user; the reply."""
    client = await hass_ws_client(access_token=token)
    await client.send_json_auto_id({"type": "conversation/process", "text": text})
    answer: dict[str, Any] = await client.receive_json()
    await client.close()
    assert answer["success"], answer
    speech: str = answer["result"]["response"]["speech"]["plain"]["speech"]
    return speech


async def test_a_guest_cannot_forget_by_typing(
    hass: HomeAssistant,
    tmp_path: Path,
    hass_ws_client: WebSocketGenerator,
    guest_token: str,
    hass_access_token: str,
) -> None:
    """Typed into Assist (not said to a satellite), "never mind, that wasn't for you" reaches
    the whole home's history: Guest is told only an administrator can, and nothing goes."""
    store = await _home(hass, tmp_path)
    sentence = "never mind, that wasn't for you"

    reply = await _typed(hass_ws_client, guest_token, sentence)
    assert reply.startswith("Only an administrator")
    assert len(await store.async_list()) == 1
    assert store.stats.false_wakes_today == 0

    assert await _typed(hass_ws_client, hass_access_token, sentence) == "OK, forgotten."
    assert await store.async_list() == []
    assert store.stats.false_wakes_today == 1
