"""A minimal HTTP/1.1 server on 127.0.0.1 standing in for the piper voices repository."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from sotto_voice.engine.tts import VoiceName

# Served under a path, like the real repository, so URL joining is exercised.
PREFIX = "/rhasspy/piper-voices/resolve/main"


@dataclass
class Reply:
    """What the server sends for one path."""

    body: bytes
    status: int = 200
    # Announce more bytes than are sent, then hang up: a download cut short.
    truncate_to: int | None = None


@dataclass
class VoiceRepository:
    """Paths the server knows, and the paths it was asked for."""

    replies: dict[str, Reply] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    url: str = ""

    def add_voice(self, name: str, model: bytes, config: bytes, *, catalogue: bool = True) -> None:
        """Publish a voice in the repository layout, listed in voices.json if asked."""
        voice = VoiceName.parse(name)
        files = {
            voice.repository_path(".onnx"): model,
            voice.repository_path(".onnx.json"): config,
        }
        for path, body in files.items():
            self.replies["/" + path] = Reply(body)
        if catalogue:
            listing = json.loads(self.replies["/voices.json"].body) if self.has_catalogue else {}
            listing[name] = {
                "key": name,
                "files": {
                    path: {"size_bytes": len(body), "md5_digest": hashlib.md5(body).hexdigest()}
                    for path, body in files.items()
                },
            }
            self.replies["/voices.json"] = Reply(json.dumps(listing).encode())

    @property
    def has_catalogue(self) -> bool:
        """Whether voices.json is served."""
        return "/voices.json" in self.replies

    def voice_files(self, directory: Path) -> list[str]:
        """Names of every file (hidden ones included) in a directory."""
        return sorted(path.name for path in directory.iterdir()) if directory.exists() else []


async def _handle(
    repository: VoiceRepository, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        request_line = (await reader.readline()).decode("latin-1").split()
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass
        path = request_line[1].split("?", 1)[0] if len(request_line) >= 2 else "/"
        path = path.removeprefix(PREFIX) if path.startswith(PREFIX + "/") else "/outside"
        repository.requests.append(path)
        reply = repository.replies.get(path, Reply(b"Not found", status=404))
        reason = {200: "OK", 404: "Not Found"}.get(reply.status, "Error")
        body = reply.body if reply.truncate_to is None else reply.body[: reply.truncate_to]
        writer.write(
            f"HTTP/1.1 {reply.status} {reason}\r\n"
            f"Content-Length: {len(reply.body)}\r\n"
            "Content-Type: application/octet-stream\r\n"
            "Connection: close\r\n\r\n".encode("latin-1")
            + body
        )
        await writer.drain()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def serve_repository() -> AsyncIterator[VoiceRepository]:
    """Serve a VoiceRepository on 127.0.0.1 for the duration of the block."""
    repository = VoiceRepository()
    server = await asyncio.start_server(
        lambda reader, writer: _handle(repository, reader, writer), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    repository.url = f"http://127.0.0.1:{port}{PREFIX}"
    try:
        yield repository
    finally:
        server.close()
        await server.wait_closed()
