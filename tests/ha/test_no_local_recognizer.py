"""Home Assistant 2026 runs on CPython 3.14, for which pocketsphinx has no wheel: Sotto
must still load there, and say where speech is recognised instead."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.translation import async_get_translations
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.sotto.const import DOMAIN
from demo.processes import run_engine

from .test_engine import pair_engine
from .test_stt import LOCAL_STT, _home


async def test_without_pocketsphinx_the_home_loads_and_a_repair_says_where_to_recognise(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on every HA 2026 image: the import fails, the home entry loads without the
    in-process recogniser, and Repairs explains (translated) how to run a Sotto engine.
    Once pocketsphinx can be imported again, a reload brings the recogniser back and the
    repair goes away."""
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    assert await async_setup_component(hass, "repairs", {})
    home = await _home(hass)
    assert home.state is ConfigEntryState.LOADED
    assert hass.states.get(LOCAL_STT) is None

    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "repairs/list_issues"})
    reply = await client.receive_json()
    assert reply["success"]
    issues = [issue for issue in reply["result"]["issues"] if issue["domain"] == DOMAIN]
    assert [issue["translation_key"] for issue in issues] == ["no_local_recognizer"]
    assert issues[0]["severity"] == "warning"
    assert "pocketsphinx cannot be imported" in issues[0]["translation_placeholders"]["error"]

    strings = await async_get_translations(hass, "en", "issues", [DOMAIN])
    prefix = f"component.{DOMAIN}.issues.no_local_recognizer"
    assert strings[f"{prefix}.title"] == "Speech is recognised outside Home Assistant"
    description = strings[f"{prefix}.description"]
    assert "{error}" in description
    assert "sotto-voice[engine]" in description
    assert "sotto-engine run" in description

    monkeypatch.delitem(sys.modules, "pocketsphinx")
    assert await hass.config_entries.async_reload(home.entry_id)
    await hass.async_block_till_done()
    assert home.state is ConfigEntryState.LOADED
    assert hass.states.get(LOCAL_STT) is not None
    assert (
        ir.async_get(hass).async_get_issue(DOMAIN, "no_local_recognizer_" + home.entry_id) is None
    )
    await hass.config_entries.async_unload(home.entry_id)


@pytest.mark.usefixtures("socket_enabled")
async def test_the_repair_closes_once_an_engine_is_added_and_opens_when_it_is_removed(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The repair tells the user to add a Sotto engine: once they have, it has nothing
    left to say (also after a restart of the home entry); without the engine it is back."""
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    home = await _home(hass)
    issues = ir.async_get(hass)
    issue_id = "no_local_recognizer_" + home.entry_id
    assert issues.async_get_issue(DOMAIN, issue_id) is not None

    async with run_engine(tmp_path / "engine") as engine:
        engine_entry = await pair_engine(hass, engine)
        assert engine_entry.state is ConfigEntryState.LOADED
        assert issues.async_get_issue(DOMAIN, issue_id) is None
        assert await hass.config_entries.async_reload(home.entry_id)
        await hass.async_block_till_done()
        assert issues.async_get_issue(DOMAIN, issue_id) is None

        await hass.config_entries.async_remove(engine_entry.entry_id)
        await hass.async_block_till_done()
    issue = issues.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert "pocketsphinx cannot be imported" in (issue.translation_placeholders or {})["error"]
    await hass.config_entries.async_unload(home.entry_id)
