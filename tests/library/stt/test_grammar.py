"""Grammar conversion: hassil templates become JSGF rules structurally, for any home."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("hassil")

from sotto_voice.engine.stt.errors import GrammarError, HomeError
from sotto_voice.engine.stt.fsg import compile_jsgf
from sotto_voice.engine.stt.grammar import (
    ANSWER_INTENT,
    NOT_FOR_ME_INTENT,
    build_grammar,
    is_dismissal,
)
from sotto_voice.engine.stt.home import Home
from sotto_voice.engine.stt.model import Grammar
from sotto_voice.engine.stt.recognizer import Recognizer
from sotto_voice.engine.stt.text import normalise, number_words

TEMPLATES: dict[str, Any] = {
    "language": "en",
    "intents": {
        "HassTurnOn": {
            "data": [
                {
                    "sentences": ["<turn> on [the] {name} [light[s]]", "{name} on"],
                    "requires_context": {"domain": "light"},
                },
                {"sentences": ["open {name} [in <area>]"], "requires_context": {"domain": "cover"}},
            ]
        },
        "HassLightSet": {
            "data": [
                {
                    "sentences": ["set {name} to {brightness}[%| percent]"],
                    "requires_context": {"domain": "light"},
                }
            ]
        },
        "HassStartTimer": {"data": [{"sentences": ["timer named {timer_name}"]}]},
    },
    "lists": {"brightness": {"range": {"from": 0, "to": 100}}, "timer_name": {"wildcard": True}},
    "expansion_rules": {"turn": "(turn|switch)", "area": "[the] {area}"},
    "skip_words": ["please"],
}


def small_home() -> Home:
    return Home.from_dict(
        {
            "entities": [
                {
                    "entity_id": "light.island_pendants",
                    "names": "Island Pendants",
                    "aliases": ["Pendants"],
                },
                {"entity_id": "light.lamp_2", "names": "Lamp 2"},
                {"entity_id": "cover.blinds", "names": "Blinds", "area": "Lounge"},
            ],
            "areas": [{"name": "Lounge"}],
        }
    )


def test_templates_become_rules_not_sentences() -> None:
    grammar = build_grammar(small_home(), TEMPLATES)
    rules = dict(line.split(" = ", 1) for line in grammar.jsgf.splitlines() if line.startswith("<"))
    # Lists become one rule each; names are filtered by the block's domain.
    assert rules["<names_light>"] == "island pendants | pendants | lamp two;"
    assert rules["<names_cover>"] == "blinds;"
    assert rules["<r_turn>"] == "(turn | switch);"
    # Alternatives, optionals and word-internal joins ("light[s]") stay structural.
    assert "<r_turn> on [the] <names_light> [(light | lights)]" in rules["<intent_HassTurnOn>"]
    assert "set <names_light> to <range_0_100> [percent]" in rules["<intent_HassLightSet>"]
    assert rules["<range_0_100>"].startswith("zero | one | two |")
    # A wildcard cannot be spoken against a grammar: the sentence is skipped, and said so.
    assert any("timer_name" in skipped for skipped in grammar.skipped)
    assert "intent_HassStartTimer" not in grammar.jsgf
    assert f"<intent_{NOT_FOR_ME_INTENT}>" in grammar.jsgf
    assert {"pendants", "two", "percent", "lounge"} <= set(grammar.words)


def test_grammar_accepts_what_the_templates_mean() -> None:
    graph = compile_jsgf(build_grammar(small_home(), TEMPLATES).jsgf)
    for sentence in (
        "switch on the island pendants lights",
        "please turn on pendants",
        "lamp two on",
        "set lamp two to fifty percent",
        "open blinds in the lounge",
        "never mind that wasn't for you",
    ):
        assert graph.check(sentence.split()).complete, sentence
    for sentence in ("turn on the blinds", "open the pendants", "set lamp two fifty percent"):
        assert not graph.check(sentence.split()).complete, sentence
    prefix = graph.check(["turn", "on", "the"])
    assert not prefix.complete
    assert prefix.can_continue


def test_a_questions_answers_join_the_grammar() -> None:
    """While a satellite asks a question, its answers can be said as well as commands;
    an answer naming a wildcard list cannot be recognised and is skipped, said so."""
    plain = compile_jsgf(build_grammar(small_home(), TEMPLATES).jsgf)
    grammar = build_grammar(
        small_home(),
        TEMPLATES,
        answers=["yes [please]", "(no|nope)", "the {name}", "in [the] {area}", "call {timer_name}"],
    )
    graph = compile_jsgf(grammar.jsgf)
    for sentence in ("yes", "yes please", "nope", "the lamp two", "in the lounge", "lamp two on"):
        assert graph.check(sentence.split()).complete, sentence
    assert not plain.check(["yes"]).complete
    assert not graph.check(["call", "bob"]).complete
    assert any(s.startswith(f"{ANSWER_INTENT}: call {{timer_name}}") for s in grammar.skipped)
    assert grammar.digest != build_grammar(small_home(), TEMPLATES).digest


def test_decoder_starts_with_converted_grammar() -> None:
    recognizer = Recognizer()
    digest = recognizer.load(build_grammar(small_home(), TEMPLATES))
    assert recognizer.digest == digest
    # Loading the same grammar again is a cache hit and keeps the digest.
    assert recognizer.load(build_grammar(small_home(), TEMPLATES)) == digest


def test_real_templates_cover_the_supported_commands(grammar: Grammar) -> None:
    graph = compile_jsgf(grammar.jsgf)
    for sentence in (
        "turn on the island pendants",
        "turn off the lights in the kitchen",
        "set the floor lamp brightness to twenty percent",
        "set the floor lamp to red",
        "open the blinds",
        "close the blinds",
        "is the floor lamp on",
        "set a timer for five minutes",
        "cancel the timer",
        "never mind",
        "never mind that wasn't for you",
    ):
        assert graph.check(sentence.split()).complete, sentence
    assert not graph.check(["what", "time", "does", "the", "game", "start"]).complete


def test_grammar_round_trips_as_json(grammar: Grammar) -> None:
    again = Grammar.from_dict(grammar.to_dict())
    assert again.jsgf == grammar.jsgf
    assert again.digest == grammar.digest
    with pytest.raises(GrammarError, match="no JSGF"):
        Grammar.from_dict({"jsgf": "public <a> = b;", "words": []})


def test_home_round_trips_as_json(home: Home) -> None:
    assert Home.from_dict(home.to_dict()) == home


def test_empty_home_is_an_error() -> None:
    with pytest.raises(HomeError, match="no entities and no areas"):
        Home.from_dict({"entities": [], "areas": []})


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"entities": [{"names": ["Lamp"]}]}, "without an entity_id"),
        ({"entities": [{"entity_id": "Lamp", "names": ["Lamp"]}]}, "bad entity id"),
        ({"entities": [{"entity_id": "light.lamp", "names": []}]}, "has no name"),
        ({"entities": [{"entity_id": "light.lamp", "names": 5}]}, "names"),
    ],
)
def test_bad_home_names_the_problem(raw: dict[str, Any], problem: str) -> None:
    with pytest.raises(HomeError, match=problem):
        Home.from_dict(raw)


def test_unspeakable_entity_name_is_an_error_not_a_drop() -> None:
    home = Home.from_dict({"entities": [{"entity_id": "light.odd", "names": ["灯"]}]})
    with pytest.raises(GrammarError, match="灯"):
        build_grammar(home, TEMPLATES)


def test_text_normalisation() -> None:
    assert normalise("Hue Go 2!") == "hue go two"
    assert normalise("Café-Lamp 100%") == "cafe lamp one hundred percent"
    assert number_words(47) == "forty seven"
    assert normalise("What's on?") == "what's on"


def test_a_dismissal_is_never_mind_or_not_for_me(templates: dict[str, Any]) -> None:
    """What the history never keeps: HA's own "never mind", and "that wasn't for you"."""
    for said in (
        "Never mind.",
        "nevermind",
        "never mind, that wasn't for you",
        "i was not talking to you",
    ):
        assert is_dismissal(said), said
    for said in ("never mind the lights", "turn on the lights", "mind the lights"):
        assert not is_dismissal(said), said
