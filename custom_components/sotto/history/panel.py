"""The history view in HA's sidebar: a small panel listing interactions, with delete buttons.

The panel talks to two websocket commands; deleting goes through the same purge as the
action, so a row deleted here is also gone from HA's other stores.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import probatio as vol
from homeassistant.components import frontend, panel_custom, websocket_api
from homeassistant.components.http.server import StaticPathConfig
from homeassistant.components.websocket_api.connection import ActiveConnection
from homeassistant.components.websocket_api.decorators import (
    async_response,
    require_admin,
    websocket_command,
)
from homeassistant.core import HomeAssistant, callback

from .store import HistoryStore

PANEL_URL_PATH: Final = "sotto-history"
PANEL_ELEMENT: Final = "sotto-history-panel"
STATIC_URL: Final = "/sotto_static"
PANEL_MODULE: Final = f"{STATIC_URL}/history-panel.js"
FRONTEND_DIR: Final = Path(__file__).parent.parent / "frontend"
LIST_LIMIT: Final = 500

type StoreGetter = Callable[[], HistoryStore]
type Deleter = Callable[[int | None], Awaitable[dict[str, Any]]]


@callback
def async_register_history_commands(
    hass: HomeAssistant, *, store: StoreGetter, delete: Deleter
) -> None:
    """Register `sotto/history/list` and `sotto/history/delete` (admin only)."""

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
            vol.Optional("interaction_id"): vol.All(int, vol.Range(min=1)),
        }
    )
    @async_response
    async def delete_history(
        hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
    ) -> None:
        connection.send_result(msg["id"], await delete(msg.get("interaction_id")))

    websocket_api.async_register_command(hass, list_history)
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
