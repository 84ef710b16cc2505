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
    """Counts wakes, push-to-talk presses, streams and seconds sent; persisted as JSON."""

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

    def record_wake(self, now: float | None = None) -> None:
        """Count a wake word heard on the device."""
        now = time.time() if now is None else now
        day, days = self._today(now)
        day = replace(day, wakes=day.wakes + 1)
        self._save(
            replace(self._ledger, wakes=self._ledger.wakes + 1, days=(*days, day)[-KEEP_DAYS:])
        )

    def record_push_to_talk(self, now: float | None = None) -> None:
        """Count a stream started by push-to-talk."""
        now = time.time() if now is None else now
        day, days = self._today(now)
        day = replace(day, push_to_talk=day.push_to_talk + 1)
        self._save(
            replace(
                self._ledger,
                push_to_talk=self._ledger.push_to_talk + 1,
                days=(*days, day)[-KEEP_DAYS:],
            )
        )

    def record_stream(self, seconds: float, now: float | None = None) -> None:
        """Count a finished stream and the seconds of audio it sent."""
        now = time.time() if now is None else now
        day, days = self._today(now)
        day = replace(day, streams=day.streams + 1, seconds_sent=day.seconds_sent + seconds)
        self._save(
            replace(
                self._ledger,
                streams=self._ledger.streams + 1,
                seconds_sent=self._ledger.seconds_sent + seconds,
                last_stream=now,
                days=(*days, day)[-KEEP_DAYS:],
            )
        )

    def clear(self) -> None:
        """Forget everything (purge)."""
        self._save(SottoLedger(0, 0, 0, 0.0, None))
