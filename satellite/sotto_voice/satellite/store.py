"""State kept on the device across restarts: mute, settings changed from HA, device id."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Final

from sotto_voice.messages import MuteSource

from .errors import StateFileError

_LOGGER = logging.getLogger(__name__)

_MAX_STATE_BYTES: Final = 1024 * 1024


def read_json(path: Path) -> dict[str, Any] | None:
    """Return the JSON object in path, None if the file does not exist."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_STATE_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise StateFileError(f"{path}: cannot read ({err})") from err
    if len(raw) > _MAX_STATE_BYTES:
        raise StateFileError(f"{path}: too large to be a state file")
    try:
        data = json.loads(raw)
    except ValueError as err:
        raise StateFileError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise StateFileError(f"{path}: must hold a JSON object")
    return data


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write a JSON object atomically: a crash leaves the old file or the new one."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temp.open("w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise StateFileError(f"{path}: cannot write ({err})") from err


@dataclass(frozen=True, slots=True)
class DeviceState:
    """What survives a restart."""

    device_id: str
    muted: bool = False
    mute_source: MuteSource | None = None
    wake_word: str | None = None
    """Set from Home Assistant; None means the configured one."""

    second_wake_word: str | None = None
    """Set from Home Assistant; None means none."""

    sensitivity: float | None = None
    volume: float | None = None


class StateStore:
    """Reads and writes `state.json` in the state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "state.json"
        self._state = self._load()

    def _load(self) -> DeviceState:
        data = read_json(self.path)
        if data is None:
            state = DeviceState(device_id=uuid.uuid4().hex[:12])
            write_json(self.path, _to_json(state))
            return state
        try:
            source = data.get("mute_source")
            return DeviceState(
                device_id=str(data["device_id"]),
                muted=bool(data.get("muted", False)),
                mute_source=None if source is None else MuteSource(source),
                wake_word=data.get("wake_word"),
                second_wake_word=data.get("second_wake_word"),
                sensitivity=_opt_float(data.get("sensitivity")),
                volume=_opt_float(data.get("volume")),
            )
        except (KeyError, ValueError, TypeError) as err:
            raise StateFileError(
                f"{self.path}: unreadable state ({err}); fix or delete the file"
            ) from None

    @property
    def state(self) -> DeviceState:
        """Return the stored state."""
        return self._state

    def update(self, **changes: Any) -> DeviceState:
        """Change fields and write the file; returns the new state."""
        new = replace(self._state, **changes)
        if new != self._state:
            write_json(self.path, _to_json(new))
            self._state = new
        return new


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _to_json(state: DeviceState) -> dict[str, Any]:
    data = asdict(state)
    data["mute_source"] = None if state.mute_source is None else state.mute_source.value
    return data
