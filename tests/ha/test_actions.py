"""Sotto's actions refuse bad requests with errors that say what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError

from custom_components.sotto.const import DOMAIN

from .test_history import async_setup_home, interaction


async def test_purging_an_unknown_satellite_names_it(hass: HomeAssistant, tmp_path: Path) -> None:
    """A satellite that is neither paired nor in the history is refused, not ignored."""
    home, store = await async_setup_home(hass, tmp_path / "config")
    await store.async_add(interaction("turn on the kitchen light"))
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN, "purge_history", {"satellite": "garage-satellite"}, blocking=True
        )
    assert caught.value.translation_key == "unknown_satellite"
    assert caught.value.translation_placeholders == {"satellite": "garage-satellite"}
    # Nothing was purged by the refused request.
    assert await store.async_satellite_ids() == {"kitchen-satellite"}

    # A satellite known only from the history can still be purged by its key.
    result = await hass.services.async_call(
        DOMAIN,
        "purge_history",
        {"satellite": "kitchen-satellite"},
        blocking=True,
        return_response=True,
    )
    assert result is not None
    assert result["history"]["interactions"] == 1
    await hass.config_entries.async_unload(home.entry_id)


async def test_actions_without_the_home_entry_say_so(hass: HomeAssistant, tmp_path: Path) -> None:
    """Once the home entry (which holds the history) is unloaded, actions explain why."""
    home, _store = await async_setup_home(hass, tmp_path / "config")
    await hass.config_entries.async_unload(home.entry_id)
    for action, data in (("purge_history", {}), ("export_history", {})):
        with pytest.raises(ServiceValidationError) as caught:
            await hass.services.async_call(DOMAIN, action, data, blocking=True)
        assert caught.value.translation_key == "no_history"
