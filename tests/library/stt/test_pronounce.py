"""Pronunciations for words the dictionary lacks come from espeak-ng, mapped to model phones."""

from __future__ import annotations

import pytest

from sotto_voice.engine.stt.errors import PronunciationError
from sotto_voice.engine.stt.model import Grammar
from sotto_voice.engine.stt.pronounce import (
    PHONES,
    Pronouncer,
    default_dictionary,
    dictionary_pronunciations,
    ipa_to_phones,
)
from sotto_voice.engine.stt.recognizer import Recognizer


def test_out_of_dictionary_words_get_model_phones() -> None:
    pronouncer = Pronouncer()
    assert pronouncer.known("hue")  # in cmudict already
    assert not pronouncer.known("pendants")
    generated = pronouncer.pronounce(["hue", "pendants", "sonos", "nanoleaf"])
    assert set(generated) == {"pendants", "sonos", "nanoleaf"}
    assert generated["pendants"] == "P EH N D AH N T S"
    assert generated["sonos"].startswith("S OW N")
    for phones in generated.values():
        assert set(phones.split()) <= PHONES


def test_unknown_espeak_phoneme_names_the_word() -> None:
    with pytest.raises(PronunciationError, match=r"'blorp'.*ʘ"):
        ipa_to_phones("blorp", "b_l_ˈʘ_p")


def test_word_that_cannot_be_pronounced_is_an_error() -> None:
    with pytest.raises(PronunciationError, match="lamp_2"):
        Pronouncer().pronounce(["lamp_2"])


def test_grammar_with_an_unpronounceable_word_does_not_load() -> None:
    grammar = Grammar(
        jsgf="#JSGF V1.0;\ngrammar g;\npublic <command> = turn on lamp_2;\n",
        words=("turn", "on", "lamp_2"),
    )
    with pytest.raises(PronunciationError, match="lamp_2"):
        Recognizer().load(grammar)


def test_dictionary_words_keep_every_pronunciation_in_order() -> None:
    """Decoders are given only the grammar's words; each keeps its alternates ("read" as in
    "I read" and as in "read me"), and a word the dictionary lacks is left to espeak-ng."""
    found = dictionary_pronunciations(default_dictionary(), ["read", "lights", "pendants"])
    assert found == {"read": ("R EH D", "R IY D"), "lights": ("L AY T S",)}
