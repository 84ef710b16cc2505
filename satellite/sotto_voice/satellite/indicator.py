"""The indicator: one state (idle, listening, thinking, speaking, muted, error) shown on
pluggable outputs (shell commands, a GPIO LED, APA102 LEDs).

`show()` returns only after every output has been told, so a caller that must not send
audio before the light is on (the satellite) awaits it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from typing import Final, Protocol

from sotto_voice.messages import IndicatorState

from .config import OutputConfig
from .errors import SatelliteError

_LOGGER = logging.getLogger(__name__)

_COMMAND_TIMEOUT: Final = 2.0
"""A state command that takes longer is left running; the indicator moves on."""


class IndicatorOutput(Protocol):
    """Something that shows the indicator state."""

    async def show(self, state: IndicatorState) -> None:
        """Show the state (return when it is visible)."""

    async def close(self) -> None:
        """Release the hardware."""


StateListener = Callable[[IndicatorState], None]


class Indicator:
    """Holds the current state and tells the outputs about every change, in order."""

    def __init__(self, outputs: Sequence[IndicatorOutput] = ()) -> None:
        self._outputs = list(outputs)
        self._state = IndicatorState.IDLE
        self._shown: IndicatorState | None = None
        self._lock = asyncio.Lock()
        self._listeners: list[StateListener] = []

    @property
    def state(self) -> IndicatorState:
        """Return the state last asked for."""
        return self._state

    def add_output(self, output: IndicatorOutput) -> None:
        """Add an output (it is shown the current state on the next change)."""
        self._outputs.append(output)

    def add_listener(self, listener: StateListener) -> Callable[[], None]:
        """Call listener after each change has been shown; returns an unsubscribe callable."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def show(self, state: IndicatorState) -> None:
        """Show state on every output; return once all of them have it."""
        self._state = state
        async with self._lock:
            # Under the lock, show only the newest state: quick flips collapse.
            target = self._state
            if target == self._shown:
                return
            results = await asyncio.gather(
                *(output.show(target) for output in self._outputs), return_exceptions=True
            )
            for output, result in zip(self._outputs, results, strict=True):
                if isinstance(result, Exception):
                    _LOGGER.warning("indicator output %s failed: %s", output, result)
            self._shown = target
            for listener in list(self._listeners):
                listener(target)

    async def close(self) -> None:
        """Close every output."""
        for output in self._outputs:
            try:
                await output.close()
            except Exception:
                _LOGGER.exception("cannot close indicator output %s", output)


class CommandOutput:
    """Runs a command on every state change: {state} in it is replaced, SOTTO_STATE is set."""

    def __init__(self, argv: tuple[str, ...]) -> None:
        if not argv:
            raise SatelliteError("an indicator command is empty")
        self._argv = argv
        self._running: set[asyncio.subprocess.Process] = set()

    def __repr__(self) -> str:
        return f"CommandOutput({self._argv[0]!r})"

    async def show(self, state: IndicatorState) -> None:
        """Run the command for state and wait (briefly) for it to finish."""
        argv = [part.replace("{state}", state.value) for part in self._argv]
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            env={**os.environ, "SOTTO_STATE": state.value},
        )
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), _COMMAND_TIMEOUT)
        except TimeoutError:
            _LOGGER.warning("indicator command %r is slow for state %s", argv[0], state)
            self._running.add(process)

    async def close(self) -> None:
        """Stop commands that are still running."""
        for process in self._running:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        self._running.clear()


def build_output(config: OutputConfig) -> IndicatorOutput:
    """Create the output a config entry describes (raises MissingExtraError)."""
    if config.type == "command":
        return CommandOutput(config.command)
    if config.type == "gpio_led":
        from .gpio import GpioLedOutput  # optional hardware package

        return GpioLedOutput(config.pin, active_high=config.active_high)
    if config.type == "apa102":
        from .apa102 import Apa102Output  # optional hardware package

        return Apa102Output(
            leds=config.leds,
            brightness=config.brightness,
            bus=config.spi_bus,
            device=config.spi_device,
        )
    raise SatelliteError(f"unknown indicator output type {config.type!r}")
