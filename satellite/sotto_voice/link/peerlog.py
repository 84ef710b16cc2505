"""Warnings about misbehaving peers, at most one per peer per interval.

A port scanner, a flood of half-open handshakes or a peer holding the wrong key would
otherwise write one warning per connection, as fast as it can reconnect: enough to fill
a Pi's SD card and to bury the one line that matters. Each peer (remote IP address, not
port: a scanner uses a fresh port for every connection) gets one line per interval; the
lines it did not get are counted and the count is told with its next line. Only the log
is limited: every misbehaving connection is still closed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

PEER_LOG_INTERVAL: Final = 60.0
"""Seconds between two warnings about the same peer."""

MAX_TRACKED_PEERS: Final = 1024
"""Peers remembered at once; beyond that the one warned about longest ago is forgotten,
so a host cycling through many addresses cannot grow this table without bound."""

Clock = Callable[[], float]
"""Returns seconds on a monotonic scale."""

_DEFAULT_LOGGER: Final = logging.getLogger("sotto_voice.link.server")


def peer_host(peername: object) -> str:
    """The remote IP address of a socket's peername, the key warnings are limited by."""
    if isinstance(peername, tuple) and peername:
        return str(peername[0])
    return "unknown peer"


@dataclass(slots=True)
class _Peer:
    logged_at: float
    suppressed: int = 0


class PeerLog:
    """Logs problems with peers as warnings, one per peer per interval, counting the rest."""

    def __init__(
        self,
        *,
        interval: float = PEER_LOG_INTERVAL,
        clock: Clock = time.monotonic,
        logger: logging.Logger | None = None,
        max_peers: int = MAX_TRACKED_PEERS,
    ) -> None:
        if not interval > 0:
            raise ValueError("PeerLog interval must be positive")
        if max_peers < 1:
            raise ValueError("PeerLog max_peers must be at least 1")
        self._interval = interval
        self._clock = clock
        self._logger = logger or _DEFAULT_LOGGER
        self._max_peers = max_peers
        self._peers: dict[str, _Peer] = {}

    @property
    def interval(self) -> float:
        """Seconds between two warnings about the same peer."""
        return self._interval

    def suppressed(self, host: str) -> int:
        """Problems with host not logged since its last warning."""
        peer = self._peers.get(host)
        return peer.suppressed if peer is not None else 0

    def report(self, host: str, text: str) -> bool:
        """Log text as a warning about host unless one was logged within the interval.

        Returns True if the line was logged, False if it was only counted.
        """
        now = self._clock()
        peer = self._peers.get(host)
        if peer is not None and now - peer.logged_at < self._interval:
            peer.suppressed += 1
            return False
        if peer is not None and peer.suppressed:
            text = (
                f"{text} ({peer.suppressed} more problem{'s' if peer.suppressed != 1 else ''} "
                f"with {host} not logged in the last {now - peer.logged_at:.0f} s)"
            )
        self._remember(host, now)
        self._logger.warning("%s", text)
        return True

    def _remember(self, host: str, now: float) -> None:
        self._peers.pop(host, None)  # re-inserted last: the dict stays ordered by time
        if len(self._peers) >= self._max_peers:
            stale = [
                key for key, peer in self._peers.items() if now - peer.logged_at >= self._interval
            ]
            for key in stale:
                del self._peers[key]
            while len(self._peers) >= self._max_peers:
                del self._peers[next(iter(self._peers))]
        self._peers[host] = _Peer(now)
