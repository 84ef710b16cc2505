"""Sotto: a private, local voice assistant for Home Assistant."""

from __future__ import annotations

import logging

from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from sotto_voice.engine.stt.worker import recognizer_missing
from sotto_voice.link import InvalidKeyError, KeyFormatError, LinkError, LinkKey

from .arbiter import Arbiter, window_ms
from .connection import DeviceConnection
from .const import CONF_DEVICE_ID, CONF_KEY, CONF_LEGACY, DOMAIN, SATELLITE_KINDS, EntryKind
from .data import (
    EngineData,
    HomeData,
    SatelliteData,
    SottoConfigEntry,
    entry_holds,
    entry_kind,
    home_data,
    satellites,
)
from .edge import GrammarFeeder, async_home_grammar_changed
from .engine import EngineClient, EngineError
from .esphome import async_remove_esphome_ledger, async_setup_esphome_entry
from .grammar import HomeGrammar
from .history.lifecycle import async_start_history
from .history.panel import async_serve_frontend
from .home_device import async_merge_home_devices
from .issues import async_delete_issues, async_set_issue
from .satellite import SatelliteDevice
from .services import async_register_not_for_me_sentences, async_register_services

_LOGGER = logging.getLogger(__name__)

HOME_PLATFORMS: list[Platform] = [Platform.BUTTON, Platform.SENSOR, Platform.STT]
ENGINE_PLATFORMS: list[Platform] = [Platform.STT, Platform.TTS]
SATELLITE_PLATFORMS: list[Platform] = [
    Platform.ASSIST_SATELLITE,
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.EVENT,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
]


CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register Sotto's actions, which work on whichever entries are loaded."""
    async_register_services(hass)
    if "http" in hass.config.components:
        await async_serve_frontend(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: SottoConfigEntry) -> bool:
    """Set up Sotto from a config entry: each kind stores its own runtime data."""
    kind = entry_kind(entry)
    match kind:
        case EntryKind.SATELLITE:
            await _async_setup_satellite(hass, entry)
        case EntryKind.ENGINE:
            await _async_setup_engine(hass, entry)
        case EntryKind.ESPHOME:
            await async_setup_esphome_entry(hass, entry)
        case EntryKind.HOME:
            await _async_setup_home(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, _platforms(kind))
    return True


async def _async_setup_home(hass: HomeAssistant, entry: SottoConfigEntry) -> None:
    """Build the home's grammar, open its history, and keep one device for its entities."""
    local_recognizer = await _async_check_local_recognizer(hass, entry)
    grammar = HomeGrammar(hass)
    entry.async_on_unload(grammar.async_stop)
    # Satellites that recognise on the device follow each rebuild (edge.GrammarFeeder).
    entry.async_on_unload(
        grammar.subscribe(lambda: async_home_grammar_changed(hass, grammar.grammar))
    )
    await grammar.async_start()
    history = await async_start_history(hass, entry)
    entry.async_on_unload(async_register_not_for_me_sentences(hass))
    arbiter = Arbiter(hass.loop, lambda: satellites(hass), window_ms(entry.options))
    entry.async_on_unload(entry.add_update_listener(_async_window_changed))
    entry.runtime_data = HomeData(
        grammar, history, local_recognizer=local_recognizer, arbiter=arbiter
    )
    async_merge_home_devices(hass, entry.entry_id)


async def _async_window_changed(hass: HomeAssistant, entry: SottoConfigEntry) -> None:
    """The home's options changed: the arbiter waits as long as they now say."""
    if isinstance(data := entry.runtime_data, HomeData):
        data.arbiter.window = window_ms(entry.options) / 1000


async def _async_check_local_recognizer(hass: HomeAssistant, entry: SottoConfigEntry) -> bool:
    """Recognise inside HA only where pocketsphinx installs; otherwise say where instead.

    pocketsphinx has no wheel for CPython 3.14, which every HA 2026 image runs, and those
    images have no compiler: the home entry still loads, without the in-process
    recogniser, and a repair issue points to a Sotto engine.
    """
    missing = await hass.async_add_executor_job(recognizer_missing)
    if missing is not None:
        _LOGGER.info("Speech-to-text inside Home Assistant is off: %s", missing)
    _async_show_where_to_recognise(hass, entry.entry_id, missing)
    return missing is None


@callback
def _async_show_where_to_recognise(
    hass: HomeAssistant, home_entry_id: str, missing: str | None
) -> None:
    """The repair stays open only while nothing can recognise speech: HA cannot, and no
    engine is added (once the user has added one as it says, it has nothing left to say)."""
    engines = [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN, include_disabled=False)
        if entry_kind(entry) is EntryKind.ENGINE
    ]
    placeholders = {"error": missing or ""}
    active = missing is not None and not engines
    async_set_issue(hass, home_entry_id, "no_local_recognizer", placeholders, active=active)


async def _async_engines_changed(hass: HomeAssistant) -> None:
    """An engine was added or removed: where speech is recognised may have changed."""
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        if entry_holds(entry, HomeData) and not entry.runtime_data.local_recognizer:
            missing = await hass.async_add_executor_job(recognizer_missing)
            _async_show_where_to_recognise(hass, entry.entry_id, missing)


def _platforms(kind: EntryKind) -> list[Platform]:
    """The platforms an entry of this kind sets up."""
    if kind in SATELLITE_KINDS:
        return SATELLITE_PLATFORMS
    return ENGINE_PLATFORMS if kind is EntryKind.ENGINE else HOME_PLATFORMS


def home_grammar(hass: HomeAssistant) -> HomeGrammar | None:
    """The home entry's grammar, which remote engines are sent."""
    home = home_data(hass)
    return home.grammar if home else None


async def _async_setup_engine(hass: HomeAssistant, entry: SottoConfigEntry) -> None:
    """Reach the engine once (so setup fails clearly); later requests open their own link."""
    key = _stored_key(entry)
    assert key is not None
    name = entry.data.get(CONF_NAME) or entry.title
    engine = EngineClient(
        hass,
        host=entry.data[CONF_HOST],
        port=entry.data[CONF_PORT],
        key=key,
        device_id=entry.data[CONF_DEVICE_ID],
        name=name,
        home_grammar=lambda: home_grammar(hass),
    )
    try:
        await engine.describe()
    except EngineError as err:
        raise _not_set_up(name, err.__cause__ or err) from err
    entry.runtime_data = EngineData(engine)
    await _async_engines_changed(hass)


def _stored_key(entry: SottoConfigEntry) -> LinkKey | None:
    """The entry's pairing key (None for a legacy satellite); a damaged one needs re-pairing."""
    if entry.data.get(CONF_LEGACY):
        return None
    try:
        return LinkKey.from_base64(entry.data[CONF_KEY])
    except KeyFormatError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="bad_stored_key"
        ) from err


def _not_set_up(name: str, err: BaseException) -> ConfigEntryAuthFailed | ConfigEntryNotReady:
    """Why a device's entry cannot load: a refused key (re-auth) or not reachable (retry)."""
    if isinstance(err, InvalidKeyError):
        return ConfigEntryAuthFailed(
            translation_domain=DOMAIN,
            translation_key="invalid_key",
            translation_placeholders={"name": name},
        )
    return ConfigEntryNotReady(
        translation_domain=DOMAIN,
        translation_key="cannot_connect",
        translation_placeholders={"name": name, "error": str(err)},
    )


async def _async_setup_satellite(hass: HomeAssistant, entry: SottoConfigEntry) -> None:
    """Connect once (so setup fails clearly), then keep the link up in the background."""
    legacy = bool(entry.data.get(CONF_LEGACY))
    key = _stored_key(entry)

    name = entry.data.get(CONF_NAME) or entry.title
    connection = DeviceConnection(
        hass,
        host=entry.data[CONF_HOST],
        port=entry.data[CONF_PORT],
        key=key,
        device_id=entry.data.get(CONF_DEVICE_ID),
        name=name,
        on_auth_failed=lambda: entry.async_start_reauth(hass),
    )
    try:
        first = await connection.async_open()
    except (LinkError, OSError, TimeoutError) as err:
        raise _not_set_up(name, err) from err

    satellite = SatelliteDevice(hass, connection)
    entry.runtime_data = SatelliteData(satellite)
    entry.async_on_unload(satellite.close)
    entry.async_create_background_task(
        hass, connection.async_run(first), f"sotto link {name}", eager_start=True
    )
    placeholders = {"name": name, "host": entry.data[CONF_HOST]}
    async_set_issue(hass, entry.entry_id, "legacy_unencrypted", placeholders, active=legacy)

    @callback
    def remote_wake_changed() -> None:
        info = satellite.info
        active = info is not None and info.remote_wake
        async_set_issue(hass, entry.entry_id, "remote_wake", placeholders, active=active)

    entry.async_on_unload(satellite.subscribe_updates(remote_wake_changed))
    remote_wake_changed()
    entry.async_on_unload(GrammarFeeder(hass, entry, satellite).async_start())


async def async_unload_entry(hass: HomeAssistant, entry: SottoConfigEntry) -> bool:
    """Unload a config entry and everything it started."""
    return await hass.config_entries.async_unload_platforms(entry, _platforms(entry_kind(entry)))


async def async_remove_entry(hass: HomeAssistant, entry: SottoConfigEntry) -> None:
    """Forget the repair issues of a removed entry, and an ESPHome satellite's ledger; a
    removed engine may leave nothing that recognises speech."""
    async_delete_issues(hass, entry.entry_id)
    async_remove_esphome_ledger(hass, entry.entry_id)
    if entry_kind(entry) is EntryKind.ENGINE:
        await _async_engines_changed(hass)
