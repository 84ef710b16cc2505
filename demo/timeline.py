"""The demo's readable timeline: what each satellite heard and sent, and what HA did."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TextIO

from homeassistant.const import STATE_ON
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    State,
    callback,
)

from .speech import wav_seconds

# Chimes are about 0.2 s; replies are whole spoken sentences.
CHIME_MAX_SECONDS: Final = 0.3
SPEAKER_POLL: Final = 0.2


@dataclass
class Timeline:
    """Prints lines with the seconds since the demo started."""

    out: TextIO = sys.stdout
    started: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        """Seconds since the demo started."""
        return time.monotonic() - self.started

    def say(self, who: str, text: str) -> None:
        """Print one timeline line."""
        print(f"{self.elapsed():6.1f}s  {who:<8} {text}", file=self.out, flush=True)

    def heading(self, text: str) -> None:
        """Print a step heading."""
        print(f"\n{self.elapsed():6.1f}s  == {text}", file=self.out, flush=True)


@dataclass
class Observed:
    """What one satellite did while the watcher listened."""

    recording: list[str] = field(default_factory=list)
    voice_events: list[str] = field(default_factory=list)
    recording_since: float | None = None


@dataclass
class Watcher:
    """Follows the satellites' entities and the lights, and prints them on the timeline."""

    hass: HomeAssistant
    timeline: Timeline
    satellites: dict[str, str]
    """Entity prefix (e.g. kitchen_satellite) -> timeline label (e.g. kitchen)."""
    observed: dict[str, Observed] = field(default_factory=dict)
    lights: list[tuple[str, str, int | None]] = field(default_factory=list)
    _unsub: CALLBACK_TYPE | None = None

    def start(self) -> None:
        """Start listening to state changes."""
        self.observed = {label: Observed() for label in self.satellites.values()}
        self._unsub = self.hass.bus.async_listen("state_changed", self._changed)

    def stop(self) -> None:
        """Stop listening."""
        if self._unsub is not None:
            self._unsub()
            self._unsub = None

    def reset(self) -> None:
        """Forget what was observed (a new step starts)."""
        for observed in self.observed.values():
            observed.recording.clear()
            observed.voice_events.clear()
        self.lights.clear()

    @callback
    def _changed(self, event: Event[EventStateChangedData]) -> None:
        new, old = event.data["new_state"], event.data["old_state"]
        if new is None:
            return
        domain, _, object_id = new.entity_id.partition(".")
        if domain == "light":
            self._light_changed(new, old)
            return
        for prefix, label in self.satellites.items():
            if object_id.startswith(prefix + "_"):
                what = object_id.removeprefix(prefix + "_")
                self._satellite_changed(label, f"{domain}.{what}", new, old)
                return

    def _light_changed(self, new: State, old: State | None) -> None:
        brightness = new.attributes.get("brightness")
        if (
            old is not None
            and old.state == new.state
            and old.attributes.get("brightness") == brightness
        ):
            return
        self.lights.append((new.entity_id, new.state, brightness))
        level = f" (brightness {round(brightness / 2.55)}%)" if brightness else ""
        self.timeline.say("HA", f"{new.entity_id} -> {new.state}{level}")

    def _satellite_changed(self, label: str, what: str, new: State, old: State | None) -> None:
        """One of a satellite's entities changed; `what` is its domain and key."""
        if what == "binary_sensor.recording":
            self._recording_changed(label, new, old)
        elif what == "event.voice_events":
            kind = new.attributes.get("event_type")
            # Two events in one millisecond share a timestamp state; the type differs.
            if kind and old is not None and old.state != "unavailable":
                self.observed[label].voice_events.append(str(kind))
                extra = new.attributes.get("wake_word")
                self.timeline.say(label, f"voice event {kind}" + (f" ({extra})" if extra else ""))
        elif what == "switch.mute" and (old is None or old.state != new.state):
            source = new.attributes.get("mute_source")
            by = f" (by {source})" if source else ""
            self.timeline.say(label, f"mute {new.state}{by}")

    def _recording_changed(self, label: str, new: State, old: State | None) -> None:
        if old is not None and old.state == new.state:
            return
        observed = self.observed[label]
        observed.recording.append(new.state)
        if new.state == STATE_ON:
            observed.recording_since = time.monotonic()
            self.timeline.say(label, "recording ON  (audio is leaving the satellite)")
            return
        sent = ""
        if observed.recording_since is not None:
            sent = f" after {time.monotonic() - observed.recording_since:.1f} s"
            observed.recording_since = None
        self.timeline.say(label, f"recording {new.state.upper()}{sent}")


async def follow_speaker(
    timeline: Timeline, label: str, directory: Path, played: Callable[[Path, float], None]
) -> None:
    """Print each chime and reply the satellite's WAV speaker writes (until cancelled)."""
    seen: set[Path] = set()
    sizes: dict[Path, int] = {}
    while True:
        files = await asyncio.to_thread(_sizes, directory)
        for path, size in files.items():
            if path in seen:
                continue
            # The sink writes as the audio arrives: a file is whole once it stops growing.
            if sizes.get(path) != size:
                sizes[path] = size
                continue
            seconds = await asyncio.to_thread(wav_seconds, path)
            if not seconds:
                continue
            seen.add(path)
            if seconds <= CHIME_MAX_SECONDS:
                timeline.say(label, f"chime played ({seconds:.2f} s)")
            else:
                timeline.say(label, f"reply played: {path} ({seconds:.1f} s)")
                played(path, seconds)
        await asyncio.sleep(SPEAKER_POLL)


def _sizes(directory: Path) -> dict[Path, int]:
    return {path: path.stat().st_size for path in sorted(directory.glob("*.wav"))}
