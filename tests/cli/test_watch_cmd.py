"""``kubeproxy-sim watch`` end to end: a manifest directory edited between syncs, a live API server, Ctrl-C.

The directory runs are driven in-process with a fake clock: the command's
``sleep`` advances it, and the output stream's ``flush`` (called once per
sync) edits the files, so each edit lands between two syncs, deterministically.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.cli import watch_cmd
from kubeproxy_sim.cli.main import EXIT_INVALID_INPUT, EXIT_USAGE, build_parser, main
from kubeproxy_sim.cli.node_configs import given_node_name
from kubeproxy_sim.errors import InputError
from tests.watch._fake_apiserver import FakeApiServer

NODE_FLAGS = ["--hostname-override", "test-node", "--node-ip", "192.168.0.2/24", "--cluster-cidr", "10.0.0.0/8",
              "--random-fully=false"]
FAST = ["--poll-interval", "100ms", "--debounce", "200ms", "--min-sync-period", "1s"]
SVC1_CHAIN = "KUBE-SVC-XPGD46QRK7WJZT7O"  # ns1/svc1:p80, as in upstream's tests
SVC2_CHAIN = "KUBE-SVC-2VJB64SDSIJUP5T6"  # ns2/svc2:p8080


@pytest.fixture(autouse=True)
def watch_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """main() knows the command even before the lead registers it."""
    from kubeproxy_sim.cli import main as main_module

    if "kubeproxy_sim.cli.watch_cmd" not in main_module.COMMAND_MODULES:
        monkeypatch.setattr(main_module, "COMMAND_MODULES",
                            (*main_module.COMMAND_MODULES, "kubeproxy_sim.cli.watch_cmd"))


def service(ns: str, name: str, ip: str, port: int, port_name: str) -> str:
    return f"""apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {ns}}}
spec:
  type: ClusterIP
  clusterIP: {ip}
  ports: [{{name: {port_name}, port: {port}, protocol: TCP}}]
"""


def endpoint_slice(ns: str, service_name: str, ips: list[str], port: int, port_name: str) -> str:
    endpoints = "".join(f"- addresses: [{ip}]\n" for ip in ips)
    return f"""apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {service_name}-1
  namespace: {ns}
  labels: {{kubernetes.io/service-name: {service_name}}}
addressType: IPv4
endpoints:
{endpoints}ports: [{{name: {port_name}, port: {port}, protocol: TCP}}]
"""


def write(path: Path, text: str) -> None:
    """Write and move the mtime on, so the directory source sees a change even within one clock tick."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    directory = tmp_path / "manifests"
    directory.mkdir()
    write(directory / "svc1.yaml", service("ns1", "svc1", "172.30.0.41", 80, "p80"))
    write(directory / "svc1-eps.yaml", endpoint_slice("ns1", "svc1", ["10.0.1.1"], 80, "p80"))
    write(directory / "svc2.yaml", service("ns2", "svc2", "172.30.0.42", 8080, "p8080"))
    write(directory / "svc2-eps.yaml", endpoint_slice("ns2", "svc2", ["10.0.2.1"], 8080, "p8080"))
    return directory


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert self.now < 2000.0, "the watch never got to the expected syncs"
        self.now += seconds


class ScriptedOut(io.StringIO):
    """Runs ``actions[n]`` when sync n+1 has been written (the printer flushes once per sync)."""

    def __init__(self, actions: Sequence[Callable[[], object]]) -> None:
        super().__init__()
        self.actions = actions
        self.syncs = 0

    def flush(self) -> None:
        super().flush()
        if self.syncs < len(self.actions):
            self.actions[self.syncs]()
        self.syncs += 1


def run_watch(argv: list[str], actions: Sequence[Callable[[], object]] = ()) -> tuple[int, str, str]:
    args = build_parser().parse_args(["watch", *argv])
    out, err, clock = ScriptedOut(list(actions)), io.StringIO(), Clock()
    status = watch_cmd.run(args, out=out, err=err, sleep=clock.sleep, clock=clock)
    return status, out.getvalue(), err.getvalue()


def together(*steps: Callable[[], object]) -> Callable[[], None]:
    """One scripted action of several steps, in order: the edits made between two syncs."""

    def action() -> None:
        for step in steps:
            step()

    return action


def syncs(out: str) -> list[tuple[str, str]]:
    parts = re.split(r"^(# sync \d+ (?:full|partial)) \(\d+\.\d ms\) [^\n]*\n", out, flags=re.MULTILINE)
    assert parts[0] == ""
    return list(zip(parts[1::2], parts[2::2], strict=True))


def nat_chains(text: str) -> list[str]:
    nat = text.split("*nat\n", 1)[1]
    return [line[1:].split()[0] for line in nat.splitlines() if line.startswith(":")]


# --------------------------------------------------------------------------- a directory


def test_directory_edits_become_partial_syncs(manifests: Path):
    actions = [
        lambda: write(manifests / "svc1-eps.yaml", endpoint_slice("ns1", "svc1", ["10.0.1.1", "10.0.1.2"], 80, "p80")),
        together(lambda: os.remove(manifests / "svc2.yaml"), lambda: os.remove(manifests / "svc2-eps.yaml")),
    ]
    status, out, err = run_watch(["-f", str(manifests), *NODE_FLAGS, *FAST, "--max-syncs", "3"], actions)
    assert status == 0, err
    result = syncs(out)
    assert [h for h, _ in result] == ["# sync 1 full", "# sync 2 partial", "# sync 3 partial"]
    assert {SVC1_CHAIN, SVC2_CHAIN} <= set(nat_chains(result[0][1]))
    second = result[1][1]
    assert SVC1_CHAIN in nat_chains(second) and SVC2_CHAIN not in nat_chains(second)
    assert "--to-destination 10.0.1.2:80" in second
    third = result[2][1]
    assert f"-X {SVC2_CHAIN}" in third and f":{SVC2_CHAIN} - [0:0]" in third
    assert "svc2" not in third.split("*nat\n", 1)[1].split("-X", 1)[0].replace(f":{SVC2_CHAIN}", "")


def test_bad_input_is_reported_and_the_rest_keeps_syncing(manifests: Path):
    bad_service = service("ns3", "svc3", "not-an-ip", 80, "p80")
    actions = [
        together(lambda: write(manifests / "bad.yaml", bad_service),
                 lambda: write(manifests / "half.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: x\n"),
                 lambda: write(manifests / "svc1-eps.yaml", endpoint_slice("ns1", "svc1", ["10.0.1.7"], 80, "p80"))),
    ]
    status, out, err = run_watch(["-f", str(manifests), *NODE_FLAGS, *FAST, "--max-syncs", "2"], actions)
    assert status == EXIT_INVALID_INPUT  # errors were reported during a bounded run
    result = syncs(out)
    assert len(result) == 2 and "--to-destination 10.0.1.7:80" in result[1][1]
    assert "Traceback" not in err
    bad_line = next(line for line in err.splitlines() if "bad.yaml" in line)
    assert "Service ns3/svc3" in bad_line and "spec.clusterIP" in bad_line
    assert any("half.yaml" in line for line in err.splitlines())


def test_diff_shows_the_chains_that_changed(manifests: Path):
    actions = [lambda: write(manifests / "svc1-eps.yaml", endpoint_slice("ns1", "svc1", ["10.0.1.9"], 80, "p80"))]
    status, out, err = run_watch(["-f", str(manifests), *NODE_FLAGS, *FAST, "--max-syncs", "2", "--diff"], actions)
    assert status == 0, err
    second = out.split("# sync 2 partial", 1)[1].splitlines()[1:]
    assert second[:2] == ["--- sync 1", "+++ sync 2"]
    removed = [line for line in second if line.startswith("-") and not line.startswith("---")]
    added = [line for line in second if line.startswith("+") and not line.startswith("+++")]
    assert any("10.0.1.1:80" in line for line in removed) and any("10.0.1.9:80" in line for line in added)
    assert not any("svc2" in line for line in removed + added)  # svc2's chains did not change
    first = out.split("# sync 2 partial", 1)[0]
    assert "+++ sync 1" in first and f"+:{SVC2_CHAIN} -" in first


def test_json_lines(manifests: Path):
    actions = [lambda: write(manifests / "svc1-eps.yaml", endpoint_slice("ns1", "svc1", [], 80, "p80"))]
    status, out, err = run_watch(["-f", str(manifests), *NODE_FLAGS, *FAST, "--max-syncs", "2", "-o", "json"],
                                 actions)
    assert status == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["number"], r["full"], r["reason"]) for r in records] == [(1, True, "initial"), (2, False, "changes")]
    assert records[1]["changed"] == ["ns1/svc1"] and records[1]["restore"].startswith("*filter\n")
    assert isinstance(records[1]["duration_ms"], float) and records[1]["duration_ms"] >= 0
    assert records[1]["metrics"]["full"] is False and records[1]["metrics"]["deleted_chains"] == 2
    assert records[1]["metrics"]["ip_family"] == "IPv4"  # the same metrics object replay -o json prints


def test_the_last_sync_timestamp_is_the_injected_wall_clock_s(manifests: Path):
    """run's ``wall`` stamps each sync (sync_proxy_rules_last_timestamp_seconds, Unix time), its ``clock`` paces
    them: a wall clock stepped back between two syncs moves the stamp back, and nothing else."""
    walls = iter([1764523456.5, 1000.25])
    actions = [lambda: write(manifests / "svc1-eps.yaml", endpoint_slice("ns1", "svc1", [], 80, "p80"))]
    args = build_parser().parse_args(["watch", "-f", str(manifests), *NODE_FLAGS, *FAST, "--max-syncs", "2",
                                      "-o", "json"])
    out, err, clock = ScriptedOut(list(actions)), io.StringIO(), Clock()
    status = watch_cmd.run(args, out=out, err=err, sleep=clock.sleep, clock=clock, wall=lambda: next(walls))
    assert status == 0, err.getvalue()
    assert [json.loads(line)["metrics"]["last_timestamp_seconds"] for line in out.getvalue().splitlines()] == [
        1764523456.5, 1000.25]


def zoned_slice(endpoints: list[tuple[str, str]]) -> str:
    """svc1's slice with each endpoint's zone and the controller's matching hint."""
    lines = "".join(f"- {{addresses: [{ip}], conditions: {{ready: true}}, zone: {zone}, "
                    f"hints: {{forZones: [{{name: {zone}}}]}}}}\n" for ip, zone in endpoints)
    return ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: svc1-1, namespace: ns1, "
            "labels: {kubernetes.io/service-name: svc1}}\naddressType: IPv4\n"
            "ports: [{name: p80, port: 80, protocol: TCP}]\nendpoints:\n" + lines)


def zoned_node(zone: str) -> str:
    return ("apiVersion: v1\nkind: Node\nmetadata: {name: test-node, labels: {topology.kubernetes.io/zone: "
            f"{zone}}}}}\nstatus: {{addresses: [{{type: InternalIP, address: 192.168.0.2}}]}}\n")


def test_a_deleted_node_keeps_its_zone_as_in_replay(tmp_path: Path):
    """kube-proxy ignores a Node's deletion (kubernetes 531be81208e2: NodeTopologyConfig's DeleteFunc does
    nothing): the watch keeps the node's zone, says so once, and the syncs after it stay partial with zone a's
    endpoints; a Node object of that name coming back is a Node change again."""
    directory = tmp_path / "manifests"
    directory.mkdir()
    write(directory / "svc1.yaml", service("ns1", "svc1", "172.30.0.41", 80, "p80")
          + "  trafficDistribution: PreferClose\n")
    write(directory / "svc1-eps.yaml", zoned_slice([("10.0.1.1", "a"), ("10.0.1.2", "b")]))
    write(directory / "node.yaml", zoned_node("a"))
    actions = [
        together(lambda: os.remove(directory / "node.yaml"),
                 lambda: write(directory / "svc1-eps.yaml", zoned_slice([("10.0.1.1", "a"), ("10.0.1.2", "b"),
                                                                         ("10.0.1.3", "a")]))),
        lambda: write(directory / "svc1-eps.yaml", zoned_slice([("10.0.1.1", "a"), ("10.0.1.2", "b"),
                                                                ("10.0.1.4", "a")])),
        lambda: write(directory / "node.yaml", zoned_node("b")),
    ]
    flags = ["--hostname-override", "test-node", "--cluster-cidr", "10.0.0.0/8", "--random-fully=false"]
    status, out, err = run_watch(["-f", str(directory), *flags, *FAST, "--max-syncs", "4"], actions)
    assert status == 0, err
    result = syncs(out)
    assert [h for h, _ in result] == ["# sync 1 full", "# sync 2 partial", "# sync 3 partial", "# sync 4 full"]
    assert "10.0.1.1:80" in result[0][1] and "10.0.1.2:80" not in result[0][1]  # zone a's endpoint only
    for text, added in ((result[1][1], "10.0.1.3:80"), (result[2][1], "10.0.1.4:80")):
        assert added in text and "10.0.1.2:80" not in text  # still zone a after the Node's deletion
    assert "10.0.1.2:80" in result[3][1] and "10.0.1.1:80" not in result[3][1]  # back, in zone b
    notes = [line for line in err.splitlines() if "any more" in line]
    assert notes == ["kubeproxy-sim: note: no Node object named 'test-node' any more; kube-proxy ignores a Node's "
                     "deletion, so the node keeps its zone 'a' and the addresses it started with"]


def test_the_default_node_is_picked_at_the_first_sync_and_kept(tmp_path: Path):
    """kube-proxy fixes its node name at start: with no --hostname-override, a Node added later that sorts first
    does not become the node (its Local endpoints stay out, nothing syncs fully); a note says so."""
    directory = tmp_path / "manifests"
    directory.mkdir()

    def local_slice(*more: str) -> str:
        extra = "".join(f"- {{addresses: [{ip}], nodeName: n2}}\n" for ip in more)
        return ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s-1, namespace: ns1, "
                "labels: {kubernetes.io/service-name: s}}\naddressType: IPv4\n"
                "ports: [{name: p80, port: 80, protocol: TCP}]\nendpoints:\n"
                "- {addresses: [10.0.1.1], nodeName: n2}\n- {addresses: [10.0.2.1], nodeName: a1}\n" + extra)

    def node(name: str, ip: str) -> str:
        return f"apiVersion: v1\nkind: Node\nmetadata: {{name: {name}}}\nstatus: {{addresses: [{{type: InternalIP, " \
               f"address: {ip}}}]}}\n"

    write(directory / "svc.yaml", service("ns1", "s", "172.30.0.41", 80, "p80") + "  internalTrafficPolicy: Local\n")
    write(directory / "es.yaml", local_slice())
    write(directory / "n2.yaml", node("n2", "192.168.0.2"))
    actions = [together(lambda: write(directory / "a1.yaml", node("a1", "192.168.0.9")),
                        lambda: write(directory / "es.yaml", local_slice("10.0.1.5")))]
    status, out, err = run_watch(["-f", str(directory), "--cluster-cidr", "10.0.0.0/8", *FAST, "--max-syncs", "2"],
                                 actions)
    assert status == 0, err
    result = syncs(out)
    assert [h for h, _ in result] == ["# sync 1 full", "# sync 2 partial"]
    assert "--to-destination 10.0.1.1:80" in result[0][1] and "10.0.2.1" not in result[0][1]
    assert "--to-destination 10.0.1.5:80" in result[1][1] and "10.0.2.1" not in result[1][1]
    assert [line for line in err.splitlines() if "sorts first" in line] == [
        "kubeproxy-sim: note: Node 'a1' now sorts first, but the node stays 'n2', picked at the first sync "
        "(kube-proxy fixes its node name at start; --hostname-override names one)"]


def cidr_node(ip: str, pod_cidr: str) -> str:
    return ("apiVersion: v1\nkind: Node\nmetadata: {name: test-node}\n"
            f"spec: {{podCIDRs: [{pod_cidr}]}}\nstatus: {{addresses: [{{type: InternalIP, address: {ip}}}]}}\n")


def test_node_ips_and_pod_cidrs_are_followed_as_kube_proxy_follows_them(manifests: Path):
    """kubernetes 531be81208e2, NodeManager.OnNodeChange: new node IPs are only logged (kube-proxy keeps those it
    started with), a new spec.podCIDRs under detect-local-mode NodeCIDR makes kube-proxy exit; its restart reads
    the Node again (IPs too) and syncs fully. The watch says which, and goes on as the restarted kube-proxy."""
    write(manifests / "node.yaml", cidr_node("192.168.0.2", "10.0.1.0/24"))
    actions = [
        together(lambda: write(manifests / "node.yaml", cidr_node("192.168.0.3", "10.0.1.0/24")),
                 lambda: write(manifests / "svc1-eps.yaml", endpoint_slice("ns1", "svc1", ["10.0.1.1", "10.0.1.2"], 80,
                                                                           "p80"))),
        lambda: write(manifests / "node.yaml", cidr_node("192.168.0.3", "10.0.7.0/24")),
    ]
    flags = ["--hostname-override", "test-node", "--detect-local-mode", "NodeCIDR", "--nodeport-addresses",
             "primary", "--random-fully=false"]
    status, out, err = run_watch(["-f", str(manifests), *flags, *FAST, "--max-syncs", "3"], actions)
    assert status == 0, err
    result = syncs(out)
    assert [h for h, _ in result] == ["# sync 1 full", "# sync 2 partial", "# sync 3 full"]
    assert "! -s 10.0.1.0/24" in result[0][1] and "192.168.0.2" in result[0][1]
    assert "192.168.0.3" not in result[1][1]  # a partial sync, as the node IPs kube-proxy uses did not change
    assert "! -s 10.0.7.0/24" in result[2][1] and "10.0.1.0/24" not in result[2][1]
    assert "192.168.0.3" in result[2][1] and "192.168.0.2" not in result[2][1]  # the restart read the new IPs
    assert [line for line in err.splitlines() if "Node test-node" in line] == [
        "kubeproxy-sim: note: Node test-node: its node IPs changed from 192.168.0.2 to 192.168.0.3: kube-proxy "
        "logs it and keeps those it started with until it restarts",
        "kubeproxy-sim: warning: Node test-node: spec.podCIDRs changed from 10.0.1.0/24 to 10.0.7.0/24: kube-proxy "
        "exits (detect-local-mode NodeCIDR) and its restart does a full sync"]


def test_the_first_sync_waits_for_the_named_node_s_node_object(manifests: Path):
    """kubernetes 531be81208e2, pkg/proxy/node.go newNodeManager: kube-proxy waits up to 30 s at start for its
    Node to exist with node IPs; the watch says so, and the Node written 10 s in ends the wait: the first sync
    has its IPs, and nothing says they changed (kube-proxy started with them)."""
    args = build_parser().parse_args(["watch", "-f", str(manifests), "--hostname-override", "test-node",
                                      "--nodeport-addresses", "primary", "--cluster-cidr", "10.0.0.0/8", *FAST,
                                      "--once"])
    out, err, clock = io.StringIO(), io.StringIO(), Clock()
    start = clock.now

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now - start >= 10 and not (manifests / "node.yaml").exists():
            write(manifests / "node.yaml", cidr_node("192.168.0.2", "10.0.1.0/24"))

    assert watch_cmd.run(args, out=out, err=err, sleep=sleep, clock=clock) == 0
    assert 10 <= clock.now - start < 11
    assert "192.168.0.2" in syncs(out.getvalue())[0][1]
    assert err.getvalue() == ("kubeproxy-sim: note: waiting for Node 'test-node' to exist: kube-proxy waits up to "
                              "30s at start for its Node's addresses before its first sync (--node-ip gives them and "
                              "skips this wait)\n")


@pytest.mark.parametrize("mode", ["ClusterCIDR", "NodeCIDR"])
def test_a_named_node_that_never_comes_is_waited_for_as_kube_proxy_waits(manifests: Path, mode: str):
    """30 s, then kube-proxy starts without node IPs (a warning); under NodeCIDR 5 minutes more for the pod
    CIDRs, then it fails to start: the watch ends with exit status 1 before any sync."""
    clock = Clock()
    start = clock.now
    args = build_parser().parse_args(["watch", "-f", str(manifests), "--hostname-override", "test-node",
                                      "--cluster-cidr", "10.0.0.0/8", "--detect-local-mode", mode, *FAST, "--once"])
    out, err = io.StringIO(), io.StringIO()
    if mode == "ClusterCIDR":
        status = watch_cmd.run(args, out=out, err=err, sleep=clock.sleep, clock=clock)
        assert status == 0 and 30 <= clock.now - start < 31 and syncs(out.getvalue())[0][0] == "# sync 1 full"
        assert err.getvalue().splitlines()[1:] == [
            "kubeproxy-sim: warning: timed out waiting for Node 'test-node' to exist: kube-proxy starts without its "
            "node IPs, assuming loopback (127.0.0.1, ::1) unless --bind-address names one, until it restarts"]
        return
    with pytest.raises(InputError) as refused:
        watch_cmd.run(args, out=out, err=err, sleep=clock.sleep, clock=clock)
    assert ("NodeCIDR needs the node's pod CIDR, and there is no Node object named 'test-node'; kube-proxy waits "
            "for spec.podCIDRs and fails to start") in str(refused.value)
    assert 330 <= clock.now - start < 331 and out.getvalue() == ""
    assert err.getvalue().splitlines()[1:] == [
        "kubeproxy-sim: note: waiting for Node 'test-node' to exist: kube-proxy (detect-local-mode NodeCIDR) waits "
        "up to 300s more for its spec.podCIDRs, then fails to start"]


@pytest.mark.parametrize("named", [True, False], ids=["named", "picked"])
def test_a_node_deleted_and_registered_again_is_followed_as_kube_proxy_s_node_manager_does(manifests: Path,
                                                                                           named: bool):
    """kubernetes 531be81208e2, NodeManager: OnNodeDelete only logs (the node keeps what it had); the Node added
    again without spec.podCIDRs (a kubelet registering anew) differs from those kube-proxy started with, so under
    NodeCIDR it exits; its restart waits (up to 5 minutes) for the allocation, and syncs fully once the pod CIDR
    comes, 60 s later. The node picked by default (no --hostname-override: the machine's hostname) is waited for
    by the restart as a named one is."""
    write(manifests / "node.yaml", cidr_node("192.168.0.2", "10.0.1.0/24"))
    bare = "apiVersion: v1\nkind: Node\nmetadata: {name: test-node}\nstatus: {addresses: [{type: InternalIP, " \
           "address: 192.168.0.2}]}\n"
    registered: list[float] = []
    actions = [
        together(lambda: os.remove(manifests / "node.yaml"),
                 lambda: write(manifests / "svc1-eps.yaml", endpoint_slice("ns1", "svc1", ["10.0.1.1", "10.0.1.2"], 80,
                                                                           "p80"))),
        together(lambda: write(manifests / "node.yaml", bare), lambda: registered.append(clock.now)),
    ]
    args = build_parser().parse_args(["watch", "-f", str(manifests),
                                      *(["--hostname-override", "test-node"] if named else []),
                                      "--detect-local-mode", "NodeCIDR", "--random-fully=false", *FAST,
                                      "--max-syncs", "3"])
    out, err, clock = ScriptedOut(actions), io.StringIO(), Clock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if registered and clock.now - registered[0] >= 60 and "10.0.7.0" not in (manifests / "node.yaml").read_text():
            write(manifests / "node.yaml", cidr_node("192.168.0.2", "10.0.7.0/24"))

    assert watch_cmd.run(args, out=out, err=err, sleep=sleep, clock=clock) == 0, err.getvalue()
    result = syncs(out.getvalue())
    assert [h for h, _ in result] == ["# sync 1 full", "# sync 2 partial", "# sync 3 full"]
    assert "10.0.1.2:80" in result[1][1] and "! -s 10.0.1.0/24" in result[1][1]  # deleted: the CIDR is kept
    assert "! -s 10.0.7.0/24" in result[2][1] and "10.0.1.0/24" not in result[2][1]
    assert 60 <= clock.now - registered[0] < 62
    assert [line.split(": ", 2)[2] for line in err.getvalue().splitlines()] == [
        "no Node object named 'test-node' any more; kube-proxy ignores a Node's deletion, so the node keeps no "
        "zone, as before and the addresses it started with",
        "Node test-node: spec.podCIDRs changed from 10.0.1.0/24 to none: kube-proxy exits (detect-local-mode "
        "NodeCIDR) and its restart does a full sync",
        "waiting for Node 'test-node' to have spec.podCIDRs: kube-proxy (detect-local-mode NodeCIDR) waits up to "
        "300s more for its spec.podCIDRs, then fails to start"]


KP_CONFIG = ("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nhostnameOverride: test-node\n"
             "clusterCIDR: {cidr}\n")


def test_a_config_file_written_during_the_watch_restarts_kube_proxy_with_it(manifests: Path, tmp_path: Path):
    """kube-proxy watches its --config file and exits on a write (or a rename) of it, to be restarted with the
    new file (kubernetes 531be81208e2, cmd/kube-proxy/app/server.go: eventHandler): the watch says so and goes
    on as the restarted kube-proxy, whose first sync is full, with the new config; numbering goes on. Each
    restart is said."""
    config = tmp_path / "kp.conf"
    write(config, KP_CONFIG.format(cidr="10.0.0.0/8"))
    actions = [lambda: write(config, KP_CONFIG.format(cidr="10.200.0.0/16")),
               lambda: write(config, KP_CONFIG.format(cidr="10.100.0.0/16")),
               lambda: write(manifests / "svc1-eps.yaml", endpoint_slice("ns1", "svc1", ["10.0.1.1", "10.0.1.2"], 80,
                                                                         "p80"))]
    status, out, err = run_watch(["-f", str(manifests), "--config", str(config), *FAST, "--max-syncs", "4"], actions)
    assert status == 0, err
    result = syncs(out)
    assert [h for h, _ in result] == ["# sync 1 full", "# sync 2 full", "# sync 3 full", "# sync 4 partial"]
    assert "! -s 10.0.0.0/8" in result[0][1]
    assert "! -s 10.200.0.0/16" in result[1][1] and "10.0.0.0/8" not in result[1][1]
    assert "! -s 10.100.0.0/16" in result[2][1] and "10.200.0.0/16" not in result[2][1]
    assert [line for line in err.splitlines() if "kp.conf" in line] == [
        f"kubeproxy-sim: {config}: note: the --config file was written after sync {n}: kube-proxy exits and its "
        f"restart reads it; the watch goes on as the restarted kube-proxy (restart {n}; its first sync is full)"
        for n in (1, 2)]


def test_the_new_config_file_s_problems_are_said_at_the_restart(manifests: Path, tmp_path: Path) -> None:
    """The restarted kube-proxy's first config is built as its objects are listed again: what is wrong in the
    new file (here a field v1alpha1 does not have) is said then, as at the start, not dropped."""
    config = tmp_path / "kp.conf"
    write(config, KP_CONFIG.format(cidr="10.0.0.0/8"))
    status, out, err = run_watch(["-f", str(manifests), "--config", str(config), *FAST, "--max-syncs", "2"],
                                 [lambda: write(config, KP_CONFIG.format(cidr="10.200.0.0/16") + "foo: 1\n")])
    assert status == 0, err
    assert [h for h, _ in syncs(out)] == ["# sync 1 full", "# sync 2 full"]
    assert f"kubeproxy-sim: {config}: foo: warning: unknown field of KubeProxyConfiguration; kube-proxy's strict " \
        "decoding refuses it" in err.splitlines()


def test_a_restart_lets_the_loop_kube_proxy_exited_with_go(manifests: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The watch freezes what a full sync built (gc.freeze), and a sync loop holds reference cycles: the loop
    before a restart is unfrozen and collected, not kept for the rest of the watch."""
    import gc
    import weakref

    loops: list[weakref.ref[object]] = []
    restart = watch_cmd._restart_loop

    def recorded(*given: Any) -> Any:
        running = restart(*given)
        loops.append(weakref.ref(running[0]))
        return running

    monkeypatch.setattr(watch_cmd, "_restart_loop", recorded)
    config = tmp_path / "kp.conf"
    write(config, KP_CONFIG.format(cidr="10.0.0.0/8"))
    try:
        status, _, err = run_watch(["-f", str(manifests), "--config", str(config), *FAST, "--max-syncs", "2"],
                                     [lambda: write(config, KP_CONFIG.format(cidr="10.200.0.0/16"))])
        assert status == 0, err
        assert len(loops) == 2 and loops[0]() is None and loops[1]() is not None  # (the last one still frozen)
    finally:
        gc.unfreeze()


def test_a_config_file_the_restart_refuses_ends_the_watch(manifests: Path, tmp_path: Path):
    """kube-proxy exits on the write and its restart refuses the file (it then restarts over and over): the
    watch ends there, saying why."""
    from kubeproxy_sim.errors import InputError

    config = tmp_path / "kp.conf"
    write(config, KP_CONFIG.format(cidr="10.0.0.0/8"))
    with pytest.raises(InputError) as caught:
        run_watch(["-f", str(manifests), "--config", str(config), *FAST, "--max-syncs", "3"],
                  [lambda: write(config, KP_CONFIG.format(cidr="not-a-cidr"))])
    messages = [d.message for d in caught.value.diagnostics]
    assert messages[0] == ("the --config file was written: kube-proxy exits, and its restart refuses the new file "
                           "(kube-proxy would restart over and over); the watch stops")
    assert any("not-a-cidr" in m for m in messages[1:])


def test_a_node_exit_whose_restart_refuses_the_config_file_ends_the_watch(manifests: Path, tmp_path: Path):
    """A file renamed over the --config file goes unnoticed (kube-proxy watches the one it read), until kube-proxy
    exits on its Node's new pod CIDRs (NodeCIDR): its restart reads the file now at the path, and refuses it."""
    config = tmp_path / "kp.conf"
    write(config, KP_CONFIG.format(cidr="10.0.0.0/8") + "detectLocalMode: NodeCIDR\n")
    write(manifests / "node.yaml", cidr_node("192.168.0.2", "10.0.1.0/24"))

    def replace_then_reallocate() -> None:
        fresh = tmp_path / "kp.conf.new"
        write(fresh, KP_CONFIG.format(cidr="not-a-cidr") + "detectLocalMode: NodeCIDR\n")
        os.replace(fresh, config)
        write(manifests / "node.yaml", cidr_node("192.168.0.2", "10.0.7.0/24"))

    with pytest.raises(InputError) as caught:
        run_watch(["-f", str(manifests), "--config", str(config), *FAST, "--max-syncs", "2"], [replace_then_reallocate])
    messages = [d.message for d in caught.value.diagnostics]
    assert messages[0] == ("kube-proxy exited on its Node's change, and its restart refuses the --config file now at "
                           "that path (kube-proxy would restart over and over); the watch stops")
    assert caught.value.diagnostics[0].file == str(config) and any("not-a-cidr" in m for m in messages[1:])


def test_a_restart_s_wait_for_the_node_is_said_as_the_start_s(manifests: Path, tmp_path: Path) -> None:
    """Each kube-proxy that starts waits for its Node: a note said once per run kept the restarted one's wait
    silent (30 s with nothing said)."""
    config = tmp_path / "kp.conf"
    write(config, KP_CONFIG.format(cidr="10.0.0.0/8"))
    status, out, err = run_watch(["-f", str(manifests), "--config", str(config), *FAST, "--max-syncs", "2"],
                                 [lambda: write(config, KP_CONFIG.format(cidr="10.200.0.0/16"))])
    assert status == 0, err
    assert [h for h, _ in syncs(out)] == ["# sync 1 full", "# sync 2 full"]
    lines = [line.split(": ", 2)[2] for line in err.splitlines() if "Node 'test-node'" in line]
    assert lines == 2 * ["waiting for Node 'test-node' to exist: kube-proxy waits up to 30s at start for its Node's "
                         "addresses before its first sync (--node-ip gives them and skips this wait)",
                         "timed out waiting for Node 'test-node' to exist: kube-proxy starts without its node IPs, "
                         "assuming loopback (127.0.0.1, ::1) unless --bind-address names one, until it restarts"]


def test_the_config_file_s_node_cidr_mode_waits_for_the_pod_cidrs(manifests: Path, tmp_path: Path) -> None:
    """detectLocalMode NodeCIDR from the --config file (no flag) is waited for as the flag is: its Node there
    with an address and no spec.podCIDRs, the watch waits 5 minutes, then ends as kube-proxy fails to start,
    saying what to do in -f's words."""
    config = tmp_path / "kp.conf"
    write(config, KP_CONFIG.format(cidr="10.0.0.0/8") + "detectLocalMode: NodeCIDR\n")
    write(manifests / "node.yaml", "apiVersion: v1\nkind: Node\nmetadata: {name: test-node}\nstatus: {addresses: "
                                   "[{type: InternalIP, address: 192.168.0.2}]}\n")
    args = build_parser().parse_args(["watch", "-f", str(manifests), "--config", str(config), *FAST, "--once"])
    out, err, clock = io.StringIO(), io.StringIO(), Clock()
    start = clock.now
    with pytest.raises(InputError) as refused:
        watch_cmd.run(args, out=out, err=err, sleep=clock.sleep, clock=clock)
    assert 300 <= clock.now - start < 301 and out.getvalue() == ""
    assert [d.message for d in refused.value.diagnostics] == [
        "NodeCIDR needs the node's pod CIDR, and node 'test-node' has no spec.podCIDRs; kube-proxy waits for "
        "spec.podCIDRs and fails to start (write spec.podCIDRs into the Node object in the -f directory before the "
        "wait ends, or choose another mode)"]
    assert err.getvalue().splitlines() == [
        "kubeproxy-sim: note: waiting for Node 'test-node' to have spec.podCIDRs: kube-proxy (detect-local-mode "
        "NodeCIDR) waits up to 300s more for its spec.podCIDRs, then fails to start"]


@pytest.mark.parametrize("source, hint", [
    (["watch", "-f", "DIR"], "write spec.podCIDRs into the Node object in the -f directory before the wait ends, or "
                             "choose another mode"),
    (["watch", "--kubeconfig", "KUBECONFIG"], "the cluster allocates them: kube-controller-manager "
                                              "--allocate-node-cidrs; or choose another mode"),
    (["replay", "DIR"], "give the Node object with -f, or choose another mode"),
], ids=["watch-directory", "watch-live", "replay"])
def test_the_pod_cidr_refusal_says_what_to_do_in_the_source_s_words(source: list[str], hint: str) -> None:
    """-f is the objects' source for rules and replay; a watch has waited for the Node in its directory, or on
    the API server, where the pod CIDR is the cluster's to allocate."""
    from kubeproxy_sim.cli.node_configs import NodeConfigs
    from kubeproxy_sim.objects.model import Cluster, Node

    args = build_parser().parse_args([*source, "--hostname-override", "n1", "--detect-local-mode", "NodeCIDR"])
    with pytest.raises(InputError) as refused:
        NodeConfigs(args, exits=source[0] == "watch")(Cluster(nodes=(Node("n1"),)))
    assert str(refused.value).endswith(f"fails to start ({hint})")


def test_a_named_node_missing_among_other_nodes_is_said_once(manifests: Path) -> None:
    """The wait for the named node's Node says it never came (the timeout); the config built after it does not
    say it again (--hostname-override: no Node object named ...), other Nodes there or not."""
    write(manifests / "other.yaml", "apiVersion: v1\nkind: Node\nmetadata: {name: other}\nstatus: {addresses: "
                                    "[{type: InternalIP, address: 192.168.0.9}]}\n")
    status, out, err = run_watch(["-f", str(manifests), "--hostname-override", "node1", "--cluster-cidr",
                                  "10.0.0.0/8", *FAST, "--once"])
    assert status == 0 and [h for h, _ in syncs(out)] == ["# sync 1 full"]
    assert [line.split(": ", 2)[2][:46] for line in err.splitlines()] == [
        "waiting for Node 'node1' to exist: kube-proxy ", "timed out waiting for Node 'node1' to exist: k"]


def test_a_config_file_replaced_by_a_rename_goes_unnoticed(manifests: Path, tmp_path: Path):
    """kube-proxy's watch is on the file it opened: a new file renamed over it (a ConfigMap update, an editor's
    atomic save) is a removal of the watched one, which kube-proxy ignores, and it sees no later write."""
    config = tmp_path / "kp.conf"
    write(config, KP_CONFIG.format(cidr="10.0.0.0/8"))

    def replace_it() -> None:
        fresh = tmp_path / "kp.conf.new"
        write(fresh, KP_CONFIG.format(cidr="10.200.0.0/16"))
        os.replace(fresh, config)
        write(manifests / "svc1-eps.yaml", endpoint_slice("ns1", "svc1", ["10.0.1.1", "10.0.1.2"], 80, "p80"))

    actions = [replace_it, together(lambda: write(config, KP_CONFIG.format(cidr="10.100.0.0/16")),
                                    lambda: write(manifests / "svc1-eps.yaml",
                                                  endpoint_slice("ns1", "svc1", ["10.0.1.1"], 80, "p80")))]
    status, out, err = run_watch(["-f", str(manifests), "--config", str(config), *FAST, "--max-syncs", "3"], actions)
    assert status == 0, err
    assert [h for h, _ in syncs(out)] == ["# sync 1 full", "# sync 2 partial", "# sync 3 partial"]
    assert [line for line in err.splitlines() if "kp.conf" in line] == [
        f"kubeproxy-sim: {config}: note: the --config file was replaced or removed: kube-proxy, watching the file "
        "it read, does not notice; it keeps its config and sees no later change to that path until it restarts"]


@pytest.mark.parametrize("change", ["replace", "remove"])
def test_a_node_change_after_the_config_file_went_away_keeps_the_config_read_at_start(
        manifests: Path, tmp_path: Path, change: str) -> None:
    """kube-proxy reads its --config file once, at start: a Node change that rebuilds the config afterwards
    (here new labels on the node's Node) uses the settings read then, not a file renamed over it nor a missing
    one (which would be '--config: cannot read it', the cluster CIDR gone)."""
    config = tmp_path / "kp.conf"
    write(config, KP_CONFIG.format(cidr="10.0.0.0/8"))
    write(manifests / "node.yaml", cidr_node("192.168.0.2", "10.0.1.0/24"))

    def go_away() -> None:
        if change == "replace":
            fresh = tmp_path / "kp.conf.new"
            write(fresh, KP_CONFIG.format(cidr="10.200.0.0/16"))
            os.replace(fresh, config)
        else:
            config.unlink()
        write(manifests / "node.yaml", cidr_node("192.168.0.2", "10.0.1.0/24").replace(
            "name: test-node}", "name: test-node, labels: {a: b}}"))
        write(manifests / "svc1-eps.yaml", endpoint_slice("ns1", "svc1", ["10.0.1.1", "10.0.1.2"], 80, "p80"))

    status, out, err = run_watch(["-f", str(manifests), "--config", str(config), *FAST, "--max-syncs", "2"],
                                 [go_away])
    assert status == 0, err
    result = syncs(out)
    assert [h for h, _ in result] == ["# sync 1 full", "# sync 2 partial"]
    assert "! -s 10.0.0.0/8" in result[1][1] and "10.200.0.0/16" not in result[1][1]
    assert "cannot read" not in err


def named_node(name: str, ip: str) -> str:
    return (f"apiVersion: v1\nkind: Node\nmetadata: {{name: {name}}}\n"
            f"status: {{addresses: [{{type: InternalIP, address: {ip}}}]}}\n")


@pytest.mark.parametrize(("override", "node_ip"), [("", "192.168.0.2"), ("hostnameOverride: node-a\n", "192.168.0.9")])
def test_a_restart_keeps_the_node_picked_unless_the_new_file_names_one(manifests: Path, tmp_path: Path,
                                                                      override: str, node_ip: str) -> None:
    """Without a name given the node is its machine's, picked at the first sync with a Node object: a restart
    on a --config write is the same machine, so node-b stays the node though node-a (added since) sorts first;
    a new file's hostnameOverride names another."""
    plain = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nclusterCIDR: {cidr}\n"
    config = tmp_path / "kp.conf"
    write(config, plain.format(cidr="10.0.0.0/8"))
    write(manifests / "nodeb.yaml", named_node("node-b", "192.168.0.2"))
    actions = [together(lambda: write(manifests / "nodea.yaml", named_node("node-a", "192.168.0.9")),
                        lambda: write(manifests / "svc1-eps.yaml",
                                      endpoint_slice("ns1", "svc1", ["10.0.1.1", "10.0.1.2"], 80, "p80"))),
               lambda: write(config, plain.format(cidr="10.200.0.0/16") + override)]
    status, out, err = run_watch(["-f", str(manifests), "--config", str(config), "--nodeport-addresses", "primary",
                                  *FAST, "--max-syncs", "3"], actions)
    assert status == 0, err
    result = syncs(out)
    assert [h for h, _ in result] == ["# sync 1 full", "# sync 2 partial", "# sync 3 full"]
    assert "192.168.0.2" in result[0][1] and "192.168.0.9" not in result[0][1]
    other = "192.168.0.9" if node_ip == "192.168.0.2" else "192.168.0.2"
    assert node_ip in result[2][1] and other not in result[2][1] and "10.200.0.0/16" in result[2][1]


def test_a_config_file_touched_does_not_restart_kube_proxy(manifests: Path, tmp_path: Path) -> None:
    """``touch`` (a new modification time, the same bytes) is a Chmod event to kube-proxy's watch, which it
    ignores: no restart, the next sync partial, and a later write still restarts it."""
    config = tmp_path / "kp.conf"
    write(config, KP_CONFIG.format(cidr="10.0.0.0/8"))

    def touch() -> None:
        later = config.stat().st_mtime_ns + 10**9
        os.utime(config, ns=(later, later))
        write(manifests / "svc1-eps.yaml", endpoint_slice("ns1", "svc1", ["10.0.1.1", "10.0.1.2"], 80, "p80"))

    status, out, err = run_watch(["-f", str(manifests), "--config", str(config), *FAST, "--max-syncs", "3"],
                                 [touch, lambda: write(config, KP_CONFIG.format(cidr="10.200.0.0/16"))])
    assert status == 0, err
    result = syncs(out)
    assert [h for h, _ in result] == ["# sync 1 full", "# sync 2 partial", "# sync 3 full"]
    assert "10.200.0.0/16" in result[2][1]
    assert [line for line in err.splitlines() if "kp.conf" in line] == [
        f"kubeproxy-sim: {config}: note: the --config file was written after sync 2: kube-proxy exits and its "
        "restart reads it; the watch goes on as the restarted kube-proxy (restart 1; its first sync is full)"]


def test_a_config_file_renamed_away_makes_kube_proxy_exit(manifests: Path, tmp_path: Path) -> None:
    """Renaming the watched file away is a Rename event: kube-proxy exits, and its restart reads what is at the
    path then: a new file there is used; nothing there is refused (and the watch ends, saying so)."""
    from kubeproxy_sim.errors import InputError

    config = tmp_path / "kp.conf"
    write(config, KP_CONFIG.format(cidr="10.0.0.0/8"))

    def move_and_write() -> None:
        config.rename(tmp_path / "kp.conf.old")
        write(config, KP_CONFIG.format(cidr="10.200.0.0/16"))

    status, out, err = run_watch(["-f", str(manifests), "--config", str(config), *FAST, "--max-syncs", "2"],
                                 [move_and_write])
    assert status == 0, err
    result = syncs(out)
    assert [h for h, _ in result] == ["# sync 1 full", "# sync 2 full"] and "10.200.0.0/16" in result[1][1]
    assert [line for line in err.splitlines() if "kp.conf" in line] == [
        f"kubeproxy-sim: {config}: note: the --config file was renamed after sync 1: kube-proxy exits and its "
        "restart reads the file then at that path; the watch goes on as the restarted kube-proxy (restart 1; its "
        "first sync is full)"]
    with pytest.raises(InputError) as caught:
        run_watch(["-f", str(manifests), "--config", str(config), *FAST, "--max-syncs", "2"],
                  [lambda: config.rename(tmp_path / "kp.conf.away")])
    assert [str(d) for d in caught.value.diagnostics][:2] == [
        f"{config}: the --config file was renamed: kube-proxy exits, and its restart refuses what is at that path "
        "now (kube-proxy would restart over and over); the watch stops",
        f"{config}: --config: cannot read it: No such file or directory; expected a KubeProxyConfiguration file"]


@pytest.mark.parametrize(("on_disk", "changed"), [(b"kind: A\r\nx: 1\r\n", False), (b"kind: B\n", True)])
def test_the_config_watch_compares_with_what_kube_proxy_read(tmp_path: Path, on_disk: bytes, changed: bool) -> None:
    """The watch starts on the file as kube-proxy read it (line ends kept): a file written between the read and
    the watch's start is a write once it has stood for the debounce; the same bytes, CRLF and all, are not."""
    from kubeproxy_sim.cli.options import with_config_read

    config = tmp_path / "kp.conf"
    config.write_bytes(b"kind: A\r\nx: 1\r\n")
    args = with_config_read(build_parser().parse_args(["watch", "-f", str(tmp_path), "--config", str(config)]))
    config.write_bytes(on_disk)
    clock = Clock()
    watch = watch_cmd.ConfigFileWatch(str(config), clock, 0.5, args.config_text)
    try:
        assert watch.check() == ()
        clock.now += 1.0
        if changed:
            with pytest.raises(watch_cmd._ConfigWritten):
                watch.check()
        else:
            assert watch.check() == ()
    finally:
        watch.close()


def test_a_slice_edit_the_model_drops_rewrites_its_service(manifests: Path):
    """kube-proxy's slice cache compares whole slices (esDataChanged): an annotation added to svc1's slice is an
    update, and the next sync rewrites svc1's chains (upstream's partial sync for it)."""
    annotated = endpoint_slice("ns1", "svc1", ["10.0.1.1"], 80, "p80").replace(
        "  labels:", "  annotations: {endpoints.kubernetes.io/last-change-trigger-time: '2025-01-01T00:00:00Z'}\n"
        "  labels:")
    actions = [lambda: write(manifests / "svc1-eps.yaml", annotated)]
    status, out, err = run_watch(["-f", str(manifests), *NODE_FLAGS, *FAST, "--max-syncs", "2", "-o", "json"],
                                 actions)
    assert status == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["reason"], r["full"], r["changed"]) for r in records[1:]] == [("changes", False, ["ns1/svc1"])]
    assert f":{SVC1_CHAIN} - [0:0]" in records[1]["restore"] and f":{SVC2_CHAIN} -" not in records[1]["restore"]


def test_once_exits_after_the_first_sync(manifests: Path):
    status, out, err = run_watch(["-f", str(manifests), *NODE_FLAGS, "--once"])
    assert status == 0, err
    assert [h for h, _ in syncs(out)] == ["# sync 1 full"]


def test_the_sync_period_forces_no_sync(manifests: Path):
    """kube-proxy's runner retries after syncPeriod only a failed sync: 30 s of six sync periods with nothing
    changed sync nothing, and the edit made then is the second sync."""
    args = build_parser().parse_args(["watch", "-f", str(manifests), *NODE_FLAGS, "--sync-period", "5s",
                                      "--max-syncs", "2", "-o", "json"])
    out, err, clock = io.StringIO(), io.StringIO(), Clock()
    edited: list[float] = []

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now >= 1030.0 and not edited:
            edited.append(clock.now)
            write(manifests / "svc1-eps.yaml", endpoint_slice("ns1", "svc1", ["10.0.1.8"], 80, "p80"))

    status = watch_cmd.run(args, out=out, err=err, sleep=sleep, clock=clock)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert status == 0 and [r["reason"] for r in records] == ["initial", "changes"]
    assert edited and records[1]["changed"] == ["ns1/svc1"] and not records[1]["full"]


def test_with_nothing_changed_a_full_sync_runs_once_an_hour(manifests: Path):
    args = build_parser().parse_args(["watch", "-f", str(manifests), *NODE_FLAGS, "--max-syncs", "2", "-o", "json",
                                      "--poll-interval", "10m"])
    out, clock = io.StringIO(), Clock()
    status = watch_cmd.run(args, out=out, err=io.StringIO(), sleep=lambda s: setattr(clock, "now", clock.now + s),
                           clock=clock)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert status == 0 and [(r["reason"], r["full"]) for r in records] == [("initial", True),
                                                                          ("full-sync-period", True)]
    assert clock.now == pytest.approx(1000.0 + 3600.0)


@pytest.mark.parametrize(("argv", "message", "code"), [
    (["--kubeconfig", "kc", "-f", "."], "exactly one source", EXIT_USAGE),
    ([], "exactly one source", EXIT_USAGE),
    (["-f", "no-such-dir"], "no-such-dir: -f: cannot read it: No such file or directory; expected a directory",
     EXIT_INVALID_INPUT),
    (["-f", __file__], f"{__file__}: -f: cannot read it: a file, not a directory; expected a directory",
     EXIT_INVALID_INPUT),
    (["--context", "c", "-f", "."], "--context needs --kubeconfig", EXIT_USAGE),
    (["--kubeconfig", "no-such-kubeconfig"], "no-such-kubeconfig: --kubeconfig: cannot read it: No such file or "
     "directory; expected a kubeconfig (what `kubectl config view --raw` prints)", EXIT_INVALID_INPUT),
    (["-f", ".", "--poll-interval", "0"], "--poll-interval: 0 s: expected at least 0.05 s", EXIT_INVALID_INPUT),
])
def test_usage_errors_name_the_flag(capsys, argv, message, code):
    assert main(["watch", *argv]) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


# --------------------------------------------------------------------------- a live API server


def _svc_json(ns: str, name: str, ip: str, port: int, port_name: str) -> dict:
    return {"kind": "Service", "apiVersion": "v1", "metadata": {"name": name, "namespace": ns},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip], "ipFamilies": ["IPv4"],
                     "ports": [{"name": port_name, "port": port, "protocol": "TCP"}]}}


def _slice_json(ns: str, service_name: str, ips: list[str], port: int, port_name: str) -> dict:
    return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": {"name": f"{service_name}-1", "namespace": ns,
                         "labels": {"kubernetes.io/service-name": service_name}},
            "addressType": "IPv4", "endpoints": [{"addresses": [ip]} for ip in ips],
            "ports": [{"name": port_name, "port": port, "protocol": "TCP"}]}


def test_live_api_server_one_add_and_one_change(tmp_path: Path):
    fake = FakeApiServer().start()
    try:
        fake.add("Service", _svc_json("ns1", "svc1", "172.30.0.41", 80, "p80"))
        fake.add("EndpointSlice", _slice_json("ns1", "svc1", ["10.0.1.1"], 80, "p80"))
        kubeconfig = fake.write_kubeconfig(str(tmp_path / "kubeconfig"))
        records: list[dict] = []

        class Out(io.StringIO):
            """One JSON line per sync: change the server when the expected sync shows up, stop at the end."""

            def flush(self) -> None:
                records[:] = [json.loads(line) for line in self.getvalue().splitlines()]
                restore = records[-1]["restore"]
                if len(records) == 1:
                    fake.add("Service", _svc_json("ns2", "svc2", "172.30.0.42", 8080, "p8080"))
                    fake.add("EndpointSlice", _slice_json("ns2", "svc2", ["10.0.2.1"], 8080, "p8080"))
                elif "10.0.2.1:8080" in restore and "svc2-added" not in self.marks:
                    self.marks.add("svc2-added")
                    fake.modify("EndpointSlice", _slice_json("ns1", "svc1", ["10.0.1.5"], 80, "p80"))
                elif "10.0.1.5:80" in restore:
                    raise KeyboardInterrupt  # what Ctrl-C does: the command stops cleanly

            marks: set[str] = set()

        deadline = time.monotonic() + 15

        def clock() -> float:
            assert time.monotonic() < deadline, f"no sync with the expected rules; got {records}"
            return time.monotonic()

        args = build_parser().parse_args(["watch", "--kubeconfig", kubeconfig, *NODE_FLAGS, "-o", "json",
                                          "--min-sync-period", "300ms", "--poll-interval", "50ms"])
        err = io.StringIO()
        status = watch_cmd.run(args, out=Out(), err=err, clock=clock)
        assert status == 0, err.getvalue()
        assert records[0]["full"] and "10.0.1.1:80" in records[0]["restore"]
        assert all(not r["full"] for r in records[1:])
        added = next(r for r in records if "10.0.2.1:8080" in r["restore"])
        assert "ns2/svc2" in added["changed"]
        assert records[-1]["changed"] == ["ns1/svc1"] and "10.0.1.1:80" not in records[-1]["restore"]
    finally:
        fake.stop()


def test_a_restart_as_another_node_watches_that_node_s_node_object(tmp_path: Path):
    """A new --config file naming another node (hostnameOverride) restarts kube-proxy as that node: its informers
    select the new name, and list everything again; the first sync after the restart has that Node's IP."""
    from tests.watch._objects import node_json

    conf = ("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nhostnameOverride: {}\n"
            "clusterCIDR: 10.0.0.0/8\nnodePortAddresses: [primary]\n")
    fake = FakeApiServer().start()
    try:
        fake.add("Service", _svc_json("ns1", "svc1", "172.30.0.41", 80, "p80"))
        fake.add("EndpointSlice", _slice_json("ns1", "svc1", ["10.0.1.1"], 80, "p80"))
        fake.add("Node", node_json("node-a", "192.168.0.2"))
        fake.add("Node", node_json("node-b", "192.168.0.3"))
        kubeconfig = fake.write_kubeconfig(str(tmp_path / "kubeconfig"))
        config = tmp_path / "kp.conf"
        write(config, conf.format("node-a"))
        records: list[dict] = []

        class Out(io.StringIO):
            def flush(self) -> None:
                records[:] = [json.loads(line) for line in self.getvalue().splitlines()]
                if len(records) == 1:
                    write(config, conf.format("node-b"))

        deadline = time.monotonic() + 15

        def clock() -> float:
            assert time.monotonic() < deadline, f"no second sync; got {records}"
            return time.monotonic()

        args = build_parser().parse_args(["watch", "--kubeconfig", kubeconfig, "--config", str(config), "-o", "json",
                                          "--min-sync-period", "300ms", "--poll-interval", "50ms", "--debounce",
                                          "100ms", "--max-syncs", "2"])
        err = io.StringIO()
        assert watch_cmd.run(args, out=Out(), err=err, clock=clock) == 0, err.getvalue()
        first, second = (r["restore"] for r in records)
        assert "-d 192.168.0.2 -j KUBE-NODEPORTS" in first and "192.168.0.3" not in first
        assert records[1]["full"] and "-d 192.168.0.3 -j KUBE-NODEPORTS" in second and "192.168.0.2" not in second
        assert [q.get("fieldSelector") for q in fake.lists("Node")] == ["metadata.name=node-a",
                                                                         "metadata.name=node-b"]
        assert len(fake.lists("Service")) == 2  # the restarted kube-proxy lists everything again
    finally:
        fake.stop()


def test_a_restart_the_new_config_file_refuses_keeps_the_live_source_as_it_was(tmp_path: Path):
    """The restart's checks come before the source is opened anew: a new file naming another node but refused
    (a bad clusterCIDR) ends the watch without a list of that node's Node."""
    from tests.watch._objects import node_json

    conf = ("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nhostnameOverride: {}\n"
            "clusterCIDR: {}\n")
    fake = FakeApiServer().start()
    try:
        fake.add("Service", _svc_json("ns1", "svc1", "172.30.0.41", 80, "p80"))
        fake.add("EndpointSlice", _slice_json("ns1", "svc1", ["10.0.1.1"], 80, "p80"))
        fake.add("Node", node_json("node-a", "192.168.0.2"))
        kubeconfig = fake.write_kubeconfig(str(tmp_path / "kubeconfig"))
        config = tmp_path / "kp.conf"
        write(config, conf.format("node-a", "10.0.0.0/8"))

        class Out(io.StringIO):
            def flush(self) -> None:
                write(config, conf.format("node-b", "not-a-cidr"))

        deadline = time.monotonic() + 15

        def clock() -> float:
            assert time.monotonic() < deadline, "the watch did not end"
            return time.monotonic()

        args = build_parser().parse_args(["watch", "--kubeconfig", kubeconfig, "--config", str(config), "-o", "json",
                                          "--poll-interval", "50ms", "--debounce", "100ms", "--max-syncs", "2"])
        with pytest.raises(InputError) as refused:
            watch_cmd.run(args, out=Out(), err=io.StringIO(), clock=clock)
        assert "its restart refuses the new file" in refused.value.diagnostics[0].message
        assert [q.get("fieldSelector") for q in fake.lists("Node")] == ["metadata.name=node-a"]
    finally:
        fake.stop()


# --------------------------------------------------------------------------- Ctrl-C, for real


@pytest.mark.parametrize("invalid", [False, True], ids=["valid", "with-an-invalid-object"])
def test_ctrl_c_ends_the_watch_without_a_traceback(manifests: Path, invalid: bool):
    """Ctrl-C is how a watch ends: 0, or 1 when it reported invalid objects (as ``--once`` says)."""
    if invalid:
        write(manifests / "bad.yaml", service("ns3", "bad", "172.30.0.43", 99999, "p"))
    child = subprocess.Popen(
        [sys.executable, "-m", "kubeproxy_sim", "watch", "-f", str(manifests), *NODE_FLAGS, "-o", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # a shell's background job ignores it
    assert child.stdout is not None and child.stderr is not None  # (both piped)
    try:
        first = json.loads(child.stdout.readline())
        assert first["number"] == 1 and first["full"]
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=10) == int(invalid)
        stderr = child.stderr.read()
        assert "Traceback" not in stderr and ("99999 is not in 0-65535" in stderr) == invalid
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_durations_are_go_s() -> None:
    from kubeproxy_sim.durations import parse_duration

    assert parse_duration("2m30s") == 150 and parse_duration("1h1s") == 3601 and parse_duration("500ms") == 0.5
    assert parse_duration("7") == 7 and parse_duration("1.5s") == 1.5
    assert parse_duration("soon") is None and parse_duration("30x") is None and parse_duration("") is None


@pytest.mark.parametrize(("flags", "config", "message"), [
    (["--sync-period", "0"], "", "--sync-period: 0s: must be greater than 0"),
    (["--iptables-sync-period", "0"], "", "--iptables-sync-period: 0s: must be greater than 0"),  # (as typed)
    (["--min-sync-period", "2m", "--sync-period", "1m"], "",
     "--sync-period: 60s is shorter than the minimum sync period (120s); expected at least --min-sync-period"),
    ([], "iptables: {syncPeriod: 10s, minSyncPeriod: 1m}\n",  # the file's values: the file and its field are named
     "kp.conf: iptables.syncPeriod: 10s is shorter than the minimum sync period (60s); expected at least "
     "iptables.minSyncPeriod"),
    (["--min-sync-period", "1m"], "iptables: {syncPeriod: 10s}\n",
     "kp.conf: iptables.syncPeriod: 10s is shorter than the minimum sync period (60s); expected at least "
     "--min-sync-period"),
    (["--min-sync-period", "2m"], "", "--min-sync-period: 120s is longer than the sync period (30s, kube-proxy's "
     "default); expected at most that, or a longer --sync-period"),
    # (a file's 0s is kube-proxy's default, 30s: tests/cli/test_config_file_validation.py)
    ([], "iptables: {syncPeriod: -1s}\n", "kp.conf: iptables.syncPeriod: -1s: must be greater than 0"),
    ([], "iptables: {syncPeriod: soon}\n", "iptables.syncPeriod: 'soon' is not a duration"),
])
def test_sync_periods_kube_proxy_refuses_stop_the_watch(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        flags: list[str], config: str, message: str) -> None:
    (tmp_path / "svc.yaml").write_text(service("ns1", "svc1", "172.30.0.41", 80, "p80"))
    extra = []
    if config:
        path = tmp_path / "kp.conf"
        path.write_text("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n" + config)
        extra = ["--config", str(path)]
    assert main(["watch", "-f", str(tmp_path), *NODE_FLAGS, "--once", *flags, *extra]) == EXIT_INVALID_INPUT
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err


def test_the_config_file_s_sync_periods_apply_and_flags_override_them() -> None:
    import argparse

    from kubeproxy_sim.cli.options import sync_periods

    assert sync_periods(argparse.Namespace(min_sync_period=None, sync_period=None)) == (1.0, 30.0)
    assert sync_periods(argparse.Namespace(min_sync_period=0.0, sync_period=5.0)) == (0.0, 5.0)


# --------------------------------------------------------------------------- a live API server that says no


def test_live_once_gives_up_on_a_refusal_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """--once against a server that refuses the list for good: exit 1 at once (no list asked twice: no retry,
    so no back-off wait) with the server's reason."""
    fake = FakeApiServer().start()
    try:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(Path(fake.write_kubeconfig(str(kubeconfig))).read_text().replace(
            f"server: {fake.url}", f"server: {fake.url}/not-here"))
        status = main(["watch", "--kubeconfig", str(kubeconfig), *NODE_FLAGS, "--once"])
    finally:
        fake.stop()
    asked = Counter(path for path, _ in fake.requests)
    assert asked and set(asked.values()) == {1}, asked  # each kind's list at most once: a refusal is not retried
    captured = capsys.readouterr()
    assert status == EXIT_INVALID_INPUT and captured.out == ""
    # (the in-process fake's handler threads print to the same stderr when their clients hang up)
    lines = [line for line in captured.err.splitlines()
             if line.startswith("kubeproxy-sim:") and "--detect-local-mode" not in line]
    assert len(lines) == 1, lines  # whichever kind was refused first: one line, no "retrying"
    assert re.fullmatch(rf"kubeproxy-sim: {re.escape(fake.url)}/not-here(?P<path>/\S+): (Service|EndpointSlice|Node): "
                        r"list failed: HTTP 404 Not Found: the server could not find /not-here(?P=path)", lines[0])


@pytest.mark.parametrize(("argv", "node", "give_up"), [
    ([*NODE_FLAGS, "--once"], "test-node", watch_cmd.GIVE_UP_ATTEMPTS),
    ([*NODE_FLAGS, "--max-syncs", "3"], "test-node", watch_cmd.GIVE_UP_ATTEMPTS),
    (["--hostname-override", " Node-1 "], "node-1", None),
    ([], None, None),
])
def test_the_live_source_gets_the_node_and_whether_the_run_is_bounded(monkeypatch: pytest.MonkeyPatch,
                                                                      argv: list[str], node: str | None,
                                                                      give_up: int | None):
    from kubeproxy_sim.watch import apiserver

    seen: dict = {}

    class Recorder:
        def __init__(self, kubeconfig: str, **kw: object) -> None:
            seen.update(kw)

        def start(self) -> Recorder:
            return self

        def poll(self, timeout: float) -> None:
            return None

    monkeypatch.setattr(apiserver, "ApiServerSource", Recorder)
    args = build_parser().parse_args(["watch", "--kubeconfig", __file__, *argv])
    watch_cmd._open_source(args, time.sleep, time.monotonic)
    assert seen["node_name"] == node and seen["give_up"] == give_up


def test_the_node_comes_from_the_config_file_without_the_flag(tmp_path: Path):
    config = tmp_path / "kp.conf"
    config.write_text("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
                      "hostnameOverride: Worker-2\n")
    args = build_parser().parse_args(["watch", "--kubeconfig", __file__, "--config", str(config)])
    assert given_node_name(args) == "worker-2"
    args = build_parser().parse_args(["watch", "--kubeconfig", __file__, "--config", str(config),
                                      "--hostname-override", "node-9"])
    assert given_node_name(args) == "node-9"


def test_ctrl_c_before_the_first_sync_is_130_and_prompt_even_during_a_list(tmp_path: Path):
    """A LIST the server holds (a slow or hung API server): Ctrl-C cuts it and says "interrupted" (130)."""
    fake = FakeApiServer().start()
    fake.hold_lists = True  # until release (or stop)
    child = None
    try:
        kubeconfig = fake.write_kubeconfig(str(tmp_path / "kubeconfig"))
        child = subprocess.Popen(
            [sys.executable, "-m", "kubeproxy_sim", "watch", "--kubeconfig", kubeconfig, *NODE_FLAGS],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 20
        while not any(fake.lists(kind) for kind in ("Service", "EndpointSlice", "Node")):
            assert time.monotonic() < deadline and child.poll() is None, "the watch never listed"
            time.sleep(0.02)
        time.sleep(0.2)
        child.send_signal(signal.SIGINT)
        start = time.monotonic()
        assert child.wait(timeout=10) == 130
        assert time.monotonic() - start < 3
        out, err = child.communicate()
        assert out == "" and "Traceback" not in err
    finally:
        fake.stop()
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()


def test_ctrl_c_before_the_first_sync_in_process(manifests: Path):
    args = build_parser().parse_args(["watch", "-f", str(manifests), *NODE_FLAGS])

    def interrupted() -> float:
        raise KeyboardInterrupt

    assert watch_cmd.run(args, out=io.StringIO(), err=io.StringIO(), sleep=lambda _: None, clock=interrupted) == 130


def test_help_says_the_exit_statuses(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit):
        main(["watch", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "130 when Ctrl-C came before the first sync" in text
    assert "1 when the run reported invalid objects (ended by --once, --max-syncs or Ctrl-C)" in text


@pytest.mark.parametrize(("flag", "message"), [
    ("--poll-interval", "--poll-interval: -1 s: expected at least 0.05 s"),
    ("--debounce", "--debounce: -1s is negative; expected a duration of 0 or more (e.g. 30s)"),
    ("--sync-period", "--sync-period: -1s: must be greater than 0"),
    ("--iptables-min-sync-period", "--iptables-min-sync-period: -1s: must be greater than or equal to 0"),
])
def test_a_negative_duration_is_refused_by_the_flag_s_own_check(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               flag: str, message: str) -> None:
    """Not argparse's "expected one argument", which read -1s as an unknown option; a well-formed value out of
    range, exit 1 (kube-proxy's flag takes -1s and its validation refuses it), as --sync-period 0 is."""
    assert main(["watch", "-f", str(tmp_path), "--once", flag, "-1s"]) == EXIT_INVALID_INPUT
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err, captured.err


def test_once_and_max_syncs_exclude_one_another(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Both say when to stop (it ran, exit 0, the one winning silently): README's usage error, 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(["watch", "-f", str(tmp_path), "--once", "--max-syncs", "2"])
    captured = capsys.readouterr()
    assert exit_info.value.code == 2 and captured.out == ""
    assert "argument --max-syncs: not allowed with argument --once" in captured.err


def test_recursive_watches_the_subdirectories_as_kubectl_r_reads_them(manifests: Path):
    """-R/--recursive, as on every other command that takes -f: a Service only in a subdirectory, and its edit."""
    sub = manifests / "more" / "svc3"
    sub.mkdir(parents=True)
    write(sub / "svc3.yaml", service("ns3", "svc3", "172.30.0.43", 80, "p80"))
    status, out, err = run_watch(["-f", str(manifests), *NODE_FLAGS, "--once"])
    assert status == 0 and "ns3/svc3" not in out, err
    actions = [lambda: write(sub / "svc3.yaml", service("ns3", "svc3", "172.30.0.43", 81, "p81"))]
    for flag in ("-R", "--recursive"):
        write(sub / "svc3.yaml", service("ns3", "svc3", "172.30.0.43", 80, "p80"))
        status, out, err = run_watch(["-f", str(manifests), flag, *NODE_FLAGS, *FAST, "--max-syncs", "2"], actions)
        assert status == 0, err
        first, second = (text for _, text in syncs(out))
        assert "ns3/svc3:p80 has no endpoints" in first and "ns3/svc3:p81 has no endpoints" in second


NODEPORT_SERVICE = """apiVersion: v1
kind: Service
metadata: {name: np, namespace: ns1}
spec:
  type: NodePort
  clusterIP: 172.30.0.43
  ports: [{name: p80, port: 80, nodePort: 30080, protocol: TCP}]
"""


@pytest.mark.parametrize("bind", [None, "192.168.0.9"], ids=["loopback", "bind-address"])
def test_after_the_wait_times_out_the_node_ips_are_built_as_rules_builds_them(manifests: Path, bind: str | None,
                                                                              capsys: pytest.CaptureFixture[str]):
    """kubernetes 531be81208e2, cmd/kube-proxy/app/server.go: the wait over without node IPs, detectNodeIPs keeps
    loopback (127.0.0.1, ::1) unless --bind-address names the primary one, and --nodeport-addresses primary skips
    loopback, leaving no addresses: every local one. The watch's config after the 30 s is build_config's, as
    `rules` builds it for the same objects and flags: the same NodePort rule and the same warning."""
    write(manifests / "np.yaml", NODEPORT_SERVICE)
    flags = ["--hostname-override", "test-node", "--nodeport-addresses", "primary", "--cluster-cidr", "10.0.0.0/8",
             *(["--bind-address", bind] if bind else [])]
    args = build_parser().parse_args(["watch", "-f", str(manifests), *flags, *FAST, "--once"])
    out, err, clock = io.StringIO(), io.StringIO(), Clock()
    start = clock.now
    assert watch_cmd.run(args, out=out, err=err, sleep=clock.sleep, clock=clock) == 0
    assert 30 <= clock.now - start < 31
    ((header, rules),) = syncs(out.getvalue())
    assert header == "# sync 1 full"
    nodeports = [line for line in rules.splitlines() if line.endswith("-j KUBE-NODEPORTS")]
    destination = f"-d {bind}" if bind else "-m addrtype --dst-type LOCAL"
    assert len(nodeports) == 1 and destination in nodeports[0]
    assert main(["rules", "-f", str(manifests), *flags]) == 0
    printed, said = capsys.readouterr()
    assert nodeports[0] in printed.splitlines()
    primary = [line for line in said.splitlines() if "--nodeport-addresses" in line]
    assert [line for line in err.getvalue().splitlines() if "--nodeport-addresses" in line] == primary
    assert primary == ([] if bind else [
        "kubeproxy-sim: --nodeport-addresses: warning: primary, but the node has no node IP (none from --node-ip, "
        "--bind-address or its Node object): kube-proxy assumes loopback (\"Can't determine this node's IP, "
        "assuming loopback\"), which primary leaves out, so NodePorts answer on every local address (it logs "
        "\"nodePortAddresses is unset\")"])
    assert "timed out waiting for Node 'test-node' to exist: kube-proxy starts without its node IPs, assuming " \
           "loopback" in err.getvalue()


def test_without_a_name_the_watch_picks_the_node_rules_picks_not_the_machine_s_hostname(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """kube-proxy's default node name is its machine's hostname (os.Hostname, lower-cased), the name of that
    machine's Node. The simulator's machine is no node of the objects, so, as rules and trace, the watch picks the
    first Node by name: here node-a, though the machine is called NODE-B (which names the other Node). Every
    source of the machine's name Python has is NODE-B here, and none is read."""
    import os
    import platform
    import socket

    directory = tmp_path / "manifests"
    directory.mkdir()
    write(directory / "np.yaml", NODEPORT_SERVICE)
    for name, ip in (("node-b", "192.168.0.3"), ("node-a", "192.168.0.2")):
        write(directory / f"{name}.yaml", f"apiVersion: v1\nkind: Node\nmetadata: {{name: {name}}}\n"
                                          f"status: {{addresses: [{{type: InternalIP, address: {ip}}}]}}\n")
    read: list[str] = []

    def host(name: str, value: object) -> Callable[..., object]:
        def read_it(*_: object) -> object:
            read.append(name)
            return value

        return read_it

    uname = os.uname()
    monkeypatch.setattr(socket, "gethostname", host("socket.gethostname", "NODE-B"))
    monkeypatch.setattr(socket, "getfqdn", host("socket.getfqdn", "NODE-B"))
    monkeypatch.setattr(platform, "node", host("platform.node", "NODE-B"))
    monkeypatch.setattr(platform, "uname", host("platform.uname", platform.uname_result(
        uname.sysname, "NODE-B", uname.release, uname.version, uname.machine)))
    monkeypatch.setattr(os, "uname", host("os.uname", os.uname_result(
        (uname.sysname, "NODE-B", uname.release, uname.version, uname.machine))))
    monkeypatch.setenv("HOSTNAME", "NODE-B")
    flags = ["--nodeport-addresses", "primary", "--cluster-cidr", "10.0.0.0/8"]
    status, out, err = run_watch(["-f", str(directory), *flags, *FAST, "--once"])
    assert read == []
    assert status == 0 and "waiting for Node" not in err
    ((_, rules),) = syncs(out)
    nodeports = [line for line in rules.splitlines() if line.endswith("-j KUBE-NODEPORTS")]
    assert nodeports == ['-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be '
                         'the last rule in this chain" -d 192.168.0.2 -j KUBE-NODEPORTS']
    assert main(["rules", "-f", str(directory), *flags]) == 0
    assert nodeports[0] in capsys.readouterr().out.splitlines()


@pytest.mark.parametrize(("kind", "why"), [
    ("a dangling link", 'a symbolic link to "{tmp}/gone", which does not exist'),
    ("/dev/zero", "a device, not a directory"),
    ("a FIFO", "a FIFO, not a directory"),
    ("/proc/sys/net/ipv4/ip_forward", "a file, not a directory"),
])
def test_a_watched_path_that_is_no_directory_is_said_in_cannot_read_s_line(capsys, tmp_path: Path, kind: str,
                                                                           why: str) -> None:
    """watch -f kept its own words: a dangling link 'does not exist', /dev/zero and a FIFO 'is a file' (r5)."""
    path = tmp_path / "src"
    if kind == "a dangling link":
        path.symlink_to(tmp_path / "gone")
    elif kind == "a FIFO":
        os.mkfifo(path)
    else:
        path.symlink_to(kind)
    assert main(["watch", "-f", str(path), "--once"]) == EXIT_INVALID_INPUT
    assert capsys.readouterr().err == (f"kubeproxy-sim: {path}: -f: cannot read it: {why.format(tmp=tmp_path)}; "
                                       "expected a directory of manifests to watch (put a single file in a directory "
                                       "of its own)\n")


def test_standard_input_is_refused_by_name_as_no_directory(capsys) -> None:
    """``watch -f -`` said '-: -f: does not exist': the watch takes no standard input (r5)."""
    with pytest.raises(SystemExit) as exited:
        main(["watch", "-f", "-", "--once"])
    assert exited.value.code == EXIT_USAGE and capsys.readouterr().err.splitlines()[0] == (
        "kubeproxy-sim watch: error: argument -f/--filename: '-': a directory is watched as its files change, not "
        "standard input; expected a directory of manifests to watch (put a single file in a directory of its own)")


def test_a_kubeconfig_given_by_process_substitution_is_read_once(capsys, tmp_path: Path) -> None:
    """``watch --kubeconfig <(cat kc.yaml)`` said 'Invalid kube-config. /dev/fd/63 file is empty': the file was read
    to check its shape, then again by the client (r5); the client is now built from the one reading."""
    from tests.cli._fifo import fifo_giving

    fake = FakeApiServer().start()
    try:
        fake.add("Service", _svc_json("ns1", "svc1", "172.30.0.41", 80, "p80"))
        fake.add("EndpointSlice", _slice_json("ns1", "svc1", ["10.0.1.1"], 80, "p80"))
        text = Path(fake.write_kubeconfig(str(tmp_path / "kubeconfig"))).read_text()
        fifo = tmp_path / "fd63"
        with fifo_giving(fifo, text):
            status = main(["watch", "--kubeconfig", str(fifo), *NODE_FLAGS, "--once", "-o", "json"])
        out, err = capsys.readouterr()
        assert status == 0, err
        assert "10.0.1.1:80" in json.loads(out.splitlines()[0])["restore"]
    finally:
        fake.stop()


def test_a_kubeconfig_given_by_process_substitution_with_a_server_without_a_scheme(capsys, tmp_path: Path) -> None:
    """A server without a scheme is given http://, as kubectl 1.33 gives it whatever the TLS settings (a CA here:
    it was refused); through a pipe, the scheme's check read the file again, found nothing, and went on."""
    from tests.cli._fifo import fifo_giving

    fake = FakeApiServer().start()
    try:
        fake.add("Service", _svc_json("ns1", "svc1", "172.30.0.41", 80, "p80"))
        fake.add("EndpointSlice", _slice_json("ns1", "svc1", ["10.0.1.1"], 80, "p80"))
        bare = fake.url.removeprefix("http://")
        text = Path(fake.write_kubeconfig(str(tmp_path / "kubeconfig"))).read_text()
        assert f"server: {fake.url}\n" in text
        fifo = tmp_path / "fd63"
        with fifo_giving(fifo, text.replace(f"server: {fake.url}\n",
                                            f"server: {bare}\n    certificate-authority-data: Zm9v\n")):
            status = main(["watch", "--kubeconfig", str(fifo), *NODE_FLAGS, "--once", "-o", "json"])
        out, err = capsys.readouterr()
        assert status == 0, err
        assert f"the server '{bare}' has no scheme; using http://{bare}, as kubectl does" in err
        assert "10.0.1.1:80" in json.loads(out.splitlines()[0])["restore"]
    finally:
        fake.stop()


def test_a_kubeconfig_s_relative_paths_are_taken_from_its_directory(tmp_path: Path, monkeypatch) -> None:
    """The client is built from the kubeconfig as read once (not from its file): a relative certificate path is
    still taken from the kubeconfig's directory, as the client's reading of the file takes it."""
    from kubeproxy_sim.watch.apiserver import connect

    (tmp_path / "kc").mkdir()
    (tmp_path / "kc" / "ca.crt").write_text("not read here\n")
    (tmp_path / "kc" / "config").write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n"
        "    certificate-authority: ca.crt\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: x\n"
        "  context:\n    cluster: c\n    user: u\ncurrent-context: x\n")
    monkeypatch.chdir(tmp_path)
    assert connect(str(Path("kc") / "config")).configuration.ssl_ca_cert == str(tmp_path / "kc" / "ca.crt")


def test_a_refreshed_auth_provider_token_is_written_back_to_the_kubeconfig(tmp_path: Path, monkeypatch) -> None:
    """The client refreshes an expired oidc id-token with the refresh token, which an OIDC provider may rotate:
    the new tokens go back to the kubeconfig they came from, as client-go's persister (clientcmd.PersisterForUser)
    writes them, the rest of the file kept; the client sends the new id-token."""
    import base64

    import yaml

    from kubeproxy_sim.watch import oidc
    from kubeproxy_sim.watch.apiserver import connect

    def jwt(expiry: int) -> str:
        claims = base64.urlsafe_b64encode(json.dumps({"exp": expiry}).encode()).decode().rstrip("=")
        return f"e30.{claims}.c2ln"

    def refresh(config: dict[str, str], _idp: object = None) -> dict[str, str]:  # (the token endpoint's answer)
        return {**config, "id-token": jwt(4_102_444_800), "refresh-token": "rotated"}

    monkeypatch.setattr(oidc, "refreshed_config", refresh)
    config = tmp_path / "config"
    config.write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n"
        "users:\n- name: other\n  user:\n    token: t\n- name: u\n  user:\n    auth-provider:\n      name: oidc\n"
        "      config:\n        client-id: kpsim\n        idp-issuer-url: https://idp.invalid\n"
        f"        id-token: {jwt(1)}\n        refresh-token: first\ncontexts:\n- name: x\n  context:\n"
        "    cluster: c\n    user: u\ncurrent-context: x\n")
    before = yaml.safe_load(config.read_text())
    client = connect(str(config))
    after = yaml.safe_load(config.read_text())
    assert after["users"][1]["user"]["auth-provider"]["config"] == {
        "client-id": "kpsim", "idp-issuer-url": "https://idp.invalid", "id-token": jwt(4_102_444_800),
        "refresh-token": "rotated"}
    after["users"][1] = before["users"][1]
    assert after == before
    assert client.configuration.api_key["BearerToken"] == f"Bearer {jwt(4_102_444_800)}"


def test_a_config_given_by_process_substitution_is_not_watched_and_a_note_says_so(manifests: Path, tmp_path: Path,
                                                                                capsys) -> None:
    """``watch --config <(...)`` ended in 'internal error (OSError: [Errno 29] Illegal seek)': the config watch
    read the pipe's bytes again with os.pread. A --config that is no regular file is not watched; a note says so
    once, and the watch goes on."""
    from tests.cli._fifo import fifo_giving

    fifo = tmp_path / "fd63"
    with fifo_giving(fifo, KP_CONFIG.format(cidr="10.0.0.0/8")):
        status = main(["watch", "-f", str(manifests), "--config", str(fifo), "--node-ip", "192.168.0.2/24",
                       "--once"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert [h for h, _ in syncs(out)] == ["# sync 1 full"]
    assert [line for line in err.splitlines() if "fd63" in line] == [
        f"kubeproxy-sim: {fifo}: note: the --config file is a FIFO, not a regular file: the watch does not follow "
        "it for writes (it finds one by reading a regular file's bytes again)"]


def test_the_config_watch_does_not_open_a_named_fifo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A FIFO is known by its path's status and never opened: opening it for reading and closing it at once let a
    writer that waited for a reader on, into EPIPE (review r6). A regular file is opened, and watched."""
    fifo, regular = tmp_path / "kp.conf", tmp_path / "regular.conf"
    os.mkfifo(fifo)
    regular.write_text("kind: KubeProxyConfiguration\n")
    opened: list[str] = []
    real_open = os.open

    def spied_open(path: Any, *args: Any, **kwargs: Any) -> int:
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", spied_open)
    watches = [watch_cmd.ConfigFileWatch(str(path), Clock(), 0.5, "kind: KubeProxyConfiguration\n")
               for path in (fifo, regular)]
    monkeypatch.undo()
    assert opened == [str(regular)]
    assert [len(w.check()) for w in watches] == [1, 0]  # (the FIFO's note; the regular file unchanged)
    for watch in watches:
        watch.close()


def test_the_config_watch_does_not_wait_for_a_writer_of_a_named_fifo(tmp_path: Path) -> None:
    """Watching a named FIFO opened it for reading, which waits for a writer: a restart onto one hung for ever."""
    import threading

    fifo = tmp_path / "kp.conf"
    os.mkfifo(fifo)
    watches: list[watch_cmd.ConfigFileWatch] = []
    opening = threading.Thread(target=lambda: watches.append(
        watch_cmd.ConfigFileWatch(str(fifo), Clock(), 0.5, "kind: KubeProxyConfiguration\n")), daemon=True)
    opening.start()
    opening.join(10)
    try:
        assert watches, "the config watch waits for a writer of the FIFO"
        assert [d.message.split(":")[0] for d in watches[0].check()] == [
            "the --config file is a FIFO, not a regular file"]
        assert watches[0].check() == ()
    finally:
        with contextlib.suppress(OSError):  # (a watch still waiting: a writer that comes and goes lets it go)
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
