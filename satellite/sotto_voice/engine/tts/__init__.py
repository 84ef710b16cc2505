"""Text-to-speech for sotto-engine: piper voices, with espeak-ng as the fallback."""

from __future__ import annotations

from sotto_voice.audio import PcmFormat

from .audio import SpeechAudio, SpeechChunk, split_audio
from .download import DEFAULT_VOICES_URL, download_voice, download_voice_blocking
from .errors import (
    DownloadError,
    InvalidVoiceNameError,
    SynthesisError,
    TtsError,
    VoiceLoadError,
    VoiceNotFoundError,
)
from .espeak import ESPEAK_VOICE_PREFIX, espeak_executable, espeak_stream
from .synthesizer import MAX_TEXT_CHARS, TextToSpeech, TtsSettings, VoiceInfo
from .voices import InstalledVoice, VoiceName, scan_voices

__all__ = [
    "DEFAULT_VOICES_URL",
    "ESPEAK_VOICE_PREFIX",
    "MAX_TEXT_CHARS",
    "DownloadError",
    "InstalledVoice",
    "InvalidVoiceNameError",
    "PcmFormat",
    "SpeechAudio",
    "SpeechChunk",
    "SynthesisError",
    "TextToSpeech",
    "TtsError",
    "TtsSettings",
    "VoiceInfo",
    "VoiceLoadError",
    "VoiceName",
    "VoiceNotFoundError",
    "download_voice",
    "download_voice_blocking",
    "espeak_executable",
    "espeak_stream",
    "scan_voices",
    "split_audio",
]
