"""When a streamed command is over: a whole grammar sentence, then silence.

The satellite's own end-of-speech needs a third of a second of silence because it cannot
know whether the speaker has finished; HA's default window is 0.7 s. The grammar knows
more, but only when nothing can follow: a sentence nothing can extend ("turn off the
lights in the kitchen") ends the command as soon as the voice stops.

A sentence that could go on ("never mind" ... "that wasn't for you", "turn on the lights"
... "in the kitchen") tells nothing about whether the speaker is done: a pause after it
may be a comma's (0.2 to 0.5 s in natural speech; 0.18 to 0.22 s of quiet in espeak-ng's
commas). Only the length of the silence can tell, and that is what the satellite's own
end of speech measures, with the window its owner set. So the grammar never ends such a
sentence sooner than a pause inside a sentence lasts: EXTENDABLE_QUIET_SECONDS is longer
than those pauses and than the satellite's default window, which in practice ends the
stream first; the engine's wait only matters for streams no satellite ends.

The hypothesis alone is never enough either: a partial can be a whole sentence while the
last word is still being said ("in the room" before "bedroom" ends). And before stopping,
the recogniser is asked whether its final words agree with the partial: the search
settles differently at the end, and a partial that does not survive that is never
trusted again.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from typing import Final, Protocol, TypeVar

from sotto_voice.audio import VOICE_FORMAT

from .text import NUMBER_WORDS

# Silence after a complete sentence the grammar can extend that ends the command: longer
# than a pause inside a sentence (up to 0.5 s) and than the satellite's 0.55 s default.
# Ending at 0.15 s cut "never mind, that wasn't for you" at its comma.
EXTENDABLE_QUIET_SECONDS: Final = 0.6
# Silence after a sentence nothing can extend. The longest quiet inside a spoken corpus
# sentence is 0.04 s at the median (a stop consonant), 0.1 s at p90; a sentence must also
# be whole and closed at that instant to end there, so a short wait catches most of them
# for 60 ms of latency.
CLOSED_QUIET_SECONDS: Final = 0.06
# A 20 ms frame is quiet below this fraction of the loudest frame so far (-26 dB); not an
# absolute level: microphones and rooms differ far more than speech peaks do.
QUIET_FRACTION: Final = 0.05
_FRAME_SAMPLES: Final = 320
_RATE: Final = VOICE_FORMAT.rate

_R_co = TypeVar("_R_co", covariant=True)


class PartialLike(Protocol):
    """A partial hypothesis, from the recogniser or from the link."""

    @property
    def text(self) -> str: ...
    @property
    def complete(self) -> bool: ...
    @property
    def can_continue(self) -> bool: ...


class Settles(Protocol[_R_co]):
    """A recognition session that can end now, but only on the words it was told."""

    async def settle(self, expected: str) -> _R_co | None: ...


@dataclass(slots=True)
class Quiet:
    """Which 20 ms frames of an utterance are quiet: below QUIET_FRACTION of its loudest
    frame so far. Fed the same audio, it always draws the same line."""

    _loudest: float = 0.0
    _quiet_frames: int = 0
    _odd: bytes = field(default=b"", repr=False)

    def hear(self, pcm: bytes) -> None:
        """Account for a chunk of 16 kHz mono s16le audio."""
        data = self._odd + pcm
        whole = len(data) - len(data) % (_FRAME_SAMPLES * 2)
        self._odd = data[whole:]
        samples = array("h")
        samples.frombytes(data[:whole])
        for start in range(0, len(samples), _FRAME_SAMPLES):
            frame = samples[start : start + _FRAME_SAMPLES]
            level = math.sqrt(sum(value * value for value in frame) / _FRAME_SAMPLES)
            self._loudest = max(self._loudest, level)
            if level < self._loudest * QUIET_FRACTION:
                self._quiet_frames += 1
            else:
                self._quiet_frames = 0

    @property
    def trailing_quiet(self) -> float:
        """Seconds of quiet at the end of the audio heard so far."""
        return self._quiet_frames * _FRAME_SAMPLES / _RATE


@dataclass(slots=True)
class CommandEnd:
    """Follows one utterance's audio and partial hypotheses; says when the command is over."""

    quiet_seconds: float = EXTENDABLE_QUIET_SECONDS
    _quiet: Quiet = field(default_factory=Quiet, repr=False)
    _doubted: set[str] = field(default_factory=set, repr=False)

    def hear(self, pcm: bytes) -> None:
        """Account for a chunk of 16 kHz mono s16le audio."""
        self._quiet.hear(pcm)

    @property
    def trailing_quiet(self) -> float:
        """Seconds of quiet at the end of the audio heard so far."""
        return self._quiet.trailing_quiet

    def over(self, partial: PartialLike) -> bool:
        """Whether to stop, given the hypothesis after the audio heard so far."""
        if not partial.complete or partial.text in self._doubted:
            return False
        words = partial.text.split()
        if words and words[-1] in NUMBER_WORDS:
            # It may still be growing ("four" -> "forty", "four percent") and a number's
            # quiet consonants pass for silence: leave it to the satellite's end of speech
            # ("to forty percent" ended as "to four" for 3 of 4 voices in the bench).
            return False
        if not partial.can_continue:
            # Nothing can follow, but the last word may still be being said ("in the
            # room" while "bedroom" ends): wait until the speaker has stopped at all.
            return self.trailing_quiet >= CLOSED_QUIET_SECONDS
        return self.trailing_quiet >= self.quiet_seconds

    async def settled(self, session: Settles[_R_co], partial: PartialLike) -> _R_co | None:
        """The final result if the command is over after this partial; else None, go on.

        When the recogniser's final words disagree with the partial, it keeps decoding
        (the partial was a passing guess, such as "purple" for "forty p-") and these
        words alone will not end the command again.
        """
        if not self.over(partial):
            return None
        result = await session.settle(partial.text)
        if result is None:
            self._doubted.add(partial.text)
        return result
