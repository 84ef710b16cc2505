"""Fixtures for the library's own tests.

These run under Home Assistant's test plugin (Python 3.13) and without it (Python 3.11,
the Raspberry Pi OS version). Under the plugin, sockets are blocked unless a test asks
for `socket_enabled`; the library's tests talk to real servers on 127.0.0.1, so they all
ask for it here.
"""

from __future__ import annotations

import importlib.util

import pytest

HAS_HA_PLUGIN = importlib.util.find_spec("pytest_homeassistant_custom_component") is not None


@pytest.fixture(autouse=True)
def _loopback_sockets(request: pytest.FixtureRequest) -> None:
    """Allow real sockets (the HA plugin still limits them to 127.0.0.1)."""
    if HAS_HA_PLUGIN:
        request.getfixturevalue("socket_enabled")
