"""The link's exception tree: everything the link raises on purpose is a LinkError."""

from __future__ import annotations

from sotto_voice.errors import SottoError


class LinkError(SottoError):
    """Base of every error the secure link raises."""


class KeyFormatError(LinkError, ValueError):
    """A pre-shared key (or key file) is not 32 bytes of valid base64."""


class KeyFileError(LinkError):
    """A key file is missing, unreadable or malformed; the message names it and what to do."""


class ConnectionFailedError(LinkError):
    """The TCP connection to the peer could not be opened."""


class LinkTimeoutError(LinkError):
    """The TCP connection to the peer was not established within the connect timeout."""


class ConnectionClosedError(LinkError):
    """The link is closed: the peer ended it cleanly, or it was closed locally."""


class PeerDeadError(LinkError):
    """The peer stopped answering keepalive pings within the dead-peer timeout."""


class ProtocolError(LinkError):
    """The peer broke the wire format; the connection has been closed."""


class FrameTooLargeError(ProtocolError):
    """A header line, data section, payload or frame is larger than its limit."""


class MalformedHeaderError(ProtocolError):
    """An event header is not a JSON object with a type and valid lengths."""


class MalformedDataError(ProtocolError):
    """An event's data section is not a JSON object."""


class NestingTooDeepError(ProtocolError):
    """JSON in a header or data section is nested deeper than allowed."""


class TruncatedFrameError(ProtocolError):
    """The connection ended in the middle of a frame or an event."""


class SlowPeerError(ProtocolError):
    """A started frame or event did not arrive in time (stalled or trickling peer)."""


class UnexpectedFrameError(ProtocolError):
    """A frame that does not belong here (not a Sotto frame, unknown kind, bad order)."""


class DecryptError(ProtocolError):
    """A transport frame failed authentication (tampered, replayed or out of order)."""


class HandshakeError(LinkError):
    """The Noise handshake or the hello inside it failed."""


class InvalidKeyError(HandshakeError):
    """The peer holds a different pre-shared key."""


class WrongDeviceError(HandshakeError):
    """The peer is a different device from the one this client expected."""

    def __init__(self, expected: str, actual: str, actual_name: str) -> None:
        super().__init__(
            f"expected device {expected!r} but reached device {actual!r} ({actual_name!r}): "
            "the address may now belong to another device, or it is an impostor"
        )
        self.expected = expected
        self.actual = actual
        self.actual_name = actual_name


class HandshakeTimeoutError(HandshakeError):
    """The handshake did not complete within the handshake timeout."""
