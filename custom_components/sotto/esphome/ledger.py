"""The privacy ledger of an ESPHome device, which keeps none itself: counted in HA."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from homeassistant.util import dt as dt_util
from wyoming.event import Event

from sotto_voice.messages import LEDGER_TYPE, LedgerDay, MessageError, SottoLedger

_LOGGER = logging.getLogger(__name__)

_LEDGER_DAYS: Final = 14


@dataclass(slots=True)
class EsphomeLedger:
    """What this device sent Home Assistant, counted here since the device keeps none."""

    wakes: int = 0
    push_to_talk: int = 0
    streams: int = 0
    seconds_sent: float = 0.0
    """Every second an ESPHome device hears of a command is sent: also the seconds listened."""
    last_stream: float | None = None
    days: dict[str, LedgerDay] = field(default_factory=dict)

    def count(
        self, *, wake: bool = False, push_to_talk: bool = False, seconds: float = 0.0
    ) -> None:
        """Add to today's page and the totals."""
        date = dt_util.now().date().isoformat()
        day = self.days.get(date, LedgerDay(date=date))
        started = wake or push_to_talk
        self.days[date] = LedgerDay(
            date=date,
            wakes=day.wakes + wake,
            push_to_talk=day.push_to_talk + push_to_talk,
            streams=day.streams + started,
            seconds_sent=day.seconds_sent + seconds,
            seconds_listened=day.seconds_listened + seconds,
        )
        for old in sorted(self.days)[:-_LEDGER_DAYS]:
            del self.days[old]
        self.wakes += wake
        self.push_to_talk += push_to_talk
        self.streams += started
        self.seconds_sent += seconds
        if seconds:
            self.last_stream = time.time()

    def as_dict(self) -> dict[str, Any]:
        """The ledger as JSON-ready data, for Home Assistant's storage."""
        return self.message().event().data or {}

    @staticmethod
    def from_dict(data: Mapping[str, Any] | None) -> EsphomeLedger:
        """A stored ledger; an empty one if there is none or it is damaged."""
        if not data:
            return EsphomeLedger()
        try:
            saved = SottoLedger.from_event(Event(LEDGER_TYPE, dict(data)))
        except MessageError as err:
            _LOGGER.warning("The stored ESPHome ledger is damaged and starts again: %s", err)
            return EsphomeLedger()
        return EsphomeLedger(
            wakes=saved.wakes,
            push_to_talk=saved.push_to_talk,
            streams=saved.streams,
            seconds_sent=saved.seconds_sent,
            last_stream=saved.last_stream,
            days={day.date: day for day in saved.days},
        )

    def message(self) -> SottoLedger:
        """The ledger as Sotto's message."""
        return SottoLedger(
            wakes=self.wakes,
            push_to_talk=self.push_to_talk,
            streams=self.streams,
            seconds_sent=self.seconds_sent,
            last_stream=self.last_stream,
            days=tuple(self.days[date] for date in sorted(self.days)),
            seconds_listened=self.seconds_sent,
        )
