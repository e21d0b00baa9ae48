"""Test-side readers of iptables-restore text, written independently of the proxier.

Ports of upstream's test helpers (kubernetes 531be81208e2): ``parse_dump`` and ``render_dump`` are
pkg/util/iptables/testing/parse.go's ``ParseIPTablesDump`` and ``IPTablesDump.String()`` (parse.go is not
stored at that commit; the port follows the stored 21cd2f24 version, which proxier_test.go's use of it
matches), ``upstream_sort`` is proxier_test.go's ``sortIPTablesRules`` and ``check_jumps`` its
``checkIPTablesRuleJumps``. All work on rendered text only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from kubeproxy_sim.netfilter.codec import render_ruleset
from kubeproxy_sim.objects.model import Cluster
from kubeproxy_sim.proxier import generate
from kubeproxy_sim.proxier.config import ProxyConfig


def rules_text(cluster: Cluster, config: ProxyConfig) -> str:
    return render_ruleset(generate(cluster, config).ruleset)


# --- parse.go


@dataclass
class DumpChain:
    name: str
    packets: int = 0
    bytes: int = 0
    rules: list[str] = field(default_factory=list)
    deleted: bool = False  # the input had "-X NAME" (restore input only, never iptables-save output)


@dataclass
class DumpTable:
    name: str
    chains: list[DumpChain] = field(default_factory=list)

    def chain(self, name: str) -> DumpChain | None:
        return next((c for c in self.chains if c.name == name), None)


_DECLARE_TABLE = re.compile(r"^\*(.*)$")
_DECLARE_CHAIN = re.compile(r"^:([^ ]*) - \[([0-9]*):([0-9]*)\]$")
_ADD_RULE = re.compile(r"^-A ([^ ]*) (.*)$")
_DELETE_CHAIN = re.compile(r"^-X (.*)$")
_WORD = re.compile(r'(?:^|\s)("[^"]*"|[^"]\S*)')

# parse.go's Rule fields: parameters that take a value, and flags (``*bool``), with whether "!" may precede them.
_VALUE_PARAMS = {"-A": False, "--comment": False, "-p": True, "-s": True, "--src-type": True, "--sport": True,
                 "-d": True, "--dst-type": True, "--dport": True, "--match-set": True, "-j": False,
                 "--probability": False, "--to-destination": False, "--mark": True, "--ctstate": True,
                 "--name": False, "--seconds": False, "--mode": False}
_FLAG_PARAMS = {"--random-fully": False, "--rcheck": True, "--set": True, "--reap": False}


def _uint(text: str) -> int:
    return int(text) if text else 0  # strconv.ParseUint's error is ignored: "" reads as 0


def parse_dump(text: str) -> list[DumpTable]:
    """ParseIPTablesDump: tables of declared chains, each with its rule lines and whether it is deleted."""
    tables: list[DumpTable] = []
    state = "table"
    for raw in text.strip("\n").split("\n"):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if state == "chains":
            match = _DECLARE_CHAIN.match(line)
            if match:
                tables[-1].chains.append(DumpChain(match.group(1), _uint(match.group(2)), _uint(match.group(3))))
                continue
            state = "rules"
        if state == "table":
            match = _DECLARE_TABLE.match(line)
            if not match:
                raise ValueError(f"could not parse iptables data (table {len(tables) + 1} starts with {line!r}"
                                 " not a table name)")
            tables.append(DumpTable(match.group(1)))
            state = "chains"
        elif (match := _ADD_RULE.match(line)) is not None:
            chain = tables[-1].chain(match.group(1))
            if chain is None:
                raise ValueError(f"error parsing rule {line!r}: no such chain {match.group(1)!r}")
            if chain.deleted:
                raise ValueError(f"cannot add rules to deleted chain {chain.name!r}")
            parse_rule(line)
            chain.rules.append(line)
        elif (match := _DELETE_CHAIN.match(line)) is not None:
            chain = tables[-1].chain(match.group(1))
            if chain is None:
                raise ValueError(f"error parsing rule {line!r}: no such chain {match.group(1)!r}")
            if chain.rules:
                raise ValueError(f"cannot delete chain {chain.name!r} after adding rules")
            chain.deleted = True
        elif line == "COMMIT":
            state = "table"
        else:
            raise ValueError(f"error parsing rule {line!r}")
    if state != "table":
        raise ValueError("could not parse iptables data (no COMMIT line?)")
    return tables


def parse_rule(rule: str) -> dict[str, str | bool]:
    """ParseRule (non-strict): the recognised parameters, "!PARAM" keys for negated ones; others are skipped."""
    words = [m.group(1).strip('"') for m in _WORD.finditer(rule)]
    if len(words) < 2 or words[0] != "-A":
        raise ValueError('bad iptables rule (does not start with "-A CHAIN")')
    if len(words) < 3:
        raise ValueError("bad iptables rule (no match rules)")
    parsed: dict[str, str | bool] = {}
    negated, w = False, 0
    while w < len(words):
        word = words[w]
        if word == "-m" and w < len(words) - 1:
            w += 2
            continue
        if word == "!":
            negated, w = True, w + 1
            continue
        if word in _VALUE_PARAMS or word in _FLAG_PARAMS:
            if negated and not {**_VALUE_PARAMS, **_FLAG_PARAMS}[word]:
                raise ValueError(f"cannot negate parameter {word!r}")
            parsed.pop(word, None)
            parsed.pop("!" + word, None)
            key = ("!" if negated else "") + word
            if word in _FLAG_PARAMS:
                parsed[key], w = True, w + 1
            elif w == len(words) - 1:
                raise ValueError(f"parameter {word!r} requires an argument")
            else:
                parsed[key], w = words[w + 1], w + 2
        else:
            w += 1
        negated = False
    return parsed


@functools.lru_cache(maxsize=4096)
def comment(line: str) -> str | None:
    """The rule's --comment value as parse.go reads it (quotes removed), or None."""
    value = parse_rule(line).get("--comment")
    return value if isinstance(value, str) else None


def render_dump(tables: list[DumpTable]) -> str:
    """IPTablesDump.String(): per table the declarations, the rules, then a -X line per deleted chain."""
    out = []
    for table in tables:
        out.append(f"*{table.name}")
        out.extend(f":{c.name} - [{c.packets}:{c.bytes}]" for c in table.chains)
        out.extend(rule for c in table.chains for rule in c.rules)
        out.extend(f"-X {c.name}" for c in table.chains if c.deleted)
        out.append("COMMIT")
    return "".join(line + "\n" for line in out)


def parse(text: str) -> list[tuple[str, list[str], dict[str, list[str]]]]:
    """[(table, [chains in order], {chain: [full rule lines]})]."""
    return [(t.name, [c.name for c in t.chains], {c.name: list(c.rules) for c in t.chains}) for t in parse_dump(text)]


def chain(text: str, table: str, name: str) -> list[str]:
    for t, _, rules in parse(text):
        if t == table:
            return rules.get(name, [])
    return []


# --- proxier_test.go: sortIPTablesRules


def _go_slice_stable(items: list[str], less: Callable[[str, str], bool]) -> None:
    """Go's sort.SliceStable (insertion sort of blocks of 20, then SymMerge), in place: the same order as Go
    even for a ``less`` that is not a strict weak order (orderByCommentServiceName on uncommented rules)."""

    def lt(i: int, j: int) -> bool:
        return less(items[i], items[j])

    def swap(i: int, j: int) -> None:
        items[i], items[j] = items[j], items[i]

    def insertion_sort(a: int, b: int) -> None:
        for i in range(a + 1, b):
            j = i
            while j > a and lt(j, j - 1):
                swap(j, j - 1)
                j -= 1

    def swap_range(a: int, b: int, n: int) -> None:
        for i in range(n):
            swap(a + i, b + i)

    def rotate(a: int, m: int, b: int) -> None:
        i, j = m - a, b - m
        while i != j:
            if i > j:
                swap_range(m - i, m, j)
                i -= j
            else:
                swap_range(m - i, m + j - i, i)
                j -= i
        swap_range(m - i, m, i)

    def sym_merge(a: int, m: int, b: int) -> None:
        if m - a == 1:
            i, j = m, b
            while i < j:
                h = (i + j) >> 1
                if lt(h, a):
                    i = h + 1
                else:
                    j = h
            for k in range(a, i - 1):
                swap(k, k + 1)
            return
        if b - m == 1:
            i, j = a, m
            while i < j:
                h = (i + j) >> 1
                if not lt(m, h):
                    i = h + 1
                else:
                    j = h
            for k in range(m, i, -1):
                swap(k, k - 1)
            return
        mid = (a + b) >> 1
        n = mid + m
        start, r = (n - b, mid) if m > mid else (a, m)
        p = n - 1
        while start < r:
            c = (start + r) >> 1
            if not lt(p - c, c):
                start = c + 1
            else:
                r = c
        end = n - start
        if start < m < end:
            rotate(start, m, end)
        if a < start < mid:
            sym_merge(a, start, mid)
        if mid < end < b:
            sym_merge(mid, end, b)

    n, block = len(items), 20
    a, b = 0, block
    while b <= n:
        insertion_sort(a, b)
        a, b = b, b + block
    insertion_sort(a, n)
    while block < n:
        a, b = 0, 2 * block
        while b <= n:
            sym_merge(a, a + block, b)
            a, b = b, b + 2 * block
        if a + block < n:
            sym_merge(a, a + block, n)
        block *= 2


def _service_name(value: str) -> str:
    """The service name is the comment up to the first space or colon."""
    return re.split(r"[ :]", value, maxsplit=1)[0]


def _order_by_comment_service_name(a: str, b: str) -> bool:
    ca, cb = comment(a), comment(b)
    if ca is None or cb is None:
        return False
    return _service_name(ca) < _service_name(cb)


def _last_rule_last(a: str, b: str) -> bool:
    """nat KUBE-SERVICES: by service name, the "must be the last rule" rule last."""
    ca, cb = comment(a), comment(b)
    if ca is not None and "must be the last rule" in ca:
        return False
    if cb is not None and "must be the last rule" in cb:
        return True
    return _order_by_comment_service_name(a, b)


def _chain_key(name: str) -> tuple[int, str]:
    if name == "KUBE-NODEPORTS":
        return (0, name)
    if name == "KUBE-SERVICES":
        return (1, name)
    return (2 if name.startswith("KUBE-") else 3, name)


def upstream_sort(text: str) -> str:
    """sortIPTablesRules: tables by name; chains KUBE-NODEPORTS, KUBE-SERVICES, other KUBE-*, the rest, each
    group by name; the rules of KUBE-NODEPORTS (filter, nat) and KUBE-SERVICES (filter, nat) stably by
    service name; then printed as String() prints a dump (so -X lines end their table)."""
    tables = sorted(parse_dump(text), key=lambda t: t.name)
    for table in tables:
        table.chains.sort(key=lambda c: _chain_key(c.name))

    def first(table_name: str, chain_name: str) -> DumpChain | None:
        table = next((t for t in tables if t.name == table_name), None)
        return table.chain(chain_name) if table is not None else None

    for table_name, chain_name, less in (("filter", "KUBE-NODEPORTS", _order_by_comment_service_name),
                                         ("nat", "KUBE-NODEPORTS", _order_by_comment_service_name),
                                         ("filter", "KUBE-SERVICES", _order_by_comment_service_name),
                                         ("nat", "KUBE-SERVICES", _last_rule_last)):
        found = first(table_name, chain_name)
        if found is not None:
            _go_slice_stable(found.rules, less)
    return render_dump(tables)


# --- proxier_test.go: checkIPTablesRuleJumps

BUILTIN_TARGETS = {"ACCEPT", "REJECT", "DROP", "MARK", "RETURN", "DNAT", "SNAT", "MASQUERADE"}
ALWAYS_PRESENT = {"KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING",
                  "KUBE-FORWARD", "KUBE-MARK-MASQ", "KUBE-PROXY-FIREWALL", "KUBE-FIREWALL"}


def _tables_by_commit(text: str) -> dict[str, list[str]]:
    """parseIPTablesData: each table's lines, split at the COMMIT lines; nat and filter must be there."""
    raw = (text[1:] if text.startswith("\n") else text).split("COMMIT\n")
    count = len(raw) - 1
    if count < 2 or raw[count] != "":
        raise ValueError(f"bad ruleData ({count} tables)")
    tables = {}
    for index, block in enumerate(raw[:count]):
        lines = block.strip("\n").split("\n")
        if not lines[0].startswith("*"):
            raise ValueError(f"bad ruleData (table {index + 1} starts with {lines[0]!r})")
        tables[lines[0][1:]] = [*lines, "COMMIT"]
    for name in ("nat", "filter"):
        if name not in tables:
            raise ValueError(f'bad ruleData (no "{name}" table)')
    return tables


def _matches(lines: list[str], pattern: str) -> set[str]:
    regex = re.compile(pattern)
    return {m.group(1) for line in lines if (m := regex.search(line)) is not None}


def check_jumps(text: str) -> list[str]:
    """Problems upstream's checkIPTablesRuleJumps would report, every one rather than the first (empty:
    consistent). Chains deleted with -X do not count as created."""
    try:
        tables = _tables_by_commit(text)
    except ValueError as exc:
        return [str(exc)]
    problems = []
    for table, lines in tables.items():
        created = _matches(lines, r"^:([^ ]*)") - _matches(lines, r"-X ([^ ]*)")
        filled = _matches(lines, r"-A ([^ ]*)")
        jumped = _matches(lines, r"-j ([^ ]*)") - BUILTIN_TARGETS
        if missing := (jumped - created) | (filled - created):
            problems.append(f"some chains in {table} are used but were not created: {sorted(missing)}")
        if empty := jumped - filled - {"KUBE-NODEPORTS"}:
            problems.append(f"some chains in {table} are jumped to but have no rules: {sorted(empty)}")
        if extra := created - jumped - ALWAYS_PRESENT:
            problems.append(f"some chains in {table} are created but not used: {sorted(extra)}")
    return problems
