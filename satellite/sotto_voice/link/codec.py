"""Wyoming's wire format (header line, data JSON, payload), written and read with bounds.

The same reader serves encrypted links (bytes come out of decrypted frames) and legacy
plaintext links (bytes come straight off the socket): a ByteSource supplies the bytes,
read_event enforces every limit.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from abc import ABC, abstractmethod
from typing import Any, Final

from wyoming.event import Event

from .errors import (
    FrameTooLargeError,
    MalformedDataError,
    MalformedHeaderError,
    NestingTooDeepError,
    SlowPeerError,
    TruncatedFrameError,
)
from .settings import LinkSettings

try:
    from wyoming.version import __version__ as _WYOMING_VERSION
except ImportError:  # pragma: no cover - every wyoming 1.x has it
    _WYOMING_VERSION = "1.5.4"

#: Strings (skipped whole) and the brackets outside them; used only on JSON that has more
#: brackets than the depth limit, so the common case never runs a Python loop.
_JSON_STRUCTURE: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|([\[{])|[\]}]', re.DOTALL)
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_DECODER: Final = json.JSONDecoder()
_JSON_SPACE: Final = " \t\n\r"
_EMPTY: Final = b""


def check_json_depth(raw: bytes, max_depth: int, what: str) -> None:
    """Raise NestingTooDeepError when raw JSON nests deeper than max_depth."""
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return  # fewer brackets than the limit: cannot be too deep
    depth = 0
    for match in _JSON_STRUCTURE.finditer(raw):
        token = match.group()
        if token[0] == 0x22:  # a string: brackets inside do not count
            continue
        if match.group(1) is not None:
            depth += 1
            if depth > max_depth:
                raise NestingTooDeepError(f"{what} nests deeper than {max_depth} levels")
        else:
            depth -= 1


def _loads(raw: bytes) -> Any:
    # Wyoming is UTF-8 JSON; decoding first skips json.loads' guessing among UTF-8/16/32.
    text = raw.decode("utf-8")
    value, end = _DECODER.raw_decode(text, len(text) - len(text.lstrip(_JSON_SPACE)))
    if text[end:].strip(_JSON_SPACE):
        raise ValueError(f"extra data after the JSON value at character {end}")
    return value


def _length(header: dict[str, Any], key: str, limit: int) -> int | None:
    value = header.get(key)
    if value is None:
        return None
    # bool is an int subclass, and floats/strings must not pass as lengths
    if type(value) is not int or value < 0:
        raise MalformedHeaderError(f"{key} must be a non-negative integer, got {value!r:.40}")
    if value > limit:
        raise FrameTooLargeError(f"{key} {value} exceeds the limit of {limit} bytes")
    return value


def parse_header(
    line: bytes, settings: LinkSettings
) -> tuple[str, dict[str, Any] | None, int, int | None]:
    """Parse a header line into type, inline data, data length and payload length."""
    check_json_depth(line, settings.max_json_depth, "event header")
    try:
        header = _loads(line)
    except (ValueError, RecursionError) as err:
        raise MalformedHeaderError(f"event header is not valid JSON: {err}") from None
    if type(header) is not dict:
        raise MalformedHeaderError(
            f"event header must be a JSON object, got {type(header).__name__}"
        )
    event_type = header.get("type")
    if type(event_type) is not str or not event_type:
        raise MalformedHeaderError("event header has no type (a non-empty string)")
    inline = header.get("data")
    if inline is not None and type(inline) is not dict:
        raise MalformedHeaderError("inline event data must be a JSON object")
    data_length = _length(header, "data_length", settings.max_data_length) or 0
    payload_length = _length(header, "payload_length", settings.max_payload_length)
    return event_type, inline, data_length, payload_length


def parse_data(raw: bytes, settings: LinkSettings) -> dict[str, Any]:
    """Parse a data section, which must be a JSON object."""
    check_json_depth(raw, settings.max_json_depth, "event data")
    try:
        data = _loads(raw)
    except (ValueError, RecursionError) as err:
        raise MalformedDataError(f"event data is not valid JSON: {err}") from None
    if type(data) is not dict:
        raise MalformedDataError(f"event data must be a JSON object, got {type(data).__name__}")
    return data


@functools.lru_cache(maxsize=128)
def _header_prefix(event_type: str) -> bytes:
    # Event types are a small fixed set, so their JSON prefix is worth caching.
    return b'{"type":' + json.dumps(event_type, ensure_ascii=False).encode("utf-8")


_VERSION_PART: Final = f',"version":{json.dumps(_WYOMING_VERSION)}'.encode()


def encode_event(event: Event, settings: LinkSettings) -> bytes:
    """Return an event in Wyoming's wire format; an empty payload stays an empty payload."""
    event_type = event.type
    if type(event_type) is not str or not event_type:
        raise ValueError("an event needs a non-empty string type")
    data = event.data
    data_bytes = _ENCODER.encode(data).encode("utf-8") if data else _EMPTY
    payload = event.payload
    if len(data_bytes) > settings.max_data_length:
        raise ValueError(
            f"{event_type} event data is {len(data_bytes)} bytes, "
            f"over max_data_length {settings.max_data_length}"
        )
    parts = [_header_prefix(event_type), _VERSION_PART]
    if data_bytes:
        parts.append(b',"data_length":%d' % len(data_bytes))
    if payload is not None:
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise ValueError(f"{event_type} event payload must be bytes")
        if len(payload) > settings.max_payload_length:
            raise ValueError(
                f"{event_type} event payload is {len(payload)} bytes, "
                f"over max_payload_length {settings.max_payload_length}"
            )
        # Wyoming omits a zero length; sending it keeps an empty audio chunk distinct from
        # an event without a payload.
        parts.append(b',"payload_length":%d}\n' % len(payload))
        parts.append(data_bytes)
        parts.append(payload)
    else:
        parts.append(b"}\n")
        parts.append(data_bytes)
    return _EMPTY.join(parts)


class ByteSource(ABC):
    """A buffered byte stream for read_event, with the stall and deadline rules."""

    def __init__(self, settings: LinkSettings) -> None:
        self.settings = settings
        self._loop = asyncio.get_running_loop()
        self._buf = _EMPTY
        self._pos = 0
        self._last_rx = self._loop.time()
        #: When the event being read started, or None between events.
        self._event_start: float | None = None

    @property
    def last_rx(self) -> float:
        """When bytes last arrived from the peer (loop time); the keepalive reads it."""
        return self._last_rx

    @abstractmethod
    async def _more(self, deadline: float | None) -> bytes:
        """Return the next bytes from the peer, b"" at end of stream."""

    def deadline_for(self, started: float) -> float:
        """Return when a unit started at `started` must have made progress by."""
        return min(
            self._loop.time() + self.settings.read_stall_timeout,
            started + self.settings.event_deadline,
        )

    async def _fill(self) -> bool:
        mid_event = self._event_start is not None
        deadline = self.deadline_for(self._event_start) if self._event_start is not None else None
        try:
            chunk = await self._more(deadline)
        except TimeoutError:
            raise SlowPeerError(
                "peer stalled in the middle of an event "
                f"(stall timeout {self.settings.read_stall_timeout} s, "
                f"event deadline {self.settings.event_deadline} s)"
            ) from None
        if not chunk:
            if mid_event:
                raise TruncatedFrameError("connection ended in the middle of an event")
            return False
        now = self._loop.time()
        self._last_rx = now
        if self._event_start is None:
            self._event_start = now
        pos = self._pos
        if pos >= len(self._buf):
            self._buf = chunk
        else:
            self._buf = self._buf[pos:] + chunk
        self._pos = 0
        return True

    async def read_line(self, limit: int) -> bytes | None:
        """Return one line (with its newline) of at most limit bytes, None at clean EOF."""
        searched = 0
        while True:
            end = self._buf.find(b"\n", self._pos + searched)
            if end >= 0:
                if end + 1 - self._pos > limit:
                    break
                line = self._buf[self._pos : end + 1]
                self._pos = end + 1
                return line
            searched = len(self._buf) - self._pos
            if searched > limit:
                break
            if not await self._fill():
                return None
        raise FrameTooLargeError(f"event header line is longer than {limit} bytes")

    async def read_exactly(self, size: int) -> bytes:
        """Return exactly size bytes."""
        while len(self._buf) - self._pos < size:
            if not await self._fill():
                raise TruncatedFrameError("connection ended in the middle of an event")
        start = self._pos
        self._pos = start + size
        return self._buf[start : start + size]

    def begin_event(self) -> None:
        """Note that a new event starts now (its first bytes may already be buffered)."""
        self._event_start = self.last_rx if self._pos < len(self._buf) else None

    def end_event(self) -> None:
        """Note that the current event is complete."""
        self._event_start = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet consumed."""
        return len(self._buf) - self._pos


async def read_event(source: ByteSource, settings: LinkSettings) -> tuple[Event, int] | None:
    """Read one event and its wire size; None when the stream ends between events."""
    source.begin_event()
    line = await source.read_line(settings.max_header_line)
    if line is None:
        return None
    event_type, inline, data_length, payload_length = parse_header(line, settings)
    data = inline if inline is not None else {}
    if data_length:
        data.update(parse_data(await source.read_exactly(data_length), settings))
    payload: bytes | None = None
    if payload_length is not None:
        payload = await source.read_exactly(payload_length) if payload_length else _EMPTY
    source.end_event()
    return Event(type=event_type, data=data, payload=payload), (
        len(line) + data_length + (payload_length or 0)
    )


class StreamSource(ByteSource):
    """Bytes straight from a TCP stream: the legacy plaintext Wyoming path."""

    def __init__(self, reader: asyncio.StreamReader, settings: LinkSettings) -> None:
        super().__init__(settings)
        self._reader = reader

    async def _more(self, deadline: float | None) -> bytes:
        if deadline is None:
            return await self._reader.read(65536)
        async with asyncio.timeout_at(deadline):
            return await self._reader.read(65536)
