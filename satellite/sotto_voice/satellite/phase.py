"""What the satellite is doing (one phase) and what holds around it (independent facts).

The indicator and the state reported to Home Assistant are computed from the two by
`indicator_state` and `reported_state`, pure functions with no other input, so what a
person sees follows from what the satellite does and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from sotto_voice.messages import IndicatorState, MuteSource, SottoState

_LOGGER = logging.getLogger(__name__)


class Phase(StrEnum):
    """Where the satellite is in a command."""

    IDLE = "idle"
    """Listening for a wake word; nothing leaves."""

    STREAMING = "streaming"
    """A command's audio is leaving for Home Assistant."""

    LISTENING = "listening"
    """A command is heard to be recognised on the device; nothing leaves."""

    THINKING = "thinking"
    """The command was sent; Home Assistant works on it."""

    SPEAKING = "speaking"
    """A reply from Home Assistant is playing (the wake word is deaf to it)."""


_COMMAND: Final = frozenset({Phase.STREAMING, Phase.LISTENING})

TRANSITIONS: Final[Mapping[Phase, frozenset[Phase]]] = {
    # A wake word or push-to-talk starts a command (streamed, or heard on the device); HA
    # may speak unasked (an announcement).
    Phase.IDLE: _COMMAND | {Phase.SPEAKING},
    # A finished command waits for HA; one cut short (no speech, mute, error) goes back to
    # idle; a reply that began while the stream ran shows once the stream has ended.
    Phase.STREAMING: frozenset({Phase.IDLE, Phase.THINKING, Phase.SPEAKING}),
    # The same for a command heard on the device (it is decoded while thinking).
    Phase.LISTENING: frozenset({Phase.IDLE, Phase.THINKING, Phase.SPEAKING}),
    # HA answers, says the run ended, or stays silent too long; a new wake word wins.
    Phase.THINKING: _COMMAND | {Phase.IDLE, Phase.SPEAKING},
    # Push-to-talk works during a reply; a command finished during the reply leaves the
    # satellite thinking once the reply is over.
    Phase.SPEAKING: _COMMAND | {Phase.IDLE, Phase.THINKING},
}
"""The phases each phase may move to; any other move is a bug."""


class HaPresence(StrEnum):
    """Whether Home Assistant is in charge of the satellite."""

    CONNECTED = "connected"
    """A controller is attached."""

    AWAITED = "awaited"
    """No controller, for less than the grace period (start-up, a reconnect)."""

    MISSING = "missing"
    """No controller for longer than the grace period: shown as an error."""


@dataclass(slots=True)
class Facts:
    """What holds whatever the phase: each one changes on its own."""

    muted: bool = False
    """The microphone is closed."""

    mute_source: MuteSource | None = None
    """Who muted it (None when not muted)."""

    ha: HaPresence = HaPresence.AWAITED
    """Whether Home Assistant is in charge."""

    mic_ok: bool = True
    """False from a microphone failure until it delivers audio again."""

    error_flash: bool = False
    """Home Assistant reported an error a moment ago."""


class PhaseMachine:
    """Holds the phase; every move goes through `go`, checked against TRANSITIONS."""

    def __init__(self) -> None:
        self.phase = Phase.IDLE

    def go(self, phase: Phase) -> None:
        """Move to phase (staying put is always allowed)."""
        if phase is self.phase:
            return
        if phase not in TRANSITIONS[self.phase]:
            # A bug in the satellite, not a condition a user or a peer can cause.
            raise RuntimeError(f"the satellite cannot go from {self.phase} to {phase}")
        _LOGGER.debug("phase %s -> %s", self.phase, phase)
        self.phase = phase


def indicator_state(phase: Phase, facts: Facts) -> IndicatorState:
    """Return what the indicator shows in phase with facts."""
    if phase is Phase.STREAMING:
        return IndicatorState.LISTENING  # audio leaving always shows, even over mute
    if phase is Phase.LISTENING:
        return IndicatorState.LISTENING_ON_DEVICE
    if facts.muted:
        return IndicatorState.MUTED
    if phase is Phase.SPEAKING:
        return IndicatorState.SPEAKING
    if phase is Phase.THINKING:
        return IndicatorState.THINKING
    if facts.ha is HaPresence.MISSING or not facts.mic_ok or facts.error_flash:
        return IndicatorState.ERROR
    return IndicatorState.IDLE


def reported_state(
    phase: Phase,
    facts: Facts,
    *,
    wake_words: tuple[str, ...],
    sensitivity: float,
    volume: float,
    timer_ringing: bool = False,
) -> SottoState:
    """Return the state Home Assistant is told, in phase with facts and these settings."""
    return SottoState(
        muted=facts.muted,
        mute_source=facts.mute_source,
        indicator=indicator_state(phase, facts),
        streaming=phase is Phase.STREAMING,
        wake_word=wake_words[0],
        sensitivity=sensitivity,
        volume=volume,
        wake_words=wake_words,
        timer_ringing=timer_ringing,
    )
