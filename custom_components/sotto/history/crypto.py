"""Kept audio is sealed with a key of its own, so destroying the key erases the audio.

Flash storage does not reliably overwrite a file in place; a destroyed key does not
need to be overwritten anywhere for the ciphertext left behind to be useless.
"""

from __future__ import annotations

import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import HistoryError

KEY_BYTES: Final = 32
_NONCE_BYTES: Final = 12
_MAGIC: Final = b"SOTTOAU1"


def new_key() -> bytes:
    """A fresh random key for one recording."""
    return AESGCM.generate_key(KEY_BYTES * 8)


def seal(key: bytes, audio: bytes, *, recording_id: str) -> bytes:
    """Encrypt one recording; the id is bound in so files cannot be swapped."""
    nonce = os.urandom(_NONCE_BYTES)
    return _MAGIC + nonce + AESGCM(key).encrypt(nonce, audio, recording_id.encode())


def open_sealed(key: bytes, sealed: bytes, *, recording_id: str) -> bytes:
    """Decrypt one recording (raises HistoryError if the key or file is wrong)."""
    if not sealed.startswith(_MAGIC) or len(sealed) < len(_MAGIC) + _NONCE_BYTES + 16:
        raise HistoryError(f"recording {recording_id} is not a Sotto audio file")
    nonce = sealed[len(_MAGIC) : len(_MAGIC) + _NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(
            nonce, sealed[len(_MAGIC) + _NONCE_BYTES :], recording_id.encode()
        )
    except InvalidTag as err:
        raise HistoryError(f"recording {recording_id} does not open with its key") from err
