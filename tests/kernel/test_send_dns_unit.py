"""netns send's names (no root) resolve with the source pod's own resolver (dnsPolicy, dnsConfig), the one the
simulator's send builds for the same pod, recorded in the state by netns up; an older state reads as before."""

from __future__ import annotations

import argparse
import copy
import json
import random
import subprocess
from pathlib import Path
from unittest import mock

import pytest

from kubeproxy_sim.errors import InputError
from kubeproxy_sim.kernel.plan import plan
from kubeproxy_sim.kernel.send import Tally, resolve_destination, resolve_source, tally, topology_record
from kubeproxy_sim.kernel.state import read_state, resolver_of, resolver_record, write_state
from kubeproxy_sim.objects.model import DNSPolicy
from kubeproxy_sim.simulator.dns import CLUSTER, OUTSIDE, UNASKED, Resolver
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.send import parse_destination, parse_source
from tests.simulator.builders import BASE, load, objects
from tests.simulator.test_pod_dns import KUBE_DNS, _client, _kube_dns

CLIENTS = [
    _client("first", "10.244.1.20", {"dnsPolicy": "ClusterFirst"}),
    _client("plain", "10.244.1.21", {"dnsPolicy": "Default"}),
    _client("custom", "10.244.1.22", {"dnsPolicy": "None", "dnsConfig": {
        "nameservers": [KUBE_DNS], "searches": ["other.svc.cluster.local", "svc.cluster.local"],
        "options": [{"name": "ndots", "value": "2"}]}}),
    _client("bare", "10.244.1.23", {"dnsPolicy": "None", "dnsConfig": {"nameservers": [KUBE_DNS]}}),
    _client("elsewhere", "10.244.1.24", {"dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.1.1.1"]}}),
    _client("six", "10.244.1.25", {"dnsPolicy": "None", "dnsConfig": {"nameservers": ["fd00::53"]}}),
    _client("one", "10.244.1.26", {"dnsConfig": {"searches": ["other.svc.cluster.local"],
                                                 "options": [{"name": "ndots", "value": "1"}]}}),
    _client("hostdns", "192.168.0.11", {"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"}, node="node2"),
    _client("edns", "10.244.1.27", {"dnsConfig": {"options": [{"name": "edns0"}]}}),
]
OTHER_WEB = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "other"},
             "spec": {"clusterIP": "10.96.0.30", "selector": {"app": "web"}, "ports": [{"port": 80}]}}
SOURCES = ["pod/default/client", *(f"pod/default/{c['metadata']['name']}" for c in CLIENTS), "node/node1",
           "external", "10.244.1.99"]
NAMES = ["web:80", "web.default:80", "web.other:80", "web.default.svc.cluster.local:80", "web.other.svc:80",
         "web-1.web-headless.default:8080", "web-headless.default:8080", "nope:80", "ext.default:80",
         "10-244-2-10.default.pod.cluster.local:8080", "kube-dns.kube-system:53"]


def _docs() -> list[dict]:
    return objects(extra=[*_kube_dns("web-1"), OTHER_WEB, *CLIENTS])


def stored_state() -> dict:
    """The state record ``netns up`` stores for :func:`_docs` (one extra address source), as a later command reads
    it back (through JSON); shared with the responder's unit tests, which answer for the same cluster."""
    cluster = load(_docs())
    record = topology_record(plan("dns", cluster, BASE, ("10.244.1.99",)), cluster)
    return json.loads(json.dumps(dict(record, name="dns")))


@pytest.fixture(scope="module")
def state() -> dict:
    return stored_state()


@pytest.fixture(scope="module")
def sim() -> Simulator:
    return Simulator(load(_docs()), BASE, rng=random.Random(1))  # no --hosts: netns send has none


def test_netns_up_records_each_pod_s_resolver_as_send_builds_it(state: dict, sim: Simulator) -> None:
    keys = {p["key"]: p for p in state["pods"].values()}
    for key in ["default/client", *(f"default/{c['metadata']['name']}" for c in CLIENTS)]:
        recorded = resolver_of(state["resolvers"][keys[key]["resolver"]])
        assert recorded == sim.resolver(sim.client("pod", key)), key
    kinds = {(r["policy"], r["scope"]) for r in state["resolvers"]}
    assert kinds >= {("ClusterFirst", CLUSTER), ("Default", OUTSIDE), ("None", CLUSTER), ("None", OUTSIDE),
                     ("None", UNASKED), ("ClusterFirstWithHostNet", CLUSTER)}
    # each distinct resolver once: the many ClusterFirst pods of default share one record
    assert len(state["resolvers"]) == len({json.dumps(r, sort_keys=True) for r in state["resolvers"]}) < \
        len(state["pods"])
    assert "resolver" not in state["pods"]["10.244.1.99"]  # a client address: no pod to send, no resolv.conf


@pytest.mark.parametrize("source", SOURCES)
def test_netns_send_resolves_every_name_as_send_for_the_same_source(state: dict, sim: Simulator,
                                                                    source: str) -> None:
    for name in NAMES:
        client = parse_source(sim, source)
        try:
            expected = parse_destination(sim, client, name).addresses
        except InputError:
            expected = ()
        if expected:  # a headless Service's several too, in send's order: each connection goes to one
            dest = resolve_destination(state, name, resolve_source(state, source))
            assert dest.choices() == tuple(dict.fromkeys(expected)), (source, name)
            continue
        with pytest.raises(InputError) as caught:
            resolve_destination(state, name, resolve_source(state, source))
        assert "--hosts (" not in str(caught.value)  # no advice names a flag netns send does not have


@pytest.mark.parametrize(("source", "name", "address"), [
    ("pod/default/custom", "web:80", "10.96.0.30"),  # its first search domain is other's
    ("pod/default/first", "web:80", "10.96.0.10"),
    ("pod/default/custom", "web.default:80", "10.96.0.10"),  # 1 dot, ndots 2: the search list first
    ("pod/default/one", "web.other:80", "10.96.0.30"),
    ("pod/default/hostdns", "web:80", "10.96.0.10"),
    ("10.244.1.99", "web:80", "10.96.0.10"),  # a client address in a pod range: default's path, as send
])
def test_the_search_list_and_ndots_are_the_pod_s(state: dict, source: str, name: str, address: str) -> None:
    assert resolve_destination(state, name, resolve_source(state, source)).ip == address


def test_what_the_pod_s_resolver_cannot_answer_is_refused_with_its_reason(state: dict) -> None:
    with pytest.raises(InputError) as caught:
        resolve_destination(state, "web.default:80", resolve_source(state, "pod/default/plain"))
    assert str(caught.value) == (
        "--to: 'web.default:80': pod/default/plain has dnsPolicy Default: it asks its node's nameservers (the "
        "node's resolv.conf, outside the simulation), not kube-dns, so cluster names do not resolve for it, and "
        "this command knows no other names (it has no --hosts): give the address as IP:PORT")
    with pytest.raises(InputError, match=r"\(fd00::53, dnsPolicy None\) is IPv6, and the simulation is IPv4: it "
                       "cannot ask it; give the address as IP:PORT"):
        resolve_destination(state, "web.default:80", resolve_source(state, "pod/default/six"))
    with pytest.raises(InputError) as caught:
        resolve_destination(state, "web.default:80", resolve_source(state, "pod/default/bare"))
    assert str(caught.value) == (
        "--to: 'web.default:80': no such name (NXDOMAIN); expected a Service (NAME.NAMESPACE) (pod/default/bare's "
        "resolv.conf: no search domains, ndots:1, from its dnsPolicy None and dnsConfig)")


RESOLVERS = [
    Resolver(DNSPolicy.CLUSTER_FIRST, (KUBE_DNS,), ("default.svc.cluster.local", "svc.cluster.local",
                                                    "cluster.local"), 5, KUBE_DNS),
    Resolver(DNSPolicy.DEFAULT, (), ("corp.example",), 1, None, OUTSIDE, "pod/default/p has dnsPolicy Default"),
    Resolver(DNSPolicy.NONE, ("fd00::53",), (), 15, None, UNASKED, "the first nameserver is IPv6"),
    Resolver(DNSPolicy.CLUSTER_FIRST_WITH_HOST_NET, ("1.1.1.1",), ("a.example.",), 0, "1.1.1.1", OUTSIDE, "x"),
    Resolver(DNSPolicy.CLUSTER_FIRST, (KUBE_DNS,), (), 5, KUBE_DNS, edns0=True),
]


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_a_resolver_round_trips_through_the_state_file(tmp_path: Path, resolver: Resolver) -> None:
    write_state(tmp_path, {"name": "rt", "resolvers": [resolver_record(resolver)]})
    stored = read_state(tmp_path, "rt")
    assert stored is not None and resolver_of(stored["resolvers"][0]) == resolver


def _old(state: dict) -> dict:
    """The state as netns up wrote it before it recorded resolvers."""
    old = copy.deepcopy(state)
    del old["resolvers"]
    for pod in old["pods"].values():
        pod.pop("resolver", None)
    return old


def test_a_state_without_resolvers_resolves_as_before_and_says_so(state: dict) -> None:
    old = _old(state)
    # as before: the pod's namespace's ClusterFirst path, whatever its policy (custom's would give other/web)
    for source in ("pod/default/custom", "pod/default/plain", "pod/default/client"):
        dest = resolve_destination(old, "web:80", resolve_source(old, source))
        assert dest.ip == "10.96.0.10"
        assert dest.note == (
            "cluster 'dns' was built before `netns up` recorded each pod's resolver: the name is resolved with the "
            f"search path of dnsPolicy ClusterFirst in namespace default, whatever {source}'s dnsPolicy and "
            "dnsConfig say (`netns down` and `netns up` again to use them)")
    assert resolve_destination(old, "web:80", resolve_source(old, "node/node1")).note == ""  # nothing changed
    assert resolve_destination(old, "10.96.0.10:80", resolve_source(old, "pod/default/custom")).note == ""
    assert resolve_destination(state, "web:80", resolve_source(state, "pod/default/client")).note == ""


def test_a_pod_with_options_edns0_asks_with_glibc_s_opt_record_as_recorded(state: dict,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """netns up records the resolver's edns0, and netns send's lookup child is told to add glibc's OPT record
    (its EDNS0 argument), so the responder sizes the answer as send does; a resolver recorded before edns0 was
    kept asks without one, as it did then."""
    from kubeproxy_sim.kernel import send as kernel_send

    source = resolve_source(state, "pod/default/edns")
    dest = resolve_destination(state, "web:80", source)
    first = resolve_destination(state, "web:80", resolve_source(state, "pod/default/first")).query
    assert dest.query is not None and dest.query.edns0 and first is not None and not first.edns0
    argv: list[list[str]] = []

    def run(netns: str, command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        argv.append(command)
        return subprocess.CompletedProcess(command, 0, "[]", "")

    monkeypatch.setattr(kernel_send.nsexec, "run", run)
    kernel_send.lookup(source, dest, 1, 1.0, seed=3)
    assert argv[0][argv[0].index(kernel_send.DNS_QUERY) + 1:] == [
        KUBE_DNS, "53", "A", "1", "1.0", "", "0", "3", "edns0", *dest.query.names]
    old = copy.deepcopy(state)
    for record in old["resolvers"]:
        del record["edns0"]
    query = resolve_destination(old, "web:80", resolve_source(old, "pod/default/edns")).query
    assert query is not None and not query.edns0


def test_netns_send_prints_the_old_state_note_once(state: dict, capsys: pytest.CaptureFixture[str]) -> None:
    from kubeproxy_sim.cli import netns_cmd

    source = resolve_source(_old(state), "pod/default/custom")
    dest = resolve_destination(_old(state), "web:80", source)
    found = tally(source, dest, "tcp", [{"error": "timeout"}])
    assert isinstance(found, Tally) and found.note == dest.note != ""
    args = argparse.Namespace(name="dns", src="pod/default/custom", dst="web:80", proto="tcp", count=1, seed=None,
                              timeout=1.0, output="json", quiet=False, color="never", verbose=0)
    with mock.patch("kubeproxy_sim.kernel.env.require"), \
            mock.patch.object(netns_cmd, "_state", return_value=_old(state)), \
            mock.patch("kubeproxy_sim.kernel.send.send", return_value=found):
        assert netns_cmd.run_send(args) == 0
    assert capsys.readouterr().err.count("was built before `netns up` recorded each pod's resolver") == 1
