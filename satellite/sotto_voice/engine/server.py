"""sotto-engine's server: Wyoming ASR and TTS over the secure link.

Per connection (each request is answered in order; one connection may make many):

Client -> engine                          Engine -> client
`describe`                                `info` (asr and tts programs, voices)
`synthesize` {text, voice?}               `audio-start`, `audio-chunk`..., `audio-stop`
`sotto-grammar` {digest, jsgf?, words?}   `sotto-grammar-ready` {digest}, or
                                          `sotto-grammar-missing` {digest} if only the
                                          digest was sent and the engine does not have it
`transcribe`, `audio-start`,              `sotto-partial` {text, complete, can_continue}
`audio-chunk`..., `audio-stop`            whenever the hypothesis changes, then
                                          `transcript` {text, accepted, confidence}

A request that cannot be served (unknown voice, no grammar yet) gets a Wyoming `error`
and the connection stays open; a malformed event gets an `error` and the connection is
closed, so bad input never leaves a stuck session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    Describe,
    Info,
    TtsProgram,
    TtsVoice,
    TtsVoiceSpeaker,
)
from wyoming.tts import Synthesize

from sotto_voice import __version__
from sotto_voice.audio import VOICE_FORMAT
from sotto_voice.discovery import announced
from sotto_voice.link import (
    DEFAULT_SETTINGS,
    ROLE_ENGINE,
    KeyFileError,
    Link,
    LinkError,
    LinkKey,
    LinkServer,
    LinkSettings,
    PeerIdentity,
    PeerLog,
    read_key_file,
)
from sotto_voice.messages import MessageError, event_data

from .config import EngineConfig, EngineConfigError, resolve_device_id
from .protocol import (
    ERROR_BAD_MESSAGE,
    ERROR_GRAMMAR_FAILED,
    ERROR_NO_GRAMMAR,
    ERROR_STT_FAILED,
    ERROR_STT_UNAVAILABLE,
    ERROR_TTS_FAILED,
    ERROR_UNSUPPORTED,
    ERROR_VOICE_NOT_FOUND,
    GRAMMAR_TYPE,
    GrammarMessage,
    GrammarMissing,
    GrammarReady,
    PartialTranscript,
    transcript_event,
)
from .stt.endpoint import PartialLike
from .stt.stream import recognise
from .tts import TextToSpeech, TtsError, TtsSettings, VoiceInfo, split_audio
from .tts.errors import InvalidVoiceNameError, SynthesisError, VoiceNotFoundError

if TYPE_CHECKING:
    from .stt.model import Partial, Result
    from .stt.worker import RecognizerPool

_LOGGER = logging.getLogger(__name__)

STT_RATE: Final = VOICE_FORMAT.rate
STT_WIDTH: Final = VOICE_FORMAT.width
STT_CHANNELS: Final = VOICE_FORMAT.channels
# An utterance longer than this is not a command; stop decoding instead of growing.
MAX_UTTERANCE_SECONDS: Final = 30.0
# About 46 ms at 22.05 kHz: small enough to start playing at once, as wyoming-piper does.
TTS_CHUNK_SAMPLES: Final = 1024


# --- speech-to-text, as the server needs it ----------------------------------------------


class RecognizerService:
    """The pocketsphinx recogniser in its child process; each connection decodes its grammar.

    pocketsphinx holds Python's interpreter lock while it decodes, so in a thread it would
    starve this process's event loop, and with it every link's keepalive.
    """

    def __init__(
        self, recognizer: RecognizerPool, *, language: str = "en", kind: str = "grammar"
    ) -> None:
        self._recognizer = recognizer
        self.language = language
        self.kind = kind

    @classmethod
    async def create(
        cls,
        *,
        language: str = "en",
        cmn_file: Path | None = None,
        recognizer_kind: str = "grammar",
        whisper_model: Path | None = None,
    ) -> RecognizerService:
        """Start the recognition process and wait until its model is loaded."""
        from .stt.worker import GRAMMAR, RecognizerPool

        # Whisper's children load for seconds: all of them are ready before commands overlap.
        recognizer = RecognizerPool(
            cmn_file=cmn_file,
            recognizer=recognizer_kind,
            whisper_model=whisper_model,
            keep_warm=recognizer_kind != GRAMMAR,
        )
        try:
            await recognizer.start()
        except BaseException:
            await recognizer.close()
            raise
        return cls(recognizer, language=language, kind=recognizer_kind)

    async def close(self) -> None:
        """Stop the recognition process (it finishes the request in hand)."""
        await self._recognizer.close()

    def has_grammar(self, digest: str) -> bool:
        """Whether a grammar with this digest is compiled and cached."""
        return self._recognizer.has_grammar(digest)

    async def load_grammar(self, message: GrammarMessage) -> str:
        """Compile the grammar (once per change) and return its digest."""
        from .stt.model import Grammar

        if message.jsgf is None:
            raise MessageError(f"{GRAMMAR_TYPE}: the grammar's 'jsgf' is missing")
        grammar = Grammar.from_dict({"jsgf": message.jsgf, "words": list(message.words)})
        if self._recognizer.has_grammar(grammar.digest):
            return await self._recognizer.load(grammar)  # kept: only marks it used
        started = time.monotonic()
        digest = await self._recognizer.load(grammar)
        _LOGGER.info(
            "Compiled grammar %s (%d words) in %.2f s",
            digest,
            len(grammar.words),
            time.monotonic() - started,
        )
        return digest

    async def open(self, digest: str) -> Utterance:
        """Start decoding one utterance against the grammar with this digest."""
        if not self._recognizer.has_grammar(digest):
            raise LookupError(digest)
        return Utterance(await self._recognizer.open(digest))


class Utterance:
    """One utterance being decoded."""

    def __init__(self, session: Any) -> None:
        self._session = session

    async def feed(self, pcm: bytes) -> None:
        """Decode 16 kHz mono s16le audio."""
        await self._session.feed(pcm)

    async def partial(self) -> Partial:
        """The hypothesis so far."""
        result: Partial = await self._session.partial()
        return result

    async def finish(self) -> Result:
        """The final result."""
        result: Result = await self._session.finish()
        return result

    async def settle(self, expected: str) -> Result | None:
        """The final result if its words are `expected`; else None and decoding goes on."""
        result: Result | None = await self._session.settle(expected)
        return result

    async def close(self) -> None:
        """Abandon the utterance (safe after finish)."""
        with contextlib.suppress(Exception):
            await self._session.close()


# --- the server ----------------------------------------------------------------------------


_PIPER_ATTRIBUTION: Final = Attribution(name="Rhasspy", url="https://github.com/rhasspy/piper")
_ESPEAK_ATTRIBUTION: Final = Attribution(
    name="eSpeak NG", url="https://github.com/espeak-ng/espeak-ng"
)
_SPHINX_ATTRIBUTION: Final = Attribution(
    name="CMU Sphinx", url="https://github.com/cmusphinx/pocketsphinx"
)
_WHISPER_ATTRIBUTION: Final = Attribution(
    name="OpenAI Whisper, SYSTRAN faster-whisper", url="https://github.com/SYSTRAN/faster-whisper"
)
_SOTTO_ATTRIBUTION: Final = Attribution(name="Sotto", url="https://github.com/sotto-voice/sotto")


def _tts_voice(voice: VoiceInfo) -> TtsVoice:
    return TtsVoice(
        name=voice.name,
        attribution=_PIPER_ATTRIBUTION if voice.engine == "piper" else _ESPEAK_ATTRIBUTION,
        installed=True,
        description=voice.description,
        version=None,
        languages=list(voice.languages),
        speakers=[TtsVoiceSpeaker(name=name) for name in voice.speakers] or None,
    )


class EngineServer:
    """Answers describe, synthesize and transcribe requests on each link."""

    def __init__(self, *, tts: TextToSpeech | None, stt: RecognizerService | None) -> None:
        self.tts = tts
        self.stt = stt

    def info(self) -> Info:
        """What this engine offers, for `describe`."""
        asr: list[AsrProgram] = []
        if self.stt is not None:
            sphinx = self.stt.kind == "grammar"
            attribution = _SPHINX_ATTRIBUTION if sphinx else _WHISPER_ATTRIBUTION
            asr.append(
                AsrProgram(
                    name="sotto-pocketsphinx" if sphinx else "sotto-whisper",
                    attribution=attribution,
                    installed=True,
                    description=f"{self.stt.kind} recognition of the home's command grammar",
                    version=__version__,
                    models=[
                        AsrModel(
                            name=f"pocketsphinx-{self.stt.language}" if sphinx else "whisper",
                            attribution=attribution,
                            installed=True,
                            description="pocketsphinx acoustic model"
                            if sphinx
                            else "Whisper (CTranslate2), snapped to the grammar",
                            version=None,
                            languages=[self.stt.language],
                        )
                    ],
                )
            )
        tts: list[TtsProgram] = []
        if self.tts is not None:
            tts.append(
                TtsProgram(
                    name="sotto-tts",
                    attribution=_SOTTO_ATTRIBUTION,
                    installed=True,
                    description="piper voices, with espeak-ng as the fallback",
                    version=__version__,
                    voices=[_tts_voice(voice) for voice in self.tts.voices()],
                )
            )
        return Info(asr=asr, tts=tts)

    async def handle(self, link: Link) -> None:
        """Serve one link until the client leaves or sends something malformed."""
        session = _Session(self, link)
        try:
            await session.run()
        finally:
            await session.close()


def _is_audio(event: Event) -> bool:
    return any(kind.is_type(event.type) for kind in (AudioStart, AudioChunk, AudioStop))


class _Session:
    """The state of one connection: its grammar and the utterance being decoded."""

    def __init__(self, server: EngineServer, link: Link) -> None:
        self._server = server
        self._link = link
        self._digest: str | None = None
        # The utterance's audio on its way to the decoder; None when none is wanted.
        self._audio: asyncio.Queue[bytes | None] | None = None
        self._received = 0
        self._decoder: asyncio.Task[None] | None = None
        self._converter: AudioChunkConverter | None = None
        self._last_partial: PartialTranscript | None = None

    async def close(self) -> None:
        """Abandon the utterance being decoded, if any."""
        decoder, self._decoder = self._decoder, None
        self._audio = None
        if decoder is None:
            return
        decoder.cancel()
        await asyncio.wait({decoder})
        err = None if decoder.cancelled() else decoder.exception()
        if err is not None and not isinstance(err, LinkError):  # a lost link ends it anyway
            _LOGGER.error("Speech-to-text for %s failed", self._link.remote, exc_info=err)

    async def _error(self, text: str, code: str) -> None:
        await self._link.write_event(Error(text=text, code=code).event())

    async def run(self) -> None:
        async for event in self._link:
            try:
                await self._dispatch(event)
            except MessageError as err:
                self._link.report_problem(f"closing the link from {self._link.remote}: {err}")
                await self._error(str(err), ERROR_BAD_MESSAGE)
                return
            except (KeyError, TypeError, ValueError) as err:
                # A Wyoming from_event() met a field of the wrong shape.
                message = f"{event.type}: malformed event ({type(err).__name__}: {err})"
                self._link.report_problem(f"closing the link from {self._link.remote}: {message}")
                await self._error(message, ERROR_BAD_MESSAGE)
                return

    async def _dispatch(self, event: Event) -> None:
        decoder = self._decoder
        if decoder is not None and self._audio is None and not _is_audio(event):
            # Requests are answered in order: a transcript before what was asked after it.
            await asyncio.wait({decoder})
        if Describe.is_type(event.type):
            if self._server.tts is not None:
                # Voices downloaded while the engine runs show up without a restart.
                await self._server.tts.refresh()
            await self._link.write_event(self._server.info().event())
        elif Synthesize.is_type(event.type):
            await self._synthesize(event)
        elif GrammarMessage.is_type(event.type):
            await self._grammar(GrammarMessage.from_event(event))
        elif Transcribe.is_type(event.type):
            await self._transcribe(Transcribe.from_event(event))
        elif AudioStart.is_type(event.type):
            await self._audio_start(AudioStart.from_event(event))
        elif AudioChunk.is_type(event.type):
            await self._audio_chunk(event)
        elif AudioStop.is_type(event.type):
            self._end_audio()
        else:
            await self._error(
                f"the engine does not handle {event.type!r} events", ERROR_UNSUPPORTED
            )

    # --- text-to-speech ------------------------------------------------------------------

    async def _synthesize(self, event: Event) -> None:
        tts = self._server.tts
        if tts is None:
            await self._error("text-to-speech is not enabled on this engine", ERROR_UNSUPPORTED)
            return
        data = event_data(event)
        text = data.get("text")
        if not isinstance(text, str):
            raise MessageError("synthesize: 'text' must be a string")
        # Read the voice here rather than with Synthesize.from_event, which turns a
        # language-only request into a voice *named* after the language.
        voice = data.get("voice") or {}
        if not isinstance(voice, Mapping) or not all(
            isinstance(value, str) for value in voice.values()
        ):
            raise MessageError("synthesize: 'voice' must be an object of strings")
        name = voice.get("name")
        if name and name not in {known.name for known in tts.voices()}:
            await tts.refresh()  # perhaps downloaded since the last scan
        started = time.monotonic()
        sent = 0.0
        first: float | None = None
        stream = tts.stream(
            text,
            voice=voice.get("name") or None,
            language=voice.get("language") or None,
            speaker=voice.get("speaker") or None,
        )
        try:
            # aclosing: a client that hangs up mid-reply must not leave espeak-ng running.
            async with contextlib.aclosing(stream):
                async for chunk in stream:
                    fmt = chunk.format
                    if first is None:
                        first = time.monotonic() - started
                        await self._link.write_event(
                            AudioStart(
                                rate=fmt.rate, width=fmt.width, channels=fmt.channels
                            ).event()
                        )
                    for piece in split_audio(chunk.audio, fmt, TTS_CHUNK_SAMPLES * fmt.frame_bytes):
                        await self._link.write_event(
                            AudioChunk(
                                rate=fmt.rate, width=fmt.width, channels=fmt.channels, audio=piece
                            ).event()
                        )
                    sent += chunk.seconds
        except (VoiceNotFoundError, InvalidVoiceNameError) as err:
            await self._error(str(err), ERROR_VOICE_NOT_FOUND)
            return
        except (SynthesisError, TtsError) as err:
            await self._error(str(err), ERROR_TTS_FAILED)
            return
        await self._link.write_event(AudioStop().event())
        _LOGGER.debug(
            "Spoke %.1f s of audio for %s (first audio after %.3f s)",
            sent,
            self._link.remote,
            first or 0.0,
        )

    # --- speech-to-text ------------------------------------------------------------------

    async def _grammar(self, message: GrammarMessage) -> None:
        stt = self._server.stt
        if stt is None:
            await self._error("speech-to-text is not enabled on this engine", ERROR_STT_UNAVAILABLE)
            return
        if message.jsgf is None:
            if stt.has_grammar(message.digest):
                self._digest = message.digest
                await self._link.write_event(GrammarReady(message.digest).event())
            else:
                await self._link.write_event(GrammarMissing(message.digest).event())
            return
        from .stt.errors import SttError

        try:
            digest = await stt.load_grammar(message)
        except SttError as err:
            await self._error(f"the grammar cannot be used: {err}", ERROR_GRAMMAR_FAILED)
            return
        self._digest = digest
        await self._link.write_event(GrammarReady(digest).event())

    async def _transcribe(self, _request: Transcribe) -> None:
        stt = self._server.stt
        if stt is None:
            await self._error("speech-to-text is not enabled on this engine", ERROR_STT_UNAVAILABLE)
            return
        if self._digest is None or not stt.has_grammar(self._digest):
            await self._error(
                f"no grammar: send {GRAMMAR_TYPE} before transcribe", ERROR_NO_GRAMMAR
            )
            return
        await self.close()
        from .stt.errors import SttError

        try:
            utterance = await stt.open(self._digest)
        except SttError as err:
            await self._error(f"speech-to-text failed to start: {err}", ERROR_STT_FAILED)
            return
        audio: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._audio = audio
        self._received = 0
        self._converter = None
        self._last_partial = None
        self._decoder = asyncio.create_task(
            self._decode(utterance, audio), name=f"sotto-engine-stt {self._link.remote}"
        )

    async def _audio_start(self, start: AudioStart) -> None:
        if self._audio is None:
            return  # audio without a transcribe request: nothing to do with it
        self._check_format(start.rate, start.width, start.channels)
        self._converter = AudioChunkConverter(rate=STT_RATE, width=STT_WIDTH, channels=STT_CHANNELS)

    @staticmethod
    def _check_format(rate: object, width: object, channels: object) -> None:
        if not (
            isinstance(rate, int)
            and 8000 <= rate <= 96000
            and width in (1, 2, 4)
            and channels in (1, 2)
        ):
            raise MessageError(
                f"audio format rate={rate!r} width={width!r} channels={channels!r} is not "
                "supported (8-96 kHz, 1/2/4-byte samples, mono or stereo)"
            )

    async def _audio_chunk(self, event: Event) -> None:
        audio = self._audio
        if audio is None:
            return
        chunk = AudioChunk.from_event(event)
        self._check_format(chunk.rate, chunk.width, chunk.channels)
        frame = chunk.width * chunk.channels
        if len(chunk.audio) % frame:
            raise MessageError("audio-chunk: the audio is not a whole number of samples")
        if self._converter is None:
            self._converter = AudioChunkConverter(
                rate=STT_RATE, width=STT_WIDTH, channels=STT_CHANNELS
            )
        pcm = self._converter.convert(chunk).audio
        if self._received + len(pcm) > MAX_UTTERANCE_SECONDS * STT_RATE * STT_WIDTH:
            # Not a command any more: finish with what was heard rather than keep decoding.
            self._end_audio()
            return
        self._received += len(pcm)
        audio.put_nowait(pcm)

    def _end_audio(self) -> None:
        """No more audio for this utterance: the decoder finishes with what it has."""
        audio, self._audio = self._audio, None
        if audio is not None:
            audio.put_nowait(None)

    async def _decode(self, utterance: Utterance, audio: asyncio.Queue[bytes | None]) -> None:
        """Decode the audio as it comes (see recognise); answer with the transcript."""
        from .stt.errors import SttError

        async def chunks() -> AsyncIterator[bytes]:
            while (pcm := await audio.get()) is not None:
                yield pcm

        try:
            result = await recognise(utterance, chunks(), on_partial=self._send_partial)
        except SttError as err:
            self._forget(audio)
            await self._error(f"speech-to-text failed: {err}", ERROR_STT_FAILED)
        else:
            # Whatever the client still sends of this utterance is not decoded.
            self._forget(audio)
            await self._send_transcript(result)
        finally:
            await utterance.close()

    def _forget(self, audio: asyncio.Queue[bytes | None]) -> None:
        if self._audio is audio:
            self._audio = None

    async def _send_partial(self, found: PartialLike, over: bool) -> None:
        """Say how the hypothesis changed; once the command is over it cannot go on, and
        the client stops sending (CommandEnd says why this is safe)."""
        partial = PartialTranscript(found.text, found.complete, found.can_continue and not over)
        if partial != self._last_partial and (partial.text or self._last_partial):
            self._last_partial = partial
            await self._link.write_event(partial.event())

    async def _send_transcript(self, result: Result) -> None:
        await self._link.write_event(
            transcript_event(
                result.text or "", accepted=result.accepted, confidence=result.confidence
            )
        )


# --- running an engine from its configuration ----------------------------------------------


@dataclass(frozen=True, slots=True)
class RunningEngine:
    """An engine that is serving: where, as whom, and with what."""

    port: int
    identity: PeerIdentity
    server: EngineServer


async def _start_stt(config: EngineConfig) -> RecognizerService | None:
    if not config.stt.enabled:
        return None
    kind = config.stt.recognizer
    whisper_model = None
    try:
        if kind != "grammar":
            from .stt.whisper import check_model_dir

            whisper_model = check_model_dir(config.whisper_model_dir)
        return await RecognizerService.create(
            language=config.stt.language,
            cmn_file=config.state_dir / "stt.cmn",
            recognizer_kind=kind,
            whisper_model=whisper_model,
        )
    except ImportError as err:
        _LOGGER.warning("Speech-to-text is off: its packages are not installed (%s)", err)
    except Exception as err:  # the recogniser's own errors and pocketsphinx's
        _LOGGER.warning("Speech-to-text is off: %s", err)
    return None


def read_key(config: EngineConfig) -> LinkKey:
    """Read the engine's link key, with an error naming link.key_file when it cannot."""
    try:
        return read_key_file(config.key_file, keygen="sotto-engine keygen")
    except KeyFileError as err:
        raise EngineConfigError(f"link.key_file: {err}") from None


@contextlib.asynccontextmanager
async def running_engine(
    config: EngineConfig,
    *,
    key: LinkKey | None = None,
    link_settings: LinkSettings = DEFAULT_SETTINGS,
    peer_log: PeerLog | None = None,
) -> AsyncIterator[RunningEngine]:
    """Start everything the configuration asks for; stop it all on leaving the block."""
    link_key = key or read_key(config)
    identity = PeerIdentity(device_id=resolve_device_id(config), name=config.name, role=ROLE_ENGINE)
    tts_settings = TtsSettings(
        voices_dir=config.voices_dir,
        default_voice=config.tts.default_voice,
        espeak_voice=config.tts.espeak_voice,
        voices_url=config.tts.voices_url,
    )
    async with TextToSpeech(tts_settings) as tts, contextlib.AsyncExitStack() as stack:
        if config.tts.preload:
            try:
                await tts.load_voice()
            except TtsError as err:
                _LOGGER.warning("Default voice not preloaded: %s", err)
        stt = await _start_stt(config)
        if stt is not None:
            stack.push_async_callback(stt.close)
        server = EngineServer(tts=tts, stt=stt)
        link_server = LinkServer(
            server.handle,
            key=link_key,
            identity=identity,
            settings=link_settings,
            peer_log=peer_log,
        )
        port = await stack.enter_async_context(
            link_server.serving(config.link.host, config.link.port)
        )
        _LOGGER.info(
            "Engine %s (%s) listening on %s:%d; voices: %s; speech-to-text: %s",
            identity.name,
            identity.device_id,
            config.link.host,
            port,
            ", ".join(voice.name for voice in tts.voices()) or "none",
            "on" if stt is not None else "off",
        )
        if config.discovery.enabled:
            try:
                await stack.enter_async_context(
                    announced(identity, port=port, address=config.discovery.address)
                )
            except ImportError as err:
                raise EngineConfigError(
                    "discovery.enabled: announcing needs the Python package 'zeroconf': "
                    "pip install 'sotto-voice[engine]'"
                ) from err
        yield RunningEngine(port=port, identity=identity, server=server)
