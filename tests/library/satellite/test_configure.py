"""What HA may change on the satellite: wake word, sensitivity, volume; and what it may not."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
from wyoming.audio import AudioChunk
from wyoming.error import Error
from wyoming.event import Event

from demo.speech import utterance
from sotto_voice.messages import (
    ERROR_UNKNOWN_WAKE_WORD,
    Configure,
    IndicatorState,
    RunEnded,
    StreamStart,
)
from sotto_voice.satellite.apa102 import frame

from .harness import controller, make_config, running_satellite


async def test_wake_word_chosen_in_home_assistant(tmp_path: Path) -> None:
    """HA switches the wake word: the old one no longer wakes, the new one does, and the
    choice survives a restart; an unknown one is refused by name."""
    config = make_config(tmp_path)
    async with running_satellite(config) as sat, controller(sat) as ha:
        await ha.state(lambda s: s.wake_word == "okay_nabu")
        await ha.send(Configure(wake_word="alexa", sensitivity=0.6).event())
        state = await ha.state(lambda s: s.wake_word == "alexa")
        assert state.sensitivity == 0.6

        await sat.feed(utterance(0.5, "okay nabu", 0.3, "turn on the light", 1.0))
        await ha.settled()
        assert sat.wakes == []

        await sat.feed(utterance(0.5, "alexa", 0.3, "turn on the light", 1.5))
        start = StreamStart.from_event(await ha.wait_for(StreamStart.is_stream_start))
        assert start.wake_word == "alexa"
        await ha.stream_stop()

        mark = len(ha.events)
        await ha.send(Configure(wake_word="hey_siri").event())
        refusal = Error.from_event(await ha.wait_for(lambda e: e.type == "error", after=mark))
        assert refusal.code == ERROR_UNKNOWN_WAKE_WORD
        assert "hey_siri" in refusal.text

    async with running_satellite(config) as sat, controller(sat) as ha:
        state = await ha.state(lambda s: True)
        assert (state.wake_word, state.sensitivity) == ("alexa", 0.6)


async def test_volume_applies_to_replies(tmp_path: Path) -> None:
    """At volume 0.5 the reply reaches the speaker at half amplitude."""
    reply = utterance(0.1, "the light is on", 0.1)
    async with running_satellite(make_config(tmp_path)) as sat, controller(sat) as ha:
        await ha.send(Configure(volume=0.5).event())
        await ha.state(lambda s: s.volume == 0.5)
        await ha.send(Event("audio-start", {"rate": 16000, "width": 2, "channels": 1}))
        await ha.send(AudioChunk(16000, 2, 1, reply).event())
        await ha.send(Event("audio-stop", {}))
        await ha.wait_for(lambda e: e.type == "played", timeout=20)
        del sat
    [played] = sorted((tmp_path / "played").glob("*.wav"))
    with wave.open(str(played), "rb") as wav:
        heard = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    sent = np.frombuffer(reply, dtype="<i2")
    assert len(heard) == len(sent)
    assert np.all(np.abs(heard.astype(float) - sent.astype(float) / 2) <= 1)
    assert np.max(np.abs(sent)) > 1000  # the check above is not trivially true


async def test_bad_message_from_home_assistant_is_answered(tmp_path: Path) -> None:
    """A malformed command gets an error naming the field; the satellite carries on."""
    async with running_satellite(make_config(tmp_path)) as sat, controller(sat) as ha:
        await ha.send(Event("sotto-set-mute", {"muted": "please"}))
        refusal = Error.from_event(await ha.wait_for(lambda e: e.type == "error"))
        assert "'muted' must be true or false" in refusal.text
        await ha.settled()
        assert not sat.satellite.muted


def test_apa102_frame() -> None:
    """The SPI bytes for APA102 LEDs: start frame, brightness+BGR per LED, end frame."""
    data = frame([(255, 0, 16), (1, 2, 3)], brightness=1.0)
    assert data[:4] == bytes(4)
    assert data[4:8] == bytes((0xFF, 16, 0, 255))
    assert data[8:12] == bytes((0xFF, 3, 2, 1))
    assert data[12:] == b"\xff" * 4
    assert frame([(9, 9, 9)], brightness=0.0)[4] == 0xE0


async def test_openwakeword_engine(tmp_path: Path) -> None:
    """The alternative engine (pyopen-wakeword) wakes on the same sentence."""
    pcm = utterance(0.5, "okay nabu", 0.3, "turn on the kitchen light", 1.5)
    config = make_config(tmp_path, wake={"engine": "openwakeword"})
    async with running_satellite(config) as sat, controller(sat) as ha:
        info = await ha.wait_for(lambda e: e.type == "sotto-info")
        assert info.data["wake_word_engine"] == "openwakeword"
        assert "hey_rhasspy" in info.data["wake_words"]
        await sat.feed(pcm)
        await ha.stream_stop()
    assert len(sat.wakes) == 1
    offset = pcm.find(ha.audio())
    assert offset >= 32000 * 1.3  # after "okay nabu"


async def test_error_from_home_assistant_shows_briefly(tmp_path: Path) -> None:
    """HA reports a failed run: the light shows the error, then goes back to idle."""
    async with running_satellite(make_config(tmp_path)) as sat, controller(sat) as ha:
        await sat.recorder.wait_for(IndicatorState.IDLE)
        await ha.send(Error(text="speech-to-text failed", code="stt-failed").event())
        await sat.recorder.wait_for(IndicatorState.ERROR)
        await sat.recorder.wait_for(IndicatorState.IDLE)


async def test_two_wake_words_at_once(tmp_path: Path) -> None:
    """HA picks two wake words: either one wakes the satellite and its stream names the one
    heard; both survive a restart; the same word twice is refused by name."""
    config = make_config(tmp_path)
    async with running_satellite(config) as sat, controller(sat) as ha:
        await ha.send(Configure(wake_words=("okay_nabu", "alexa")).event())
        state = await ha.state(lambda s: s.wake_words == ("okay_nabu", "alexa"))
        assert state.wake_word == "okay_nabu"

        heard = []
        for phrase in ("alexa", "okay nabu"):
            mark = len(ha.events)
            while sat.satellite.speaker.playing:  # a chime: the wake word is deaf
                await asyncio.sleep(0.05)
            await sat.feed(utterance(0.5, phrase, 0.3, "turn on the light", 1.5))
            start = await ha.wait_for(StreamStart.is_stream_start, after=mark)
            heard.append(StreamStart.from_event(start).wake_word)
            await ha.stream_stop(after=mark)
            await ha.send(RunEnded().event())
            await ha.state(lambda s: s.indicator is IndicatorState.IDLE, after=mark)
        assert heard == ["alexa", "okay_nabu"]

        mark = len(ha.events)
        await ha.send(Configure(wake_words=("hey_jarvis", "hey_jarvis")).event())
        refusal = Error.from_event(await ha.wait_for(lambda e: e.type == "error", after=mark))
        assert refusal.code == ERROR_UNKNOWN_WAKE_WORD
        assert "different wake words" in refusal.text

    async with running_satellite(config) as sat, controller(sat) as ha:
        state = await ha.state(lambda s: True)
        assert state.wake_words == ("okay_nabu", "alexa")
        # Back to one: the second one no longer wakes it.
        await ha.send(Configure(wake_words=("okay_nabu",)).event())
        await ha.state(lambda s: s.wake_words == ("okay_nabu",))
        await sat.feed(utterance(0.5, "alexa", 0.3, "turn on the light", 1.0))
        await ha.settled()
        assert sat.wakes == []
