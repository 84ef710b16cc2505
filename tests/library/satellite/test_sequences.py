"""Any sequence of commands, speech and button presses keeps the privacy rules: audio only
inside a stream bracket, never while muted, always under the listening light; no stream or
light is left stuck on."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wyoming.audio import AudioChunk
from wyoming.event import Event

from demo.speech import silence, utterance
from sotto_voice.messages import (
    Configure,
    IndicatorState,
    PushToTalk,
    RunEnded,
    SetMute,
    StopStreaming,
)

from .harness import Controller, RunningSatellite, controller, make_config, running_satellite
from .wire import check_wire

ACTIONS = (
    "wake",
    "chatter",
    "silence",
    "mute",
    "unmute",
    "button",
    "talk",
    "stop",
    "run_ended",
    "sensitivity",
    "reply",
    "garbage",
)


# What the room says for each of its actions (made when the action runs: espeak-ng).
HEARD: dict[str, Callable[[], bytes]] = {
    "wake": lambda: utterance(0.3, "okay nabu", 0.3, "turn on the light"),
    "chatter": lambda: utterance(0.2, "what a lovely day", 0.2),
    "silence": lambda: silence(0.6),
}
# What HA sends for each of its actions.
FROM_HA: dict[str, tuple[Event, ...]] = {
    "mute": (SetMute(muted=True).event(),),
    "unmute": (SetMute(muted=False).event(),),
    "talk": (PushToTalk().event(),),
    "stop": (StopStreaming().event(),),
    "run_ended": (RunEnded().event(),),
    "sensitivity": (Configure(sensitivity=0.7).event(),),
    "reply": (
        Event("audio-start", {"rate": 16000, "width": 2, "channels": 1}),
        AudioChunk(16000, 2, 1, silence(0.2)).event(),
        Event("audio-stop", {}),
    ),
    "garbage": (Event("sotto-configure", {"volume": "loud"}),),
}


async def _act(action: str, sat: RunningSatellite, ha: Controller) -> None:
    if action in HEARD:
        await sat.feed(HEARD[action]())
    elif action == "button":
        await sat.satellite.hardware_action("toggle")
    for event in FROM_HA.get(action, ()):
        await ha.send(event)
    await ha.settled()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(actions=st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=8))
async def test_any_sequence_keeps_the_rules(actions: list[str]) -> None:
    """Random sequences of everything HA, the room and the buttons can do."""
    with tempfile.TemporaryDirectory(prefix="sotto-seq-") as tmp:
        config = make_config(Path(tmp), speaker={"directory": str(Path(tmp) / "played")})
        async with running_satellite(config) as sat, controller(sat) as ha:
            await ha.settled()
            for action in actions:
                await _act(action, sat, ha)
            # Whatever happened, HA can always bring it back to rest.
            await ha.send(StopStreaming().event())
            await ha.send(RunEnded().event())
            await ha.settled()
            assert not sat.satellite.streaming
            assert sat.recorder.state != IndicatorState.LISTENING

        check_wire([event for event, _ in ha.events])
        windows = sat.recorder.windows(IndicatorState.LISTENING)
        for _stream, _pcm, at in sat.sent:
            assert any(entered < at < left for entered, left in windows)
