"""Opening a link to a server: `async with connect(...) as link:`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from .errors import (
    ConnectionFailedError,
    HandshakeTimeoutError,
    LinkError,
    LinkTimeoutError,
)
from .frames import FrameReader
from .handshake import client_handshake
from .identity import PeerIdentity
from .keys import LinkKey
from .link import Link
from .settings import DEFAULT_SETTINGS, LinkSettings


def check_mode(key: LinkKey | None, *, legacy: bool) -> None:
    """Refuse ambiguous security settings: a key and legacy, or neither."""
    if legacy and key is not None:
        raise ValueError("legacy=True means plaintext Wyoming: do not pass a key with it")
    if not legacy and key is None:
        raise ValueError(
            "a link key is required; plaintext Wyoming to a stock peer must be asked for "
            "explicitly with legacy=True"
        )
    if key is not None and not isinstance(key, LinkKey):
        raise TypeError(f"key must be a LinkKey, not {type(key).__name__}")


async def _abort(writer: asyncio.StreamWriter) -> None:
    writer.transport.abort()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()


@contextlib.asynccontextmanager
async def connect(
    host: str,
    port: int,
    *,
    key: LinkKey | None,
    identity: PeerIdentity,
    expected_device_id: str | None = None,
    legacy: bool = False,
    settings: LinkSettings = DEFAULT_SETTINGS,
) -> AsyncIterator[Link]:
    """Open a link to host:port, run the handshake, and close the link on exit."""
    check_mode(key, legacy=legacy)
    if legacy and expected_device_id is not None:
        raise ValueError("a legacy (plaintext) peer cannot prove its device ID")
    where = f"{host}:{port}"
    try:
        async with asyncio.timeout(settings.connect_timeout):
            reader, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        raise LinkTimeoutError(
            f"could not connect to {where} within {settings.connect_timeout} s"
        ) from None
    except OSError as err:
        raise ConnectionFailedError(f"could not connect to {where}: {err}") from None

    if legacy:
        link = Link(writer, settings=settings, where=where, reader=reader)
    else:
        assert key is not None  # checked by check_mode
        frames = FrameReader(reader, settings)
        try:
            async with asyncio.timeout(settings.handshake_timeout):
                cipher, peer = await client_handshake(
                    frames,
                    writer,
                    key=key,
                    identity=identity,
                    expected_device_id=expected_device_id,
                    where=where,
                )
        except TimeoutError:
            await _abort(writer)
            raise HandshakeTimeoutError(
                f"{where} did not finish the handshake within {settings.handshake_timeout} s"
            ) from None
        except (LinkError, ConnectionError, OSError) as err:
            await _abort(writer)
            if isinstance(err, LinkError):
                raise
            raise ConnectionFailedError(
                f"connection to {where} lost in the handshake: {err}"
            ) from None
        except BaseException:  # cancelled: cut the connection without awaiting anything
            writer.transport.abort()
            raise
        link = Link(writer, settings=settings, where=where, peer=peer, cipher=cipher, frames=frames)
    try:
        yield link
    finally:
        await link.close()
