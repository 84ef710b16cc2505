"""Real `sotto-satellite` and `sotto-engine` processes on 127.0.0.1 for end-to-end tests.

A satellite's microphone is a spool directory a test can speak into (see mic_feeder).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from sotto.link import LinkKey, write_key_file
from tests.speech import write_wav

FEEDER = Path(__file__).with_name("mic_feeder.py")
SATELLITE = Path(sys.executable).with_name("sotto-satellite")
ENGINE = Path(sys.executable).with_name("sotto-engine")


@dataclass
class SatelliteProcess:
    """A running satellite: its address, key, and the spool its microphone plays from."""

    device_id: str
    name: str
    port: int
    key: LinkKey
    spool: Path
    speaker_dir: Path
    process: asyncio.subprocess.Process
    log: Path
    _said: int = 0

    def say(self, pcm: bytes) -> None:
        """Speak into the satellite's microphone (16 kHz mono PCM)."""
        self._said += 1
        staging = self.spool / f".{self._said:04d}.tmp"
        write_wav(staging, pcm)
        staging.rename(self.spool / f"{self._said:04d}.wav")

    def press(self, word: str) -> None:
        """Press the satellite's mute button: the hook prints `mute`, `unmute` or `toggle`."""
        with (self.spool.parent / "button").open("a") as button:
            button.write(word + "\n")

    def replies(self) -> list[Path]:
        """WAV files the satellite's speaker has written."""
        return sorted(self.speaker_dir.glob("*.wav"))


def free_port() -> int:
    """A port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def run_satellite(
    workdir: Path,
    *,
    device_id: str = "kitchen-satellite",
    name: str = "Kitchen satellite",
    speed: float = 1.0,
    extra: dict[str, object] | None = None,
    key: LinkKey | None = None,
    port: int | None = None,
) -> AsyncIterator[SatelliteProcess]:
    """Start `sotto-satellite run` and stop it (by its PID) when the block ends."""
    workdir.mkdir(parents=True, exist_ok=True)
    spool = workdir / "mic"
    speaker = workdir / "speaker"
    spool.mkdir(exist_ok=True)
    speaker.mkdir(exist_ok=True)
    key = key or LinkKey.generate()
    key_file = workdir / "link.key"
    write_key_file(key_file, key, overwrite=True)
    port = port or free_port()
    config: dict[str, object] = {
        "name": name,
        "device_id": device_id,
        "state_dir": str(workdir / "state"),
        "link": {"host": "127.0.0.1", "port": port, "key_file": str(key_file)},
        "discovery": {"enabled": False},
        "mic": {
            "source": "command",
            "command": [sys.executable, str(FEEDER), str(spool), "--speed", str(speed)],
        },
        "speaker": {"sink": "wav", "directory": str(speaker)},
        # A mute button: each line appended to this file is a press (see `press`).
        "mute": {"command": ["tail", "-n", "0", "-F", str(workdir / "button")]},
        **(extra or {}),
    }
    async with _running(
        [str(SATELLITE), "run", "--config"], workdir / "satellite", config, port
    ) as (process, log):
        yield SatelliteProcess(device_id, name, port, key, spool, speaker, process, log)


@dataclass
class EngineProcess:
    """A running sotto-engine: its address and key."""

    device_id: str
    name: str
    port: int
    key: LinkKey
    process: asyncio.subprocess.Process
    log: Path


@contextlib.asynccontextmanager
async def run_engine(
    workdir: Path, *, device_id: str = "living-room-engine", name: str = "Engine"
) -> AsyncIterator[EngineProcess]:
    """Start `sotto-engine run` with no piper voice (so espeak-ng speaks) and stop it after."""
    workdir.mkdir(parents=True, exist_ok=True)
    key = LinkKey.generate()
    key_file = workdir / "engine.key"
    write_key_file(key_file, key, overwrite=True)
    port = free_port()
    config = {
        "name": name,
        "device_id": device_id,
        "state_dir": str(workdir / "state"),
        "link": {"host": "127.0.0.1", "port": port, "key_file": str(key_file)},
        "tts": {"voices_dir": str(workdir / "voices")},
    }
    async with _running([str(ENGINE), "--config"], workdir / "engine", config, port, "run") as (
        process,
        log,
    ):
        yield EngineProcess(device_id, name, port, key, process, log)


@contextlib.asynccontextmanager
async def _running(
    argv: list[str], stem: Path, config: dict[str, object], port: int, *after: str
) -> AsyncIterator[tuple[asyncio.subprocess.Process, Path]]:
    """Write the config, start the process, wait for its port; stop it by PID at the end."""
    config_file = stem.with_suffix(".yaml")
    config_file.write_text(yaml.safe_dump(config))
    log = stem.with_suffix(".log")
    with log.open("wb") as log_out:
        process = await asyncio.create_subprocess_exec(
            *argv,
            str(config_file),
            *after,
            stdout=log_out,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        await _wait_for_port(port, process, log)
        yield process, log
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


async def _wait_for_port(port: int, process: asyncio.subprocess.Process, log: Path) -> None:
    for _ in range(600):
        if process.returncode is not None:
            raise RuntimeError(f"{log.stem} exited: {log.read_text()[-2000:]}")
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RuntimeError(f"{log.stem} did not listen on {port}: {log.read_text()[-2000:]}")
