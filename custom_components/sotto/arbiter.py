"""One wake, one room: when several satellites hear one wake word, the nearest answers.

Every satellite that hears its wake word claims the utterance with its evidence
(`await arbiter.claim(satellite, evidence)`). The first claim opens a round; the round
closes when every satellite that could have heard the wake word has claimed, or when the
window has passed, whichever comes first. The best evidence wins; the others yield.

The best evidence, in this order (each step only when the ones before are equal):

1. the loudest wake word, in whole dB (the nearest satellite hears it loudest);
2. the wake-word model's probability, to one decimal: any clear wake word scores 1.0, so
   this only sets aside a satellite that barely recognised it;
3. the claim that reached Home Assistant first (the nearest hears first). Claims are
   numbered as they arrive, so this step always decides: a tie is never left to chance.

A satellite that reports no level (an ESPHome device) is judged by the level Home
Assistant measured in the audio it received before the round closed; a round with such
a claim runs its whole window, so that there is audio to measure. A claim that
arrives within one window after a round closed belongs to the same utterance and yields
to its winner. A satellite alone in the house (or the only one connected and unmuted)
wins at once: it pays no wait.

A satellite that recognises speech itself must hold its text back until its claim is
won: the claim comes first, whatever the stream carries.

The arbiter needs only the event loop (no Home Assistant API), so bench/rooms.py drives
the same code with real satellites.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from sotto_voice.audio import SILENCE_DBFS

DEFAULT_WINDOW_MS: Final = 120
"""How long a round waits for more claims (measured with bench/rooms.py: docs/rooms.md)."""
MAX_WINDOW_MS: Final = 1000
OPTION_WINDOW_MS: Final = "arbitration_window_ms"
"""The home entry's option: the window in milliseconds."""


def window_ms(options: Mapping[str, Any]) -> int:
    """The window the home's options set (the default when unset)."""
    return int(options.get(OPTION_WINDOW_MS, DEFAULT_WINDOW_MS))


@dataclass(frozen=True, slots=True)
class WakeEvidence:
    """What a satellite knows about how well it heard the wake word (None: not reported)."""

    speech_level: float | None = None
    """The wake word's level in dBFS."""
    probability: float | None = None
    """The wake-word model's probability at the detection."""
    timestamp: float | None = None
    """The satellite's monotonic clock at the detection: comparable on one device only,
    so it identifies the detection; the order of arrival stands for time between devices."""


class Contender(Protocol):
    """A satellite as the arbiter sees it."""

    @property
    def name(self) -> str:
        """The satellite's name, for the losers' "yielded" events."""

    @property
    def can_wake(self) -> bool:
        """Whether it could hear a wake word now (connected, not muted)."""

    def measured_level(self) -> float | None:
        """The level Home Assistant measured in the audio it has received, if any."""


@dataclass(frozen=True, slots=True)
class Ruling:
    """The outcome of a claim: true when the claimant won and runs the pipeline.

    A loser hears at once when a better claim arrives (it stops sending audio then); the
    round may still be open, so the satellite that answers is known only when it closes
    (`async_winner`).
    """

    won: bool
    waited: float
    """Seconds the claim waited for its ruling."""
    decided: asyncio.Future[Contender]
    """The round's winner, once it closes."""

    def __bool__(self) -> bool:
        """A ruling reads as whether the claim was won."""
        return self.won

    async def async_winner(self) -> Contender:
        """The satellite that answers the utterance (waits for the round to close)."""
        return await asyncio.shield(self.decided)


@dataclass(slots=True)
class _Claim:
    contender: Contender
    evidence: WakeEvidence
    order: int
    settled: asyncio.Future[bool]
    """True when this claim won; False as soon as it is certain to lose."""


@dataclass(slots=True)
class _Round:
    decided: asyncio.Future[Contender]
    claims: list[_Claim] = field(default_factory=list)
    closed_at: float | None = None
    timer: asyncio.TimerHandle | None = None


def _rank(claim: _Claim) -> tuple[float, float, int]:
    """The sort key of a claim: the smallest key wins."""
    evidence = claim.evidence
    level = evidence.speech_level
    if level is None:
        level = claim.contender.measured_level()
    return (
        -round(level if level is not None else SILENCE_DBFS),
        -round(evidence.probability or 0.0, 1),
        claim.order,
    )


class Arbiter:
    """Decides, for each utterance, which of the satellites that heard it answers."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        contenders: Callable[[], Iterable[Contender]],
        window_ms: float = DEFAULT_WINDOW_MS,
    ) -> None:
        """`contenders` lists every satellite of the home (connected or not)."""
        self._loop = loop
        self._contenders = contenders
        self.window = window_ms / 1000
        """Seconds a round waits for more claims."""
        self._round: _Round | None = None
        self._order = 0

    async def claim(self, contender: Contender, evidence: WakeEvidence) -> Ruling:
        """Claim the utterance whose wake word `contender` just heard; wait for the ruling.

        The winner hears when the round closes; a loser as soon as a better claim is in.
        """
        loop = self._loop
        started = loop.time()
        current = self._current(started)
        if current is not None and current.closed_at is not None:
            # A late claim: the utterance was already given to the winner.
            return Ruling(False, 0.0, current.decided)
        if current is None:
            if not any(other.can_wake and other is not contender for other in self._contenders()):
                alone: asyncio.Future[Contender] = loop.create_future()
                alone.set_result(contender)
                return Ruling(True, 0.0, alone)  # alone: no wait
            current = self._round = _Round(decided=loop.create_future())
            current.timer = loop.call_later(self.window, self._close, current)
        self._order += 1
        mine = _Claim(contender, evidence, self._order, loop.create_future())
        current.claims.append(mine)
        if self._all_claimed(current):
            self._close(current)
        else:
            self._settle_losers(current)
        won = await asyncio.shield(mine.settled)
        return Ruling(won, loop.time() - started, current.decided)

    @staticmethod
    def _settle_losers(current: _Round) -> None:
        """Tell each claim that a better one has beaten that it lost, without waiting.

        Only claims with a reported level are judged early: a measured level still grows.
        """
        reported = [claim for claim in current.claims if claim.evidence.speech_level is not None]
        if not reported:
            return
        best = min(reported, key=_rank)
        for claim in reported:
            if claim is not best and not claim.settled.done():
                claim.settled.set_result(False)

    def _current(self, now: float) -> _Round | None:
        """The round this moment belongs to: open, or closed less than a window ago."""
        current = self._round
        if current is None or current.closed_at is None:
            return current
        if now - current.closed_at <= self.window:
            return current
        self._round = None
        return None

    def _all_claimed(self, current: _Round) -> bool:
        """Whether nothing more can change the ruling before the window ends.

        A claim without a level is judged by the audio that arrives meanwhile: for it,
        the round always runs its whole window.
        """
        if any(claim.evidence.speech_level is None for claim in current.claims):
            return False
        claimed = {id(claim.contender) for claim in current.claims}
        return all(id(other) in claimed for other in self._contenders() if other.can_wake)

    def _close(self, current: _Round) -> None:
        """Close the round: the best claim wins."""
        if current.decided.done():
            return
        if current.timer is not None:
            current.timer.cancel()
        current.closed_at = self._loop.time()
        best = min(current.claims, key=_rank)
        current.decided.set_result(best.contender)
        for claim in current.claims:
            if not claim.settled.done():
                claim.settled.set_result(claim is best)
