"""Setting up an ESPHome satellite's entry, and the repair issues it may need."""

from __future__ import annotations

from typing import Any, Final

from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import format_mac
from homeassistant.helpers.storage import Store

from ..const import CONF_DEVICE_ID, CONF_KEY, DOMAIN  # noqa: TID252
from ..data import SatelliteData, SottoConfigEntry  # noqa: TID252
from ..issues import async_set_issue  # noqa: TID252
from ..satellite import SatelliteDevice  # noqa: TID252
from .session import EsphomeAuthError, EsphomeError, async_esphome_conflict
from .transport import EsphomeTransport

_LEDGER_VERSION: Final = 1
_LEDGER_SAVE_DELAY: Final = 10.0


async def async_setup_esphome_entry(hass: HomeAssistant, entry: SottoConfigEntry) -> None:
    """Connect once (so setup fails clearly), then keep the API connection up."""
    name = entry.data.get(CONF_NAME) or entry.title
    key: str | None = entry.data.get(CONF_KEY) or None
    transport = EsphomeTransport(
        hass,
        host=entry.data[CONF_HOST],
        port=entry.data[CONF_PORT],
        key=key,
        mac=entry.data.get(CONF_DEVICE_ID),
        name=name,
        on_auth_failed=lambda: entry.async_start_reauth(hass),
    )
    try:
        first = await transport.async_open()
    except EsphomeAuthError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN,
            translation_key="invalid_key",
            translation_placeholders={"name": name},
        ) from err
    except EsphomeError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders={"name": name, "error": str(err)},
        ) from err
    # The device keeps no ledger, so Home Assistant keeps its counts across restarts.
    store: Store[dict[str, Any]] = Store(hass, _LEDGER_VERSION, _ledger_key(entry.entry_id))
    transport.restore_ledger(await store.async_load())
    transport.on_ledger = lambda data: store.async_delay_save(lambda: data, _LEDGER_SAVE_DELAY)

    async def _async_save_ledger() -> None:
        await store.async_save(transport.ledger_data())

    entry.async_on_unload(_async_save_ledger)
    satellite = SatelliteDevice(hass, transport)
    entry.runtime_data = SatelliteData(satellite)
    entry.async_on_unload(satellite.close)
    entry.async_create_background_task(
        hass, transport.async_run(first), f"sotto esphome {name}", eager_start=True
    )
    placeholders = {"name": name, "host": entry.data[CONF_HOST]}
    async_set_issue(hass, entry.entry_id, "esphome_unencrypted", placeholders, active=key is None)
    mac = format_mac(first.info.mac_address)

    @callback
    def _check_conflict(_event: object = None) -> None:
        conflict = async_esphome_conflict(hass, mac)
        async_set_issue(
            hass,
            entry.entry_id,
            "esphome_voice_conflict",
            {**placeholders, "esphome_entry": conflict or ""},
            active=conflict is not None,
        )

    _check_conflict()
    # The repair asks the user to disable the device's Assist satellite entity in HA's
    # ESPHome integration: that change (or its undoing) updates the issue at once.
    entry.async_on_unload(hass.bus.async_listen(er.EVENT_ENTITY_REGISTRY_UPDATED, _check_conflict))


def _ledger_key(entry_id: str) -> str:
    return f"{DOMAIN}.esphome_ledger.{entry_id}"


@callback
def async_remove_esphome_ledger(hass: HomeAssistant, entry_id: str) -> None:
    """Forget a removed ESPHome satellite's stored ledger."""
    store: Store[dict[str, Any]] = Store(hass, _LEDGER_VERSION, _ledger_key(entry_id))
    hass.async_create_task(store.async_remove(), f"sotto remove ledger {entry_id}")
