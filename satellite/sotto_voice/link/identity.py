"""Who is on each end of a link: the hello both sides send inside the handshake."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from sotto_voice import __version__

from .errors import HandshakeError

ROLE_SATELLITE: Final = "satellite"
ROLE_ENGINE: Final = "engine"
ROLE_CONTROLLER: Final = "controller"
ROLES: Final = frozenset({ROLE_SATELLITE, ROLE_ENGINE, ROLE_CONTROLLER})

_MAX_ID: Final = 128
_MAX_NAME: Final = 128
_MAX_VERSION: Final = 64
#: A hello is four short strings; anything bigger is refused before JSON parsing.
MAX_HELLO_BYTES: Final = 2048
_HELLO_VERSION: Final = 1


def _check_text(field_name: str, value: object, limit: int, *, allow_empty: bool) -> str:
    if not isinstance(value, str):
        raise ValueError(f"PeerIdentity.{field_name} must be a string, got {type(value).__name__}")
    if not value and not allow_empty:
        raise ValueError(f"PeerIdentity.{field_name} must not be empty")
    if len(value) > limit:
        raise ValueError(f"PeerIdentity.{field_name} is longer than {limit} characters")
    if not value.isprintable():
        raise ValueError(f"PeerIdentity.{field_name} contains control characters")
    return value


@dataclass(frozen=True, slots=True)
class PeerIdentity:
    """A device's identity as told to its peer in the handshake."""

    device_id: str
    """Stable, unique ID of the device (survives IP changes); what clients pin."""

    name: str
    """Human-friendly name, shown in errors and UIs."""

    role: str
    """One of "satellite", "engine" or "controller"."""

    version: str = __version__
    """Software version of the device."""

    def __post_init__(self) -> None:
        _check_text("device_id", self.device_id, _MAX_ID, allow_empty=False)
        _check_text("name", self.name, _MAX_NAME, allow_empty=True)
        _check_text("version", self.version, _MAX_VERSION, allow_empty=True)
        if self.role not in ROLES:
            raise ValueError(f"PeerIdentity.role must be one of {sorted(ROLES)}, got {self.role!r}")

    def to_hello(self) -> bytes:
        """Return the hello payload carried in a handshake message."""
        return json.dumps(
            {
                "hello": _HELLO_VERSION,
                "device_id": self.device_id,
                "name": self.name,
                "role": self.role,
                "version": self.version,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")

    @classmethod
    def from_hello(cls, payload: bytes) -> PeerIdentity:
        """Parse a peer's hello, raising HandshakeError when it is malformed."""
        if len(payload) > MAX_HELLO_BYTES:
            raise HandshakeError(f"peer hello is {len(payload)} bytes (limit {MAX_HELLO_BYTES})")
        try:
            obj = json.loads(payload)
        except (ValueError, RecursionError) as err:
            raise HandshakeError(f"peer hello is not valid JSON: {err}") from None
        if not isinstance(obj, dict):
            raise HandshakeError("peer hello is not a JSON object")
        if obj.get("hello") != _HELLO_VERSION:
            raise HandshakeError(f"peer speaks hello version {obj.get('hello')!r}, not 1")
        try:
            return cls(
                device_id=obj.get("device_id"),  # type: ignore[arg-type]  # checked in post_init
                name=obj.get("name"),  # type: ignore[arg-type]
                role=obj.get("role"),  # type: ignore[arg-type]
                version=obj.get("version"),  # type: ignore[arg-type]
            )
        except ValueError as err:
            raise HandshakeError(f"peer hello is invalid: {err}") from None
