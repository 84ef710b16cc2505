"""A sotto-engine that misbehaves: HA's speech entities fail cleanly and say why.

The real engine cannot be made to send a reply without its format or one hours long, so
these tests serve a scripted engine over the real secure link on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from homeassistant.components import stt, tts
from homeassistant.components.tts.const import DATA_COMPONENT as TTS_ENTITIES
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize

from custom_components.sotto.const import DOMAIN, HOME_UNIQUE_ID
from sotto_voice.engine.protocol import (
    GrammarMessage,
    GrammarMissing,
    GrammarReady,
    PartialTranscript,
)
from sotto_voice.link import (
    ConnectionClosedError,
    Link,
    LinkError,
    LinkKey,
    LinkServer,
    PeerIdentity,
)

from .house import async_build_house
from .peers import paired_entry
from .speech_input import METADATA

pytestmark = pytest.mark.usefixtures("socket_enabled")

KEY = LinkKey.generate()
SPEAKER = "tts.engine_text_to_speech"
LISTENER = "stt.engine_speech_to_text"


@dataclass
class ScriptedEngine:
    """Answers like sotto-engine, except where a request's text asks for a fault."""

    chunks_heard: int = 0
    grammars_sent: list[str] = field(default_factory=list)
    refuse_transcribe: bool = False

    async def handle(self, link: Link) -> None:
        """Serve one request's link."""
        with contextlib.suppress(ConnectionClosedError, LinkError):
            async for event in link:
                await self._answer(link, event)

    async def _answer(self, link: Link, event: Event) -> None:
        if Describe.is_type(event.type):
            await link.write_event(Info().event())
        elif Synthesize.is_type(event.type):
            await self._speak(link, Synthesize.from_event(event).text)
        elif GrammarMessage.is_type(event.type):
            grammar = GrammarMessage.from_event(event)
            if grammar.jsgf is None:
                await link.write_event(GrammarMissing(grammar.digest).event())
            else:
                self.grammars_sent.append(grammar.digest)
                await link.write_event(GrammarReady(grammar.digest).event())
        elif Transcribe.is_type(event.type) and self.refuse_transcribe:
            await link.write_event(Error(text="no model for this language").event())
        elif AudioChunk.is_type(event.type):
            self.chunks_heard += 1
            if self.chunks_heard == 1:
                # The first words already make a whole command that cannot go on.
                await link.write_event(
                    PartialTranscript("turn on the kitchen light", True, False).event()
                )
        elif AudioStop.is_type(event.type):
            await link.write_event(Transcript(text="turn on the kitchen light").event())

    @staticmethod
    async def _speak(link: Link, text: str) -> None:
        if text == "no format":
            await link.write_event(AudioChunk(16000, 2, 1, bytes(3200)).event())
            await link.write_event(AudioStop().event())
        elif text == "endless":
            await link.write_event(AudioStart(16000, 2, 1).event())
            for _ in range(20):  # 4 MB: more than two minutes of 16 kHz speech
                await link.write_event(AudioChunk(16000, 2, 1, bytes(200_000)).event())
            await link.write_event(AudioStop().event())
        else:
            await link.write_event(Error(text=f"no voice can say {text!r}").event())


@contextlib.asynccontextmanager
async def _paired_engine(
    hass: HomeAssistant, engine: ScriptedEngine
) -> AsyncIterator[MockConfigEntry]:
    identity = PeerIdentity(device_id="living-room-engine", name="Engine", role="engine")
    server = LinkServer(engine.handle, key=KEY, identity=identity)
    async with server.serving("127.0.0.1", 0) as port:
        entry = _engine_entry(port)
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        yield entry
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


def _engine_entry(port: int) -> MockConfigEntry:
    return paired_entry(
        port, KEY.to_base64(), kind="engine", device_id="living-room-engine", name="Engine"
    )


async def _speech(chunks: int, sent: list[int]) -> AsyncIterator[bytes]:
    """A satellite's audio in 20 ms chunks, counting what was taken from it."""
    for _ in range(chunks):
        sent[0] += 1
        yield bytes(640)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("no format", "the engine sent audio without saying its format"),
        ("endless", "the reply is longer than two minutes"),
        ("hello", "no voice can say 'hello'"),
    ],
)
async def test_a_broken_reply_fails_the_speech_and_logs_why(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture, text: str, reason: str
) -> None:
    """No half-made audio reaches a speaker; the log names the engine and the reason."""
    async with _paired_engine(hass, ScriptedEngine()):
        with pytest.raises(HomeAssistantError, match="No TTS"):
            await tts.async_get_media_source_audio(
                hass, tts.generate_media_source_id(hass, text, SPEAKER, "en")
            )
        speaker = hass.data[TTS_ENTITIES].get_entity(SPEAKER)
        assert speaker is not None
        # No voices reported: the espeak-ng language stays offered, no voice list.
        assert speaker.supported_languages == ["en"]
        assert speaker.async_get_supported_voices("en") is None
    assert f"Engine could not speak: {reason}" in caplog.text


async def test_engine_stops_taking_audio_once_the_command_is_complete(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """Audio stops leaving for the engine as soon as it says the command is whole; the
    home's grammar is sent only when the engine lacks it; no home means no grammar."""
    engine = ScriptedEngine()
    async with _paired_engine(hass, engine):
        listener = stt.async_get_speech_to_text_entity(hass, LISTENER)
        assert listener is not None
        # Without the home entry there is no grammar to recognise against.
        with caplog.at_level(logging.WARNING):
            result = await listener.async_process_audio_stream(METADATA, _speech(5, [0]))
        assert result.result is stt.SpeechResultState.ERROR
        assert "No speech grammar to send to Engine yet" in caplog.text

        assert await async_setup_component(hass, "conversation", {})
        await async_build_house(hass, {"Kitchen": ["Kitchen Light"]})
        home = MockConfigEntry(domain=DOMAIN, unique_id=HOME_UNIQUE_ID, data={"kind": "home"})
        home.add_to_hass(hass)
        assert await hass.config_entries.async_setup(home.entry_id)
        await hass.async_block_till_done()

        sent = [0]
        result = await listener.async_process_audio_stream(METADATA, _speech(250, sent))
        assert result.result is stt.SpeechResultState.SUCCESS
        assert result.text == "turn on the kitchen light"
        assert sent[0] < 250  # the rest of the five seconds never left
        assert engine.chunks_heard == sent[0]
        assert len(engine.grammars_sent) == 1

        engine.refuse_transcribe = True
        result = await listener.async_process_audio_stream(METADATA, _speech(5, [0]))
        assert result.result is stt.SpeechResultState.ERROR
        assert "Engine could not transcribe: no model for this language" in caplog.text
        await hass.config_entries.async_unload(home.entry_id)


async def test_an_engine_that_refuses_the_key_asks_for_it_again(hass: HomeAssistant) -> None:
    """An engine re-keyed on its host: its entry waits for the new key (re-auth)."""
    other = LinkKey.generate()
    identity = PeerIdentity(device_id="living-room-engine", name="Engine", role="engine")
    server = LinkServer(ScriptedEngine().handle, key=other, identity=identity)
    async with server.serving("127.0.0.1", 0) as port:
        entry = _engine_entry(port)
        entry.add_to_hass(hass)
        assert not await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
