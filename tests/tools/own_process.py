"""Fixtures for tests that run Home Assistant as its own process, as a user does (the
install test, the browser tests): the guards pytest-homeassistant-custom-component puts
around HA running inside pytest (no sockets, no threads left behind) do not apply to it.
A conftest.py imports both."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _sockets_allowed(request: pytest.FixtureRequest) -> None:
    """The test talks to hass, satellites and browsers over 127.0.0.1."""
    if request.config.pluginmanager.hasplugin("socket"):
        request.getfixturevalue("socket_enabled")


@pytest.fixture
def verify_cleanup() -> None:
    """Nothing of HA runs in the test's process, so there is nothing of it to clean up."""
