"""Piper voices: load an ONNX voice and synthesise one sentence at a time (blocking)."""

from __future__ import annotations

import importlib.util
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from sotto_voice.audio import PcmFormat

from .audio import SpeechChunk
from .errors import SynthesisError, VoiceLoadError, VoiceNotFoundError
from .voices import InstalledVoice

_SAMPLE_WIDTH = 2


def piper_available() -> bool:
    """Whether piper-tts (and so onnxruntime) can be imported here."""
    return all(importlib.util.find_spec(name) is not None for name in ("piper", "onnxruntime"))


@dataclass(slots=True)
class PiperSynthesizer:
    """A loaded piper voice. Its methods block: run them in a worker thread."""

    voice: InstalledVoice
    piper: Any
    """The loaded piper.PiperVoice."""

    @classmethod
    def load(cls, voice: InstalledVoice) -> PiperSynthesizer:
        """Load the voice's ONNX model (slow: hundreds of milliseconds for a real voice)."""
        try:
            from piper import PiperVoice
        except ImportError as err:
            raise VoiceLoadError(
                f"voice {voice.name} needs piper-tts, which is not installed "
                "(pip install 'sotto-voice[engine]')"
            ) from err
        try:
            loaded = PiperVoice.load(voice.model_path, config_path=voice.config_path)
        except Exception as err:
            # onnxruntime raises its own exception types for unreadable models.
            raise VoiceLoadError(f"cannot load voice {voice.name}: {err}") from err
        return cls(voice=voice, piper=loaded)

    @property
    def format(self) -> PcmFormat:
        """Format of the audio this voice produces."""
        return PcmFormat(rate=self.voice.sample_rate, width=_SAMPLE_WIDTH, channels=1)

    def _speaker_id(self, speaker: str | None) -> int | None:
        if speaker is None:
            return None
        speaker_map: dict[str, int] = dict(self.piper.config.speaker_id_map)
        if speaker in speaker_map:
            return speaker_map[speaker]
        if speaker.isdigit() and int(speaker) < self.piper.config.num_speakers:
            return int(speaker)
        known = ", ".join(sorted(speaker_map)) or "none"
        raise VoiceNotFoundError(
            f"voice {self.voice.name} has no speaker {speaker!r} (speakers: {known})"
        )

    def sentences(
        self, text: str, *, speaker: str | None = None
    ) -> Generator[SpeechChunk, None, None]:
        """Yield the audio of each sentence as soon as it is synthesised."""
        from piper import SynthesisConfig

        config = SynthesisConfig(speaker_id=self._speaker_id(speaker))
        fmt = self.format
        try:
            for chunk in self.piper.synthesize(text, syn_config=config):
                audio = chunk.audio_int16_bytes
                if audio:
                    yield SpeechChunk(audio=audio, format=fmt)
        except (SynthesisError, VoiceNotFoundError):
            raise
        except Exception as err:
            raise SynthesisError(f"voice {self.voice.name} failed to synthesise: {err}") from err
