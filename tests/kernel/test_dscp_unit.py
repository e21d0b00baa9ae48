"""``netns send``'s per-run DSCP counting, without root: the counting copies and the leases."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from kubeproxy_sim.errors import InputError
from kubeproxy_sim.kernel import build, dscp
from kubeproxy_sim.kernel.build import KernelError, initial_state, teardown
from kubeproxy_sim.kernel.plan import plan
from kubeproxy_sim.kernel.send import _verdicts_seen
from tests.kernel.test_kernel import small_cluster

RULES = """*nat
:KUBE-SERVICES - [0:0]
-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 80 -j DROP
COMMIT
*filter
:INPUT ACCEPT [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-SERVICES - [0:0]
-A INPUT -j KUBE-SERVICES
-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP
-A KUBE-SERVICES -m comment --comment "default/x -j DROP has no endpoints" -d 10.96.0.2/32 -p tcp -m tcp \
--dport 80 -j REJECT --reject-with icmp-port-unreachable
-A KUBE-SERVICES -m comment --comment "not a DROP: -j DROP" -j ACCEPT
-A KUBE-SERVICES -m statistic --mode random --probability 0.5 -j DROP
COMMIT
"""


def test_copies_count_before_each_drop_and_reject_of_the_filter_table() -> None:
    lines = dscp.with_counting(RULES).splitlines()
    filter_at = lines.index("*filter")
    # the counting chains are declared first, so every copy can jump to them
    assert lines[filter_at + 1:filter_at + 3] == [":KPSIM-COUNT-DROP - [0:0]", ":KPSIM-COUNT-REJECT - [0:0]"]
    # each copy stands right before its rule, with the same matches and no verdict of its own; the nfacct
    # counter is left out (it would count the packet twice)
    drop = lines.index("-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name "
                       "ct_state_invalid_dropped_pkts -j DROP")
    assert lines[drop - 1] == "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j KPSIM-COUNT-DROP"
    reject = next(i for i, line in enumerate(lines) if line.endswith("-j REJECT --reject-with icmp-port-unreachable"))
    assert lines[reject - 1] == ('-A KUBE-SERVICES -m comment --comment "default/x -j DROP has no endpoints" '
                                 "-d 10.96.0.2/32 -p tcp -m tcp --dport 80 -j KPSIM-COUNT-REJECT")
    # one counting rule per DSCP value, 1 to 63, in each chain, and nothing else added
    for chain in dscp.COUNT_CHAINS.values():
        assert [line for line in lines if line.startswith(f"-A {chain} ")] == [
            f"-A {chain} -m dscp --dscp {n}" for n in range(1, 64)]
    added = [line for line in lines if "KPSIM-COUNT" in line]
    assert len(added) == 2 + 2 + 2 * 63
    # kube-proxy's own lines are all there, in their order
    assert [line for line in lines if "KPSIM-COUNT" not in line] == RULES.splitlines()


def test_no_copy_outside_the_filter_table_behind_a_stateful_match_or_in_a_comment() -> None:
    counted = dscp.with_counting(RULES)
    nat = counted.split("*filter")[0]
    assert "KPSIM" not in nat  # REJECT is a filter-table target; kube-proxy writes its DROPs there too
    assert "-m statistic --mode random --probability 0.5 -j KPSIM" not in counted  # a second draw would differ
    assert "not a DROP: -j DROP\" -j KPSIM" not in counted
    # a table without DROP or REJECT is left as it is
    plain = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n"
    assert dscp.with_counting(plain) == plain


def test_a_generated_rule_that_does_not_parse_is_an_error_not_a_rule_left_uncounted() -> None:
    # with_counting reads the rules the build generated: a DROP it cannot read would get no counting copy, and
    # netns send would name its drops TIMEOUT without a word
    broken = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT --no-such-option 1 -j DROP\nCOMMIT\n"
    with pytest.raises(RuntimeError, match=r"does not parse.*--no-such-option"):
        dscp.with_counting(broken)


def test_leases_are_exclusive_and_the_least_recently_used_value_comes_next(tmp_path: Path) -> None:
    folder = str(tmp_path / "c.dscp")
    with dscp.lease(folder) as first, dscp.lease(folder) as second:
        assert first in dscp.VALUES and second in dscp.VALUES and first != second
    with dscp.lease(folder) as third:
        assert third not in (first, second)  # 61 values were never used
    seen = {first, second, third}
    for _ in range(60):
        with dscp.lease(folder) as value:
            assert value not in seen
            seen.add(value)
    assert seen == set(dscp.VALUES)
    # all used: the one unused longest comes next. Releases within one clock tick tie (and the nested leases above
    # end second first), so the test sets each value's last use itself: second is the oldest, first the next
    base = 1_000_000_000_000_000_000
    for rank, v in enumerate([second, first, *sorted(seen - {first, second})]):
        os.utime(Path(folder) / str(v), ns=(base + rank, base + rank))
    with dscp.lease(folder) as value:
        assert value == second
    with dscp.lease(folder) as value:
        assert value == first  # then the next oldest


def test_every_value_held_is_refused(tmp_path: Path) -> None:
    folder = str(tmp_path / "c.dscp")
    leases = [dscp.lease(folder) for _ in dscp.VALUES]
    try:
        assert {held.__enter__() for held in leases} == set(dscp.VALUES)
        with pytest.raises(InputError, match="all 63 DSCP values"), dscp.lease(folder):
            pass
    finally:
        for held in leases:
            held.__exit__(None, None, None)


def test_a_cluster_records_its_lease_folder_and_teardown_removes_it(tmp_path: Path) -> None:
    cluster, config = small_cluster()
    state = initial_state(plan("lease", cluster, config, ()), tmp_path)
    assert state["dscp_leases"] == str(tmp_path / "lease.dscp")
    with dscp.lease(state["dscp_leases"]):
        pass
    assert (tmp_path / "lease.dscp").is_dir()
    teardown("lease", tmp_path, None)  # no namespace of that name: only the records go
    assert not (tmp_path / "lease.dscp").exists()


def test_verdicts_come_from_this_runs_counts_only() -> None:
    before = Counter({("node1", "DROP"): 5, ("node1", "REJECT"): 0, ("node2", "DROP"): 0})
    after = Counter({("node1", "DROP"): 5, ("node1", "REJECT"): 2, ("node2", "DROP"): 1})
    assert _verdicts_seen(before, after) == {"DROP", "REJECT"}
    assert _verdicts_seen(after, after) == frozenset()
    assert _verdicts_seen(before, Counter({("node1", "DROP"): 5})) == frozenset()


def test_a_kernel_that_refuses_the_counting_copies_gets_the_rules_without_them_and_a_note(monkeypatch) -> None:
    """No xt_dscp: netns up used to fail on the copies' -m dscp; it loads kube-proxy's rules and says what is lost."""
    cluster, config = small_cluster()
    topo = plan("nodscp", cluster, config, ())
    loaded: list[str] = []

    def restore(netns: str, text: str, *, family: int = 4) -> None:
        if "-m dscp" in text:
            raise KernelError(f"{netns}: iptables-restore rejected the rules: Couldn't load match `dscp'")
        loaded.append(text)

    monkeypatch.setattr(build, "_nfacct_ready", lambda node, text: True)
    monkeypatch.setattr(build, "load_rules", restore)
    _, notes = build._install_rules(cluster, topo)
    assert loaded == [build.node_rules(cluster, node) for node in topo.nodes]  # as generated, no copies
    assert len(notes) == len(topo.nodes) and all("refused the counting copies" in n and "xt_dscp" in n and
                                                 "TIMEOUT, not DROP" in n for n in notes)


def test_the_rules_themselves_refused_is_still_an_error(monkeypatch) -> None:
    cluster, config = small_cluster()

    def restore(netns: str, text: str, *, family: int = 4) -> None:
        raise KernelError(f"{netns}: iptables-restore rejected the rules: line 3 failed")

    monkeypatch.setattr(build, "_nfacct_ready", lambda node, text: True)
    monkeypatch.setattr(build, "load_rules", restore)
    with pytest.raises(KernelError, match="line 3 failed"):
        build._install_rules(cluster, plan("bad", cluster, config, ()))


@pytest.mark.parametrize("present", [True, False])
def test_a_kernel_without_tcp_reflect_tos_is_noted(monkeypatch, present: bool) -> None:
    cluster, config = small_cluster()
    asked: list[tuple[object, tuple[object, ...]]] = []

    def call(netns: str, fn: object, *args: object) -> bool:
        asked.append((fn, args))
        return present

    monkeypatch.setattr(build.nsexec, "call", call)
    notes = build.reflect_tos_notes(plan("tos", cluster, config, ()))
    assert asked == [(build.sysfs.has_sysctl, ("net.ipv4.tcp_reflect_tos",))]
    assert notes == ([] if present else ["this kernel has no net.ipv4.tcp_reflect_tos (Linux 5.10): TCP answers "
                                         "carry no DSCP mark, so netns send names a dropped TCP answer TIMEOUT, "
                                         "not DROP"])
