"""The Voice history panel in HA's sidebar: the kept interactions in HA's data table.

The panel talks to three websocket commands (list, the audio of one interaction, delete),
all for administrators only; deleting goes through the same purge as the action, so a row
deleted here is also gone from HA's other stores. Exporting calls the export action.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import probatio as vol
from homeassistant.components import frontend, panel_custom, websocket_api
from homeassistant.components.http.server import StaticPathConfig
from homeassistant.components.websocket_api.connection import ActiveConnection
from homeassistant.components.websocket_api.const import ERR_NOT_FOUND
from homeassistant.components.websocket_api.decorators import (
    async_response,
    require_admin,
    websocket_command,
)
from homeassistant.components.websocket_api.messages import event_message
from homeassistant.core import HomeAssistant, callback

from .store import HistoryStore, write_wav

PANEL_URL_PATH: Final = "sotto-history"
PANEL_ELEMENT: Final = "sotto-history-panel"
STATIC_URL: Final = "/sotto_static"
PANEL_MODULE: Final = f"{STATIC_URL}/history-panel.js"
FRONTEND_DIR: Final = Path(__file__).parent.parent / "frontend"
LIST_LIMIT: Final = 500
INTERACTION_ID: Final = vol.All(int, vol.Range(min=1))

type StoreGetter = Callable[[], HistoryStore]
type Deleter = Callable[[int | None], Awaitable[dict[str, Any]]]


@callback
def async_register_history_commands(
    hass: HomeAssistant, *, store: StoreGetter, delete: Deleter
) -> None:
    """Register `sotto/history/list`, `.../subscribe`, `.../audio` and `.../delete` (admin
    only)."""

    @require_admin
    @websocket_command(
        {
            vol.Required("type"): "sotto/history/list",
            vol.Optional("limit", default=LIST_LIMIT): vol.All(int, vol.Range(min=1, max=5000)),
        }
    )
    @async_response
    async def list_history(
        hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
    ) -> None:
        rows = await store().async_list(limit=msg["limit"])
        connection.send_result(msg["id"], {"interactions": [row.as_dict() for row in rows]})

    @require_admin
    @websocket_command(
        {
            vol.Required("type"): "sotto/history/delete",
            vol.Optional("interaction_id"): INTERACTION_ID,
        }
    )
    @async_response
    async def delete_history(
        hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
    ) -> None:
        connection.send_result(msg["id"], await delete(msg.get("interaction_id")))

    @require_admin
    @websocket_command(
        {
            vol.Required("type"): "sotto/history/audio",
            vol.Required("interaction_id"): INTERACTION_ID,
        }
    )
    @async_response
    async def history_audio(
        hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
    ) -> None:
        pcm = await store().async_audio(msg["interaction_id"])
        if pcm is None:
            connection.send_error(
                msg["id"], ERR_NOT_FOUND, "No audio was kept for this interaction"
            )
            return
        wav = io.BytesIO()
        write_wav(wav, pcm)
        connection.send_result(msg["id"], {"wav": base64.b64encode(wav.getvalue()).decode()})

    @require_admin
    @websocket_command({vol.Required("type"): "sotto/history/subscribe"})
    @callback
    def subscribe_history(
        hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
    ) -> None:
        """An event each time the history changes, so an open panel shows new commands."""

        @callback
        def changed() -> None:
            connection.send_message(event_message(msg["id"], {"changed": True}))

        connection.subscriptions[msg["id"]] = store().subscribe(changed)
        connection.send_result(msg["id"])

    websocket_api.async_register_command(hass, list_history)
    websocket_api.async_register_command(hass, subscribe_history)
    websocket_api.async_register_command(hass, history_audio)
    websocket_api.async_register_command(hass, delete_history)


async def async_serve_frontend(hass: HomeAssistant) -> None:
    """Serve the panel's script (once per HA run: routes cannot be removed)."""
    await hass.http.async_register_static_paths(
        [StaticPathConfig(STATIC_URL, str(FRONTEND_DIR), cache_headers=False)]
    )


async def async_register_panel(hass: HomeAssistant) -> Callable[[], None]:
    """Add the sidebar entry; returns the removal."""
    await panel_custom.async_register_panel(
        hass,
        frontend_url_path=PANEL_URL_PATH,
        webcomponent_name=PANEL_ELEMENT,
        sidebar_title="Voice history",
        sidebar_icon="mdi:account-voice",
        module_url=PANEL_MODULE,
        require_admin=True,
    )

    @callback
    def remove() -> None:
        frontend.async_remove_panel(hass, PANEL_URL_PATH)

    return remove
