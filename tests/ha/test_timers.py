"""Timers set by voice on a satellite are shown on that satellite for their whole life."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from wyoming.event import Event
from wyoming.timer import TimerCancelled, TimerFinished, TimerStarted, TimerUpdated

from demo.home import sotto_device
from sotto_voice.link import (
    ConnectionClosedError,
    Link,
    LinkError,
    LinkKey,
    LinkServer,
    PeerIdentity,
)

from .peers import paired_entry

pytestmark = pytest.mark.usefixtures("socket_enabled")

KEY = LinkKey.generate()
TIMER_TYPES = ("timer-started", "timer-updated", "timer-cancelled", "timer-finished")


async def test_a_voice_timer_is_started_paused_cancelled_and_finished_on_the_satellite(
    hass: HomeAssistant,
) -> None:
    """Each step of a timer set from the kitchen satellite reaches that satellite."""
    timers: asyncio.Queue[Event] = asyncio.Queue()

    async def satellite(link: Link) -> None:
        with contextlib.suppress(ConnectionClosedError, LinkError):
            async for event in link:
                if event.type in TIMER_TYPES:
                    timers.put_nowait(event)

    identity = PeerIdentity(
        device_id="kitchen-satellite", name="Kitchen satellite", role="satellite"
    )
    server = LinkServer(satellite, key=KEY, identity=identity)
    async with server.serving("127.0.0.1", 0) as port:
        entry = paired_entry(port, KEY.to_base64())
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        device = sotto_device(hass, "kitchen-satellite")
        assert device is not None

        async def say(text: str) -> None:
            result = await conversation.async_converse(
                hass, text, None, Context(), language="en", device_id=device.id
            )
            assert result.response.response_type.value == "action_done", text

        async def next_timer_event() -> Event:
            async with asyncio.timeout(30):
                return await timers.get()

        await say("set a timer for 5 minutes")
        started = TimerStarted.from_event(await next_timer_event())
        assert started.total_seconds == 300
        await say("pause the timer")
        paused = TimerUpdated.from_event(await next_timer_event())
        assert (paused.id, paused.is_active) == (started.id, False)
        await say("cancel the timer")
        assert TimerCancelled.from_event(await next_timer_event()).id == started.id

        await say("set a timer for 1 second")
        short = TimerStarted.from_event(await next_timer_event())
        assert TimerFinished.from_event(await next_timer_event()).id == short.id
        assert timers.empty()
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
