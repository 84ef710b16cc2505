"""Read back the JSGF this package writes (the form a grammar travels in over the link).

The recogniser only receives JSGF text; it parses it here and compiles it (fsg.py) into
the word graph pocketsphinx decodes with and partial transcripts are checked against.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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
