"""Every published node dump in shared/realworld-dumps parses, renders and re-parses to the same ruleset.

The rule counts per table are facts read off the files (``grep -c '^-A'`` per
``*table`` block); they pin down that nothing is dropped or invented.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproxy_sim.netfilter.codec import parse_ruleset, parse_ruleset_file, render_ruleset

DUMP_DIR = Path(__file__).resolve().parents[3] / "shared" / "realworld-dumps"

RULES_PER_TABLE = {
    "01-gke-1.2-loadbalancer-2016.rules": {"filter": 5, "nat": 57},
    "02-vagrant-flannel-externalip-2016.rules": {"nat": 35, "filter": 7},
    "03-bind-dns-externalip-affinity-2017.rules": {"nat": 37, "filter": 10},
    "04-kubeadm-docker-kubedns-noendpoints-2018.rules": {"nat": 16, "filter": 22},
    "05-kubeadm-weave-npc-2018.rules": {"nat": 36, "filter": 49},
    "06-kind-1.23-traefik-2022.rules": {"mangle": 0, "filter": 13, "nat": 58},
    "07-centos7-flannel-noendpoints-2024.rules": {"mangle": 1, "nat": 29, "filter": 56},
    "08-centos7-flannel-nodeport-2024.rules": {"mangle": 1, "nat": 78, "filter": 18},
}


def test_every_dump_is_listed() -> None:
    assert sorted(p.name for p in DUMP_DIR.glob("*.rules")) == sorted(RULES_PER_TABLE)


@pytest.mark.parametrize(("name", "counts"), RULES_PER_TABLE.items(), ids=lambda v: str(v)[:2])
def test_dump_parses_with_its_rule_counts(name: str, counts: dict[str, int]) -> None:
    rs = parse_ruleset_file(str(DUMP_DIR / name))
    assert rs.ipv6 is False
    assert {t.name: sum(1 for _ in t.rules()) for t in rs.tables} == counts
    assert [t.name for t in rs.tables] == list(counts)  # tables in the order the dump lists them


@pytest.mark.parametrize("name", RULES_PER_TABLE, ids=lambda v: v[:2])
def test_dump_renders_and_reparses_to_the_same_ruleset(name: str) -> None:
    text = (DUMP_DIR / name).read_text()
    rs = parse_ruleset(text, file=name)
    rendered = render_ruleset(rs)
    assert parse_ruleset(rendered) == rs
    assert render_ruleset(parse_ruleset(rendered)) == rendered
    assert parse_ruleset(text, validate=False) == rs


@pytest.mark.parametrize("name", RULES_PER_TABLE, ids=lambda v: v[:2])
def test_builtin_chains_keep_policy_and_counters(name: str) -> None:
    text = (DUMP_DIR / name).read_text()
    rs = parse_ruleset(text)
    declared = [line.split() for line in text.split("\n") if line.startswith(":")]
    chains = {(t.name, c.name): c for t in rs.tables for c in t.chains}
    assert len(chains) == len(declared)
    for chain in chains.values():
        if chain.builtin:
            assert chain.policy in ("ACCEPT", "DROP")
    assert any(c.counters not in (None, (0, 0)) for c in chains.values())


def test_anonymised_addresses_are_kept_verbatim() -> None:
    rs = parse_ruleset_file(str(DUMP_DIR / "03-bind-dns-externalip-affinity-2017.rules"))
    nat = rs.table("nat")
    assert nat is not None
    odd = [r for r in nat.rules() if "x.x.x.x" in r.spec]
    assert len(odd) == 6
    assert odd[0].spec == ('-d x.x.x.x/32 -p udp -m comment --comment "default/ares-k29-bindapp:dns-udp-53 '
                           'external IP" -m udp --dport 53 -j KUBE-MARK-MASQ')
    assert odd[0].parsed.options[0].args == ("x.x.x.x/32",)
    assert odd[0].line == 39


def test_escaped_quotes_in_weave_comments() -> None:
    rs = parse_ruleset_file(str(DUMP_DIR / "05-kubeadm-weave-npc-2018.rules"))
    forward = rs.table("filter").chain("FORWARD")  # type: ignore[union-attr]
    assert forward is not None
    comment = forward.rules[0].parsed.module_options("comment")[0]
    assert comment.args == ("NOTE: this must go before '-j KUBE-FORWARD'",)
    sets = [r for r in rs.table("filter").rules() if "--match-set" in r.spec]  # type: ignore[union-attr]
    assert sets[0].parsed.module_options("set")[0].args == ("weave-;rGqyMIl1HN^cfDki~Z$3]6!N", "dst")


def test_unreadable_file_is_an_input_error_naming_it(tmp_path: Path) -> None:
    from kubeproxy_sim.errors import InputError

    missing = tmp_path / "nope.rules"
    with pytest.raises(InputError, match=r"nope\.rules"):
        parse_ruleset_file(str(missing))
