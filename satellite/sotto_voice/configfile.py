"""What `sotto-satellite` and `sotto-engine` share about their YAML configuration files.

Each program declares its configuration once, as frozen dataclasses whose fields carry their
default and their voluptuous check (`checked`); `schema` and `build` derive the rest. Every
error names the key (as a dotted path, e.g. `link.port`) and what is wrong with it.
"""

from __future__ import annotations

import os
import types
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, Field, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar, Union, get_args, get_origin, get_type_hints

import voluptuous as vol

from sotto_voice.errors import SottoError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

MAX_NAME: Final = 64
MAX_DEVICE_ID: Final = 64
_CHECK: Final = "sotto_check"
_REQUIRED: Final = "sotto_required"


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


def url(value: Any) -> str:
    """An http:// or https:// URL (a trailing slash dropped)."""
    checked = text(value)
    if not checked.startswith(("http://", "https://")):
        raise vol.Invalid("must be an http:// or https:// URL")
    return checked.rstrip("/")


def port(value: Any) -> int:
    """A TCP port; 0 asks the system for any free one."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise vol.Invalid("must be a whole number")
    if not 0 <= value <= 65535:
        raise vol.Invalid("must be between 1 and 65535 (0: any free port)")
    return int(value)


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


# --- a configuration declared once: dataclass fields, their defaults and their checks ------

_C = TypeVar("_C", bound="DataclassInstance")
_P = TypeVar("_P", bound="ProgramConfig")


def checked(check: Any, *, required: bool = False) -> dict[str, Any]:
    """Field metadata: the voluptuous check of the field's YAML value.

    A field whose type is a configuration dataclass (or a tuple of them) needs none: its
    section is checked field by field. `required` fields must be in the YAML.
    """
    return {_CHECK: check, _REQUIRED: required}


def _section(hint: Any) -> Any:
    """The configuration dataclass a field holds (`X` or `X | None`), else None."""
    if get_origin(hint) in (Union, types.UnionType):
        (hint,) = [arg for arg in get_args(hint) if arg is not type(None)]
    return hint if isinstance(hint, type) and is_dataclass(hint) else None


def _items(hint: Any) -> Any:
    """The configuration dataclass of a `tuple[X, ...]` field, else None."""
    if get_origin(hint) is not tuple:
        return None
    return _section(get_args(hint)[0])


def schema(kind: type[DataclassInstance]) -> vol.Schema:
    """The voluptuous schema of a configuration dataclass, from its fields' checks."""
    hints = get_type_hints(kind)
    keys: dict[Any, Any] = {}
    for item in fields(kind):
        marker = vol.Required if item.metadata.get(_REQUIRED) else vol.Optional
        keys[marker(item.name)] = _check_of(item, hints[item.name])
    return vol.Schema(keys)


def _check_of(item: Field[Any], hint: Any) -> Any:
    if _CHECK in item.metadata:
        return item.metadata[_CHECK]
    section, items = _section(hint), _items(hint)
    if section is not None:
        return schema(section)
    if items is not None:
        return vol.All(vol.Any(list, msg=f"must be a list of {item.name}"), [schema(items)])
    raise TypeError(f"configuration field {item.name!r} has no check")


def _default(item: Field[Any]) -> Any:
    if item.default_factory is not MISSING:
        return item.default_factory()
    return None if item.default is MISSING else item.default


def build(kind: type[_C], conf: Mapping[str, Any], base: _C | None = None) -> _C:
    """The dataclass from validated data: keys left out keep the field's (or base's) default."""
    hints = get_type_hints(kind)
    values: dict[str, Any] = {}
    for item in fields(kind):
        if item.name not in conf:
            continue
        value, hint = conf[item.name], hints[item.name]
        section, items = _section(hint), _items(hint)
        if section is not None:
            default = _default(item)
            value = build(section, value, default if isinstance(default, section) else None)
        elif items is not None:
            value = tuple(build(items, one) for one in value)
        values[item.name] = value
    return kind(**values) if base is None else replace(base, **values)


def validate(
    kind: type[_P],
    raw: Mapping[str, Any],
    *,
    source: str,
    error: type[Exception],
    program: str,
    name: str,
) -> _P:
    """A program's configuration from raw YAML data; `error` names every bad key.

    `name` and `state_dir` left out become `name` and the program's default state directory.
    """
    conf = check(schema(kind), raw, source=source, error=error)
    conf["name"] = conf.get("name") or name
    conf["state_dir"] = conf.get("state_dir") or default_state_dir(program)
    return build(kind, conf)


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkConfig:
    """Where a program listens for Home Assistant and with which key (`link:`)."""

    host: str = field(default="0.0.0.0", metadata=checked(text))
    port: int = field(metadata=checked(port))
    """Each program's field declaring a `link:` section gives its own default port."""

    key_file: Path | None = field(default=None, metadata=checked(path))
    """None means `<state_dir>/link.key`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoveryConfig:
    """Zeroconf announcement of the device (`_sotto._tcp`, TXT role names which)."""

    enabled: bool = field(metadata=checked(boolean))
    """Each program's field declaring a `discovery:` section gives its own default."""

    address: str | None = field(default=None, metadata=checked(text))
    """Address to announce; None picks the address of the default route."""


@dataclass(frozen=True, slots=True)
class ProgramConfig:
    """What every Sotto program's configuration holds; each program adds its own sections.

    A program redeclares `link` and `discovery` with its own defaults (port, announced or
    not); the fields keep their place.
    """

    name: str = field(metadata=checked(name))
    """Left out of the YAML: a name made from the host's (see `validate`)."""

    state_dir: Path = field(metadata=checked(path))
    """Left out of the YAML: systemd's STATE_DIRECTORY, else ~/.local/state/<program>."""

    device_id: str | None = field(default=None, metadata=checked(device_id))
    """None means an id generated once and kept in the state directory."""

    link: LinkConfig = field(default_factory=lambda: LinkConfig(port=0))
    discovery: DiscoveryConfig = field(default_factory=lambda: DiscoveryConfig(enabled=False))
    log_level: str = field(
        default="info", metadata=checked(one_of("debug", "info", "warning", "error"))
    )

    @property
    def key_file(self) -> Path:
        """The link key file."""
        return self.link.key_file or self.state_dir / "link.key"


def whisper_model_dir(name: str, models_dir: Path) -> Path:
    """Where a Whisper model is: `name` itself if it names a directory (a path with a
    slash, or ~), else `whisper-<name>` in models_dir (where download-model puts it)."""
    if "/" in name or name.startswith("~"):
        return Path(name).expanduser()
    return models_dir / f"whisper-{name}"


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
