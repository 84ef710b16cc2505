"""The demo path: a WAV file as the microphone, a shell command as the LED, chimes written
to WAV files; zeroconf discovery; and the remote-wake mode that only exists when enabled."""

from __future__ import annotations

import wave
from pathlib import Path

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.timer import TimerFinished
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from demo.speech import utterance, write_wav
from sotto_voice.audio import PcmFormat
from sotto_voice.discovery import SERVICE_TYPE
from sotto_voice.messages import (
    IndicatorState,
    MuteSource,
    RunEnded,
    SetMute,
    SottoInfo,
    StopReason,
    StopStreaming,
    StreamStart,
    StreamTrigger,
)
from sotto_voice.satellite.audio_out import WavSink
from sotto_voice.satellite.chimes import builtin, load_wav
from sotto_voice.satellite.store import StateStore

from .harness import controller, make_config, running_satellite


async def test_wav_microphone_wakes_and_streams(tmp_path: Path) -> None:
    """From a WAV file at 4x speed: wakes locally, streams the command, shows and chimes it."""
    pcm = utterance(1.0, "okay nabu", 0.3, "turn on the kitchen light", 1.5)
    wav = write_wav(tmp_path / "mic.wav", pcm)
    led = tmp_path / "led.log"
    config = make_config(
        tmp_path / "state",
        mic={"source": "wav", "file": str(wav), "speed": 4.0},
        indicator={
            "outputs": [
                {
                    "type": "command",
                    "command": ["sh", "-c", f'echo "$SOTTO_STATE {{state}}" >> {led}'],
                }
            ]
        },
    )
    # Start muted, so the file plays from its start once HA is there to hear it.
    StateStore(config.state_dir).update(muted=True, mute_source=MuteSource.HA)
    async with running_satellite(config, mic_from_config=True) as sat, controller(sat) as ha:
        await ha.state(lambda s: s.muted)
        await ha.send(SetMute(muted=False).event())
        stop = await ha.stream_stop()
        await sat.recorder.wait_for(IndicatorState.THINKING)
        await ha.settled()

    assert stop.reason == StopReason.END_OF_SPEECH
    sent = ha.audio()
    offset = pcm.find(sent)
    assert offset > 0
    assert offset >= 32000 * 1.5  # after the wake word (which ends about 1.9 s in)
    shown = led.read_text().split("\n")
    assert "listening listening" in shown
    assert "thinking thinking" in shown
    played = sorted((config.state_dir / "played").glob("*.wav"))
    start, stop_chime = load_wav(builtin("start")), load_wav(builtin("stop"))
    clips = []
    for path in played:
        with wave.open(str(path), "rb") as clip:
            clips.append(clip.readframes(clip.getnframes()))
    assert clips == [start.pcm, stop_chime.pcm]


async def test_announced_on_zeroconf(tmp_path: Path) -> None:
    """`_sotto._tcp` with the device id, name, version, and that the link is encrypted."""
    config = make_config(tmp_path, discovery={"enabled": True, "address": "127.0.0.1"})
    async with running_satellite(config) as sat:
        device_id = sat.parts.identity.device_id
        zeroconf = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
        try:
            info = AsyncServiceInfo(SERVICE_TYPE, f"Test satellite {device_id[-6:]}.{SERVICE_TYPE}")
            assert await info.async_request(zeroconf.zeroconf, 5000)
        finally:
            await zeroconf.async_close()
    assert info.port == sat.port
    assert info.parsed_addresses() == ["127.0.0.1"]
    txt = {key.decode(): (value or b"").decode() for key, value in info.properties.items()}
    assert txt["id"] == device_id
    assert txt["name"] == "Test satellite"
    assert txt["encrypted"] == "1"
    assert txt["version"]


async def test_remote_wake_streams_only_when_enabled_and_says_so(tmp_path: Path) -> None:
    """Enabled in the config: reported to HA, streams without a wake word, light on all the
    time it streams; HA's stop pauses it until the run ends; mute ends it."""
    config = make_config(tmp_path, wake={"remote": True})
    async with running_satellite(config) as sat, controller(sat) as ha:
        info = SottoInfo.from_event(await ha.wait_for(lambda e: SottoInfo.is_type(e.type)))
        assert info.remote_wake
        sat.push.push(utterance(0.5, "turn on the kitchen light"))
        start = StreamStart.from_event(await ha.wait_for(StreamStart.is_stream_start))
        assert start.trigger == StreamTrigger.REMOTE_WAKE
        assert sat.recorder.state == IndicatorState.LISTENING
        await ha.send(StopStreaming(stream_id=start.stream_id).event())
        assert (await ha.stream_stop()).reason == StopReason.HA_COMPLETE
        await sat.feed(utterance(0.5))
        assert len(ha.stream_starts()) == 1  # paused while HA works on the command
        mark = len(ha.events)
        await ha.send(RunEnded(stream_id=start.stream_id).event())
        await sat.feed(utterance(0.3))
        again = StreamStart.from_event(await ha.wait_for(StreamStart.is_stream_start, after=mark))
        assert again.trigger == StreamTrigger.REMOTE_WAKE
        mark = len(ha.events)
        await ha.send(SetMute(muted=True).event())
        assert (await ha.stream_stop(after=mark)).reason == StopReason.MUTED
        await ha.state(lambda s: s.muted and not s.streaming, after=mark)

    # Every byte of both streams left while the light said "listening".
    windows = sat.recorder.windows(IndicatorState.LISTENING)
    assert len(windows) == 2
    for (entered, left), stream_id in zip(windows, (start.stream_id, again.stream_id), strict=True):
        times = [at for sent_id, _pcm, at in sat.sent if sent_id == stream_id]
        assert times
        assert entered < min(times)
        assert max(times) < left


async def test_remote_wake_ends_its_stream_for_a_reply(tmp_path: Path) -> None:
    """A reply ends a remote-wake stream before it plays, and no stream starts while it
    plays (the satellite never streams its own voice back); afterwards it streams again."""
    config = make_config(tmp_path, wake={"remote": True})
    reply = utterance(0.2, "the kitchen light is on", 0.3)
    async with running_satellite(config) as sat, controller(sat) as ha:
        sat.push.push(utterance(0.5, "turn on the kitchen light"))
        first = StreamStart.from_event(await ha.wait_for(StreamStart.is_stream_start))
        mark = len(ha.events)
        await ha.send(AudioStart(rate=16000, width=2, channels=1).event())
        stop = await ha.stream_stop(after=mark)
        assert (stop.stream_id, stop.reason) == (first.stream_id, StopReason.PLAYBACK)
        for at in range(0, len(reply), 4096):
            await ha.send(AudioChunk(16000, 2, 1, reply[at : at + 4096]).event())
        await sat.recorder.wait_for(IndicatorState.SPEAKING)
        await sat.feed(reply)  # the microphone hears the reply while it plays
        await ha.send(AudioStop().event())
        await ha.wait_for(lambda e: e.type == "played", timeout=20)
        assert len(ha.stream_starts()) == 1
        mark = len(ha.events)
        await sat.feed(utterance(0.3))
        again = StreamStart.from_event(await ha.wait_for(StreamStart.is_stream_start, after=mark))
        assert (again.trigger, again.stream_id) == (StreamTrigger.REMOTE_WAKE, first.stream_id + 1)


async def test_remote_wake_streams_nothing_while_a_timer_rings(tmp_path: Path) -> None:
    """A finished timer ends a remote-wake stream before it rings, and nothing streams
    while it rings (not even between two rings): the ring never reaches Home Assistant."""
    config = make_config(tmp_path, wake={"remote": True})
    async with running_satellite(config) as sat, controller(sat) as ha:
        sat.push.push(utterance(0.5, "turn on the kitchen light"))
        first = StreamStart.from_event(await ha.wait_for(StreamStart.is_stream_start))
        mark = len(ha.events)
        await ha.send(TimerFinished(id="eggs").event())
        stop = await ha.stream_stop(after=mark)
        assert (stop.stream_id, stop.reason) == (first.stream_id, StopReason.PLAYBACK)
        assert sat.satellite.alarm.ringing
        await sat.feed(utterance(0.5, "okay nabu", 3.0))
        await ha.settled()
        assert sat.satellite.alarm.ringing
        assert len(ha.stream_starts()) == 1


async def test_remote_wake_is_off_by_default(tmp_path: Path) -> None:
    """Without the config switch, HA is told remote wake is off and nothing streams."""
    async with running_satellite(make_config(tmp_path)) as sat, controller(sat) as ha:
        info = SottoInfo.from_event(await ha.wait_for(lambda e: SottoInfo.is_type(e.type)))
        assert not info.remote_wake
        await sat.feed(utterance(0.5, "turn on the kitchen light", 0.5))
        await ha.settled()
        assert ha.audio() == b""


async def test_the_wav_speaker_shows_only_whole_clips(tmp_path: Path) -> None:
    """While a clip is still playing, nothing in the speaker directory is a half-written WAV;
    when it ends the clip appears whole (tools and tests watch that directory)."""
    sink = WavSink(tmp_path / "speaker", speed=0)
    clip = utterance(0.1, "the light is on", 0.1)
    playback = await sink.open(PcmFormat(16000, 2, 1))
    await playback.write(clip[: len(clip) // 2])
    assert list((tmp_path / "speaker").glob("*.wav")) == []
    await playback.write(clip[len(clip) // 2 :])
    await playback.finish()
    [played] = (tmp_path / "speaker").iterdir()
    with wave.open(str(played), "rb") as wav:
        assert wav.readframes(wav.getnframes()) == clip

    aborted = await sink.open(PcmFormat(16000, 2, 1))
    await aborted.write(clip[:3200])
    await aborted.abort()
    assert len(list((tmp_path / "speaker").glob("*.wav"))) == 2
    assert list((tmp_path / "speaker").glob("*.part")) == []
