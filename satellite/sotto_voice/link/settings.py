"""Limits and timeouts of the link, with the reason for each default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

KIB: Final = 1024
MIB: Final = 1024 * KIB

#: Largest Noise message (the spec's limit); the frame length field is a u16.
MAX_NOISE_MESSAGE: Final = 65535


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """Limits and timeouts of one link; the defaults suit a Pi on Wi-Fi.

    Tests shrink the timeouts; production code should rarely change them.
    """

    max_header_line: int = 4 * KIB
    """Longest event header line. A Wyoming >= 1.2 header holds only type, version and two
    lengths (under 200 bytes); 4 KiB leaves room for the small inline ``data`` older peers
    put in the header, and keeps a hostile line cheap to reject."""

    max_data_length: int = 1 * MIB
    """Largest data section. The biggest real one is an ``info`` event of an engine listing
    every voice or model it knows (tens of KiB for wyoming-piper's full voice list)."""

    max_payload_length: int = 256 * KIB
    """Largest payload. Audio chunks are a few KiB (20 ms of 16 kHz mono is 640 bytes;
    wyoming-piper sends 2 KiB); 256 KiB is 1.3 s of 48 kHz stereo, ample for any chunk."""

    max_json_depth: int = 32
    """Deepest JSON nesting in a header or data section; real events nest 6 levels at most.
    Checked before ``json.loads`` so a hostile ``[[[[...`` never reaches the recursive
    decoder."""

    max_queued_bytes: int = 1 * MIB
    """Received events waiting for the application (about 25 s of 16 kHz audio; each event
    counts its wire size plus 512 bytes of object overhead). When full, the link stops
    reading the socket, so TCP pushes back on the sender; an application that leaves it
    full for longer than dead_peer_timeout stops answering pings and looks dead to the
    peer, which drops the link."""

    handshake_timeout: float = 10.0
    """Time for a whole handshake after the TCP connection opens. X25519 takes milliseconds
    even on a Pi Zero; 10 s covers a congested Wi-Fi link and a busy peer."""

    read_stall_timeout: float = 5.0
    """Longest silence in the middle of a frame or an event. A healthy peer sends a whole
    event back to back; five silent seconds mid-event mean a stuck or hostile peer."""

    event_deadline: float = 15.0
    """Longest time from the first to the last byte of one event, so a peer trickling one
    byte every few seconds cannot hold a connection (a full 1 MiB event still fits at
    about 0.6 Mbit/s)."""

    keepalive_interval: float = 2.0
    """Send a ping after this long without hearing from the peer."""

    dead_peer_timeout: float = 5.0
    """Declare the peer dead after this long without hearing from it: 2.5 unanswered ping
    intervals. With the watchdog's tick (a quarter of the interval) a dead peer is
    detected within 5.5 s, inside the 7 s promise."""

    connect_timeout: float = 5.0
    """Time to open the TCP connection. On a LAN this takes milliseconds; 5 s tolerates a
    device that is waking up without stalling a reconnect loop."""

    max_handshaking: int = 32
    """Connections a server lets sit in the handshake at once; more are closed at once. It
    caps what peers opening sockets can make the server hold (a half-open handshake costs
    a few KiB)."""

    max_handshaking_per_peer: int = 8
    """Of those, connections from one address. Home Assistant opens one link per engine
    request, so several satellites answered at once start a few handshakes together (each
    takes milliseconds); 8 leaves room for that, while a flood from one address fills only
    its own slots and the owner's Home Assistant still gets in."""

    def __post_init__(self) -> None:
        for name in ("max_header_line", "max_data_length", "max_payload_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"LinkSettings.{name} must be at least 1")
        if self.max_json_depth < 2:
            raise ValueError("LinkSettings.max_json_depth must be at least 2")
        if self.max_handshaking < 1:
            raise ValueError("LinkSettings.max_handshaking must be at least 1")
        if self.max_handshaking_per_peer < 1:
            raise ValueError("LinkSettings.max_handshaking_per_peer must be at least 1")
        if self.max_queued_bytes < 1:
            raise ValueError("LinkSettings.max_queued_bytes must be at least 1")
        for name in (
            "handshake_timeout",
            "read_stall_timeout",
            "event_deadline",
            "keepalive_interval",
            "dead_peer_timeout",
            "connect_timeout",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"LinkSettings.{name} must be positive")
        if self.dead_peer_timeout <= self.keepalive_interval:
            raise ValueError("LinkSettings.dead_peer_timeout must exceed keepalive_interval")

    @property
    def watchdog_tick(self) -> float:
        """How often the keepalive watchdog looks at the link."""
        return self.keepalive_interval / 4


DEFAULT_SETTINGS: Final = LinkSettings()
