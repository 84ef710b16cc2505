"""Text-to-speech: pick a voice, stream its audio sentence by sentence."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Final, Literal

from .audio import SpeechAudio, SpeechChunk
from .download import DEFAULT_VOICES_URL, download_voice
from .errors import SynthesisError, TtsError, VoiceNotFoundError
from .espeak import (
    DEFAULT_ESPEAK_VOICE,
    ESPEAK_VOICE_PREFIX,
    espeak_executable,
    espeak_language,
    espeak_stream,
)
from .piper_voice import PiperSynthesizer, piper_available
from .voices import InstalledVoice, scan_voices

_LOGGER = logging.getLogger(__name__)

MAX_TEXT_CHARS: Final = 10_000
VoiceEngine = Literal["piper", "espeak-ng"]


@dataclass(frozen=True, slots=True)
class TtsSettings:
    """Where voices live and which one speaks by default."""

    voices_dir: Path
    default_voice: str | None = None
    espeak_voice: str = DEFAULT_ESPEAK_VOICE
    voices_url: str = DEFAULT_VOICES_URL


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    """A voice this engine can speak with."""

    name: str
    engine: VoiceEngine
    languages: tuple[str, ...]
    speakers: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class _Choice:
    name: str
    piper: InstalledVoice | None = None
    espeak_voice: str = DEFAULT_ESPEAK_VOICE


def _same_language(wanted: str, have: str) -> bool:
    wanted_norm = espeak_language(wanted)
    have_norm = espeak_language(have)
    return have_norm == wanted_norm or have_norm.split("-")[0] == wanted_norm


@dataclass(slots=True)
class TextToSpeech:
    """The engine's voices: installed piper voices, and espeak-ng as the fallback.

    Use as `async with TextToSpeech(settings) as tts:`; synthesis runs in one worker
    thread, closed on exit.
    """

    settings: TtsSettings
    _voices: tuple[InstalledVoice, ...] = ()
    _loaded: dict[str, PiperSynthesizer] = field(default_factory=dict)
    _executor: ThreadPoolExecutor | None = None
    _piper_ok: bool = True

    async def __aenter__(self) -> TextToSpeech:
        """Start the synthesis thread and find the installed voices."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sotto-tts")
        self._piper_ok = piper_available()
        await self.refresh()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the synthesis thread (waiting for the sentence in progress)."""
        executor, self._executor = self._executor, None
        self._loaded.clear()
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True)

    def _require_executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            raise TtsError("TextToSpeech is not started: use `async with TextToSpeech(...)`")
        return self._executor

    async def refresh(self) -> None:
        """Rescan the voices directory (after a download or a manual copy)."""
        voices = await asyncio.to_thread(scan_voices, self.settings.voices_dir)
        if voices and not self._piper_ok:
            _LOGGER.warning(
                "piper-tts is not installed, so the %d piper voice(s) in %s cannot speak; "
                "using espeak-ng",
                len(voices),
                self.settings.voices_dir,
            )
            voices = ()
        self._voices = voices
        names = {voice.name for voice in voices}
        for stale in set(self._loaded) - names:
            del self._loaded[stale]

    @property
    def piper_voices(self) -> tuple[InstalledVoice, ...]:
        """Installed piper voices that can speak here."""
        return self._voices

    @property
    def espeak_available(self) -> bool:
        """Whether the espeak-ng fallback is installed."""
        return espeak_executable() is not None

    def voices(self) -> tuple[VoiceInfo, ...]:
        """Every voice a client may ask for, the default first."""
        infos = [
            VoiceInfo(
                name=voice.name,
                engine="piper",
                languages=(voice.language,),
                speakers=voice.speakers,
                description=f"Piper voice {voice.name}",
            )
            for voice in self._voices
        ]
        if self.espeak_available:
            infos.append(
                VoiceInfo(
                    name=f"{ESPEAK_VOICE_PREFIX}:{self.settings.espeak_voice}",
                    engine="espeak-ng",
                    languages=(self.settings.espeak_voice,),
                    description="espeak-ng (fallback voice)",
                )
            )
        default = self._choose(None, None).name
        infos.sort(key=lambda info: info.name != default)
        return tuple(infos)

    @property
    def default_voice(self) -> str:
        """Name of the voice used when a request names none."""
        return self._choose(None, None).name

    def _espeak_choice(self, voice: str) -> _Choice:
        return _Choice(name=f"{ESPEAK_VOICE_PREFIX}:{voice}", espeak_voice=voice)

    def _choose(self, voice: str | None, language: str | None) -> _Choice:
        if voice:
            return self._named(voice)
        if language:
            for piper in self._voices:
                if _same_language(language, piper.language):
                    return _Choice(name=piper.name, piper=piper)
            return self._espeak_choice(espeak_language(language))
        default = self.settings.default_voice
        if default and (
            default.startswith(ESPEAK_VOICE_PREFIX)
            or any(piper.name == default for piper in self._voices)
        ):
            return self._named(default)
        if self._voices:
            return _Choice(name=self._voices[0].name, piper=self._voices[0])
        return self._espeak_choice(self.settings.espeak_voice)

    def _named(self, voice: str) -> _Choice:
        """The voice of this name: a piper voice, `espeak` or `espeak:<voice>`."""
        by_name = {piper.name: piper for piper in self._voices}
        if voice in by_name:
            return _Choice(name=voice, piper=by_name[voice])
        if voice == ESPEAK_VOICE_PREFIX:
            return self._espeak_choice(self.settings.espeak_voice)
        if voice.startswith(ESPEAK_VOICE_PREFIX + ":"):
            return self._espeak_choice(voice.removeprefix(ESPEAK_VOICE_PREFIX + ":"))
        names = ", ".join(sorted(by_name)) or "none"
        raise VoiceNotFoundError(
            f"voice {voice!r} is not installed in {self.settings.voices_dir} "
            f"(piper voices installed: {names}; "
            f"download it with `sotto-engine download {voice}`)"
        )

    async def load_voice(self, name: str | None = None) -> PiperSynthesizer | None:
        """Load a piper voice now (the default one if no name) so the first reply is quick.

        Returns None when the voice is espeak-ng, which needs no loading.
        """
        choice = self._choose(name, None)
        return None if choice.piper is None else await self._piper(choice.piper)

    async def _piper(self, voice: InstalledVoice) -> PiperSynthesizer:
        loaded = self._loaded.get(voice.name)
        if loaded is None:
            loop = asyncio.get_running_loop()
            loaded = await loop.run_in_executor(
                self._require_executor(), PiperSynthesizer.load, voice
            )
            self._loaded[voice.name] = loaded
        return loaded

    async def stream(
        self,
        text: str,
        *,
        voice: str | None = None,
        language: str | None = None,
        speaker: str | None = None,
    ) -> AsyncGenerator[SpeechChunk, None]:
        """Yield speech for text, one sentence at a time, as soon as each is ready."""
        text = text.strip()
        if not text:
            raise SynthesisError("nothing to say: the text is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise SynthesisError(
                f"text is too long to speak: {len(text)} characters (limit {MAX_TEXT_CHARS})"
            )
        choice = self._choose(voice, language)
        if choice.piper is None:
            chunks = espeak_stream(text, voice=choice.espeak_voice)
        else:
            chunks = self._stream_piper(await self._piper(choice.piper), text, speaker)
        # aclosing: when our caller stops early, the inner stream (and its espeak-ng
        # process or queued sentence) is closed now, not whenever it is collected.
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                yield chunk

    async def _stream_piper(
        self, synthesizer: PiperSynthesizer, text: str, speaker: str | None
    ) -> AsyncGenerator[SpeechChunk, None]:
        executor = self._require_executor()
        loop = asyncio.get_running_loop()
        sentences = synthesizer.sentences(text, speaker=speaker)
        # One sentence of read-ahead: the next sentence is synthesised while the
        # caller sends this one, and the single worker thread keeps the generator
        # from ever being advanced twice at once.
        pending = loop.run_in_executor(executor, _next_sentence, sentences)
        try:
            while (chunk := await pending) is not None:
                pending = loop.run_in_executor(executor, _next_sentence, sentences)
                yield chunk
        finally:
            # Queued behind any sentence still in progress on the same worker.
            with contextlib.suppress(RuntimeError):  # the executor is already shut down
                executor.submit(sentences.close)

    async def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        language: str | None = None,
        speaker: str | None = None,
    ) -> SpeechAudio:
        """Synthesise the whole text and return it as one piece of audio."""
        name = self._choose(voice, language).name
        parts: list[bytes] = []
        fmt = None
        async for chunk in self.stream(text, voice=voice, language=language, speaker=speaker):
            fmt = chunk.format
            parts.append(chunk.audio)
        if fmt is None:
            raise SynthesisError(f"voice {name} produced no audio for {text!r}")
        return SpeechAudio(audio=b"".join(parts), format=fmt, voice=name)

    def describe_choice(self, voice: str | None, language: str | None) -> str:
        """Name of the voice that a request with this voice and language would get."""
        return self._choose(voice, language).name

    async def download(self, name: str) -> InstalledVoice:
        """Download a piper voice by name into the voices directory and start using it."""
        installed = await download_voice(
            name, self.settings.voices_dir, base_url=self.settings.voices_url
        )
        await self.refresh()
        return installed


def _next_sentence(sentences: Generator[SpeechChunk, None, None]) -> SpeechChunk | None:
    return next(sentences, None)
