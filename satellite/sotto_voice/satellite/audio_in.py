"""Microphone sources: arecord, any command writing raw PCM, a WAV file, or pushed audio.

Every source delivers 16 kHz 16-bit mono PCM in chunks of exactly the size asked for
(CHUNK_BYTES unless the satellite wants the next audio sooner, right after a wake word). A source
is started when the satellite is unmuted and stopped when it is muted: for command
sources stopping means the process is terminated, so a muted microphone is closed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
import wave
from pathlib import Path
from typing import Final, Protocol

from .audio import CHUNK_BYTES, RATE, WIDTH
from .errors import AudioError

_LOGGER = logging.getLogger(__name__)

_STOP_TIMEOUT: Final = 2.0
"""Seconds a capture process gets to exit after SIGTERM before it is killed."""

_STDERR_LINES: Final = 20


class EndOfAudio(AudioError):
    """A source that ends (a WAV file with after_end=stop) has no more audio."""


class AudioSource(Protocol):
    """Where captured audio comes from."""

    async def start(self) -> None:
        """Open the microphone (start the capture process)."""

    async def read(self, size: int = CHUNK_BYTES) -> bytes:
        """Return the next size bytes of audio (raises AudioError when it fails or ends)."""

    async def stop(self) -> None:
        """Close the microphone (stop the capture process); safe to call twice."""


class CommandSource:
    """Runs a command that writes raw 16 kHz 16-bit mono PCM to stdout."""

    def __init__(self, argv: tuple[str, ...]) -> None:
        if not argv:
            raise AudioError("the microphone command is empty")
        self._argv = argv
        self._process: asyncio.subprocess.Process | None = None
        self._stderr_task: asyncio.Task[None] | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES)

    @property
    def pid(self) -> int | None:
        """Return the capture process id while it runs."""
        process = self._process
        return None if process is None or process.returncode is not None else process.pid

    async def start(self) -> None:
        """Start the capture process."""
        if self._process is not None:
            return
        try:
            self._process = await asyncio.create_subprocess_exec(
                *self._argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError as err:
            raise AudioError(
                f"the microphone command {self._argv[0]!r} is not installed"
                + (" (sudo apt install alsa-utils)" if self._argv[0] == "arecord" else "")
            ) from err
        except OSError as err:
            raise AudioError(
                f"cannot start the microphone command {self._argv[0]!r}: {err}"
            ) from err
        self._stderr.clear()
        self._stderr_task = asyncio.create_task(self._drain_stderr(self._process))
        _LOGGER.debug("microphone started: %s (pid %s)", self._argv[0], self._process.pid)

    async def _drain_stderr(self, process: asyncio.subprocess.Process) -> None:
        # Keep the pipe empty so a chatty recorder never blocks; keep the tail for errors.
        assert process.stderr is not None
        while line := await process.stderr.readline():
            text = line.decode("utf-8", "replace").rstrip()
            self._stderr.append(text)
            _LOGGER.debug("%s: %s", self._argv[0], text)

    async def read(self, size: int = CHUNK_BYTES) -> bytes:
        """Return the next size bytes from the capture process."""
        process = self._process
        if process is None or process.stdout is None:
            raise AudioError("the microphone is not started")
        try:
            return await process.stdout.readexactly(size)
        except asyncio.IncompleteReadError:
            pass
        code = await process.wait()
        if self._stderr_task is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 1.0)
        detail = " | ".join(self._stderr) or "no error output"
        raise AudioError(f"the microphone command {self._argv[0]!r} ended (exit {code}): {detail}")

    async def stop(self) -> None:
        """Terminate the capture process and wait for it."""
        process, self._process = self._process, None
        if process is not None:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), _STOP_TIMEOUT)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await process.wait()
            _LOGGER.debug("microphone stopped: %s", self._argv[0])
        task, self._stderr_task = self._stderr_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def arecord_source(device: str = "default") -> CommandSource:
    """Return a source that records from an ALSA device with arecord."""
    return CommandSource(
        (
            "arecord",
            "-D",
            device,
            "-q",
            "-r",
            str(RATE),
            "-c",
            "1",
            "-f",
            "S16_LE",
            "-t",
            "raw",
            # Hand audio over every 32 ms (the default can be 125 ms), so the first audio
            # after a wake word is never far away; keep half a second against overruns.
            "--period-time=32000",
            "--buffer-time=512000",
        )
    )


class WavFileSource:
    """Plays a 16 kHz 16-bit mono WAV file into the satellite, like a microphone would.

    speed 1 paces chunks in real time, 4 four times faster, 0 as fast as possible. After
    the file ends it delivers silence (a quiet room) or, with after_end="stop", raises
    EndOfAudio. Every start begins at the start of the file.
    """

    def __init__(self, path: Path, *, speed: float = 1.0, after_end: str = "silence") -> None:
        self._path = path
        self._speed = speed
        self._after_end = after_end
        self._pcm = b""
        self._offset = 0
        self._delivered = 0
        self._started_at = 0.0
        self._open = False
        self._check_and_load()

    def _check_and_load(self) -> None:
        try:
            with wave.open(str(self._path), "rb") as wav:
                if (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) != (RATE, WIDTH, 1):
                    raise AudioError(
                        f"{self._path}: must be 16000 Hz, 16-bit, mono; it is "
                        f"{wav.getframerate()} Hz, {8 * wav.getsampwidth()}-bit, "
                        f"{wav.getnchannels()} channel(s)"
                    )
                self._pcm = wav.readframes(wav.getnframes())
        except (OSError, EOFError, wave.Error) as err:
            raise AudioError(f"{self._path}: cannot read the WAV file ({err})") from err

    async def start(self) -> None:
        """Start delivering the file from its beginning."""
        self._offset = 0
        self._delivered = 0
        self._started_at = time.monotonic()
        self._open = True

    async def read(self, size: int = CHUNK_BYTES) -> bytes:
        """Return the next size bytes, paced by speed."""
        if not self._open:
            raise AudioError("the WAV microphone is not started")
        if self._speed > 0:
            due = self._started_at + self._delivered / (RATE * WIDTH) / self._speed
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        else:
            await asyncio.sleep(0)
        self._delivered += size
        if self._offset >= len(self._pcm):
            if self._after_end == "stop":
                raise EndOfAudio(f"{self._path}: end of file")
            return bytes(size)
        chunk = self._pcm[self._offset : self._offset + size]
        self._offset += size
        return chunk.ljust(size, b"\0")

    async def stop(self) -> None:
        """Stop delivering audio."""
        self._open = False


class PushSource:
    """A source fed by the program itself (tests, or embedding the satellite elsewhere).

    push() queues PCM; read() returns it in pieces of the size asked for and waits for them.
    While stopped, pushed audio is dropped: a muted microphone hears nothing.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._ready = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._open = False
        self.starts = 0
        """How many times the source was started."""

    @property
    def is_open(self) -> bool:
        """Return True while the satellite has this microphone open."""
        return self._open

    def push(self, pcm: bytes) -> None:
        """Queue PCM for the satellite to read (dropped while the source is stopped)."""
        if not self._open:
            return
        self._buffer += pcm
        if len(self._buffer) >= CHUNK_BYTES:
            # Only a whole chunk is owed to the reader: clearing for less would leave
            # wait_drained() waiting for a read that never comes.
            self._drained.clear()
        self._ready.set()

    @property
    def pending(self) -> int:
        """Return the bytes pushed but not yet read."""
        return len(self._buffer)

    async def start(self) -> None:
        """Open the source."""
        self._open = True
        self.starts += 1

    async def read(self, size: int = CHUNK_BYTES) -> bytes:
        """Return the next size bytes, waiting until they have been pushed."""
        await asyncio.sleep(0)  # like a real microphone, let others run between chunks
        while len(self._buffer) < size:
            if not self._open:
                raise AudioError("the pushed microphone is not started")
            self._ready.clear()
            await self._ready.wait()
        chunk = bytes(self._buffer[:size])
        del self._buffer[:size]
        if len(self._buffer) < CHUNK_BYTES:
            self._drained.set()
        return chunk

    async def wait_drained(self) -> None:
        """Wait until every whole chunk pushed has been read (or the source is stopped)."""
        await self._drained.wait()

    async def stop(self) -> None:
        """Close the source and drop anything queued."""
        self._open = False
        self._buffer.clear()
        self._ready.set()
        self._drained.set()
