"""The netfilter model's bulk builders on objects.bulk.draft_class drafts build exactly what the dataclass builds.

Reading a large dump builds an Option per option, a RuleSpec and a Rule per rule and a Chain per chain through
hand-written builders (model's ``make``, ``many`` and ``of_specs``), a compile a PathStep per rule
(compile_tables._path_step) and a trace an Outcome per outcome (trace._outcome): each writes the slots of a draft
and then turns it into the frozen dataclass. Nothing in Python ties those stores to the fields: a field added to
the class and forgotten in its builder would give objects without it (AttributeError far away, on first read).
The first test compares the fields each builder writes with the class's, naming what is missing; the others
check that the objects built equal the ones ``__init__`` builds, field by field.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.netfilter import compile_tables, trace
from kubeproxy_sim.netfilter.compile_types import PathStep
from kubeproxy_sim.netfilter.model import Chain, Option, Rule, RuleSpec, Target
from kubeproxy_sim.netfilter.trace import Outcome
from tests.budget import budget
from tests.objects.test_draft_builders import assert_same_object, field_names, written_attributes

BUILDERS: list[tuple[Callable[..., Any], str, type]] = [
    (Option.make, "option", Option),
    (RuleSpec.make, "spec", RuleSpec),
    (Target.make, "target", Target),
    (Rule.make, "rule", Rule),
    (Rule.many, "rule", Rule),
    (Chain.of_specs, "chain", Chain),
    (compile_tables._path_step, "step", PathStep),
    (trace._outcome, "outcome", Outcome),
]


@pytest.mark.parametrize(("builder", "target", "cls"), BUILDERS,
                         ids=[f"{b.__qualname__}" for b, _, _ in BUILDERS])
def test_each_builder_writes_every_field(builder: Callable[..., Any], target: str, cls: type) -> None:
    written = written_attributes(builder, target) - {"__class__"}
    assert written == field_names(cls), (
        f"{builder.__module__}.{builder.__qualname__} writes {sorted(written)}; {cls.__name__}'s fields are "
        f"{sorted(field_names(cls))}: update the builder with the dataclass")


words = st.text(max_size=6)
args = st.lists(words, max_size=3).map(tuple)
options = st.builds(Option, words, args, st.booleans(), words)
counters = st.one_of(st.none(), st.tuples(st.integers(0, 2**64), st.integers(0, 2**64)))


@settings(max_examples=budget(100), deadline=None)
@given(words, args, st.booleans(), words)
def test_option_make_is_the_init(flag: str, values: tuple[str, ...], negated: bool, module: str) -> None:
    assert_same_object(Option.make(flag, values, negated, module), Option(flag, values, negated, module))


@settings(max_examples=budget(100), deadline=None)
@given(st.lists(options, max_size=3).map(tuple),
       st.one_of(st.none(), st.builds(Target, words, st.lists(options, max_size=2).map(tuple), st.booleans())))
def test_rule_spec_make_is_the_init(opts: tuple[Option, ...], target: Target | None) -> None:
    assert_same_object(RuleSpec.make(opts, target), RuleSpec(opts, target))


@settings(max_examples=budget(100), deadline=None)
@given(words, st.lists(options, max_size=2).map(tuple), st.booleans())
def test_target_make_is_the_init(name: str, opts: tuple[Option, ...], goto: bool) -> None:
    assert_same_object(Target.make(name, opts, goto), Target(name, opts, goto))


def rule_of(chain: str, spec: str, line: int, counters: tuple[int, int] | None,
            parsed: RuleSpec | None = None) -> Rule:
    """What Rule.make documents it builds: the init's rule with its typed view set (as Rule.parsed caches it)."""
    rule = Rule(chain, spec, line, counters)
    if parsed is not None:
        object.__setattr__(rule, "_parsed", parsed)
    return rule


@settings(max_examples=budget(100), deadline=None)
@given(words, words, st.integers(0, 10**6), counters,
       st.one_of(st.none(), st.builds(RuleSpec, st.lists(options, max_size=2).map(tuple))))
def test_rule_make_is_the_init(chain: str, spec: str, line: int, count: tuple[int, int] | None,
                               parsed: RuleSpec | None) -> None:
    made = Rule.make(chain, spec, line, count, parsed)
    assert_same_object(made, rule_of(chain, spec, line, count, parsed))
    assert made._parsed is parsed and made._save_text is None and made.line == line


@settings(max_examples=budget(100), deadline=None)
@given(words, st.lists(words, max_size=4), st.booleans())
def test_rule_many_and_chain_of_specs_are_the_init(chain: str, specs: list[str], numbered: bool) -> None:
    lines = tuple(range(7, 7 + len(specs))) if numbered else None
    expected = tuple(Rule(chain, spec, line) for spec, line in zip(specs, lines or [0] * len(specs), strict=True))
    many = Rule.many(chain, specs, lines)
    assert len(many) == len(expected)
    for made, built in zip(many, expected, strict=True):
        assert_same_object(made, built)
        assert made.line == built.line and made._parsed is None and made._save_text is None
    of_specs = Chain.of_specs(chain, specs, lines)
    assert type(of_specs) is Chain
    assert (of_specs.name, of_specs.policy, of_specs.counters, of_specs.line, of_specs.specs) == \
        (chain, None, None, 0, tuple(specs))
    assert of_specs == Chain(chain, expected) and hash(of_specs) == hash(Chain(chain, expected))
    for made, built in zip(of_specs.rules, expected, strict=True):
        assert_same_object(made, built)
        assert made.line == built.line


@settings(max_examples=budget(100), deadline=None)
@given(words, words, st.one_of(st.none(), st.integers(1, 10**6)), words)
def test_path_step_is_the_init(table: str, chain: str, line: int | None, text: str) -> None:
    assert_same_object(compile_tables._path_step(table, chain, line, text), PathStep(table, chain, line, text))


@settings(max_examples=budget(100), deadline=None)
@given(words, st.one_of(st.none(), words), st.fractions(0, 1), st.booleans(),
       st.lists(st.builds(PathStep, words, words, st.none(), words), max_size=2).map(tuple))
def test_outcome_is_the_init(verdict: str, destination: str | None, share: Fraction, masquerade: bool,
                             path: tuple[PathStep, ...]) -> None:
    assert_same_object(trace._outcome(verdict, destination, share, masquerade, path),
                       Outcome(verdict, destination, share, masquerade, path))
