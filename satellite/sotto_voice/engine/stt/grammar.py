"""Build a JSGF grammar from a home and the home-assistant-intents sentence templates.

Templates are converted structurally: hassil alternatives, optionals, expansion rules and
lists become JSGF alternatives, optionals and rules, so every entity name appears once per
list rule instead of once per sentence. Only word-internal joins ("light[s]") are expanded.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from hassil.expression import (
    Alternative,
    Expression,
    Group,
    ListReference,
    Permutation,
    RuleReference,
    TextChunk,
)
from hassil.parse_expression import parse_sentence

from sotto_voice.errors import SottoError

from . import text as spoken
from .errors import GrammarError, HomeError
from .fsg import WordGraph, compile_jsgf
from .home import Area, Entity, Home
from .model import Grammar

SUPPORTED_INTENTS: Final = (
    "HassTurnOn",
    "HassTurnOff",
    "HassLightSet",
    "HassGetState",
    "HassSetPosition",
    "HassStartTimer",
    "HassCancelTimer",
    "HassCancelAllTimers",
    "HassPauseTimer",
    "HassUnpauseTimer",
    "HassIncreaseTimer",
    "HassDecreaseTimer",
    "HassTimerStatus",
    "HassNevermind",
)
NOT_FOR_ME_INTENT: Final = "SottoNotForMe"
# The answers to a question a satellite asked (assist_satellite.ask_question).
ANSWER_INTENT: Final = "SottoAnswer"
# "Never mind, that wasn't for you": the satellite heard its wake word by mistake.
NOT_FOR_ME_SENTENCES: Final = (
    "never mind [that] (wasn't|was not) [meant] for you",
    "(that|this) (wasn't|was not) [meant] for you",
    "i (wasn't|was not) talking to you",
)
# Enumerating a word-internal join ("light[s]") beyond this many spellings is a template bug.
_MAX_GLUED_SPELLINGS: Final = 64
_MAX_PERMUTED_ITEMS: Final = 4
_ROOT: Final = "command"

_SPACE: Final = "space"
_TEXT: Final = "text"
_EMPTY: Final = "empty"


class _Unsupported(SottoError):
    """A template needs something a grammar cannot hold here (wildcard, unknown list)."""


def load_templates(language: str = "en") -> dict[str, Any]:
    """Load the home-assistant-intents sentence templates for a language."""
    import home_assistant_intents

    templates = home_assistant_intents.get_intents(language)
    if not templates:
        raise GrammarError(f"home-assistant-intents has no sentences for language {language!r}")
    return dict(templates)


def build_grammar(
    home: Home,
    templates: Mapping[str, Any],
    *,
    intents: Iterable[str] = SUPPORTED_INTENTS,
    answers: Iterable[str] = (),
) -> Grammar:
    """Convert the templates of the chosen intents into a JSGF grammar for this home.

    `answers` are the hassil templates of the answers to a question the satellite asks:
    they are added as sentences of their own. Their lists can be what the home's
    sentences know ({name}, {area}, {floor}, the templates' lists); a list with no known
    values (a wildcard) cannot be recognised, and such a sentence is skipped.
    """
    if not home.entities and not home.areas:
        raise HomeError("the home has no entities and no areas: nothing could be commanded")
    return _Builder(home, templates).build(tuple(intents), tuple(answers))


@dataclass(slots=True)
class _Block:
    """The context one template data block is converted in."""

    name_rule: str | None
    local_rules: Mapping[str, Any]


class _Builder:
    def __init__(self, home: Home, templates: Mapping[str, Any]) -> None:
        self._home = home
        self._templates = templates
        self._rules: dict[str, str] = {}
        self._words: set[str] = set()
        self._parsed: dict[str, Any] = {}
        self._global_rules = {
            name: self._parse(body) for name, body in templates.get("expansion_rules", {}).items()
        }
        self._lists: Mapping[str, Any] = templates.get("lists", {})
        self._depends: dict[str, bool] = {}
        self._skipped: list[str] = []
        self._phrases: dict[str, str | None] = {}
        self._unsupported: dict[str, str] = {}
        self._entities = [(entity, entity.domain) for entity in home.entities]
        self._domain_of = {entity.entity_id: domain for entity, domain in self._entities}

    # -- building ---------------------------------------------------------------------------

    def build(self, intents: Sequence[str], answers: Sequence[str] = ()) -> Grammar:
        known = self._templates.get("intents", {})
        public: list[str] = []
        sentences = 0
        for intent in intents:
            if intent not in known:
                continue
            alternatives: list[str] = []
            for block in known[intent].get("data", ()):
                context = self._block_context(block)
                if context is None:
                    continue
                alternatives += self._sentences(intent, block.get("sentences", ()), context)
            if alternatives:
                sentences += len(alternatives)
                self._rules[f"intent_{intent}"] = " | ".join(dict.fromkeys(alternatives))
                public.append(f"<intent_{intent}>")
        not_for_me = [
            self._convert(self._parse(sentence), _Block(None, {}))
            for sentence in NOT_FOR_ME_SENTENCES
        ]
        self._rules[f"intent_{NOT_FOR_ME_INTENT}"] = " | ".join(e for e in not_for_me if e)
        public.append(f"<intent_{NOT_FOR_ME_INTENT}>")
        sentences += len(not_for_me)
        if answers:
            sentences += self._add_answers(answers, public)
        if len(public) == 1:
            raise GrammarError("no template sentence fits this home: check its entities and areas")
        skip = self._skip_words()
        body = f"({' | '.join(public)})"
        if skip:
            body = f"[{skip}] {body}"
        lines = ["#JSGF V1.0;", "grammar sotto;", f"public <{_ROOT}> = {body};"]
        lines += [f"<{name}> = {rule};" for name, rule in sorted(self._rules.items())]
        return Grammar(
            jsgf="\n".join(lines) + "\n",
            words=tuple(sorted(self._words)),
            sentences=sentences,
            skipped=tuple(self._skipped),
        )

    def _add_answers(self, answers: Sequence[str], public: list[str]) -> int:
        """Add the answers' sentences as one public rule; return how many were added."""
        everything = self._name_rule(self._home.entities) if self._home.entities else None
        alternatives = self._sentences(ANSWER_INTENT, answers, _Block(everything, {}))
        if alternatives:
            self._rules[f"intent_{ANSWER_INTENT}"] = " | ".join(dict.fromkeys(alternatives))
            public.append(f"<intent_{ANSWER_INTENT}>")
        return len(alternatives)

    def _sentences(self, intent: str, sentences: Iterable[str], context: _Block) -> list[str]:
        """The JSGF expansions of an intent's sentences; those that cannot be are skipped."""
        alternatives: list[str] = []
        for sentence in sentences:
            try:
                expr = self._convert(self._parse(sentence), context)
            except _Unsupported as err:
                self._skipped.append(f"{intent}: {sentence} ({err})")
                continue
            if expr is not None:
                alternatives.append(expr)
        return alternatives

    def _skip_words(self) -> str:
        phrases = [self._phrase(text) for text in self._templates.get("skip_words", ())]
        return " | ".join(dict.fromkeys(p for p in phrases if p))

    def _phrase(self, raw: str) -> str | None:
        if raw in self._phrases:
            return self._phrases[raw]
        tokens = spoken.words(raw)
        self._words.update(tokens)
        phrase = " ".join(tokens) or None
        self._phrases[raw] = phrase
        return phrase

    def _parse(self, template: str) -> Any:
        parsed = self._parsed.get(template)
        if parsed is None:
            try:
                parsed = parse_sentence(template).expression
            except Exception as err:  # hassil raises several unrelated types
                raise GrammarError(f"cannot parse template {template!r}: {err}") from err
            self._parsed[template] = parsed
        return parsed

    # -- which entities a data block talks about --------------------------------------------

    def _block_context(self, block: Mapping[str, Any]) -> _Block | None:
        requires = block.get("requires_context", {}) or {}
        excludes = block.get("excludes_context", {}) or {}
        slots = block.get("slots", {}) or {}
        domains = _as_set(requires.get("domain"))
        classes = _as_set(requires.get("device_class"))
        excluded = _as_set(excludes.get("domain"))

        domain_of = self._domain_of

        def wanted(entity: Entity) -> bool:
            domain = domain_of[entity.entity_id]
            return (
                (not domains or domain in domains)
                and (not classes or entity.device_class in classes)
                and domain not in excluded
            )

        matching = [entity for entity, _ in self._entities if wanted(entity)]
        if (domains or classes) and not matching:
            return None
        slot_domains = _as_set(slots.get("domain"))
        if slot_domains and not any(domain in slot_domains for _, domain in self._entities):
            return None
        name_rule = self._name_rule(matching) if matching else None
        return _Block(name_rule, block.get("expansion_rules", {}) or {})

    def _name_rule(self, entities: Sequence[Entity]) -> str:
        groups: dict[str, list[str]] = {}
        for entity in entities:
            key = (
                entity.domain
                if entity.device_class is None
                else f"{entity.domain}_{entity.device_class}"
            )
            for name in entity.names:
                phrase = self._phrase(name)
                if phrase is None:
                    raise HomeError(f"{entity.entity_id}: name {name!r} has no speakable words")
                groups.setdefault(key, []).append(phrase)
        for key, names in groups.items():
            self._rules.setdefault(f"names_{key}", " | ".join(dict.fromkeys(names)))
        if len(groups) == 1:
            return f"names_{next(iter(groups))}"
        rule = "name_" + hashlib.sha256(" ".join(sorted(groups)).encode()).hexdigest()[:8]
        self._rules.setdefault(rule, " | ".join(f"<names_{key}>" for key in sorted(groups)))
        return rule

    # -- lists -------------------------------------------------------------------------------

    def _list_rule(self, ref: ListReference, context: _Block) -> str:
        name = ref.list_name
        if name == "name":
            if context.name_rule is None:
                raise _Unsupported("no entity fits {name} here")
            return context.name_rule
        if name in ("area", "floor"):
            return self._place_rule(name)
        spec = self._lists.get(name)
        if spec is None:
            raise _Unsupported(f"no values for list {{{name}}}")
        if spec.get("wildcard"):
            raise _Unsupported(f"wildcard list {{{name}}}")
        if "range" in spec:
            return self._range_rule(spec["range"])
        return self._values_rule(name, spec.get("values", ()))

    def _values_rule(self, name: str, spec_values: Iterable[Any]) -> str:
        rule = f"list_{name}"
        if rule not in self._rules:
            values: list[str] = []
            for value in spec_values:
                raw = value["in"] if isinstance(value, Mapping) else str(value)
                expr = self._convert(self._parse(raw), _Block(None, {}))
                if expr is not None:
                    values.append(expr)
            if not values:
                raise _Unsupported(f"list {{{name}}} is empty")
            self._rules[rule] = " | ".join(dict.fromkeys(values))
        return rule

    def _place_rule(self, kind: str) -> str:
        if kind not in self._rules:
            places: Iterable[tuple[str, ...]] = (
                (area.names for area in self._home.areas)
                if kind == "area"
                else (floor.names for floor in self._home.floors)
            )
            phrases = [self._phrase(name) for names in places for name in names]
            if not any(phrases):
                raise _Unsupported(f"the home has no {kind}s")
            self._rules[kind] = " | ".join(dict.fromkeys(p for p in phrases if p))
        return kind

    def _range_rule(self, spec: Mapping[str, Any]) -> str:
        start, stop = int(spec["from"]), int(spec["to"])
        step = int(spec.get("step", 1))
        rule = f"range_{start}_{stop}" + (f"_{step}" if step != 1 else "")
        if rule not in self._rules:
            values = [self._phrase(spoken.number_words(n)) for n in range(start, stop + 1, step)]
            self._rules[rule] = " | ".join(v for v in values if v)
        return rule

    # -- template expressions ----------------------------------------------------------------

    def _rule_body(self, name: str, context: _Block) -> Any:
        if name in context.local_rules:
            return self._parse(context.local_rules[name])
        if name in self._global_rules:
            return self._global_rules[name]
        raise _Unsupported(f"unknown expansion rule <{name}>")

    def _context_free(self, name: str) -> bool:
        """True if a global rule means the same in every block (no {name}, no local rules)."""
        cached = self._depends.get(name)
        if cached is None:
            self._depends[name] = True  # templates are not recursive; guards anyway
            cached = self._free(self._global_rules[name])
            self._depends[name] = cached
        return cached

    def _free(self, expr: Expression) -> bool:
        if isinstance(expr, ListReference):
            return expr.list_name != "name"
        if isinstance(expr, RuleReference):
            return expr.rule_name in self._global_rules and self._context_free(expr.rule_name)
        if isinstance(expr, Group):
            return all(self._free(item) for item in expr.items)
        return True

    def _convert(self, expr: Expression, context: _Block) -> str | None:
        """Return the JSGF expansion of a template expression, or None if it matches nothing."""
        if isinstance(expr, TextChunk):
            return self._phrase(expr.text) if expr.text.strip() else None
        if isinstance(expr, ListReference):
            return f"<{self._list_rule(expr, context)}>"
        if isinstance(expr, RuleReference):
            return self._rule_reference(expr.rule_name, context)
        if isinstance(expr, Alternative):
            return self._alternative(expr, context)
        if isinstance(expr, Permutation):
            return self._permutation(expr, context)
        if isinstance(expr, Group):
            return self._sequence(expr.items, context)
        raise GrammarError(f"unexpected template element {expr!r}")

    def _rule_reference(self, name: str, context: _Block) -> str | None:
        shared = name not in context.local_rules and name in self._global_rules
        if shared and self._context_free(name):
            return self._shared_rule(name, context)
        return self._group(self._convert(self._rule_body(name, context), context))

    def _shared_rule(self, name: str, context: _Block) -> str | None:
        """A global rule that means the same everywhere, converted once as its own rule."""
        rule = f"r_{name}"
        if rule in self._unsupported:
            raise _Unsupported(self._unsupported[rule])
        if rule not in self._rules:
            try:
                body = self._convert(self._global_rules[name], context)
            except _Unsupported as err:
                self._unsupported[rule] = str(err)
                raise
            if body is None:
                return None
            self._rules[rule] = body
        return f"<{rule}>"

    def _alternative(self, expr: Alternative, context: _Block) -> str | None:
        branches: list[str | None] = []
        failures: list[_Unsupported] = []
        for item in expr.items:
            try:
                branches.append(self._convert(item, context))
            except _Unsupported as err:  # e.g. (<area>|<floor>) in a home without floors
                failures.append(err)
        if not branches:
            raise failures[0]
        present = list(dict.fromkeys(b for b in branches if b is not None))
        if not present:
            return None
        joined = " | ".join(present)
        if len(present) < len(branches) or expr.is_optional:
            return f"[{joined}]"
        return f"({joined})" if len(present) > 1 else present[0]

    @staticmethod
    def _group(expr: str | None) -> str | None:
        return None if expr is None else f"({expr})"

    def _permutation(self, expr: Permutation, context: _Block) -> str | None:
        if len(expr.items) > _MAX_PERMUTED_ITEMS:
            raise _Unsupported("permutation of too many parts")
        parts = [p for p in (self._convert(item, context) for item in expr.items) if p]
        orders = {" ".join(order) for order in itertools.permutations(parts)}
        return f"({' | '.join(sorted(orders))})" if orders else None

    def _sequence(self, items: Sequence[Expression], context: _Block) -> str | None:
        out: list[str] = []
        for run in self._glued_runs(items, context):
            part = self._convert(run[0], context) if len(run) == 1 else self._glued(run, context)
            if part is not None:
                out.append(part)
        return " ".join(out) if out else None

    # -- word-internal joins like "light[s]" or "garage door[s]" ------------------------------

    def _glued_runs(self, items: Sequence[Expression], context: _Block) -> list[list[Expression]]:
        ends = [
            (self._edge(item, context, first=True), self._edge(item, context, first=False))
            for item in items
        ]
        runs: list[list[Expression]] = []
        for index, item in enumerate(items):
            if runs and self._joins(ends, index):
                runs[-1].append(item)
            else:
                runs.append([item])
        return runs

    @staticmethod
    def _joins(ends: Sequence[tuple[set[str], set[str]]], index: int) -> bool:
        """True if item index can be written against an earlier item with no space between."""
        if _TEXT not in ends[index][0]:
            return False
        for before in range(index - 1, -1, -1):
            if _TEXT in ends[before][1]:
                return True
            if _EMPTY not in ends[before][1]:
                return False
        return False

    def _edge(self, expr: Expression, context: _Block, *, first: bool) -> set[str]:
        """What the first (or last) character of the expression can be: space, text or nothing."""
        if isinstance(expr, TextChunk):
            raw = spoken.prepare(expr.text)
            if not raw:
                return {_EMPTY}
            char = raw[0] if first else raw[-1]
            return {_SPACE} if char.isspace() else {_TEXT}
        if isinstance(expr, ListReference):
            # A list's values are whole words: "{minutes}[ ]minutes" is spoken as two
            # words whether or not the template writes the space.
            return {_SPACE}
        if isinstance(expr, RuleReference):
            return self._edge(self._rule_body(expr.rule_name, context), context, first=first)
        if isinstance(expr, Group):
            if isinstance(expr, Alternative | Permutation):
                found: set[str] = set()
                for item in expr.items:
                    found |= self._edge(item, context, first=first)
                return found
            result: set[str] = set()
            for item in expr.items if first else reversed(expr.items):
                edge = self._edge(item, context, first=first)
                result |= edge - {_EMPTY}
                if _EMPTY not in edge:
                    return result
            return result | {_EMPTY}
        return {_EMPTY}

    def _glued(self, run: Sequence[Expression], context: _Block) -> str | None:
        spellings = {""}
        for item in run:
            spellings = {a + b for a in spellings for b in self._spellings(item, context)}
            if len(spellings) > _MAX_GLUED_SPELLINGS:
                raise _Unsupported("word-internal join with too many spellings")
        phrases = [
            p for p in (self._phrase(s) if s.strip() else None for s in sorted(spellings)) if p
        ]
        has_empty = any(not s.strip() for s in spellings)
        phrases = list(dict.fromkeys(phrases))
        if not phrases:
            return None
        joined = " | ".join(phrases)
        if has_empty:
            return f"[{joined}]"
        return f"({joined})" if len(phrases) > 1 else phrases[0]

    def _spellings(self, expr: Expression, context: _Block) -> set[str]:
        if isinstance(expr, TextChunk):
            return {spoken.prepare(expr.text)}
        if isinstance(expr, ListReference):
            raise _Unsupported(f"list {{{expr.list_name}}} joined to a word")
        if isinstance(expr, RuleReference):
            return self._spellings(self._rule_body(expr.rule_name, context), context)
        if isinstance(expr, Group):
            if not isinstance(expr, Alternative | Permutation):
                out = {""}
                for item in expr.items:
                    out = {a + b for a in out for b in self._spellings(item, context)}
                return out
            if isinstance(expr, Alternative):
                return set().union(*(self._spellings(item, context) for item in expr.items))
        raise _Unsupported("permutation joined to a word")


def _sentences_graph(sentences: Iterable[str]) -> WordGraph:
    """A word graph of template sentences that need no list of the home."""
    builder = _Builder(Home(entities=(), areas=(Area(("here",)),)), {})
    rule = " | ".join(
        expr
        for expr in (builder._convert(builder._parse(s), _Block(None, {})) for s in sentences)
        if expr
    )
    return compile_jsgf(f"#JSGF V1.0;\ngrammar n;\npublic <n> = {rule};\n")


@functools.lru_cache(maxsize=1)
def _dismissal_graph() -> WordGraph:
    never_mind = [
        sentence
        for block in load_templates()["intents"].get("HassNevermind", {}).get("data", ())
        for sentence in block.get("sentences", ())
    ]
    return _sentences_graph([*never_mind, *NOT_FOR_ME_SENTENCES])


def is_dismissal(text: str) -> bool:
    """True if an English transcript only dismisses: "never mind" (HassNevermind) or
    "never mind, that wasn't for you" (SottoNotForMe); nothing worth keeping."""
    return _dismissal_graph().check(spoken.words(text)).complete


def _as_set(raw: Any) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if isinstance(raw, str):
        return frozenset({raw})
    if isinstance(raw, Iterable):
        return frozenset(str(item) for item in raw)
    return frozenset()
