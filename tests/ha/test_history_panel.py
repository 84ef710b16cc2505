"""The history view, in headless Chromium: it lists interactions and deletes them.

A tiny harness page gives the panel element the same `hass.callWS` HA's frontend gives it,
over HA's real websocket API (authenticated with a real access token); Chromium is driven
through its DevTools protocol on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from homeassistant.components.frontend import DATA_PANELS
from homeassistant.components.http import StaticPathConfig
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from .test_history import async_setup_home, interaction

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.usefixtures("socket_enabled"),
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]

HARNESS = """<!doctype html><html><body><script type="module">
const token = decodeURIComponent(location.hash.slice(1));
const ws = new WebSocket(`ws://${location.host}/api/websocket`);
let next = 1;
const pending = new Map();
const ready = new Promise((resolve, reject) => {
  ws.onmessage = (event) => {
    const m = JSON.parse(event.data);
    if (m.type === "auth_required") ws.send(JSON.stringify({type: "auth", access_token: token}));
    else if (m.type === "auth_ok") resolve();
    else if (m.type === "auth_invalid") reject(new Error(m.message));
    else if (m.type === "result") {
      const call = pending.get(m.id);
      pending.delete(m.id);
      m.success ? call.resolve(m.result) : call.reject(new Error(m.error.message));
    }
  };
});
const hass = {
  callWS(message) {
    const id = next++;
    ws.send(JSON.stringify({...message, id}));
    return new Promise((resolve, reject) => pending.set(id, {resolve, reject}));
  },
};
window.confirm = () => true;
await ready;
await import("/sotto_static/history-panel.js");
const panel = document.createElement("sotto-history-panel");
document.body.appendChild(panel);
panel.hass = hass;
window.sottoPanel = panel;
</script></body></html>
"""

# Waits (in the page, up to 10 s as a safety net) until the table shows `count` rows.
ROWS = """(async () => {
  for (let i = 0; i < 200; i++) {
    const panel = window.sottoPanel;
    const rows = panel ? [...panel.shadowRoot.querySelectorAll("tbody tr")] : [];
    if (panel && rows.length === %d) {
      return rows.map((r) => ({id: Number(r.dataset.id),
        transcript: r.querySelector(".transcript").textContent,
        html: r.querySelector(".transcript").innerHTML}));
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return null;
})()"""


class DevTools:
    """A minimal Chrome DevTools protocol client: evaluate JavaScript in the page."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._next = 0

    async def evaluate(self, expression: str) -> Any:
        """Evaluate in the page, awaiting promises; returns the value."""
        for _ in range(50):
            reply = await self._call(expression)
            # The first evaluation may race the page replacing about:blank; try again.
            if "Execution context was destroyed" not in str(reply.get("error")):
                break
            await asyncio.sleep(0.2)
        assert "result" in reply, reply
        assert "exceptionDetails" not in reply["result"], reply
        return reply["result"]["result"].get("value")

    async def _call(self, expression: str) -> dict[str, Any]:
        self._next += 1
        await self._socket.send_json(
            {
                "id": self._next,
                "method": "Runtime.evaluate",
                "params": {"expression": expression, "awaitPromise": True, "returnByValue": True},
            }
        )
        async with asyncio.timeout(20):
            async for message in self._socket:
                data = json.loads(message.data)
                if data.get("id") == self._next:
                    reply: dict[str, Any] = data
                    return reply
        raise AssertionError("DevTools closed")


@asynccontextmanager
async def chromium(url: str, profile: Path) -> AsyncIterator[DevTools]:
    """Run headless Chromium on `url`; stop it by its PID afterwards."""
    assert CHROMIUM is not None
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        url,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        async with asyncio.timeout(30):
            while not port_file.exists() or not port_file.read_text().strip():
                await asyncio.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            page = next(t for t in targets if t["type"] == "page")
            async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as socket:
                yield DevTools(socket)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


async def test_history_panel_lists_and_deletes(
    hass: HomeAssistant,
    tmp_path: Path,
    hass_client: ClientSessionGenerator,
    hass_access_token: str,
) -> None:
    """Rows appear as plain text (no markup runs); Delete removes one, Delete all the rest."""
    assert await async_setup_component(hass, "http", {})
    assert await async_setup_component(hass, "websocket_api", {})
    _home, store = await async_setup_home(hass, tmp_path / "config")
    await store.async_add(interaction("turn on the ibis light"))
    await store.async_add(interaction("<img src=x onerror=alert(1)> spoken markup"))
    await store.async_add(interaction("what is the weather"))
    www = tmp_path / "www"
    www.mkdir()
    (www / "harness.html").write_text(HARNESS)
    await hass.http.async_register_static_paths([StaticPathConfig("/sotto_test", str(www))])
    client = await hass_client()
    url = str(client.make_url("/sotto_test/harness.html")) + "#" + hass_access_token

    async with chromium(url, tmp_path / "profile") as page:
        rows = await page.evaluate(ROWS % 3)
        assert rows is not None
        assert [row["transcript"] for row in rows] == [
            "what is the weather",
            "<img src=x onerror=alert(1)> spoken markup",
            "turn on the ibis light",
        ]
        assert "<img" not in rows[1]["html"]  # shown as text, escaped, never parsed

        ibis = rows[2]["id"]
        await page.evaluate(
            f"window.sottoPanel.shadowRoot.querySelector('tr[data-id=\"{ibis}\"] .delete').click()"
        )
        rows = await page.evaluate(ROWS % 2)
        assert rows is not None
        assert ibis not in [row["id"] for row in rows]
        assert [row.transcript for row in await store.async_list()] == [
            "what is the weather",
            "<img src=x onerror=alert(1)> spoken markup",
        ]
        status = await page.evaluate(
            "window.sottoPanel.shadowRoot.getElementById('status').textContent"
        )
        assert status == "Deleted 1 interaction(s)."

        await page.evaluate("window.sottoPanel.shadowRoot.getElementById('delete-all').click()")
        assert await page.evaluate(ROWS % 0) == []
        assert await store.async_list() == []


async def test_panel_is_in_the_sidebar_while_the_home_is_loaded(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """With HA's frontend, "Voice history" is a sidebar panel for admins; unloading removes it."""
    assert await async_setup_component(hass, "frontend", {})
    home, _store = await async_setup_home(hass, tmp_path / "config")
    panel = hass.data[DATA_PANELS]["sotto-history"]
    assert panel.sidebar_title == "Voice history"
    assert panel.require_admin
    assert panel.config["_panel_custom"]["module_url"] == "/sotto_static/history-panel.js"
    assert await hass.config_entries.async_unload(home.entry_id)
    assert "sotto-history" not in hass.data[DATA_PANELS]
