"""APA102 RGB LEDs over SPI, as on the ReSpeaker 2-Mic Pi HAT (needs the spidev package)."""

from __future__ import annotations

from typing import Any, Final

from sotto_voice.messages import IndicatorState

from .errors import MissingExtraError

_COLORS: Final = {
    IndicatorState.IDLE: (0, 0, 0),
    IndicatorState.LISTENING: (0, 90, 255),
    IndicatorState.LISTENING_ON_DEVICE: (200, 200, 200),
    IndicatorState.THINKING: (140, 0, 255),
    IndicatorState.SPEAKING: (0, 200, 60),
    IndicatorState.MUTED: (255, 0, 0),
    IndicatorState.ERROR: (255, 110, 0),
}
_SPI_HZ: Final = 8_000_000


def frame(colors: list[tuple[int, int, int]], brightness: float) -> bytes:
    """Return the SPI bytes that set the LEDs to colors (r, g, b) at brightness 0..1."""
    level = 0xE0 | max(0, min(31, round(brightness * 31)))
    body = bytearray(4)  # start frame
    for red, green, blue in colors:
        body += bytes((level, blue, green, red))
    # End frame: at least one bit per two LEDs so the last LED latches its data.
    body += b"\xff" * (4 + len(colors) // 16)
    return bytes(body)


class Apa102Output:
    """All LEDs in one color per state; off when idle."""

    def __init__(self, *, leds: int = 3, brightness: float = 0.2, bus: int = 0, device: int = 1):
        try:
            import spidev
        except ImportError as err:
            raise MissingExtraError(
                "APA102 LEDs (ReSpeaker HAT)",
                "spidev",
                "enable SPI with raspi-config, then: sudo apt install python3-spidev "
                "(or pip install spidev)",
            ) from err
        self._spi: Any = spidev.SpiDev()
        try:
            self._spi.open(bus, device)
        except OSError as err:
            raise MissingExtraError(
                "APA102 LEDs (ReSpeaker HAT)",
                "spidev",
                f"/dev/spidev{bus}.{device} cannot be opened ({err}); enable SPI with raspi-config",
            ) from err
        self._spi.max_speed_hz = _SPI_HZ
        self._leds = leds
        self._brightness = brightness

    def __repr__(self) -> str:
        return f"Apa102Output({self._leds} LEDs)"

    async def show(self, state: IndicatorState) -> None:
        """Set every LED to the state's color (a few microseconds of SPI)."""
        self._spi.xfer2(list(frame([_COLORS[state]] * self._leds, self._brightness)))

    async def close(self) -> None:
        """Turn the LEDs off and close SPI."""
        self._spi.xfer2(list(frame([(0, 0, 0)] * self._leds, 0.0)))
        self._spi.close()
