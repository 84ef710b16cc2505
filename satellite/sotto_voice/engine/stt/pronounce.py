"""Pronunciations for grammar words missing from the dictionary, made locally with espeak-ng.

espeak-ng's IPA phonemes are mapped onto the acoustic model's phone set (the CMU set used
by pocketsphinx's en-us model). A word that cannot be pronounced is an error, never a drop.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from .errors import PronunciationError

PHONES: Final = frozenset(
    [
        "AA",
        "AE",
        "AH",
        "AO",
        "AW",
        "AY",
        "B",
        "CH",
        "D",
        "DH",
        "EH",
        "ER",
        "EY",
        "F",
        "G",
        "HH",
        "IH",
        "IY",
        "JH",
        "K",
        "L",
        "M",
        "N",
        "NG",
        "OW",
        "OY",
        "P",
        "R",
        "S",
        "SH",
        "T",
        "TH",
        "UH",
        "UW",
        "V",
        "W",
        "Y",
        "Z",
        "ZH",
    ]
)
# espeak-ng IPA phoneme (stress and length marks removed unless listed) -> CMU phones.
_IPA: Final = {
    # vowels and diphthongs
    "ɑ": "AA", "ɑː": "AA", "ɒ": "AA", "a": "AE", "æ": "AE", "ʌ": "AH", "ə": "AH", "ɐ": "AH",
    "ɚ": "ER", "ɜ": "ER", "ɜː": "ER", "ɝ": "ER", "ɔ": "AO", "ɔː": "AO", "aʊ": "AW",
    "aɪ": "AY", "ɛ": "EH", "e": "EH", "eɪ": "EY", "ɪ": "IH", "ᵻ": "IH", "i": "IY", "iː": "IY",
    "o": "OW", "oː": "OW", "oʊ": "OW", "əʊ": "OW", "ɔɪ": "OY", "ʊ": "UH", "u": "UW", "uː": "UW",
    "ɪə": "IH R", "iə": "IY AH", "eə": "EH R", "ʊə": "UH R", "aɪə": "AY ER", "aɪɚ": "AY ER",
    "aʊə": "AW ER", "ɑːɹ": "AA R", "ɑɹ": "AA R", "oːɹ": "AO R", "ɔːɹ": "AO R", "ɔɹ": "AO R",
    "ɪɹ": "IH R", "ɛɹ": "EH R", "ʊɹ": "UH R", "ɜːɹ": "ER", "əl": "AH L", "l̩": "AH L",
    "n̩": "AH N", "m̩": "AH M", "ɑ̃": "AA N", "ɛ̃": "EH N", "ɔ̃": "AO N", "y": "UW", "ø": "ER",
    "œ": "ER", "ɯ": "UW",
    # consonants
    "b": "B", "tʃ": "CH", "d": "D", "ð": "DH", "f": "F", "ɡ": "G", "g": "G", "h": "HH",
    "dʒ": "JH", "k": "K", "l": "L", "ɫ": "L", "ɬ": "L", "m": "M", "n": "N", "ŋ": "NG", "p": "P",
    "ɹ": "R", "r": "R", "ɾ": "T", "s": "S", "ʃ": "SH", "t": "T", "θ": "TH", "v": "V", "w": "W",
    "j": "Y", "z": "Z", "ʒ": "ZH", "ʔ": "T", "x": "K", "ç": "HH", "ʍ": "W", "ɲ": "N Y",
    "ts": "T S", "dz": "D Z",
}  # fmt: skip
# Marks that carry no phone of their own.
_MARKS: Final = str.maketrans("", "", "ˈˌ\u200d\u200c͡ʲ-")
_SEPARATOR: Final = "_"
_ESPEAK_TIMEOUT: Final = 30.0


def default_dictionary() -> Path:
    """Return the path of the CMU dictionary that ships with pocketsphinx."""
    from pocketsphinx import get_model_path

    return Path(get_model_path()) / "en-us" / "cmudict-en-us.dict"


@functools.lru_cache(maxsize=4)
def dictionary_words(path: Path) -> frozenset[str]:
    """Return the words a pronunciation dictionary holds (alternates folded together)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as err:
        raise PronunciationError(f"cannot read the pronunciation dictionary {path}: {err}") from err
    return frozenset(line.split(maxsplit=1)[0].split("(", 1)[0] for line in lines if line.strip())


def dictionary_pronunciations(path: Path, words: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Every pronunciation the dictionary gives each of these words, alternates in order."""
    wanted = set(words)
    found: dict[str, list[str]] = {}
    try:
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                entry, _, phones = line.partition(" ")
                word = entry.split("(", 1)[0]
                if word in wanted and phones.strip():
                    found.setdefault(word, []).append(phones.strip())
    except OSError as err:
        raise PronunciationError(f"cannot read the pronunciation dictionary {path}: {err}") from err
    return {word: tuple(phones) for word, phones in found.items()}


def ipa_to_phones(word: str, ipa: str) -> str:
    """Map espeak-ng IPA (phonemes separated by "_") to CMU phones, naming what fails."""
    phones: list[str] = []
    for chunk in ipa.split():
        for raw in chunk.split(_SEPARATOR):
            token = raw.translate(_MARKS)
            if not token:
                continue
            mapped = _IPA.get(token) or _IPA.get(token.replace("ː", ""))
            if mapped is None:
                mapped = _greedy(token)
            if mapped is None:
                raise PronunciationError(
                    f"cannot pronounce {word!r}: espeak-ng phoneme {raw!r} has no model phone"
                )
            phones.extend(mapped.split())
    if not phones:
        raise PronunciationError(f"cannot pronounce {word!r}: espeak-ng gave no phonemes")
    return " ".join(phones)


def _greedy(token: str) -> str | None:
    """Split an unlisted multi-symbol phoneme into listed ones, longest first."""
    out: list[str] = []
    rest = token.replace("ː", "")
    while rest:
        for size in (3, 2, 1):
            mapped = _IPA.get(rest[:size])
            if mapped is not None:
                out.append(mapped)
                rest = rest[size:]
                break
        else:
            return None
    return " ".join(out)


class Pronouncer:
    """Generates and caches pronunciations for words the dictionary lacks."""

    def __init__(self, dictionary: Path | None = None, *, voice: str = "en-us") -> None:
        self._dictionary = dictionary or default_dictionary()
        self._voice = voice
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def known(self, word: str) -> bool:
        """True if the dictionary already holds the word."""
        return word in dictionary_words(self._dictionary)

    def missing(self, words: Iterable[str]) -> list[str]:
        """Return the words the dictionary lacks, in order, without repeats."""
        known = dictionary_words(self._dictionary)
        return [word for word in dict.fromkeys(words) if word not in known]

    def pronounce(self, words: Iterable[str]) -> dict[str, str]:
        """Return generated CMU pronunciations for every word the dictionary lacks."""
        wanted = self.missing(words)
        with self._lock:
            todo = [word for word in wanted if word not in self._cache]
            if todo:
                self._cache.update(self._generate(todo))
            return {word: self._cache[word] for word in wanted}

    def _generate(self, words: list[str]) -> dict[str, str]:
        for word in words:
            if not word or not all(char.isalpha() or char == "'" for char in word):
                raise PronunciationError(f"cannot pronounce {word!r}: not a plain spoken word")
        espeak = shutil.which("espeak-ng")
        if espeak is None:
            raise PronunciationError(
                "espeak-ng is not installed; it is needed to pronounce: " + ", ".join(words)
            )
        # One word per sentence keeps espeak-ng from joining lines into one clause.
        text = "".join(f"{word}.\n" for word in words)
        try:
            result = subprocess.run(
                [espeak, "-q", "--ipa", f"--sep={_SEPARATOR}", "-v", self._voice],
                input=text,
                capture_output=True,
                text=True,
                check=True,
                timeout=_ESPEAK_TIMEOUT,
                env={**os.environ, "LC_ALL": "C.UTF-8"},
            )
        except (OSError, subprocess.SubprocessError) as err:
            raise PronunciationError(f"espeak-ng failed for {', '.join(words)}: {err}") from err
        lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        if len(lines) != len(words):
            # Rare: espeak-ng merged or split clauses; fall back to one call per word.
            if len(words) == 1:
                raise PronunciationError(f"cannot pronounce {words[0]!r}: espeak-ng gave {lines!r}")
            merged: dict[str, str] = {}
            for word in words:
                merged.update(self._generate([word]))
            return merged
        return {word: ipa_to_phones(word, line) for word, line in zip(words, lines, strict=True)}
