"""The real `sotto-satellite` console script, run in a subprocess."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sotto.link import LinkKey, load_key_file

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
        ("link:\n  port: 70000\n", "link.port", "at most 65535"),
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
    checked = run("check-config", "-c", config, "--set", "wake.sensitivity=0.7", cwd=tmp_path)
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
