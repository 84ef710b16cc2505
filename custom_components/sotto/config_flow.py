"""Config flow for Sotto: the home entry, then satellites (discovered or by address)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Final

import probatio as vol
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from wyoming.info import Describe, Info

from sotto_voice.link import (
    ROLE_ENGINE,
    ROLE_SATELLITE,
    InvalidKeyError,
    KeyFormatError,
    Link,
    LinkError,
    LinkKey,
    PeerIdentity,
    WrongDeviceError,
    connect,
)

from .arbiter import MAX_WINDOW_MS, OPTION_WINDOW_MS, window_ms
from .connection import async_controller_identity
from .const import (
    CONF_DEVICE_ID,
    CONF_KEY,
    CONF_KIND,
    CONF_LEGACY,
    DEFAULT_ENGINE_PORT,
    DEFAULT_PORT,
    DOMAIN,
    HOME_UNIQUE_ID,
    EntryKind,
)
from .esphome import ESPHOME_SERVICE_TYPE, EsphomeFlowSteps
from .flow_helpers import address_fields, async_claim_discovered
from .history.settings import (
    MAX_AUDIO_DAYS,
    OPTION_AUDIO_DAYS,
    OPTION_EVENT_TRANSCRIPTS,
    OPTION_KEEP_AUDIO,
    OPTION_TRANSCRIPT_DAYS,
    TRANSCRIPT_DAY_CHOICES,
    Retention,
)

_LOGGER = logging.getLogger(__name__)

_KEY_FIELD = vol.Required(CONF_KEY)
_DESCRIBE_TIMEOUT: Final = 5.0


class PairingError(Exception):
    """A pairing attempt failed; `reason` is the form error's translation key."""

    def __init__(self, reason: str) -> None:
        """Keep the form error key."""
        super().__init__(reason)
        self.reason = reason


async def async_probe(
    flow: ConfigFlow,
    host: str,
    port: int,
    key_text: str | None,
    expected_device_id: str | None = None,
) -> PeerIdentity:
    """Open one link to a device and return who answered, mapping errors to form keys."""
    key: LinkKey | None = None
    if key_text is not None:
        try:
            key = LinkKey.from_base64(key_text.strip())
        except KeyFormatError as err:
            raise PairingError("invalid_key_format") from err
    identity = await async_controller_identity(flow.hass)
    try:
        async with connect(
            host,
            port,
            key=key,
            identity=identity,
            expected_device_id=expected_device_id,
            legacy=key is None,
        ) as link:
            if link.peer is not None:
                return link.peer
            return await _async_describe_legacy(link, host, port)
    except InvalidKeyError as err:
        raise PairingError("invalid_key") from err
    except WrongDeviceError as err:
        raise PairingError("wrong_device") from err
    except (LinkError, OSError, TimeoutError) as err:
        _LOGGER.debug("Cannot connect to %s:%s: %s", host, port, err)
        raise PairingError("cannot_connect") from err


async def _async_describe_legacy(link: Link, host: str, port: int) -> PeerIdentity:
    """Ask a stock Wyoming satellite its name; it cannot prove who it is."""
    await link.write_event(Describe().event())
    async with asyncio.timeout(_DESCRIBE_TIMEOUT):
        while not Info.is_type((event := await link.read_event()).type):
            continue
    info = Info.from_event(event)
    if info.satellite is None:
        raise PairingError("not_a_satellite")
    return PeerIdentity(
        device_id=f"legacy-{host}-{port}", name=info.satellite.name or host, role="satellite"
    )


def _require_role(peer: PeerIdentity, role: str) -> None:
    """A satellite form must reach a satellite, an engine form an engine."""
    if peer.role != role:
        raise PairingError("not_a_satellite" if role == ROLE_SATELLITE else "not_an_engine")


class SottoConfigFlow(EsphomeFlowSteps, domain=DOMAIN):
    """Set up Sotto from the UI."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with nothing discovered."""
        self._host: str | None = None
        self._port: int = DEFAULT_PORT
        self._name: str | None = None
        self._device_id: str | None = None
        self._role: str = ROLE_SATELLITE

    # --- the home entry, then a menu ---------------------------------------------------

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Create the home entry first; once it exists, offer what can be added."""
        if self._home_entry() is not None:
            return self.async_show_menu(
                step_id="user", menu_options=["satellite", "esphome", "engine"]
            )
        return await self.async_step_home()

    async def async_step_home(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Create the home entry after the user confirms."""
        await self.async_set_unique_id(HOME_UNIQUE_ID)
        self._abort_if_unique_id_configured()
        if user_input is None:
            return self.async_show_form(step_id="home")
        return self.async_create_entry(title="Sotto home", data={CONF_KIND: EntryKind.HOME})

    # --- satellites by address -------------------------------------------------------------

    async def async_step_satellite(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pair a satellite by host, port and its pairing key."""
        errors: dict[str, str] = {}
        if user_input is not None:
            legacy = bool(user_input.get(CONF_LEGACY))
            key_text = None if legacy else user_input.get(CONF_KEY)
            if not legacy and not key_text:
                errors[CONF_KEY] = "key_required"
            else:
                try:
                    peer = await async_probe(
                        self, user_input[CONF_HOST], user_input[CONF_PORT], key_text
                    )
                    _require_role(peer, ROLE_SATELLITE)
                except PairingError as err:
                    errors["base"] = err.reason
                else:
                    return await self._async_create_satellite(
                        user_input[CONF_HOST], user_input[CONF_PORT], key_text, peer, legacy=legacy
                    )
        schema = vol.Schema(
            {
                **address_fields((user_input or {}).get(CONF_HOST, ""), DEFAULT_PORT),
                vol.Optional(CONF_KEY): str,
                vol.Optional(CONF_LEGACY, default=False): bool,
            }
        )
        return self.async_show_form(step_id="satellite", data_schema=schema, errors=errors)

    async def _async_create_satellite(
        self, host: str, port: int, key_text: str | None, peer: PeerIdentity, *, legacy: bool
    ) -> ConfigFlowResult:
        """Create the satellite's entry, unique by the ID the device itself reports."""
        return await self._async_create_device(
            EntryKind.SATELLITE, host, port, key_text, peer, legacy=legacy
        )

    async def _async_create_device(
        self,
        kind: EntryKind,
        host: str,
        port: int,
        key_text: str | None,
        peer: PeerIdentity,
        *,
        legacy: bool = False,
    ) -> ConfigFlowResult:
        """Create a device's entry, unique by the ID the device itself proved."""
        await self.async_set_unique_id(peer.device_id)
        self._abort_if_unique_id_configured(updates={CONF_HOST: host, CONF_PORT: port})
        return self.async_create_entry(
            title=peer.name or host,
            data={
                CONF_KIND: kind,
                CONF_HOST: host,
                CONF_PORT: port,
                CONF_KEY: None if legacy else (key_text or "").strip(),
                CONF_DEVICE_ID: None if legacy else peer.device_id,
                CONF_NAME: peer.name,
                CONF_LEGACY: legacy,
            },
        )

    # --- engines by address ----------------------------------------------------------------

    async def async_step_engine(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Add a sotto-engine (speech-to-text and text-to-speech) by host, port and key."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                peer = await async_probe(
                    self, user_input[CONF_HOST], user_input[CONF_PORT], user_input[CONF_KEY]
                )
                _require_role(peer, ROLE_ENGINE)
            except PairingError as err:
                errors["base"] = err.reason
            else:
                return await self._async_create_device(
                    EntryKind.ENGINE,
                    user_input[CONF_HOST],
                    user_input[CONF_PORT],
                    user_input[CONF_KEY],
                    peer,
                )
        schema = vol.Schema(
            {
                **address_fields((user_input or {}).get(CONF_HOST, ""), DEFAULT_ENGINE_PORT),
                _KEY_FIELD: str,
            }
        )
        return self.async_show_form(step_id="engine", data_schema=schema, errors=errors)

    # --- zeroconf ----------------------------------------------------------------------

    async def async_step_zeroconf(self, discovery_info: ZeroconfServiceInfo) -> ConfigFlowResult:
        """A satellite announced itself; ask the user before talking to it."""
        if discovery_info.type == ESPHOME_SERVICE_TYPE:
            return await self.async_step_esphome_discovery(discovery_info)
        properties = discovery_info.properties
        device_id = properties.get("id")
        if not device_id:
            return self.async_abort(reason="not_sotto_device")
        role = properties.get("role", ROLE_SATELLITE)
        if role not in (ROLE_SATELLITE, ROLE_ENGINE):
            return self.async_abort(reason="not_sotto_device")
        self._role = role
        await async_claim_discovered(
            self, device_id, discovery_info.host, discovery_info.port, self._async_proves
        )
        self._host = discovery_info.host
        self._port = discovery_info.port or DEFAULT_PORT
        self._name = properties.get("name") or discovery_info.hostname
        self._device_id = device_id
        self.context["title_placeholders"] = {"name": self._name}
        return await self.async_step_zeroconf_confirm()

    async def _async_proves(self, entry: ConfigEntry[Any], host: str, port: int) -> bool:
        """Whether the device at host:port completes a handshake with the entry's key as
        the entry's device (a stock Wyoming satellite, without a key, cannot)."""
        key_text = entry.data.get(CONF_KEY)
        if not key_text:
            return False
        try:
            await async_probe(self, host, port, key_text, entry.data[CONF_DEVICE_ID])
        except PairingError:
            return False
        return True

    async def async_step_zeroconf_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm the discovered satellite and enter its pairing key."""
        assert self._host is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                peer = await async_probe(
                    self, self._host, self._port, user_input[CONF_KEY], self._device_id
                )
                _require_role(peer, self._role)
            except PairingError as err:
                errors["base"] = err.reason
            else:
                kind = EntryKind.ENGINE if self._role == ROLE_ENGINE else EntryKind.SATELLITE
                return await self._async_create_device(
                    kind, self._host, self._port, user_input[CONF_KEY], peer
                )
        return self.async_show_form(
            # An engine's form says "engine" and where its key is; both steps land here.
            step_id="zeroconf_confirm_engine" if self._role == ROLE_ENGINE else "zeroconf_confirm",
            data_schema=vol.Schema({_KEY_FIELD: str}),
            description_placeholders={"name": self._name or "", "host": self._host},
            errors=errors,
        )

    async_step_zeroconf_confirm_engine = async_step_zeroconf_confirm

    # --- re-auth and reconfigure -------------------------------------------------------------

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The satellite refused our key: ask for the new one."""
        if entry_data.get(CONF_KIND) == EntryKind.ESPHOME:
            return await self.async_step_esphome_reauth()
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Enter the satellite's current pairing key."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                await async_probe(
                    self,
                    entry.data[CONF_HOST],
                    entry.data[CONF_PORT],
                    user_input[CONF_KEY],
                    entry.data[CONF_DEVICE_ID],
                )
            except PairingError as err:
                errors["base"] = err.reason
            else:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_KEY: user_input[CONF_KEY].strip()}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({_KEY_FIELD: str}),
            description_placeholders={"name": entry.title},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Move a satellite to a new address or key; it must still be the same device."""
        entry = self._get_reconfigure_entry()
        if entry.data.get(CONF_KIND) not in (EntryKind.SATELLITE, EntryKind.ENGINE):
            return self.async_abort(reason="nothing_to_reconfigure")
        errors: dict[str, str] = {}
        if user_input is not None:
            legacy = bool(entry.data.get(CONF_LEGACY))
            key_text = None if legacy else user_input.get(CONF_KEY) or entry.data[CONF_KEY]
            try:
                await async_probe(
                    self,
                    user_input[CONF_HOST],
                    user_input[CONF_PORT],
                    key_text,
                    entry.data.get(CONF_DEVICE_ID),
                )
            except PairingError as err:
                errors["base"] = err.reason
            else:
                return self.async_update_reload_and_abort(
                    entry,
                    data_updates={
                        CONF_HOST: user_input[CONF_HOST],
                        CONF_PORT: user_input[CONF_PORT],
                        CONF_KEY: key_text.strip() if key_text else None,
                    },
                )
        schema = vol.Schema(
            {
                **address_fields(entry.data[CONF_HOST], entry.data[CONF_PORT]),
                vol.Optional(CONF_KEY): str,
            }
        )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=schema,
            description_placeholders={"name": entry.title},
            errors=errors,
        )

    def _home_entry(self) -> ConfigEntry | None:
        """The home entry, if it exists."""
        return next(
            (
                entry
                for entry in self._async_current_entries(include_ignore=False)
                if entry.unique_id == HOME_UNIQUE_ID
            ),
            None,
        )

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """The home entry's options: how long the voice history keeps what."""
        return SottoHistoryOptionsFlow()

    @classmethod
    @callback
    def async_supports_options_flow(cls, config_entry: ConfigEntry) -> bool:
        """Only the home entry has options (the history's retention)."""
        return config_entry.unique_id == HOME_UNIQUE_ID


class SottoHistoryOptionsFlow(OptionsFlow):
    """Retention of transcripts and (only if the user opts in) audio."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose how long transcripts and audio are kept."""
        current = Retention.from_options(self.config_entry.options)
        errors: dict[str, str] = {}
        if user_input is not None:
            options = {
                OPTION_TRANSCRIPT_DAYS: int(user_input[OPTION_TRANSCRIPT_DAYS]),
                OPTION_KEEP_AUDIO: bool(user_input[OPTION_KEEP_AUDIO]),
                OPTION_AUDIO_DAYS: int(user_input[OPTION_AUDIO_DAYS]),
                OPTION_EVENT_TRANSCRIPTS: bool(user_input.get(OPTION_EVENT_TRANSCRIPTS, False)),
                OPTION_WINDOW_MS: int(
                    user_input.get(OPTION_WINDOW_MS, window_ms(self.config_entry.options))
                ),
            }
            if options[OPTION_KEEP_AUDIO] and options[OPTION_TRANSCRIPT_DAYS] == 0:
                errors[OPTION_KEEP_AUDIO] = "audio_needs_history"
            else:
                return self.async_create_entry(data=options)
        schema = vol.Schema(
            {
                vol.Required(
                    OPTION_TRANSCRIPT_DAYS, default=str(current.transcript_days)
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=[str(days) for days in TRANSCRIPT_DAY_CHOICES],
                        mode=SelectSelectorMode.DROPDOWN,
                        translation_key=OPTION_TRANSCRIPT_DAYS,
                    )
                ),
                vol.Required(OPTION_KEEP_AUDIO, default=current.keep_audio): bool,
                vol.Required(OPTION_AUDIO_DAYS, default=current.audio_days): NumberSelector(
                    NumberSelectorConfig(
                        min=1, max=MAX_AUDIO_DAYS, step=1, mode=NumberSelectorMode.BOX
                    )
                ),
                vol.Required(
                    OPTION_EVENT_TRANSCRIPTS,
                    default=bool(self.config_entry.options.get(OPTION_EVENT_TRANSCRIPTS, False)),
                ): bool,
                vol.Required(
                    OPTION_WINDOW_MS, default=window_ms(self.config_entry.options)
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=0,
                        max=MAX_WINDOW_MS,
                        step=10,
                        unit_of_measurement="ms",
                        mode=NumberSelectorMode.BOX,
                    )
                ),
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema, errors=errors)
