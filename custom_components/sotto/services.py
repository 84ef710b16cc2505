"""Sotto's actions: purge and export the voice history, and "that wasn't for me"."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import probatio as vol
from hassil.recognize import RecognizeResult
from homeassistant.components.conversation import ConversationInput
from homeassistant.components.conversation.agent_manager import get_agent_manager
from homeassistant.core import (
    CALLBACK_TYPE,
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import intent
from homeassistant.util import dt as dt_util

from sotto_voice.engine.stt.grammar import NOT_FOR_ME_SENTENCES

from .const import DOMAIN, SATELLITE_KINDS
from .data import SottoConfigEntry, home_data
from .history.panel import async_register_history_commands
from .history.purge import PurgeScope, SatelliteLink, async_purge_everywhere
from .history.store import HistoryStore

SERVICE_PURGE_HISTORY: Final = "purge_history"
SERVICE_EXPORT_HISTORY: Final = "export_history"
SERVICE_NOT_FOR_ME: Final = "not_for_me"
INTENT_NOT_FOR_ME: Final = "SottoNotForMe"

ATTR_SATELLITE: Final = "satellite"
ATTR_OLDER_THAN: Final = "older_than"
ATTR_INTERACTION_ID: Final = "interaction_id"
ATTR_PATH: Final = "path"

# Spoken to a satellite right after a false wake (also matched as typed text).

PURGE_SCHEMA: Final = vol.Schema(
    {
        vol.Optional(ATTR_SATELLITE): cv.string,
        vol.Optional(ATTR_OLDER_THAN): cv.datetime,
        vol.Optional(ATTR_INTERACTION_ID): vol.All(vol.Coerce(int), vol.Range(min=1)),
    }
)
EXPORT_SCHEMA: Final = vol.Schema({vol.Required(ATTR_PATH): cv.string})
NOT_FOR_ME_SCHEMA: Final = vol.Schema({vol.Optional(ATTR_SATELLITE): cv.string})


def history_store(hass: HomeAssistant) -> HistoryStore:
    """The home entry's history store (an error naming the problem if there is none)."""
    home = home_data(hass)
    if home is None or not isinstance(home.history, HistoryStore):
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_history")
    return home.history


def satellite_links(hass: HomeAssistant) -> dict[str, SatelliteLink]:
    """Every loaded satellite's connection, by its device key."""
    links: dict[str, SatelliteLink] = {}
    entry: SottoConfigEntry
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        data = entry.runtime_data
        if data.kind in SATELLITE_KINDS and data.connection is not None:
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


async def async_purge(hass: HomeAssistant, scope: PurgeScope) -> dict[str, Any]:
    """Purge the history and every copy of it; returns what was removed, by store."""
    return await async_purge_everywhere(
        hass, history_store(hass), scope, domain=DOMAIN, satellites=satellite_links(hass)
    )


async def async_not_for_me(hass: HomeAssistant, *, satellite_id: str | None) -> bool:
    """Delete the last interaction and count it as a false wake."""
    return await history_store(hass).async_forget_last(satellite_id=satellite_id)


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
        return await async_purge(hass, scope)

    async def export(call: ServiceCall) -> ServiceResponse:
        config_dir = Path(hass.config.config_dir).resolve()
        target = (config_dir / call.data[ATTR_PATH]).resolve()
        if not target.is_relative_to(config_dir) or target == config_dir:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="export_outside_config",
                translation_placeholders={"path": call.data[ATTR_PATH]},
            )
        interactions, audio_files = await history_store(hass).async_export(target)
        return {"path": str(target), "interactions": interactions, "audio_files": audio_files}

    async def not_for_me(call: ServiceCall) -> ServiceResponse:
        device = call.data.get(ATTR_SATELLITE)
        key = await async_satellite_key(hass, device) if device else None
        return {"forgotten": await async_not_for_me(hass, satellite_id=key)}

    hass.services.async_register(
        DOMAIN,
        SERVICE_PURGE_HISTORY,
        purge,
        schema=PURGE_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_EXPORT_HISTORY,
        export,
        schema=EXPORT_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_NOT_FOR_ME,
        not_for_me,
        schema=NOT_FOR_ME_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
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
        hass = intent_obj.hass
        key = _satellite_of(hass, intent_obj.device_id)
        await async_not_for_me(hass, satellite_id=key)
        response = intent_obj.create_response()
        response.async_set_speech("OK, forgotten.")
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
        key = _satellite_of(hass, user_input.device_id)
        store = history_store(hass)
        await store.async_forget_last(satellite_id=key)
        if key is not None:
            # The "never mind" itself is not worth keeping either.
            store.skip_next(key)
        return "OK, forgotten."

    return get_agent_manager(hass).register_trigger(list(NOT_FOR_ME_SENTENCES), on_sentence)
