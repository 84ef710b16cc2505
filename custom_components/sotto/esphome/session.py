"""Opening an ESPHome device's API connection, and what the device reports on it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Final

from aioesphomeapi.client import APIClient
from aioesphomeapi.core import (
    APIConnectionError,
    EncryptionPlaintextAPIError,
    InvalidEncryptionKeyAPIError,
    RequiresEncryptionAPIError,
    TimeoutAPIError,
)
from aioesphomeapi.model import (
    DeviceInfo,
    MediaPlayerInfo,
    SelectInfo,
    SwitchInfo,
    VoiceAssistantConfigurationResponse,
    VoiceAssistantFeature,
)
from homeassistant.components.assist_satellite import DOMAIN as ASSIST_SATELLITE_DOMAIN
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import format_mac

ESPHOME_DOMAIN: Final = "esphome"
DEFAULT_ESPHOME_PORT: Final = 6053
# Connecting, logging in and reading device info and entities take well under a second
# on a home network. aioesphomeapi's own bound for a TCP connect is 60 s; a connect that
# hangs after a reset network must not hold the reconnect backoff that long.
_OPEN_TIMEOUT: Final = 10.0
_CLIENT_INFO: Final = "Sotto"
# How long a device may take to tell its wake word configuration (HA's ESPHome allows the same).
CONFIG_TIMEOUT: Final = 5.0

# Project names (zeroconf TXT `project_name`) of firmware known to run a voice assistant.
# ESPHome announces no voice-assistant flag in mDNS, and without the key nothing more can
# be asked, so discovery trusts only these hints and is confirmed after connecting.
VOICE_PROJECT_PREFIXES: Final = (
    "sotto.",
    "esphome.voice-assistant",
    "esphome.home-assistant-voice",
)


class EsphomeError(Exception):
    """Talking to an ESPHome device failed; `reason` is the form error's translation key."""

    reason = "cannot_connect"


class EsphomeAuthError(EsphomeError):
    """The device refused the key, or wants one and none was given."""

    reason = "invalid_key"


class EsphomeKeyRequiredError(EsphomeAuthError):
    """The device encrypts its API and no key was given."""

    reason = "esphome_key_required"


class EsphomePlaintextError(EsphomeError):
    """A key was given but the device does not encrypt its API."""

    reason = "device_not_encrypted"


class EsphomeNotVoiceError(EsphomeError):
    """The device has no voice assistant (or cannot stream its audio over the API)."""

    reason = "not_a_voice_device"


class EsphomeWrongDeviceError(EsphomeError):
    """Another device answered at the entry's address."""

    reason = "wrong_device"


@dataclass(slots=True)
class EsphomeSession:
    """One open API connection and what the device reported on it."""

    client: APIClient
    info: DeviceInfo
    mute: SwitchInfo | None
    wake_word: SelectInfo | None
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    has_media_player: bool = False
    wake_config: VoiceAssistantConfigurationResponse | None = None
    """The device's wake words, active and available; None when it did not say."""

    @property
    def max_active_wake_words(self) -> int:
        """How many wake words the device listens for at once (1 when it did not say)."""
        config = self.wake_config
        return max(config.max_active_wake_words, 1) if config is not None else 1

    async def async_read_wake_config(self) -> None:
        """Ask the device for its wake word configuration, as HA's ESPHome asks a device
        that announces (an older one may never answer); no answer in time leaves it None."""
        if not self.features & VoiceAssistantFeature.ANNOUNCE:
            return
        try:
            self.wake_config = await self.client.get_voice_assistant_configuration(CONFIG_TIMEOUT)
        except TimeoutAPIError:
            self.wake_config = None

    @property
    def streams_replies(self) -> bool:
        """Whether replies are streamed to the voice assistant's own speaker."""
        return bool(self.features & VoiceAssistantFeature.SPEAKER)

    @property
    def plays_urls(self) -> bool:
        """Whether the device fetches replies and announcements by URL (its media player)."""
        return self.has_media_player or bool(self.features & VoiceAssistantFeature.ANNOUNCE)

    @property
    def features(self) -> VoiceAssistantFeature:
        """The voice-assistant features the device reports."""
        api_version = self.client.api_version
        assert api_version is not None
        return VoiceAssistantFeature(self.info.voice_assistant_feature_flags_compat(api_version))


# What aioesphomeapi raises when the device refuses the key it was given (or its lack).
_KEY_ERRORS: Final[tuple[tuple[type[Exception], type[EsphomeError]], ...]] = (
    (InvalidEncryptionKeyAPIError, EsphomeAuthError),
    (RequiresEncryptionAPIError, EsphomeKeyRequiredError),
    (EncryptionPlaintextAPIError, EsphomePlaintextError),
)


async def async_open_session(
    host: str,
    port: int,
    key: str | None,
    *,
    expected_mac: str | None = None,
    timeout: float = _OPEN_TIMEOUT,
) -> EsphomeSession:
    """Connect, log in and read device info and entities; raises `EsphomeError`s."""
    closed = asyncio.Event()

    async def on_stop(expected_disconnect: bool) -> None:
        closed.set()

    client = APIClient(host, port, None, noise_psk=key or None, client_info=_CLIENT_INFO)
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            await client.connect(on_stop=on_stop, login=True)
            info = await client.device_info()
            entities, _services = await client.list_entities_services()
    except (APIConnectionError, OSError, TimeoutError) as err:
        await client.disconnect(force=True)
        for refused, error in _KEY_ERRORS:
            if isinstance(err, refused):
                raise error(str(err)) from err
        if deadline.expired():
            # aioesphomeapi reports the cancelled connect as its own error: say what it was.
            raise EsphomeError(f"no answer from {host}:{port} within {timeout:g} s") from err
        raise EsphomeError(f"{type(err).__name__}: {err}") from err
    session = EsphomeSession(
        client=client,
        info=info,
        mute=next(
            (e for e in entities if isinstance(e, SwitchInfo) and "mute" in e.object_id), None
        ),
        # Sotto's board files name it "Wake word"; other selects about the wake word, such
        # as Voice PE's "Wake word sensitivity", are not the one that picks it.
        wake_word=next(
            (e for e in entities if isinstance(e, SelectInfo) and e.object_id == "wake_word"),
            None,
        ),
        closed=closed,
        has_media_player=any(isinstance(e, MediaPlayerInfo) for e in entities),
    )
    try:
        _check_device(session, f"{host}:{port}", expected_mac)
        await session.async_read_wake_config()
    except EsphomeError:
        await client.disconnect(force=True)
        raise
    except APIConnectionError as err:
        await client.disconnect(force=True)
        raise EsphomeError(f"{type(err).__name__}: {err}") from err
    return session


def _check_device(session: EsphomeSession, address: str, expected_mac: str | None) -> None:
    """Raise unless the device is the one expected and can stream a voice assistant."""
    info = session.info
    if expected_mac is not None and format_mac(info.mac_address) != expected_mac:
        raise EsphomeWrongDeviceError(
            f"{address} is {info.name} ({format_mac(info.mac_address)}), not {expected_mac}"
        )
    features = session.features
    if not features & VoiceAssistantFeature.VOICE_ASSISTANT:
        raise EsphomeNotVoiceError(f"{info.name} has no voice_assistant component")
    if not features & VoiceAssistantFeature.API_AUDIO:
        raise EsphomeNotVoiceError(f"{info.name} cannot stream audio over the API")


@callback
def async_esphome_conflict(hass: HomeAssistant, mac: str) -> str | None:
    """The title of HA's own ESPHome entry that also runs this device's voice assistant.

    ESPHome serves its voice assistant to one API client only, so the device cannot be in
    both. An entry that is disabled, loaded without a voice assistant, or whose Assist
    satellite entity the user disabled (HA's ESPHome then never asks for the voice
    assistant) does not count.
    """
    for entry in hass.config_entries.async_entries(ESPHOME_DOMAIN, include_disabled=False):
        if entry.unique_id is None or format_mac(entry.unique_id) != mac:
            continue
        if _esphome_runs_no_voice(entry) or _esphome_satellite_disabled(hass, entry):
            continue
        return entry.title
    return None


def _esphome_runs_no_voice(entry: ConfigEntry[Any]) -> bool:
    """HA's ESPHome entry is loaded and the device reports no voice assistant."""
    if entry.state is not ConfigEntryState.LOADED:
        return False
    runtime = getattr(entry, "runtime_data", None)
    device_info = getattr(runtime, "device_info", None)
    api_version = getattr(runtime, "api_version", None)
    if not isinstance(device_info, DeviceInfo) or api_version is None:
        return False
    flags = device_info.voice_assistant_feature_flags_compat(api_version)
    return not flags & VoiceAssistantFeature.VOICE_ASSISTANT


def _esphome_satellite_disabled(hass: HomeAssistant, entry: ConfigEntry[Any]) -> bool:
    """HA's ESPHome entry has an Assist satellite entity, and every one is disabled."""
    satellites = [
        registered
        for registered in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if registered.domain == ASSIST_SATELLITE_DOMAIN
    ]
    return bool(satellites) and all(registered.disabled for registered in satellites)
