"""The satellite as a state machine: any order of wake words, push-to-talk, mute from HA and
from the device, disconnects, reconnects, replies and time passing keeps the promises.

Invariants, checked after every step and at every audio chunk sent:
- muted implies no audio byte is sent, from the moment the mute is applied until the unmute;
- the recording indicator shows "listening" if and only if audio is being sent (on the
  device's own light, and in what Home Assistant was last told);
- no stream is longer than the configured maximum command length (plus the one chunk in
  which the limit was reached).

A real satellite (the `sotto-satellite run` build, real wake word and VAD models, espeak-ng
speech), a real controller over the encrypted link. Time is audio time: the microphone is
a PushSource, so "time passing" is feeding it silence or talk, and nothing here sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections import defaultdict
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event

from demo.speech import silence, utterance
from sotto_voice.messages import (
    IndicatorState,
    Purge,
    PushToTalk,
    RunEnded,
    SetMute,
    SottoInfo,
    SottoState,
    StopStreaming,
)
from sotto_voice.satellite.audio import BYTES_PER_SECOND, CHUNK_BYTES
from tests.library.satellite.harness import (
    Controller,
    RunningSatellite,
    controller,
    make_config,
    running_satellite,
)
from tests.library.satellite.wire import check_wire

T = TypeVar("T")

MAX_SECONDS = 2.0
"""A short maximum command length, so a long sentence reaches it."""
COMMAND = ("okay nabu", 0.3, "turn on the kitchen light", 1.0)
LONG_TALK = (
    "and then we walked along the river to the old mill and back again past the church "
    "and the baker and the little school"
)
STEP_TIMEOUT = 30.0


class SatelliteMachine(RuleBasedStateMachine):
    """Drives one satellite through random steps; checks the privacy invariants."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.TemporaryDirectory(prefix="sotto-machine-")
        self.stack = contextlib.AsyncExitStack()
        self.ha_stack: contextlib.AsyncExitStack | None = None
        self.ha: Controller | None = None
        self.previous: list[Controller] = []
        self.sent_per_stream: defaultdict[int, int] = defaultdict(int)
        self.violations: list[str] = []
        config = make_config(
            Path(self.tmp.name),
            vad={"max_seconds": MAX_SECONDS},
            indicator={"error_grace_seconds": 0.05},
        )
        self.sat: RunningSatellite = self.run(
            self.stack.enter_async_context(running_satellite(config))
        )
        self.sat.satellite.add_audio_listener(self._on_audio)
        self.run(self._connect())

    # --- plumbing ------------------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run one step's coroutine on the machine's own event loop."""

        async def bounded() -> T:
            async with asyncio.timeout(STEP_TIMEOUT):
                return await coro

        return self.loop.run_until_complete(bounded())

    def _on_audio(self, stream_id: int, pcm: bytes, _at: float) -> None:
        """Called by the satellite right after each audio chunk left for HA."""
        satellite = self.sat.satellite
        if satellite.muted:
            self.violations.append(f"{len(pcm)} audio bytes sent while muted")
        if self.sat.recorder.state != IndicatorState.LISTENING:
            self.violations.append(f"audio sent under the {self.sat.recorder.state} light")
        self.sent_per_stream[stream_id] += len(pcm)

    async def _connect(self) -> None:
        stack = contextlib.AsyncExitStack()
        ha = await stack.enter_async_context(controller(self.sat))
        await ha.wait_for(lambda e: SottoInfo.is_type(e.type))  # attached: in control
        await ha.settled()
        self.ha, self.ha_stack = ha, stack

    async def _settle(self) -> None:
        """Wait until the satellite has acted on everything sent to it so far."""
        for _ in range(3):
            await asyncio.sleep(0)
        if self.ha is not None:
            await self.ha.settled()

    async def _feed(self, pcm: bytes) -> None:
        await self.sat.feed(pcm)
        await self._settle()

    # --- rules ---------------------------------------------------------------------------

    @rule()
    def wake_word(self) -> None:
        """Someone says the wake word and a command."""
        self.run(self._feed(utterance(0.2, *COMMAND)))

    @rule(seconds=st.sampled_from([0.3, 1.0, 2.5]))
    def quiet_room(self, seconds: float) -> None:
        """Time passes in silence."""
        self.run(self._feed(silence(seconds)))

    @rule()
    def long_talk(self) -> None:
        """Time passes with someone talking on and on (no wake word)."""
        self.run(self._feed(utterance(0.1, LONG_TALK, 0.2)))

    @precondition(lambda self: self.ha is not None)
    @rule()
    def push_to_talk_from_ha(self) -> None:
        """Home Assistant starts a stream (its push-to-talk action)."""
        assert self.ha is not None
        self.run(self._send(PushToTalk().event()))

    @rule()
    def talk_button(self) -> None:
        """The device's own push-to-talk button."""
        self.run(self._press_talk())

    @precondition(lambda self: self.ha is not None)
    @rule(muted=st.booleans())
    def mute_from_ha(self, muted: bool) -> None:
        """Home Assistant's mute switch."""
        self.run(self._send(SetMute(muted=muted).event()))

    @rule(action=st.sampled_from(["mute", "unmute", "toggle"]))
    def hardware_mute(self, action: str) -> None:
        """The device's mute button or switch."""
        self.run(self._hardware(action))

    @precondition(lambda self: self.ha is not None)
    @rule()
    def disconnect(self) -> None:
        """Home Assistant goes away (restart, network)."""
        self.run(self._disconnect())

    @precondition(lambda self: self.ha is None)
    @rule()
    def reconnect(self) -> None:
        """Home Assistant comes back."""
        self.run(self._connect())

    @precondition(lambda self: self.ha is not None)
    @rule(seconds=st.sampled_from([0.2, 1.0]), finish=st.booleans())
    def reply(self, seconds: float, finish: bool) -> None:
        """Home Assistant plays a spoken reply (TTS), maybe cut off before its end."""
        events = [
            AudioStart(rate=16000, width=2, channels=1).event(),
            AudioChunk(rate=16000, width=2, channels=1, audio=silence(seconds)).event(),
        ]
        if finish:
            events.append(AudioStop().event())
        self.run(self._send(*events))

    @precondition(lambda self: self.ha is not None)
    @rule(stop=st.booleans())
    def run_over(self, stop: bool) -> None:
        """Home Assistant ends the stream, or says the pipeline run is over."""
        self.run(self._send(StopStreaming().event() if stop else RunEnded().event()))

    @precondition(lambda self: self.ha is not None)
    @rule()
    def purge(self) -> None:
        """Home Assistant purges the history (and the satellite's audio buffers)."""
        self.run(self._send(Purge().event()))

    @rule(
        during=st.sampled_from(["wake word", "long talk"]),
        action=st.sampled_from(
            ["mute from HA", "mute button", "disconnect", "reply", "stop", "talk", "purge"]
        ),
        at=st.sampled_from([0.2, 0.5, 0.8]),
    )
    def while_talking(self, during: str, action: str, at: float) -> None:
        """Something happens while the microphone hears speech (maybe mid-stream)."""
        pcm = utterance(0.2, *COMMAND) if during == "wake word" else utterance(0.1, LONG_TALK)
        self.run(self._while_talking(pcm, action, at))

    async def _while_talking(self, pcm: bytes, action: str, at: float) -> None:
        source = self.sat.push
        source.push(pcm)
        left = int(len(pcm) * (1 - at))
        while source.is_open and source.pending > left:
            await asyncio.sleep(0)
        if action == "mute from HA" and self.ha is not None:
            await self.ha.send(SetMute(muted=True).event())
        elif action == "mute button":
            self.sat.satellite.on_hardware_action("toggle")
        elif action == "disconnect" and self.ha is not None:
            await self._disconnect()
        elif action == "reply" and self.ha is not None:
            await self.ha.send(AudioStart(rate=16000, width=2, channels=1).event())
            await self.ha.send(AudioChunk(16000, 2, 1, silence(0.3)).event())
            await self.ha.send(AudioStop().event())
        elif action == "stop" and self.ha is not None:
            await self.ha.send(StopStreaming().event())
        elif action == "talk":
            self.sat.satellite.on_push_to_talk("talk")
        elif action == "purge" and self.ha is not None:
            await self.ha.send(Purge().event())
        await self.sat.feed(b"")
        await self._settle()

    async def _send(self, *events: Event) -> None:
        assert self.ha is not None
        for event in events:
            await self.ha.send(event)
        await self._settle()

    async def _press_talk(self) -> None:
        self.sat.satellite.on_push_to_talk("talk")
        # Button callbacks run as tasks: let them finish before looking.
        for _ in range(5):
            await asyncio.sleep(0)
        await self._settle()

    async def _hardware(self, action: str) -> None:
        await self.sat.satellite.hardware_action(action)
        await self._settle()

    async def _disconnect(self) -> None:
        ha, stack = self.ha, self.ha_stack
        assert ha is not None
        assert stack is not None
        self.ha = self.ha_stack = None
        await stack.aclose()
        self.previous.append(ha)
        while self.sat.satellite.controller is not None:  # the server notices the link end
            await asyncio.sleep(0.005)
        await self._settle()

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def nothing_sent_wrongly(self) -> None:
        """Every audio chunk so far left unmuted and under the listening light."""
        assert not self.violations, self.violations

    @invariant()
    def muted_means_closed(self) -> None:
        """Muted: the microphone is closed and nothing streams."""
        satellite = self.sat.satellite
        if satellite.muted:
            assert not satellite.capturing
            assert not satellite.streaming

    @invariant()
    def light_on_iff_streaming(self) -> None:
        """The listening light, and HA's recording sensor, are on exactly while streaming."""
        satellite = self.sat.satellite
        streaming = satellite.streaming
        assert (self.sat.recorder.state == IndicatorState.LISTENING) == streaming
        if self.ha is None:
            assert not streaming, "streaming with no Home Assistant to stream to"
        else:
            reports = [SottoState.from_event(event) for event in self.ha.of_type("sotto-state")]
            assert reports, "Home Assistant was never told the state"
            assert reports[-1].streaming == streaming
            assert reports[-1].muted == satellite.muted

    @invariant()
    def never_longer_than_the_maximum(self) -> None:
        """No stream sends more than the maximum command length."""
        limit = int(MAX_SECONDS * BYTES_PER_SECOND) + CHUNK_BYTES
        for stream_id, sent in self.sent_per_stream.items():
            assert sent <= limit, f"stream {stream_id} sent {sent / BYTES_PER_SECOND:.2f} s"

    # --- end -----------------------------------------------------------------------------

    def teardown(self) -> None:
        try:
            if self.ha is not None:
                self.previous.append(self.ha)
            for ha in self.previous:
                check_wire([event for event, _ in ha.events])
        finally:
            try:
                if self.ha_stack is not None:
                    self.run(self.ha_stack.aclose())
                self.run(self.stack.aclose())
                self.loop.run_until_complete(self.loop.shutdown_default_executor())
            finally:
                self.loop.close()
                self.tmp.cleanup()


def test_satellite_state_machine() -> None:
    run_state_machine_as_test(
        SatelliteMachine,
        settings=settings(max_examples=30, stateful_step_count=20, deadline=None),
    )
