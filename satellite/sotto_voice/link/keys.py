"""Pre-shared link keys: generation, base64 text form, and key files readable only by owner."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from .errors import KeyFileError, KeyFormatError

_LOGGER = logging.getLogger(__name__)

KEY_BYTES: Final = 32
#: A key file holds one line of base64 (44 characters); anything much longer is not a key.
_MAX_KEY_FILE_BYTES: Final = 1024
_KEY_FILE_MODE: Final = 0o600


@dataclass(frozen=True, slots=True)
class LinkKey:
    """A 32-byte pre-shared key for the Noise NNpsk0 handshake."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes):
            raise KeyFormatError("a link key must be bytes")
        if len(self.secret) != KEY_BYTES:
            raise KeyFormatError(
                f"a link key must be {KEY_BYTES} bytes, this one has {len(self.secret)}"
            )

    @classmethod
    def generate(cls) -> LinkKey:
        """Return a new random key from the operating system's CSPRNG."""
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_base64(cls, text: str) -> LinkKey:
        """Parse a key written as base64 (surrounding whitespace is ignored)."""
        if not isinstance(text, str):
            raise KeyFormatError("a link key must be given as base64 text")
        stripped = text.strip()
        try:
            raw = base64.b64decode(stripped.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError) as err:
            raise KeyFormatError(f"a link key must be valid base64 ({err})") from None
        if len(raw) != KEY_BYTES:
            raise KeyFormatError(
                f"a link key must decode to {KEY_BYTES} bytes, this one decodes to {len(raw)}"
            )
        return cls(raw)

    def to_base64(self) -> str:
        """Return the key as base64 text, the form users copy between devices."""
        return base64.b64encode(self.secret).decode("ascii")

    @property
    def fingerprint(self) -> str:
        """Return a short, non-secret tag for logs and UIs to tell keys apart."""
        return hashlib.sha256(b"sotto-link-key-fingerprint\0" + self.secret).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"LinkKey(fingerprint={self.fingerprint!r})"


def load_key_file(path: str | os.PathLike[str]) -> LinkKey:
    """Read a key file written by write_key_file."""
    key_path = Path(path)
    with key_path.open("rb") as handle:
        raw = handle.read(_MAX_KEY_FILE_BYTES + 1)
        mode = os.fstat(handle.fileno()).st_mode
    if len(raw) > _MAX_KEY_FILE_BYTES:
        raise KeyFormatError(f"{key_path}: too large to be a link key file")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise KeyFormatError(f"{key_path}: a link key file must hold base64 text") from None
    if not text.strip():
        raise KeyFormatError(f"{key_path}: the link key file is empty")
    try:
        key = LinkKey.from_base64(text)
    except KeyFormatError as err:
        raise KeyFormatError(f"{key_path}: {err}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        _LOGGER.warning(
            "%s: link key file is readable by other users (mode %o); run chmod 600 on it",
            key_path,
            stat.S_IMODE(mode),
        )
    return key


def write_key_file(path: str | os.PathLike[str], key: LinkKey, *, overwrite: bool = False) -> None:
    """Write a key file with mode 0600, atomically (it never exists with a wider mode)."""
    key_path = Path(path)
    if not overwrite and key_path.exists():
        raise FileExistsError(f"{key_path}: a key file already exists (pass overwrite=True)")
    temp_path = key_path.with_name(f".{key_path.name}.{secrets.token_hex(6)}.tmp")
    # O_EXCL with mode 0600: the file is born private, never chmod-ed after the fact.
    fd = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _KEY_FILE_MODE)
    try:
        os.fchmod(fd, _KEY_FILE_MODE)  # a umask can only narrow the mode, but be explicit
        os.write(fd, (key.to_base64() + "\n").encode("ascii"))
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            temp_path.unlink()
        raise
    os.close(fd)
    try:
        os.replace(temp_path, key_path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp_path.unlink()
        raise


def read_key_file(path: Path, *, keygen: str) -> LinkKey:
    """Load a program's key file; any failure is a KeyFileError saying what to do.

    keygen is the command that makes the file, named when it does not exist.
    """
    try:
        return load_key_file(path)
    except FileNotFoundError:
        raise KeyFileError(f"{path} does not exist; create it with `{keygen}`") from None
    except KeyFormatError as err:
        raise KeyFileError(str(err)) from None
    except OSError as err:
        raise KeyFileError(f"cannot read {path} ({err.strerror})") from None


def create_key_file(path: Path, *, overwrite: bool) -> LinkKey:
    """Generate a key and write it to path (its directory made if needed); return the key.

    Raises FileExistsError when the file exists and overwrite is false, OSError when it
    cannot be written.
    """
    key = LinkKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_key_file(path, key, overwrite=overwrite)
    return key
