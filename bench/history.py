"""Benchmark the voice history: 100,000 interactions, then purge all and purge older-than.

Targets: each purge under 1 s on this machine, and the event loop never blocked longer
than 50 ms meanwhile (a ticker task measures how late it wakes up).

    .venv/bin/python bench/history.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from custom_components.sotto.history.model import Interaction, Outcome, Trigger
from custom_components.sotto.history.settings import Retention
from custom_components.sotto.history.store import HistoryStore

TICK = 0.005


class LoopWatch:
    """Wakes every 5 ms and records the worst lateness: how long the loop was blocked."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(TICK)
            self.worst = max(self.worst, time.perf_counter() - before - TICK)

    def __enter__(self) -> LoopWatch:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def make_rows(count: int) -> list[Interaction]:
    """Interactions spread over the last 90 days, with realistic text lengths."""
    now = dt_util.utcnow()
    return [
        Interaction(
            started_at=now - timedelta(days=90 * i / count),
            satellite_id=f"satellite-{i % 5}",
            satellite_name=f"Satellite {i % 5}",
            trigger=Trigger.WAKE_WORD,
            area="Kitchen",
            wake_word="okay_nabu",
            transcript=f"turn on the lights number {i} in the kitchen please",
            intent_response="action_done",
            targets=["light.kitchen_light"],
            outcome=Outcome.HANDLED,
            response_text="Turned on the light",
            audio_seconds=2.0,
            stt_ms=300.0,
            intent_ms=10.0,
            total_ms=900.0,
        )
        for i in range(count)
    ]


async def timed(label: str, action: object) -> float:
    """Await `action` under the loop watch and print the figures."""
    with LoopWatch() as watch:
        start = time.perf_counter()
        result = await action  # type: ignore[misc]
        took = time.perf_counter() - start
    print(f"{label:<28} {took * 1000:8.1f} ms   loop blocked at most {watch.worst * 1000:5.1f} ms")
    if result is not None and hasattr(result, "interactions"):
        print(f"{'':<28} removed {result.interactions} rows")
    return took


async def main(rows: int) -> None:
    """Fill, purge older-than, refill, purge all."""
    with tempfile.TemporaryDirectory() as config:
        hass = HomeAssistant(config)
        store = HistoryStore(
            hass,
            Path(config) / "sotto",
            Retention(transcript_days=90),
            keys_dir=Path(config) / "keys",
        )
        await store.async_open()
        batch = make_rows(rows)
        await timed(
            f"insert {rows} rows", hass.async_add_executor_job(store.add_many_blocking, batch)
        )
        await timed(
            "purge older than 45 days",
            store.async_purge(before=dt_util.utcnow() - timedelta(days=45)),
        )
        await timed(
            f"insert {rows} rows again", hass.async_add_executor_job(store.add_many_blocking, batch)
        )
        await timed("purge all", store.async_purge())
        await timed("one command (async_add)", store.async_add(batch[0]))
        size = sum(p.stat().st_size for p in (Path(config) / "sotto").rglob("*") if p.is_file())
        print(f"history files after purge: {size} bytes")
        await store.async_close()
        await hass.async_stop(force=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    asyncio.run(main(parser.parse_args().rows))
