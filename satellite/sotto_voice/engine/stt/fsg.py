"""Compile JSGF into a small deterministic word graph for pocketsphinx.

pocketsphinx's own JSGF import copies every rule at every reference and keeps all the
empty (null) transitions; with real templates that is tens of thousands of transitions
and decoding slows to minutes. A command grammar has no recursion, so here each rule is
compiled once, bottom-up, into a deterministic acyclic word automaton and minimised
(an acyclic automaton is minimised by merging states with equal futures, deepest first).
The result is also what tells a partial transcript from a complete command.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from .errors import GrammarError
from .jsgf import Node, Ref, Seq, Word, parse_jsgf

# A runaway grammar (a template bug, or a home far beyond any real one) stops here.
_MAX_STATES: Final = 2_000_000

FsgTransition = tuple[int, int, float] | tuple[int, int, float, str]


@dataclass(frozen=True, slots=True)
class Completion:
    """How a word sequence relates to the grammar."""

    complete: bool
    """The words are a whole sentence of the grammar."""
    can_continue: bool
    """The words are also the start of a longer sentence."""


@dataclass(frozen=True, slots=True)
class WordGraph:
    """A minimal deterministic automaton over words; state 0 is the start."""

    words: tuple[str, ...]
    arcs: tuple[Mapping[int, int], ...]
    """Per state: word index -> next state."""
    finals: frozenset[int]

    def _index(self) -> dict[str, int]:
        return _word_index(self.words)

    @property
    def transitions(self) -> int:
        """Number of word transitions."""
        return sum(len(arcs) for arcs in self.arcs)

    def check(self, words: Sequence[str]) -> Completion:
        """Tell whether the words are a sentence, and whether one could go on from them."""
        index = self._index()
        state = 0
        for word in words:
            wid = index.get(word)
            nxt = self.arcs[state].get(wid) if wid is not None else None
            if nxt is None:
                return Completion(complete=False, can_continue=False)
            state = nxt
        return Completion(complete=state in self.finals, can_continue=bool(self.arcs[state]))

    def fsg_transitions(
        self, first_words: Mapping[str, float] | None = None
    ) -> tuple[int, list[FsgTransition]]:
        """Return (final state, transitions) in pocketsphinx create_fsg form (one final state).

        first_words weighs the words a sentence may start with (default weight 1).
        """
        weights = dict(first_words or {})
        if any(weight <= 0 for weight in weights.values()):
            raise GrammarError(f"first-word weights must be positive: {weights}")
        terminal = next((state for state in self.finals if not self.arcs[state]), len(self.arcs))
        out: list[FsgTransition] = []
        for state, arcs in enumerate(self.arcs):
            # Each choice point shares probability evenly, as JSGF alternatives do, except
            # the start when the caller weighs some first words above the others.
            shares = {wid: weights.get(self.words[wid], 1.0) if state == 0 else 1.0 for wid in arcs}
            ends = state in self.finals and state != terminal
            leaving = sum(shares.values()) + (1.0 if ends else 0.0)
            for wid, target in arcs.items():
                out.append((state, target, shares[wid] / leaving, self.words[wid]))
            if ends:
                out.append((state, terminal, 1.0 / leaving))
        return terminal, out


@functools.lru_cache(maxsize=8)
def _word_index(words: tuple[str, ...]) -> dict[str, int]:
    return {word: i for i, word in enumerate(words)}


def compile_jsgf(jsgf: str) -> WordGraph:
    """Compile JSGF text (as written by grammar.build_grammar) into a minimal word graph."""
    public, rules = parse_jsgf(jsgf)
    compiler = _Compiler(rules)
    dfa = compiler.node(Ref(public))
    return _minimise(compiler.words(), dfa.arcs, dfa.finals)


@dataclass(slots=True)
class _Dfa:
    """A deterministic acyclic automaton; state 0 is the start."""

    arcs: list[dict[int, int]]
    finals: set[int]
    owned: bool = True
    """False for a rule's automaton, which every reference shares and nobody may change."""


class _Compiler:
    """Builds each rule's automaton once and reuses it at every reference."""

    def __init__(self, rules: Mapping[str, Node]) -> None:
        self._rules = rules
        self._words: dict[str, int] = {}
        self._done: dict[str, _Dfa] = {}
        self._expanding: set[str] = set()

    def words(self) -> tuple[str, ...]:
        return tuple(sorted(self._words, key=self._words.__getitem__))

    def node(self, node: Node) -> _Dfa:
        if isinstance(node, Word):
            wid = self._words.setdefault(node.text, len(self._words))
            return _Dfa([{wid: 1}, {}], {1})
        if isinstance(node, Ref):
            done = self._done.get(node.rule)
            if done is None:
                if node.rule in self._expanding:
                    raise GrammarError(
                        f"rule <{node.rule}> refers to itself; commands cannot recurse"
                    )
                self._expanding.add(node.rule)
                built = self.node(self._rules[node.rule])
                done = _Dfa(built.arcs, built.finals, owned=False)
                self._expanding.discard(node.rule)
                self._done[node.rule] = done
            return done
        parts = [self.node(item) for item in node.items]
        if isinstance(node, Seq):
            result = parts[0]
            for part in parts[1:]:
                result = _append(result, part)
            return result
        return _union(parts, optional=node.optional)


class _Nfa:
    def __init__(self) -> None:
        self.arcs: list[list[tuple[int, int]]] = []
        self.eps: list[list[int]] = []
        self._closures: dict[int, frozenset[int]] = {}

    def closure(self, state: int) -> frozenset[int]:
        """The states reachable from this one without a word (cached: the NFA is complete)."""
        found = self._closures.get(state)
        if found is None:
            members = {state}
            for nxt in self.eps[state]:
                members |= self.closure(nxt)
            found = frozenset(members)
            self._closures[state] = found
        return found

    def moves(self, states: frozenset[int]) -> dict[int, frozenset[int]]:
        """Where each word leads from this set of states."""
        moves: dict[int, set[int]] = {}
        for member in states:
            for wid, target in self.arcs[member]:
                moves.setdefault(wid, set()).update(self.closure(target))
        return {wid: frozenset(targets) for wid, targets in moves.items()}

    def state(self) -> int:
        self.arcs.append([])
        self.eps.append([])
        return len(self.arcs) - 1

    def add(self, dfa: _Dfa) -> int:
        """Copy a DFA in; return the offset of its states."""
        offset = len(self.arcs)
        if offset + len(dfa.arcs) > _MAX_STATES:
            raise GrammarError("grammar too large: more than two million states")
        for arcs in dfa.arcs:
            self.arcs.append([(wid, target + offset) for wid, target in arcs.items()])
            self.eps.append([])
        return offset


def _append(first: _Dfa, second: _Dfa) -> _Dfa:
    """Concatenate two automata."""
    if len(first.finals) == 1:
        (end,) = first.finals
        if not first.arcs[end]:
            # Common case: one final state with nothing after it, so glue second's start
            # onto it; the result stays deterministic without a subset search.
            base = len(first.arcs) - 1

            def place(state: int) -> int:
                return end if state == 0 else base + state

            # A sequence grows its own automaton in place instead of copying it per item.
            arcs = first.arcs if first.owned else [dict(moves) for moves in first.arcs]
            arcs[end] = {wid: place(t) for wid, t in second.arcs[0].items()}
            arcs.extend({wid: place(t) for wid, t in moves.items()} for moves in second.arcs[1:])
            return _Dfa(arcs, {place(final) for final in second.finals})
    nfa = _Nfa()
    nfa.add(first)
    offset = nfa.add(second)
    for final in first.finals:
        nfa.eps[final].append(offset)
    return _determinise(nfa, 0, {final + offset for final in second.finals})


def _union(parts: Sequence[_Dfa], *, optional: bool) -> _Dfa:
    """Any one of the parts (or nothing, when optional)."""
    if len(parts) == 1:
        (part,) = parts
        if not optional or 0 in part.finals:
            return part
        # "[x]": the start state has no way in (acyclic), so making it final is enough.
        arcs = part.arcs if part.owned else list(part.arcs)
        return _Dfa(arcs, part.finals | {0})
    nfa = _Nfa()
    start = nfa.state()
    accept: set[int] = {start} if optional else set()
    for part in parts:
        offset = nfa.add(part)
        nfa.eps[start].append(offset)
        accept |= {final + offset for final in part.finals}
    return _determinise(nfa, start, accept)


def _determinise(nfa: _Nfa, start: int, accept: set[int]) -> _Dfa:
    """Subset construction, then minimisation."""
    first = nfa.closure(start)
    ids = {first: 0}
    arcs: list[dict[int, int]] = [{}]
    finals: set[int] = set()
    todo = [first]
    while todo:
        current = todo.pop()
        source = ids[current]
        if not accept.isdisjoint(current):
            finals.add(source)
        for wid, key in nfa.moves(current).items():
            target_id = ids.get(key)
            if target_id is None:
                target_id = len(arcs)
                if target_id >= _MAX_STATES:
                    raise GrammarError("grammar too large: more than two million states")
                ids[key] = target_id
                arcs.append({})
                todo.append(key)
            arcs[source][wid] = target_id
    graph = _minimise((), arcs, finals)
    return _Dfa([dict(moves) for moves in graph.arcs], set(graph.finals))


def post_order(arcs: Sequence[Mapping[int, int]]) -> list[int]:
    """The states reachable from state 0, each after every state it leads to."""
    order: list[int] = []
    seen = [False] * len(arcs)
    stack = [(0, False)]
    while stack:
        state, done = stack.pop()
        if done:
            order.append(state)
            continue
        if seen[state]:
            continue
        seen[state] = True
        stack.append((state, True))
        stack.extend((target, False) for target in arcs[state].values() if not seen[target])
    return order


def _minimise(words: tuple[str, ...], arcs: list[dict[int, int]], finals: set[int]) -> WordGraph:
    """Merge states with identical futures, deepest first (valid because the graph is acyclic)."""
    order = post_order(arcs)
    classes: dict[tuple[bool, tuple[tuple[int, int], ...]], int] = {}
    class_of = [0] * len(arcs)
    for state in order:  # post-order: every successor is classified before its source
        signature = (
            state in finals,
            tuple(sorted((wid, class_of[target]) for wid, target in arcs[state].items())),
        )
        class_of[state] = classes.setdefault(signature, len(classes))
    # Renumber so the start state is 0.
    start_class = class_of[0]
    renumber = {start_class: 0}
    for cls in range(len(classes)):
        if cls != start_class:
            renumber[cls] = len(renumber)
    new_arcs: list[dict[int, int]] = [{} for _ in classes]
    new_finals: set[int] = set()
    for (is_final, moves), cls in classes.items():
        state = renumber[cls]
        new_arcs[state] = {wid: renumber[target] for wid, target in moves}
        if is_final:
            new_finals.add(state)
    return WordGraph(words, tuple(new_arcs), frozenset(new_finals))
