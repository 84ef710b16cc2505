"""Promise 2: mute is a state the satellite owns. The microphone is closed, HA is told, the
state survives a restart, and a hardware mute cannot be undone from HA."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from wyoming.error import Error

from demo.speech import utterance
from sotto_voice.messages import (
    ERROR_HARDWARE_MUTE,
    IndicatorState,
    MuteSource,
    SetMute,
    SottoInfo,
)
from sotto_voice.satellite.audio_in import CommandSource

from .harness import controller, make_config, running_satellite

SENTENCE = ("okay nabu", 0.3, "turn on the kitchen light", 1.5)

# A microphone that is a real process: it writes silence at the real-time rate.
MIC_SCRIPT = (
    "import sys, time\n"
    "while True:\n"
    "    sys.stdout.buffer.write(bytes(1024)); sys.stdout.flush(); time.sleep(0.032)\n"
)


async def test_mute_survives_a_restart(tmp_path: Path) -> None:
    """Muted from HA, restarted: still muted, the microphone never opens, HA is told."""
    config = make_config(tmp_path)
    async with running_satellite(config) as sat, controller(sat) as ha:
        await ha.state(lambda s: not s.muted)
        await ha.send(SetMute(muted=True).event())
        await ha.state(lambda s: s.muted and s.mute_source == MuteSource.HA)

    async with running_satellite(config) as sat, controller(sat) as ha:
        state = await ha.state(lambda s: True)
        assert state.muted
        assert state.mute_source == MuteSource.HA
        assert state.indicator == IndicatorState.MUTED
        assert sat.push.starts == 0  # the microphone was never opened
        sat.push.push(utterance(0.3, *SENTENCE))
        await ha.settled()
        assert ha.audio() == b""
        assert sat.wakes == []

        mark = len(ha.events)
        await ha.send(SetMute(muted=False).event())
        await ha.state(lambda s: not s.muted, after=mark)
        assert sat.push.starts == 1


async def test_hardware_mute_cannot_be_undone_from_home_assistant(tmp_path: Path) -> None:
    """A mute from the device's own input (a command hook here) holds against HA's unmute."""
    hook = [sys.executable, "-c", "import time; print('mute', flush=True); time.sleep(60)"]
    config = make_config(tmp_path, mute={"command": hook})
    async with running_satellite(config) as sat, controller(sat) as ha:
        info = SottoInfo.from_event(await ha.wait_for(lambda e: SottoInfo.is_type(e.type)))
        assert info.has_hardware_mute
        await ha.state(lambda s: s.muted and s.mute_source == MuteSource.HARDWARE)
        assert not sat.push.is_open

        mark = len(ha.events)
        await ha.send(SetMute(muted=False).event())
        refusal = await ha.wait_for(lambda e: Error.is_type(e.type), after=mark)
        assert Error.from_event(refusal).code == ERROR_HARDWARE_MUTE
        await ha.settled()
        assert sat.satellite.muted
        assert sat.satellite.mute_source == MuteSource.HARDWARE
        assert not sat.push.is_open
        sat.push.push(utterance(0.3, *SENTENCE))
        await ha.settled()
        assert ha.audio() == b""

        # The person at the device can undo it; HA hears about it.
        mark = len(ha.events)
        await sat.satellite.hardware_action("toggle")
        state = await ha.state(lambda s: not s.muted, after=mark)
        assert state.mute_source is None
        assert sat.push.is_open


async def test_mute_stops_the_capture_process(tmp_path: Path) -> None:
    """While muted the microphone's process is not running; unmuting starts a new one."""
    mic = CommandSource((sys.executable, "-c", MIC_SCRIPT))
    config = make_config(tmp_path)
    async with running_satellite(config, source=mic) as sat, controller(sat) as ha:
        await ha.state(lambda s: not s.muted)
        first = mic.pid
        assert first is not None
        os.kill(first, 0)  # it runs

        mark = len(ha.events)
        await ha.send(SetMute(muted=True).event())
        await ha.state(lambda s: s.muted, after=mark)
        assert mic.pid is None
        with pytest.raises(ProcessLookupError):
            os.kill(first, 0)

        mark = len(ha.events)
        await ha.send(SetMute(muted=False).event())
        await ha.state(lambda s: not s.muted, after=mark)
        for _ in range(500):  # the new process starts right after the report
            if mic.pid is not None:
                break
            await asyncio.sleep(0.01)
        second = mic.pid
        assert second is not None
        assert second != first
