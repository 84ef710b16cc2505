"""Fixtures for tests that run the integration in a real Home Assistant."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component


@pytest.fixture(autouse=True)
async def _home_assistant_core(
    hass: HomeAssistant, enable_custom_integrations: None
) -> AsyncGenerator[None]:
    """Load custom_components/sotto and HA's core integration, as a real install has."""
    assert await async_setup_component(hass, "homeassistant", {})
    return
