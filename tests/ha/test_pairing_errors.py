"""Every pairing path's error, shown in the form that caused it, against real link servers.

Complements test_config_flow.py (manual pairing, its key errors, re-auth and reconfigure's
wrong device): here the discovered, engine, legacy, re-auth and reconfigure paths.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from functools import partial
from ipaddress import ip_address
from typing import Any

import pytest
from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry
from wyoming.event import Event
from wyoming.info import AsrModel, AsrProgram, Attribution, Describe, Info
from wyoming.server import AsyncEventHandler, AsyncServer

from custom_components.sotto import connection as connection_module
from custom_components.sotto.const import DOMAIN, HOME_UNIQUE_ID
from demo.home import wait_for_state
from demo.processes import free_port
from sotto_voice.link import LinkKey

from .peers import paired_entry, serve_peer

pytestmark = pytest.mark.usefixtures("socket_enabled")

KEY = LinkKey.generate()
MUTE = "switch.kitchen_satellite_mute"


@pytest.fixture(autouse=True)
def home(hass: HomeAssistant) -> MockConfigEntry:
    """The home entry exists, so the flow offers satellites and engines."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id=HOME_UNIQUE_ID, data={"kind": "home"})
    entry.add_to_hass(hass)
    return entry


def _discovery(port: int, **properties: str) -> ZeroconfServiceInfo:
    return ZeroconfServiceInfo(
        ip_address=ip_address("127.0.0.1"),
        ip_addresses=[ip_address("127.0.0.1")],
        hostname="kitchen.local.",
        name="Kitchen satellite._sotto._tcp.local.",
        port=port,
        type="_sotto._tcp.local.",
        properties={"id": "kitchen-satellite", "name": "Kitchen satellite", **properties},
    )


def _satellite_entry(port: int, key: LinkKey = KEY) -> MockConfigEntry:
    return paired_entry(port, key.to_base64())


async def _menu(hass: HomeAssistant, step: str) -> str:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": step}
    )
    assert result["step_id"] == step
    return str(result["flow_id"])


async def _unload_all(hass: HomeAssistant) -> None:
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_discovered_satellite_errors_keep_the_form_open(hass: HomeAssistant) -> None:
    """After discovery: a wrong key, another device at that address, or the device gone
    each name the problem, and the right key still pairs it."""
    async with serve_peer(KEY, device_id="impostor", name="Impostor") as (impostor, port):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=_discovery(port)
        )
        flow_id = result["flow_id"]
        assert result["description_placeholders"] == {
            "name": "Kitchen satellite",
            "host": "127.0.0.1",
        }
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"key": LinkKey.generate().to_base64()}
        )
        assert result["errors"] == {"base": "invalid_key"}
        # The right key, but the device that answers is not the one that was announced.
        result = await hass.config_entries.flow.async_configure(flow_id, {"key": KEY.to_base64()})
        assert result["errors"] == {"base": "wrong_device"}
        assert impostor.received == []
    result = await hass.config_entries.flow.async_configure(flow_id, {"key": KEY.to_base64()})
    assert result["errors"] == {"base": "cannot_connect"}
    assert result["step_id"] == "zeroconf_confirm"
    assert hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, "kitchen-satellite") is None


async def test_discovered_engine_pairs_as_an_engine(hass: HomeAssistant) -> None:
    """A `_sotto._tcp` record with role=engine asks for the engine's key; a satellite
    answering there is refused as not an engine."""
    async with serve_peer(KEY) as (_satellite, port):
        result = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": config_entries.SOURCE_ZEROCONF},
            data=_discovery(port, role="engine"),
        )
        assert result["step_id"] == "zeroconf_confirm_engine"  # the form says "engine"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"key": KEY.to_base64()}
        )
        assert result["errors"] == {"base": "not_an_engine"}


async def test_discovery_of_an_unknown_role_is_not_offered(hass: HomeAssistant) -> None:
    """Only satellites and engines are offered; another role is ignored."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_ZEROCONF},
        data=_discovery(1, role="speaker"),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_sotto_device"


async def test_engine_form_errors(hass: HomeAssistant) -> None:
    """The engine form names a wrong key, a satellite at that address, and no answer."""
    async with serve_peer(KEY) as (_satellite, port):
        flow_id = await _menu(hass, "engine")
        for key, error in ((LinkKey.generate(), "invalid_key"), (KEY, "not_an_engine")):
            result = await hass.config_entries.flow.async_configure(
                flow_id, {"host": "127.0.0.1", "port": port, "key": key.to_base64()}
            )
            assert result["errors"] == {"base": error}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"host": "127.0.0.1", "port": free_port(), "key": KEY.to_base64()}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


class _AsrService(AsyncEventHandler):
    """A stock Wyoming speech-to-text service: it talks first, and is no satellite."""

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(Event(type="transcript-chunk", data={"text": ""}))
            attribution = Attribution(name="test", url="")
            info = Info(
                asr=[
                    AsrProgram(
                        name="whisper",
                        attribution=attribution,
                        installed=True,
                        description="speech-to-text",
                        version="1.0",
                        models=[
                            AsrModel(
                                name="tiny",
                                attribution=attribution,
                                installed=True,
                                description="tiny",
                                version="1.0",
                                languages=["en"],
                            )
                        ],
                    )
                ]
            )
            await self.write_event(info.event())
        return True


@contextlib.asynccontextmanager
async def _serve_asr() -> AsyncIterator[int]:
    port = free_port()
    server = AsyncServer.from_uri(f"tcp://127.0.0.1:{port}")
    await server.start(partial(_AsrService))
    try:
        yield port
    finally:
        await server.stop()


async def test_legacy_pairing_refuses_a_wyoming_service_that_is_not_a_satellite(
    hass: HomeAssistant,
) -> None:
    """Pairing a stock Wyoming speech-to-text service as a legacy satellite is refused."""
    async with _serve_asr() as port:
        flow_id = await _menu(hass, "satellite")
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": port, "legacy": True}
        )
    assert result["errors"] == {"base": "not_a_satellite"}
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_reauth_while_the_satellite_is_away_says_cannot_connect(hass: HomeAssistant) -> None:
    """Entering the key while the satellite is off names that, not the key."""
    async with serve_peer(KEY) as (_peer, port):
        entry = _satellite_entry(port, key=LinkKey.generate())
        entry.add_to_hass(hass)
        assert not await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {"key": KEY.to_base64()}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    assert result["description_placeholders"] == {"name": "Kitchen satellite"}


async def test_reconfigure_with_a_new_key_and_its_errors(hass: HomeAssistant) -> None:
    """A satellite re-keyed on the device: the wrong key and no answer are named, the new
    key is stored, and the entry reloads with it."""
    new = LinkKey.generate()
    async with serve_peer(KEY) as (_peer, port):
        entry = _satellite_entry(port)
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        result = await entry.start_reconfigure_flow(hass)
        flow_id = result["flow_id"]
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": free_port()}
        )
        assert result["errors"] == {"base": "cannot_connect"}
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": port, "key": new.to_base64()}
        )
        assert result["errors"] == {"base": "invalid_key"}
        await _unload_all(hass)
    async with serve_peer(new, port=port):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": port, "key": f" {new.to_base64()}\n"}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
        assert entry.data["key"] == new.to_base64()
        assert entry.state is ConfigEntryState.LOADED
        await _unload_all(hass)


async def test_the_home_entry_has_options_and_nothing_to_reconfigure(
    hass: HomeAssistant, home: MockConfigEntry
) -> None:
    """The home entry offers retention options; a satellite offers none; the home has no
    address, so reconfiguring it explains that."""
    assert home.supports_options
    satellite = _satellite_entry(1)
    satellite.add_to_hass(hass)
    assert not satellite.supports_options
    result = await home.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "nothing_to_reconfigure"


async def test_zeroconf_seeing_an_away_satellite_reconnects_it_at_once(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A satellite that comes back announces itself; HA reconnects without waiting out
    its backoff (here made far longer than the test's safety timeout)."""
    async with serve_peer(KEY) as (_peer, port):
        entry = _satellite_entry(port)
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        connection = entry.runtime_data.connection
        assert connection is not None
        monkeypatch.setattr(connection_module, "backoff_delay", lambda *_a, **_kw: 3600.0)
        await _wait_until(lambda: connection.available)
    await wait_for_state(hass, MUTE, STATE_UNAVAILABLE)

    async with serve_peer(KEY, port=port) as (peer, _port):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=_discovery(port)
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "already_configured"
        await wait_for_state(hass, MUTE, STATE_UNKNOWN)  # back: it has not reported yet
        await _wait_until(lambda: peer.handshakes == 1)
        await _unload_all(hass)


async def _wait_until(check: Any, timeout: float = 30) -> None:
    """Poll a condition (a safety timeout, not a speed assertion)."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)
