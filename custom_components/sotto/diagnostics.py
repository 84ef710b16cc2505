"""Diagnostics: what a support request needs, with keys and addresses removed."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant

import sotto_voice

from .connection import unsupported_features
from .const import CONF_KEY
from .data import SatelliteData, SottoConfigEntry, entry_kind

TO_REDACT = {CONF_KEY, CONF_HOST, "device_id", "last_error"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: SottoConfigEntry
) -> dict[str, Any]:
    """Describe the entry and, for a satellite, its link and what it last reported."""
    data: dict[str, Any] = {
        "entry": async_redact_data(dict(entry.data), TO_REDACT),
        "kind": entry_kind(entry).value,
        "library_version": sotto_voice.__version__,
    }
    if not isinstance(entry.runtime_data, SatelliteData):
        return data
    satellite = entry.runtime_data.satellite
    connection = entry.runtime_data.connection
    data["link"] = {
        "available": connection.available,
        "encrypted": not connection.legacy,
        "reconnect_attempt": connection.attempt,
        # Errors can quote addresses; say only what kind of error it was.
        "last_error": connection.last_error.split(":", 1)[0] if connection.last_error else None,
        "peer_version": connection.peer.version if connection.peer else None,
    }
    data["satellite"] = {
        "info": async_redact_data(asdict(satellite.info), TO_REDACT) if satellite.info else None,
        "state": asdict(satellite.state) if satellite.state else None,
        "streaming": satellite.streaming,
        # Recognised on the device: the digest of the home grammar it says it uses.
        "recognizes_on_device": bool(satellite.info and satellite.info.recognizes_on_device),
        "grammar_digest": satellite.grammar_digest,
        "ledger": asdict(satellite.ledger) if satellite.ledger else None,
        # Entities not created because the device cannot honour them, and why.
        "unsupported": dict(unsupported_features(connection)),
    }
    return data
