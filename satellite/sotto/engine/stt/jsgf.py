"""Read back the JSGF this package writes, to tell whether words form a whole sentence.

The satellite stops streaming early when the partial transcript already completes a
sentence of the grammar; the recogniser only has the JSGF text, so it parses that.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from .errors import GrammarError

_TOKEN: Final = re.compile(r"\s*(<[A-Za-z0-9_.\-]+>|[()\[\]|]|[^\s()\[\]|<>;=]+)")
_RULE: Final = re.compile(r"^(public\s+)?<([A-Za-z0-9_.\-]+)>\s*=\s*(.*);\s*$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Word:
    """One spoken word."""

    text: str


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference to another rule."""

    rule: str


@dataclass(frozen=True, slots=True)
class Seq:
    """Parts spoken one after the other."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Alt:
    """One of several choices, or nothing at all when optional."""

    items: tuple[Node, ...]
    optional: bool = False


Node = Word | Ref | Seq | Alt


def parse_jsgf(text: str) -> tuple[str, dict[str, Node]]:
    """Parse JSGF into (public rule name, rules); raises GrammarError on anything else."""
    rules: dict[str, Node] = {}
    public: str | None = None
    statements = [s.strip() for s in _split_statements(text) if s.strip()]
    if not statements or not statements[0].startswith("#JSGF"):
        raise GrammarError("not a JSGF grammar: missing the #JSGF header")
    for statement in statements[1:]:
        if statement.startswith("grammar ") or statement.startswith("import "):
            continue
        match = _RULE.match(statement + ";")
        if match is None:
            raise GrammarError(f"cannot read JSGF statement {statement[:80]!r}")
        is_public, name, body = match.groups()
        rules[name] = _Parser(body, name).parse()
        if is_public and public is None:
            public = name
    if public is None:
        raise GrammarError("the JSGF grammar has no public rule")
    for name, node in rules.items():
        _check_refs(node, rules, name)
    return public, rules


def _split_statements(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("//")]
    return "\n".join(lines).split(";")


def _check_refs(node: Node, rules: Mapping[str, Node], owner: str) -> None:
    if isinstance(node, Ref):
        if node.rule not in rules:
            raise GrammarError(f"rule <{owner}> refers to undefined rule <{node.rule}>")
    elif isinstance(node, Seq | Alt):
        for item in node.items:
            _check_refs(item, rules, owner)


class _Parser:
    def __init__(self, body: str, rule: str) -> None:
        self._rule = rule
        self._tokens = [t for t in _TOKEN.findall(body) if t]
        self._pos = 0

    def parse(self) -> Node:
        node = self._alternatives()
        if self._pos != len(self._tokens):
            raise GrammarError(f"rule <{self._rule}>: unexpected {self._tokens[self._pos]!r}")
        return node

    def _peek(self) -> str | None:
        return self._tokens[self._pos] if self._pos < len(self._tokens) else None

    def _alternatives(self) -> Node:
        choices = [self._sequence()]
        while self._peek() == "|":
            self._pos += 1
            choices.append(self._sequence())
        return choices[0] if len(choices) == 1 else Alt(tuple(choices))

    def _sequence(self) -> Node:
        items: list[Node] = []
        while (token := self._peek()) is not None and token not in ("|", ")", "]"):
            self._pos += 1
            if token in ("(", "["):
                inner = self._alternatives()
                closing = ")" if token == "(" else "]"
                if self._peek() != closing:
                    raise GrammarError(f"rule <{self._rule}>: missing {closing!r}")
                self._pos += 1
                items.append(Alt((inner,), optional=True) if token == "[" else inner)
            elif token.startswith("<"):
                items.append(Ref(token[1:-1]))
            else:
                items.append(Word(token))
        if not items:
            raise GrammarError(f"rule <{self._rule}>: empty alternative")
        return items[0] if len(items) == 1 else Seq(tuple(items))


@dataclass(frozen=True, slots=True)
class Completion:
    """How a word sequence relates to the grammar."""

    complete: bool
    """The words are a whole sentence of the grammar."""
    can_continue: bool
    """The words are also the start of a longer sentence."""


class SentenceMatcher:
    """Tells whether a word sequence is a sentence (or the start of one) of a JSGF grammar."""

    def __init__(self, jsgf: str) -> None:
        self._public, self._rules = parse_jsgf(jsgf)

    def check(self, words: Sequence[str]) -> Completion:
        """Match the words against the public rule."""
        ends = _Match(self._rules, tuple(words)).ends(Ref(self._public), 0)
        beyond = len(words) + 1
        return Completion(complete=len(words) in ends, can_continue=beyond in ends)


class _Match:
    """Memoised matching; position len(words)+1 means "ran out of words mid-sentence"."""

    def __init__(self, rules: Mapping[str, Node], words: tuple[str, ...]) -> None:
        self._rules = rules
        self._words = words
        self._beyond = len(words) + 1
        self._memo: dict[tuple[int, int], frozenset[int]] = {}

    def ends(self, node: Node, start: int) -> frozenset[int]:
        key = (id(node), start)
        found = self._memo.get(key)
        if found is None:
            found = self._ends(node, start)
            self._memo[key] = found
        return found

    def _ends(self, node: Node, start: int) -> frozenset[int]:
        if start == self._beyond:
            return frozenset({start})
        if isinstance(node, Word):
            if start == len(self._words):
                return frozenset({self._beyond})
            return frozenset({start + 1}) if self._words[start] == node.text else frozenset()
        if isinstance(node, Ref):
            return self.ends(self._rules[node.rule], start)
        if isinstance(node, Alt):
            out: set[int] = {start} if node.optional else set()
            for item in node.items:
                out |= self.ends(item, start)
            return frozenset(out)
        positions = frozenset({start})
        for item in node.items:
            nxt: set[int] = set()
            for position in positions:
                nxt |= self.ends(item, position)
            positions = frozenset(nxt)
            if not positions:
                break
        return positions
