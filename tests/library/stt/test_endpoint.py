"""When a streamed command is over: a whole sentence, then a short silence."""

from __future__ import annotations

from dataclasses import dataclass

from demo.speech import silence, speak
from sotto_voice.engine.stt.endpoint import (
    CLOSED_QUIET_SECONDS,
    EXTENDABLE_QUIET_SECONDS,
    CommandEnd,
)

CHUNK = 640  # 20 ms, as a satellite sends


@dataclass(frozen=True)
class Hyp:
    text: str
    complete: bool
    can_continue: bool


WHOLE_BUT_EXTENDABLE = Hyp("turn on the kitchen lights", complete=True, can_continue=True)


def _seconds_until_over(end: CommandEnd, audio: bytes, hyp: Hyp) -> float | None:
    for start in range(0, len(audio), CHUNK):
        end.hear(audio[start : start + CHUNK])
        if end.over(hyp):
            return (start + CHUNK) / 32000
    return None


def _spoken(text: str) -> bytes:
    """espeak-ng's speech without the silence it adds at the end."""
    audio = speak(text)
    samples = memoryview(audio).cast("h")
    last = max(i for i, value in enumerate(samples) if abs(value) > 300)
    return audio[: (last + 1) * 2]


def test_an_extendable_sentence_outlasts_a_pause_inside_a_sentence() -> None:
    speech = _spoken("turn on the kitchen lights")
    end = CommandEnd()
    # Throughout the speech itself (pauses between words too) it never counts as over,
    # nor during a pause as long as a comma's in natural speech (up to 0.5 s)...
    assert _seconds_until_over(end, speech + silence(0.5), WHOLE_BUT_EXTENDABLE) is None
    # ...and a longer silence, as the satellite's own end of speech would, ends it.
    assert _seconds_until_over(end, silence(1.0), WHOLE_BUT_EXTENDABLE) is not None
    assert end.trailing_quiet >= EXTENDABLE_QUIET_SECONDS


def test_quiet_is_relative_to_the_speech_so_room_noise_counts_as_silence() -> None:
    speech = _spoken("turn on the kitchen lights")
    hiss = bytes(  # a steady floor about 40 dB under espeak-ng's speech
        b for _ in range(16000) for b in (60).to_bytes(2, "little", signed=True)
    )
    end = CommandEnd()
    assert _seconds_until_over(end, speech, WHOLE_BUT_EXTENDABLE) is None
    assert _seconds_until_over(end, hiss, WHOLE_BUT_EXTENDABLE) is not None


def test_an_incomplete_sentence_never_ends_and_a_closed_one_ends_when_the_voice_stops() -> None:
    speech = _spoken("turn on the")
    end = CommandEnd()
    unfinished = Hyp("turn on the", complete=False, can_continue=True)
    assert _seconds_until_over(end, speech + silence(1.0), unfinished) is None
    # "in the room" can be the hypothesis while "bedroom" is still being said: a sentence
    # nothing can extend still waits until the voice has stopped, but only just.
    closed = Hyp("turn off the lights in the room", complete=True, can_continue=False)
    spoken = _spoken("turn off the lights in the bedroom")
    assert _seconds_until_over(CommandEnd(), spoken, closed) is None
    over = _seconds_until_over(CommandEnd(), spoken + silence(0.5), closed)
    assert over is not None
    assert 0 < over - len(spoken) / 32000 <= CLOSED_QUIET_SECONDS + 0.02


def test_odd_sized_chunks_are_accounted_for() -> None:
    end = CommandEnd()
    audio = speak("lights") + silence(0.5)
    for start in range(0, len(audio), 333):  # not a whole number of samples or frames
        end.hear(audio[start : start + 333])
    assert end.trailing_quiet >= 0.4


def test_a_sentence_ending_in_a_number_is_left_to_the_satellite() -> None:
    """'to four' may become 'to forty': a number at the end is never cut short by quiet."""
    end = CommandEnd()
    audio = _spoken("set the lights in the kitchen to four") + silence(1.0)
    for can_continue in (True, False):  # whatever the grammar says of what may follow
        growing = Hyp("set the lights in the kitchen to four", True, can_continue)
        assert _seconds_until_over(end, audio, growing) is None
    done = Hyp("set the lights in the kitchen to forty percent", True, can_continue=False)
    assert end.over(done)
