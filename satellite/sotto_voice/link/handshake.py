"""The Noise NNpsk0 handshake, with each side's hello as the handshake payloads.

    client -> server   frame(msg1: e, hello_c encrypted under the PSK)
    server -> client   frame(0x00 + msg2: e, ee, hello_s)   or   frame(0x01/0x02 + reason)
    client -> server   transport frame(READY)

The server hands the connection to its handler only after READY decrypts, which proves
the client holds the ephemeral key of msg1: replayed handshake bytes never reach a
handler. Neither side sends application data before its handshake is complete.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from noise.connection import NoiseConnection

from .errors import (
    HandshakeError,
    InvalidKeyError,
    UnexpectedFrameError,
    WrongDeviceError,
)
from .frames import KIND_READY, FrameReader, pack_frame
from .identity import PeerIdentity
from .keys import LinkKey

_LOGGER = logging.getLogger(__name__)

NOISE_PROTOCOL: Final = b"Noise_NNpsk0_25519_ChaChaPoly_SHA256"
#: Mixed into the handshake hash: a handshake meant for another protocol cannot pass here.
PROLOGUE: Final = b"sotto-link/1"

STATUS_OK: Final = 0x00
STATUS_BAD_KEY: Final = 0x01
STATUS_REFUSED: Final = 0x02
_MAX_REASON: Final = 200
_READY: Final = bytes((KIND_READY,))


def _new_noise(key: LinkKey, *, initiator: bool) -> NoiseConnection:
    noise = NoiseConnection.from_name(NOISE_PROTOCOL)
    if initiator:
        noise.set_as_initiator()
    else:
        noise.set_as_responder()
    noise.set_psks(psk=key.secret)
    noise.set_prologue(PROLOGUE)
    noise.start_handshake()
    return noise


def _reason(message: bytes) -> str:
    return message[:_MAX_REASON].decode("utf-8", "replace").strip() or "no reason given"


async def client_handshake(
    frames: FrameReader,
    writer: asyncio.StreamWriter,
    *,
    key: LinkKey,
    identity: PeerIdentity,
    expected_device_id: str | None,
    where: str,
) -> tuple[NoiseConnection, PeerIdentity]:
    """Run the initiator's side; return the cipher and the server's identity."""
    noise = _new_noise(key, initiator=True)
    writer.write(pack_frame(bytes(noise.write_message(identity.to_hello()))))
    reply = await frames.read_frame()
    if reply is None:
        raise HandshakeError(
            f"{where} closed the connection during the handshake: it is not a Sotto link "
            "server, or it refused us (a stock Wyoming peer needs legacy mode)"
        )
    if not reply:
        raise HandshakeError(f"{where} sent an empty handshake reply")
    status = reply[0]
    if status == STATUS_BAD_KEY:
        raise InvalidKeyError(
            f"{where} rejected our handshake: it holds a different link key ({_reason(reply[1:])})"
        )
    if status == STATUS_REFUSED:
        raise HandshakeError(f"{where} refused the handshake: {_reason(reply[1:])}")
    if status != STATUS_OK:
        raise UnexpectedFrameError(f"{where} sent unknown handshake status 0x{status:02x}")
    try:
        hello = bytes(noise.read_message(reply[1:]))
    except Exception as err:  # noise raises several unrelated types
        raise InvalidKeyError(
            f"{where}'s handshake reply failed authentication ({type(err).__name__}): "
            "it does not hold our link key"
        ) from None
    if not noise.handshake_finished:  # pragma: no cover - NN completes in two messages
        raise HandshakeError("handshake did not complete after two messages")
    peer = PeerIdentity.from_hello(hello)
    if expected_device_id is not None and peer.device_id != expected_device_id:
        raise WrongDeviceError(expected_device_id, peer.device_id, peer.name)
    writer.write(pack_frame(noise.encrypt(_READY)))
    return noise, peer


def _refuse(writer: asyncio.StreamWriter, status: int, reason: str) -> None:
    writer.write(pack_frame(bytes((status,)) + reason.encode("utf-8")[:_MAX_REASON]))


async def server_handshake(
    frames: FrameReader,
    writer: asyncio.StreamWriter,
    *,
    key: LinkKey,
    identity: PeerIdentity,
    where: str,
) -> tuple[NoiseConnection, PeerIdentity]:
    """Run the responder's side; return the cipher and the client's identity."""
    first = await frames.read_frame()
    if first is None:
        raise HandshakeError(
            f"{where} closed the connection without sending anything (a port scan, or a "
            "client that gave up)"
        )
    noise = _new_noise(key, initiator=False)
    try:
        hello = bytes(noise.read_message(first))
    except Exception as err:  # noise raises several unrelated types
        _refuse(writer, STATUS_BAD_KEY, "handshake failed authentication: wrong link key")
        raise InvalidKeyError(
            f"{where}'s handshake failed authentication ({type(err).__name__}): "
            "it holds a different link key"
        ) from None
    try:
        peer = PeerIdentity.from_hello(hello)
    except HandshakeError as err:
        _refuse(writer, STATUS_REFUSED, str(err))
        raise
    writer.write(pack_frame(bytes((STATUS_OK,)) + bytes(noise.write_message(identity.to_hello()))))
    ready = await frames.read_frame()
    if ready is None:
        raise HandshakeError(f"{where} closed the connection before confirming the handshake")
    try:
        confirmation = noise.decrypt(ready)
    except Exception as err:  # any failure means an unauthentic frame
        raise HandshakeError(
            f"{where}'s handshake confirmation failed authentication "
            f"({type(err).__name__}): replayed handshake bytes?"
        ) from None
    if confirmation != _READY:
        raise HandshakeError(f"{where} sent something other than READY after the handshake")
    return noise, peer
