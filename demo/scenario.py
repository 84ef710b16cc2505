"""The demo's spoken scenario: each step speaks, watches what happens, and checks it."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant

from .home import DOMAIN, entity_prefix, mute_entity, recording_entity, wait_for_state
from .processes import SatelliteProcess
from .speech import utterance
from .timeline import Timeline, Watcher

if TYPE_CHECKING:
    from custom_components.sotto.history.store import HistoryStore, StoredInteraction

WAKE: Final = "okay nabu"
KITCHEN: Final = "kitchen"
BEDROOM: Final = "bedroom"
EDGE: Final = (BEDROOM,)
"""Satellites that recognise commands on the device: only text leaves them."""
KITCHEN_LIGHT: Final = "light.kitchen_light"
BEDROOM_LAMP: Final = "light.bedroom_lamp"
# Safety nets, not speed targets: a busy two-core machine can be slow.
INTERACTION_TIMEOUT: Final = 60.0
LIVE_TIMEOUT: Final = 120.0
REPLY_TIMEOUT: Final = 30.0
LEDGER_TIMEOUT: Final = 10.0
POLL: Final = 0.2
FALSE_WAKES: Final = "sensor.sotto_false_wakes_today"
# Figures shown on the home and on each satellite (see README, "Voice history").
HOME_FIGURES: Final = ("interactions_today", "false_wakes_today", "audio_sent_today")
SATELLITE_FIGURES: Final = ("wakes_today", "audio_sent_today")


@dataclass(frozen=True, slots=True)
class Check:
    """One thing a step must have done."""

    step: str
    ok: bool
    what: str


@dataclass
class Scenario:
    """Runs the steps against a running home and collects their checks."""

    hass: HomeAssistant
    timeline: Timeline
    watcher: Watcher
    satellites: dict[str, SatelliteProcess]
    config_dir: Path
    checks: list[Check] = field(default_factory=list)
    replies: dict[str, list[tuple[Path, float]]] = field(default_factory=dict)
    heard: list[str] = field(default_factory=list)
    _step: str = ""

    # --- helpers ---------------------------------------------------------------------------

    def reply_played(self, label: str) -> Callable[[Path, float], None]:
        """A speaker follower's callback that remembers the satellite's replies."""
        self.replies[label] = []
        return lambda path, seconds: self.replies[label].append((path, seconds))

    def check(self, ok: bool, what: str) -> bool:
        """Record and print one check of the current step."""
        self.checks.append(Check(self._step, ok, what))
        self.timeline.say("check", f"{'ok  ' if ok else 'FAIL'} {what}")
        return ok

    def _store(self) -> HistoryStore:
        from custom_components.sotto.services import history_store

        return history_store(self.hass)

    async def _rows(self, label: str) -> list[StoredInteraction]:
        return await self._store().async_list(satellite_id=self.satellites[label].device_id)

    async def _speak(self, label: str, command: str) -> float:
        """Say the wake word and a command to a satellite; returns how long it lasts."""
        satellite = self.satellites[label]
        spoken = f"{WAKE}, {command}"
        if satellite.live:
            self.timeline.say(label, f'>>> say now, into the microphone: "{spoken}"')
            return LIVE_TIMEOUT
        pcm = await asyncio.to_thread(utterance, 0.5, WAKE, 0.4, command, 1.5)
        path = await asyncio.to_thread(satellite.say, pcm)
        seconds = len(pcm) / 32000
        self.timeline.say(label, f'microphone plays {path.name}: "{spoken}" ({seconds:.1f} s)')
        return seconds

    async def _until[T](self, probe: Callable[[], Awaitable[T | None]], timeout: float) -> T | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if (found := await probe()) is not None:
                return found
            await asyncio.sleep(POLL)
        return None

    async def _command(
        self, label: str, command: str, *, reply: bool = True
    ) -> StoredInteraction | None:
        """Speak, then wait for the interaction, the end of recording and the reply."""
        satellite = self.satellites[label]
        known = {row.id for row in await self._rows(label)}
        replies_before = len(self.replies.get(label, []))
        await self._speak(label, command)
        timeout = LIVE_TIMEOUT if satellite.live else INTERACTION_TIMEOUT

        async def new_row() -> StoredInteraction | None:
            return next((r for r in await self._rows(label) if r.id not in known), None)

        row = await self._until(new_row, timeout)
        if row is None:
            self.check(False, f"{label}: an interaction was recorded within {timeout:.0f} s")
            return None
        self.heard.extend(text for text in (row.transcript, row.response_text) if text)
        # Written when the run is over, so after what the command did.
        targets = f" on {', '.join(row.targets)}" if row.targets else ""
        self.timeline.say(
            "history",
            f"#{row.id} written: heard {_said(row)}, {row.outcome.value}{targets}"
            f' (replied "{row.response_text or ""}")',
        )
        await wait_for_state(self.hass, recording_entity(satellite), STATE_OFF)
        if reply and not satellite.live:

            async def replied() -> bool | None:
                return True if len(self.replies.get(label, [])) > replies_before else None

            self.check(
                await self._until(replied, REPLY_TIMEOUT) is not None,
                f"{label}: the spoken reply was played (a WAV file)",
            )
        return row

    def _figure(self, entity_id: str) -> float:
        """A sensor's number (NaN when it has none, which equals nothing)."""
        state = self.hass.states.get(entity_id)
        try:
            return float(state.state) if state is not None else math.nan
        except ValueError:
            return math.nan

    def _figures(self) -> dict[str, float]:
        """Today's figures as the home and each satellite show them."""
        shown = {f"home {key}": self._figure(f"sensor.sotto_{key}") for key in HOME_FIGURES}
        for label, satellite in self.satellites.items():
            for key in SATELLITE_FIGURES:
                shown[f"{label} {key}"] = self._figure(f"sensor.{entity_prefix(satellite)}_{key}")
        return shown

    def _say_figures(self, shown: dict[str, float]) -> None:
        self.timeline.say("figures", ", ".join(f"{k} {v:g}" for k, v in shown.items()))

    def _begin(self, title: str) -> None:
        self._step = title
        self.timeline.heading(title)
        self.watcher.reset()

    def _light(self, entity_id: str) -> tuple[str, int | None]:
        state = self.hass.states.get(entity_id)
        if state is None:
            return "missing", None
        brightness = state.attributes.get("brightness")
        return state.state, round(brightness / 2.55) if brightness is not None else None

    def _recording_around_stream(self, label: str) -> None:
        observed = self.watcher.observed[label].recording
        self.check(
            observed == [STATE_ON, STATE_OFF],
            f"{label}: recording indicator went on, then off ({' -> '.join(observed) or 'never'})",
        )

    def _recognized_on_device(self, label: str, row: StoredInteraction | None) -> None:
        """A command recognised on the satellite: no audio left it, by every account."""
        observed = self.watcher.observed[label].recording
        on_device = row is not None and row.recognized_on is not None
        self.check(
            not observed and on_device,
            f"{label}: recognised on the satellite, the recording indicator never came on "
            f"({' -> '.join(observed) or 'never'})",
        )
        prefix = entity_prefix(self.satellites[label])
        sent = self._figure(f"sensor.{prefix}_audio_sent_today")
        listened = self._figure(f"sensor.{prefix}_audio_listened_to_today")
        self.check(
            sent == 0 and listened > 0,
            f"{label}: the satellite sent {sent:g} s of audio, listened to {listened:g} s",
        )

    # --- the steps ---------------------------------------------------------------------------

    async def run(self, *, leave_history: bool = False) -> bool:
        """Run every step in order (and leave a few history entries, if asked); True if
        every check passed."""
        steps = [
            self.kitchen_lights,
            self.bedroom_lamp,
            self.not_a_command,
            self.muted,
            self.never_mind,
            self.purge,
        ]
        if leave_history:
            steps.append(self.leave_history)
        for step in steps:
            try:
                await step()
            except Exception as err:  # a failed step must not hide the others
                self.check(False, f"the step ran to its end ({type(err).__name__}: {err})")
        return all(check.ok for check in self.checks)

    async def kitchen_lights(self) -> None:
        """In the kitchen: "turn on the lights" means this room's lights only."""
        self._begin('kitchen: "okay nabu, turn on the lights"')
        row = await self._command(KITCHEN, "turn on the lights")
        self._recording_around_stream(KITCHEN)
        self.check(
            "wake_word_detected" in self.watcher.observed[KITCHEN].voice_events,
            "kitchen: the wake word was detected on the satellite",
        )
        self.check(self._light(KITCHEN_LIGHT)[0] == STATE_ON, f"{KITCHEN_LIGHT} is on")
        self.check(self._light(BEDROOM_LAMP)[0] == STATE_OFF, f"{BEDROOM_LAMP} stayed off")
        self.check(row is not None and row.outcome.value == "handled", "HA handled the command")

    async def bedroom_lamp(self) -> None:
        """In the bedroom: a named light set to a brightness."""
        self._begin('bedroom: "okay nabu, set the bedroom lamp to 20 percent"')
        row = await self._command(BEDROOM, "set the bedroom lamp to 20 percent")
        self._recognized_on_device(BEDROOM, row)
        state, level = self._light(BEDROOM_LAMP)
        self.check(
            state == STATE_ON and level is not None and abs(level - 20) <= 1,
            f"{BEDROOM_LAMP} is on at 20 % (it is {state}, {level} %)",
        )
        self.check(self._light(KITCHEN_LIGHT)[0] == STATE_ON, f"{KITCHEN_LIGHT} is still on")
        self.check(row is not None and row.outcome.value == "handled", "HA handled the command")

    async def not_a_command(self) -> None:
        """A sentence that is not a command changes nothing."""
        self._begin('kitchen: "okay nabu, my sister is coming for dinner on friday"')
        before = {light: self._light(light) for light in (KITCHEN_LIGHT, BEDROOM_LAMP)}
        row = await self._command(KITCHEN, "my sister is coming for dinner on friday", reply=False)
        after = {light: self._light(light) for light in (KITCHEN_LIGHT, BEDROOM_LAMP)}
        self.check(before == after and not self.watcher.lights, "no light changed")
        self.check(
            row is not None and row.outcome.value != "handled",
            f"HA did not act on it (outcome: {row.outcome.value if row else 'none'})",
        )

    async def muted(self) -> None:
        """Muted from HA, the satellite closes its microphone: nothing leaves the room."""
        self._begin('kitchen: mute, then "okay nabu, turn off the lights"')
        satellite = self.satellites[KITCHEN]
        sent = f"sensor.{entity_prefix(satellite)}_audio_sent_today"
        rows_before = len(await self._rows(KITCHEN))
        await self.hass.services.async_call(
            "switch", "turn_on", {"entity_id": mute_entity(satellite)}, blocking=True
        )
        await wait_for_state(self.hass, mute_entity(satellite), STATE_ON)
        await asyncio.sleep(1.0)  # the ledger of the last stream reaches HA
        sent_before = self.hass.states.get(sent)
        seconds = await self._speak(KITCHEN, "turn off the lights")
        await asyncio.sleep(min(seconds, 30.0) + 2.0)  # as long as the sentence lasts, and more
        observed = self.watcher.observed[KITCHEN]
        self.check(not observed.recording, "the recording indicator never came on")
        woke = [e for e in observed.voice_events if e not in ("muted", "unmuted")]
        self.check(not woke, f"no wake word and no stream ({', '.join(woke) or 'no voice event'})")
        self.check(self._light(KITCHEN_LIGHT)[0] == STATE_ON, f"{KITCHEN_LIGHT} is still on")
        self.check(len(await self._rows(KITCHEN)) == rows_before, "no interaction was recorded")
        sent_after = self.hass.states.get(sent)
        if sent_before is not None and sent_after is not None:
            unit = sent_after.attributes.get("unit_of_measurement", "")
            self.timeline.say(KITCHEN, f"audio sent today: {sent_after.state} {unit}".rstrip())
            self.check(sent_before.state == sent_after.state, "the satellite's ledger sent nothing")
        if not satellite.live:
            unheard = await asyncio.to_thread(lambda: sorted(satellite.spool.glob("*.wav")))
            self.check(
                len(unheard) == 1,
                "the microphone process was stopped: nobody even read the sentence",
            )
            for path in unheard:
                await asyncio.to_thread(path.unlink)
        await self.hass.services.async_call(
            "switch", "turn_off", {"entity_id": mute_entity(satellite)}, blocking=True
        )
        await wait_for_state(self.hass, mute_entity(satellite), STATE_OFF)

    async def never_mind(self) -> None:
        """ "Never mind, that wasn't for you" forgets the last interaction, and itself."""
        self._begin('kitchen: "okay nabu, never mind, that wasn\'t for you"')
        rows = await self._rows(KITCHEN)
        if not rows:
            self.check(False, "there is a last interaction to forget")
            return
        last = rows[0]
        self.timeline.say(
            "history", f"kitchen keeps {len(rows)}; the last is #{last.id} {_said(last)}"
        )
        satellite = self.satellites[KITCHEN]
        replies_before = len(self.replies.get(KITCHEN, []))
        false_wakes = self._figure(FALSE_WAKES)
        await self._speak(KITCHEN, "never mind, that wasn't for you")

        async def forgotten() -> bool | None:
            now = {row.id for row in await self._rows(KITCHEN)}
            return True if last.id not in now else None

        timeout = LIVE_TIMEOUT if satellite.live else INTERACTION_TIMEOUT
        gone = await self._until(forgotten, timeout) is not None
        await wait_for_state(self.hass, recording_entity(satellite), STATE_OFF)
        if not satellite.live:

            async def replied() -> bool | None:
                return True if len(self.replies.get(KITCHEN, [])) > replies_before else None

            self.check(
                await self._until(replied, REPLY_TIMEOUT) is not None,
                "kitchen: the spoken reply was played (a WAV file)",
            )
        await asyncio.sleep(1.0)  # the "never mind" itself would be written now, if kept
        remaining = await self._rows(KITCHEN)
        self.timeline.say(
            "history",
            f"kitchen keeps {len(remaining)}: "
            + ", ".join(f"#{row.id} {_said(row)}" for row in remaining),
        )
        self.check(gone, f"the last interaction (#{last.id} {_said(last)}) was forgotten")
        self.check(
            [row.id for row in remaining] == [row.id for row in rows[1:]],
            'the "never mind" itself was not kept',
        )
        self.check(
            self._figure(FALSE_WAKES) == false_wakes + 1,
            f"false wakes today went from {false_wakes:.0f} to {self._figure(FALSE_WAKES):.0f}",
        )

    async def leave_history(self) -> None:
        """A command in each room after the purge, for the Voice history panel to show."""
        self._begin("for the Voice history panel: a command in each room")
        await self._command(KITCHEN, "turn off the lights")
        await self._command(BEDROOM, "turn off the bedroom lamp")
        kept = await self._store().async_list()
        self.check(len(kept) == 2, f"the voice history keeps {len(kept)} interactions")

    async def purge(self) -> None:
        """A purge of everything: the history, and every copy Home Assistant holds."""
        self._begin("purge: sotto.purge_history")
        before = self._figures()
        self._say_figures(before)
        sent = sum(before[f"{label} audio_sent_today"] for label in self.satellites)
        # Each figure is rounded to 0.1 s where it is shown.
        self.check(
            abs(before["home audio_sent_today"] - sent) <= 0.1 * len(self.satellites),
            f"the home's audio sent today ({before['home audio_sent_today']:g} s) is the "
            f"satellites' ({sent:g} s)",
        )
        wakes = sum(before[f"{label} wakes_today"] for label in self.satellites)
        self.check(
            before["home interactions_today"] == wakes,
            f"the home's interactions today ({before['home interactions_today']:g}) are the "
            f"satellites' wakes ({wakes:g}): every command here began with the wake word",
        )
        removed: Any = await self.hass.services.async_call(
            DOMAIN, "purge_history", {}, blocking=True, return_response=True
        )
        for store, what in (removed or {}).items():
            self.timeline.say("purge", f"{store}: {what}")
        left = await self._store().async_list()
        self.check(not left, f"the voice history is empty ({len(left)} left)")

        async def all_zero() -> dict[str, float] | None:
            shown = self._figures()
            return shown if not any(shown.values()) else None

        # Each satellite sends its cleared ledger just after it answers the purge.
        zero = await self._until(all_zero, LEDGER_TIMEOUT)
        self._say_figures(zero or self._figures())
        self.check(zero is not None, "the home's and the satellites' figures for today are all 0")
        await asyncio.sleep(2.0)  # the recorder commits every second
        found = await asyncio.to_thread(_files_containing, self.config_dir, self.heard)
        self.check(
            not found,
            "no file under the config directory holds what was heard or replied"
            + (f" (found in {', '.join(found)})" if found else ""),
        )


def _said(row: StoredInteraction) -> str:
    """What an interaction heard, quoted, for the timeline."""
    return f'"{row.transcript}"' if row.transcript else f"({row.outcome.value.replace('_', ' ')})"


def _files_containing(directory: Path, texts: list[str]) -> list[str]:
    """Files under `directory` holding any of the texts (as UTF-8, any case)."""
    needles = [text.lower().encode() for text in texts if len(text) >= 8]
    found: list[str] = []
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes().lower()
        if any(needle in data for needle in needles):
            found.append(str(path.relative_to(directory)))
    return found
