"""What the config flow's steps share: a discovered device's claim, and the address fields."""

from __future__ import annotations

from typing import Any

import probatio as vol
from homeassistant.config_entries import ConfigEntryState, ConfigFlow
from homeassistant.const import CONF_HOST, CONF_PORT

from .const import DOMAIN


def address_fields(host: str, port: int) -> dict[Any, Any]:
    """A form's host and port fields, with their defaults."""
    return {
        vol.Required(CONF_HOST, default=host): str,
        vol.Required(CONF_PORT, default=port): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=65535)
        ),
    }


async def async_claim_discovered(
    flow: ConfigFlow, unique_id: str, host: str, port: int | None
) -> None:
    """Give the flow the discovered device's ID; a known device is updated and the flow ends.

    A known device that is loaded but away retries its connection now instead of waiting
    out its backoff; one at a new address is updated (and reloaded). Raises `AbortFlow`
    ("already_configured") for a known device, as the flow's own check does.
    """
    await flow.async_set_unique_id(unique_id)
    known = flow.hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, unique_id)
    if known is not None and known.state is ConfigEntryState.LOADED:
        connection = known.runtime_data.connection
        if connection is not None:
            connection.retry_now()
    flow._abort_if_unique_id_configured(updates={CONF_HOST: host, CONF_PORT: port})
