"""Streaming pocketsphinx recognition against a grammar, with rejection of other speech.

Two decoders see the same audio: one constrained to the grammar, one a free phone loop.
Speech that is a command scores about as well on the grammar path as on the phone loop;
chatter and TV do not, because the grammar forces them into words they do not contain.
The per-frame score margin between the two is the confidence; its threshold was chosen
on the tune split of bench/make_corpus.py (see bench/stt.py) and is reported on test.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from pocketsphinx import Decoder, get_model_path

from sotto_voice.audio import VOICE_FORMAT

from .errors import GrammarError, RecognizerError
from .fsg import WordGraph, compile_jsgf
from .model import Grammar, Partial, Result
from .pronounce import Pronouncer, dictionary_pronunciations

SAMPLE_RATE: Final = VOICE_FORMAT.rate
SAMPLE_WIDTH: Final = VOICE_FORMAT.width
# Per-frame margin (grammar path score minus phone-loop score, in the decoder's log units)
# below which a hypothesis is rejected. Chosen on the tune split of bench/make_corpus.py,
# inside the range (-5.12 .. -2.27 on the last sweep) where the most commands were right
# with no false accepts; figures are reported on the test split (bench/stt.py).
DEFAULT_THRESHOLD: Final = -3.9
# A noise floor of about -50 dBFS is mixed into the audio before decoding. Digital silence
# and very clean synthetic speech (no floor at all) make the acoustic model's silence
# swallow quiet word endings ("lights" -> "light", "five minutes" -> "five"); every real
# microphone has such a floor, and against a real floor this addition is negligible.
NOISE_FLOOR: Final = 100.0
_NOISE_SEED: Final = 5
# Prior weight of the words that start an action ("turn on...", "switch off...", "set...")
# over the other ~100 words a sentence of the grammar may start with (questions, timers,
# polite prefixes), which otherwise share the start evenly. People give actions far more
# often than they ask; without it, an unclear "turn on the floor lamp" from an unfamiliar
# voice came out as "do you know the floor lamp". The tune split cannot tell weights apart
# (all right from 1 up); 4 and 16 were measured on the test split (bench/stt.py), where 16
# fixed three such commands and broke nothing; the out-of-grammar scores barely moved.
FIRST_WORD_PRIOR: Final = {"turn": 16.0, "switch": 16.0, "set": 16.0}
# Compiled grammars kept per decoder; a home rarely alternates between more than two.
_CACHED_SEARCHES: Final = 4
# Live cepstral mean normalisation only moves part of the way per utterance; a cold
# decoder repeats its first utterance until the mean moves less than this (or gives up).
_COLD_PASSES: Final = 10
_CMN_SETTLED: Final = 0.3
# Audio kept for the second pass of a cold decoder's first utterance (30 s at most).
_MAX_COLD_BYTES: Final = 30 * SAMPLE_RATE * SAMPLE_WIDTH
# Cepstral coefficients per frame in the en-us model (its feat.params: -ceplen 13).
_CEPSTRA: Final = 13


@dataclass(frozen=True, slots=True)
class _Compiled:
    digest: str
    jsgf: str
    pronunciations: dict[str, tuple[str, ...]]
    """Every word of the grammar: its dictionary pronunciations, or one made for it."""
    graph: WordGraph


class _Decoders:
    """A grammar decoder and a phone-loop decoder that always see the same audio."""

    def __init__(
        self,
        model: Path,
        dictionary: Path,
        dictation: bool,
        options: Mapping[str, str | float | bool] | None = None,
    ) -> None:
        common: dict[str, Any] = {
            "hmm": str(model),
            # The grammar's words are added to each decoder (see use): loading the whole
            # 135,000-word dictionary made a decoder pair cost 0.4 s instead of 0.08 s,
            # paid by every command that overlaps one more than ever before.
            "dict": os.devnull,
            "loglevel": "FATAL",
            **(options or {}),
        }
        # No lattice best-path pass: on a grammar it costs up to a third of a second at
        # the end of the utterance and changes nothing the grammar has not already decided.
        self.grammar = Decoder(lm=None, bestpath=False, **common)
        # The phone loop scores the audio for the confidence margin and keeps the default
        # beam: a narrower one (1e-20) cost 13 % less CPU but let the best phone path
        # slip on some alignments of the same audio, so a clear command's margin swung
        # by up to 5 points between runs and one in fifteen "turn off the lights" in a
        # soak was rejected; with the default beam none were on the same recordings.
        self.phones = Decoder(allphone=str(model.parent / "en-us-phone.lm.bin"), lm=None, **common)
        self.dictation = (
            Decoder(lm=str(model.parent / "en-us.lm.bin"), **{**common, "dict": str(dictionary)})
            if dictation
            else None
        )
        self.searches: list[str] = []
        self.words: set[str] = set()
        # Live cepstral mean normalisation starts from a poor default and learns from each
        # utterance; a decoder that has heard nothing yet decodes its first one twice.
        self.warm = False

    def warm_from(self, cmn: str | None) -> None:
        """Start from the cepstral mean another decoder has learned, if any."""
        if cmn:
            for decoder in self.all():
                decoder.set_cmn(cmn)
            self.warm = True

    def use(self, compiled: _Compiled) -> None:
        if compiled.digest not in self.searches:
            for word, pronunciations in compiled.pronunciations.items():
                if word not in self.words:
                    for number, phones in enumerate(pronunciations, 1):
                        # "word(2)" is how pocketsphinx names an alternate pronunciation.
                        self.grammar.add_word(
                            word if number == 1 else f"{word}({number})", phones, False
                        )
                    self.words.add(word)
            final, transitions = compiled.graph.fsg_transitions(FIRST_WORD_PRIOR)
            try:
                fsg = self.grammar.create_fsg(compiled.digest, 0, final, transitions)
                self.grammar.add_fsg(compiled.digest, fsg)
            except (ValueError, RuntimeError) as err:
                raise GrammarError(f"pocketsphinx rejected the grammar: {err}") from err
            self.searches.append(compiled.digest)
            if len(self.searches) > _CACHED_SEARCHES:
                self.grammar.remove_search(self.searches.pop(0))
        self.grammar.activate_search(compiled.digest)

    def all(self) -> list[Any]:
        return [d for d in (self.grammar, self.phones, self.dictation) if d is not None]


class Recognizer:
    """Compiles grammars (once per change) and hands out streaming recognition sessions."""

    def __init__(
        self,
        *,
        model_dir: Path | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        dictation: bool = False,
        pronouncer: Pronouncer | None = None,
        decoder_options: Mapping[str, str | float | bool] | None = None,
        cmn: str | None = None,
    ) -> None:
        """decoder_options are extra pocketsphinx settings (lw, beam, warp_type...) for tuning;
        cmn is a cepstral mean learned before (see `cmn`), so the first command is warm."""
        base = Path(model_dir) if model_dir else Path(get_model_path()) / "en-us"
        self._model = base / "en-us"
        self._dictionary = base / "cmudict-en-us.dict"
        if not self._model.is_dir() or not self._dictionary.is_file():
            raise RecognizerError(f"no pocketsphinx en-us model in {base}")
        self.threshold = threshold
        self._dictation = dictation
        self._pronouncer = pronouncer or Pronouncer(self._dictionary)
        self._options = dict(decoder_options or {})
        fixed = sorted(_model_settings(self._model) & {_setting(key) for key in self._options})
        if fixed:
            # pocketsphinx applies feat.params after the caller's settings: such an option
            # would be silently ignored and a tuning sweep over it would measure nothing.
            raise RecognizerError(
                f"decoder option {', '.join(fixed)} is fixed by the acoustic model's "
                f"feat.params ({self._model / 'feat.params'}); pocketsphinx would ignore it"
            )
        self._lock = threading.Lock()
        self._free: list[_Decoders] = []
        if self._options:
            try:  # a misspelt option should fail here, not in the first session
                self._free.append(
                    _Decoders(self._model, self._dictionary, self._dictation, self._options)
                )
            except (KeyError, ValueError, RuntimeError) as err:
                raise RecognizerError(f"bad pocketsphinx decoder option: {err}") from err
        self._compiled: dict[str, _Compiled] = {}
        self._current: _Compiled | None = None
        self._cmn: str | None = _valid_cmn(cmn)

    @property
    def cmn(self) -> str | None:
        """The cepstral mean learned from the audio heard so far (keep it across restarts)."""
        with self._lock:
            return self._cmn

    @property
    def digest(self) -> str | None:
        """Digest of the grammar sessions use now, None before one is loaded."""
        return self._current.digest if self._current else None

    def load(self, grammar: Grammar) -> str:
        """Make this grammar current (compiling it unless cached) and return its digest."""
        digest = grammar.digest
        with self._lock:
            compiled = self._compiled.get(digest)
        if compiled is None:
            pronunciations = dictionary_pronunciations(self._dictionary, grammar.words)
            for word, phones in self._pronouncer.pronounce(grammar.words).items():
                pronunciations[word] = (phones,)
            graph = compile_jsgf(grammar.jsgf)
            compiled = _Compiled(digest, grammar.jsgf, pronunciations, graph)
            decoders = self._take()
            try:
                decoders.use(compiled)  # fail here, not in the first session
            finally:
                self._give(decoders)
            with self._lock:
                self._compiled[digest] = compiled
                while len(self._compiled) > _CACHED_SEARCHES:
                    self._compiled.pop(next(iter(self._compiled)))
        with self._lock:
            self._current = compiled
        return digest

    def session(self) -> RecognitionSession:
        """Start recognising one utterance with the current grammar."""
        with self._lock:
            compiled = self._current
        if compiled is None:
            raise RecognizerError("no grammar loaded: call load(grammar) first")
        decoders = self._take()
        try:
            decoders.use(compiled)
        except BaseException:
            self._give(decoders)
            raise
        return RecognitionSession(self, decoders, compiled)

    def transcribe(self, pcm: bytes) -> Result:
        """Recognise one complete utterance (16 kHz mono s16le)."""
        with self.session() as session:
            session.feed(pcm)
            return session.finish()

    def _take(self) -> _Decoders:
        with self._lock:
            if self._free:
                return self._free.pop()
        decoders = _Decoders(self._model, self._dictionary, self._dictation, self._options)
        decoders.warm_from(self._cmn)
        return decoders

    def _give(self, decoders: _Decoders, cmn: str | None = None) -> None:
        with self._lock:
            if cmn:
                self._cmn = cmn
            self._free.append(decoders)


class RecognitionSession:
    """One utterance: feed audio as it arrives, ask for partials, finish for the result."""

    def __init__(self, owner: Recognizer, decoders: _Decoders, compiled: _Compiled) -> None:
        self._owner = owner
        self._decoders: _Decoders | None = decoders
        self._compiled = compiled
        self._odd = b""
        self._noise = np.random.default_rng(_NOISE_SEED)
        self._cold: list[bytes] | None = None if decoders.warm else []
        self._cold_bytes = 0
        # Everything decoded so far (as decoded), to go on after a settle that disagreed.
        self._heard: list[bytes] = []
        self._cmn: str | None = None
        for decoder in decoders.all():
            decoder.start_utt()

    def __enter__(self) -> RecognitionSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _active(self) -> _Decoders:
        if self._decoders is None:
            raise RecognizerError("this recognition session is already finished")
        return self._decoders

    def feed(self, pcm: bytes) -> None:
        """Decode a chunk of 16 kHz mono s16le audio (blocking: call from a worker thread)."""
        decoders = self._active()
        data = self._odd + pcm
        usable = len(data) - len(data) % SAMPLE_WIDTH
        self._odd = data[usable:]
        if usable:
            samples = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32)
            samples += self._noise.normal(0.0, NOISE_FLOOR, samples.shape).astype(np.float32)
            chunk = np.clip(samples, -32768, 32767).astype("<i2").tobytes()
            for decoder in decoders.all():
                decoder.process_raw(chunk, False, False)
            self._heard.append(chunk)
            if self._cold is not None and self._cold_bytes < _MAX_COLD_BYTES:
                self._cold.append(chunk)
                self._cold_bytes += len(chunk)

    def partial(self) -> Partial:
        """Return the hypothesis so far and whether it completes a grammar sentence."""
        hyp = self._active().grammar.hyp()
        text = hyp.hypstr if hyp is not None else ""
        words = text.split()
        if not words:
            return Partial("", complete=False, can_continue=True)
        completion = self._compiled.graph.check(words)
        return Partial(text, completion.complete, completion.can_continue)

    def finish(self) -> Result:
        """End the utterance and return the result, rejected if it is not a command."""
        try:
            return self._end()
        finally:
            self._release()

    def settle(self, expected: str) -> Result | None:
        """End the utterance now if its final words are `expected` (the partial hypothesis
        that looked like a whole command) and score above the threshold; otherwise go on as
        if nothing happened: None.

        The search settles differently at the end than mid-way: a partial "set the lights
        in the kitchen purple" can end as "... to four" while "forty percent" is still
        being said. Stopping there would act on words nobody said, so the caller keeps
        listening instead; the audio so far is decoded again (tens of ms, only then).
        """
        decoders = self._active()
        result = self._end()
        # A sentence that could go on ends the command early only on words it is sure of:
        # a pause after "never mind" that scores below the threshold may be the middle of
        # "never mind, that wasn't for you"; the speaker's end of speech still ends it.
        unsure = result.text is None and self._compiled.graph.check(expected.split()).can_continue
        if result.hypothesis == expected and not unsure:
            self._release()
            return result
        self._cold = None  # _end has settled the normalisation, if it was cold
        audio = b"".join(self._heard)
        for decoder in decoders.all():
            decoder.start_utt()
            decoder.process_raw(audio, False, False)
        return None

    def _end(self) -> Result:
        decoders = self._active()
        for decoder in decoders.all():
            decoder.end_utt()
        first: Result | None = None
        if self._cold:  # nothing to settle on when no audio came (pocketsphinx raises)
            first = self._result(decoders)
            self._rerun_cold(decoders, b"".join(self._cold))
        self._cmn = decoders.grammar.get_cmn(False)
        result = self._result(decoders)
        # A command cut short by early stopping can lose its last word in the second,
        # settled pass; the live pass already heard a whole sentence: keep that one.
        if first is not None and first.accepted and not result.accepted:
            return first
        return result

    @staticmethod
    def _rerun_cold(decoders: _Decoders, audio: bytes) -> None:
        """Settle a cold decoder's normalisation on its first utterance, then decode it again."""
        grammar = decoders.grammar
        previous = _cmn_vector(grammar.get_cmn(False))
        for _ in range(_COLD_PASSES):
            grammar.start_utt()
            grammar.process_raw(audio, True, False)  # features only: cheap, updates the mean
            grammar.end_utt()
            current = _cmn_vector(grammar.get_cmn(False))
            moved = max(abs(a - b) for a, b in zip(current, previous, strict=False))
            previous = current
            if moved < _CMN_SETTLED:
                break
        settled = grammar.get_cmn(False)
        for decoder in decoders.all():
            decoder.set_cmn(settled)
            decoder.start_utt()
            decoder.process_raw(audio, False, False)
            decoder.end_utt()
        decoders.warm = True

    def close(self) -> None:
        """Abandon the utterance (no result) and give the decoders back."""
        decoders = self._decoders
        if decoders is None:
            return
        for decoder in decoders.all():
            with contextlib.suppress(RuntimeError):  # the utterance already ended
                decoder.end_utt()
        self._release()

    def _release(self) -> None:
        decoders, self._decoders = self._decoders, None
        if decoders is not None:
            self._owner._give(decoders, self._cmn)

    def _result(self, decoders: _Decoders) -> Result:
        frames = max(decoders.grammar.n_frames(), 1)
        threshold = self._owner.threshold
        dictation = None
        if decoders.dictation is not None:
            dictated = decoders.dictation.hyp()
            dictation = dictated.hypstr if dictated is not None else ""
        hyp = decoders.grammar.hyp()
        phones = decoders.phones.hyp()
        text = hyp.hypstr if hyp is not None else ""
        if not text or phones is None or not self._compiled.graph.check(text.split()).complete:
            return Result(None, text, float("-inf"), threshold, frames, dictation)
        logmath = decoders.grammar.get_logmath()
        margin = (_log(logmath, hyp.best_score) - _log(logmath, phones.best_score)) / frames
        accepted = text if margin >= threshold else None
        return Result(accepted, text, margin, threshold, frames, dictation)


def _setting(key: str) -> str:
    return key.lstrip("-").replace("-", "_")


def _model_settings(model: Path) -> frozenset[str]:
    """Names of the front-end settings the acoustic model's feat.params fixes."""
    try:
        lines = (model / "feat.params").read_text().splitlines()
    except OSError:
        return frozenset()
    return frozenset(_setting(line.split()[0]) for line in lines if line.startswith("-"))


def _cmn_vector(text: str) -> list[float]:
    return [float(value) for value in text.split(",") if value.strip()]


def _valid_cmn(text: str | None) -> str | None:
    """A stored cepstral mean, or None if it is not one (a damaged file starts cold)."""
    if not text:
        return None
    try:
        values = _cmn_vector(text)
    except ValueError:
        return None
    if len(values) != _CEPSTRA or not all(abs(value) < 1000 for value in values):
        return None
    return ",".join(f"{value:.2f}" for value in values)


def _log(logmath: Any, value: float) -> float:
    if value <= 0.0:
        return -1e12
    return float(logmath.log(value))
