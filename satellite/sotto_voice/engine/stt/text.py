"""Text normalisation shared by the grammar and the recogniser: lower-case dictionary words."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from .errors import GrammarError

_ONES: Final = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS: Final = [
    "_",
    "_",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
]
# Every word a spoken number is made of (a sentence ending in one may still be growing).
NUMBER_WORDS: Final = frozenset([*_ONES, *_TENS[2:], "hundred"])

# Letters NFKD cannot fold to ASCII but that have an obvious spelling.
_FOLD: Final = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "ł": "l", "đ": "d"})
# Symbols that are spoken as words in device names and templates.
_SYMBOLS: Final = {
    "1/2": " half ",
    "%": " percent ",
    "°": " degrees ",
    "&": " and ",
    "+": " plus ",
    "@": " at ",
}
_NUMBER: Final = re.compile(r"\d+")
_WORD: Final = re.compile(r"[a-z]+(?:'[a-z]+)*")
_SEPARATORS: Final = re.compile(r"[\s\-_/.,;:!?()\[\]{}\"“”‘’`*#|~^=<>\\]+")


def number_words(value: int) -> str:
    """Spell a non-negative integer the way people say it ("twenty one")."""
    if value < 0:
        raise GrammarError(f"cannot spell negative number {value}")
    if value < 20:
        return _ONES[value]
    if value < 100:
        tens, ones = divmod(value, 10)
        return _TENS[tens] if ones == 0 else f"{_TENS[tens]} {_ONES[ones]}"
    if value < 1000:
        hundreds, rest = divmod(value, 100)
        head = f"{_ONES[hundreds]} hundred"
        return head if rest == 0 else f"{head} {number_words(rest)}"
    if value < 1_000_000:
        thousands, rest = divmod(value, 1000)
        head = f"{number_words(thousands)} thousand"
        return head if rest == 0 else f"{head} {number_words(rest)}"
    # Long digit strings (model numbers) are read digit by digit.
    return " ".join(_ONES[int(digit)] for digit in str(value))


def _spell_symbols(text: str) -> str:
    for symbol, spoken in _SYMBOLS.items():
        text = text.replace(symbol, spoken)
    return text


def prepare(text: str) -> str:
    """Lower-case, fold accents and spell symbols, keeping whitespace as it was."""
    text = unicodedata.normalize("NFKD", text.lower().translate(_FOLD))
    text = "".join(char for char in text if not unicodedata.combining(char))
    return _spell_symbols(text.replace("’", "'"))


def words(text: str) -> list[str]:
    """Turn free text into dictionary words: "Hue Go 2!" -> ["hue", "go", "two"]."""
    text = prepare(text)
    text = _NUMBER.sub(lambda match: f" {number_words(int(match.group()))} ", text)
    out: list[str] = []
    for raw in _SEPARATORS.split(text):
        token = raw.strip("'")
        if not token:
            continue
        if not _WORD.fullmatch(token):
            raise GrammarError(f"cannot turn {token!r} (from {text.strip()!r}) into spoken words")
        out.append(token)
    return out


def normalise(text: str) -> str:
    """Return text as space-separated dictionary words."""
    return " ".join(words(text))
