"""Piper voice names and the directory of installed voices."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .errors import InvalidVoiceNameError, VoiceLoadError

_LOGGER = logging.getLogger(__name__)

MODEL_SUFFIX: Final = ".onnx"
CONFIG_SUFFIX: Final = ".onnx.json"

# Stricter than piper's own pattern: the parts become URL and file path segments, so
# nothing that could climb out of the voices directory or the repository gets through.
_VOICE_NAME: Final = re.compile(
    r"^(?P<family>[a-z]{2,3})_(?P<region>[A-Za-z0-9]{2,4})"
    r"-(?P<dataset>[A-Za-z0-9_]+)-(?P<quality>[a-z_]+)$"
)


@dataclass(frozen=True, slots=True)
class VoiceName:
    """A piper voice name such as en_US-lessac-medium, split into its parts."""

    family: str
    region: str
    dataset: str
    quality: str

    @classmethod
    def parse(cls, name: str) -> VoiceName:
        """Parse a voice name, raising InvalidVoiceNameError when it is malformed."""
        match = _VOICE_NAME.match(name.strip())
        if match is None:
            raise InvalidVoiceNameError(
                f"{name!r} is not a piper voice name: expected "
                "<language>_<REGION>-<dataset>-<quality>, e.g. en_US-lessac-medium"
            )
        return cls(
            family=match["family"],
            region=match["region"],
            dataset=match["dataset"],
            quality=match["quality"],
        )

    @property
    def language(self) -> str:
        """Language code, e.g. en_US."""
        return f"{self.family}_{self.region}"

    @property
    def name(self) -> str:
        """The full voice name."""
        return f"{self.language}-{self.dataset}-{self.quality}"

    def repository_path(self, suffix: str) -> str:
        """Path of one of this voice's files in the piper voices repository."""
        return f"{self.family}/{self.language}/{self.dataset}/{self.quality}/{self.name}{suffix}"


@dataclass(frozen=True, slots=True)
class InstalledVoice:
    """A piper voice found in the voices directory."""

    name: str
    model_path: Path
    config_path: Path
    language: str
    sample_rate: int
    speakers: tuple[str, ...] = ()


def read_voice_config(path: Path) -> dict[str, Any]:
    """Read and sanity-check a piper voice config (.onnx.json)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise VoiceLoadError(f"cannot read voice config {path}: {err.strerror}") from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise VoiceLoadError(f"voice config {path} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise VoiceLoadError(f"voice config {path} is not a JSON object")
    audio = data.get("audio")
    rate = audio.get("sample_rate") if isinstance(audio, dict) else None
    if not isinstance(rate, int) or rate <= 0:
        raise VoiceLoadError(f"voice config {path} has no valid audio.sample_rate")
    if not isinstance(data.get("phoneme_id_map"), dict):
        raise VoiceLoadError(f"voice config {path} has no phoneme_id_map")
    return data


def _voice_language(name: str, config: dict[str, Any]) -> str:
    language = config.get("language")
    if isinstance(language, dict) and isinstance(language.get("code"), str):
        return str(language["code"])
    try:
        return VoiceName.parse(name).language
    except InvalidVoiceNameError:
        espeak = config.get("espeak")
        voice = espeak.get("voice") if isinstance(espeak, dict) else None
        return str(voice) if isinstance(voice, str) else "und"


def inspect_voice(model_path: Path) -> InstalledVoice:
    """Describe the voice whose model is at model_path (its config sits beside it)."""
    name = model_path.name.removesuffix(MODEL_SUFFIX)
    config_path = model_path.with_name(name + CONFIG_SUFFIX)
    if not config_path.is_file():
        # Some people keep the config as <name>.json.
        config_path = model_path.with_name(name + ".json")
    if not config_path.is_file():
        raise VoiceLoadError(f"voice {name} has no config file {name}{CONFIG_SUFFIX}")
    config = read_voice_config(config_path)
    speaker_map = config.get("speaker_id_map")
    speakers = tuple(sorted(speaker_map)) if isinstance(speaker_map, dict) else ()
    return InstalledVoice(
        name=name,
        model_path=model_path,
        config_path=config_path,
        language=_voice_language(name, config),
        sample_rate=int(config["audio"]["sample_rate"]),
        speakers=speakers,
    )


def scan_voices(directory: Path) -> tuple[InstalledVoice, ...]:
    """List the usable piper voices in a directory, sorted by name; broken ones are logged."""
    if not directory.is_dir():
        return ()
    voices: list[InstalledVoice] = []
    for model_path in sorted(directory.glob(f"*{MODEL_SUFFIX}")):
        if not model_path.is_file():
            continue
        try:
            voices.append(inspect_voice(model_path))
        except VoiceLoadError as err:
            _LOGGER.warning("Skipping voice: %s", err)
    return tuple(voices)
