"""The peer log: one warning per peer per interval, the rest counted and told later."""

from __future__ import annotations

import logging

import pytest

from sotto_voice.link import PeerLog

from .peers import FakeClock

LOGGER = "sotto.test.peerlog"


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def _log(clock: FakeClock) -> PeerLog:
    return PeerLog(clock=clock, logger=logging.getLogger(LOGGER))


def test_one_line_per_peer_per_minute_then_the_count(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    log = _log(clock)
    assert log.report("10.0.0.5", "refused 10.0.0.5:4000: garbage")
    for step in (10.0, 20.0, 29.999):  # 10, 30 and 59.999 s after the line
        clock.advance(step)
        assert not log.report("10.0.0.5", "refused 10.0.0.5:4001: garbage")
    assert log.suppressed("10.0.0.5") == 3
    assert _lines(caplog) == ["refused 10.0.0.5:4000: garbage"]

    clock.advance(0.001)  # a full minute since the line
    assert log.report("10.0.0.5", "refused 10.0.0.5:4100: wrong key")
    assert _lines(caplog)[1] == (
        "refused 10.0.0.5:4100: wrong key (3 more problems with 10.0.0.5 not logged in the "
        "last 60 s)"
    )
    assert log.suppressed("10.0.0.5") == 0
    clock.advance(61)
    log.report("10.0.0.5", "one more")
    assert _lines(caplog)[2] == "one more"  # nothing was suppressed in between


def test_peers_are_limited_separately(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    log = _log(clock)
    assert log.report("10.0.0.5", "scan from 10.0.0.5")
    assert log.report("10.0.0.6", "scan from 10.0.0.6")
    assert not log.report("10.0.0.5", "again from 10.0.0.5")
    assert log.suppressed("10.0.0.6") == 0
    assert _lines(caplog) == ["scan from 10.0.0.5", "scan from 10.0.0.6"]


def test_a_single_suppressed_problem_is_told_in_the_singular(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    log = _log(clock)
    log.report("h", "first")
    log.report("h", "second")
    clock.advance(120)
    log.report("h", "third")
    assert _lines(caplog)[-1] == "third (1 more problem with h not logged in the last 120 s)"


def test_many_addresses_do_not_grow_the_table_without_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A host cycling through addresses costs a bounded table; each still gets its line."""
    clock = FakeClock()
    log = PeerLog(clock=clock, logger=logging.getLogger(LOGGER), max_peers=8)
    for n in range(100):
        assert log.report(f"fd00::{n}", f"scan {n}")
    assert len(_lines(caplog)) == 100
    # The newest peers are still limited...
    assert not log.report("fd00::99", "again")
    # ...while the oldest were forgotten to make room.
    assert log.report("fd00::0", "back again")


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [({"interval": 0}, "interval must be positive"), ({"max_peers": 0}, "max_peers")],
)
def test_bad_settings_are_refused(kwargs: dict[str, float], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        PeerLog(**kwargs)  # type: ignore[arg-type]
