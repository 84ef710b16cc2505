"""Headless Chromium driven over its DevTools protocol (no browser download: Debian's
chromium), for tests that look at pages as a user does."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

import aiohttp

CHROMIUM: Final = shutil.which("chromium") or shutil.which("chromium-browser")
MISSING: Final = "Chromium is not installed (apt-get install -y chromium; ./scripts/setup does)"
STEP: Final = 0.1

# What a user sees: the text of every visible element, shadow roots included, in order.
VISIBLE_TEXT: Final = """(() => {
  const parts = [];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) {
      const el = node.parentElement;
      if (el && el.checkVisibility && !el.checkVisibility()) return;
      const text = node.textContent.trim();
      if (text) parts.push(text);
      return;
    }
    if (node.nodeType !== Node.ELEMENT_NODE && node.nodeType !== Node.DOCUMENT_FRAGMENT_NODE
        && node.nodeType !== Node.DOCUMENT_NODE) return;
    if (node.nodeType === Node.ELEMENT_NODE) {
      if (["SCRIPT", "STYLE", "TEMPLATE"].includes(node.tagName)) return;
      // A shadow root shows the element's children through its slots only.
      if (node.shadowRoot) { walk(node.shadowRoot); return; }
      if (node.tagName === "SLOT") {
        const assigned = node.assignedNodes();
        (assigned.length ? assigned : node.childNodes).forEach(walk);
        return;
      }
    }
    node.childNodes.forEach(walk);
  };
  walk(document);
  return parts.join("\\n");
})()"""

# Finding elements through shadow roots: `__deep(selector)` (the first match),
# `__deepAll(selector)` (every match) and `__row(text)` (the data table row showing text).
DEEP: Final = """window.__deepAll = (selector, root = document, found = []) => {
  found.push(...root.querySelectorAll(selector));
  for (const el of root.querySelectorAll("*")) {
    if (el.shadowRoot) window.__deepAll(selector, el.shadowRoot, found);
  }
  return found;
};
window.__deep = (selector) => window.__deepAll(selector)[0] ?? null;
window.__row = (text) =>
  window.__deepAll(".mdc-data-table__row").find((row) => row.textContent.includes(text));"""


class Page:
    """One browser tab: evaluate, navigate, resize, photograph."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._next = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command; its result."""
        self._next += 1
        await self._socket.send_json({"id": self._next, "method": method, "params": params})
        async with asyncio.timeout(60):
            async for message in self._socket:
                data = json.loads(message.data)
                if data.get("id") == self._next:
                    if "error" in data:
                        raise AssertionError(f"{method}: {data['error']}")
                    result: dict[str, Any] = data["result"]
                    return result
        raise AssertionError("DevTools closed")

    async def evaluate(self, expression: str) -> Any:
        """Evaluate in the page, awaiting promises; returns the value."""
        for _ in range(50):
            try:
                reply = await self.call(
                    "Runtime.evaluate",
                    expression=expression,
                    awaitPromise=True,
                    returnByValue=True,
                )
            except AssertionError as err:
                # The first evaluation may race a navigation; try again.
                if "context" not in str(err):
                    raise
                await asyncio.sleep(0.2)
                continue
            assert "exceptionDetails" not in reply, reply["exceptionDetails"]
            return reply["result"].get("value")
        raise AssertionError(f"could not evaluate {expression[:80]}")

    async def goto(self, url: str) -> None:
        """Open `url` and wait for its document."""
        await self.call("Page.navigate", url=url)
        await self.wait_for("document.readyState === 'complete'")
        await self.evaluate(DEEP)

    async def resize(self, width: int, height: int, *, mobile: bool = False) -> None:
        """Emulate a screen `width` CSS pixels wide (a phone with `mobile`)."""
        await self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=mobile,
        )

    async def wait_for(self, condition: str, timeout: float = 30) -> Any:
        """Wait until the JavaScript `condition` is truthy (polled); its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        value: Any = None
        while loop.time() < deadline:
            try:
                value = await self.evaluate(
                    f"(() => {{ try {{ return {condition}; }} catch (e) {{ return null; }} }})()"
                )
            except AssertionError:
                value = None
            if value:
                return value
            await asyncio.sleep(STEP)
        raise AssertionError(f"never true within {timeout:.0f} s: {condition}")

    async def wait_for_text(self, text: str, timeout: float = 30) -> str:
        """Wait until `text` is visible; all visible text."""
        try:
            await self.wait_for(f"{VISIBLE_TEXT}.includes({json.dumps(text)})", timeout)
        except AssertionError:
            shown = (await self.text()).replace("\n", " | ")
            raise AssertionError(f"{text!r} never shown; the page shows: {shown[:1500]}") from None
        return await self.text()

    async def wait_for_lines(
        self,
        shown: set[str],
        gone: set[str] = frozenset(),
        timeout: float = 30,  # type: ignore[assignment]
    ) -> str:
        """Wait until each of `shown` is a visible line and none of `gone` is; all the text
        (the page renders after a change, not at once)."""
        lines = f"new Set({VISIBLE_TEXT}.split('\\n').map((line) => line.trim()))"
        condition = (
            f"((seen) => {json.dumps(sorted(shown))}.every((x) => seen.has(x))"
            f" && !{json.dumps(sorted(gone))}.some((x) => seen.has(x)))({lines})"
        )
        try:
            await self.wait_for(condition, timeout)
        except AssertionError:
            text = (await self.text()).replace("\n", " | ")
            raise AssertionError(
                f"never {sorted(shown)} shown, {sorted(gone)} gone; the page shows: {text[:1500]}"
            ) from None
        return await self.text()

    async def text(self) -> str:
        """The text a user sees on the page now."""
        value: str = await self.evaluate(VISIBLE_TEXT)
        return value

    async def screenshot(self, target: Path) -> Path:
        """Save what the page shows (the whole emulated screen) as a PNG."""
        shot = await self.call("Page.captureScreenshot", format="png")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(shot["data"]))
        return target


@asynccontextmanager
async def chromium(url: str, profile: Path) -> AsyncIterator[Page]:
    """Run headless Chromium on `url`; stop it by its PID afterwards."""
    assert CHROMIUM is not None, MISSING
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        "--lang=en-US",
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
                await asyncio.sleep(STEP)
        port = int(port_file.read_text().split()[0])
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            page = next(t for t in targets if t["type"] == "page")
            async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as socket:
                yield Page(socket)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


async def log_in(page: Page, url: str, token: str) -> None:
    """Put an access token where HA's frontend keeps its login (on HA's own origin)."""
    tokens = {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": 7200,
        "expires": 4_000_000_000_000,
        "refresh_token": "",
        "hassUrl": url,
        "clientId": f"{url}/",
    }
    await page.goto(f"{url}/manifest.json")
    await page.evaluate(f"localStorage.setItem('hassTokens', {json.dumps(json.dumps(tokens))})")
