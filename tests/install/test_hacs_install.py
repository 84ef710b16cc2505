"""Install Sotto as a HACS user does, into the newest Home Assistant release.

A real `hass` process (HA's images: Python 3.14, no compiler on PATH) with a fresh
configuration directory gets only `custom_components/sotto` copied in; the owner is made
through onboarding and Sotto is added through the config flow over HA's REST API, so HA
installs Sotto's requirements itself with its own uv. The library comes from the wheel
this checkout builds (offered through UV_FIND_LINKS, as if from PyPI); everything else
comes from PyPI. Then a real satellite process is paired the same way; in a second fresh
HA, with only a template light, a real `sotto-engine` and an ESPHome voice satellite (the
fake device speaking ESPHome's native API), a spoken command turns the light on.

Run inside the Python 3.14 chroot: `scripts/py314 run .venv314/bin/python -m pytest
tests/install` (./scripts/test does). The HA environment is made once and kept under
SOTTO_INSTALL_CACHE (default ~/.cache/sotto-dev).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest
import yaml
from packaging.version import Version

from demo.house import house_configuration
from demo.processes import free_port, run_engine, run_satellite, stop_process
from demo.speech import utterance
from tests.tools.fake_esphome import new_key, running_device

from .ha_release import HomeAssistantRelease, installed, pip_check, site_package, tools_dir

ROOT: Final = Path(__file__).resolve().parents[2]
HA_VERSION: Final = "2026.11.0"
CLIENT_ID: Final = "http://127.0.0.1/"
START_TIMEOUT: Final = 300.0
# HA downloads and installs Sotto's requirements while it answers the first flow request.
FLOW_TIMEOUT: Final = 600.0
COMPILERS: Final = ("cc", "gcc", "c++", "g++", "clang", "cmake", "make", "ld")
# What hass runs besides Python: ffmpeg for HA's ffmpeg integration, which Sotto uses.
HASS_TOOLS: Final = ("ffmpeg", "ffprobe")

pytestmark = [
    pytest.mark.skipif(
        sys.version_info[:2] != (3, 14),
        reason=(
            f"Home Assistant {HA_VERSION} needs Python 3.14: run "
            "`scripts/py314 run .venv314/bin/python -m pytest tests/install`"
        ),
    ),
    pytest.mark.timeout(3600),
]


def _library_version() -> str:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    version: str = pyproject["project"]["version"]
    return version


def _build_wheel(python: Path, out: Path) -> Path:
    """Build this checkout's sotto-voice wheel (sdist first, as for a release)."""
    subprocess.run(
        [str(python), "-m", "uv", "build", "--quiet", "--out-dir", str(out), str(ROOT)],
        check=True,
        timeout=600,
    )
    wheels = list(out.glob("sotto_voice-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _seed_config(config: Path, port: int, lights: dict[str, list[str]]) -> None:
    """A new user's configuration: the web UI and the recorder, and template lights (by
    area) if any; HTTP on 127.0.0.1:port.

    HA 2026 keeps the HTTP settings in .storage/http (YAML is migrated into a pending
    trial that reverts and restarts HA after five minutes), so they are seeded there as
    the confirmed ("stable") settings.
    """
    (config / ".storage").mkdir(parents=True)
    (config / "configuration.yaml").write_text(
        "homeassistant:\n  name: Install test\n  time_zone: UTC\n"
        "frontend:\nrecorder:\nlogger:\n  default: info\n"
        + (yaml.safe_dump(house_configuration(lights)) if lights else "")
    )
    stable = {
        "server_host": ["127.0.0.1"],
        "server_port": port,
        "cors_allowed_origins": [],
        "login_attempts_threshold": -1,
        "ip_ban_enabled": False,
        "ssl_profile": "modern",
        "use_x_frame_options": True,
        "created_at": "2026-01-01T00:00:00+00:00",
        "error": None,
        "error_message": None,
    }
    (config / ".storage" / "http").write_text(
        json.dumps(
            {
                "version": 2,
                "minor_version": 2,
                "key": "http",
                "data": {"stable": stable, "pending": None, "yaml_migration_done": True},
            }
        )
    )
    # What HACS does: the integration's directory, nothing else of the repository.
    shutil.copytree(
        ROOT / "custom_components" / "sotto",
        config / "custom_components" / "sotto",
        ignore=shutil.ignore_patterns("__pycache__"),
    )


def _hass_env(home: Path, path_dir: Path, wheels: Path) -> dict[str, str]:
    """HA's environment: no compiler on PATH, no CC/CXX, the local wheel offered to uv."""
    env = {
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PATH": str(path_dir),
        "PYTHONUNBUFFERED": "1",
        "UV_FIND_LINKS": str(wheels),
    }
    # The network's proxy and CA bundle, if any, so PyPI is reachable as for the user.
    for name in ("SSL_CERT_FILE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


class HomeAssistantApi:
    """HA's REST and WebSocket API as the web UI and a user's scripts use it."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        """Unauthenticated until `onboard`."""
        self.session = session
        self.base = base
        self.headers: dict[str, str] = {}

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        """Send a request; fail with HA's answer unless it is a success."""
        async with self.session.request(
            method, self.base + path, json=body, headers=self.headers
        ) as response:
            text = await response.text()
            assert response.status < 300, f"{method} {path}: {response.status} {text}"
            return json.loads(text) if text else None

    async def onboard(self) -> None:
        """Create the owner, as the first page of a new HA does, and log in."""
        created = await self.request(
            "POST",
            "/api/onboarding/users",
            {
                "client_id": CLIENT_ID,
                "name": "Owner",
                "username": "owner",
                "password": "install-test-password",
                "language": "en",
            },
        )
        async with self.session.post(
            self.base + "/auth/token",
            data={
                "grant_type": "authorization_code",
                "code": created["auth_code"],
                "client_id": CLIENT_ID,
            },
        ) as response:
            assert response.status == 200, await response.text()
            token = (await response.json())["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    async def flow(self, *steps: dict[str, Any]) -> dict[str, Any]:
        """Start Sotto's config flow and answer each step in turn; returns the last result."""
        result: dict[str, Any] = await self.request(
            "POST", "/api/config/config_entries/flow", {"handler": "sotto"}
        )
        for step in steps:
            assert result["type"] in ("form", "menu"), result
            result = await self.request(
                "POST", f"/api/config/config_entries/flow/{result['flow_id']}", step
            )
        return result

    async def entry_state(self, entry_id: str) -> str:
        """The entry's state once it has left setup (loaded, setup_error, ...)."""
        while True:
            entries = await self.request("GET", "/api/config/config_entries/entry?domain=sotto")
            state: str = next(e["state"] for e in entries if e["entry_id"] == entry_id)
            if state not in ("not_loaded", "setup_in_progress"):
                return state
            await asyncio.sleep(0.5)

    async def states(self) -> dict[str, dict[str, Any]]:
        """Every entity's state, by entity ID."""
        return {state["entity_id"]: state for state in await self.request("GET", "/api/states")}

    @contextlib.asynccontextmanager
    async def _websocket(self, command: dict[str, Any]) -> AsyncIterator[Any]:
        """A logged-in WebSocket that has sent one command and had it accepted."""
        async with self.session.ws_connect(self.base + "/api/websocket") as ws:
            assert (await ws.receive_json())["type"] == "auth_required"
            await ws.send_json({"type": "auth", "access_token": self.headers["Authorization"][7:]})
            assert (await ws.receive_json())["type"] == "auth_ok"
            await ws.send_json({"id": 1, **command})
            reply = await ws.receive_json()
            assert reply["success"], reply
            yield ws, reply["result"]

    async def ws(self, command: dict[str, Any]) -> Any:
        """One WebSocket command (what the web UI's pages use); returns its result."""
        async with self._websocket(command) as (_ws, result):
            return result

    @contextlib.asynccontextmanager
    async def follow(self, entity_id: str) -> AsyncIterator[list[dict[str, Any]]]:
        """The entity's new states, collected while the block runs (as the web UI sees
        them, over the WebSocket API)."""
        seen: list[dict[str, Any]] = []
        async with self._websocket({"type": "subscribe_events", "event_type": "state_changed"}) as (
            ws,
            _result,
        ):

            async def collect() -> None:
                async for message in ws:
                    data = json.loads(message.data)["event"]["data"]
                    if data["entity_id"] == entity_id and data["new_state"] is not None:
                        seen.append(data["new_state"])

            task = asyncio.create_task(collect())
            try:
                yield seen
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def state_becomes(self, entity_id: str, wanted: str) -> dict[str, Any]:
        """Wait until the entity has the state (a minute at most); returns every state."""
        async with asyncio.timeout(60):
            while (states := await self.states()).get(entity_id, {}).get("state") != wanted:
                await asyncio.sleep(0.5)
        return states


async def _wait_for_http(
    session: aiohttp.ClientSession, base: str, process: asyncio.subprocess.Process, log: Path
) -> None:
    """Wait until HA answers onboarding, failing with its log if it exits first."""
    async with asyncio.timeout(START_TIMEOUT):
        while True:
            if process.returncode is not None:
                pytest.fail(f"hass exited with {process.returncode}:\n{_tail(log)}")
            try:
                async with session.get(base + "/api/onboarding") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)


def _tail(path: Path, lines: int = 60) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


async def _start_hass(
    python: Path, config: Path, env: dict[str, str], log: Path
) -> asyncio.subprocess.Process:
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            str(python),
            "-m",
            "homeassistant",
            "--config",
            str(config),
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )


@pytest.fixture
async def api(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[HomeAssistantApi, Path, dict[str, str]]]:
    """A fresh HA release running on 127.0.0.1 with Sotto copied in, not yet onboarded;
    with template lights in its configuration.yaml if the test asks (area -> names)."""
    lights: dict[str, list[str]] = getattr(request, "param", {})
    cache = Path(os.environ.get("SOTTO_INSTALL_CACHE", Path.home() / ".cache" / "sotto-dev"))
    release = HomeAssistantRelease(HA_VERSION, cache)
    await asyncio.to_thread(release.ensure)
    python = await asyncio.to_thread(release.clone, tmp_path / "venv")
    wheels = tmp_path / "wheels"
    await asyncio.to_thread(_build_wheel, python, wheels)
    port = free_port()
    config = tmp_path / "config"
    _seed_config(config, port, lights)
    path_dir = tools_dir(tmp_path / "path", HASS_TOOLS)
    env = _hass_env(tmp_path / "home", path_dir, wheels)
    (tmp_path / "home").mkdir()
    assert not [name for name in COMPILERS if shutil.which(name, path=env["PATH"])]
    assert not {"CC", "CXX"} & env.keys()
    log = tmp_path / "hass.log"
    process = await _start_hass(python, config, env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(FLOW_TIMEOUT)) as session:
            await _wait_for_http(session, base, process, log)
            yield HomeAssistantApi(session, base), python, {"log": str(log), "config": str(config)}
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await stop_process(process)


async def test_a_hacs_user_installs_sotto_and_pairs_a_satellite(
    api: tuple[HomeAssistantApi, Path, dict[str, str]], tmp_path: Path
) -> None:
    """Onboarding, the home entry and a satellite through HA's API; HA installs the
    requirements itself with no compiler, keeps its own aioesphomeapi, and ends with a
    consistent environment."""
    ha, python, paths = api
    await ha.onboard()
    before = await asyncio.to_thread(installed, python)
    components = site_package(python.parent.parent, "homeassistant") / "components"
    esphome = json.loads((components / "esphome" / "manifest.json").read_text())
    ha_esphome_api = next(
        r.split("==")[1] for r in esphome["requirements"] if r.startswith("aioesphomeapi==")
    )
    assert before["homeassistant"] == HA_VERSION
    # HA's own (up to its pin: see ha_release.SHIPPED_INTEGRATIONS).
    assert Version(before["aioesphomeapi"]) <= Version(ha_esphome_api)
    assert "sotto-voice" not in before
    assert "sotto" not in before

    # The first flow makes HA install Sotto's requirements, then offers the home entry.
    started = time.monotonic()
    home_form = await ha.flow()
    first_flow_seconds = time.monotonic() - started
    assert (home_form["type"], home_form["step_id"]) == ("form", "home"), home_form
    home = await ha.request("POST", f"/api/config/config_entries/flow/{home_form['flow_id']}", {})
    assert home["type"] == "create_entry", home
    assert await ha.entry_state(home["result"]["entry_id"]) == "loaded"

    # HA 2026 runs Python 3.14, where pocketsphinx cannot be installed: Repairs says so.
    issues = await ha.ws({"type": "repairs/list_issues"})
    sotto_issues = [i["translation_key"] for i in issues["issues"] if i["domain"] == "sotto"]
    assert sotto_issues == ["no_local_recognizer"]

    async with run_satellite(tmp_path / "kitchen") as satellite:
        paired = await ha.flow(
            {"next_step_id": "satellite"},
            {"host": "127.0.0.1", "port": satellite.port, "key": satellite.key.to_base64()},
        )
        assert paired["type"] == "create_entry", paired
        assert paired["title"] == "Kitchen satellite"
        assert await ha.entry_state(paired["result"]["entry_id"]) == "loaded"
        async with asyncio.timeout(60):
            while True:
                states = await ha.states()
                mute = states.get("switch.kitchen_satellite_mute", {}).get("state")
                if mute not in (None, "unavailable", "unknown"):
                    break
                await asyncio.sleep(0.5)
        assert mute == "off"
        assert states["assist_satellite.kitchen_satellite"]["state"] == "idle"
        assert states["binary_sensor.kitchen_satellite_recording"]["state"] == "off"
        assert "button.sotto_purge_voice_history" in states

    after = await asyncio.to_thread(installed, python)
    check = await asyncio.to_thread(pip_check, python)
    added = {name: after[name] for name in sorted(after.keys() - before.keys())}
    changed = {
        name: f"{before[name]} -> {after[name]}"
        for name in sorted(before.keys() & after.keys())
        if before[name] != after[name]
    }
    report = {
        "homeassistant": after["homeassistant"],
        "python": sys.version.split()[0],
        "aioesphomeapi": f"{before['aioesphomeapi']} -> {after['aioesphomeapi']}",
        "aioesphomeapi_pinned_by_ha": ha_esphome_api,
        "installed_by_ha": added,
        "changed_by_ha": changed,
        "uv_pip_check": (check.stdout + check.stderr).strip(),
        "seconds_first_flow_with_install": round(first_flow_seconds, 1),
        "seconds_flows_and_pairing": round(time.monotonic() - started, 1),
        "entities": sorted(e for e in states if "kitchen_satellite" in e or "sotto" in e),
    }
    print(json.dumps(report, indent=2))
    assert after["sotto-voice"] == _library_version()
    assert after["aioesphomeapi"] == before["aioesphomeapi"], "HA's aioesphomeapi was changed"
    assert "sotto" not in after
    assert "pocketsphinx" not in after
    assert check.returncode == 0, report["uv_pip_check"]
    assert not _sotto_errors(paths["log"])


def _sotto_errors(log: str) -> str:
    """The lines of HA's log where Sotto reported an error."""
    lines = Path(log).read_text(errors="replace").splitlines()
    return "\n".join(line for line in lines if " ERROR " in line and "sotto" in line)


async def _entity_of(ha: HomeAssistantApi, entry_id: str, domain: str) -> str:
    """The entity ID an entry gave its entity of this domain, as the UI lists it."""
    entities = await ha.ws({"type": "config/entity_registry/list"})
    found = [
        e["entity_id"]
        for e in entities
        if e["config_entry_id"] == entry_id and e["entity_id"].startswith(f"{domain}.")
    ]
    assert len(found) == 1, (domain, found)
    return found[0]


async def _device_of(ha: HomeAssistantApi, entry_id: str) -> str:
    """The ID of the device an entry created."""
    devices = await ha.ws({"type": "config/device_registry/list"})
    found = [d["id"] for d in devices if entry_id in d["config_entries"]]
    assert len(found) == 1, found
    return found[0]


async def _use_engine_in_assist(ha: HomeAssistantApi, engine_entry: str) -> None:
    """Settings -> Voice assistants: the preferred assistant hears with the engine's
    speech-to-text and answers with its text-to-speech."""
    pipeline = await ha.ws({"type": "assist_pipeline/pipeline/get"})
    fields = (
        "conversation_engine",
        "conversation_language",
        "language",
        "name",
        "tts_voice",
        "wake_word_entity",
        "wake_word_id",
    )
    language = pipeline["language"]
    await ha.ws(
        {
            "type": "assist_pipeline/pipeline/update",
            "pipeline_id": pipeline["id"],
            **{field: pipeline[field] for field in fields},
            "stt_engine": await _entity_of(ha, engine_entry, "stt"),
            "stt_language": language,
            "tts_engine": await _entity_of(ha, engine_entry, "tts"),
            "tts_language": language,
        }
    )


async def _place(ha: HomeAssistantApi, area: str, entity_id: str, device_id: str) -> None:
    """Settings -> Areas: the light and the satellite in the same room (onboarding made
    a new home's usual rooms)."""
    areas = await ha.ws({"type": "config/area_registry/list"})
    area_id = next(a["area_id"] for a in areas if a["name"] == area)
    await ha.ws(
        {"type": "config/entity_registry/update", "entity_id": entity_id, "area_id": area_id}
    )
    await ha.ws(
        {"type": "config/device_registry/update", "device_id": device_id, "area_id": area_id}
    )


async def _within(seconds: float, wait: Callable[[], Awaitable[object]]) -> None:
    async with asyncio.timeout(seconds):
        await wait()


@pytest.mark.parametrize("api", [{"Kitchen": ["Kitchen Light"]}], indirect=True)
async def test_a_fresh_home_with_an_esphome_satellite_and_an_engine_switches_a_light_by_voice(
    api: tuple[HomeAssistantApi, Path, dict[str, str]], tmp_path: Path
) -> None:
    """No recogniser can be installed in HA 2026: a user adds a sotto-engine and an
    ESPHome satellite through Sotto's flows, points Assist at the engine, says "turn on
    the kitchen light" after the device's wake word, and the light turns on."""
    ha, _python, paths = api
    await ha.onboard()
    home = await ha.flow({})
    assert home["type"] == "create_entry", home
    # The template light's helpers are not for Assist: only the light is spoken to.
    await ha.ws(
        {
            "type": "homeassistant/expose_entity",
            "assistants": ["conversation"],
            "entity_ids": ["input_boolean.kitchen_light_power", "input_number.kitchen_light_level"],
            "should_expose": False,
        }
    )
    async with (
        run_engine(tmp_path / "engine") as engine,
        running_device(key=new_key()) as device,
    ):
        engine_entry = await ha.flow(
            {"next_step_id": "engine"},
            {"host": "127.0.0.1", "port": engine.port, "key": engine.key.to_base64()},
        )
        assert engine_entry["type"] == "create_entry", engine_entry
        assert await ha.entry_state(engine_entry["result"]["entry_id"]) == "loaded"
        # Repairs said to add an engine; with one added it has nothing left to say.
        issues = await ha.ws({"type": "repairs/list_issues"})
        assert not [i for i in issues["issues"] if i["domain"] == "sotto"], issues
        satellite_entry = await ha.flow(
            {"next_step_id": "esphome"},
            {"host": "127.0.0.1", "port": device.port, "key": device.key},
        )
        assert satellite_entry["type"] == "create_entry", satellite_entry
        assert satellite_entry["title"] == "Kitchen Echo"
        satellite_id = satellite_entry["result"]["entry_id"]
        assert await ha.entry_state(satellite_id) == "loaded"
        await _within(60, device.wait_subscribed)
        await _place(ha, "Kitchen", "light.kitchen_light", await _device_of(ha, satellite_id))
        await _use_engine_in_assist(ha, engine_entry["result"]["entry_id"])
        states = await ha.state_becomes("switch.kitchen_echo_mute", "off")
        assert states["light.kitchen_light"]["state"] == "off"
        assert states["assist_satellite.kitchen_echo"]["state"] == "idle"

        async with ha.follow("event.kitchen_echo_voice_events") as voice:
            # The device heard its wake word: only the command leaves it, to HA and on to
            # the engine.
            await device.speak(utterance(0.3, "turn on the kitchen light", 1.5))
            await ha.state_becomes("light.kitchen_light", "on")
            await _within(60, device.run_ended.wait)
            await _within(60, device.reply_done.wait)
            await ha.state_becomes("binary_sensor.kitchen_echo_recording", "off")

    events = [state["attributes"]["event_type"] for state in voice]
    assert events[:2] == ["wake_word_detected", "listening_started"], events
    assert "intent_handled" in events, events
    assert "not_understood" not in events
    assert "error" not in events
    # The engine's reply reached the device's speaker: half a second of speech at least.
    assert len(device.reply_audio) > 16000
    assert not _sotto_errors(paths["log"])
