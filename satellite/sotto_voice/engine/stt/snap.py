"""Snap free text to the nearest sentence of the home's grammar, word by word.

A free recogniser (Whisper) writes what it heard, with its own mistakes ("turn on the best
lamp" for "desk lamp"). The grammar's word graph (fsg.WordGraph, the same automaton the
grammar recogniser decodes with) allows billions of sentences once numbers and names
multiply, far too many to list; so the nearest one is found by aligning the heard words
to the graph itself: a Levenshtein distance over words, computed state by state in the
graph's topological order. A grammar word that replaces a heard word costs how unlike
their spellings are (0 to 1); a heard word the sentence does not have, or a sentence word
nobody said, costs 1. The alignment says which words were changed, kept or added, which
is what the rejection rule looks at.

Whisper does not always cut words where the home's names do: it writes "counterlights"
for the Counter Lights, "nightlight" for the Night Light. So one heard word may also stand
for two grammar words in a row, and two heard words for one grammar word, when each piece
is close to its counterpart (JOIN_DISTANCE); such a step is one word changed (or kept,
when the letters are the same), never a gap, so the rejection rule still sees a word the
sentence does not have ("don't") as one.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from .fsg import WordGraph, post_order

# Cost of a heard word the sentence does not have, and of a sentence word nobody said.
GAP_COST: Final = 1.0
# One heard word is taken for two grammar words (or two for one) only when each of the two
# is at most this far (spelling distance, 0 to 1) from its own piece of the other side, cut
# where they fit best: "counterlights" is "counter" + "lights" and "nightlight" is "night" +
# "light" exactly; "lighthouse" is not "light" + "blue" ("house" is 0.8 from "blue"), "on
# the" is not the word "the", and "book is" is not "bookcase" ("is" is 0.75 from "case"):
# a misheard word stays a change that the audio must support. Chosen on the voices
# corpus's tune split (bench/stt.py).
JOIN_DISTANCE: Final = 0.4
# A heard word shorter than this is never taken for two grammar words.
_MIN_SPLIT_LETTERS: Final = 6
_UNREACHABLE: Final = float("inf")

Operation = Literal["same", "changed", "extra", "missing"]


@dataclass(frozen=True, slots=True)
class Step:
    """One step of an alignment: a grammar word, a heard word, or both."""

    operation: Operation
    word: str | None
    """The grammar's word, or its two words for one heard word (None for a heard word the
    sentence does not have)."""
    heard: str | None
    """The heard word, or two heard words for one grammar word (None for a grammar word
    nobody said)."""
    cost: float


@dataclass(frozen=True, slots=True)
class Alignment:
    """The grammar sentence nearest to what was heard, and how they differ."""

    sentence: str
    cost: float
    steps: tuple[Step, ...]

    def count(self, operation: Operation) -> int:
        """How many steps are of this kind."""
        return sum(step.operation == operation for step in self.steps)

    @property
    def differences(self) -> int:
        """Words changed, added or dropped to make the heard words this sentence."""
        return len(self.steps) - self.count("same")

    @property
    def worst(self) -> float:
        """The largest cost of a single step (0 when the words are a sentence as heard)."""
        return max((step.cost for step in self.steps), default=0.0)


def spelling_distance(first: str, second: str, limit: float = 1.0) -> float:
    """Edit distance between two words' letters, over the longer one's length (0 to 1), or
    infinity when it is over `limit`: given up as soon as every way through the table
    costs more (most pairs the snapper tries for joined words are far apart)."""
    if first == second:
        return 0.0
    longest = max(len(first), len(second), 1)
    most = limit * longest
    if abs(len(first) - len(second)) > most:
        return _UNREACHABLE
    previous = list(range(len(second) + 1))
    for row, a in enumerate(first, 1):
        current = [row]
        for column, b in enumerate(second, 1):
            current.append(
                min(previous[column] + 1, current[-1] + 1, previous[column - 1] + (a != b))
            )
        if min(current) > most:
            return _UNREACHABLE
        previous = current
    return previous[-1] / longest if previous[-1] <= most else _UNREACHABLE


_Back = tuple[int, int, tuple[int, ...]]
"""(previous state, previous heard position, the grammar words' indexes: none for a heard
word the sentence does not have, two for one heard word cut in two)."""


def _close(first: str, second: str) -> float:
    """spelling_distance if it is at most JOIN_DISTANCE, else infinity."""
    return spelling_distance(first, second, JOIN_DISTANCE)


def _near_lengths(length: int) -> range:
    """The lengths a word may have to be within JOIN_DISTANCE of one this long (a little
    wider than exact: _close decides)."""
    keep = 1 - JOIN_DISTANCE
    return range(max(1, math.floor(length * keep)), math.ceil(length / keep) + 1)


class _Vocabulary:
    """The grammar's words by length, to find the ones near a piece of heard text."""

    def __init__(self, words: Sequence[str]) -> None:
        self.words = words
        self.known = frozenset(words)
        self.by_length: dict[int, list[int]] = {}
        for wid, word in enumerate(words):
            self.by_length.setdefault(len(word), []).append(wid)

    def near(self, text: str) -> dict[int, float]:
        """Words (by index) within JOIN_DISTANCE of this text."""
        found: dict[int, float] = {}
        for length in _near_lengths(len(text)):
            for wid in self.by_length.get(length, ()):
                distance = _close(self.words[wid], text)
                if distance <= JOIN_DISTANCE:
                    found[wid] = distance
        return found

    def merges(self, first: str, second: str) -> dict[int, float]:
        """Words that these two heard words may be, cut in two where they fit best: each
        piece within JOIN_DISTANCE of its heard word."""
        found: dict[int, float] = {}
        heads: dict[str, float] = {}
        for length in _near_lengths(len(first) + len(second)):
            for wid in self.by_length.get(length, ()):
                word = self.words[wid]
                for cut in _near_lengths(len(first)):
                    if not 0 < cut < length:
                        continue
                    head = heads.get(word[:cut])
                    if head is None:
                        head = heads[word[:cut]] = _close(first, word[:cut])
                    if head <= JOIN_DISTANCE:
                        distance = max(head, _close(second, word[cut:]))
                        found[wid] = min(distance, found.get(wid, _UNREACHABLE))
        return {wid: distance for wid, distance in found.items() if distance <= JOIN_DISTANCE}

    def splits(self, said: str) -> dict[int, dict[int, float]]:
        """Pairs of words (first -> second -> distance) this heard word may be."""
        found: dict[int, dict[int, float]] = {}
        for cut in range(2, len(said) - 1):  # pieces of two letters or more
            heads = self.near(said[:cut])
            tails = self.near(said[cut:]) if heads else {}
            for first, head in heads.items():
                seconds = found.setdefault(first, {})
                for second, tail in tails.items():
                    seconds[second] = min(max(head, tail), seconds.get(second, _UNREACHABLE))
        return found


class Snapper:
    """Aligns heard words to one word graph (its order is worked out once)."""

    def __init__(self, graph: WordGraph) -> None:
        self._graph = graph
        self._order = post_order(graph.arcs)[::-1]  # each state before its successors
        self._vocabulary = _Vocabulary(graph.words)

    def snap(self, heard: Sequence[str]) -> Alignment | None:
        """The nearest grammar sentence to the heard words (None for a graph with none)."""
        search = _Search(self._graph, self._vocabulary, heard)
        for state in self._order:
            search.visit(state)
        return search.best()


class _Search:
    """One alignment's table: the cheapest cost of reaching each (state, heard position)."""

    def __init__(self, graph: WordGraph, vocabulary: _Vocabulary, heard: Sequence[str]) -> None:
        self.graph, self.heard = graph, heard
        words = graph.words
        self.distance = [[spelling_distance(word, said) for said in heard] for word in words]
        # Where two heard words may be one grammar word: word -> heard position -> cost.
        self.merged: dict[int, dict[int, float]] = {}
        for position, (first, second) in enumerate(itertools.pairwise(heard)):
            for wid, distance in vocabulary.merges(first, second).items():
                self.merged.setdefault(wid, {})[position] = distance
        # Where one heard word may be two: heard position -> first word -> second -> cost.
        self.split = {
            position: vocabulary.splits(said)
            for position, said in enumerate(heard)
            if len(said) >= _MIN_SPLIT_LETTERS and said not in vocabulary.known
        }
        self.costs: dict[int, list[float]] = {0: [0.0] + [_UNREACHABLE] * len(heard)}
        self.back: dict[tuple[int, int], _Back] = {}

    def visit(self, state: int) -> None:
        """Every way on from this state (all ways into it have been seen)."""
        here = self.costs.get(state)
        if here is None:
            return
        for position in range(len(self.heard)):  # heard words the sentence does not have
            if here[position] + GAP_COST < here[position + 1]:
                here[position + 1] = here[position] + GAP_COST
                self.back[state, position + 1] = (state, position, ())
        for wid, target in self.graph.arcs[state].items():
            self.relax(here, state, wid, target)
            for position, distance in self.merged.get(wid, {}).items():  # heard as two
                self.improve(
                    target, position + 2, here[position] + distance, (state, position, (wid,))
                )
            for position, firsts in self.split.items():  # one heard word for this and the next
                for second, distance in firsts.get(wid, {}).items():
                    beyond = self.graph.arcs[target].get(second)
                    if beyond is not None:
                        how: _Back = (state, position, (wid, second))
                        self.improve(beyond, position + 1, here[position] + distance, how)

    def relax(self, here: list[float], state: int, wid: int, target: int) -> None:
        """Move along one arc: its word heard as one heard word, or not heard at all."""
        there = self.costs.get(target)
        if there is None:
            there = self.costs[target] = [_UNREACHABLE] * len(here)
        distance, back, how = self.distance[wid], self.back, (wid,)
        for position, cost in enumerate(here):
            if cost == _UNREACHABLE:
                continue
            if cost + GAP_COST < there[position]:
                there[position] = cost + GAP_COST
                back[target, position] = (state, position, how)
            if position < len(distance) and cost + distance[position] < there[position + 1]:
                there[position + 1] = cost + distance[position]
                back[target, position + 1] = (state, position, how)

    def improve(self, state: int, position: int, cost: float, how: _Back) -> None:
        """Keep this way of reaching (state, position) if it is the cheapest so far."""
        there = self.costs.get(state)
        if there is None:
            there = self.costs[state] = [_UNREACHABLE] * (len(self.heard) + 1)
        if cost < there[position]:
            there[position] = cost
            self.back[state, position] = how

    def best(self) -> Alignment | None:
        """The cheapest sentence that takes in every heard word."""
        count = len(self.heard)
        finals = [state for state in self.graph.finals if state in self.costs]
        if not finals:
            return None
        final = min(finals, key=lambda state: self.costs[state][count])
        return _trace(self.graph, self.heard, self.back, final, self.costs[final][count])


def _trace(
    graph: WordGraph,
    heard: Sequence[str],
    back: dict[tuple[int, int], _Back],
    final: int,
    cost: float,
) -> Alignment:
    steps: list[Step] = []
    state, position = final, len(heard)
    while (state, position) != (0, 0):
        previous, before, wids = back[state, position]
        said = " ".join(heard[before:position]) or None
        if not wids:
            steps.append(Step("extra", None, said, GAP_COST))
        elif said is None:
            steps.append(Step("missing", graph.words[wids[0]], None, GAP_COST))
        else:
            word = " ".join(graph.words[wid] for wid in wids)
            step_cost = spelling_distance(word.replace(" ", ""), said.replace(" ", ""))
            kind: Operation = "same" if step_cost == 0.0 else "changed"
            steps.append(Step(kind, word, said, step_cost))
        state, position = previous, before
    steps.reverse()
    sentence = " ".join(step.word for step in steps if step.word is not None)
    return Alignment(sentence, cost, tuple(steps))
