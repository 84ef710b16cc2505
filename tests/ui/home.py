"""A real Home Assistant for the browser tests: Sotto's home, an engine and two satellites
(real processes, paired through the config flow), a few kept interactions, an
administrator and a household member who is not one, each with an access token.

Run as `python -m tests.ui.home WORKDIR [PORT]` (a free port if none): it writes
WORKDIR/ready.json (the URL, the tokens, the device IDs) once everything is up, and runs
until it is stopped (SIGTERM).
It runs in its own process, as `./scripts/demo --serve` does, so the page tests drive a
Home Assistant that pytest's HA plugin has not patched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sys
from datetime import timedelta
from pathlib import Path
from typing import Final

from homeassistant.auth.const import GROUP_ID_ADMIN, GROUP_ID_USER
from homeassistant.auth.models import TOKEN_TYPE_LONG_LIVED_ACCESS_TOKEN, User
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from custom_components.sotto.const import DOMAIN
from custom_components.sotto.history.model import Interaction, Outcome, Trigger
from demo import home, house, serve
from demo.harness import cancel_on_signals, running_home_assistant
from demo.processes import SatelliteProcess, free_port, run_engine, run_satellite

READY: Final = "ready.json"
LIGHTS: Final = {"Kitchen": ["Kitchen Light"], "Bedroom": ["Bedroom Lamp"]}
ROOMS: Final = (("kitchen", "Kitchen"), ("bedroom", "Bedroom"))


def _kept(
    satellite: SatelliteProcess,
    area: str,
    said: str,
    outcome: Outcome,
    age: float,
    audio: bytes | None = None,
) -> Interaction:
    return Interaction(
        started_at=dt_util.utcnow() - timedelta(days=age),
        satellite_id=satellite.device_id,
        satellite_name=satellite.name,
        trigger=Trigger.WAKE_WORD,
        area=area,
        wake_word="okay_nabu",
        transcript=said,
        intent_response="action_done" if outcome is Outcome.HANDLED else None,
        targets=[],
        outcome=outcome,
        response_text="Turned on the light" if outcome is Outcome.HANDLED else None,
        audio_seconds=2.0,
        stt_ms=300.0,
        intent_ms=10.0,
        total_ms=800.0,
        audio=audio,
    )


async def _keep_audio(hass: HomeAssistant) -> None:
    """Opt in to keeping the audio of commands, as a person does in Sotto home's options."""
    home = next(e for e in hass.config_entries.async_entries(DOMAIN) if e.title == "Sotto home")
    flow = await hass.config_entries.options.async_init(home.entry_id)
    done = await hass.config_entries.options.async_configure(
        flow["flow_id"],
        {"transcript_days": "7", "keep_audio": True, "audio_days": 1, "event_transcripts": False},
    )
    assert done["type"] == "create_entry", done
    await hass.async_block_till_done()


def _tone() -> bytes:
    """Half a second of a 440 Hz tone, as 16 kHz 16-bit mono PCM (what satellites send)."""
    samples = (int(8000 * math.sin(2 * math.pi * 440 * n / 16000)) for n in range(8000))
    return b"".join(sample.to_bytes(2, "little", signed=True) for sample in samples)


async def _token(hass: HomeAssistant, user: User) -> str:
    refresh = await hass.auth.async_create_refresh_token(
        user,
        client_name=f"sotto ui test {user.name}",
        token_type=TOKEN_TYPE_LONG_LIVED_ACCESS_TOKEN,
        access_token_expiration=timedelta(hours=2),
    )
    return hass.auth.async_create_access_token(refresh)


async def run(workdir: Path, port: int) -> None:
    """Start everything, write ready.json, wait until cancelled."""
    config_dir = workdir / "config"
    async with contextlib.AsyncExitStack() as stack:
        engine = await stack.enter_async_context(run_engine(workdir / "engine", name="Engine"))
        satellites = {
            label: await stack.enter_async_context(
                run_satellite(
                    workdir / label, device_id=f"{label}-satellite", name=f"{area} satellite"
                )
            )
            for label, area in ROOMS
        }
        serve.mark_onboarded(config_dir)
        hass = await stack.enter_async_context(
            running_home_assistant(config_dir, port=port, extra=house.house_configuration(LIGHTS))
        )
        await house.async_place_house(hass, LIGHTS)
        await home.async_add_home(hass)
        await home.async_add_engine(hass, engine)
        for label, area in ROOMS:
            await home.async_add_satellite(hass, satellites[label], area)
        await _keep_audio(hass)
        from custom_components.sotto.services import history_store

        store = history_store(hass)
        kitchen, bedroom = satellites["kitchen"], satellites["bedroom"]
        tone = _tone()
        await store.async_add(
            _kept(kitchen, "Kitchen", "turn on the lights", Outcome.HANDLED, 3, tone)
        )
        await store.async_add(_kept(bedroom, "Bedroom", "what time is it", Outcome.HANDLED, 1))
        await store.async_add(
            _kept(kitchen, "Kitchen", "play the radio", Outcome.NOT_UNDERSTOOD, 0)
        )
        await store.async_add(_kept(bedroom, "Bedroom", "<b>bold</b> words", Outcome.HANDLED, 0))
        await serve.async_create_login(hass)
        admin = next(u for u in await hass.auth.async_get_users() if u.name == "Demo")
        member = await hass.auth.async_create_user("Member", group_ids=[GROUP_ID_USER])
        assert GROUP_ID_ADMIN in {g.id for g in admin.groups}
        devices = {
            label: device.id
            for label, sat in satellites.items()
            if (device := home.sotto_device(hass, sat.device_id)) is not None
        }
        ready = {
            "url": f"http://127.0.0.1:{port}",
            "admin_token": await _token(hass, admin),
            "member_token": await _token(hass, member),
            "devices": devices,
            "speakers": {label: str(sat.speaker_dir) for label, sat in satellites.items()},
            "log": str(config_dir / "home-assistant.log"),
        }
        (workdir / READY).write_text(json.dumps(ready))
        await asyncio.Event().wait()


async def _main(workdir: Path, port: int) -> None:
    cancel_on_signals()
    with contextlib.suppress(asyncio.CancelledError):
        await run(workdir, port)


if __name__ == "__main__":
    asyncio.run(_main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else free_port()))
