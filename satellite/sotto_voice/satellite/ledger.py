"""The privacy ledger: what the satellite sent, counted and kept on the device itself."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Final

from wyoming.event import Event

from sotto_voice.messages import LedgerDay, MessageError, SottoLedger

from .errors import StateFileError
from .store import read_json, write_json

_LOGGER = logging.getLogger(__name__)

KEEP_DAYS: Final = 31
"""Per-day counters kept; older days are dropped."""


class Ledger:
    """Counts wakes, push-to-talk presses, streams, commands recognised on the device, and
    seconds listened and sent; persisted as JSON."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ledger = self._load()

    def _load(self) -> SottoLedger:
        data = read_json(self.path)
        if data is None:
            return SottoLedger(0, 0, 0, 0.0, None)
        try:
            return SottoLedger.from_event(Event("sotto-ledger", data))
        except MessageError as err:
            raise StateFileError(f"{self.path}: {err}; fix or delete the file") from None

    @property
    def ledger(self) -> SottoLedger:
        """Return the ledger as sent to Home Assistant."""
        return self._ledger

    def _today(self, now: float) -> tuple[LedgerDay, list[LedgerDay]]:
        date = dt.datetime.fromtimestamp(now).date().isoformat()
        days = list(self._ledger.days)
        if days and days[-1].date == date:
            return days.pop(), days
        return LedgerDay(date), days

    def _save(self, ledger: SottoLedger) -> None:
        self._ledger = ledger
        try:
            write_json(self.path, ledger.event().data)
        except StateFileError:
            # Counting goes on in memory; the next successful write catches up.
            _LOGGER.exception("cannot save the privacy ledger")

    def _count(self, now: float | None, *, stream_ended: bool = False, **added: float) -> None:
        """Add to named counters, in the totals and in today's page."""
        now = time.time() if now is None else now
        day, days = self._today(now)
        day = replace(day, **{name: getattr(day, name) + value for name, value in added.items()})
        totals = {name: getattr(self._ledger, name) + value for name, value in added.items()}
        ledger = replace(self._ledger, **totals, days=(*days, day)[-KEEP_DAYS:])
        self._save(replace(ledger, last_stream=now) if stream_ended else ledger)

    def record_wake(self, now: float | None = None) -> None:
        """Count a wake word heard on the device."""
        self._count(now, wakes=1)

    def record_push_to_talk(self, now: float | None = None) -> None:
        """Count a stream started by push-to-talk."""
        self._count(now, push_to_talk=1)

    def record_command(self, seconds: float, *, sent: bool, now: float | None = None) -> None:
        """Count a finished command: the seconds listened, and those sent if it streamed
        (else it was recognised on the device, and nothing was sent)."""
        if sent:
            self._count(
                now, stream_ended=True, streams=1, seconds_sent=seconds, seconds_listened=seconds
            )
        else:
            self._count(now, recognized_on_device=1, seconds_listened=seconds)

    def clear(self) -> None:
        """Forget everything (purge)."""
        self._save(SottoLedger(0, 0, 0, 0.0, None))
