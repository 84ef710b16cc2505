"""Promise 1 and 3: audio leaves only after the wake word heard on the device, and a person
can see it leave. Real satellite, real link on 127.0.0.1, real pymicro-wakeword and Silero
VAD, espeak-ng speech."""

from __future__ import annotations

import asyncio
from pathlib import Path

from wyoming.audio import AudioChunk
from wyoming.event import Event

from demo.speech import heard_from, silence, speak, utterance
from sotto_voice.messages import (
    IndicatorState,
    MuteSource,
    PushToTalk,
    SetMute,
    SottoLedger,
    StopReason,
    StopStreaming,
    StreamStart,
    StreamStop,
    StreamTrigger,
)
from sotto_voice.satellite.audio import BYTES_PER_SECOND, CHUNK_BYTES

from .harness import controller, make_config, running_satellite, voiced_span

LEAD = 0.5
GAP = 0.3


def command_sentence() -> tuple[bytes, int, tuple[int, int]]:
    """Return the PCM of "okay nabu, turn on the kitchen light", where the wake word's voice
    ends, and the command's voiced span, in bytes."""
    wake = speak("okay nabu")
    pcm = utterance(LEAD, "okay nabu", GAP, "turn on the kitchen light", 1.5)
    wake_end = len(silence(LEAD)) + voiced_span(wake)[1]
    command_at = len(silence(LEAD)) + len(wake) + len(silence(GAP))
    first, last = voiced_span(speak("turn on the kitchen light"))
    return pcm, wake_end, (command_at + first, command_at + last)


async def test_wake_word_streams_only_the_command(tmp_path: Path) -> None:
    """The bytes that reach HA begin after the wake word and end at the end of speech."""
    pcm, wake_end, (command_start, command_end) = command_sentence()
    config = make_config(tmp_path)
    async with running_satellite(config) as sat, controller(sat) as ha:
        await ha.state(lambda s: not s.muted)
        await sat.feed(pcm)
        stop = await ha.stream_stop()
        await ha.settled()

    assert len(sat.wakes) == 1
    assert stop.reason == StopReason.END_OF_SPEECH
    [start] = ha.stream_starts()
    assert start.trigger == StreamTrigger.WAKE_WORD
    assert start.wake_word == "okay_nabu"
    assert [e.data["name"] for e in ha.of_type("detection")] == ["okay_nabu"]

    sent = ha.audio()
    offset = pcm.find(sent)
    assert offset >= 0, "what HA received is not one contiguous piece of the microphone audio"
    assert start.timestamp == offset * 1000 // BYTES_PER_SECOND
    # Nothing of the wake word, nothing from before it.
    assert offset >= wake_end
    # The whole command, and at most the silence window after it (plus the VAD window and
    # the rest of the chunk in which the end was decided).
    assert offset <= command_start
    assert offset + len(sent) >= command_end
    slack = (config.vad.silence_seconds + 0.032) * BYTES_PER_SECOND + CHUNK_BYTES
    assert offset + len(sent) <= command_end + slack
    assert stop.seconds == round(len(sent) / BYTES_PER_SECOND, 3)


async def test_listening_light_covers_every_byte_sent(tmp_path: Path) -> None:
    """The indicator shows "listening" before the first audio byte leaves and after the last."""
    pcm, _, _ = command_sentence()
    async with running_satellite(make_config(tmp_path)) as sat, controller(sat) as ha:
        await ha.state(lambda s: not s.muted)
        await sat.feed(pcm)
        await ha.stream_stop()
        await sat.recorder.wait_for(IndicatorState.THINKING)
        await ha.settled()

    [(entered, left)] = sat.recorder.windows(IndicatorState.LISTENING)
    sent_times = [at for _, _, at in sat.sent]
    received_times = ha.audio_times()
    assert sent_times
    assert len(received_times) == len(sent_times)
    assert entered < min(sent_times)
    assert max(sent_times) < left
    assert entered < min(received_times)
    # HA was told "streaming" before any audio and "not streaming" only after the last.
    states = [(e, at) for e, at in ha.events if e.type == "sotto-state"]
    on = next(at for e, at in states if e.data["streaming"])
    off = next(at for e, at in states if at > on and not e.data["streaming"])
    assert on <= min(received_times)
    assert off >= max(received_times)


async def test_speech_without_wake_word_sends_nothing(tmp_path: Path) -> None:
    """Talking in the room without the wake word: zero audio bytes leave."""
    chatter = utterance(
        0.3,
        "turn on the kitchen light",
        0.5,
        "what is the weather like today",
        0.5,
        "okay, now put the kettle on",
        1.0,
    )
    async with running_satellite(make_config(tmp_path)) as sat, controller(sat) as ha:
        await ha.state(lambda s: not s.muted)
        await sat.feed(chatter)
        await ha.settled()

    assert sat.wakes == []
    assert ha.audio() == b""
    assert ha.of_type("audio-start") == []
    assert sat.sent == []


async def test_muted_satellite_sends_nothing_and_closes_the_microphone(tmp_path: Path) -> None:
    """The full sentence while muted: zero bytes leave, the microphone is closed, HA is told."""
    pcm, _, _ = command_sentence()
    async with running_satellite(make_config(tmp_path)) as sat, controller(sat) as ha:
        await ha.state(lambda s: not s.muted)
        mark = len(ha.events)
        await ha.send(SetMute(muted=True).event())
        state = await ha.state(lambda s: s.muted, after=mark)
        assert state.mute_source == MuteSource.HA
        assert state.indicator == IndicatorState.MUTED
        assert not sat.push.is_open
        sat.push.push(pcm)  # the room talks; a closed microphone hears nothing
        await ha.settled()
        assert ha.audio() == b""
        assert sat.wakes == []

        # Unmuted, the same sentence wakes it: the mute, not the audio, kept it quiet.
        mark = len(ha.events)
        await ha.send(SetMute(muted=False).event())
        await ha.state(lambda s: not s.muted, after=mark)
        await sat.feed(pcm)
        await ha.stream_stop()
        assert len(sat.wakes) == 1
        assert ha.audio()


async def test_push_to_talk_and_stop_from_home_assistant(tmp_path: Path) -> None:
    """HA starts a stream without a wake word and ends it when the command is complete."""
    speech = utterance(0.2, "turn on the kitchen light and the lights in the hall")
    half = len(speech) // 2 // CHUNK_BYTES * CHUNK_BYTES
    async with running_satellite(make_config(tmp_path)) as sat, controller(sat) as ha:
        await ha.state(lambda s: not s.muted)
        await ha.send(PushToTalk().event())
        await ha.settled()  # the request is in before any audio
        await sat.feed(speech[:half])  # mid-sentence: the satellite keeps going
        start_event = await ha.wait_for(StreamStart.is_stream_start)
        start = StreamStart.from_event(start_event)
        assert start.trigger == StreamTrigger.PUSH_TO_TALK
        await ha.send(StopStreaming(stream_id=start.stream_id).event())
        stop = await ha.stream_stop()
        assert stop.reason == StopReason.HA_COMPLETE
        await sat.feed(speech[half:])
        await ha.settled()

    kinds = [event.type for event, _ in ha.events]
    stop_index = kinds.index("audio-stop")
    assert "audio-chunk" not in kinds[stop_index:]
    received = ha.audio()
    assert received
    # From the first chunk after the request to HA's word (the feed's sync chunk is silence).
    assert received == speech[:half] + bytes(CHUNK_BYTES)
    ledger = SottoLedger.from_event(ha.of_type("sotto-ledger")[-1])
    assert (ledger.push_to_talk, ledger.streams, ledger.wakes) == (1, 1, 0)


async def test_ledger_counts_what_was_sent(tmp_path: Path) -> None:
    """The privacy ledger reports the wake, the stream and its seconds, and survives restart."""
    pcm, _, _ = command_sentence()
    config = make_config(tmp_path)
    async with running_satellite(config) as sat, controller(sat) as ha:
        await ha.state(lambda s: not s.muted)
        await sat.feed(pcm)
        stop = await ha.stream_stop()
        ledger_event = await ha.wait_for(lambda e: e.type == "sotto-ledger" and e.data["streams"])
    ledger = SottoLedger.from_event(ledger_event)
    assert (ledger.wakes, ledger.streams, ledger.push_to_talk) == (1, 1, 0)
    assert abs(ledger.seconds_sent - stop.seconds) < 0.01
    assert ledger.last_stream is not None
    assert ledger.days[-1].streams == 1

    async with running_satellite(config) as sat, controller(sat) as ha:
        event = await ha.wait_for(lambda e: e.type == "sotto-ledger")
        assert SottoLedger.from_event(event) == ledger
        await ha.send(Event("sotto-purge"))
        purged = await ha.wait_for(lambda e: e.type == "sotto-purged")
        assert "ledger" in purged.data["cleared"]
        event = await ha.wait_for(lambda e: e.type == "sotto-ledger" and e.data["wakes"] == 0)
        assert SottoLedger.from_event(event).seconds_sent == 0


async def test_a_reply_that_says_the_wake_word_starts_no_command(tmp_path: Path) -> None:
    """HA's reply is played and answered with `played`; the wake word in it, heard back by
    the microphone, sends nothing: like the user's own, it stops the reply (without echo
    cancellation the satellite cannot tell the two apart), and no command starts."""
    reply = utterance(0.2, "okay nabu", 0.3, "the kitchen light is on", 1.5)
    async with running_satellite(make_config(tmp_path)) as sat, controller(sat) as ha:
        await ha.state(lambda s: not s.muted)
        await ha.send(Event("audio-start", {"rate": 16000, "width": 2, "channels": 1}))
        for at in range(0, len(reply), 4096):
            await ha.send(AudioChunk(16000, 2, 1, reply[at : at + 4096]).event())
        await ha.send(Event("audio-stop", {}))
        await sat.recorder.wait_for(IndicatorState.SPEAKING)
        # The microphone hears the reply while it plays.
        await sat.feed(reply)
        silenced = await ha.wait_for(lambda e: e.type == "sotto-silenced", timeout=20)
        assert silenced.data == {"timer": False, "reply": True, "word": "okay_nabu", "by": "voice"}
        await ha.wait_for(lambda e: e.type == "played", timeout=20)
        await sat.recorder.wait_for(IndicatorState.IDLE)
        await ha.settled()
        assert ha.audio() == b""
        assert ha.stream_starts() == []


async def test_a_satellite_that_yields_stops_at_once_and_goes_idle(tmp_path: Path) -> None:
    """Its wake came with evidence (a quieter voice, a lower level); told that a nearer
    satellite answers, its audio stops at once and it is idle again, not thinking."""
    pcm, _, (command_start, _) = command_sentence()
    cut = command_start // CHUNK_BYTES * CHUNK_BYTES
    starts: list[StreamStart] = []
    stops: list[StreamStop] = []
    async with running_satellite(make_config(tmp_path)) as sat, controller(sat) as ha:
        await ha.state(lambda s: not s.muted)
        for heard in (pcm, heard_from(pcm, db=12.0)):
            mark = len(ha.events)
            while sat.satellite.speaker.playing:  # the start chime: the wake word is deaf
                await asyncio.sleep(0.05)
            await sat.feed(heard[:cut])
            event = await ha.wait_for(StreamStart.is_stream_start, after=mark)
            starts.append(StreamStart.from_event(event))
            stream_id = starts[-1].stream_id
            await ha.send(StopStreaming(stream_id=stream_id, yielded=True).event())
            stops.append(await ha.stream_stop(after=mark))
            await ha.state(
                lambda s: s.indicator is IndicatorState.IDLE and not s.streaming, after=mark
            )
            stopped_at = len(ha.events)
            await sat.feed(heard[cut:] + silence(2.0))
            await ha.settled()
            assert "audio-chunk" not in [e.type for e, _ in ha.events[stopped_at:]]

    assert [stop.reason for stop in stops] == [StopReason.YIELDED] * 2
    near, far = starts
    assert near.wake_probability is not None
    assert far.wake_probability is not None
    assert 0.0 < far.wake_probability <= 1.0
    assert near.speech_level is not None
    assert far.speech_level is not None
    assert near.speech_level < 0.0
    assert abs(near.speech_level - far.speech_level - 12.0) < 1.5
    assert near.wake_time is not None
    assert far.wake_time is not None
    assert far.wake_time > near.wake_time
