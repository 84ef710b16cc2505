"""The root of every error the `sotto_voice` library raises: catch `SottoError` for all."""

from __future__ import annotations


class SottoError(Exception):
    """Something in Sotto failed; the subclass and message say what."""
