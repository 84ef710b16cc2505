"""Pairing satellites through the config flow, against real link servers on loopback."""

from __future__ import annotations

from ipaddress import ip_address

import pytest
from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sotto.const import DOMAIN, HOME_UNIQUE_ID
from sotto_voice.link import LinkKey

from .peers import free_port, paired_entry, serve_peer

pytestmark = pytest.mark.usefixtures("socket_enabled")

KEY = LinkKey.generate()


@pytest.fixture
def home(hass: HomeAssistant) -> MockConfigEntry:
    """The home entry, which the first flow creates."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id=HOME_UNIQUE_ID, data={"kind": "home"})
    entry.add_to_hass(hass)
    return entry


async def _satellite_form(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert "satellite" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "satellite"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "satellite"
    return str(result["flow_id"])


async def _unload_all(hass: HomeAssistant) -> None:
    for entry in hass.config_entries.async_entries(DOMAIN):
        await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


@pytest.mark.usefixtures("home")
async def test_pair_by_address_with_the_right_key(hass: HomeAssistant) -> None:
    """The entry is named by the satellite and unique by the ID the satellite proves."""
    async with serve_peer(KEY) as (peer, port):
        flow_id = await _satellite_form(hass)
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": port, "key": KEY.to_base64()}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["title"] == "Kitchen satellite"
        entry = result["result"]
        assert entry.unique_id == "kitchen-satellite"
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        await _unload_all(hass)


@pytest.mark.usefixtures("home")
@pytest.mark.parametrize(
    ("key_text", "error"),
    [
        (LinkKey.generate().to_base64(), "invalid_key"),
        ("not a key", "invalid_key_format"),
        ("", "key_required"),
    ],
)
async def test_wrong_or_missing_key_is_named_and_creates_nothing(
    hass: HomeAssistant, key_text: str, error: str
) -> None:
    """A bad key shows the reason in the form; no entry, no application data delivered."""
    async with serve_peer(KEY) as (peer, port):
        flow_id = await _satellite_form(hass)
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": port, "key": key_text}
        )
        assert result["type"] is FlowResultType.FORM
        assert error in result["errors"].values()
        assert peer.handshakes == 0
        assert peer.received == []
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


@pytest.mark.usefixtures("home")
async def test_nothing_listening_is_cannot_connect(hass: HomeAssistant) -> None:
    """A closed port tells the user to check the address and the service."""
    flow_id = await _satellite_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"host": "127.0.0.1", "port": free_port(), "key": KEY.to_base64()}
    )
    assert result["errors"] == {"base": "cannot_connect"}


@pytest.mark.usefixtures("home")
async def test_same_satellite_twice_is_already_configured(hass: HomeAssistant) -> None:
    """Pairing a device that is already paired aborts instead of duplicating it."""
    async with serve_peer(KEY) as (_peer, port):
        user_input = {"host": "127.0.0.1", "port": port, "key": KEY.to_base64()}
        first = await _satellite_form(hass)
        await hass.config_entries.flow.async_configure(first, user_input)
        await hass.async_block_till_done()
        second = await _satellite_form(hass)
        result = await hass.config_entries.flow.async_configure(second, user_input)
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "already_configured"
        await _unload_all(hass)


def _discovery(port: int, device_id: str = "kitchen-satellite") -> ZeroconfServiceInfo:
    return ZeroconfServiceInfo(
        ip_address=ip_address("127.0.0.1"),
        ip_addresses=[ip_address("127.0.0.1")],
        hostname="kitchen.local.",
        name="Kitchen satellite._sotto._tcp.local.",
        port=port,
        type="_sotto._tcp.local.",
        properties={"id": device_id, "name": "Kitchen satellite", "encrypted": "1"},
    )


@pytest.mark.usefixtures("home")
async def test_zeroconf_asks_before_connecting(hass: HomeAssistant) -> None:
    """Discovery shows a confirm form; nothing connects until the user enters the key."""
    async with serve_peer(KEY) as (peer, port):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=_discovery(port)
        )
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "zeroconf_confirm"
        assert peer.handshakes == 0
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"key": KEY.to_base64()}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["result"].unique_id == "kitchen-satellite"
        await hass.async_block_till_done()
        await _unload_all(hass)


async def _announce(hass: HomeAssistant, port: int) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=_discovery(port)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@pytest.mark.usefixtures("home")
async def test_a_spoofed_announcement_does_not_move_a_paired_satellite(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """An announcement with a paired satellite's ID, pointing where nothing listens or where
    another device answers, changes nothing: same address, still loaded, logged once."""
    async with (
        serve_peer(KEY) as (_kitchen, port),
        serve_peer(LinkKey.generate()) as (_impostor, impostor_port),
        serve_peer(KEY, device_id="hall-satellite") as (_hall, hall_port),
    ):
        entry = paired_entry(port, KEY.to_base64())
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()

        for spoofed in (free_port(), impostor_port, hall_port, impostor_port):
            await _announce(hass, spoofed)
            await hass.async_block_till_done()
            assert (entry.data["host"], entry.data["port"]) == ("127.0.0.1", port)
            assert entry.state is ConfigEntryState.LOADED
        ignored = [r for r in caplog.records if "Ignored an announcement" in r.getMessage()]
        assert len(ignored) == 3  # one line per address, however often it is announced
        assert f"127.0.0.1:{impostor_port}" in ignored[1].getMessage()
        await _unload_all(hass)


@pytest.mark.usefixtures("home")
async def test_a_satellite_that_really_moved_is_followed(hass: HomeAssistant) -> None:
    """The same satellite (it proves itself with the key) on a new port: the entry follows."""
    async with serve_peer(KEY) as (_old, old_port):
        entry = paired_entry(old_port, KEY.to_base64())
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
    async with serve_peer(KEY) as (peer, new_port):
        await _announce(hass, new_port)
        await hass.async_block_till_done()
        assert entry.data["port"] == new_port
        assert peer.handshakes >= 1
        await _unload_all(hass)


@pytest.mark.usefixtures("home")
async def test_zeroconf_of_something_else_is_ignored(hass: HomeAssistant) -> None:
    """A `_sotto._tcp` record without a device ID is not offered."""
    info = _discovery(1)
    info.properties.pop("id")
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=info
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_sotto_device"


@pytest.mark.usefixtures("home")
async def test_changed_key_starts_reauth_and_the_new_key_fixes_it(hass: HomeAssistant) -> None:
    """After the satellite's key changes, HA asks for it, and reconnects with it."""
    old, new = LinkKey.generate(), LinkKey.generate()
    async with serve_peer(new) as (_peer, port):
        entry = paired_entry(port, old.to_base64())
        entry.add_to_hass(hass)
        assert not await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.SETUP_ERROR
        flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        assert [flow["context"]["source"] for flow in flows] == ["reauth"]

        flow_id = flows[0]["flow_id"]
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"key": LinkKey.generate().to_base64()}
        )
        assert result["errors"] == {"base": "invalid_key"}
        result = await hass.config_entries.flow.async_configure(flow_id, {"key": new.to_base64()})
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reauth_successful"
        await hass.async_block_till_done()
        assert entry.data["key"] == new.to_base64()
        assert entry.state is ConfigEntryState.LOADED
        await _unload_all(hass)


@pytest.mark.usefixtures("home")
async def test_reconfigure_refuses_a_different_device(hass: HomeAssistant) -> None:
    """Moving a satellite to an address where another device answers is refused."""
    async with (
        serve_peer(KEY) as (_kitchen, kitchen_port),
        serve_peer(KEY, device_id="impostor", name="Impostor") as (_other, other_port),
    ):
        entry = paired_entry(kitchen_port, KEY.to_base64())
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()

        result = await entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": "127.0.0.1", "port": other_port}
        )
        assert result["errors"] == {"base": "wrong_device"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": "localhost", "port": kitchen_port}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
        assert entry.data["host"] == "localhost"
        await _unload_all(hass)


@pytest.mark.usefixtures("home")
async def test_legacy_satellite_needs_the_option_and_raises_a_repair_issue(
    hass: HomeAssistant,
) -> None:
    """A stock Wyoming satellite pairs only when asked, and stays flagged in Repairs."""
    from .wyoming_peer import serve_wyoming_satellite

    async with serve_wyoming_satellite("Garage wyoming") as port:
        flow_id = await _satellite_form(hass)
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": port, "legacy": True}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["title"] == "Garage wyoming"
        entry = result["result"]
        await hass.async_block_till_done()
        issue = ir.async_get(hass).async_get_issue(DOMAIN, f"legacy_unencrypted_{entry.entry_id}")
        assert issue is not None
        assert issue.translation_placeholders == {"name": "Garage wyoming", "host": "127.0.0.1"}
        await _unload_all(hass)
