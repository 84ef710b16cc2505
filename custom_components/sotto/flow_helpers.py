"""What the config flow's steps share: a discovered device's claim, and the address fields."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import probatio as vol
from homeassistant.config_entries import ConfigEntry, ConfigEntryState, ConfigFlow
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .data import SatelliteData

_LOGGER = logging.getLogger(__name__)


def address_fields(host: str, port: int) -> dict[Any, Any]:
    """A form's host and port fields, with their defaults."""
    return {
        vol.Required(CONF_HOST, default=host): str,
        vol.Required(CONF_PORT, default=port): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=65535)
        ),
    }


type AddressProof = Callable[[ConfigEntry[Any], str, int], Awaitable[bool]]
"""Whether the device at (host, port) proves it is the paired device of the entry."""

# The (entry, address) pairs whose unproven announcements were logged already.
_IGNORED: HassKey[set[tuple[str, str, int]]] = HassKey(f"{DOMAIN}_ignored_announcements")


async def async_claim_discovered(
    flow: ConfigFlow, unique_id: str, host: str, port: int | None, prove: AddressProof
) -> None:
    """Give the flow the discovered device's ID; a known device is updated and the flow ends.

    A known device that is loaded but away retries its connection now instead of waiting
    out its backoff. An announcement is only a claim anyone on the network can make, so a
    new address is taken only once the device there proves, with the entry's key, that it
    is the paired device; otherwise it is ignored (and logged once). Raises `AbortFlow`
    ("already_configured") for a known device, as the flow's own check does.
    """
    await flow.async_set_unique_id(unique_id)
    known = flow.hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, unique_id)
    if known is None:
        return
    if known.state is ConfigEntryState.LOADED and isinstance(known.runtime_data, SatelliteData):
        known.runtime_data.connection.retry_now()
    port = port or known.data[CONF_PORT]
    if (host, port) != (known.data[CONF_HOST], known.data[CONF_PORT]) and not await prove(
        known, host, port
    ):
        ignored = flow.hass.data.setdefault(_IGNORED, set())
        if (known.entry_id, host, port) not in ignored:
            ignored.add((known.entry_id, host, port))
            _LOGGER.warning(
                "Ignored an announcement of %s at %s:%s: the device there did not prove it is "
                "that device, so its address stays %s:%s",
                known.title,
                host,
                port,
                known.data[CONF_HOST],
                known.data[CONF_PORT],
            )
        flow._abort_if_unique_id_configured()
    flow._abort_if_unique_id_configured(updates={CONF_HOST: host, CONF_PORT: port})
