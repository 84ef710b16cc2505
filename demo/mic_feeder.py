"""A stand-in microphone for a `sotto-satellite` process: raw PCM on stdout.

The satellite runs it as `mic: {source: command}`. It writes 16 kHz 16-bit mono silence
in real time, like a quiet room; when a WAV file appears in the spool directory it plays
that file (oldest first), deletes it, and goes back to silence. Dropping a file into the
spool is speaking to the satellite. Standard library only: it runs as a plain script.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import wave
from pathlib import Path

RATE = 16000
CHUNK_SAMPLES = 320  # 20 ms, the satellite's own frame size
CHUNK_BYTES = CHUNK_SAMPLES * 2


def next_utterance(spool: Path) -> bytes | None:
    """Take the oldest complete WAV file from the spool (writers rename into place)."""
    waiting = sorted(spool.glob("*.wav"))
    if not waiting:
        return None
    path = waiting[0]
    with wave.open(str(path), "rb") as wav:
        pcm = wav.readframes(wav.getnframes())
    path.unlink()
    return pcm


def main() -> None:
    """Write microphone audio to stdout until the satellite closes the pipe."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("spool", type=Path)
    parser.add_argument("--speed", type=float, default=1.0, help="faster than real time")
    args = parser.parse_args()
    out = sys.stdout.buffer
    pending = b""
    started = time.monotonic()
    sent = 0
    try:
        while True:
            if not pending:
                pending = next_utterance(args.spool) or b""
            chunk = pending[:CHUNK_BYTES].ljust(CHUNK_BYTES, b"\0")
            pending = pending[CHUNK_BYTES:]
            out.write(chunk)
            out.flush()
            sent += 1
            delay = started + sent * CHUNK_SAMPLES / RATE / args.speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    except (BrokenPipeError, KeyboardInterrupt):
        os._exit(0)


if __name__ == "__main__":
    main()
