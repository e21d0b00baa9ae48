"""Bulk parsing (``validate=False``) of kube-proxy dumps of thousands of services is faithful.

Its speed is a figure of ``tools/bench.py parse``, not an assertion here.
"""

from __future__ import annotations

import base64
import hashlib
import os

import pytest

from kubeproxy_sim.netfilter.codec import parse_ruleset, render_ruleset


def _chain(prefix: str, key: str) -> str:
    return prefix + base64.b32encode(hashlib.sha256(key.encode()).digest()).decode()[:16]


def kube_proxy_dump(services: int, endpoints: int = 10) -> str:
    """A nat table shaped like kube-proxy's: per service a KUBE-SERVICES rule, an SVC chain, SEP chains."""
    chains = [":KUBE-SERVICES - [0:0]", ":KUBE-MARK-MASQ - [0:0]"]
    rules = ["-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000"]
    seps: list[str] = []
    for i in range(services):
        name = f"ns{i % 50}/svc{i}:p80"
        ip = f"172.{16 + i // 65536}.{(i // 256) % 256}.{i % 256}"
        svc = _chain("KUBE-SVC-", name)
        chains.append(f":{svc} - [0:0]")
        rules.append(f'-A KUBE-SERVICES -m comment --comment "{name} cluster IP" -m tcp -p tcp -d {ip} '
                     f"--dport 80 -j {svc}")
        rules.append(f'-A {svc} -m comment --comment "{name} cluster IP" -m tcp -p tcp -d {ip} --dport 80 '
                     "! -s 10.0.0.0/8 -j KUBE-MARK-MASQ")
        for e in range(endpoints):
            ep = f"10.{(i // 256) % 256}.{i % 256}.{e + 1}"
            sep = _chain("KUBE-SEP-", name + ep)
            chains.append(f":{sep} - [0:0]")
            left = endpoints - e
            prob = f" -m statistic --mode random --probability {1 / left:0.10f}" if left > 1 else ""
            rules.append(f'-A {svc} -m comment --comment "{name} -> {ep}:8080"{prob} -j {sep}')
            seps.append(f"-A {sep} -m comment --comment {name} -s {ep} -j KUBE-MARK-MASQ")
            seps.append(f"-A {sep} -m comment --comment {name} -m tcp -p tcp -j DNAT --to-destination {ep}:8080")
    return "\n".join(["*nat", *chains, *rules, *seps, "COMMIT"]) + "\n"


def _rule_count(text: str) -> int:
    return sum(1 for line in text.split("\n") if line.startswith("-A "))


def test_bulk_parse_of_a_2000_service_dump_is_faithful() -> None:
    text = kube_proxy_dump(2000)
    bulk = parse_ruleset(text, validate=False)
    assert sum(1 for _ in bulk.tables[0].rules()) == _rule_count(text) == 64001
    sample = kube_proxy_dump(50)
    assert parse_ruleset(sample, validate=False) == parse_ruleset(sample)
    assert render_ruleset(parse_ruleset(sample, validate=False)) == render_ruleset(parse_ruleset(sample))


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("KPSIM_DEEP"), reason="deep run only (KPSIM_DEEP=1)")
def test_bulk_parse_of_a_10000_service_dump_equals_the_validating_parse() -> None:
    text = kube_proxy_dump(10000)
    bulk = parse_ruleset(text, validate=False)
    assert sum(1 for _ in bulk.tables[0].rules()) == 320001
    assert bulk == parse_ruleset(text)
