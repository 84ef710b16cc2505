"""A client for a sotto-engine: speech-to-text and text-to-speech over the secure link."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import DeviceInfo
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from sotto_voice.audio import VOICE_FORMAT, PcmFormat
from sotto_voice.engine.protocol import (
    GrammarMessage,
    GrammarMissing,
    GrammarReady,
    PartialTranscript,
)
from sotto_voice.engine.stt.model import Grammar
from sotto_voice.link import Link, LinkError, LinkKey, connect

from .connection import async_controller_identity
from .const import DOMAIN
from .grammar import LANGUAGE, HomeGrammar

# A reply longer than this is cut: a runaway engine must not fill HA's memory.
_MAX_REPLY_BYTES: Final = VOICE_FORMAT.bytes_per_second * 120
_REQUEST_TIMEOUT: Final = 30.0


class EngineError(Exception):
    """The engine could not be reached or could not serve the request."""


class EngineClient:
    """Opens one link per request, like HA's own Wyoming services do."""

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        host: str,
        port: int,
        key: LinkKey,
        device_id: str,
        name: str,
        home_grammar: Callable[[], HomeGrammar | None],
    ) -> None:
        """Describe the engine; nothing connects until a request."""
        self.hass = hass
        self.host = host
        self.port = port
        self.name = name
        self.device_id = device_id
        self._key = key
        self.home_grammar = home_grammar
        self.info: Info | None = None
        self.device_info = DeviceInfo(
            identifiers={(DOMAIN, device_id)},
            name=name,
            manufacturer="Sotto",
            model="Engine",
            # A program on a host of the user's, paired like a satellite: a device, as HA
            # lists it (None also turns the service devices older versions made into one).
            entry_type=None,
        )

    async def describe(self) -> Info:
        """Ask the engine what it offers (voices, languages)."""
        async with asyncio.timeout(_REQUEST_TIMEOUT), self._link() as link:
            await link.write_event(Describe().event())
            event = await _next(link, Info.is_type)
        self.info = Info.from_event(event)
        return self.info

    async def synthesize(self, text: str, voice: str | None) -> tuple[PcmFormat, bytes]:
        """Speak `text` with `voice` (or the engine's default) and return the audio."""
        request = Synthesize(text=text, voice=SynthesizeVoice(name=voice) if voice else None)
        audio = bytearray()
        fmt: PcmFormat | None = None
        async with asyncio.timeout(_REQUEST_TIMEOUT), self._link() as link:
            await link.write_event(request.event())
            while True:
                event = await _next(link, lambda _t: True)
                if AudioStart.is_type(event.type):
                    start = AudioStart.from_event(event)
                    fmt = PcmFormat(start.rate, start.width, start.channels)
                elif AudioChunk.is_type(event.type):
                    audio += event.payload or b""
                    if len(audio) > _MAX_REPLY_BYTES:
                        raise EngineError("the reply is longer than two minutes")
                elif AudioStop.is_type(event.type):
                    break
        if fmt is None:
            raise EngineError("the engine sent audio without saying its format")
        return fmt, bytes(audio)

    async def transcribe(self, grammar: Grammar, stream: AsyncIterable[bytes]) -> str | None:
        """Recognise a command; None when the engine rejects the speech as not a command."""
        async with self._link() as link:
            await self._use_grammar(link, grammar)
            await link.write_event(Transcribe(language=LANGUAGE).event())
            await link.write_event(
                AudioStart(
                    rate=VOICE_FORMAT.rate, width=VOICE_FORMAT.width, channels=VOICE_FORMAT.channels
                ).event()
            )
            complete = asyncio.Event()
            reader = asyncio.create_task(_read_transcript(link, complete))
            try:
                async for chunk in stream:
                    await link.write_event(
                        AudioChunk(
                            rate=VOICE_FORMAT.rate,
                            width=VOICE_FORMAT.width,
                            channels=VOICE_FORMAT.channels,
                            audio=chunk,
                        ).event()
                    )
                    if complete.is_set():
                        break  # the words already make a whole command
                await link.write_event(AudioStop().event())
                async with asyncio.timeout(_REQUEST_TIMEOUT):
                    return await reader
            finally:
                reader.cancel()

    @contextlib.asynccontextmanager
    async def _link(self) -> AsyncIterator[Link]:
        """One link to the engine for one request; link failures become EngineError."""
        identity = await async_controller_identity(self.hass)
        try:
            async with connect(
                self.host,
                self.port,
                key=self._key,
                identity=identity,
                expected_device_id=self.device_id,
            ) as link:
                yield link
        except (LinkError, OSError, TimeoutError) as err:
            raise EngineError(str(err) or type(err).__name__) from err

    @staticmethod
    async def _use_grammar(link: Link, grammar: Grammar) -> None:
        """Name the grammar by digest; send it whole only if the engine lacks it."""
        await link.write_event(GrammarMessage(digest=grammar.digest).event())
        reply = await _next(link, lambda t: GrammarReady.is_type(t) or GrammarMissing.is_type(t))
        if GrammarMissing.is_type(reply.type):
            await link.write_event(
                GrammarMessage(grammar.digest, grammar.jsgf, grammar.words).event()
            )
            await _next(link, GrammarReady.is_type)


async def _read_transcript(link: Link, complete: asyncio.Event) -> str | None:
    while True:
        event = await _next(link, lambda _t: True)
        if PartialTranscript.is_type(event.type):
            partial = PartialTranscript.from_event(event)
            if partial.complete and not partial.can_continue:
                complete.set()
        elif Transcript.is_type(event.type):
            data = event.data or {}
            return str(data["text"]) if data.get("accepted", True) and data.get("text") else None


async def _next(link: Link, wanted: Callable[[str], bool]) -> Event:
    """The next event of a wanted type; an engine `error` becomes EngineError."""
    while True:
        event = await link.read_event()
        if Error.is_type(event.type):
            raise EngineError(Error.from_event(event).text)
        if wanted(event.type):
            return event
