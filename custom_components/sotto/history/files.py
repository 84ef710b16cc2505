"""Private files: the history's folders and files, and exports, readable by HA's user only.

HA serves `<config>/www` without a login and HA's umask leaves new files world-readable,
so nothing here relies on either: folders are made 0700 and files 0600 before a byte is
written, no symlink is ever followed, and an export never writes over anything.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Final

from .errors import HistoryError

EXPORTS_DIR: Final = "sotto_exports"
"""Every export is a new folder in here (never a folder HA serves, such as `www`)."""

DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600
_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def private_dir(path: Path) -> None:
    """Make `path` (and missing parents) a folder only HA's user can open.

    A symlink the owner of the machine made (the history on another disk) is followed.
    """
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    path.chmod(DIR_MODE)


def private_file(path: Path) -> None:
    """Create `path` as an empty 0600 file, or make an existing one 0600 (never a symlink)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Write a new 0600 file; an existing file or symlink at `path` is an error."""
    with _create(None, str(path)) as out:
        out.write(data)


def _open_dir(path: Path | str, dir_fd: int | None = None) -> int:
    try:
        return os.open(path, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as err:
        # ELOOP or ENOTDIR: a symlink or a file where a folder should be.
        raise HistoryError(f"{path} is not a plain folder: {err.strerror}") from err


def _create(dir_fd: int | None, name: str) -> BinaryIO:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, FILE_MODE, dir_fd=dir_fd)
    except FileExistsError as err:
        raise HistoryError(f"{name} already exists; it is not overwritten") from err
    return os.fdopen(fd, "wb")


class ExportFolder:
    """A new folder under the exports directory; files in it are created, never replaced."""

    def __init__(self, path: Path, fd: int) -> None:
        """Hold the folder open, so files land in it even if its path is swapped."""
        self.path = path
        self._fd = fd

    def create(self, name: str) -> BinaryIO:
        """A new 0600 file in the folder (HistoryError if the name is taken)."""
        if "/" in name or name in ("", ".", ".."):
            raise HistoryError(f"{name!r} is not a file name")
        return _create(self._fd, name)


def export_name(now: datetime) -> str:
    """A new export folder's name: when it was made, and a random part so none collide."""
    return f"{now.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


@contextlib.contextmanager
def new_export_folder(config_dir: Path, name: str) -> Iterator[ExportFolder]:
    """Create `<config>/sotto_exports/<name>/` (0700); an existing one is an error."""
    exports = config_dir / EXPORTS_DIR
    with contextlib.suppress(FileExistsError):
        exports.mkdir(mode=DIR_MODE)
    parent = _open_dir(exports)  # never through a symlink planted in its place
    try:
        os.fchmod(parent, DIR_MODE)
        try:
            os.mkdir(name, DIR_MODE, dir_fd=parent)
        except FileExistsError as err:
            raise HistoryError(f"the export folder {name} already exists") from err
        fd = _open_dir(name, parent)
    finally:
        os.close(parent)
    try:
        os.fchmod(fd, DIR_MODE)
        yield ExportFolder(exports / name, fd)
    finally:
        os.close(fd)


def remove_exports(config_dir: Path) -> int:
    """Delete every export folder; returns how many there were."""
    exports = config_dir / EXPORTS_DIR
    try:
        mode = os.lstat(exports).st_mode
    except FileNotFoundError:
        return 0
    if not stat.S_ISDIR(mode):  # a symlink or a file: only the link itself goes
        exports.unlink()
        return 0
    folders = 0
    for child in exports.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)  # the fd-based rmtree does not follow symlinks inside
            folders += 1
        else:
            child.unlink()
    return folders
