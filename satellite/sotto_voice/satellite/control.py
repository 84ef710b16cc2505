"""The satellite's side facing Home Assistant: the one controller in charge, what it is
sent, and what its messages do."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final, Protocol

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.timer import TimerFinished

from sotto_voice.engine.protocol import (
    ERROR_GRAMMAR_FAILED,
    ERROR_UNSUPPORTED,
    GrammarMessage,
    GrammarMissing,
    GrammarReady,
)
from sotto_voice.engine.stt.errors import SttError
from sotto_voice.engine.stt.model import Grammar
from sotto_voice.messages import (
    ERROR_BAD_MESSAGE,
    ERROR_BUSY,
    ERROR_HARDWARE_MUTE,
    ERROR_MUTED,
    ERROR_UNKNOWN_WAKE_WORD,
    Configure,
    MessageError,
    MuteSource,
    Purge,
    Purged,
    PushToTalk,
    RunEnded,
    SetMute,
    SetRinging,
    SilencedBy,
    SottoState,
    StopReason,
    StopStreaming,
)

from .errors import SatelliteError, WakeWordError
from .phase import HaPresence, Phase

if TYPE_CHECKING:
    from .core import Satellite

_LOGGER = logging.getLogger(__name__)

ERROR_FLASH_SECONDS: Final = 2.0
"""How long an error reported by Home Assistant shows on the indicator."""


class Controller(Protocol):
    """The one peer allowed to control the satellite (Home Assistant)."""

    async def send(self, event: Event) -> None:
        """Send an event to the controller (raises if the connection is gone)."""


Handler = Callable[[Event], Awaitable[None]]


class Control:
    """Home Assistant in charge of the satellite: attach, detach, send, handle."""

    def __init__(self, satellite: Satellite) -> None:
        self._satellite = satellite
        self.controller: Controller | None = None
        self.grace_task: asyncio.Task[None] | None = None
        """Waits before Home Assistant's absence is shown as an error."""
        self._last_state: SottoState | None = None
        self._error_flashes = 0
        self._handlers: tuple[tuple[Callable[[str], bool], Handler], ...] = (
            (SetMute.is_type, self._set_mute),
            (SetRinging.is_type, self._set_ringing),
            (Configure.is_type, self._configure),
            (PushToTalk.is_type, self._push_to_talk),
            (StopStreaming.is_type, self._stop_streaming),
            (RunEnded.is_type, self._run_ended),
            (Purge.is_type, self._purge),
            (GrammarMessage.is_type, self._grammar),
            (Describe.is_type, self._describe),
            (AudioStart.is_type, self._reply_start),
            (AudioChunk.is_type, self._reply_chunk),
            (AudioStop.is_type, self._reply_stop),
            (TimerFinished.is_type, self._timer_finished),
            (Error.is_type, self._error),
        )

    # --- who is in charge ----------------------------------------------------------------

    async def attach(self, controller: Controller) -> None:
        """Put controller in charge and tell it everything about the satellite."""
        if self.controller is not None and self.controller is not controller:
            raise SatelliteError("another controller is in charge")
        self.controller = controller
        if self.grace_task is not None:
            self.grace_task.cancel()
            self.grace_task = None
        self._satellite.facts.ha = HaPresence.CONNECTED
        await self._describe_all()

    async def detach(self, controller: Controller) -> None:
        """Forget controller (its link is gone): stop sending, show an error after a grace."""
        if self.controller is not controller:
            return
        sat = self._satellite
        self.controller = None
        sat.facts.ha = HaPresence.AWAITED
        _LOGGER.info("Home Assistant is gone: listening on, sending nothing")
        await sat.commands.end(StopReason.DISCONNECTED)
        sat.stop_thinking()
        sat.replies.abandon()
        if sat.is_running and self.grace_task is None:
            self.start_grace()
        await sat.refresh()

    def start_grace(self) -> None:
        """Show Home Assistant's absence as an error unless it attaches in time."""
        self.grace_task = asyncio.create_task(self._grace_period())

    async def _grace_period(self) -> None:
        await asyncio.sleep(self._satellite.settings.error_grace_seconds)
        self.grace_task = None
        if self.controller is None:
            self._satellite.facts.ha = HaPresence.MISSING
            await self._satellite.refresh()

    # --- what it is sent -----------------------------------------------------------------

    async def send(self, event: Event) -> bool:
        """Send to the controller; on failure drop it. Returns True if sent."""
        controller = self.controller
        if controller is None:
            return False
        try:
            await controller.send(event)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # any failure of the link means it is gone
            _LOGGER.info("cannot send to Home Assistant (%s); dropping the connection", err)
            self._satellite.spawn(self.detach(controller), "drop controller")
            return False
        return True

    async def send_error(self, text: str, code: str) -> None:
        """Tell Home Assistant a request was refused, and why."""
        _LOGGER.info("refused: %s", text)
        await self.send(Error(text=text, code=code).event())

    async def report(self, state: SottoState) -> None:
        """Send state unless Home Assistant already has it."""
        if state != self._last_state and await self.send(state.event()):
            self._last_state = state

    async def _describe_all(self) -> None:
        sat = self._satellite
        self._last_state = None
        await self.send(sat.info().event())
        await sat.refresh()
        await self.send(sat.ledger.ledger.event())

    # --- what its messages do ------------------------------------------------------------

    async def handle_event(self, event: Event) -> None:
        """Act on one event from the controller."""
        for is_type, handler in self._handlers:
            if is_type(event.type):
                try:
                    await handler(event)
                except MessageError as err:
                    await self.send_error(str(err), ERROR_BAD_MESSAGE)
                return
        _LOGGER.debug("ignoring %s from Home Assistant", event.type)

    async def _set_mute(self, event: Event) -> None:
        request = SetMute.from_event(event)
        if not await self._satellite.set_mute(request.muted, MuteSource.HA):
            await self.send_error(
                "the satellite was muted on the device; unmute it there", ERROR_HARDWARE_MUTE
            )

    async def _set_ringing(self, event: Event) -> None:
        """Home Assistant's Timer ringing switch: ring until stopped, or stop ringing."""
        sat = self._satellite
        if SetRinging.from_event(event).ringing:
            sat.alarm.ring()
        elif sat.alarm.ringing:
            await sat.silence(SilencedBy.HOME_ASSISTANT)

    async def _configure(self, event: Event) -> None:
        request = Configure.from_event(event)
        sat = self._satellite
        wake = sat.wake
        if not await self._choose_wake_words(request):
            return
        if request.sensitivity is not None:
            wake.set_sensitivity(request.sensitivity)
            sat.store.update(sensitivity=request.sensitivity)
        if request.volume is not None:
            sat.speaker.volume = request.volume
            sat.store.update(volume=request.volume)
        await sat.refresh()

    async def _choose_wake_words(self, request: Configure) -> bool:
        """Listen for the wake words asked for, if any; False (and an error) if it cannot."""
        wake = self._satellite.wake
        try:
            if request.wake_words is not None:
                wake.choose_all(request.wake_words)
            elif request.wake_word is not None and request.wake_word != wake.name:
                wake.choose(request.wake_word)
            else:
                return True
        except WakeWordError as err:
            await self.send_error(str(err), ERROR_UNKNOWN_WAKE_WORD)
            return False
        second = wake.names[1] if len(wake.names) > 1 else None
        self._satellite.store.update(wake_word=wake.name, second_wake_word=second)
        return True

    async def _push_to_talk(self, event: Event) -> None:
        PushToTalk.from_event(event)
        if self._satellite.facts.muted:
            await self.send_error("the satellite is muted", ERROR_MUTED)
        elif not await self._satellite.push_to_talk():
            await self.send_error("the satellite is already streaming", ERROR_BUSY)

    async def _stop_streaming(self, event: Event) -> None:
        request = StopStreaming.from_event(event)
        reason = StopReason.YIELDED if request.yielded else StopReason.HA_COMPLETE
        await self._satellite.commands.end(reason, request.stream_id)

    async def _run_ended(self, event: Event) -> None:
        RunEnded.from_event(event)
        sat = self._satellite
        if sat.phase in (Phase.IDLE, Phase.THINKING):  # not while it streams or speaks
            sat.stop_thinking()
            await sat.refresh()

    async def _purge(self, event: Event) -> None:
        Purge.from_event(event)
        sat = self._satellite
        # First, so that the seconds it listened to are counted in the ledger cleared next.
        dropped = await sat.commands.forget_command()
        sat.ledger.clear()
        sat.wake.reset()
        sat.commands.forget_speech()
        cleared = ("ledger", "wake_word_audio", "vad_audio")
        await self.send(Purged(cleared=cleared + (("command_audio",) if dropped else ())).event())
        await self.send(sat.ledger.ledger.event())

    async def _grammar(self, event: Event) -> None:
        """The home's grammar, by digest: kept already (ready), or asked for whole (missing)."""
        message = GrammarMessage.from_event(event)
        recognizer = self._satellite.recognizer
        if recognizer is None:
            await self.send_error(
                "this satellite streams commands; it does not recognise them itself",
                ERROR_UNSUPPORTED,
            )
            return
        if message.jsgf is None:
            kept = recognizer.use(message.digest)
            reply = GrammarReady if kept else GrammarMissing
            await self.send(reply(message.digest).event())
            return
        try:
            grammar = Grammar.from_dict({"jsgf": message.jsgf, "words": list(message.words)})
            digest = await recognizer.load(grammar)
        except SttError as err:
            await self.send_error(f"the grammar cannot be used: {err}", ERROR_GRAMMAR_FAILED)
            return
        _LOGGER.info("Using the home's grammar %s (%d words)", digest, len(grammar.words))
        await self.send(GrammarReady(digest).event())

    async def _describe(self, event: Event) -> None:
        await self._describe_all()

    async def _reply_start(self, event: Event) -> None:
        await self._satellite.replies.begin(AudioStart.from_event(event))

    async def _reply_chunk(self, event: Event) -> None:
        await self._satellite.replies.add(AudioChunk.from_event(event))

    async def _reply_stop(self, event: Event) -> None:
        AudioStop.from_event(event)
        await self._satellite.replies.finish()

    async def _timer_finished(self, event: Event) -> None:
        """A voice timer set on this satellite finished: ring until stopped."""
        finished = TimerFinished.from_event(event)
        _LOGGER.info("timer %s finished", finished.id)
        self._satellite.alarm.ring()

    async def _error(self, event: Event) -> None:
        data = event.data or {}
        _LOGGER.warning("Home Assistant reports an error: %s", data.get("text"))
        await self._satellite.commands.end(StopReason.ERROR)
        self._satellite.stop_thinking()
        self._satellite.spawn(self._flash_error(), "error flash")

    async def _flash_error(self) -> None:
        sat = self._satellite
        self._error_flashes += 1
        flash = self._error_flashes
        sat.facts.error_flash = True
        await sat.refresh()
        await asyncio.sleep(ERROR_FLASH_SECONDS)
        if flash == self._error_flashes:  # a newer flash keeps it on for longer
            sat.facts.error_flash = False
            await sat.refresh()
