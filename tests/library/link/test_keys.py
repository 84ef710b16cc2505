"""Link keys: generated at random, written as base64, stored readable only by the owner."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from sotto_voice.link import (
    KeyFormatError,
    LinkError,
    LinkKey,
    PeerIdentity,
    load_key_file,
    write_key_file,
)


def test_generated_keys_are_32_random_bytes() -> None:
    first, second = LinkKey.generate(), LinkKey.generate()
    assert len(first.secret) == 32
    assert first != second
    assert LinkKey.from_base64(first.to_base64()) == first
    assert LinkKey.from_base64("  " + first.to_base64() + "\n") == first


def test_repr_does_not_leak_the_secret() -> None:
    key = LinkKey.generate()
    assert key.to_base64() not in repr(key)
    assert key.secret.hex() not in repr(key)
    assert key.fingerprint in repr(key)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not base64 at all!", "base64"),
        (base64.b64encode(b"short").decode(), "32 bytes"),
        (base64.b64encode(bytes(33)).decode(), "32 bytes"),
        ("", "32 bytes"),
        ("ÄÖÜ", "base64"),
    ],
)
def test_bad_key_text_is_a_clear_error(text: str, problem: str) -> None:
    with pytest.raises(KeyFormatError, match=problem) as caught:
        LinkKey.from_base64(text)
    assert isinstance(caught.value, LinkError)
    assert isinstance(caught.value, ValueError)


def test_key_file_is_private_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "link.key"
    key = LinkKey.generate()
    old = os.umask(0o000)  # even a permissive umask must not widen the file
    try:
        write_key_file(path, key)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key_file(path) == key
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    with pytest.raises(FileExistsError):
        write_key_file(path, LinkKey.generate())
    replacement = LinkKey.generate()
    write_key_file(path, replacement, overwrite=True)
    assert load_key_file(path) == replacement
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty"),
        (b"garbage!!\n", "base64"),
        (base64.b64encode(bytes(16)) + b"\n", "32 bytes"),
        (b"\xff\xfe\x00", "base64 text"),
        (b"A" * 5000, "too large"),
    ],
)
def test_bad_key_file_names_the_file(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "broken.key"
    path.write_bytes(content)
    with pytest.raises(KeyFormatError, match=problem) as caught:
        load_key_file(path)
    assert str(path) in str(caught.value)


def test_missing_key_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_key_file(tmp_path / "nope.key")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"device_id": "", "name": "x", "role": "satellite"}, "device_id"),
        ({"device_id": "a", "name": "x", "role": "toaster"}, "role"),
        ({"device_id": "a" * 200, "name": "x", "role": "engine"}, "longer"),
        ({"device_id": "a\nb", "name": "x", "role": "engine"}, "control"),
    ],
)
def test_identity_rejects_bad_fields(fields: dict[str, str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        PeerIdentity(**fields)
