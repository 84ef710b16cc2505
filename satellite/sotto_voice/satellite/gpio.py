"""GPIO through gpiozero (optional): a mute button or switch, and an indicator LED."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from sotto_voice.messages import IndicatorState

from .errors import MissingExtraError

_LOGGER = logging.getLogger(__name__)

_HINT = (
    "on Raspberry Pi OS: sudo apt install python3-gpiozero python3-lgpio "
    "(or pip install gpiozero lgpio)"
)


def _gpiozero() -> Any:
    try:
        import gpiozero
    except ImportError as err:
        raise MissingExtraError("GPIO", "gpiozero", _HINT) from err
    return gpiozero


class GpioLedOutput:
    """One LED: on while audio leaves or a reply plays, flickering while a command is heard on
    the device, blinking while thinking or in error, off otherwise."""

    def __init__(self, pin: int, *, active_high: bool = True) -> None:
        self._led = _gpiozero().LED(pin, active_high=active_high)

    def __repr__(self) -> str:
        return f"GpioLedOutput({self._led.pin})"

    async def show(self, state: IndicatorState) -> None:
        """Set the LED for state."""
        if state in (IndicatorState.LISTENING, IndicatorState.SPEAKING):
            self._led.on()
        elif state == IndicatorState.LISTENING_ON_DEVICE:
            # On with a flicker: listening, but to recognise here (nothing leaves).
            self._led.blink(on_time=0.9, off_time=0.1)
        elif state == IndicatorState.THINKING:
            self._led.blink(on_time=0.1, off_time=0.1)
        elif state == IndicatorState.ERROR:
            self._led.blink(on_time=0.5, off_time=0.5)
        else:
            self._led.off()

    async def close(self) -> None:
        """Turn the LED off and release the pin."""
        self._led.close()


class GpioMuteButton:
    """A mute input on a GPIO pin: a push button that toggles, or a switch that holds."""

    def __init__(
        self,
        pin: int,
        *,
        mode: str,
        pull_up: bool,
        on_action: Callable[[str], None],
    ) -> None:
        """on_action is called in the event loop with `toggle`, `mute` or `unmute`."""
        self._loop = asyncio.get_running_loop()
        self._mode = mode
        self._on_action = on_action
        self._button = _gpiozero().Button(pin, pull_up=pull_up, bounce_time=0.05)
        if mode == "toggle":
            self._button.when_pressed = lambda: self._emit("toggle")
        else:
            self._button.when_pressed = lambda: self._emit("mute")
            self._button.when_released = lambda: self._emit("unmute")

    def _emit(self, action: str) -> None:
        # gpiozero calls back on its own thread.
        self._loop.call_soon_threadsafe(self._on_action, action)

    @property
    def switch_closed(self) -> bool:
        """Return True if a switch-mode input is in its muted position."""
        return self._mode == "switch" and bool(self._button.is_pressed)

    def close(self) -> None:
        """Release the pin."""
        self._button.close()


class GpioTalkButton:
    """A push-to-talk button on a GPIO pin."""

    def __init__(self, pin: int, *, on_press: Callable[[str], None], pull_up: bool = True) -> None:
        """on_press is called in the event loop with `talk`."""
        self._loop = asyncio.get_running_loop()
        self._button = _gpiozero().Button(pin, pull_up=pull_up, bounce_time=0.05)
        self._button.when_pressed = lambda: self._loop.call_soon_threadsafe(on_press, "talk")

    def close(self) -> None:
        """Release the pin."""
        self._button.close()
