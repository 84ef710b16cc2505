"""Download piper voices by name from the piper voices repository."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import json
import logging
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from .errors import DownloadError, VoiceLoadError, VoiceNotFoundError
from .voices import CONFIG_SUFFIX, MODEL_SUFFIX, InstalledVoice, VoiceName, inspect_voice

_LOGGER = logging.getLogger(__name__)

DEFAULT_VOICES_URL: Final = "https://huggingface.co/rhasspy/piper-voices/resolve/main"
CATALOGUE_FILE: Final = "voices.json"
DOWNLOAD_TIMEOUT: Final = 60.0
_READ_SIZE: Final = 256 * 1024
# A catalogue is a few megabytes; refuse anything absurd rather than fill memory.
_MAX_CATALOGUE_BYTES: Final = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ExpectedFile:
    """What the catalogue (or a pinned list) says a file should be."""

    size: int | None
    md5: str | None
    sha256: str | None = None


def _url(base_url: str, path: str) -> str:
    return f"{base_url.rstrip('/')}/{path}"


def _open(url: str, timeout: float) -> http.client.HTTPResponse:
    request = urllib.request.Request(url, headers={"User-Agent": "sotto-engine"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        err.close()
        raise DownloadError(f"download of {url} failed: HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(f"download of {url} failed: {reason}") from err
    if not isinstance(response, http.client.HTTPResponse):
        raise DownloadError(f"download of {url} failed: not an HTTP(S) URL")
    return response


def _read_catalogue(base_url: str, timeout: float) -> dict[str, Any] | None:
    """Fetch voices.json, or None when the server does not have one."""
    url = _url(base_url, CATALOGUE_FILE)
    try:
        response = _open(url, timeout)
    except DownloadError as err:
        if isinstance(err.__cause__, urllib.error.HTTPError) and err.__cause__.code == 404:
            return None
        raise
    with response:
        try:
            body = response.read(_MAX_CATALOGUE_BYTES + 1)
        except (http.client.HTTPException, OSError) as err:
            raise DownloadError(f"download of {url} failed: {err}") from err
    if len(body) > _MAX_CATALOGUE_BYTES:
        raise DownloadError(f"voice catalogue {url} is larger than {_MAX_CATALOGUE_BYTES} bytes")
    try:
        catalogue = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DownloadError(f"voice catalogue {url} is not valid JSON: {err}") from err
    if not isinstance(catalogue, dict):
        raise DownloadError(f"voice catalogue {url} is not a JSON object")
    return catalogue


def _expected_files(catalogue: dict[str, Any] | None, voice: VoiceName) -> dict[str, ExpectedFile]:
    """Sizes and checksums the catalogue lists for the voice's files (empty if unknown)."""
    if catalogue is None:
        return {}
    entry = catalogue.get(voice.name)
    if not isinstance(entry, dict):
        raise VoiceNotFoundError(f"voice {voice.name} is not in the piper voice catalogue")
    files = entry.get("files")
    expected: dict[str, ExpectedFile] = {}
    if isinstance(files, dict):
        for path, info in files.items():
            if isinstance(info, dict):
                size = info.get("size_bytes")
                md5 = info.get("md5_digest")
                expected[str(path)] = ExpectedFile(
                    size=size if isinstance(size, int) else None,
                    md5=md5.lower() if isinstance(md5, str) else None,
                )
    return expected


def _copy(url: str, response: http.client.HTTPResponse, out: IO[bytes]) -> tuple[int, str, str]:
    """Copy the response body to out; return its length, MD5 and SHA-256 digests."""
    digest = hashlib.md5(usedforsecurity=False)
    pinned = hashlib.sha256()
    received = 0
    while True:
        try:
            block = response.read(_READ_SIZE)
        except http.client.IncompleteRead as err:
            raise DownloadError(
                f"download of {url} was cut short after {received + len(err.partial)} bytes"
            ) from err
        except (http.client.HTTPException, OSError) as err:
            raise DownloadError(f"download of {url} failed: {err}") from err
        if not block:
            return received, digest.hexdigest(), pinned.hexdigest()
        out.write(block)
        digest.update(block)
        pinned.update(block)
        received += len(block)


def _check(
    url: str, declared: str | None, expected: ExpectedFile, got: tuple[int, str, str]
) -> None:
    """Raise DownloadError unless what arrived is what the server and catalogue promised."""
    received, md5, sha256 = got
    if declared is not None and declared.isdigit() and int(declared) != received:
        raise DownloadError(f"download of {url} was cut short: got {received} of {declared} bytes")
    if expected.size is not None and expected.size != received:
        raise DownloadError(
            f"download of {url} has the wrong size: got {received} bytes, "
            f"the catalogue says {expected.size}"
        )
    if expected.md5 is not None and expected.md5 != md5:
        raise DownloadError(f"download of {url} is corrupt: its MD5 checksum does not match")
    if expected.sha256 is not None and expected.sha256 != sha256:
        raise DownloadError(f"download of {url} is corrupt: its SHA-256 does not match")
    if received == 0:
        raise DownloadError(f"download of {url} is empty")


def fetch_to_temp(url: str, directory: Path, expected: ExpectedFile, timeout: float) -> Path:
    """Download url into a hidden temporary file in directory and verify it."""
    response = _open(url, timeout)
    try:
        fd, temp_name = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=directory)
    except OSError as err:
        response.close()
        raise DownloadError(f"cannot write into {directory}: {err.strerror}") from err
    temp_path = Path(temp_name)
    try:
        with response, os.fdopen(fd, "wb") as out:
            declared = response.getheader("Content-Length")
            got = _copy(url, response, out)
            out.flush()
            os.fsync(out.fileno())
        _check(url, declared, expected, got)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    return temp_path


def download_voice_blocking(
    name: str,
    directory: Path,
    *,
    base_url: str = DEFAULT_VOICES_URL,
    timeout: float = DOWNLOAD_TIMEOUT,
) -> InstalledVoice:
    """Download a voice's model and config into directory; nothing is left half-written."""
    voice = VoiceName.parse(name)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DownloadError(f"cannot create voices directory {directory}: {err.strerror}") from err
    expected = _expected_files(_read_catalogue(base_url, timeout), voice)
    temps: dict[str, Path] = {}
    try:
        for suffix in (CONFIG_SUFFIX, MODEL_SUFFIX):
            path = voice.repository_path(suffix)
            temps[suffix] = fetch_to_temp(
                _url(base_url, path),
                directory,
                expected.get(path, ExpectedFile(size=None, md5=None)),
                timeout,
            )
        # The config goes in first: a model without its config is ignored by the scan,
        # so a crash between the two renames never exposes a voice that cannot load.
        for suffix in (CONFIG_SUFFIX, MODEL_SUFFIX):
            os.replace(temps.pop(suffix), directory / f"{voice.name}{suffix}")
    finally:
        for leftover in temps.values():
            with contextlib.suppress(OSError):
                leftover.unlink()
    try:
        installed = inspect_voice(directory / f"{voice.name}{MODEL_SUFFIX}")
    except VoiceLoadError as err:
        for suffix in (CONFIG_SUFFIX, MODEL_SUFFIX):
            (directory / f"{voice.name}{suffix}").unlink(missing_ok=True)
        raise DownloadError(f"downloaded voice {voice.name} is unusable: {err}") from err
    _LOGGER.info("Downloaded voice %s into %s", voice.name, directory)
    return installed


async def download_voice(
    name: str,
    directory: Path,
    *,
    base_url: str = DEFAULT_VOICES_URL,
    timeout: float = DOWNLOAD_TIMEOUT,
) -> InstalledVoice:
    """Download a voice by name (e.g. en_US-lessac-medium) into directory."""
    return await asyncio.to_thread(
        download_voice_blocking, name, directory, base_url=base_url, timeout=timeout
    )
