"""A real Home Assistant booted inside the demo's own event loop, from a throwaway config."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import yaml
from homeassistant import bootstrap
from homeassistant.components.http.config import (
    HTTP_STORAGE_SCHEMA,
    STORAGE_KEY,
    STORAGE_MINOR_VERSION,
    STORAGE_VERSION,
)
from homeassistant.core import HomeAssistant
from homeassistant.runner import RuntimeConfig

REPO: Final = Path(__file__).resolve().parent.parent
INTEGRATION: Final = REPO / "custom_components" / "sotto"
LOG_NAME: Final = "home-assistant.log"


def cancel_on_signals() -> None:
    """Ctrl-C and SIGTERM cancel the running task, so everything stops on the way out (even
    when the shell that started it in the background set SIGINT to be ignored)."""
    loop = asyncio.get_running_loop()
    current = asyncio.current_task()
    if current is not None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, current.cancel)


class HarnessError(RuntimeError):
    """Home Assistant did not start as configured."""


def configuration(*, extra: dict[str, Any]) -> dict[str, Any]:
    """configuration.yaml: only what the demo uses (HA adds its defaults, the web UI too)."""
    config: dict[str, Any] = {
        "homeassistant": {
            "name": "Sotto demo",
            "latitude": 52.37,
            "longitude": 4.89,
            "elevation": 0,
            "unit_system": "metric",
            "time_zone": "UTC",
            "country": "NL",
            "currency": "EUR",
            "language": "en",
        },
        "conversation": {},
        "assist_pipeline": {},
        "recorder": {"commit_interval": 1},
        "history": {},
        "logbook": {},
    }
    config.update(extra)
    return config


def write_http_config(config_dir: Path, *, port: int) -> None:
    """Serve on 127.0.0.1:port only, as HA's stored, confirmed web server settings.

    Since 2026 HA keeps these in .storage/http, not in YAML: settings from YAML become a
    trial that HA reverts (restarting itself) unless a person confirms them in 5 minutes.
    """
    stable = HTTP_STORAGE_SCHEMA({"server_host": ["127.0.0.1"], "server_port": port})
    stable.update(created_at="2026-01-01T00:00:00+00:00", error=None, error_message=None)
    storage = config_dir / ".storage"
    storage.mkdir(parents=True, exist_ok=True)
    (storage / STORAGE_KEY).write_text(
        json.dumps(
            {
                "version": STORAGE_VERSION,
                "minor_version": STORAGE_MINOR_VERSION,
                "key": STORAGE_KEY,
                "data": {"stable": stable, "pending": None, "yaml_migration_done": True},
            }
        )
    )


def _keep_logs_off_stdout() -> None:
    """Leave stdout to the timeline; Home Assistant logs to its file in the config dir."""
    # Home Assistant calls logging.basicConfig, which adds a console handler only when
    # the root logger has none yet; its own file handler is added either way.
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(logging.NullHandler())


def has_web_ui() -> bool:
    """Whether the home-assistant-frontend package is installed."""
    return importlib.util.find_spec("hass_frontend") is not None


@contextlib.asynccontextmanager
async def running_home_assistant(
    config_dir: Path, *, port: int, extra: dict[str, Any] | None = None
) -> AsyncIterator[HomeAssistant]:
    """Boot Home Assistant with Sotto installed as a custom integration; stop it after."""
    if not has_web_ui():
        # Home Assistant always loads its frontend and starts in recovery mode without it.
        raise HarnessError(
            "Home Assistant needs its web UI package: run ./scripts/demo, or "
            ".venv/bin/pip install home-assistant-frontend (the version HA's frontend "
            "manifest names)"
        )
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "configuration.yaml").write_text(
        yaml.safe_dump(configuration(extra=extra or {}), sort_keys=False)
    )
    write_http_config(config_dir, port=port)
    # Served at /local/ (only if it exists when HA starts); --screenshot logs in from it.
    (config_dir / "www").mkdir(exist_ok=True)
    custom = config_dir / "custom_components"
    custom.mkdir(exist_ok=True)
    (custom / "sotto").symlink_to(INTEGRATION, target_is_directory=True)
    log = config_dir / LOG_NAME
    _keep_logs_off_stdout()
    runtime = RuntimeConfig(config_dir=str(config_dir), skip_pip=True, log_file=str(log))
    hass = await bootstrap.async_setup_hass(runtime)
    if hass is None:
        raise HarnessError(f"Home Assistant did not start: see {log}")
    try:
        if hass.config.recovery_mode:
            raise HarnessError(f"Home Assistant started in recovery mode: see {log}")
        await hass.async_start()
        yield hass
    finally:
        await hass.async_stop()
