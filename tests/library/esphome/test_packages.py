"""The ESPHome YAML packages in satellite/esphome: what Sotto relies on is really there.

The schema checks always run (PyYAML only). ESPHome's own `esphome config` check runs too
when the `esphome` program is installed (on PATH, or named by $SOTTO_ESPHOME); it
validates everything offline except the wake word models, which it would download, so
the models are pointed at pymicro-wakeword's copies of the same manifests.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the ESPHome packages")

PACKAGES = Path(__file__).resolve().parents[3] / "satellite" / "esphome"
BOARDS = ["atom-echo.yaml", "esp32-s3-box.yaml"]


class _Tagged:
    """A value behind an ESPHome tag (!secret, !lambda), kept with its tag."""

    def __init__(self, tag: str, value: str) -> None:
        self.tag = tag
        self.value = value


def _loader(base: Path) -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    def tagged(loader: yaml.SafeLoader, node: yaml.Node) -> _Tagged:
        return _Tagged(node.tag, loader.construct_scalar(node))  # type: ignore[arg-type]

    def include(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        return _load(base / loader.construct_scalar(node))  # type: ignore[arg-type]

    Loader.add_constructor("!secret", tagged)
    Loader.add_constructor("!lambda", tagged)
    Loader.add_constructor("!include", include)
    return Loader


def _load(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_loader(path.parent))


def _merged(board: str) -> dict[str, Any]:
    """The board file with its packages merged in (lists extended, as ESPHome does)."""
    config: dict[str, Any] = _load(PACKAGES / board)
    for package in config.pop("packages", {}).values():
        for key, value in package.items():
            if isinstance(value, list):
                config[key] = list(config.get(key, [])) + value
            elif isinstance(value, dict) and key != "substitutions":
                config[key] = {**value, **config.get(key, {})}
            else:
                config.setdefault(key, value)
    return config


def _object_id(name: str) -> str:
    """ESPHome's object ID of an entity name (what Sotto's transport looks for)."""
    return re.sub(r"[^a-z0-9_]", "", name.lower().replace(" ", "_"))


def _ids(items: list[dict[str, Any]]) -> set[str]:
    return {item["id"] for item in items if "id" in item}


@pytest.mark.parametrize("board", BOARDS)
def test_api_is_encrypted_with_a_secret_key(board: str) -> None:
    """Encryption is on, and the key comes from secrets.yaml, never from the repository."""
    key = _merged(board)["api"]["encryption"]["key"]
    assert isinstance(key, _Tagged), f"{board}: the API key must be a !secret"
    assert key.tag == "!secret"


@pytest.mark.parametrize("board", BOARDS)
def test_wake_word_runs_on_the_device_and_starts_the_assistant(board: str) -> None:
    """micro_wake_word on the device starts the voice assistant with the phrase it heard."""
    config = _merged(board)
    mww = config["micro_wake_word"]
    models = {model["id"] for model in mww["models"]}
    assert {"okay_nabu", "hey_jarvis"} <= models
    start = mww["on_wake_word_detected"][0]["voice_assistant.start"]
    assert start["wake_word"].tag == "!lambda"
    assert "wake_word" in start["wake_word"].value
    assert mww["microphone"] in _ids(config["microphone"])
    # The select Sotto maps to its wake word entity offers exactly the device's models.
    (select,) = config["select"]
    assert _object_id(select["name"]) == "wake_word"
    assert set(select["options"]) == models


@pytest.mark.parametrize("board", BOARDS)
def test_audio_and_replies_go_over_the_api(board: str) -> None:
    """The voice assistant has the board's microphone and speaker (replies are streamed)."""
    config = _merged(board)
    assistant = config["voice_assistant"]
    assert assistant["microphone"] in _ids(config["microphone"])
    assert assistant["speaker"] in _ids(config["speaker"])
    mic = next(m for m in config["microphone"] if m["id"] == assistant["microphone"])
    assert mic["sample_rate"] == 16000  # what Sotto's pipeline and transport expect


@pytest.mark.parametrize("board", BOARDS)
def test_mute_switch_and_button(board: str) -> None:
    """A restored "Mute" switch stops the assistant; the board's button toggles it."""
    config = _merged(board)
    (switch,) = config["switch"]
    assert _object_id(switch["name"]) == "mute"
    assert switch["restore_mode"] == "RESTORE_DEFAULT_OFF"
    assert {"voice_assistant.stop": None} in switch["on_turn_on"]
    buttons = [b for b in config["binary_sensor"] if "on_click" in b]
    assert any({"switch.toggle": switch["id"]} in b["on_click"] for b in buttons)
    # While muted, the idle script keeps the wake word off (nothing is even listened to).
    (idle,) = [s for s in config["script"] if s["id"] == "sotto_idle"]
    muted_branch = idle["then"][0]["if"]
    assert muted_branch["condition"] == {"switch.is_on": switch["id"]}
    assert {"micro_wake_word.stop": None} in muted_branch["then"]


@pytest.mark.parametrize("board", BOARDS)
def test_led_shows_listening_and_muted(board: str) -> None:
    """The indicator pulses while audio leaves the device, shows the answer, looks muted."""
    config = _merged(board)
    (led,) = config["light"]
    assert led["id"] == "sotto_led"
    assert any(effect.get("pulse", {}).get("name") == "Listening" for effect in led["effects"])
    listening = config["voice_assistant"]["on_listening"][0]["light.turn_on"]
    assert listening["effect"] == "Listening"
    # The pipeline's TTS start (forwarded by Sotto) stops the pulse: the answer is coming.
    answering = config["voice_assistant"]["on_tts_start"][0]["light.turn_on"]
    assert (answering["id"], answering["effect"]) == ("sotto_led", "None")
    (idle,) = [s for s in config["script"] if s["id"] == "sotto_idle"]
    muted_light = idle["then"][0]["if"]["then"][1]["light.turn_on"]
    assert muted_light["id"] == "sotto_led"


@pytest.mark.parametrize("board", BOARDS)
def test_project_name_lets_sotto_discover_it(board: str) -> None:
    """Sotto's zeroconf discovery offers only ESPHome projects named sotto.*."""
    assert _merged(board)["esphome"]["project"]["name"].startswith("sotto.")


def _esphome_program() -> str | None:
    return os.environ.get("SOTTO_ESPHOME") or shutil.which("esphome")


@pytest.mark.parametrize("board", BOARDS)
def test_esphome_accepts_the_package(board: str, tmp_path: Path) -> None:
    """ESPHome's own config check passes (offline: local copies of the model manifests)."""
    program = _esphome_program()
    if program is None:
        pytest.skip("esphome is not installed (set SOTTO_ESPHOME to its program to run this)")
    spec = importlib.util.find_spec("pymicro_wakeword")
    if spec is None or spec.origin is None:
        pytest.skip("pymicro-wakeword (local wake word manifests) is not installed")
    models = Path(spec.origin).parent / "models"
    for file in PACKAGES.glob("*.yaml"):
        text = file.read_text(encoding="utf-8")
        for model in ("okay_nabu", "hey_jarvis"):
            text = text.replace(f"- model: {model}\n", f"- model: {models / model}.json\n")
        (tmp_path / file.name).write_text(text, encoding="utf-8")
    key = base64.b64encode(os.urandom(32)).decode()
    (tmp_path / "secrets.yaml").write_text(
        f'sotto_api_key: "{key}"\nsotto_ota_password: "test-password"\n'
        'wifi_ssid: "test"\nwifi_password: "test-password"\n',
        encoding="utf-8",
    )
    result = subprocess.run(
        [program, "config", board],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Configuration is valid!" in output
    assert "WARNING" not in output, output
