"""A purge tells the user which satellites could not clear their own copies, and why."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from wyoming.event import Event

from custom_components.sotto.const import DOMAIN
from demo.home import wait_for_state
from sotto_voice.link import (
    ConnectionClosedError,
    Link,
    LinkError,
    LinkKey,
    LinkServer,
    PeerIdentity,
)
from sotto_voice.messages import PURGED_TYPE, STATE_TYPE, Purge, Purged

from .peers import paired_entry
from .test_history import async_setup_home, interaction

pytestmark = pytest.mark.usefixtures("socket_enabled")

KEY = LinkKey.generate()


async def _garbled(link: Link) -> None:
    """Answers a purge with a reply that does not say what was cleared."""
    with contextlib.suppress(ConnectionClosedError, LinkError):
        async for event in link:
            if Purge.is_type(event.type):
                await link.write_event(Event(PURGED_TYPE, {"cleared": 5}))


async def _noisy(link: Link) -> None:
    """Answers a purge properly, right after a malformed report of its state."""
    with contextlib.suppress(ConnectionClosedError, LinkError):
        async for event in link:
            if Purge.is_type(event.type):
                await link.write_event(Event(STATE_TYPE, {"muted": "perhaps"}))
                await link.write_event(Purged(cleared=("ledger",)).event())


async def _silent(link: Link) -> None:
    """Holds the link open and never answers."""
    with contextlib.suppress(ConnectionClosedError, LinkError):
        async for _event in link:
            pass


@contextlib.asynccontextmanager
async def _satellite(
    hass: HomeAssistant, device_id: str, name: str, handler: object
) -> AsyncIterator[MockConfigEntry]:
    identity = PeerIdentity(device_id=device_id, name=name, role="satellite")
    server = LinkServer(handler, key=KEY, identity=identity)  # type: ignore[arg-type]
    async with server.serving("127.0.0.1", 0) as port:
        entry = paired_entry(port, KEY.to_base64(), device_id=device_id, name=name)
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        yield entry


async def test_purge_names_satellites_that_did_not_clear(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """HA's own history is purged either way; the answer says which satellite was away,
    which did not answer and which answered nonsense."""
    home, store = await async_setup_home(hass, tmp_path / "config")
    await store.async_add(interaction("turn on the porch light", satellite_id="porch-satellite"))
    async with (
        _satellite(hass, "hall-satellite", "Hall satellite", _silent) as hall,
        _satellite(hass, "garage-satellite", "Garage satellite", _garbled) as garage,
    ):
        async with _satellite(hass, "porch-satellite", "Porch satellite", _silent) as porch:
            pass
        await wait_for_state(hass, "switch.porch_satellite_mute", STATE_UNAVAILABLE)

        result = await hass.services.async_call(
            DOMAIN, "purge_history", {}, blocking=True, return_response=True
        )
        assert result is not None
        assert result["satellites"] == {
            "Porch satellite": "not connected",
            "Hall satellite": "no answer",
            "Garage satellite": "no answer",
        }
        assert result["history"]["interactions"] == 1
        assert await store.async_list() == []
        for entry in (hall, garage, porch):
            await hass.config_entries.async_unload(entry.entry_id)
    await hass.config_entries.async_unload(home.entry_id)
    await hass.async_block_till_done()


async def test_a_malformed_report_does_not_fail_a_purge_waiting_for_its_answer(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """A satellite that sends a broken state report just before its purge answer still
    counts as cleared: only a malformed answer to the purge fails the purge."""
    home, _store = await async_setup_home(hass, tmp_path / "config")
    async with _satellite(hass, "den-satellite", "Den satellite", _noisy) as den:
        result = await hass.services.async_call(
            DOMAIN, "purge_history", {}, blocking=True, return_response=True
        )
        assert result is not None
        assert result["satellites"] == {"Den satellite": ["ledger"]}
        await hass.config_entries.async_unload(den.entry_id)
    await hass.config_entries.async_unload(home.entry_id)
    await hass.async_block_till_done()
