"""Sotto's in-process speech-to-text entity, through Home Assistant's real STT API."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import pytest
from homeassistant.components import stt
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sotto.const import DOMAIN, HOME_UNIQUE_ID
from custom_components.sotto.stt import SottoLocalSpeechToText
from demo.speech import utterance

from .house import async_build_house
from .speech_input import METADATA, in_chunks

LOCAL_STT = "stt.sotto_speech_to_text"


async def _hear(hass: HomeAssistant, *parts: str | float) -> str | None:
    entity = stt.async_get_speech_to_text_entity(hass, LOCAL_STT)
    assert entity is not None
    result = await entity.async_process_audio_stream(METADATA, in_chunks(utterance(*parts)))
    assert result.result is stt.SpeechResultState.SUCCESS
    return result.text


async def _home(hass: HomeAssistant) -> MockConfigEntry:
    assert await async_setup_component(hass, "conversation", {})
    await async_build_house(
        hass, {"Kitchen": ["Island Pendants", "Kitchen Light"], "Bedroom": ["Bedroom Lamp"]}
    )
    home = MockConfigEntry(domain=DOMAIN, unique_id=HOME_UNIQUE_ID, data={"kind": "home"})
    home.add_to_hass(hass)
    assert await hass.config_entries.async_setup(home.entry_id)
    await hass.async_block_till_done()
    return home


async def test_out_of_dictionary_name_is_recognised_and_chatter_rejected(
    hass: HomeAssistant,
) -> None:
    """'Pendants' is not in pocketsphinx's dictionary, yet the command is heard exactly;
    a question that is not a command comes back as not recognised."""
    home = await _home(hass)
    assert await _hear(hass, 0.3, "turn on the island pendants", 0.6) == (
        "turn on the island pendants"
    )
    assert await _hear(hass, 0.3, "what time does the game start", 0.6) is None
    assert "grammar_error" not in hass.states.get(LOCAL_STT).attributes
    await hass.config_entries.async_unload(home.entry_id)


async def test_grammar_follows_a_new_alias(hass: HomeAssistant) -> None:
    """An alias added in HA is understood after the grammar rebuilds, without a restart."""
    home = await _home(hass)
    er.async_get(hass).async_update_entity("light.bedroom_lamp", aliases={"reading light"})
    grammar = home.runtime_data.grammar
    assert grammar is not None
    before = grammar.grammar
    async with asyncio.timeout(30):
        while grammar.grammar is before:
            await asyncio.sleep(0.1)
    assert await _hear(hass, 0.3, "turn off the reading light", 0.6) == (
        "turn off the reading light"
    )
    await hass.config_entries.async_unload(home.entry_id)


async def test_recognition_runs_in_its_own_process_that_comes_back_after_a_crash(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """Decoding happens outside HA's process; if that process dies mid-command, the
    command fails with the reason logged, the next one is heard, and unloading stops it."""
    home = await _home(hass)
    entity = stt.async_get_speech_to_text_entity(hass, LOCAL_STT)
    assert isinstance(entity, SottoLocalSpeechToText)
    recognizer = entity._recognizer
    assert recognizer is not None
    first = recognizer.pid
    assert first not in (None, os.getpid())

    async def dying() -> AsyncIterator[bytes]:
        yield utterance(0.3, "turn on the")
        os.kill(first, signal.SIGKILL)
        yield utterance("kitchen light", 0.6)

    result = await entity.async_process_audio_stream(METADATA, dying())
    assert result.result is stt.SpeechResultState.ERROR
    assert "speech-to-text worker stopped" in caplog.text
    assert "exit status -9" in caplog.text
    assert await _hear(hass, 0.3, "turn on the kitchen light", 0.6) == "turn on the kitchen light"
    second = recognizer.pid
    assert second not in (None, first)
    await hass.config_entries.async_unload(home.entry_id)
    assert recognizer.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(second, 0)


async def test_recognition_stops_taking_audio_once_the_command_is_whole(
    hass: HomeAssistant,
) -> None:
    """After a whole command and a short silence the entity stops reading the stream, well
    before the satellite's own end of speech would (a third of a second of silence)."""
    home = await _home(hass)
    entity = stt.async_get_speech_to_text_entity(hass, LOCAL_STT)
    assert entity is not None
    # The first command after a start has rough partial hypotheses (its cepstral mean is
    # not learned yet): it is decoded twice at the end instead. Later ones stop early.
    assert await _hear(hass, 0.3, "turn off the bedroom lamp", 0.6) == "turn off the bedroom lamp"
    speech = utterance(0.3, "turn on the kitchen light")
    taken = 0

    async def then_silence() -> AsyncIterator[bytes]:
        nonlocal taken
        audio = speech + bytes(32000 * 2)
        for start in range(0, len(audio), 640):
            taken = start + 640
            yield audio[start : start + 640]

    result = await entity.async_process_audio_stream(METADATA, then_silence())
    assert result.text == "turn on the kitchen light"
    assert taken < len(speech) + 0.35 * 32000
    await hass.config_entries.async_unload(home.entry_id)
