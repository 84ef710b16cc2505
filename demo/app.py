"""The demo itself: Home Assistant, an engine and two satellites, the scenario, the timeline."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys
import tempfile
from pathlib import Path
from typing import Final

from homeassistant.const import __version__ as HA_VERSION

from . import home, house, serve
from .cli import EXIT_FAILED, EXIT_SETUP, SERVE_PORT
from .harness import HarnessError, cancel_on_signals, running_home_assistant
from .processes import (
    ProcessError,
    SatelliteProcess,
    free_port,
    on_device_recognition,
    run_engine,
    run_satellite,
)
from .scenario import BEDROOM, EDGE, KITCHEN, Scenario
from .speech import SpeechError
from .timeline import Timeline, Watcher, follow_speaker

LIGHTS: Final = {"Kitchen": ["Kitchen Light"], "Bedroom": ["Bedroom Lamp"]}


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def _start_satellites(
    stack: contextlib.AsyncExitStack, args: argparse.Namespace, workdir: Path, timeline: Timeline
) -> dict[str, SatelliteProcess]:
    """The kitchen's satellite (streaming to HA) and the bedroom's (recognising itself)."""
    satellites: dict[str, SatelliteProcess] = {}
    for label, area, live in ((KITCHEN, "Kitchen", args.mic), (BEDROOM, "Bedroom", False)):
        edge = label in EDGE
        satellites[label] = await stack.enter_async_context(
            run_satellite(
                workdir / label,
                device_id=f"{label}-satellite",
                name=f"{area} satellite",
                live=live,
                extra=on_device_recognition() if edge else None,
            )
        )
        how = "microphone and speaker" if live else "WAV microphone and WAV speaker"
        how += ", recognises on the device" if edge else ", streams to HA"
        timeline.say(label, f"listening on 127.0.0.1:{satellites[label].port} ({how})")
    return satellites


async def run(args: argparse.Namespace, workdir: Path) -> int:
    """Start everything, play the scenario, print the timeline; the exit status."""
    timeline = Timeline()
    config_dir = workdir / "config"
    port = SERVE_PORT if args.serve else free_port()
    if args.serve and not _port_is_free(port):
        print(f"port {port} on 127.0.0.1 is in use: stop what runs there first", file=sys.stderr)
        return EXIT_SETUP
    print(f"Sotto demo in {workdir} (Home Assistant's log: {config_dir}/home-assistant.log)")
    timeline.say(
        "demo",
        "starting a Sotto engine and two satellites: the kitchen's streams its commands to "
        "HA and the engine, the bedroom's recognises them on the device",
    )
    async with contextlib.AsyncExitStack() as stack:
        engine = await stack.enter_async_context(
            run_engine(workdir / "engine", device_id="demo-engine", name="Engine")
        )
        timeline.say("engine", f"listening on 127.0.0.1:{engine.port}")
        satellites = await _start_satellites(stack, args, workdir, timeline)
        # Onboarding done and no user: nobody can claim this HA unless --serve adds a login.
        serve.mark_onboarded(config_dir)
        timeline.say("HA", f"starting Home Assistant {HA_VERSION} on 127.0.0.1:{port}")
        hass = await stack.enter_async_context(
            running_home_assistant(config_dir, port=port, extra=house.house_configuration(LIGHTS))
        )
        await house.async_place_house(hass, LIGHTS)
        await home.async_add_home(hass)
        await home.async_add_engine(hass, engine)
        timeline.say("HA", "Sotto home and engine added through the config flow")
        for label, area in ((KITCHEN, "Kitchen"), (BEDROOM, "Bedroom")):
            await home.async_add_satellite(hass, satellites[label], area)
            timeline.say("HA", f"{satellites[label].name} paired, in area {area}")
        await house.async_use_sotto_pipeline(
            hass, stt_engine="stt.engine_speech_to_text", tts_engine="tts.engine_text_to_speech"
        )
        await home.async_wait_for_grammar(hass)
        for label in EDGE:
            await home.async_wait_for_satellite_grammar(hass, satellites[label])
            timeline.say(label, "has the home's grammar (sent by HA, by digest)")
        timeline.say("HA", "pipeline: the engine's speech-to-text, HA's agent, the engine's voice")

        watcher = Watcher(
            hass,
            timeline,
            {home.entity_prefix(sat): label for label, sat in satellites.items()},
        )
        scenario = Scenario(hass, timeline, watcher, satellites, config_dir)
        watcher.start()
        stack.callback(watcher.stop)
        for label, satellite in satellites.items():
            if satellite.live:
                continue
            task = asyncio.create_task(
                follow_speaker(timeline, label, satellite.speaker_dir, scenario.reply_played(label))
            )
            stack.push_async_callback(_cancel, task)

        passed = await scenario.run(leave_history=args.serve)
        failed = [check for check in scenario.checks if not check.ok]
        print()
        if passed:
            print(f"demo passed: all {len(scenario.checks)} checks, in {timeline.elapsed():.1f} s")
        else:
            print(f"demo FAILED: {len(failed)} of {len(scenario.checks)} checks")
            for check in failed:
                print(f"  [{check.step}] {check.what}")

        if args.serve:
            url = f"http://127.0.0.1:{port}"
            username, password = await serve.async_create_login(hass)
            devices = f"{url}/config/devices/dashboard?historyBack=1&domain=sotto"
            print(f"\nHome Assistant: {url}  (user {username!r}, password {password!r})")
            print(f"Sotto's devices: {devices}")
            print(f"History: {url}/history   Logbook: {url}/logbook")
            from custom_components.sotto.history.panel import PANEL_URL_PATH

            print(f"Voice history panel: {url}/{PANEL_URL_PATH}")
            if args.screenshot:
                device = home.sotto_device(hass, satellites[KITCHEN].device_id)
                page = f"/config/devices/device/{device.id if device else ''}"
                shot = await serve.async_screenshot(hass, url, page, args.screenshot.resolve())
                print(f"screenshot of {url}{page}: {shot}")
            else:
                print("Ctrl-C stops Home Assistant, the satellites and the engine.")
                await asyncio.Event().wait()
    return 0 if passed else EXIT_FAILED


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _main(args: argparse.Namespace) -> int:
    cancel_on_signals()
    workdir = Path(tempfile.mkdtemp(prefix="sotto-demo-"))
    try:
        return await run(args, workdir)
    except (HarnessError, ProcessError, SpeechError, home.SetupError, house.HouseError) as err:
        print(f"demo could not start: {err}", file=sys.stderr)
        return EXIT_SETUP
    finally:
        print(f"\nreplies and logs are kept in {workdir} (rm -rf it when done)", file=sys.stderr)


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo; 0 only if every step did what it should."""
    try:
        return asyncio.run(_main(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\nstopped", file=sys.stderr)
        return 130
