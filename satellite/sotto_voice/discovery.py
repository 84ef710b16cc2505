"""Zeroconf announcement of a satellite or an engine: `_sotto._tcp` with TXT id, name,
version, role and encrypted=1."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any, Final

from sotto_voice.link import PeerIdentity

_LOGGER = logging.getLogger(__name__)

SERVICE_TYPE: Final = "_sotto._tcp.local."
_GOODBYE_TIMEOUT: Final = 2.0
"""Longest wait for the goodbye broadcast when the device stops."""


def txt_records(identity: PeerIdentity) -> dict[str, str]:
    """Return the TXT records a device announces."""
    return {
        "id": identity.device_id,
        "name": identity.name,
        "version": identity.version,
        "encrypted": "1",
        "role": identity.role,
        "protocol": "1",
    }


def guess_address() -> str:
    """Return the address of the interface with the default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks a route
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


@contextlib.asynccontextmanager
async def announced(
    identity: PeerIdentity,
    *,
    port: int,
    address: str | None = None,
    interfaces: list[str] | None = None,
) -> AsyncIterator[str]:
    """Announce the device while inside the block; yields the service name.

    Raises ImportError when the optional zeroconf package is missing: the caller names the
    extra that brings it.
    """
    from zeroconf import IPVersion, ServiceInfo  # optional extra
    from zeroconf.asyncio import AsyncZeroconf

    host = address or guess_address()
    # The end of the device id keeps two devices with the same name apart: generated ids
    # may share a prefix ("engine-…"), never a random suffix.
    instance = f"{identity.name} {identity.device_id[-6:]}".replace(".", "-")
    info = ServiceInfo(
        SERVICE_TYPE,
        f"{instance}.{SERVICE_TYPE}",
        addresses=[socket.inet_aton(host)],
        port=port,
        properties=txt_records(identity),
        server=f"sotto-{identity.device_id}.local.",
    )
    zeroconf = AsyncZeroconf(
        interfaces=interfaces if interfaces is not None else [host],
        ip_version=IPVersion.V4Only,
    )
    broadcast: asyncio.Future[Any] | None = None
    try:
        # Registration returns the announcement broadcast; let it run while we serve.
        broadcast = asyncio.ensure_future(
            await zeroconf.async_register_service(info, allow_name_change=True)
        )
        _LOGGER.info("announced %s on %s:%s", info.name, host, port)
        yield str(info.name)
    finally:
        if broadcast is not None and not broadcast.done():
            broadcast.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await broadcast
        with contextlib.suppress(Exception):
            goodbye = await zeroconf.async_unregister_service(info)
            await asyncio.wait_for(goodbye, _GOODBYE_TIMEOUT)
        await zeroconf.async_close()
