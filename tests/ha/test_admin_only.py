"""Only HA's administrators control the voice history: a household member who is not an
administrator ("Guest"), calling through HA's own websocket and REST APIs as the frontend
and apps do, is refused every action that reads, exports, deletes or forgets, and nothing
happens; an administrator still can."""

from __future__ import annotations

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


@pytest.fixture
async def guest_token(hass: HomeAssistant) -> str:
    """A real, non-admin HA user (the "Users" group), signed in."""
    user = await hass.auth.async_create_user("Guest", group_ids=[GROUP_ID_USER])
    assert not user.is_admin
    refresh = await hass.auth.async_create_refresh_token(user, CLIENT_ID)
    return hass.auth.async_create_access_token(refresh)


async def _home(hass: HomeAssistant, tmp_path: Path) -> HistoryStore:
    assert await async_setup_component(hass, "http", {})
    _entry, store = await async_setup_home(hass, tmp_path / "config")
    await store.async_add(interaction("turn on the aardvark lamp"))
    return store


async def _call(
    hass_ws_client: WebSocketGenerator, token: str, service: str, data: dict[str, Any]
) -> dict[str, Any]:
    client = await hass_ws_client(access_token=token)
    await client.send_json_auto_id(
        {
            "type": "call_service",
            "domain": DOMAIN,
            "service": service,
            "service_data": data,
            "return_response": True,
        }
    )
    answer: dict[str, Any] = await client.receive_json()
    await client.close()
    return answer


def _refused(answer: dict[str, Any]) -> bool:
    """HA's websocket API answers an Unauthorized action this way (as for its own)."""
    return answer["success"] is False and answer["error"]["message"] == "Unauthorized"


async def test_a_guest_cannot_purge(
    hass: HomeAssistant,
    tmp_path: Path,
    hass_ws_client: WebSocketGenerator,
    guest_token: str,
    hass_access_token: str,
) -> None:
    """Guest's purge is refused and every row stays; the administrator's purge works."""
    store = await _home(hass, tmp_path)

    assert _refused(await _call(hass_ws_client, guest_token, "purge_history", {}))
    assert [row.transcript for row in await store.async_list()] == ["turn on the aardvark lamp"]

    answer = await _call(hass_ws_client, hass_access_token, "purge_history", {})
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
    hass: HomeAssistant,
    tmp_path: Path,
    hass_ws_client: WebSocketGenerator,
    guest_token: str,
    hass_access_token: str,
) -> None:
    """Guest's export is refused and no export folder appears; the administrator's works."""
    await _home(hass, tmp_path)
    exports = tmp_path / "config" / EXPORTS_DIR

    assert _refused(await _call(hass_ws_client, guest_token, "export_history", {}))
    assert not exports.exists()

    answer = await _call(hass_ws_client, hass_access_token, "export_history", {})
    assert answer["success"], answer
    folder = Path(answer["result"]["response"]["folder"])
    assert folder.parent == exports
    assert b"aardvark" in (folder / "history.json").read_bytes()


async def test_a_guest_cannot_forget(
    hass: HomeAssistant,
    tmp_path: Path,
    hass_ws_client: WebSocketGenerator,
    guest_token: str,
    hass_access_token: str,
) -> None:
    """Guest's "that wasn't for me" is refused and the command is still there."""
    store = await _home(hass, tmp_path)

    assert _refused(await _call(hass_ws_client, guest_token, "not_for_me", {}))
    assert len(await store.async_list()) == 1
    assert store.stats.false_wakes_today == 0

    answer = await _call(hass_ws_client, hass_access_token, "not_for_me", {})
    assert answer["success"], answer
    assert answer["result"]["response"] == {"forgotten": True}
    assert await store.async_list() == []


async def test_a_guest_cannot_press_purge(
    hass: HomeAssistant,
    tmp_path: Path,
    hass_ws_client: WebSocketGenerator,
    guest_token: str,
    hass_access_token: str,
) -> None:
    """The purge button is an action too: Guest's press is refused, the administrator's works."""
    store = await _home(hass, tmp_path)
    press = {"entity_id": "button.sotto_purge_voice_history"}

    client = await hass_ws_client(access_token=guest_token)
    await client.send_json_auto_id(
        {"type": "call_service", "domain": "button", "service": "press", "service_data": press}
    )
    assert _refused(await client.receive_json())
    assert len(await store.async_list()) == 1

    client = await hass_ws_client(access_token=hass_access_token)
    await client.send_json_auto_id(
        {"type": "call_service", "domain": "button", "service": "press", "service_data": press}
    )
    assert (await client.receive_json())["success"]
    assert await store.async_list() == []
