"""Config flow steps for ESPHome satellites: by address, by discovery, and re-auth."""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any, Final

import probatio as vol
from homeassistant.config_entries import ConfigEntry, ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT
from homeassistant.helpers.device_registry import format_mac
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo

from ..const import (  # noqa: TID252
    CONF_DEVICE_ID,
    CONF_KEY,
    CONF_KIND,
    CONF_LEGACY,
    EntryKind,
)
from ..flow_helpers import address_fields, async_claim_discovered  # noqa: TID252
from .session import (
    DEFAULT_ESPHOME_PORT,
    VOICE_PROJECT_PREFIXES,
    EsphomeError,
    async_esphome_conflict,
    async_open_session,
)

_LOGGER = logging.getLogger(__name__)

CONF_ALLOW_UNENCRYPTED: Final = "allow_unencrypted"
ESPHOME_SERVICE_TYPE: Final = "_esphomelib._tcp.local."


class EsphomeConflictError(Exception):
    """HA's own ESPHome integration also runs this device's voice assistant."""

    def __init__(self, esphome_entry: str) -> None:
        """Keep the title of the other entry, for the message."""
        super().__init__(esphome_entry)
        self.esphome_entry = esphome_entry


def _check_key(key_text: str) -> str:
    """The key as ESPHome writes it: base64 of 32 bytes (EsphomeError otherwise)."""
    try:
        raw = base64.b64decode(key_text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        error = EsphomeError("not 32 bytes of base64")
        error.reason = "invalid_key_format"
        raise error
    return key_text


class EsphomeFlowSteps(ConfigFlow):
    """The ESPHome steps of Sotto's config flow (mixed into the one flow class)."""

    _esphome_host: str | None = None
    _esphome_port: int = DEFAULT_ESPHOME_PORT
    _esphome_name: str | None = None
    _esphome_mac: str | None = None

    async def _async_probe_esphome(
        self, host: str, port: int, key_text: str | None, expected_mac: str | None = None
    ) -> tuple[str, str]:
        """Connect once and return the device's MAC and name; EsphomeError if it will not do."""
        key = _check_key(key_text.strip()) if key_text else None
        session = await async_open_session(host, port, key, expected_mac=expected_mac)
        await session.client.disconnect(force=True)
        info = session.info
        mac = format_mac(info.mac_address)
        if (conflict := async_esphome_conflict(self.hass, mac)) is not None:
            raise EsphomeConflictError(conflict)
        return mac, info.friendly_name or info.name

    async def _async_esphome_proves(self, entry: ConfigEntry[Any], host: str, port: int) -> bool:
        """Whether the device at host:port logs in with the entry's key and has its MAC."""
        try:
            session = await async_open_session(
                host, port, entry.data.get(CONF_KEY), expected_mac=entry.unique_id
            )
        except EsphomeError:
            return False
        await session.client.disconnect(force=True)
        return True

    async def _async_esphome_form_result(
        self, host: str, port: int, user_input: dict[str, Any], errors: dict[str, str]
    ) -> ConfigFlowResult | None:
        """Probe with the form's key; create the entry, abort, or fill `errors`."""
        key_text = (user_input.get(CONF_KEY) or "").strip() or None
        allow_plain = bool(user_input.get(CONF_ALLOW_UNENCRYPTED))
        if key_text is None and not allow_plain:
            errors[CONF_KEY] = "esphome_key_required"
            return None
        try:
            mac, name = await self._async_probe_esphome(host, port, key_text, self._esphome_mac)
        except EsphomeConflictError as err:
            return self._abort_conflict(err.esphome_entry)
        except EsphomeError as err:
            _LOGGER.debug("ESPHome device at %s:%s: %s", host, port, err)
            errors["base"] = err.reason
            return None
        await self.async_set_unique_id(mac)
        self._abort_if_unique_id_configured(updates={CONF_HOST: host, CONF_PORT: port})
        return self.async_create_entry(
            title=name,
            data={
                CONF_KIND: EntryKind.ESPHOME,
                CONF_HOST: host,
                CONF_PORT: port,
                CONF_KEY: key_text,
                CONF_DEVICE_ID: mac,
                CONF_NAME: name,
                CONF_LEGACY: key_text is None,
            },
        )

    def _abort_conflict(self, esphome_entry: str) -> ConfigFlowResult:
        """HA's ESPHome integration runs this device's voice assistant: one must give it up."""
        return self.async_abort(
            reason="esphome_voice_conflict",
            description_placeholders={"esphome_entry": esphome_entry},
        )

    @staticmethod
    def _esphome_key_schema() -> dict[Any, Any]:
        return {
            vol.Optional(CONF_KEY): str,
            vol.Optional(CONF_ALLOW_UNENCRYPTED, default=False): bool,
        }

    async def async_step_esphome(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add an ESPHome voice satellite by host, port and its API encryption key."""
        errors: dict[str, str] = {}
        if user_input is not None:
            result = await self._async_esphome_form_result(
                user_input[CONF_HOST], user_input[CONF_PORT], user_input, errors
            )
            if result is not None:
                return result
        schema = vol.Schema(
            {
                **address_fields((user_input or {}).get(CONF_HOST, ""), DEFAULT_ESPHOME_PORT),
                **self._esphome_key_schema(),
            }
        )
        return self.async_show_form(step_id="esphome", data_schema=schema, errors=errors)

    async def async_step_esphome_discovery(
        self, discovery_info: ZeroconfServiceInfo
    ) -> ConfigFlowResult:
        """An ESPHome device announced itself: offer it only if its firmware is a voice one.

        ESPHome's mDNS record says nothing about a voice assistant, and an encrypted device
        answers nothing without its key, so the firmware's project name is the only hint
        there is before the user confirms; the connection then checks the real features.
        """
        properties = discovery_info.properties
        project = (properties.get("project_name") or "").lower()
        mac = properties.get("mac")
        if not mac or not project.startswith(VOICE_PROJECT_PREFIXES):
            return self.async_abort(reason="not_a_voice_device")
        mac = format_mac(mac)
        await async_claim_discovered(
            self, mac, discovery_info.host, discovery_info.port, self._async_esphome_proves
        )
        if (conflict := async_esphome_conflict(self.hass, mac)) is not None:
            return self._abort_conflict(conflict)
        self._esphome_host = discovery_info.host
        self._esphome_port = discovery_info.port or DEFAULT_ESPHOME_PORT
        self._esphome_name = properties.get("friendly_name") or discovery_info.hostname
        self._esphome_mac = mac
        self.context["title_placeholders"] = {"name": self._esphome_name}
        return await self.async_step_esphome_confirm()

    async def async_step_esphome_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm a discovered ESPHome device and enter its API encryption key."""
        assert self._esphome_host is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            result = await self._async_esphome_form_result(
                self._esphome_host, self._esphome_port, user_input, errors
            )
            if result is not None:
                return result
        return self.async_show_form(
            step_id="esphome_confirm",
            data_schema=vol.Schema(self._esphome_key_schema()),
            description_placeholders={
                "name": self._esphome_name or "",
                "host": self._esphome_host,
            },
            errors=errors,
        )

    async def async_step_esphome_reauth(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The ESPHome device refused the key: enter its current API encryption key."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            key_text = user_input[CONF_KEY].strip()
            try:
                await self._async_probe_esphome(
                    entry.data[CONF_HOST],
                    entry.data[CONF_PORT],
                    key_text,
                    entry.data.get(CONF_DEVICE_ID),
                )
            except EsphomeConflictError as err:
                return self._abort_conflict(err.esphome_entry)
            except EsphomeError as err:
                errors["base"] = err.reason
            else:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_KEY: key_text, CONF_LEGACY: False}
                )
        return self.async_show_form(
            step_id="esphome_reauth",
            data_schema=vol.Schema({vol.Required(CONF_KEY): str}),
            description_placeholders={"name": entry.title},
            errors=errors,
        )
