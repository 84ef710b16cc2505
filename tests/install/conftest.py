"""The install test runs Home Assistant as its own process, as a user does."""

from __future__ import annotations

from tests.tools.own_process import _sockets_allowed, verify_cleanup

__all__ = ["_sockets_allowed", "verify_cleanup"]
