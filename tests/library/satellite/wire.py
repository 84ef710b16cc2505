"""What a controller may see on the wire from a satellite: the privacy invariants."""

from __future__ import annotations

from wyoming.event import Event

from sotto_voice.messages import SottoState, StreamStart, StreamStop


def check_wire(events: list[Event]) -> None:
    """What one controller received: audio only inside a stream bracket it was told about,
    never after a "muted" report until an "unmuted" one."""
    streaming = False
    reported = False
    muted = False
    for event in events:
        if StreamStart.is_stream_start(event):
            assert not streaming, "a stream started inside another"
            assert not muted, "a stream started while muted"
            assert reported, "audio-start before HA was told the satellite is streaming"
            streaming = True
        elif StreamStop.is_stream_stop(event):
            assert streaming, "a stream stopped that never started"
            streaming = False
        elif event.type == "audio-chunk":
            assert streaming, "audio outside a stream"
            assert reported, "audio while HA believes nothing is streaming"
            assert not muted, "audio after HA was told the satellite is muted"
        elif SottoState.is_type(event.type):
            state = SottoState.from_event(event)
            muted = state.muted
            reported = state.streaming
            if not reported:
                assert not streaming, "HA told 'not streaming' while the stream is open"
