"""What the user allows the history to keep, and voice events to carry: the home entry's options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

OPTION_TRANSCRIPT_DAYS: Final = "transcript_days"
OPTION_KEEP_AUDIO: Final = "keep_audio"
OPTION_AUDIO_DAYS: Final = "audio_days"
# Opt-in: voice events carry what was heard (the recorder never stores it).
OPTION_EVENT_TRANSCRIPTS: Final = "event_transcripts"

TRANSCRIPT_DAY_CHOICES: Final = (0, 1, 7, 30, 90)
DEFAULT_TRANSCRIPT_DAYS: Final = 7
DEFAULT_AUDIO_DAYS: Final = 1
MAX_AUDIO_DAYS: Final = 90


@dataclass(frozen=True, slots=True)
class Retention:
    """How long interactions and their audio are kept; 0 days keeps nothing."""

    transcript_days: int = DEFAULT_TRANSCRIPT_DAYS
    keep_audio: bool = False
    audio_days: int = DEFAULT_AUDIO_DAYS

    @property
    def audio_kept_days(self) -> int:
        """Days audio is kept: never without the opt-in, never longer than the row."""
        if not self.keep_audio:
            return 0
        return min(self.audio_days, self.transcript_days)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Retention:
        """Read the retention from a config entry's options (defaults when unset)."""
        transcript_days = int(options.get(OPTION_TRANSCRIPT_DAYS, DEFAULT_TRANSCRIPT_DAYS))
        if transcript_days not in TRANSCRIPT_DAY_CHOICES:
            raise ValueError(
                f"transcript_days must be one of {TRANSCRIPT_DAY_CHOICES}, not {transcript_days}"
            )
        audio_days = int(options.get(OPTION_AUDIO_DAYS, DEFAULT_AUDIO_DAYS))
        if not 1 <= audio_days <= MAX_AUDIO_DAYS:
            raise ValueError(f"audio_days must be 1 to {MAX_AUDIO_DAYS}, not {audio_days}")
        return cls(
            transcript_days=transcript_days,
            keep_audio=bool(options.get(OPTION_KEEP_AUDIO, False)),
            audio_days=audio_days,
        )
