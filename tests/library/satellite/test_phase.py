"""What the satellite's light shows and what Home Assistant is told, from the phase and the
facts alone: the one rule the running satellite uses for both (phase.py)."""

from __future__ import annotations

import itertools

import pytest

from sotto_voice.messages import IndicatorState, MuteSource
from sotto_voice.satellite.phase import (
    Facts,
    HaPresence,
    Phase,
    PhaseMachine,
    indicator_state,
    reported_state,
)


def every_facts() -> list[Facts]:
    """Return every combination of the facts."""
    return [
        Facts(
            muted=muted,
            mute_source=MuteSource.HARDWARE if muted else None,
            ha=ha,
            mic_ok=mic_ok,
            error_flash=flash,
        )
        for muted, ha, mic_ok, flash in itertools.product(
            (False, True), HaPresence, (True, False), (False, True)
        )
    ]


@pytest.mark.parametrize("facts", every_facts())
def test_audio_leaving_always_shows_listening(facts: Facts) -> None:
    """Whatever else holds (muted, HA gone, a broken mic), a stream shows "listening", and
    only a stream does; HA is told it streams exactly then."""
    for phase in Phase:
        shown = indicator_state(phase, facts)
        assert (shown == IndicatorState.LISTENING) == (phase is Phase.STREAMING)
        state = reported_state(phase, facts, wake_words=("okay_nabu",), sensitivity=0.5, volume=1)
        assert state.streaming == (phase is Phase.STREAMING)
        assert state.indicator == shown
        assert (state.muted, state.mute_source) == (facts.muted, facts.mute_source)


def test_mute_shows_over_a_reply_and_thinking() -> None:
    """Muted is shown whenever no audio leaves, even while a reply plays."""
    muted = Facts(muted=True, mute_source=MuteSource.HA, ha=HaPresence.CONNECTED)
    for phase in (Phase.IDLE, Phase.THINKING, Phase.SPEAKING):
        assert indicator_state(phase, muted) == IndicatorState.MUTED


@pytest.mark.parametrize(
    "trouble",
    [
        Facts(ha=HaPresence.MISSING),
        Facts(ha=HaPresence.CONNECTED, mic_ok=False),
        Facts(ha=HaPresence.CONNECTED, error_flash=True),
    ],
    ids=["ha-missing", "mic-failed", "ha-error"],
)
def test_trouble_shows_as_an_error_when_nothing_else_is_happening(trouble: Facts) -> None:
    """HA gone past the grace period, a failed mic or an error from HA show as "error" when
    idle; a reply or thinking still shows as such."""
    assert indicator_state(Phase.IDLE, trouble) == IndicatorState.ERROR
    assert indicator_state(Phase.THINKING, trouble) == IndicatorState.THINKING
    assert indicator_state(Phase.SPEAKING, trouble) == IndicatorState.SPEAKING
    waiting = Facts(ha=HaPresence.AWAITED)  # within the grace period: not an error yet
    assert indicator_state(Phase.IDLE, waiting) == IndicatorState.IDLE


def test_a_command_moves_through_the_phases_and_nothing_is_thought_about_unsent() -> None:
    """Idle -> streaming -> thinking -> speaking -> idle is allowed; thinking without a
    command sent first is a bug the machine refuses."""
    machine = PhaseMachine()
    for phase in (Phase.STREAMING, Phase.THINKING, Phase.SPEAKING, Phase.IDLE):
        machine.go(phase)
        assert machine.phase is phase
    with pytest.raises(RuntimeError, match="from idle to thinking"):
        machine.go(Phase.THINKING)
    assert machine.phase is Phase.IDLE
