"""iptables-save / iptables-restore text <-> :class:`Ruleset`.

Rendering writes the canonical form: one ``*table`` block per table, chain
declarations (``:NAME POLICY [packets:bytes]``), rules chain by chain, the
``-X`` deletions of a restore input, ``COMMIT``.
"""

from __future__ import annotations

from kubeproxy_sim.netfilter.model import Chain, Rule, Ruleset, Table


def _counters(counters: tuple[int, int] | None) -> str:
    packets, octets = counters or (0, 0)
    return f"[{packets}:{octets}]"


def render_chain_declaration(chain: Chain) -> str:
    return f":{chain.name} {chain.policy or '-'} {_counters(chain.counters)}"


def render_rule(rule: Rule) -> str:
    text = rule.text()
    return f"{_counters(rule.counters)} {text}" if rule.counters is not None else text


def render_table(table: Table) -> list[str]:
    lines = [f"*{table.name}"]
    lines.extend(render_chain_declaration(c) for c in table.chains)
    for chain in table.chains:
        lines.extend(render_rule(r) for r in chain.rules)
    lines.extend(f"-X {name}" for name in table.deleted)
    lines.append("COMMIT")
    return lines


def render_ruleset(ruleset: Ruleset) -> str:
    """The canonical text of a ruleset; ends with a newline."""
    lines: list[str] = []
    for table in ruleset.tables:
        lines.extend(render_table(table))
    return "\n".join(lines) + "\n"
