""" "Stop", on a satellite that recognises on the device: said while a timer rings or a reply
plays, it stops it, as the wake word does.

No wake word engine here has a "stop" model, so the word is heard the way commands are:
the VAD finds each short utterance while something sounds, and the device's recogniser
decodes it against a grammar of the one word. Nothing is sent; the audio is dropped once
decoded. A satellite that streams its commands has no recogniser: the wake word alone
stops it.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Final

from sotto_voice.engine.stt.model import Grammar
from sotto_voice.messages import SilencedBy

from .audio import BYTES_PER_SECOND
from .config import VadConfig
from .recognition import OnDeviceRecognizer
from .vad import EndOfSpeech, SpeechProbability, Verdict

if TYPE_CHECKING:
    from .core import Satellite

_LOGGER = logging.getLogger(__name__)

STOP_WORD: Final = "stop"
STOP_GRAMMAR: Final = Grammar(
    jsgf=f"#JSGF V1.0;\ngrammar stop;\npublic <stop> = {STOP_WORD};\n", words=(STOP_WORD,)
)
MAX_STOP_SECONDS: Final = 2.0
"""The audio kept before an utterance ends: "stop" and a breath around it, no more."""
LEAD_SECONDS: Final = 0.5
"""Decoded from this long before the VAD said speech began. Whisper hears a short word in
a longer silence unreliably: with the kept audio alone, where the word fell in it (how
the microphone's chunks met the speech) made it hear nothing at some offsets."""


class StopWord:
    """Listens for "stop" while the satellite sounds, with the device's own recogniser."""

    def __init__(
        self,
        satellite: Satellite,
        recognizer: OnDeviceRecognizer,
        speech: SpeechProbability,
        vad: VadConfig,
    ) -> None:
        self._satellite = satellite
        self._recognizer = recognizer
        # Shares the VAD model with the command stream: the two never hear at one time
        # (this one only while no command runs), and each resets it when it starts.
        self._eos = EndOfSpeech(vad, speech)
        self._heard: deque[bytes] = deque()
        self._held = 0
        self._next: int | None = None
        self._speaking_at: int | None = None
        """Where the VAD said speech began, in the utterance being heard."""
        self._decoding = False
        self._waiting: bytes | None = None
        """An utterance to decode next."""

    def hear(self, chunk: bytes, position: int) -> None:
        """Feed a chunk captured at `position` while something sounds."""
        if position != self._next:
            self._restart()  # a gap: this is a new stretch of sounding
        self._next = position + len(chunk)
        self._heard.append(chunk)
        self._held += len(chunk)
        while self._held - len(self._heard[0]) >= MAX_STOP_SECONDS * BYTES_PER_SECOND:
            self._held -= len(self._heard.popleft())
        verdict = self._eos.process(chunk)
        if verdict is Verdict.SPEAKING and self._speaking_at is None:
            self._speaking_at = position
        if verdict is Verdict.END_OF_SPEECH:
            # One utterance waits while another is decoded (the newest: "stop" comes last).
            self._waiting = self._utterance(position + len(chunk))
            if not self._decoding:
                self._decoding = True
                self._satellite.spawn(self._decode(), "stop word")
        if verdict in (Verdict.END_OF_SPEECH, Verdict.NO_SPEECH):
            self._restart(keep=verdict is Verdict.NO_SPEECH)

    def _utterance(self, end: int) -> bytes:
        """The audio kept (it ends at position `end`), from LEAD_SECONDS before the speech
        began."""
        audio = b"".join(self._heard)
        began = end - len(audio) if self._speaking_at is None else self._speaking_at
        start = len(audio) - (end - began) - int(LEAD_SECONDS * BYTES_PER_SECOND)
        return audio[max(0, start - start % 2) :]

    def _restart(self, *, keep: bool = False) -> None:
        self._eos.reset()
        self._speaking_at = None
        if not keep:
            self._heard.clear()
            self._held = 0

    async def _decode(self) -> None:
        recognizer = self._recognizer
        try:
            while (audio := self._waiting) is not None:
                self._waiting = None
                if not recognizer.has_grammar(STOP_GRAMMAR.digest):
                    await recognizer.keep(STOP_GRAMMAR)
                text = await recognizer.recognize(audio, STOP_GRAMMAR.digest)
                del audio  # dropped once decoded, as a command's audio is
                if text == STOP_WORD and self._satellite.sounding:
                    self._waiting = None
                    await self._satellite.silence(SilencedBy.VOICE, STOP_WORD)
        finally:
            self._decoding = False
