"""Sotto's actions: purge and export the voice history, and "that wasn't for me".

Each of them reads, removes or changes what is kept, so only HA's administrators may run
them; the spoken "never mind" stays open to whoever is in the room with the satellite.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import probatio as vol
from hassil.recognize import RecognizeResult
from homeassistant.components.conversation import ConversationInput
from homeassistant.components.conversation.agent_manager import get_agent_manager
from homeassistant.core import (
    CALLBACK_TYPE,
    Context,
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError, Unauthorized, UnknownUser
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import intent, translation
from homeassistant.helpers.service import async_register_admin_service
from homeassistant.util import dt as dt_util

from sotto_voice.engine.stt.grammar import NOT_FOR_ME_SENTENCES

from .const import DOMAIN
from .data import SatelliteData, SottoConfigEntry, home_data
from .history.panel import async_register_history_commands
from .history.purge import (
    PurgeScope,
    SatelliteLink,
    async_forget_everywhere,
    async_purge_everywhere,
)
from .history.store import HistoryStore

SERVICE_PURGE_HISTORY: Final = "purge_history"
SERVICE_EXPORT_HISTORY: Final = "export_history"
SERVICE_NOT_FOR_ME: Final = "not_for_me"
INTENT_NOT_FOR_ME: Final = "SottoNotForMe"

ATTR_SATELLITE: Final = "satellite"
ATTR_OLDER_THAN: Final = "older_than"
ATTR_INTERACTION_ID: Final = "interaction_id"
ATTR_KEEP_EXPORTS: Final = "keep_exports"

# The spoken replies of "that wasn't for you" (translations/<language>.json, "responses").
TRANSLATION_RESPONSES: Final = "responses"
RESPONSE_FORGOTTEN: Final = "forgotten"
RESPONSE_NOTHING_TO_FORGET: Final = "nothing_to_forget"
RESPONSE_NOT_ALLOWED: Final = "not_allowed"
_REPLIES: Final = {
    RESPONSE_FORGOTTEN: "OK, forgotten.",
    RESPONSE_NOTHING_TO_FORGET: "There was nothing to forget.",
    RESPONSE_NOT_ALLOWED: "Only an administrator can forget from here; say it to the satellite.",
}

PURGE_SCHEMA: Final = vol.Schema(
    {
        vol.Optional(ATTR_SATELLITE): cv.string,
        vol.Optional(ATTR_OLDER_THAN): cv.datetime,
        vol.Optional(ATTR_INTERACTION_ID): vol.All(vol.Coerce(int), vol.Range(min=1)),
        vol.Optional(ATTR_KEEP_EXPORTS, default=False): cv.boolean,
    }
)
# No path: every export goes to a new folder Sotto makes (see history/files.py).
EXPORT_SCHEMA: Final = vol.Schema({})
NOT_FOR_ME_SCHEMA: Final = vol.Schema({vol.Optional(ATTR_SATELLITE): cv.string})


def history_store(hass: HomeAssistant) -> HistoryStore:
    """The home entry's history store (an error naming the problem if there is none)."""
    home = home_data(hass)
    if home is None:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_history")
    return home.history


def satellite_links(hass: HomeAssistant) -> dict[str, SatelliteLink]:
    """Every loaded satellite's connection, by its device key."""
    links: dict[str, SatelliteLink] = {}
    entry: SottoConfigEntry
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        if isinstance(data := entry.runtime_data, SatelliteData):
            links[entry.unique_id or entry.entry_id] = data.connection
    return links


async def async_satellite_key(hass: HomeAssistant, device_id: str) -> str:
    """A satellite's device key from its HA device ID (or the key itself, as the history has it)."""
    device = dr.async_get(hass).async_get(device_id)
    if device is None:
        known = satellite_links(hass).keys() | await history_store(hass).async_satellite_ids()
        if device_id in known:
            return device_id
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_satellite",
            translation_placeholders={"satellite": device_id},
        )
    for domain, key in device.identifiers:
        if domain == DOMAIN:
            return key
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="unknown_satellite",
        translation_placeholders={"satellite": device_id},
    )


async def async_purge(
    hass: HomeAssistant, scope: PurgeScope, *, keep_exports: bool = False
) -> dict[str, Any]:
    """Purge the history and every copy of it; returns what was removed, by store."""
    return await async_purge_everywhere(
        hass,
        history_store(hass),
        scope,
        domain=DOMAIN,
        satellites=satellite_links(hass),
        keep_exports=keep_exports,
    )


async def async_not_for_me(hass: HomeAssistant, *, satellite_id: str | None) -> int:
    """Delete the satellite's last interaction (within the store's FORGET_WINDOW) and count
    it as a false wake; returns how many interactions were deleted (0 or 1)."""
    return await async_forget_everywhere(hass, history_store(hass), satellite_id=satellite_id)


type _Handler = Callable[[ServiceCall], Awaitable[ServiceResponse]]


async def async_require_admin(hass: HomeAssistant, context: Context | None) -> None:
    """Raise Unauthorized unless an administrator (or HA itself, with no user) asked."""
    if context is None or not context.user_id:
        return
    user = await hass.auth.async_get_user(context.user_id)
    if user is None:
        raise UnknownUser(context=context)
    if not user.is_admin:
        raise Unauthorized(context=context)


@callback
def _async_register_admin(
    hass: HomeAssistant, service: str, handler: _Handler, schema: vol.Schema
) -> None:
    """Register an action only administrators may run, answering with its response."""
    if "supports_response" in inspect.signature(async_register_admin_service).parameters:
        register: Any = async_register_admin_service
        register(
            hass, DOMAIN, service, handler, schema, supports_response=SupportsResponse.OPTIONAL
        )
        return

    # HA 2025.4's admin wrapper drops the response: the same check as HA's runs here.
    async def admin_only(call: ServiceCall) -> ServiceResponse:
        await async_require_admin(hass, call.context)
        return await handler(call)

    hass.services.async_register(
        DOMAIN, service, admin_only, schema=schema, supports_response=SupportsResponse.OPTIONAL
    )


async def async_forget_said(
    hass: HomeAssistant, language: str, device_id: str | None, context: Context
) -> str:
    """Act on "that wasn't for you" and say what happened.

    Said to a Sotto satellite, it forgets that satellite's last interaction for whoever is
    in the room. Typed (Assist dialog, another device), it reaches the whole home's history,
    so only an administrator (or HA itself) may.
    """
    key = _satellite_of(hass, device_id)
    if key is None:
        try:
            await async_require_admin(hass, context)
        except (Unauthorized, UnknownUser):
            return await _reply(hass, language, RESPONSE_NOT_ALLOWED)
    forgotten = await async_not_for_me(hass, satellite_id=key)
    said = RESPONSE_FORGOTTEN if forgotten else RESPONSE_NOTHING_TO_FORGET
    return await _reply(hass, language, said)


async def _reply(hass: HomeAssistant, language: str, key: str) -> str:
    """One of the translated replies to "that wasn't for you"."""
    strings = await translation.async_get_translations(
        hass, language, TRANSLATION_RESPONSES, {DOMAIN}
    )
    return strings.get(f"component.{DOMAIN}.{TRANSLATION_RESPONSES}.{key}") or _REPLIES[key]


@callback
def async_register_services(hass: HomeAssistant) -> None:
    """Register Sotto's actions (once, for the integration)."""

    async def purge(call: ServiceCall) -> ServiceResponse:
        device = call.data.get(ATTR_SATELLITE)
        older_than = call.data.get(ATTR_OLDER_THAN)
        scope = PurgeScope(
            satellite_id=await async_satellite_key(hass, device) if device else None,
            before=dt_util.as_utc(older_than) if older_than else None,
            interaction_id=call.data.get(ATTR_INTERACTION_ID),
        )
        return await async_purge(hass, scope, keep_exports=call.data[ATTR_KEEP_EXPORTS])

    async def export(_call: ServiceCall) -> ServiceResponse:
        exported = await history_store(hass).async_export(Path(hass.config.config_dir))
        return {
            "folder": str(exported.folder),
            "interactions": exported.interactions,
            "audio_files": exported.audio_files,
        }

    async def not_for_me(call: ServiceCall) -> ServiceResponse:
        device = call.data.get(ATTR_SATELLITE)
        key = await async_satellite_key(hass, device) if device else None
        return {"forgotten": await async_not_for_me(hass, satellite_id=key)}

    _async_register_admin(hass, SERVICE_PURGE_HISTORY, purge, PURGE_SCHEMA)
    _async_register_admin(hass, SERVICE_EXPORT_HISTORY, export, EXPORT_SCHEMA)
    _async_register_admin(hass, SERVICE_NOT_FOR_ME, not_for_me, NOT_FOR_ME_SCHEMA)
    intent.async_register(hass, NotForMeIntent())

    async def delete(interaction_id: int | None) -> dict[str, Any]:
        return await async_purge(hass, PurgeScope(interaction_id=interaction_id))

    async_register_history_commands(hass, store=lambda: history_store(hass), delete=delete)


class NotForMeIntent(intent.IntentHandler):
    """The `SottoNotForMe` intent: forget the last command of the asking satellite."""

    intent_type = INTENT_NOT_FOR_ME
    description = "Forgets the last voice command; it was a false wake"

    async def async_handle(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        """Forget the last interaction (of the device that asked, if a satellite)."""
        speech = await async_forget_said(
            intent_obj.hass, intent_obj.language, intent_obj.device_id, intent_obj.context
        )
        response = intent_obj.create_response()
        response.async_set_speech(speech)
        return response


def _satellite_of(hass: HomeAssistant, device_id: str | None) -> str | None:
    """The device key of a Sotto satellite's HA device, else None."""
    device = dr.async_get(hass).async_get(device_id) if device_id else None
    if device is None:
        return None
    return next((key for domain, key in device.identifiers if domain == DOMAIN), None)


@callback
def async_register_not_for_me_sentences(hass: HomeAssistant) -> CALLBACK_TYPE:
    """Let "never mind, that wasn't for you" forget the last command; returns the undo."""

    async def on_sentence(user_input: ConversationInput, _result: RecognizeResult) -> str:
        # The "never mind" itself is not kept either (HistoryStore.async_add).
        return await async_forget_said(
            hass, user_input.language, user_input.device_id, user_input.context
        )

    return get_agent_manager(hass).register_trigger(list(NOT_FOR_ME_SENTENCES), on_sentence)
