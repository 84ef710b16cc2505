"""What `sotto-satellite` and `sotto-engine` share about their YAML configuration files.

Every error names the key (as a dotted path, e.g. `link.port`) and what is wrong with it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import voluptuous as vol

from sotto_voice.errors import SottoError

MAX_NAME: Final = 64
MAX_DEVICE_ID: Final = 64


class ConfigFileError(SottoError):
    """A configuration file is missing, unreadable or invalid."""


def default_state_dir(program: str) -> Path:
    """Where a program keeps state: systemd's STATE_DIRECTORY, else ~/.local/state/<program>."""
    systemd_dir = os.environ.get("STATE_DIRECTORY")
    if systemd_dir:
        return Path(systemd_dir.split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / program


def text(value: Any) -> str:
    """A non-empty string (surrounding spaces dropped)."""
    if not isinstance(value, str) or not value.strip():
        raise vol.Invalid("must be a non-empty string")
    return value.strip()


def port(value: Any) -> int:
    """A TCP port; 0 asks the system for any free one."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise vol.Invalid("must be a whole number")
    if not 0 <= value <= 65535:
        raise vol.Invalid("must be between 1 and 65535 (0: any free port)")
    return int(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkConfig:
    """Where a program listens for Home Assistant and with which key."""

    host: str = "0.0.0.0"
    port: int
    key_file: Path | None = None
    """None means `<state_dir>/link.key`."""

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> LinkConfig:
        """Build it from a `link:` section validated by `link_schema`."""
        return cls(host=section["host"], port=section["port"], key_file=section.get("key_file"))


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoveryConfig:
    """Zeroconf announcement of the device (`_sotto._tcp`, TXT role names which)."""

    enabled: bool
    address: str | None = None
    """Address to announce; None picks the address of the default route."""

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> DiscoveryConfig:
        """Build it from a `discovery:` section validated by `discovery_schema`."""
        return cls(enabled=section["enabled"], address=section.get("address"))


def link_schema(default_port: int) -> vol.Schema:
    """The `link:` section both programs have: where to listen and the key file."""
    return vol.Schema(
        {
            vol.Optional("host", default="0.0.0.0"): text,
            vol.Optional("port", default=default_port): port,
            vol.Optional("key_file"): path,
        }
    )


def discovery_schema(*, enabled: bool) -> vol.Schema:
    """The `discovery:` section: zeroconf on or off, and the address to announce."""
    return vol.Schema(
        {
            vol.Optional("enabled", default=enabled): boolean,
            vol.Optional("address"): text,
        }
    )


def path(value: Any) -> Path:
    """A file or directory path (`~` expanded)."""
    if not isinstance(value, str) or not value.strip():
        raise vol.Invalid("must be a file or directory path")
    return Path(value).expanduser()


def boolean(value: Any) -> bool:
    """true or false, never a string that looks like one."""
    if isinstance(value, bool):
        return value
    raise vol.Invalid("must be true or false")


def name(value: Any) -> str:
    """A device name people read: printable, at most 64 characters."""
    if not isinstance(value, str) or not value.strip():
        raise vol.Invalid("must be a non-empty name")
    if len(value) > MAX_NAME or not value.isprintable():
        raise vol.Invalid(f"must be at most {MAX_NAME} printable characters")
    return value.strip()


def device_id(value: Any) -> str:
    """A stable device ID: letters, digits, '-' and '_'."""
    if not isinstance(value, str) or not value or len(value) > MAX_DEVICE_ID:
        raise vol.Invalid(f"must be 1 to {MAX_DEVICE_ID} characters")
    if not all(ch.isalnum() or ch in "-_" for ch in value):
        raise vol.Invalid("may contain only letters, digits, '-' and '_'")
    return value


def one_of(*choices: str) -> vol.All:
    """One of the given words."""
    return vol.All(str, vol.In(choices, msg=f"must be one of: {', '.join(choices)}"))


def key_path(where: Sequence[Any]) -> str:
    """A voluptuous error path as the dotted key a person writes in YAML."""
    parts: list[str] = []
    for part in where:
        key = getattr(part, "schema", part)  # voluptuous markers wrap the key
        parts.append(f"[{key}]" if isinstance(key, int) else ("." if parts else "") + str(key))
    return "".join(parts) or "(top level)"


def describe(error: vol.Invalid, data: Any) -> str:
    """One line for one schema error: the key, what is wrong, and the value given."""
    where = key_path(error.path)
    message = error.msg
    if message == "extra keys not allowed":
        return f"{where}: unknown key (check the spelling and the nesting)"
    if message.startswith(("expected a dictionary", "expected dict")):
        return f"{where}: must be a mapping of keys to values"
    if message == "required key not provided":
        return f"{where}: is required"
    value: Any = data
    try:
        for part in error.path:
            value = value[getattr(part, "schema", part)]
    except (KeyError, IndexError, TypeError):
        return f"{where}: {message}"
    return f"{where}: {message} (got {value!r})"


def check(
    schema: vol.Schema, raw: Mapping[str, Any], *, source: str, error: type[Exception]
) -> dict[str, Any]:
    """Validate raw data; every problem goes into one `error`, each naming its key."""
    try:
        conf: dict[str, Any] = schema(dict(raw))
    except vol.MultipleInvalid as err:
        lines = sorted({describe(problem, raw) for problem in err.errors})
        raise error(f"{source}: " + "; ".join(lines)) from None
    except vol.Invalid as err:
        raise error(f"{source}: {describe(err, raw)}") from None
    return conf


def read_yaml(file: Path, *, error: type[Exception] = ConfigFileError) -> dict[str, Any]:
    """Read a YAML configuration file into a dict (raises `error`, naming the file)."""
    import yaml  # only the programs that read config files need PyYAML

    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{file}: no such configuration file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise error(f"{file}: cannot read the configuration file ({err})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise error(f"{file}: not valid YAML: {where}{err.problem}") from None
    except yaml.YAMLError as err:
        raise error(f"{file}: not valid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(f"{file}: the top level must be a mapping of keys to values")
    return data
