"""Test-side readers of iptables-restore text, written independently of the proxier.

``upstream_sort`` re-implements the ordering upstream's tests normalise dumps
with (sortIPTablesRules), and ``check_jumps`` the consistency checks of
checkIPTablesRuleJumps; both work on rendered text only.
"""

from __future__ import annotations

import re
from functools import cmp_to_key

from kubeproxy_sim.netfilter.codec import render_ruleset
from kubeproxy_sim.objects.model import Cluster
from kubeproxy_sim.proxier import generate
from kubeproxy_sim.proxier.config import ProxyConfig

_WORD = re.compile(r'(?:^|\s)("[^"]*"|[^"]\S*)')


def rules_text(cluster: Cluster, config: ProxyConfig) -> str:
    return render_ruleset(generate(cluster, config).ruleset)


def parse(text: str) -> list[tuple[str, list[str], dict[str, list[str]]]]:
    """[(table, [chains in order], {chain: [full rule lines]})]."""
    tables = []
    for line in text.splitlines():
        if line.startswith("*"):
            tables.append((line[1:], [], {}))
        elif line.startswith(":"):
            name = line[1:].split()[0]
            tables[-1][1].append(name)
            tables[-1][2][name] = []
        elif line.startswith("-A "):
            tables[-1][2][line.split()[1]].append(line)
    return tables


def chain(text: str, table: str, name: str) -> list[str]:
    for t, _, rules in parse(text):
        if t == table:
            return rules.get(name, [])
    return []


def comment(line: str) -> str | None:
    words = [w.strip('"') for w in _WORD.findall(line)]
    for i, w in enumerate(words[:-1]):
        if w == "--comment":
            return words[i + 1]
    return None


def _service_name(line: str) -> str | None:
    c = comment(line)
    return None if c is None else re.split(r"[ :]", c, maxsplit=1)[0]


def _by_service(a: str, b: str) -> int:
    na, nb = _service_name(a), _service_name(b)
    if na is None or nb is None:
        return 0
    return -1 if na < nb else (1 if nb < na else 0)


def _last_rule_cmp(a: str, b: str) -> int:
    if "must be the last rule" in (comment(a) or ""):
        return 0 if "must be the last rule" in (comment(b) or "") else 1
    if "must be the last rule" in (comment(b) or ""):
        return -1
    return _by_service(a, b)


def _chain_key(name: str) -> tuple[int, str]:
    if name == "KUBE-NODEPORTS":
        return (0, name)
    if name == "KUBE-SERVICES":
        return (1, name)
    return (2 if name.startswith("KUBE-") else 3, name)


def upstream_sort(text: str) -> str:
    """sortIPTablesRules: tables by name, chains by _chain_key, service chains by service name."""
    out = []
    for table, chains, rules in sorted(parse(text), key=lambda t: t[0]):
        order = sorted(chains, key=_chain_key)
        for name in ("KUBE-NODEPORTS", "KUBE-SERVICES"):
            if name in rules:
                cmp = _last_rule_cmp if (table, name) == ("nat", "KUBE-SERVICES") else _by_service
                rules[name] = sorted(rules[name], key=cmp_to_key(cmp))
        out.append(f"*{table}")
        out.extend(f":{c} - [0:0]" for c in order)
        for c in order:
            out.extend(rules[c])
        out.append("COMMIT")
    return "\n".join(out) + "\n"


BUILTIN_TARGETS = {"ACCEPT", "REJECT", "DROP", "MARK", "RETURN", "DNAT", "SNAT", "MASQUERADE"}
ALWAYS_PRESENT = {"KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING",
                  "KUBE-FORWARD", "KUBE-MARK-MASQ", "KUBE-PROXY-FIREWALL", "KUBE-FIREWALL"}


def check_jumps(text: str) -> list[str]:
    """Problems upstream's checkIPTablesRuleJumps would report (empty: consistent)."""
    problems = []
    for table, chains, rules in parse(text):
        created = set(chains)
        filled = {c for c, r in rules.items() if r}
        jumped = {m.group(1) for r in rules.values() for line in r for m in [re.search(r"-j (\S+)", line)] if m}
        jumped -= BUILTIN_TARGETS
        if missing := jumped - created:
            problems.append(f"{table}: jumps to undeclared {sorted(missing)}")
        if empty := jumped - filled - {"KUBE-NODEPORTS"}:
            problems.append(f"{table}: jumps to empty {sorted(empty)}")
        if extra := created - jumped - ALWAYS_PRESENT:
            problems.append(f"{table}: unused chains {sorted(extra)}")
    return problems
