"""The real `sotto-satellite` console script, run in a subprocess."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from demo.speech import utterance, write_wav
from sotto_voice.link import ConnectionFailedError, LinkKey, PeerIdentity, connect, load_key_file
from sotto_voice.messages import MuteSource, SetMute, StreamStop
from sotto_voice.satellite.store import StateStore

SCRIPT = Path(sys.executable).with_name("sotto-satellite")


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run sotto-satellite with args and return what it did."""
    env = {**os.environ, "HOME": str(cwd), "XDG_STATE_HOME": str(cwd / "state")}
    env.pop("STATE_DIRECTORY", None)
    return subprocess.run(
        [str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=env,
        check=False,
    )


@pytest.mark.parametrize(
    ("yaml_text", "key", "problem"),
    [
        ("wake:\n  sensitivity: 1.5\n", "wake.sensitivity", "at most 1"),
        ("wake:\n  sensitivty: 0.5\n", "wake.sensitivty", "unknown key"),
        ("vad:\n  silence_seconds: short\n", "vad.silence_seconds", "must be a number"),
        ("mic:\n  source: usb\n", "mic.source", "must be one of: arecord, command, wav"),
        ("mic:\n  source: command\n", "mic.command", "is required when mic.source is 'command'"),
        ("wake:\n  model: hey_siri\n", "wake.model", "not a micro model"),
        ("link:\n  port: 70000\n", "link.port", "between 1 and 65535"),
        ("indicator:\n  outputs:\n    - type: laser\n", "indicator.outputs[0].type", "one of"),
        ("wake: [okay_nabu\n", "line 2", "not valid YAML"),
    ],
)
def test_bad_config_is_named_and_exits_2(
    tmp_path: Path, yaml_text: str, key: str, problem: str
) -> None:
    """A bad config file gives a message naming the key and the problem, and status 2."""
    config = tmp_path / "satellite.yaml"
    config.write_text(yaml_text)
    result = run("run", "--config", config, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert key in result.stderr
    assert problem in result.stderr
    assert str(config) in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_override_exits_2(tmp_path: Path) -> None:
    """Overrides are validated like the file: the key is named."""
    result = run("check-config", "--set", "vad.max_seconds=0.2", cwd=tmp_path)
    assert result.returncode == 2
    assert "vad.max_seconds" in result.stderr


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    """Naming a config file that is not there is a configuration error."""
    result = run("run", "--config", tmp_path / "nope.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert "no such configuration file" in result.stderr


def test_keygen_then_check_config(tmp_path: Path) -> None:
    """keygen writes a private key file and prints the key HA needs; check-config sees it."""
    state = tmp_path / "sat"
    result = run("keygen", "--state-dir", state, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    key_file = state / "link.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    printed = LinkKey.from_base64(result.stdout.strip())
    assert printed == load_key_file(key_file)

    again = run("keygen", "--state-dir", state, cwd=tmp_path)
    assert again.returncode == 1
    assert "already exists" in again.stderr
    assert load_key_file(key_file) == printed  # not replaced
    shown = run("keygen", "--show", "--state-dir", state, cwd=tmp_path)
    assert LinkKey.from_base64(shown.stdout.strip()) == printed

    config = tmp_path / "satellite.yaml"
    config.write_text(f"name: Kitchen\nstate_dir: {state}\nwake:\n  model: hey_jarvis\n")
    checked = run(
        "check-config",
        "-c",
        config,
        "--set",
        "wake.sensitivity=0.7",
        "--mic-command",
        "cat /dev/zero",
        "--speaker-wav-dir",
        tmp_path / "played",
        cwd=tmp_path,
    )
    assert checked.returncode == 0, checked.stderr
    assert "name: Kitchen" in checked.stdout
    assert "hey_jarvis (micro), sensitivity 0.7" in checked.stdout
    assert f"link key: {key_file} ok" in checked.stdout


def test_run_without_a_key_says_how_to_make_one(tmp_path: Path) -> None:
    """Starting before keygen fails with status 1 and the command to run."""
    result = run(
        "run", "--state-dir", tmp_path / "empty", "--no-discovery", "--port", "0", cwd=tmp_path
    )
    assert result.returncode == 1
    assert "sotto-satellite keygen" in result.stderr


def test_missing_hardware_package_is_named(tmp_path: Path) -> None:
    """LEDs configured but their package absent: check-config and run say which and how."""
    pytest.importorskip("pymicro_wakeword")
    if importlib.util.find_spec("spidev") is not None:
        pytest.skip("spidev is installed here")
    run("keygen", "--state-dir", tmp_path, cwd=tmp_path)
    config = tmp_path / "satellite.yaml"
    config.write_text(
        f"state_dir: {tmp_path}\ndiscovery:\n  enabled: false\nlink:\n  port: 0\n"
        "indicator:\n  outputs:\n    - type: apa102\n"
    )
    for command in ("check-config", "run"):
        result = run(command, "-c", config, cwd=tmp_path)
        assert result.returncode == 1
        assert "spidev" in result.stderr
        assert "raspi-config" in result.stderr


async def test_console_script_serves_a_wav_microphone(tmp_path: Path) -> None:
    """`sotto-satellite run --mic-wav`: a controller gets the command, not the wake word."""
    pcm = utterance(1.0, "okay nabu", 0.3, "turn on the kitchen light", 1.5)
    wav = write_wav(tmp_path / "mic.wav", pcm)
    state = tmp_path / "state"
    run("keygen", "--state-dir", state, cwd=tmp_path)
    StateStore(state).update(muted=True, mute_source=MuteSource.HA)  # wait for us
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        str(SCRIPT),
        "run",
        "--state-dir",
        str(state),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-discovery",
        "--mic-wav",
        str(wav),
        "--set",
        "mic.speed=4",
        "--speaker-wav-dir",
        str(tmp_path / "played"),
        stderr=asyncio.subprocess.DEVNULL,
    )
    identity = PeerIdentity(device_id="ha", name="Home Assistant", role="controller")
    try:
        async with asyncio.timeout(30):
            while True:
                try:
                    async with connect(
                        "127.0.0.1", port, key=load_key_file(state / "link.key"), identity=identity
                    ) as link:
                        await link.write_event(SetMute(muted=False).event())
                        audio = b""
                        async for event in link:
                            if event.type == "audio-chunk":
                                audio += event.payload or b""
                            if StreamStop.is_stream_stop(event):
                                break
                    break
                except ConnectionFailedError:
                    await asyncio.sleep(0.1)
    finally:
        process.terminate()
        assert await process.wait() == 0  # a clean stop on SIGTERM
    offset = pcm.find(audio)
    assert offset >= 1.5 * 32000
    assert len(audio) > 32000
