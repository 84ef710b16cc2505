"""What a user sees of Sotto in Home Assistant's own web UI, in headless Chromium against a
real Home Assistant (tests/ui/home.py): the Voice history panel at desktop and phone
widths, a satellite's device page, the integrations pages and the config flow's first
step. Each test saves what it saw as PNG files in $SOTTO_SCREENSHOTS (or a temporary dir).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest

from .browser import Page, chromium, log_in

DESKTOP: Final = (1280, 900)
PHONE: Final = (390, 844)
# Raw values the history stores, which a person should never have to read.
RAW_VALUES: Final = {"wake_word", "handled", "not_understood", "no", "yes", "okay_nabu"}
RAW_KEY: Final = re.compile(r"\b(component|ui|state)\.[a-z_]+\.[a-z_.]+")
PANEL: Final = "window.__deep('sotto-history-panel')"


@pytest.fixture
async def page(home_assistant: dict[str, Any], tmp_path: Path) -> AsyncIterator[Page]:
    """A Chromium tab logged in to HA as its administrator, 1280 px wide."""
    async with chromium("about:blank", tmp_path / "profile") as tab:
        await tab.resize(*DESKTOP)
        await log_in(tab, home_assistant["url"], home_assistant["admin_token"])
        yield tab


def lines(text: str) -> set[str]:
    """The separate pieces of text on the page."""
    return {line.strip() for line in text.splitlines()}


def assert_no_raw_keys(text: str) -> None:
    """No untranslated key (component.sotto..., ui.panel...) is shown."""
    assert not RAW_KEY.search(text), RAW_KEY.search(text)


def between(text: str, start: str, *ends: str) -> str:
    """The text from the heading `start` to the next of the headings `ends`."""
    parts = text.split("\n")
    first = parts.index(start)
    rest = parts[first + 1 :]
    last = min((rest.index(end) for end in ends if end in rest), default=len(rest))
    return "\n".join(parts[first : first + 1 + last])


async def open_history(page: Page, url: str) -> str:
    await page.goto(f"{url}/sotto-history")
    return await page.wait_for_text("turn on the lights")


async def test_history_panel_on_a_desktop(
    page: Page, home_assistant: dict[str, Any], screenshots: Path
) -> None:
    """HA's toolbar and data table, every kept interaction with readable values; the
    transcript with markup in it is shown as text."""
    text = await open_history(page, home_assistant["url"])
    await page.screenshot(screenshots / "history-desktop.png")
    shown = lines(text)
    assert "Voice history" in shown
    assert {"Time", "Satellite", "Heard", "Outcome", "Started by"} <= shown
    assert {"Kitchen satellite", "Bedroom satellite"} <= shown
    assert {"turn on the lights", "what time is it", "play the radio"} <= shown
    assert {"Handled", "Not understood", "Wake word"} <= shown
    assert "<b>bold</b> words" in shown  # spoken markup is text, never parsed
    assert not shown & RAW_VALUES, shown & RAW_VALUES
    assert_no_raw_keys(text)
    assert await page.evaluate(f"{PANEL}.shadowRoot.querySelector('ha-data-table') !== null")
    # Every column fits: each row's buttons are on screen, not scrolled off to the right.
    rights = await page.evaluate(
        "window.__deepAll('ha-button.delete, ha-button.play')"
        ".map((button) => button.getBoundingClientRect().right)"
    )
    assert rights
    assert max(rights) <= DESKTOP[0]


async def test_history_panel_on_a_phone(
    page: Page, home_assistant: dict[str, Any], screenshots: Path
) -> None:
    """At 390 px: HA's menu button opens the sidebar; the table keeps the essentials."""
    await page.resize(*PHONE, mobile=True)
    text = await open_history(page, home_assistant["url"])
    await page.screenshot(screenshots / "history-phone.png")
    menu = f"{PANEL}.shadowRoot.querySelector('ha-menu-button')"
    assert await page.wait_for(f"{menu}.checkVisibility()")
    shown = lines(text)
    assert "turn on the lights" in shown
    # Under what was heard: when, which satellite, how it ended (readable, not raw).
    assert any(line.endswith(" · Kitchen satellite · Handled") for line in shown), shown
    assert any(line.endswith(" · Kitchen satellite · Not understood") for line in shown)
    assert not {"Reply", "Area", "Started by"} & shown  # a phone shows fewer columns
    assert not shown & RAW_VALUES
    assert_no_raw_keys(text)


async def choose(page: Page, name: str, value: str) -> None:
    """Pick `value` in the panel's `name` filter, as a person does."""
    select = f"{PANEL}.shadowRoot.getElementById('filter-{name}')"
    await page.evaluate(
        f"(() => {{ const s = {select}; s.value = {json.dumps(value)};"
        " s.dispatchEvent(new Event('change')); })()"
    )


async def test_history_filters_narrow_the_rows(
    page: Page, home_assistant: dict[str, Any], screenshots: Path
) -> None:
    """Filtering by satellite, outcome and date leaves only the matching interactions."""
    await open_history(page, home_assistant["url"])
    await choose(page, "satellite", "Bedroom satellite")
    await page.wait_for_lines(
        {"2 of 4 interactions", "what time is it", "<b>bold</b> words"},
        gone={"turn on the lights", "play the radio"},
    )
    await page.screenshot(screenshots / "history-filter-satellite.png")

    await choose(page, "satellite", "")
    await choose(page, "outcome", "not_understood")
    await page.wait_for_lines(
        {"1 of 4 interactions", "play the radio"}, gone={"turn on the lights", "what time is it"}
    )

    await choose(page, "outcome", "")
    await choose(page, "period", "1")  # the last 24 hours
    await page.wait_for_lines(
        {"2 of 4 interactions", "play the radio", "<b>bold</b> words"},
        gone={"turn on the lights", "what time is it"},
    )
    await page.screenshot(screenshots / "history-filter-date.png")


async def test_delete_asks_first(
    page: Page, home_assistant: dict[str, Any], screenshots: Path
) -> None:
    """Delete opens a confirmation; Cancel keeps the row, Delete removes it."""
    await open_history(page, home_assistant["url"])
    row = "window.__row('play the radio')"
    dialog = f"{PANEL}.shadowRoot.querySelector('dialog')"
    # The table may be drawn again as the history's update arrives: a click on a row that
    # was just replaced goes nowhere, so it is repeated until the dialog shows.
    press_delete = f"({dialog}.open || ({row}.querySelector('ha-button.delete').click(), false))"
    await page.wait_for(press_delete)
    text = await page.text()
    await page.screenshot(screenshots / "history-confirm-delete.png")
    assert "Delete this interaction?" in lines(text)
    await page.evaluate(f"{dialog}.querySelector('#cancel').click()")
    await page.wait_for(f"!{dialog}.open")
    assert "play the radio" in lines(await page.text())

    await page.wait_for(press_delete)
    # The browser may deliver the Cancel's close event only now, with the question asked
    # again: it must not count as the new question's answer (it did once, and Delete then
    # deleted nothing). Delivered here on purpose, so the order is not left to chance.
    await page.evaluate(f"{dialog}.dispatchEvent(new Event('close'))")
    await page.evaluate(f"{dialog}.querySelector('#confirm').click()")
    await page.wait_for_lines(
        {"Deleted 1 interaction.", "3 interactions", "turn on the lights"}, gone={"play the radio"}
    )
    await page.screenshot(screenshots / "history-after-delete.png")


async def test_a_kept_recording_plays(
    page: Page, home_assistant: dict[str, Any], screenshots: Path
) -> None:
    """With audio kept (opted in), the command that has a recording offers Play, which
    opens a player with that recording; commands without one offer nothing."""
    text = await open_history(page, home_assistant["url"])
    assert "Recording" in lines(text)
    plays = await page.evaluate(
        "window.__deepAll('ha-button.play')"
        ".map((button) => button.closest('.mdc-data-table__row').textContent)"
    )
    assert len(plays) == 1
    assert "turn on the lights" in plays[0]
    await page.evaluate("window.__deep('ha-button.play').click()")
    player = f"{PANEL}.shadowRoot.querySelector('dialog[open] audio')"
    duration = await page.wait_for(f"{player}.readyState >= 1 && {player}.duration")
    await page.screenshot(screenshots / "history-play-recording.png")
    assert duration == pytest.approx(0.5, abs=0.01)


async def test_export_says_where_it_wrote(
    page: Page, home_assistant: dict[str, Any], screenshots: Path
) -> None:
    """Export writes the history and its recordings, and says how many and where."""
    await open_history(page, home_assistant["url"])
    await page.evaluate(f"{PANEL}.shadowRoot.getElementById('export').click()")
    status = f"{PANEL}.shadowRoot.querySelector('.status').textContent"
    said = await page.wait_for(f"{status}.startsWith('Exported ') && {status}")
    await page.screenshot(screenshots / "history-export.png")
    count = re.search(r"\b(\d+) interactions?$", await page.text(), re.MULTILINE)
    assert count is not None
    assert said.startswith(f"Exported {count[1]} interactions and 1 recording to ")
    folder = Path(said.rsplit(" to ", 1)[1].rstrip("."))
    assert folder.parent.name == "sotto_exports"
    assert {path.name for path in folder.iterdir()} >= {"history.json"}
    assert len(list(folder.glob("*.wav"))) == 1


async def test_a_member_who_is_not_an_admin_sees_no_history(
    home_assistant: dict[str, Any], tmp_path: Path, screenshots: Path
) -> None:
    """The panel is for administrators: not in a member's sidebar, and no rows if opened."""
    url = home_assistant["url"]
    async with chromium("about:blank", tmp_path / "profile") as tab:
        await tab.resize(*DESKTOP)
        await log_in(tab, url, home_assistant["member_token"])
        await tab.goto(f"{url}/sotto-history")
        text = await tab.wait_for_text("Welcome Member")  # HA sends them to the overview
        await tab.screenshot(screenshots / "history-member.png")
        assert "Voice history" not in lines(text)
        assert "turn on the lights" not in lines(text)


async def test_satellite_device_page(
    page: Page, home_assistant: dict[str, Any], screenshots: Path
) -> None:
    """Mute and Recording are the satellite's controls and sensors; the wake word reads
    as spoken; upkeep sits under Configuration."""
    url = home_assistant["url"]
    await page.resize(1280, 1400)
    await page.goto(f"{url}/config/devices/device/{home_assistant['devices']['kitchen']}")
    text = await page.wait_for_text("Okay Nabu")
    await page.screenshot(screenshots / "device-satellite.png")
    assert "Mute" in lines(between(text, "Controls", "Sensors"))
    assert "Recording" in lines(between(text, "Sensors", "Events", "Configuration"))
    configuration = between(text, "Configuration", "Diagnostic", "Activity", "Related")
    assert {"Purge voice history", "Wake word", "Okay Nabu"} <= lines(configuration)
    assert "Mute" not in lines(configuration)
    assert "okay_nabu" not in lines(text)
    assert_no_raw_keys(text)

    # The wake word's choices, opened as a person does: each by its spoken name.
    await page.evaluate(
        "window.__deepAll('ha-select').find((s) => s.label === 'Wake word')"
        ".shadowRoot.querySelector('[slot=trigger]').click()"
    )
    text = await page.wait_for_lines({"Hey Jarvis", "Hey Mycroft", "Alexa"})
    await page.screenshot(screenshots / "device-satellite-wake-words.png")
    assert not {"hey_jarvis", "hey_mycroft", "alexa"} & lines(text)


async def test_integrations_pages(
    page: Page, home_assistant: dict[str, Any], screenshots: Path
) -> None:
    """Sotto's card, and its page: entries are devices and a service, never "hubs"."""
    url = home_assistant["url"]
    await page.goto(f"{url}/config/integrations/dashboard")
    text = await page.wait_for_lines({"Sotto", "4 devices"}, gone={"Loading..."})
    await page.screenshot(screenshots / "integrations.png")
    assert_no_raw_keys(text)

    await page.resize(1280, 1200)
    await page.goto(f"{url}/config/integrations/integration/sotto")
    text = await page.wait_for_text("Kitchen satellite")
    await page.screenshot(screenshots / "integration-sotto.png")
    assert {"Sotto home", "Add device", "Devices"} <= lines(text)
    # The satellites and the engine are devices; the home is the one service.
    assert {"3 devices", "1 service"} <= lines(text)
    assert {"Bedroom satellite", "Engine"} <= lines(text)
    assert not {line for line in lines(text) if re.search(r"\bhubs?\b", line, re.IGNORECASE)}
    assert_no_raw_keys(text)


async def test_config_flow_first_step(
    page: Page, home_assistant: dict[str, Any], screenshots: Path
) -> None:
    """Adding Sotto again offers what can be added, named as the guides name it."""
    url = home_assistant["url"]
    await page.goto(f"{url}/config/integrations/dashboard/add?domain=sotto")
    await page.wait_for_text("Do you want to set up Sotto?")
    await page.evaluate(
        "window.__deepAll('ha-button').find((b) => b.textContent.trim() === 'OK').click()"
    )
    text = await page.wait_for_text("Add to Sotto")
    await page.screenshot(screenshots / "config-flow-first-step.png")
    assert {
        "A Sotto satellite (Raspberry Pi)",
        "An ESPHome voice satellite (ESP32: Atom Echo, ESP32-S3-BOX, Voice PE)",
    } <= lines(text)
    assert_no_raw_keys(text)


async def test_voice_setup_wizard_offers_the_wake_words(
    page: Page, home_assistant: dict[str, Any], screenshots: Path
) -> None:
    """HA's "Set up voice assistant" on a Sotto satellite's page opens HA's wizard: its
    connection test passes and it offers the satellite's wake words by name."""
    url = home_assistant["url"]
    await page.goto(f"{url}/config/devices/device/{home_assistant['devices']['bedroom']}")
    await page.wait_for_text("Okay Nabu")
    # HA's device page lists its actions once, when it opens; opened directly, that can
    # be before its entity registry arrives, and then the satellite's "Set up voice
    # assistant" is missing until the page is opened again. List them again, as a reopen
    # does, so the test sees what HA offers for this device.
    await page.evaluate("window.__deep('ha-config-device-page')._getDeviceActions()")
    await page.wait_for_text("Set up voice assistant")
    await page.evaluate(
        "window.__deepAll('ha-md-list-item, ha-list-item, ha-button, a, button')"
        ".find((item) => item.textContent.trim() === 'Set up voice assistant').click()"
    )
    # The wizard's connection test passed when its wake word step shows, with the
    # satellite's wake word by name.
    step = "window.__deep('ha-voice-assistant-setup-step-wake-word')"
    await page.wait_for(f"{step}.shadowRoot.textContent.includes('Okay Nabu')", timeout=60)
    text = await page.text()
    await page.screenshot(screenshots / "voice-setup-wizard.png")
    assert "The voice assistant is unable to connect to Home Assistant" not in text
    assert_no_raw_keys(text)


async def test_voice_setup_wizard_connection_test(home_assistant: dict[str, Any]) -> None:
    """HA's "Set up voice assistant" first tests the connection: it announces a test sound
    by a URL on HA. HA here listens on 127.0.0.1 only (as the demo's does), so the URL HA
    gives devices is not one it can fetch from itself; Sotto fetches it from where HA
    listens, the satellite plays the sound, and the wizard goes on ("success")."""
    url = home_assistant["url"]
    speaker = Path(home_assistant["speakers"]["kitchen"])
    before = set(speaker.glob("*.wav"))
    async with aiohttp.ClientSession() as session, session.ws_connect(f"{url}/api/websocket") as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": home_assistant["admin_token"]})
        assert (await ws.receive_json())["type"] == "auth_ok"
        await ws.send_json(
            {
                "id": 1,
                "type": "assist_satellite/test_connection",
                "entity_id": "assist_satellite.kitchen_satellite",
            }
        )
        answer = await ws.receive_json(timeout=60)
    assert answer["success"], answer
    assert answer["result"] == {"status": "success"}
    # The test passes once the sound is fetched; the satellite plays it just after.
    played: list[Path] = []
    for _ in range(300):
        played = [path for path in speaker.glob("*.wav") if path not in before]
        if played:
            break
        await asyncio.sleep(0.1)
    assert played, "the satellite played nothing"
    assert max(path.stat().st_size for path in played) > 44  # more than an empty WAV
