"""The grammar recogniser ends the command; Whisper says what it was.

pocketsphinx decodes as the audio arrives and knows when a sentence is whole, so a command
can end a fraction of a second after the voice stops instead of after the satellite's
end-of-speech silence; but it rejects or mishears voices unlike the ones it was tuned on,
and it accepts some overheard remarks with a high margin. Whisper snapped to the grammar
(whisper.py) hears far more voices and rejects those remarks, but has no partial
hypothesis. Here both see the same audio: the grammar recogniser's partials and settling
end the stream, and Whisper decides on the audio heard until then.

A result of the grammar recogniser is taken without Whisper only at or above
`fast_threshold`. On the tune set (bench/corpus/asr-tune, 60 commands, 75 other
sentences) no threshold helped: from -3.9 to +3 the fast path added 2 to 11 false
accepts ("the porch light is broken again" at a margin of +1.5) and no correct command
Whisper missed; so by default it never decides alone.

Ending early costs words: end to end (bench/commands.py on bench/corpus/commands) the
cascade was 54/60 right against Whisper alone's 58/60 ("to forty percent" ended as "to
four"), for p50 1184 ms instead of 1431 ms from end of speech to action. Whisper alone is
the engine's default.
"""

from __future__ import annotations

import math
from typing import Final

from .model import Grammar, Partial, Result
from .recognizer import RecognitionSession, Recognizer
from .whisper import WhisperRecognizer, WhisperSession

# Margin of the grammar path over the phone loop (per frame) above which the grammar
# recogniser's own result is taken without asking Whisper: never (see the docstring).
DEFAULT_FAST_THRESHOLD: Final = math.inf


class CascadeRecognizer:
    """Both recognisers, one grammar; the same calls as Recognizer."""

    def __init__(
        self,
        grammar: Recognizer,
        whisper: WhisperRecognizer,
        *,
        fast_threshold: float = DEFAULT_FAST_THRESHOLD,
    ) -> None:
        """Take two loaded recognisers; results at or above fast_threshold skip Whisper."""
        self._grammar = grammar
        self._whisper = whisper
        self.fast_threshold = fast_threshold

    @property
    def cmn(self) -> str | None:
        """What the grammar recogniser learned of the microphones (see Recognizer.cmn)."""
        return self._grammar.cmn

    @property
    def digest(self) -> str | None:
        """Digest of the grammar sessions use now, None before one is loaded."""
        return self._grammar.digest

    def load(self, grammar: Grammar) -> str:
        """Make this grammar current in both recognisers."""
        self._whisper.load(grammar)
        return self._grammar.load(grammar)

    def session(self) -> CascadeSession:
        """Start recognising one utterance in both."""
        whisper = self._whisper.session()
        return CascadeSession(self, self._grammar.session(), whisper)

    def transcribe(self, pcm: bytes) -> Result:
        """Recognise one complete utterance (16 kHz mono s16le)."""
        with self.session() as session:
            session.feed(pcm)
            return session.finish()


class CascadeSession:
    """One utterance in both recognisers; Whisper decodes only when it is asked to."""

    def __init__(
        self, owner: CascadeRecognizer, grammar: RecognitionSession, whisper: WhisperSession
    ) -> None:
        self._owner = owner
        self._grammar = grammar
        self._whisper = whisper

    def __enter__(self) -> CascadeSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def feed(self, pcm: bytes) -> None:
        """Decode a chunk in the grammar recogniser and keep it for Whisper."""
        self._whisper.feed(pcm)
        self._grammar.feed(pcm)

    def partial(self) -> Partial:
        """The grammar recogniser's hypothesis so far."""
        return self._grammar.partial()

    def settle(self, expected: str) -> Result | None:
        """End now if the grammar recogniser's final words are `expected` (see
        RecognitionSession.settle); Whisper decides unless that result is a sure one."""
        result = self._grammar.settle(expected)
        return None if result is None else self._decide(result)

    def finish(self) -> Result:
        """The grammar recogniser's result if it is sure of it, else Whisper's."""
        return self._decide(self._grammar.finish())

    def _decide(self, result: Result) -> Result:
        if result.accepted and result.confidence >= self._owner.fast_threshold:
            self._whisper.close()
            return result
        return self._whisper.finish()

    def close(self) -> None:
        """Abandon the utterance in both."""
        self._grammar.close()
        self._whisper.close()
