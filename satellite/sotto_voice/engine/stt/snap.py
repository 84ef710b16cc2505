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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from .fsg import WordGraph, post_order

# Cost of a heard word the sentence does not have, and of a sentence word nobody said.
GAP_COST: Final = 1.0
_UNREACHABLE: Final = float("inf")

Operation = Literal["same", "changed", "extra", "missing"]


@dataclass(frozen=True, slots=True)
class Step:
    """One step of an alignment: a grammar word, a heard word, or both."""

    operation: Operation
    word: str | None
    """The grammar's word (None for a heard word the sentence does not have)."""
    heard: str | None
    """The heard word (None for a grammar word nobody said)."""
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


def spelling_distance(first: str, second: str) -> float:
    """Edit distance between two words' letters, over the longer one's length (0 to 1)."""
    if first == second:
        return 0.0
    previous = list(range(len(second) + 1))
    for row, a in enumerate(first, 1):
        current = [row]
        for column, b in enumerate(second, 1):
            current.append(
                min(previous[column] + 1, current[-1] + 1, previous[column - 1] + (a != b))
            )
        previous = current
    return previous[-1] / max(len(first), len(second), 1)


_Back = tuple[int, int, int | None]
"""(previous state, previous heard position, grammar word index or None for extra)."""


class Snapper:
    """Aligns heard words to one word graph (its order is worked out once)."""

    def __init__(self, graph: WordGraph) -> None:
        self._graph = graph
        self._order = post_order(graph.arcs)[::-1]  # each state before its successors

    def snap(self, heard: Sequence[str]) -> Alignment | None:
        """The nearest grammar sentence to the heard words (None for a graph with none)."""
        graph, count = self._graph, len(heard)
        distance = [[spelling_distance(word, said) for said in heard] for word in graph.words]
        costs: dict[int, list[float]] = {0: [0.0] + [_UNREACHABLE] * count}
        back: dict[tuple[int, int], _Back] = {}
        for state in self._order:
            here = costs.get(state)
            if here is None:
                continue
            for position in range(count):  # heard words the sentence does not have
                if here[position] + GAP_COST < here[position + 1]:
                    here[position + 1] = here[position] + GAP_COST
                    back[state, position + 1] = (state, position, None)
            for wid, target in graph.arcs[state].items():
                _relax(here, costs, back, state, target, wid, distance[wid])
        finals = [state for state in graph.finals if state in costs]
        if not finals:
            return None
        best = min(finals, key=lambda state: costs[state][count])
        return _trace(graph, heard, back, best, costs[best][count], distance)


def _relax(
    here: list[float],
    costs: dict[int, list[float]],
    back: dict[tuple[int, int], _Back],
    state: int,
    target: int,
    wid: int,
    distance: list[float],
) -> None:
    """Move along one arc: the word is heard as some word, or not heard at all."""
    there = costs.get(target)
    if there is None:
        there = costs[target] = [_UNREACHABLE] * len(here)
    for position, cost in enumerate(here):
        if cost == _UNREACHABLE:
            continue
        if cost + GAP_COST < there[position]:
            there[position] = cost + GAP_COST
            back[target, position] = (state, position, wid)
        if position < len(distance) and cost + distance[position] < there[position + 1]:
            there[position + 1] = cost + distance[position]
            back[target, position + 1] = (state, position, wid)


def _trace(
    graph: WordGraph,
    heard: Sequence[str],
    back: dict[tuple[int, int], _Back],
    final: int,
    cost: float,
    distance: list[list[float]],
) -> Alignment:
    steps: list[Step] = []
    state, position = final, len(heard)
    while (state, position) != (0, 0):
        previous, before, wid = back[state, position]
        if wid is None:
            steps.append(Step("extra", None, heard[before], GAP_COST))
        elif before == position:
            steps.append(Step("missing", graph.words[wid], None, GAP_COST))
        else:
            step_cost = distance[wid][before]
            kind: Operation = "same" if step_cost == 0.0 else "changed"
            steps.append(Step(kind, graph.words[wid], heard[before], step_cost))
        state, position = previous, before
    steps.reverse()
    sentence = " ".join(step.word for step in steps if step.word is not None)
    return Alignment(sentence, cost, tuple(steps))
