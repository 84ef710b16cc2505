"""The secure Wyoming link every Sotto connection uses.

Wyoming events (the ``wyoming`` package's Event, so its event classes work unchanged)
travel in Wyoming's own wire format inside Noise ``Noise_NNpsk0_25519_ChaChaPoly_SHA256``
transport frames, framed like ESPHome's: ``[0x01][u16 big-endian length][Noise message]``.
Both sides prove they hold the same 32-byte pre-shared key, and each side's identity
(device ID, name, role, version) travels inside the handshake, under that key. A client
that expects device X and reaches device Y fails with WrongDeviceError.

Reading is bounded everywhere (see LinkSettings for each limit and its reason), and the
same bounded reader serves legacy plaintext links to stock Wyoming peers, which must be
asked for explicitly (``legacy=True``); there is never a silent fallback to plaintext.

Exceptions, all rooted at LinkError::

    LinkError
    ├── KeyFormatError           (also a ValueError) key text or key file is not a key
    ├── ConnectionFailedError    TCP connection could not be opened / lost in handshake
    ├── LinkTimeoutError         TCP connection not opened within connect_timeout
    ├── ConnectionClosedError    link ended cleanly (peer closed, or closed locally)
    ├── PeerDeadError            peer silent past dead_peer_timeout despite pings
    ├── ProtocolError            peer broke the wire format; connection closed
    │   ├── FrameTooLargeError       header line, data, payload over its limit
    │   ├── MalformedHeaderError     header not a JSON object / no type / bad lengths
    │   ├── MalformedDataError       data section not a JSON object
    │   ├── NestingTooDeepError      JSON nested deeper than max_json_depth
    │   ├── TruncatedFrameError      connection ended inside a frame or event
    │   ├── SlowPeerError            stalled or trickling mid-event
    │   ├── UnexpectedFrameError     not a Sotto frame (e.g. plaintext), unknown kind
    │   └── DecryptError             frame failed authentication
    └── HandshakeError           handshake or hello failed
        ├── InvalidKeyError          peer holds a different key
        ├── WrongDeviceError         peer is not the expected device
        └── HandshakeTimeoutError    handshake not done within handshake_timeout

Usage::

    async with connect(host, port, key=key, identity=me, expected_device_id="kitchen") as link:
        await link.write_event(AudioChunk(...).event())
        async for event in link:
            ...

    server = LinkServer(handle, key=key, identity=me)
    async with server.serving("127.0.0.1", 0) as port:
        ...

A server logs every problem a peer causes (scan, garbage, wrong key, handshake flood,
broken events) as one warning naming the address, at most one per peer (IP address) per
minute through its PeerLog; the connection is closed every time.
"""

from __future__ import annotations

from .client import connect
from .errors import (
    ConnectionClosedError,
    ConnectionFailedError,
    DecryptError,
    FrameTooLargeError,
    HandshakeError,
    HandshakeTimeoutError,
    InvalidKeyError,
    KeyFileError,
    KeyFormatError,
    LinkError,
    LinkTimeoutError,
    MalformedDataError,
    MalformedHeaderError,
    NestingTooDeepError,
    PeerDeadError,
    ProtocolError,
    SlowPeerError,
    TruncatedFrameError,
    UnexpectedFrameError,
    WrongDeviceError,
)
from .identity import ROLE_CONTROLLER, ROLE_ENGINE, ROLE_SATELLITE, ROLES, PeerIdentity
from .keys import LinkKey, create_key_file, load_key_file, read_key_file, write_key_file
from .link import Link
from .peerlog import PeerLog
from .server import LinkHandler, LinkServer
from .settings import DEFAULT_SETTINGS, LinkSettings

__all__ = [
    "DEFAULT_SETTINGS",
    "ROLES",
    "ROLE_CONTROLLER",
    "ROLE_ENGINE",
    "ROLE_SATELLITE",
    "ConnectionClosedError",
    "ConnectionFailedError",
    "DecryptError",
    "FrameTooLargeError",
    "HandshakeError",
    "HandshakeTimeoutError",
    "InvalidKeyError",
    "KeyFileError",
    "KeyFormatError",
    "Link",
    "LinkError",
    "LinkHandler",
    "LinkKey",
    "LinkServer",
    "LinkSettings",
    "LinkTimeoutError",
    "MalformedDataError",
    "MalformedHeaderError",
    "NestingTooDeepError",
    "PeerDeadError",
    "PeerIdentity",
    "PeerLog",
    "ProtocolError",
    "SlowPeerError",
    "TruncatedFrameError",
    "UnexpectedFrameError",
    "WrongDeviceError",
    "connect",
    "create_key_file",
    "load_key_file",
    "read_key_file",
    "write_key_file",
]
