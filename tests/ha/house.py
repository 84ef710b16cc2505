"""The demo's small home (areas, template lights, a Sotto pipeline), in a test's hass."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

from demo.house import async_place_house, async_use_sotto_pipeline, house_configuration

__all__ = ["async_build_house", "async_use_sotto_pipeline"]


async def async_build_house(hass: HomeAssistant, lights: dict[str, list[str]]) -> None:
    """Create areas with template lights in them, exposed to Assist (helpers are not)."""
    for domain, config in house_configuration(lights).items():
        assert await async_setup_component(hass, domain, {domain: config})
    await async_place_house(hass, lights)
