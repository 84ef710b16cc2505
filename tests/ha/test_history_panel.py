"""The Voice history panel's side in Home Assistant: its sidebar entry and the websocket
commands it calls, over HA's real websocket API with real users. What the panel shows is
tested in headless Chromium against a running HA (tests/ui/test_pages.py)."""

from __future__ import annotations

import base64
import io
import wave
from pathlib import Path
from typing import Any

from homeassistant.components.frontend import DATA_PANELS
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from .test_admin_only import guest_token  # noqa: F401 (a fixture)
from .test_history import AUDIO, KEEP_AUDIO, async_setup_home, interaction

COMMANDS = (
    {"type": "sotto/history/list"},
    {"type": "sotto/history/subscribe"},
    {"type": "sotto/history/audio", "interaction_id": 1},
    {"type": "sotto/history/delete"},
    {"type": "sotto/history/delete", "interaction_id": 1},
)


async def _ask(
    hass_ws_client: WebSocketGenerator, message: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    client = await hass_ws_client(access_token=token) if token else await hass_ws_client()
    await client.send_json_auto_id(message)
    answer: dict[str, Any] = await client.receive_json()
    await client.close()
    return answer


async def test_every_panel_command_is_for_administrators(
    hass: HomeAssistant,
    tmp_path: Path,
    hass_ws_client: WebSocketGenerator,
    guest_token: str,  # noqa: F811
) -> None:
    """A household member who is not an administrator can neither read, hear, follow nor
    delete the history through the panel's commands; nothing is removed."""
    assert await async_setup_component(hass, "http", {})
    _home, store = await async_setup_home(hass, tmp_path / "config", KEEP_AUDIO)
    await store.async_add(interaction("turn on the pangolin lamp", audio=AUDIO))

    for message in COMMANDS:
        answer = await _ask(hass_ws_client, message, guest_token)
        assert answer["success"] is False, message
        assert answer["error"]["message"] == "Unauthorized", message
    assert [row.transcript for row in await store.async_list()] == ["turn on the pangolin lamp"]


async def test_a_kept_recording_is_played_as_wav(
    hass: HomeAssistant, tmp_path: Path, hass_ws_client: WebSocketGenerator
) -> None:
    """With audio kept, the panel gets the command's audio as a WAV file; without, a clear
    "no audio" error."""
    assert await async_setup_component(hass, "http", {})
    _home, store = await async_setup_home(hass, tmp_path / "config", KEEP_AUDIO)
    await store.async_add(interaction("open the ocelot blinds", audio=AUDIO))
    await store.async_add(interaction("what time is it"))
    spoken, silent = sorted(await store.async_list(), key=lambda row: not row.audio_kept)

    answer = await _ask(
        hass_ws_client, {"type": "sotto/history/audio", "interaction_id": spoken.id}
    )
    assert answer["success"], answer
    with wave.open(io.BytesIO(base64.b64decode(answer["result"]["wav"]))) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (16000, 2, 1)
        assert wav.readframes(wav.getnframes()) == AUDIO

    answer = await _ask(
        hass_ws_client, {"type": "sotto/history/audio", "interaction_id": silent.id}
    )
    assert answer["success"] is False
    assert answer["error"]["message"] == "No audio was kept for this interaction"


async def test_an_open_panel_hears_of_new_commands(
    hass: HomeAssistant, tmp_path: Path, hass_ws_client: WebSocketGenerator
) -> None:
    """The panel follows the history: a command written while it is open is announced
    (the panel read its list once before, and so stayed empty)."""
    assert await async_setup_component(hass, "http", {})
    _home, store = await async_setup_home(hass, tmp_path / "config")
    client = await hass_ws_client()
    await client.send_json_auto_id({"type": "sotto/history/subscribe"})
    subscribed = await client.receive_json()
    assert subscribed["success"], subscribed

    await store.async_add(interaction("turn on the lights"))
    event = await client.receive_json()
    assert event["id"] == subscribed["id"]
    assert event["event"] == {"changed": True}
    await client.close()


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
    assert not panel.config["_panel_custom"]["embed_iframe"]  # HA gives it hass and narrow
    assert await hass.config_entries.async_unload(home.entry_id)
    assert "sotto-history" not in hass.data[DATA_PANELS]
