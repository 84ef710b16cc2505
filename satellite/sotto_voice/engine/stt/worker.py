"""Recognition in a child process, so decoding never stalls the caller's event loop.

pocketsphinx keeps Python's global interpreter lock while it builds decoders, compiles a
grammar or decodes a run of audio (up to a second on a loaded Pi), so a worker thread in
Home Assistant's process stalls HA's event loop whatever executor it runs in: its links
miss their pings and other satellites' streams look lost. `RecognizerProcess` runs the
`Recognizer` in `python -m sotto_voice.engine.stt.worker` instead and talks to it over pipes;
the child decodes on its own core and the parent only moves bytes.

Wire format, both ways: 8 bytes (`>II`: header length, payload length), a JSON header,
then the payload (audio for `feed`, nothing otherwise). Requests carry an `id` and an `op`;
each gets one reply with the same `id` and either `result` or `error` + `message`.
If the child dies, every waiting call fails with a RecognizerError naming its exit status
and last words on stderr, and the next call starts a new child with the grammars again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import itertools
import json
import logging
import os
import struct
import sys
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any, Final

from .errors import GrammarError, RecognizerError, SttError
from .model import Grammar, Partial, Result

_LOGGER = logging.getLogger(__name__)

_HEADER: Final = struct.Struct(">II")
# A grammar of 500 entities is about 200 KB of JSGF; audio comes in chunks of ~0.1 s.
MAX_HEADER: Final = 4 * 1024 * 1024
MAX_PAYLOAD: Final = 1024 * 1024
# The child's last lines on stderr, told when it dies.
_STDERR_LINES: Final = 20
# How long a stopping child may take before it is killed.
_STOP_SECONDS: Final = 5.0
# Grammars kept (by digest) for sessions to choose from: a few homes, or one home's
# grammar before and after a change, per engine.
_GRAMMARS_KEPT: Final = 8
# A pool adds children for overlapping commands up to this many (each is ~80 MB and
# one core's worth of decoding), and stops an extra one after this long unused.
POOL_SIZE: Final = max(1, min(2, os.cpu_count() or 1))
POOL_IDLE_SECONDS: Final = 600.0
# The recognisers a child can run (see make_recognizer).
GRAMMAR: Final = "grammar"
WHISPER: Final = "whisper"
CASCADE: Final = "cascade"
RECOGNIZERS: Final = (GRAMMAR, WHISPER, CASCADE)
_ERRORS: Final[Mapping[str, type[SttError]]] = {
    "GrammarError": GrammarError,
    "RecognizerError": RecognizerError,
}


def encode(header: Mapping[str, Any], payload: bytes = b"") -> bytes:
    """One message: lengths, JSON header, payload."""
    body = json.dumps(header, separators=(",", ":")).encode()
    return _HEADER.pack(len(body), len(payload)) + body + payload


def _check_lengths(header_len: int, payload_len: int) -> None:
    if not 0 < header_len <= MAX_HEADER:
        raise RecognizerError(f"worker message header of {header_len} bytes (1 to {MAX_HEADER})")
    if payload_len > MAX_PAYLOAD:
        raise RecognizerError(f"worker message payload of {payload_len} bytes (max {MAX_PAYLOAD})")


def _parse_header(body: bytes) -> dict[str, Any]:
    try:
        header = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RecognizerError(f"worker message header is not JSON ({err})") from None
    if not isinstance(header, dict) or not isinstance(header.get("id"), int):
        raise RecognizerError("worker message header must be an object with an integer id")
    return header


# --- the child --------------------------------------------------------------------------


class _Child:
    """The child's side: one Recognizer, its grammars by digest, its open sessions."""

    def __init__(
        self,
        threshold: float | None,
        cmn_file: Path | None,
        kind: str = GRAMMAR,
        whisper_model: Path | None = None,
    ) -> None:
        self._cmn_file = cmn_file
        self._recognizer: Any = make_recognizer(kind, threshold, _read_cmn(cmn_file), whisper_model)
        self._kept_cmn = self._recognizer.cmn
        self._grammars: dict[str, Grammar] = {}
        self._sessions: dict[int, Any] = {}

    def _keep_cmn(self) -> None:
        """Write the learned cepstral mean down, so the next start's first command is warm."""
        cmn = self._recognizer.cmn
        if self._cmn_file is None or cmn is None or cmn == self._kept_cmn:
            return
        temp = self._cmn_file.with_name(f"{self._cmn_file.name}.{os.getpid()}.tmp")
        try:
            self._cmn_file.parent.mkdir(parents=True, exist_ok=True)
            temp.write_text(cmn + "\n", encoding="utf-8")
            os.replace(temp, self._cmn_file)
        except OSError as err:  # a read-only disk costs a cold first command, nothing more
            print(f"sotto stt worker: cannot keep {self._cmn_file}: {err}", file=sys.stderr)
        self._kept_cmn = cmn

    def handle(self, header: Mapping[str, Any], payload: bytes) -> Any:
        op = header.get("op")
        if op not in ("ping", "load", "forget", "open", "feed", "settle", "finish", "close"):
            raise RecognizerError(f"unknown worker operation {op!r}")
        if op == "ping":  # answered once the model is loaded
            return None
        if op == "load":
            grammar = Grammar.from_dict(header.get("grammar") or {})
            digest = self._recognizer.load(grammar)
            self._grammars[digest] = grammar
            return digest
        if op == "forget":  # the parent decides which grammars are kept
            self._grammars.pop(str(header.get("digest")), None)
            return None
        if op == "open":
            wanted = self._grammars.get(str(header.get("digest")))
            if wanted is None:
                raise GrammarError(f"no grammar {header.get('digest')!r} is loaded")
            self._recognizer.load(wanted)  # cached: only makes it current
            self._sessions[int(header["session"])] = self._recognizer.session()
            return None
        return self._in_session(op, header, payload)

    def _in_session(self, op: str, header: Mapping[str, Any], payload: bytes) -> Any:
        session = self._sessions.get(int(header.get("session", -1)))
        if session is None:
            raise RecognizerError(f"no open recognition session for {op!r}")
        if op == "feed":
            session.feed(payload)
            return asdict(session.partial())
        if op == "settle":
            settled = session.settle(str(header.get("expected", "")))
            if settled is None:
                return None
            del self._sessions[int(header["session"])]
            self._keep_cmn()
            return asdict(settled)
        if op == "finish":
            del self._sessions[int(header["session"])]
            result = asdict(session.finish())
            self._keep_cmn()
            return result
        del self._sessions[int(header["session"])]
        session.close()
        return None


def make_recognizer(
    kind: str, threshold: float | None, cmn: str | None, whisper_model: Path | None
) -> Any:
    """The recogniser of this kind (grammar, whisper or cascade), loaded and warmed."""
    if kind not in RECOGNIZERS:
        raise RecognizerError(f"unknown recogniser {kind!r} (one of {', '.join(RECOGNIZERS)})")
    whisper = None
    if kind in (WHISPER, CASCADE):
        from .whisper import WhisperRecognizer, packaged_model

        model = whisper_model or packaged_model()
        if model is None:
            raise RecognizerError(
                "no Whisper model: set stt.whisper_model (see engine/stt/whisper.py)"
            )
        whisper = WhisperRecognizer(model)
        if kind == WHISPER:
            return whisper
    from .recognizer import DEFAULT_THRESHOLD, Recognizer

    grammar = Recognizer(threshold=DEFAULT_THRESHOLD if threshold is None else threshold, cmn=cmn)
    if whisper is None:
        return grammar
    from .cascade import CascadeRecognizer

    return CascadeRecognizer(grammar, whisper)


def _read_cmn(cmn_file: Path | None) -> str | None:
    if cmn_file is None:
        return None
    try:
        return cmn_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):  # none yet, or unreadable: start cold
        return None


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError
    return data


def serve(
    stdin: IO[bytes],
    stdout: IO[bytes],
    threshold: float | None = None,
    cmn_file: Path | None = None,
    kind: str = GRAMMAR,
    whisper_model: Path | None = None,
) -> None:
    """Answer requests until stdin closes (runs in the child)."""
    child = _Child(threshold, cmn_file, kind, whisper_model)
    while True:
        try:
            header_len, payload_len = _HEADER.unpack(_read_exactly(stdin, _HEADER.size))
            _check_lengths(header_len, payload_len)
            header = _parse_header(_read_exactly(stdin, header_len))
            payload = _read_exactly(stdin, payload_len)
        except EOFError:
            return
        reply: dict[str, Any] = {"id": header["id"]}
        try:
            reply["result"] = child.handle(header, payload)
        except SttError as err:
            reply.update(error=type(err).__name__, message=str(err))
        except (KeyError, TypeError, ValueError) as err:
            reply.update(error="RecognizerError", message=f"bad worker request: {err!r}")
        except Exception as err:  # the decoder's own: fail the request, not the child
            reply.update(error="RecognizerError", message=f"the decoder failed: {err!r}")
        stdout.write(encode(reply))
        stdout.flush()


def main() -> None:
    """Entry point of `python -m sotto_voice.engine.stt.worker [--threshold T] [--cmn-file P]
    [--recognizer grammar|whisper|cascade] [--whisper-model DIR]`."""
    parser = argparse.ArgumentParser(prog="python -m sotto_voice.engine.stt.worker")
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--cmn-file", type=Path)
    parser.add_argument("--recognizer", choices=RECOGNIZERS, default=GRAMMAR)
    parser.add_argument("--whisper-model", type=Path)
    args = parser.parse_args()
    try:
        serve(
            sys.stdin.buffer,
            sys.stdout.buffer,
            args.threshold,
            args.cmn_file,
            args.recognizer,
            args.whisper_model,
        )
    except RecognizerError as err:  # unusable model, or the parent sent something unreadable
        print(f"sotto stt worker: {err}", file=sys.stderr)
        sys.exit(2)


# --- the parent -------------------------------------------------------------------------


def recognizer_missing(kind: str = GRAMMAR) -> str | None:
    """Why this Python cannot run the recogniser child (None when it can).

    pocketsphinx has no wheel for CPython 3.14, so Home Assistant 2026's images, which
    have no compiler, cannot install it: callers offer recognition elsewhere instead.
    """
    modules = {GRAMMAR: ("pocketsphinx",), WHISPER: ("ctranslate2", "faster_whisper")}
    needed = modules.get(kind, (*modules[GRAMMAR], *modules[WHISPER]))
    for module in ("numpy", *needed):
        try:
            importlib.import_module(module)
        except ImportError as err:
            return f"{module} cannot be imported: {err}"
    return None


_CLOSED: Final = "it closed its output"
# A child that closed its output has usually exited: it is given this long to be reaped by
# asyncio before it is killed. (Killing first would reap it in Popen's own check, and
# asyncio's watcher would then report exit status 255 instead of the signal that ended it.)
_EXIT_GRACE_SECONDS: Final = 1.0


async def _ended(process: asyncio.subprocess.Process, *, closed: bool) -> int:
    """The child's exit status, killing it first if it is still running."""
    if closed and process.returncode is None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(process.wait()), _EXIT_GRACE_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        if process.returncode is None:
            process.kill()
    return await process.wait()


class RecognizerProcess:
    """A Recognizer in a child process, with the asynchronous API of the in-process one."""

    def __init__(
        self,
        *,
        threshold: float | None = None,
        cmn_file: Path | None = None,
        python: str | None = None,
        recognizer: str = GRAMMAR,
        whisper_model: Path | None = None,
    ) -> None:
        """cmn_file keeps what the recogniser learned of the microphones' sound across
        restarts (a few numbers, no audio), so the first command after a start is warm;
        recognizer is grammar, whisper or cascade (see make_recognizer)."""
        self._threshold = threshold
        self._cmn_file = cmn_file
        self._kind = recognizer
        self._whisper_model = whisper_model
        self._python = python or sys.executable
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._stderr: asyncio.Task[None] | None = None
        self._last_words: deque[str] = deque(maxlen=_STDERR_LINES)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._grammars: OrderedDict[str, Grammar] = OrderedDict()
        self._current: str | None = None
        self._start_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        self._closed = False

    @property
    def digest(self) -> str | None:
        """Digest of the grammar sessions use now, None before one is loaded."""
        return self._current

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    async def start(self) -> None:
        """Start the child now and wait until its model is loaded (about a second)."""
        await self._call({"op": "ping"})

    def has_grammar(self, digest: str) -> bool:
        """Whether a grammar with this digest is compiled and kept."""
        return digest in self._grammars

    @property
    def grammar(self) -> Grammar | None:
        """The grammar sessions use now, None before one is loaded."""
        return None if self._current is None else self._grammars.get(self._current)

    async def load(self, grammar: Grammar, *, current: bool = True) -> str:
        """Compile the grammar in the child (once per change) and make it current.

        The last few grammars are kept (most recently used first out of the way); the
        child forgets exactly those this side drops, so the two never disagree. With
        `current=False` it is only kept, for sessions that name it (a question's answers).
        """
        digest = grammar.digest
        if digest not in self._grammars:
            digest = str(await self._call({"op": "load", "grammar": grammar.to_dict()}))
            self._grammars[digest] = grammar
            while len(self._grammars) > _GRAMMARS_KEPT:
                dropped = next(iter(self._grammars))
                del self._grammars[dropped]
                await self._call({"op": "forget", "digest": dropped})
        self._grammars.move_to_end(digest)
        if current or self._current is None:
            self._current = digest
        return digest

    async def open(self, digest: str | None = None) -> WorkerSession:
        """Start recognising one utterance with this grammar (default: the current one)."""
        digest = digest or self._current
        if digest is None or digest not in self._grammars:
            raise RecognizerError("no grammar loaded: call load(grammar) first")
        self._grammars.move_to_end(digest)
        session = next(self._ids)
        await self._call({"op": "open", "digest": digest, "session": session})
        return WorkerSession(self, session)

    async def close(self) -> None:
        """Stop the child (it finishes the request in hand) and fail what still waits."""
        self._closed = True
        await self._stop()

    async def _ensure(self) -> asyncio.subprocess.Process:
        if self._closed:
            raise RecognizerError("the recogniser is closed")
        async with self._start_lock:
            process = self._process
            if process is not None and process.returncode is None:
                return process
            await self._stop()
            args = [self._python, "-m", "sotto_voice.engine.stt.worker"]
            if self._threshold is not None:
                args += ["--threshold", repr(self._threshold)]
            if self._cmn_file is not None:
                args += ["--cmn-file", str(self._cmn_file)]
            args += ["--recognizer", self._kind]
            if self._whisper_model is not None:
                args += ["--whisper-model", str(self._whisper_model)]
            process = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            self._process = process
            self._last_words.clear()
            self._stderr = asyncio.create_task(self._listen(process), name="sotto-stt-stderr")
            self._reader = asyncio.create_task(
                self._read(process, self._stderr), name="sotto-stt-worker"
            )
            _LOGGER.debug("Started the speech-to-text worker, pid %s", process.pid)
            # A new child knows no grammar: give it back the ones sessions may ask for.
            for grammar in list(self._grammars.values()):
                await self._send(process, {"op": "load", "grammar": grammar.to_dict()})
            return process

    async def _call(self, header: dict[str, Any], payload: bytes = b"") -> Any:
        process = await self._ensure()
        return await self._send(process, header, payload)

    async def _send(
        self, process: asyncio.subprocess.Process, header: dict[str, Any], payload: bytes = b""
    ) -> Any:
        request = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request] = future
        assert process.stdin is not None
        try:
            async with self._write_lock:
                process.stdin.write(encode({**header, "id": request}, payload))
                await process.stdin.drain()
        except (ConnectionError, RuntimeError) as err:
            self._pending.pop(request, None)
            raise RecognizerError(f"the speech-to-text worker is gone ({err})") from None
        try:
            return await future
        finally:
            self._pending.pop(request, None)

    async def _read(self, process: asyncio.subprocess.Process, stderr: asyncio.Task[None]) -> None:
        assert process.stdout is not None
        reason = _CLOSED
        try:
            while True:
                header_len, payload_len = _HEADER.unpack(
                    await process.stdout.readexactly(_HEADER.size)
                )
                _check_lengths(header_len, payload_len)
                reply = _parse_header(await process.stdout.readexactly(header_len))
                await process.stdout.readexactly(payload_len)
                future = self._pending.get(reply["id"])
                if future is None or future.done():
                    continue
                if "error" in reply:
                    error = _ERRORS.get(str(reply["error"]), RecognizerError)
                    future.set_exception(error(str(reply.get("message", "worker error"))))
                else:
                    future.set_result(reply.get("result"))
        except asyncio.IncompleteReadError:
            pass
        except RecognizerError as err:
            reason = f"its reply was unreadable: {err}"
        status = await _ended(process, closed=reason == _CLOSED)
        with contextlib.suppress(TimeoutError):  # its last words, if it says them soon
            await asyncio.wait_for(asyncio.shield(stderr), 1.0)
        said = " | ".join(self._last_words) or "nothing on stderr"
        message = f"the speech-to-text worker stopped ({reason}; exit status {status}; {said})"
        if not self._closed:
            _LOGGER.warning("%s", message)
        self._fail_pending(RecognizerError(message))

    async def _listen(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        async for line in process.stderr:
            text = line.decode(errors="replace").rstrip()
            if text:
                self._last_words.append(text)

    def _fail_pending(self, error: RecognizerError) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()

    async def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            assert process.stdin is not None
            process.stdin.close()  # the child finishes its request and sees the end
            try:
                await asyncio.wait_for(process.wait(), _STOP_SECONDS)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        for task in (self._reader, self._stderr):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(task, _STOP_SECONDS)
        self._reader = self._stderr = None
        self._fail_pending(RecognizerError("the recogniser is closed"))


class RecognizerPool:
    """Recognition processes for commands that overlap: one always, more while needed.

    One child decodes a command in about a sixth of real time, on one core. Five
    satellites speaking at once need most of that core, and a single child falls behind
    all five (bench/scale.py: 0.28-0.45 s instead of 0.14 s from end of speech to action;
    0.09-0.25 s with two children).
    The first time a command starts while another is being decoded, a second child starts
    with the current grammar; after `idle_seconds` without a command it stops again, so a
    home that never talks over itself keeps one child. Same calls as RecognizerProcess.

    `keep_warm` starts every child at once and never stops one: a Whisper child takes
    seconds to load its model, so one started when commands overlap is ready only after
    they have all queued on the first (bench/at_once.py, the first five at once: 5.4-16.0 s
    and 3.1-8.7 s from end of speech to light in two runs with a cold pool, 2.5-4.7 s and
    2.7-5.7 s kept warm). Each Whisper child holds 190-230 MB.
    """

    def __init__(
        self,
        *,
        size: int = POOL_SIZE,
        idle_seconds: float = POOL_IDLE_SECONDS,
        threshold: float | None = None,
        cmn_file: Path | None = None,
        python: str | None = None,
        recognizer: str = GRAMMAR,
        whisper_model: Path | None = None,
        keep_warm: bool = False,
    ) -> None:
        """The first child starts with the first call; see RecognizerProcess for the rest."""
        if size < 1:
            raise ValueError(f"a recogniser pool needs at least one process, not {size}")
        self._size = size
        self._idle_seconds = idle_seconds
        self._keep_warm = keep_warm
        self._options: dict[str, Any] = {
            "threshold": threshold,
            "cmn_file": cmn_file,
            "python": python,
            "recognizer": recognizer,
            "whisper_model": whisper_model,
        }
        self._first = RecognizerProcess(**self._options)
        self._busy: dict[RecognizerProcess, int] = {self._first: 0}
        self._idle: dict[RecognizerProcess, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loading = asyncio.Lock()
        self._closed = False

    @property
    def digest(self) -> str | None:
        """Digest of the grammar sessions use now, None before one is loaded."""
        return self._first.digest

    @property
    def pid(self) -> int | None:
        """The first child's process id while it runs."""
        return self._first.pid

    @property
    def pids(self) -> list[int]:
        """Every running child's process id."""
        return [pid for child in self._busy if (pid := child.pid) is not None]

    async def start(self) -> None:
        """Start the first child (every child if kept warm) and wait until they are loaded."""
        others = [RecognizerProcess(**self._options) for _ in range(self._size - 1)]
        if not self._keep_warm:
            others = []
        for child in others:
            self._busy[child] = 0
        await asyncio.gather(self._first.start(), *(child.start() for child in others))

    def has_grammar(self, digest: str) -> bool:
        """Whether a grammar with this digest is compiled and kept."""
        return self._first.has_grammar(digest)

    async def load(self, grammar: Grammar, *, current: bool = True) -> str:
        """Compile the grammar in every child and make it current (or only keep it)."""
        async with self._loading:
            digest = await self._first.load(grammar, current=current)
            others = [child for child in self._busy if child is not self._first]
            await asyncio.gather(*(child.load(grammar, current=current) for child in others))
            return digest

    async def open(self, digest: str | None = None) -> WorkerSession:
        """Start an utterance in the least busy child that has the grammar."""
        wanted = digest or self._first.digest
        able = [c for c in self._busy if wanted is None or c.has_grammar(wanted)] or [self._first]
        child = min(able, key=self._busy.__getitem__)
        if self._busy[child] and len(self._busy) < self._size and not self._tasks:
            self._spawn(self._grow())
        self._busy[child] += 1
        idle = self._idle.pop(child, None)
        if idle is not None:
            idle.cancel()
        try:
            session = await child.open(digest)
        except BaseException:
            self._ended(child)
            raise
        session.on_end = lambda: self._ended(child)
        return session

    async def close(self) -> None:
        """Stop every child."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        for handle in self._idle.values():
            handle.cancel()
        self._idle.clear()
        children, self._busy = list(self._busy), {self._first: 0}
        await asyncio.gather(*(child.close() for child in children))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name="sotto-stt-pool")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _grow(self) -> None:
        """Start one more child with the current grammar; it takes work once ready."""
        child = RecognizerProcess(**self._options)
        try:
            async with self._loading:
                grammar = self._first.grammar
                if grammar is not None:
                    await child.load(grammar)
        except (SttError, OSError) as err:
            _LOGGER.warning("Could not start another speech-to-text process: %s", err)
            await child.close()
            return
        except asyncio.CancelledError:
            await child.close()
            raise
        if self._closed:
            await child.close()
            return
        _LOGGER.info("Commands overlap: started speech-to-text process %s", child.pid)
        self._busy[child] = 0
        self._ended(child, started=True)

    def _ended(self, child: RecognizerProcess, *, started: bool = False) -> None:
        """A child finished an utterance: an extra one stops after a while unused."""
        if child not in self._busy:
            return  # the pool was closed meanwhile
        if not started:
            self._busy[child] -= 1
        if child is self._first or self._busy[child] or self._closed or self._keep_warm:
            return
        loop = asyncio.get_running_loop()
        self._idle[child] = loop.call_later(self._idle_seconds, self._retire, child)

    def _retire(self, child: RecognizerProcess) -> None:
        self._idle.pop(child, None)
        if self._busy.get(child) == 0:
            del self._busy[child]
            _LOGGER.debug("Stopping idle speech-to-text process %s", child.pid)
            self._spawn(child.close())


class WorkerSession:
    """One utterance decoded in the child: feed, partial, settle, finish and close."""

    def __init__(self, owner: RecognizerProcess, session: int) -> None:
        self._owner = owner
        self._session = session
        self._partial = Partial("", complete=False, can_continue=True)
        self._open = True
        self._lock = asyncio.Lock()
        self.on_end: Callable[[], None] | None = None
        """Called once when the utterance is over (finished, settled or abandoned)."""

    @property
    def pid(self) -> int | None:
        """The process decoding this utterance."""
        return self._owner.pid

    def _ended(self) -> None:
        self._open = False
        on_end, self.on_end = self.on_end, None
        if on_end is not None:
            on_end()

    async def __aenter__(self) -> WorkerSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _op(self, op: str, payload: bytes = b"", **args: Any) -> Any:
        async with self._lock:  # keep this utterance's calls in order
            if not self._open:
                raise RecognizerError("this recognition session is already finished")
            if op in ("finish", "close"):
                self._ended()
            answer = await self._owner._call({"op": op, "session": self._session, **args}, payload)
            if op == "settle" and answer is not None:
                self._ended()
            return answer

    async def feed(self, pcm: bytes) -> None:
        """Decode a chunk of 16 kHz mono s16le audio in the child."""
        for start in range(0, len(pcm), MAX_PAYLOAD):
            self._partial = Partial(**await self._op("feed", pcm[start : start + MAX_PAYLOAD]))

    async def partial(self) -> Partial:
        """The hypothesis after the last chunk fed (no round trip: feed brings it back)."""
        return self._partial

    async def finish(self) -> Result:
        """End the utterance and return the result."""
        return Result(**await self._op("finish"))

    async def settle(self, expected: str) -> Result | None:
        """The result if the final words are `expected`; else None and the utterance goes on."""
        answer = await self._op("settle", expected=expected)
        return None if answer is None else Result(**answer)

    async def close(self) -> None:
        """Abandon the utterance (nothing if it already finished or the child is gone)."""
        if self._open:
            with contextlib.suppress(RecognizerError):
                await self._op("close")


if __name__ == "__main__":
    main()
