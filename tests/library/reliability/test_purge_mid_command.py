"""A purge that arrives while a command is streaming (the soak bench found this) must not
make the satellite lose track of the command: audio stops at the end of speech as usual,
not five seconds later at the no-speech timeout."""

from __future__ import annotations

from pathlib import Path

from demo.speech import silence, speak
from sotto_voice.messages import Purge, Purged, PushToTalk, StopReason
from sotto_voice.satellite.audio import BYTES_PER_SECOND, CHUNK_BYTES
from tests.library.satellite.harness import controller, make_config, running_satellite, voiced_span

COMMAND = "turn on the kitchen light"


async def test_purge_during_a_command_keeps_its_end_of_speech(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    speech = speak(COMMAND)
    _, voiced_end = voiced_span(speech)
    async with running_satellite(config) as sat, controller(sat) as ha:
        await ha.settled()
        mark = len(ha.events)
        await ha.send(PushToTalk().event())
        await ha.settled()
        # The command is spoken; its silence window has begun but not run out...
        await sat.feed(silence(0.1) + speech[:voiced_end] + silence(0.1))
        assert sat.satellite.streaming
        await ha.send(Purge().event())  # ...when the user purges the history.
        await ha.wait_for(lambda e: Purged.is_type(e.type), after=mark)
        await sat.feed(silence(6.0))
        stop = await ha.stream_stop(after=mark)
        await ha.settled()

    assert stop.reason == StopReason.END_OF_SPEECH
    sent = ha.audio()
    tail = speech[voiced_end - 2 * CHUNK_BYTES : voiced_end]
    assert tail in sent
    command_end = sent.index(tail) + len(tail)
    # What left the room ends within the silence window after the command's last word.
    slack = (config.vad.silence_seconds + 0.064) * BYTES_PER_SECOND + 2 * CHUNK_BYTES
    assert len(sent) - command_end <= slack
