"""Speaker sinks (aplay, any command, WAV files) and the Speaker that plays through one."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Final, Protocol

from sotto_voice.audio import PcmFormat

from .audio import scale_volume
from .errors import AudioError

_LOGGER = logging.getLogger(__name__)

_STOP_TIMEOUT: Final = 2.0
_ALSA_FORMATS: Final = {1: "U8", 2: "S16_LE", 3: "S24_3LE", 4: "S32_LE"}


class Playback(Protocol):
    """One clip being played."""

    async def write(self, pcm: bytes) -> None:
        """Queue PCM for playing."""

    async def finish(self) -> None:
        """Wait until everything written has been played."""

    async def abort(self) -> None:
        """Stop playing at once."""


class AudioSink(Protocol):
    """Where played audio goes."""

    async def open(self, fmt: PcmFormat) -> Playback:
        """Start playing a clip in the given format."""


class _ProcessPlayback:
    def __init__(self, process: asyncio.subprocess.Process, name: str) -> None:
        self._process = process
        self._name = name

    async def write(self, pcm: bytes) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(pcm)
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as err:
            raise AudioError(f"the speaker command {self._name!r} stopped: {err}") from err

    async def finish(self) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            stdin.close()
            await stdin.wait_closed()
        code = await self._process.wait()
        if code != 0:
            _LOGGER.warning("speaker command %r exited with status %s", self._name, code)

    async def abort(self) -> None:
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), _STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self._process.kill()
                await self._process.wait()


class CommandSink:
    """Plays each clip through a command reading raw PCM on stdin.

    The command may contain {rate}, {width}, {channels} and {format} (ALSA's name).
    """

    def __init__(self, argv: tuple[str, ...]) -> None:
        if not argv:
            raise AudioError("the speaker command is empty")
        self._argv = argv

    async def open(self, fmt: PcmFormat) -> Playback:
        """Start the command for one clip."""
        values = {
            "rate": fmt.rate,
            "width": fmt.width,
            "channels": fmt.channels,
            "format": _ALSA_FORMATS.get(fmt.width, "S16_LE"),
        }
        try:
            argv = [part.format(**values) for part in self._argv]
        except (KeyError, IndexError, ValueError) as err:
            raise AudioError(f"the speaker command has a bad placeholder: {err}") from err
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except FileNotFoundError as err:
            raise AudioError(
                f"the speaker command {argv[0]!r} is not installed"
                + (" (sudo apt install alsa-utils)" if argv[0] == "aplay" else "")
            ) from err
        except OSError as err:
            raise AudioError(f"cannot start the speaker command {argv[0]!r}: {err}") from err
        return _ProcessPlayback(process, argv[0])


def aplay_sink(device: str = "default") -> CommandSink:
    """Return a sink that plays through an ALSA device with aplay."""
    return CommandSink(
        (
            "aplay",
            "-D",
            device,
            "-q",
            "-r",
            "{rate}",
            "-c",
            "{channels}",
            "-f",
            "{format}",
            "-t",
            "raw",
        )
    )


class _WavPlayback:
    def __init__(self, path: Path, fmt: PcmFormat, speed: float) -> None:
        # Written under a ".part" name and renamed when closed, so whoever watches the
        # directory only ever sees whole clips.
        self._path = path
        self._partial = path.with_name(path.name + ".part")
        self._fmt = fmt
        self._speed = speed
        self._wav = wave.open(str(self._partial), "wb")  # noqa: SIM115  # closed in _close
        self._wav.setnchannels(fmt.channels)
        self._wav.setsampwidth(fmt.width)
        self._wav.setframerate(fmt.rate)
        self._started = time.monotonic()
        self._seconds = 0.0

    async def write(self, pcm: bytes) -> None:
        self._wav.writeframes(pcm)
        self._seconds += len(pcm) / self._fmt.bytes_per_second

    async def finish(self) -> None:
        if self._speed > 0:
            # A real speaker takes as long as the audio lasts; so does this one.
            remaining = self._started + self._seconds / self._speed - time.monotonic()
            if remaining > 0:
                await asyncio.sleep(remaining)
        self._close()

    async def abort(self) -> None:
        self._close()

    def _close(self) -> None:
        self._wav.close()
        self._partial.replace(self._path)


class WavSink:
    """Writes each clip to its own WAV file in a directory, taking real time by default."""

    def __init__(self, directory: Path, *, speed: float = 1.0) -> None:
        self._directory = directory
        self._speed = speed
        self._counter = itertools.count(1)

    async def open(self, fmt: PcmFormat) -> Playback:
        """Create the next WAV file."""
        try:
            self._directory.mkdir(parents=True, exist_ok=True)
            path = (
                self._directory / f"{time.strftime('%Y%m%d-%H%M%S')}-{next(self._counter):04d}.wav"
            )
            return _WavPlayback(path, fmt, self._speed)
        except OSError as err:
            raise AudioError(f"{self._directory}: cannot write a WAV file ({err})") from err


PlayListener = Callable[[str, bool], None]
"""Called with (kind, playing) when a clip starts and when it ends."""


class Speaker:
    """Plays clips one at a time through a sink, at the current volume.

    Listeners hear when playing starts (just before the first byte goes to the sink) and
    ends; the satellite uses that to keep the wake word deaf to its own voice.
    """

    def __init__(self, sink: AudioSink | None, *, volume: float = 1.0) -> None:
        self._sink = sink
        self.volume = volume
        self._lock = asyncio.Lock()
        self._listeners: list[PlayListener] = []
        self._playing = 0

    @property
    def available(self) -> bool:
        """Return True if there is a sink to play through."""
        return self._sink is not None

    @property
    def playing(self) -> bool:
        """Return True while a clip is being played."""
        return self._playing > 0

    def add_listener(self, listener: PlayListener) -> Callable[[], None]:
        """Call listener on every start and end of a clip; returns an unsubscribe callable."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _notify(self, kind: str, playing: bool) -> None:
        for listener in list(self._listeners):
            try:
                listener(kind, playing)
            except Exception:
                _LOGGER.exception("speaker listener failed")

    @contextlib.asynccontextmanager
    async def clip(
        self, fmt: PcmFormat, *, kind: str
    ) -> AsyncIterator[Callable[[bytes], Awaitable[None]]]:
        """Play one clip: yields an async writer; leaving the block waits for the end."""
        if self._sink is None:
            raise AudioError("this satellite has no speaker")
        async with self._lock:
            playback = await self._sink.open(fmt)
            self._playing += 1
            self._notify(kind, True)
            done = False
            try:

                async def write(pcm: bytes) -> None:
                    await playback.write(scale_volume(pcm, self.volume, fmt.width))

                yield write
                await playback.finish()
                done = True
            finally:
                if not done:
                    await playback.abort()
                self._playing -= 1
                self._notify(kind, False)

    async def play(self, pcm: bytes, fmt: PcmFormat, *, kind: str) -> None:
        """Play a whole clip and wait until it has been played."""
        async with self.clip(fmt, kind=kind) as write:
            await write(pcm)
