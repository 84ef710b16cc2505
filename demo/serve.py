"""--serve: a login for the web UI, onboarding marked done, and a screenshot check."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Final

from homeassistant.auth.const import GROUP_ID_ADMIN
from homeassistant.auth.models import TOKEN_TYPE_LONG_LIVED_ACCESS_TOKEN
from homeassistant.auth.providers import homeassistant as hass_auth
from homeassistant.core import HomeAssistant

USERNAME: Final = "demo"
SCREENSHOT_TIMEOUT: Final = 90.0
ONBOARDING_STEPS: Final = ("user", "core_config", "analytics", "integration")


class ServeError(RuntimeError):
    """The web UI could not be prepared or shown."""


def mark_onboarded(config_dir: Path) -> None:
    """Write onboarding as done before Home Assistant starts, so the UI goes to login."""
    storage = config_dir / ".storage"
    storage.mkdir(parents=True, exist_ok=True)
    (storage / "onboarding").write_text(
        json.dumps(
            {
                "version": 4,
                "minor_version": 1,
                "key": "onboarding",
                "data": {"done": list(ONBOARDING_STEPS)},
            }
        )
    )


async def async_create_login(hass: HomeAssistant) -> tuple[str, str]:
    """Create an administrator with a fresh password; returns (username, password)."""
    password = secrets.token_urlsafe(9)
    provider = hass_auth.async_get_provider(hass)
    await provider.async_add_auth(USERNAME, password)
    user = await hass.auth.async_create_user("Demo", group_ids=[GROUP_ID_ADMIN])
    credentials = await provider.async_get_or_create_credentials({"username": USERNAME})
    await hass.auth.async_link_user(user, credentials)
    return USERNAME, password


async def async_screenshot(hass: HomeAssistant, url: str, page: str, target: Path) -> Path:
    """Log in with a token in a headless Chromium, open `page`, save a PNG at `target`."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise ServeError("the screenshot needs Chromium: apt-get install -y chromium")
    users = [user for user in await hass.auth.async_get_users() if not user.system_generated]
    if not users:
        raise ServeError("no user to log in as")
    refresh = await hass.auth.async_create_refresh_token(
        users[0],
        client_name=f"sotto demo screenshot {time.time():.0f}",
        token_type=TOKEN_TYPE_LONG_LIVED_ACCESS_TOKEN,
        access_token_expiration=timedelta(hours=1),
    )
    access = hass.auth.async_create_access_token(refresh)
    tokens = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 3600,
        "expires": int(time.time() * 1000) + 3_600_000,
        "refresh_token": "",
        "hassUrl": url,
        "clientId": f"{url}/",
    }
    # A page on HA's own origin (config/www is served at /local/) puts the tokens where
    # the frontend looks for them, then opens the page to photograph.
    www = Path(hass.config.path("www"))
    await asyncio.to_thread(www.mkdir, exist_ok=True)
    login = www / f"login-{secrets.token_hex(8)}.html"
    script = (
        f"localStorage.setItem('hassTokens', {json.dumps(json.dumps(tokens))});"
        f"location.replace({json.dumps(page)});"
    )
    await asyncio.to_thread(login.write_text, f"<!doctype html><script>{script}</script>")
    try:
        profile = await asyncio.to_thread(tempfile.mkdtemp, prefix="sotto-demo-chromium-")
        try:
            process = await asyncio.create_subprocess_exec(
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--window-size=1400,1000",
                "--virtual-time-budget=25000",
                f"--screenshot={target}",
                f"{url}/local/{login.name}",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                async with asyncio.timeout(SCREENSHOT_TIMEOUT):
                    _out, err = await process.communicate()
            except TimeoutError:
                process.kill()
                await process.wait()
                raise ServeError("Chromium did not finish the screenshot in time") from None
        finally:
            await asyncio.to_thread(shutil.rmtree, profile, ignore_errors=True)
    finally:
        await asyncio.to_thread(login.unlink)
        hass.auth.async_remove_refresh_token(refresh)
    if process.returncode != 0 or not target.exists():
        raise ServeError(f"Chromium failed: {err.decode(errors='replace')[-1000:]}")
    return target
