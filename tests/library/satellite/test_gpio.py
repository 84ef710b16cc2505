"""GPIO through gpiozero (the optional extra), on gpiozero's own mock pins: a mute button
that HA cannot override, a push-to-talk button, and an LED that is on while audio leaves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wyoming.error import Error
from wyoming.timer import TimerFinished

from demo.speech import utterance
from sotto_voice.messages import (
    ERROR_HARDWARE_MUTE,
    MuteSource,
    SetMute,
    Silenced,
    SilencedBy,
    StopStreaming,
    StreamStart,
)

from .harness import controller, make_config, running_satellite

gpiozero = pytest.importorskip("gpiozero")
mock = pytest.importorskip("gpiozero.pins.mock")

MUTE_PIN, TALK_PIN, LED_PIN = 17, 27, 12


@pytest.fixture
def pins() -> Iterator[Any]:
    """Use gpiozero's mock pin factory for the test."""
    factory = mock.MockFactory()
    gpiozero.Device.pin_factory = factory
    try:
        yield factory
    finally:
        factory.reset()
        gpiozero.Device.pin_factory = None


async def test_buttons_and_led(tmp_path: Path, pins: Any) -> None:
    """Press mute: muted by hardware, HA cannot undo it; press again: unmuted. Press talk:
    a stream starts, and the LED is lit while it runs."""
    config = make_config(
        tmp_path,
        mute={"gpio": {"pin": MUTE_PIN}},
        push_to_talk={"gpio": {"pin": TALK_PIN}},
        indicator={"outputs": [{"type": "gpio_led", "pin": LED_PIN}]},
    )
    async with running_satellite(config) as sat, controller(sat) as ha:
        await ha.state(lambda s: not s.muted)
        mute_button, talk_button, led = pins.pin(MUTE_PIN), pins.pin(TALK_PIN), pins.pin(LED_PIN)

        mark = len(ha.events)
        mute_button.drive_low()  # pressed (pull-up: active low)
        mute_button.drive_high()
        await ha.state(lambda s: s.muted and s.mute_source == MuteSource.HARDWARE, after=mark)
        assert not sat.push.is_open
        await ha.send(SetMute(muted=False).event())
        refusal = Error.from_event(await ha.wait_for(lambda e: e.type == "error", after=mark))
        assert refusal.code == ERROR_HARDWARE_MUTE

        mark = len(ha.events)
        mute_button.drive_low()
        mute_button.drive_high()
        await ha.state(lambda s: not s.muted, after=mark)

        assert not led.state
        talk_button.drive_low()
        talk_button.drive_high()
        await ha.settled()
        speech = utterance(0.2, "turn on the kitchen light and the hall")
        await sat.feed(speech[: len(speech) // 2])
        start = StreamStart.from_event(await ha.wait_for(StreamStart.is_stream_start))
        await ha.state(lambda s: s.streaming)
        assert led.state  # lit while audio leaves
        await ha.send(StopStreaming(stream_id=start.stream_id).event())
        await ha.stream_stop()
        await ha.state(lambda s: not s.streaming)
        assert ha.audio()


@pytest.mark.parametrize(
    ("pin", "by"), [(TALK_PIN, SilencedBy.BUTTON), (MUTE_PIN, SilencedBy.MUTE)]
)
async def test_a_gpio_button_stops_a_ringing_timer(
    tmp_path: Path, pins: Any, pin: int, by: SilencedBy
) -> None:
    """On a Pi's own pins too, the push-to-talk button or the mute button pressed while a
    timer rings stops it at once, starting no command; HA is told how it was stopped."""
    config = make_config(
        tmp_path,
        mute={"gpio": {"pin": MUTE_PIN}},
        push_to_talk={"gpio": {"pin": TALK_PIN}},
    )
    async with running_satellite(config) as sat, controller(sat) as ha:
        await ha.state(lambda s: not s.muted)
        await ha.send(TimerFinished(id="pasta").event())
        await ha.state(lambda s: s.timer_ringing)
        mark = len(ha.events)
        pins.pin(pin).drive_low()
        pins.pin(pin).drive_high()
        event = await ha.wait_for(lambda e: Silenced.is_type(e.type), after=mark)
        silenced = Silenced.from_event(event)
        assert (silenced.timer, silenced.reply, silenced.by) == (True, False, by)
        await ha.state(lambda s: not s.timer_ringing, after=mark)
        await ha.settled()
        assert ha.stream_starts() == []
