"""A :class:`Ruleset` as iptables-restore / iptables-save text, in the canonical form.

One ``*table`` block per table, chain declarations (``:NAME POLICY [packets:bytes]``),
rules chain by chain, the ``-X`` deletions of a restore input, ``COMMIT``. A chain
with no counters declares ``[0:0]``, which :mod:`kubeproxy_sim.netfilter.codec`
reads back as none: ``parse(render(x)) == x`` holds for generated rulesets.

Apart from the parser (codec) because ``rules`` only writes: it does not pay for
importing the tokenizer and the parser.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (a split sync's text is written without the model's classes: see generated_rules_text)
    from kubeproxy_sim.netfilter.model import Chain, Rule, Ruleset, Table


def _counters(counters: tuple[int, int] | None) -> str:
    packets, octets = counters or (0, 0)
    return f"[{packets}:{octets}]"


def render_chain_declaration(chain: Chain) -> str:
    return _declaration(chain.name, chain.policy, chain.counters)


def _declaration(name: str, policy: str | None, counters: tuple[int, int] | None) -> str:
    return f":{name} {policy or '-'} {_counters(counters)}"


def render_rule(rule: Rule) -> str:
    text = rule.text()
    return f"{_counters(rule.counters)} {text}" if rule.counters is not None else text


def render_table(table: Table) -> list[str]:
    """The table's lines (without newlines)."""
    lines = [f"*{table.name}"]
    lines.extend(render_chain_declaration(c) for c in table.chains)
    for chain in table.chains:
        lines.extend(render_rule(r) for r in chain.rules)
    lines.extend(f"-X {name}" for name in table.deleted)
    lines.append("COMMIT")
    return lines


def _chain_rules_text(chain: Chain) -> str:
    """A chain's rule lines as one string (no final newline; "" for a chain without rules).

    The usual chain (rules without counters, filed under it) is written with one
    join of its specs: a large sync has 110,000 chains and 320,000 rules, and a
    string per line costs time and, at the peak of a render, tens of megabytes.
    """
    name = chain.name
    generated = chain.specs
    if generated is not None:
        text = _spec_lines(name, generated)
        if text is not None:
            return text
    specs = []
    for rule in chain.rules:
        if rule.counters is not None or not rule.spec or rule.chain != name:
            return "\n".join(render_rule(r) for r in chain.rules)
        specs.append(rule.spec)
    return _spec_lines(name, specs) or ""


def _spec_lines(name: str, specs: list[str] | tuple[str, ...]) -> str | None:
    """``-A NAME SPEC`` per spec, joined; None when a spec is empty (that rule is written ``-A NAME``)."""
    if "" in specs:
        return None
    prefix = f"-A {name} "
    return prefix + ("\n" + prefix).join(specs) if specs else ""


ChainText = tuple[str, str, str]
"""One chain rendered: (name, declaration line, rule lines or ""). A table's text is its chains' texts in order
(:func:`table_text`), so chains rendered apart (by the two processes of a split sync) join without re-rendering."""


def chain_texts(chains: Iterable[Chain]) -> list[ChainText]:
    """The texts of ``chains``, in the order given."""
    return [(c.name, render_chain_declaration(c), _chain_rules_text(c)) for c in chains]


def generated_rules_text(name: str, specs: list[str] | tuple[str, ...]) -> str:
    """The rule lines of ``Chain.of_specs(name, specs)``, without building the chain."""
    text = _spec_lines(name, specs)
    if text is not None:
        return text
    from kubeproxy_sim.netfilter.model import Chain  # (only for a rule written bare: 7 dataclasses to import)

    return _chain_rules_text(Chain.of_specs(name, specs))


def generated_rules_texts(names: Iterable[str],
                          specs_of: Callable[[str, tuple[()]], list[str] | tuple[str, ...]]) -> list[str]:
    """:func:`generated_rules_text` of each chain of ``names``, its specs ``specs_of(name, ())`` (``dict.get`` or
    ``dict.pop``): one loop, no call per chain unless a rule is written bare (a large split sync renders
    110,000 chains)."""
    texts: list[str] = []
    append = texts.append
    for name in names:
        specs = specs_of(name, ())
        if not specs:
            append("")
        elif "" in specs:
            append(generated_rules_text(name, specs))
        else:
            head = f"-A {name} "
            append(head + f"\n{head}".join(specs))
    return texts


def generated_table_text(name: str, chains: Sequence[str], texts: list[str]) -> list[str]:
    """:func:`table_text` of generated chains (user-defined, no counters): ``chains`` their names in order,
    ``texts`` the rule lines of those with rules (one string per chain), in the same order, which becomes the
    table's pieces (a split sync's 110,000 chains: a copy of the list would cost 860 KB of fresh pages).

    Their declarations are all :func:`_declaration`'s ``:NAME - [0:0]``, so they are written with one
    join of the names, the first one's ``:`` and the last one's `` - [0:0]`` on copies of those two names: a
    string per chain was a third of a large split sync's merge, and the two added around the joined text copied
    its 3.3 MB of declarations twice more (~1,600 fresh pages, after the child is done).
    """
    head = [f"*{name}"]
    if len(chains) == 1:
        head.append(f":{chains[0]} - [0:0]")
    elif chains:
        head.append(" - [0:0]\n:".join([f":{chains[0]}", *chains[1:-1], f"{chains[-1]} - [0:0]"]))
    texts[0:0] = head
    texts.append("COMMIT")
    return texts


def table_text(name: str, chains: Sequence[ChainText], deleted: Sequence[str] = ()) -> list[str]:
    """A table's text in pieces of whole lines (joined with newlines, they are its lines)."""
    pieces = [f"*{name}"]
    if chains:
        pieces.append("\n".join([c[1] for c in chains]))
        pieces.extend([c[2] for c in chains if c[2]])
    pieces.extend(f"-X {chain}" for chain in deleted)
    pieces.append("COMMIT")
    return pieces


def _table_pieces(table: Table) -> list[str]:
    return table_text(table.name, chain_texts(table.chains), table.deleted)


def render_ruleset(ruleset: Ruleset) -> str:
    """The canonical text of a ruleset; ends with a newline."""
    pieces: list[str] = []
    for table in ruleset.tables:
        pieces.extend(_table_pieces(table))
    if not pieces:
        return "\n"
    pieces.append("")  # the final newline, without copying the whole text again
    return "\n".join(pieces)
