"""The word graph handed to pocketsphinx: where the probability of each next word goes."""

from __future__ import annotations

from collections import defaultdict

import pytest

from sotto_voice.engine.stt.errors import GrammarError
from sotto_voice.engine.stt.fsg import compile_jsgf
from sotto_voice.engine.stt.recognizer import FIRST_WORD_PRIOR

JSGF = """#JSGF V1.0;
grammar sotto;
public <command> = turn on the lamp | do you know the lamp | is the lamp on | lamp on;
"""


def first_word_shares(weights: dict[str, float] | None) -> dict[str, float]:
    _, transitions = compile_jsgf(JSGF).fsg_transitions(weights)
    return {t[3]: t[2] for t in transitions if t[0] == 0 and len(t) == 4}


def test_every_choice_point_is_a_distribution() -> None:
    _, transitions = compile_jsgf(JSGF).fsg_transitions(FIRST_WORD_PRIOR)
    leaving: dict[int, float] = defaultdict(float)
    for transition in transitions:
        leaving[transition[0]] += transition[2]
    assert all(total == pytest.approx(1.0) for total in leaving.values())


def test_first_words_share_evenly_unless_weighed() -> None:
    assert first_word_shares(None) == pytest.approx(
        dict.fromkeys(["turn", "do", "is", "lamp"], 0.25)
    )
    # An action is favoured over a question at the start, and only there: the words after
    # the first keep their even shares.
    weighed = first_word_shares({"turn": 16.0})
    assert weighed["turn"] == pytest.approx(16 / 19)
    assert weighed["do"] == weighed["is"] == weighed["lamp"] == pytest.approx(1 / 19)


def test_recogniser_favours_action_words() -> None:
    assert {"turn", "switch", "set"} <= set(FIRST_WORD_PRIOR)
    assert all(weight > 1 for weight in FIRST_WORD_PRIOR.values())


@pytest.mark.parametrize("weight", [0.0, -1.0])
def test_non_positive_weight_is_an_error(weight: float) -> None:
    with pytest.raises(GrammarError, match="must be positive"):
        compile_jsgf(JSGF).fsg_transitions({"turn": weight})
