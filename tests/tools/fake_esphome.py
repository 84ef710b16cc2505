"""A fake ESPHome voice satellite on 127.0.0.1 that the real aioesphomeapi client talks to.

It speaks ESPHome's native API as a device does: the Noise_NNpsk0 handshake (server side,
written here with the `noise` package), encrypted frames carrying aioesphomeapi's own
protobuf messages, device info with voice-assistant feature flags, an entity list (a mute
switch, a wake word select and optionally a media player), states, and the
voice-assistant conversation: start, audio, stop, events and reply audio. A device
without a voice-assistant speaker plays replies and announcements as ESPHome's media
player does: it fetches their URLs from Home Assistant over real HTTP, then says it has
finished.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
from aioesphomeapi import api_pb2 as pb
from aioesphomeapi.core import MESSAGE_TYPE_TO_PROTO
from aioesphomeapi.model import VoiceAssistantEventType, VoiceAssistantFeature
from cryptography.exceptions import InvalidTag
from noise.connection import NoiseConnection
from noise.exceptions import NoiseInvalidMessage

_PROTO_TO_TYPE: Final = {proto: number for number, proto in MESSAGE_TYPE_TO_PROTO.items()}
_PROLOGUE: Final = b"NoiseAPIInit\x00\x00"
_CHUNK: Final = 1024  # 32 ms of 16 kHz s16le mono, as ESPHome's microphone sends
_MAX_STREAM_SECONDS: Final = 15.0

MUTE_KEY: Final = 101
WAKE_WORD_KEY: Final = 102
SENSITIVITY_KEY: Final = 105
SENSITIVITIES: Final = ("Slightly sensitive", "Moderately sensitive", "Very sensitive")
MEDIA_PLAYER_KEY: Final = 103
ALL_FEATURES: Final = (
    VoiceAssistantFeature.VOICE_ASSISTANT
    | VoiceAssistantFeature.SPEAKER
    | VoiceAssistantFeature.API_AUDIO
    | VoiceAssistantFeature.TIMERS
)
# A Voice PE-like device: replies and announcements through its media player, by URL.
MEDIA_PLAYER_FEATURES: Final = (
    VoiceAssistantFeature.VOICE_ASSISTANT
    | VoiceAssistantFeature.API_AUDIO
    | VoiceAssistantFeature.TIMERS
    | VoiceAssistantFeature.ANNOUNCE
    | VoiceAssistantFeature.START_CONVERSATION
)


@dataclass(frozen=True, slots=True)
class Fetched:
    """One URL the device's media player fetched from Home Assistant."""

    url: str
    status: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Announcement:
    """One announcement request, as the device received it."""

    media_id: str
    text: str
    preannounce_media_id: str
    start_conversation: bool


def new_key() -> str:
    """A fresh ESPHome API encryption key, base64 as in a device's YAML."""
    return base64.b64encode(os.urandom(32)).decode()


@dataclass
class FakeEsphomeDevice:
    """One ESPHome device: its identity, entities, and what Home Assistant told it."""

    key: str | None
    """The API encryption key (base64); None for a device without encryption."""

    name: str = "kitchen-echo"
    friendly_name: str = "Kitchen Echo"
    mac: str = "AA:BB:CC:DD:EE:01"
    features: int = int(ALL_FEATURES)
    has_mute_switch: bool = True
    has_media_player: bool = False
    finishes_announcements: bool = True
    """False: the device takes an announcement and never says it finished (a hung player)."""
    wake_words: tuple[str, ...] = ("okay_nabu", "hey_jarvis")
    has_sensitivity_select: bool = False
    """A "Wake word sensitivity" select listed before the wake word's (as Voice PE has)."""
    port: int = 0
    muted: bool = False
    wake_word: str = "okay_nabu"
    max_active_wake_words: int = 1
    """How many wake words its voice assistant holds at once (reported when asked)."""
    active_wake_words: list[str] = field(default_factory=list)
    """Those Home Assistant set; until it does, the select's wake word alone."""
    answers_wake_config: bool = True
    """False: it never answers the configuration request (as older firmware)."""
    events: list[tuple[VoiceAssistantEventType, dict[str, str]]] = field(default_factory=list)
    reply_audio: bytearray = field(default_factory=bytearray)
    timers: list[pb.VoiceAssistantTimerEventResponse] = field(default_factory=list)
    sent_audio: int = 0
    fetched: list[Fetched] = field(default_factory=list)
    announcements: list[Announcement] = field(default_factory=list)
    reply_done: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a reply has been played: streamed to the speaker, or fetched by URL."""
    handshakes_refused: int = 0
    streaming: bool = False
    _server: asyncio.Server | None = None
    _writers: list[_Session] = field(default_factory=list)
    _subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    _connected: asyncio.Event = field(default_factory=asyncio.Event)
    _stop_mic: asyncio.Event = field(default_factory=asyncio.Event)
    _response: asyncio.Queue[pb.VoiceAssistantResponse] = field(default_factory=asyncio.Queue)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    run_ended: asyncio.Event = field(default_factory=asyncio.Event)
    _streaming: asyncio.Event = field(default_factory=asyncio.Event)

    # --- life --------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1 (the same port again after a reboot)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Power off: close the listener and every connection."""
        if self._server is not None:
            self._server.close()
        for session in list(self._writers):
            session.writer.close()
            with contextlib.suppress(OSError):
                await session.writer.wait_closed()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        self._subscribed.clear()
        self._connected.clear()

    async def __aenter__(self) -> FakeEsphomeDevice:
        """Start listening."""
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop everything."""
        await self.stop()

    # --- what a person does to the device -----------------------------------------------

    async def wait_subscribed(self) -> None:
        """Until Home Assistant has subscribed to the voice assistant."""
        await self._subscribed.wait()

    async def wait_streaming(self) -> None:
        """Until the microphone's audio is going out."""
        await self._streaming.wait()

    @property
    def connected(self) -> bool:
        """Whether a client has logged in since the device started."""
        return self._connected.is_set()

    def press_mute(self) -> None:
        """The device's own mute button toggles its mute switch.

        As Sotto's YAML does: muting stops the voice assistant first (the microphone
        closes and the device tells HA the run is over), then reports the switch.
        """
        self.muted = not self.muted
        if self.muted and self.streaming:
            self._stop_mic.set()
            self._broadcast(pb.VoiceAssistantRequest(start=False))
        self._broadcast(pb.SwitchStateResponse(key=MUTE_KEY, state=self.muted))

    async def speak(
        self, pcm: bytes, *, wake_word: str | None = "Okay Nabu", flags: int = 0
    ) -> None:
        """The on-device wake word fired: stream `pcm` (then silence) until told to stop.

        `flags` are the request's command flags (USE_WAKE_WORD asks the server to find
        the wake word in the audio, as a device without micro_wake_word does).
        """
        self._stop_mic.clear()
        self.run_ended.clear()
        self.reply_done.clear()
        self._broadcast(
            pb.VoiceAssistantRequest(
                start=True,
                conversation_id="",
                flags=flags,
                wake_word_phrase=wake_word or "",
            )
        )
        response = await self._response.get()
        if response.error:
            return
        audio = pcm
        limit = int(_MAX_STREAM_SECONDS * 32000)
        sent = 0
        self.streaming = True
        self._streaming.set()
        try:
            while not self._stop_mic.is_set() and sent < limit:
                chunk = audio[sent : sent + _CHUNK] or bytes(_CHUNK)
                self._broadcast(pb.VoiceAssistantAudio(data=chunk))
                sent += len(chunk)
                self.sent_audio += len(chunk)
                # Paced like a microphone: what HA hears when is what a real device sends.
                await asyncio.sleep(len(chunk) / 32000)
            if not self._stop_mic.is_set():
                self._broadcast(pb.VoiceAssistantAudio(end=True))
        finally:
            self.streaming = False
            self._streaming.clear()

    # --- the API server -----------------------------------------------------------------

    def _broadcast(self, message: Any) -> None:
        for session in self._writers:
            if session.ready:
                session.send(message)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        session = _Session(self, reader, writer)
        self._writers.append(session)
        try:
            await session.run()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.remove(session)
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _handle(self, session: _Session, message: Any) -> None:
        """Answer one decrypted message as an ESPHome device would."""
        handlers: dict[type[Any], Callable[[_Session, Any], None]] = {
            pb.HelloRequest: self._hello,
            pb.AuthenticationRequest: self._login,
            pb.PingRequest: lambda session, _message: session.send(pb.PingResponse()),
            pb.DisconnectRequest: self._disconnect,
            pb.DeviceInfoRequest: self._device_info,
            pb.ListEntitiesRequest: lambda session, _message: self._list_entities(session),
            pb.SubscribeStatesRequest: self._states,
            pb.SwitchCommandRequest: self._switch,
            pb.SelectCommandRequest: self._select,
            pb.SubscribeVoiceAssistantRequest: self._subscribe_voice_assistant,
            pb.VoiceAssistantResponse: lambda _session, m: self._response.put_nowait(m),
            pb.VoiceAssistantEventResponse: lambda _session, m: self._on_event(m),
            pb.VoiceAssistantAudio: self._reply_audio,
            pb.VoiceAssistantTimerEventResponse: lambda _session, m: self.timers.append(m),
            pb.VoiceAssistantAnnounceRequest: lambda _session, m: self._spawn(self._announce(m)),
            pb.VoiceAssistantConfigurationRequest: self._wake_config,
            pb.VoiceAssistantSetConfiguration: self._set_wake_config,
        }
        handler = handlers.get(type(message))
        if handler is not None:
            handler(session, message)

    def _hello(self, session: _Session, _message: Any) -> None:
        session.send(
            pb.HelloResponse(
                api_version_major=1,
                api_version_minor=10,
                server_info="fake-esphome 2025.4.0",
                name=self.name,
            )
        )

    def _login(self, _session: _Session, _message: Any) -> None:
        # A device without an API password never answers the login: the client goes on.
        self._connected.set()

    def _disconnect(self, session: _Session, _message: Any) -> None:
        session.send(pb.DisconnectResponse())
        session.writer.close()

    def _device_info(self, session: _Session, _message: Any) -> None:
        session.send(
            pb.DeviceInfoResponse(
                name=self.name,
                friendly_name=self.friendly_name,
                mac_address=self.mac,
                esphome_version="2025.4.0",
                model="m5stack-atom",
                manufacturer="Espressif",
                voice_assistant_feature_flags=self.features,
            )
        )

    def _states(self, session: _Session, _message: Any) -> None:
        if self.has_mute_switch:
            session.send(pb.SwitchStateResponse(key=MUTE_KEY, state=self.muted))
        if self.wake_words:
            session.send(pb.SelectStateResponse(key=WAKE_WORD_KEY, state=self.wake_word))

    def _switch(self, _session: _Session, message: Any) -> None:
        if message.key == MUTE_KEY:
            self.muted = message.state
            self._broadcast(pb.SwitchStateResponse(key=MUTE_KEY, state=self.muted))

    def _select(self, _session: _Session, message: Any) -> None:
        if message.key != WAKE_WORD_KEY:
            return
        if message.state in self.wake_words:
            self.wake_word = message.state
        self._broadcast(pb.SelectStateResponse(key=WAKE_WORD_KEY, state=self.wake_word))

    def _wake_config(self, session: _Session, _message: Any) -> None:
        """Its wake word models (phrases as micro_wake_word's manifests give them)."""
        if not self.answers_wake_config:
            return
        session.send(
            pb.VoiceAssistantConfigurationResponse(
                available_wake_words=[
                    pb.VoiceAssistantWakeWord(
                        id=word, wake_word=word.replace("_", " ").title(), trained_languages=["en"]
                    )
                    for word in self.wake_words
                ],
                active_wake_words=self.active_wake_words or [self.wake_word],
                max_active_wake_words=self.max_active_wake_words,
            )
        )

    def _set_wake_config(self, _session: _Session, message: Any) -> None:
        """Listen for the wake words it has of those asked, up to as many as it holds."""
        words = [word for word in message.active_wake_words if word in self.wake_words]
        self.active_wake_words = words[: self.max_active_wake_words]

    def _subscribe_voice_assistant(self, _session: _Session, message: Any) -> None:
        if message.subscribe:
            self._subscribed.set()
        else:
            self._subscribed.clear()

    def _reply_audio(self, _session: _Session, message: Any) -> None:
        self.reply_audio += message.data

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch(self, url: str) -> Fetched:
        """The media player downloads what it was told to play, as a device does."""
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            fetched = Fetched(url=url, status=response.status, body=await response.read())
        self.fetched.append(fetched)
        return fetched

    async def _play_url(self, url: str) -> None:
        """Fetch and "play" a reply given by URL, then tell the client it finished."""
        fetched = await self._fetch(url)
        self.reply_audio += fetched.body
        self._broadcast(pb.VoiceAssistantAnnounceFinished(success=fetched.status == 200))
        self.reply_done.set()

    async def _announce(self, request: pb.VoiceAssistantAnnounceRequest) -> None:
        self.announcements.append(
            Announcement(
                media_id=request.media_id,
                text=request.text,
                preannounce_media_id=request.preannounce_media_id,
                start_conversation=request.start_conversation,
            )
        )
        if not self.finishes_announcements:
            return
        ok = True
        for url in (request.preannounce_media_id, request.media_id):
            if url:
                ok = (await self._fetch(url)).status == 200 and ok
        self._broadcast(pb.VoiceAssistantAnnounceFinished(success=ok))

    def _list_entities(self, session: _Session) -> None:
        if self.has_media_player:
            session.send(
                pb.ListEntitiesMediaPlayerResponse(
                    object_id="media_player",
                    key=MEDIA_PLAYER_KEY,
                    name="Media player",
                )
            )
        if self.has_mute_switch:
            session.send(pb.ListEntitiesSwitchResponse(object_id="mute", key=MUTE_KEY, name="Mute"))
        selects = [
            ("wake_word_sensitivity", SENSITIVITY_KEY, "Wake word sensitivity", SENSITIVITIES)
            if self.has_sensitivity_select
            else None,
            ("wake_word", WAKE_WORD_KEY, "Wake word", self.wake_words) if self.wake_words else None,
        ]
        for object_id, key, name, options in filter(None, selects):
            session.send(
                pb.ListEntitiesSelectResponse(
                    object_id=object_id, key=key, name=name, options=list(options)
                )
            )
        session.send(pb.ListEntitiesDoneResponse())

    def _on_event(self, message: pb.VoiceAssistantEventResponse) -> None:
        event_type = VoiceAssistantEventType(message.event_type)
        self.events.append((event_type, {item.name: item.value for item in message.data}))
        if event_type in (
            VoiceAssistantEventType.VOICE_ASSISTANT_STT_VAD_END,
            VoiceAssistantEventType.VOICE_ASSISTANT_STT_END,
            VoiceAssistantEventType.VOICE_ASSISTANT_ERROR,
        ):
            # As ESPHome's voice_assistant does: the microphone stops streaming.
            self._stop_mic.set()
        elif event_type is VoiceAssistantEventType.VOICE_ASSISTANT_RUN_END:
            self._stop_mic.set()
            self.run_ended.set()
        elif event_type is VoiceAssistantEventType.VOICE_ASSISTANT_TTS_STREAM_END:
            self.reply_done.set()
        elif (
            event_type is VoiceAssistantEventType.VOICE_ASSISTANT_TTS_END
            and not self.features & VoiceAssistantFeature.SPEAKER
            and self.events[-1][1].get("url")
        ):
            # No speaker of its own: its media player fetches the reply, as ESPHome's does.
            self._spawn(self._play_url(self.events[-1][1]["url"]))

    def event_types(self) -> list[VoiceAssistantEventType]:
        """The voice-assistant events Home Assistant sent, in order."""
        return [event_type for event_type, _ in self.events]


class _Session:
    """One client connection: the Noise handshake, then encrypted frames."""

    def __init__(
        self, device: FakeEsphomeDevice, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.device = device
        self.reader = reader
        self.writer = writer
        self.noise: NoiseConnection | None = None
        self.ready = False

    async def _read_frame(self) -> bytes:
        header = await self.reader.readexactly(3)
        if header[0] != 0x01:
            raise ConnectionError(f"not a Noise frame: marker {header[0]}")
        return await self.reader.readexactly((header[1] << 8) | header[2])

    def _write_frame(self, payload: bytes) -> None:
        self.writer.write(bytes((0x01, len(payload) >> 8, len(payload) & 0xFF)) + payload)

    async def run(self) -> None:
        """Handshake, then answer messages until the client goes."""
        first = await self.reader.readexactly(1)
        if self.device.key is None:
            if first != b"\x00":
                # A Noise hello to a plaintext device: a plaintext-marked answer tells the
                # client that this device has no encryption.
                self.writer.write(b"\x00\x00\x00")
                await self.writer.drain()
                return
            await self._run_plaintext()
            return
        if first != b"\x01":
            # A plaintext hello to an encrypted device: answer with a Noise frame.
            self.writer.write(b"\x01\x00\x00")
            await self.writer.drain()
            return
        header = first + await self.reader.readexactly(2)
        if header != b"\x01\x00\x00":
            raise ConnectionError("expected an empty client hello")
        handshake = await self._read_frame()
        # Server hello: protocol 0x01, then the device's name and MAC, NUL-terminated.
        self._write_frame(
            b"\x01" + self.device.name.encode() + b"\x00" + self.device.mac.encode() + b"\x00"
        )
        noise = NoiseConnection.from_name(b"Noise_NNpsk0_25519_ChaChaPoly_SHA256")
        noise.set_as_responder()
        noise.set_psks(base64.b64decode(self.device.key))
        noise.set_prologue(_PROLOGUE)
        noise.start_handshake()
        try:
            if handshake[:1] != b"\x00":
                raise NoiseInvalidMessage("bad handshake preamble")
            noise.read_message(handshake[1:])
        except (NoiseInvalidMessage, InvalidTag, ValueError):
            self.device.handshakes_refused += 1
            self._write_frame(b"\x01Handshake MAC failure")
            await self.writer.drain()
            return
        self._write_frame(b"\x00" + noise.write_message())
        self.noise = noise
        self.ready = True
        while True:
            frame = noise.decrypt(await self._read_frame())
            msg_type = (frame[0] << 8) | frame[1]
            proto = MESSAGE_TYPE_TO_PROTO.get(msg_type)
            if proto is None:
                continue
            message = proto()
            message.ParseFromString(frame[4:])
            self.device._handle(self, message)
            await self.writer.drain()

    async def _read_varint(self) -> int:
        value = shift = 0
        while True:
            byte = (await self.reader.readexactly(1))[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7

    async def _run_plaintext(self) -> None:
        """An unencrypted device: preamble 0, varint length, varint type, message."""
        self.ready = True
        first = True
        while True:
            if not first and await self.reader.readexactly(1) != b"\x00":
                raise ConnectionError("bad plaintext preamble")
            first = False
            length = await self._read_varint()
            msg_type = await self._read_varint()
            data = await self.reader.readexactly(length)
            proto = MESSAGE_TYPE_TO_PROTO.get(msg_type)
            if proto is None:
                continue
            message = proto()
            message.ParseFromString(data)
            self.device._handle(self, message)
            await self.writer.drain()

    def send(self, message: Any) -> None:
        """Encrypt (unless the device is plaintext) and write one protobuf message."""
        data = message.SerializeToString()
        msg_type = _PROTO_TO_TYPE[type(message)]
        if self.writer.is_closing():
            return
        if self.noise is None:
            self.writer.write(b"\x00" + _varint(len(data)) + _varint(msg_type) + data)
            return
        plain = bytes((msg_type >> 8, msg_type & 0xFF, len(data) >> 8, len(data) & 0xFF)) + data
        self._write_frame(self.noise.encrypt(plain))


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


@contextlib.asynccontextmanager
async def running_device(**kwargs: Any) -> AsyncIterator[FakeEsphomeDevice]:
    """A fake ESPHome device, listening for as long as the block runs."""
    device = FakeEsphomeDevice(**kwargs)
    async with device:
        yield device
