"""`rules` split over two processes gives exactly what one process gives: text, ruleset and messages.

The split is forced (threshold 0) on every scenario and on inputs with bad objects in both halves; the
child's failure falls back to one process.
"""

from __future__ import annotations

import argparse
import io
import json
import mmap
import os
import pickle
import time
from collections.abc import Callable
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeproxy_sim.cli import split_sync
from kubeproxy_sim.cli.main import build_parser, main
from kubeproxy_sim.cli.options import REPO_RULESETS
from kubeproxy_sim.netfilter.model import Chain
from kubeproxy_sim.netfilter.render import (
    chain_texts,
    generated_rules_text,
    generated_rules_texts,
    generated_table_text,
    render_ruleset,
    table_text,
)
from kubeproxy_sim.objects.load import Share, decode_documents, service_key, text_documents
from kubeproxy_sim.proxier.rules.context import RuleBuffer
from kubeproxy_sim.proxier.sync import canonical_chain_order, chain_order

SCENARIOS = sorted(p.name for p in REPO_RULESETS.iterdir() if (p / "objects.yaml").is_file())


def rules_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["rules", *argv])


def both_ways(argv: list[str], *, text: bool) -> tuple[split_sync.Synced, split_sync.Synced]:
    """One process, then two (a fallback to one would fail: the split must really happen)."""
    whole = split_sync.load_and_generate(rules_args(*argv), text=text, threshold=10**9)
    with pytest.MonkeyPatch.context() as patch:
        if _service_count(argv) >= 2:
            patch.setattr(split_sync, "_whole", _no_fallback)
        split = split_sync.load_and_generate(rules_args(*argv), text=text, threshold=0)
    return whole, split


def written(synced: split_sync.Synced) -> str:
    """The restore input as ``rules`` writes it (Synced.write_text), which was asked for."""
    out = io.StringIO()
    synced.write_text(out)
    return out.getvalue()


def _no_fallback(*args: object) -> None:
    raise AssertionError("the split fell back to one process")


_R = TypeVar("_R")


def _recorded(function: Callable[..., _R], results: list[_R]) -> Callable[..., _R]:
    """``function``, keeping each of its results in ``results``: the test sees what a patched step returned."""

    def call(*args: object) -> _R:
        result = function(*args)
        results.append(result)
        return result

    return call


def _service_count(argv: list[str]) -> int:
    from kubeproxy_sim.objects.load import read_documents

    paths = split_sync.input_paths(rules_args(*argv))
    return len(set(split_sync._service_names(list(read_documents(paths)))))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_scenario_splits_into_the_same_text(scenario: str) -> None:
    whole, split = both_ways(["--scenario", scenario], text=True)
    assert whole.result is not None and written(whole) == render_ruleset(whole.result.ruleset)
    assert written(split) == written(whole)
    assert split.diagnostics == whole.diagnostics and split.config == whole.config


@pytest.mark.parametrize("scenario", ["bootcamp", "upstream-load-balancer", "ipv6", "upstream-bad-ips"])
def test_a_split_ruleset_is_the_same_ruleset(scenario: str) -> None:
    whole, split = both_ways(["--scenario", scenario], text=False)
    assert split.result is not None and whole.result is not None
    assert split.result == whole.result and split.pieces is None


def _service(name: str, port: object = 80, ip: str | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "ns"},
            "spec": {"clusterIP": ip or f"10.96.0.{int(name[1:]) + 1}", "ports": [{"name": "p", "port": port}]}}


def _slice(service: str, ips: list[str], name: str | None = None) -> dict:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name or f"{service}-x", "namespace": "ns",
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4", "ports": [{"name": "p", "port": 8080}],
            "endpoints": [{"addresses": [ip], "nodeName": "n1"} for ip in ips]}


def _endpoints(service: str, ips: list[str]) -> dict:
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": service, "namespace": "ns"},
            "subsets": [{"addresses": [{"ip": ip} for ip in ips], "ports": [{"name": "p", "port": 8080}]}]}


def _not_ready(endpoint_slice: dict) -> dict:
    """The slice with its endpoints not ready (a copy of an address another slice lists ready: a warning)."""
    for endpoint in endpoint_slice["endpoints"]:
        endpoint["conditions"] = {"ready": False}
    return endpoint_slice


def _messy_manifests(tmp_path: Path) -> list[str]:
    """Good and bad objects of both halves interleaved, across a List file and a YAML file."""
    items: list[object] = [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
                            "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.10"}]}}]
    for i in range(12):
        name = f"s{i:02d}"
        items.append(_service(name, port=70000 if i in (1, 10) else 80))
        items.append(_slice(name, [f"10.1.{i}.1", f"10.1.{i}.2", "not-an-ip" if i in (2, 9) else f"10.1.{i}.3"]))
    items += [_service("s03"), _endpoints("s05", ["10.2.0.1"]), _endpoints("s11", ["10.2.0.2"]),
              _endpoints("s99", ["10.2.0.3"]), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
              {"apiVersion": "v1", "kind": "Node", "metadata": {"name": 5}}, "junk", _slice("s07", ["10.3.0.1"], "odd"),
              _not_ready(_slice("s03", ["10.1.3.2"], "s03-y")), _not_ready(_slice("s11", ["10.1.11.1"], "s11-y"))]
    listing = tmp_path / "a.json"
    listing.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    more = tmp_path / "b.yaml"
    more.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: s04, namespace: ns}\n"
                    "spec: {clusterIP: 10.96.1.4, ports: [{port: 81}]}\n---\n[not, an, object]\n---\n"
                    "apiVersion: v1\nkind: Service\nmetadata: {name: s08, namespace: ns}\n"
                    "spec: {clusterIP: 10.96.1.8, clusterIP: 10.96.1.9, ports: [{port: 81}]}\n---\n"
                    "kind: Service\nmetadata: {name: bad: yaml\n")
    return ["-f", str(listing), "-f", str(more)]


def test_messages_of_both_halves_come_in_input_order(tmp_path: Path) -> None:
    argv = [*_messy_manifests(tmp_path), "--hostname-override", "n1", "--cluster-cidr", "10.0.0.0/8"]
    whole, split = both_ways(argv, text=True)
    assert len(whole.diagnostics) >= 10 and any("70000" in str(d) for d in whole.diagnostics)
    assert [d.object for d in whole.diagnostics if "picks one copy" in d.message] == ["ns/s03", "ns/s11"]
    assert [str(d) for d in split.diagnostics] == [str(d) for d in whole.diagnostics]
    assert written(split) == written(whole)
    whole_rs, split_rs = both_ways(argv, text=False)
    assert split_rs.result == whole_rs.result and split_rs.diagnostics == whole.diagnostics


@pytest.mark.parametrize("sizes, large", [
    ([300] * 8, True),  # each share is large alone: neither waits for the other's count
    ([1100] + [1] * 7, True),  # the parent's share alone is (it reads the child's count only at the end)
    ([1] * 7 + [1100], True),  # the child's share alone is
    ([130] * 8, True),  # only together: each share needs the other's count
    ([100] * 8, False),
])
def test_large_cluster_mode_is_decided_on_the_whole_cluster(tmp_path: Path, sizes: list[int], large: bool) -> None:
    items: list[object] = []
    for n, size in enumerate(sizes):
        ips = [f"10.{n}.{i // 250}.{i % 250 + 1}" for i in range(size)]
        items += [_service(f"s{n:02d}"), *(_slice(f"s{n:02d}", ips[at:at + 500], f"s{n:02d}-{at}")  # 1000 a slice
                                           for at in range(0, size, 500))]
    listing = tmp_path / "large.json"
    listing.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    whole, split = both_ways(["-f", str(listing)], text=True)
    assert written(split) == written(whole)
    endpoint_comments = any(line.startswith("-A KUBE-SEP-") and "-m comment" in line
                            for line in written(whole).split("\n"))
    assert endpoint_comments != large  # a large cluster's endpoint chains have no comments


def test_the_command_splits_and_exits_as_before(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["rules", *_messy_manifests(tmp_path), "--hostname-override", "n1"]
    assert main(argv) == 1
    expected = capsys.readouterr()
    monkeypatch.setattr(split_sync, "SPLIT_THRESHOLD", 0)
    monkeypatch.setattr(split_sync, "_whole", _no_fallback)  # the split must really happen
    assert main(argv) == 1
    assert capsys.readouterr() == expected


def test_rules_too_large_for_the_shared_mapping_come_through_the_pipe(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    argv = [*_messy_manifests(tmp_path), "--hostname-override", "n1"]
    monkeypatch.setattr(split_sync, "HANDOVER_BYTES", mmap.PAGESIZE)
    received: list[object] = []
    receive = split_sync._receive
    monkeypatch.setattr(split_sync, "_receive", _recorded(receive, received))
    whole, split = both_ways(argv, text=True)
    assert written(split) == written(whole) and split.diagnostics == whole.diagnostics
    assert None in received  # the child said its rules did not fit, and sent them through the pipe


def test_no_room_for_the_shared_mapping_is_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: object) -> None:
        raise OSError(12, "Cannot allocate memory")

    argv = [*_messy_manifests(tmp_path), "--hostname-override", "n1"]
    whole = split_sync.load_and_generate(rules_args(*argv), text=True, threshold=10**9)
    monkeypatch.setattr(split_sync.mmap, "mmap", refused)
    monkeypatch.setattr(split_sync.os, "fork", _no_fallback)  # (no fork either)
    split = split_sync.load_and_generate(rules_args(*argv), text=True, threshold=0)
    assert written(split) == written(whole) and split.diagnostics == whole.diagnostics


def test_a_failing_child_falls_back_to_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fork happens (six services, threshold 2), the child fails, and the one-process fallback then gives
    exactly the one-process result."""
    scenario = "upstream-overall-iptables-rules"
    assert _service_count(["--scenario", scenario]) >= 2
    ran = tmp_path / "child-ran"

    def broken(*args: object) -> None:
        ran.touch()  # (the child is another process: a file is what the test can see of it)
        raise RuntimeError("the child breaks")

    splits: list[object] = []
    wholes: list[object] = []
    split_once, whole_once = split_sync._split, split_sync._whole
    whole = split_sync.load_and_generate(rules_args("--scenario", scenario), text=True, threshold=10**9)
    monkeypatch.setattr(split_sync, "_child", broken)
    monkeypatch.setattr(split_sync, "_split", _recorded(split_once, splits))
    monkeypatch.setattr(split_sync, "_whole", _recorded(whole_once, wholes))
    split = split_sync.load_and_generate(rules_args("--scenario", scenario), text=True, threshold=2)
    assert ran.exists() and splits == [None] and len(wholes) == 1  # forked, the child failed, one process did it
    assert written(split) == written(whole) and split.diagnostics == whole.diagnostics


def test_shares_partition_services_with_their_slices() -> None:
    text = json.dumps({"kind": "List", "apiVersion": "v1",
                       "items": [_service("s01"), _slice("s01", ["10.1.0.1"]), _service("s02"),
                                 _slice("s02", ["10.1.0.2"]), _endpoints("s02", ["10.1.0.3"]),
                                 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}]})
    documents = list(text_documents(text, "m.json"))
    low, high = Share("", "ns/s02"), Share("ns/s02", None)
    assert low.owns("ns/s01") and not low.owns("ns/s02") and high.owns("ns/s02") and not high.owns("ns/s01")
    lower, upper = decode_documents(documents, low).cluster, decode_documents(documents, high).cluster
    assert [n.name for n in lower.nodes] == [n.name for n in upper.nodes] == ["n1"]  # everyone's object
    assert [s.name for s in lower.services] == ["s01"] and [s.name for s in upper.services] == ["s02"]
    assert {s.service_name for s in lower.endpoint_slices} == {"s01"}
    assert {s.service_name for s in upper.endpoint_slices} == {"s02"}
    assert service_key(_slice("s07", [])) == "ns/s07" and service_key({"kind": "Node"}) is None


_names = st.sampled_from(["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-", "KUBE", "KUBE.", "KUBEX", "INPUT", "A",
                          "kube-x", "KUBE-SEP-AAAA", "KUBE-SVC-ZZ", "KUBE-MARK-MASQ", "Z", "KUBE-\u00e9"])


@given(st.lists(_names, unique=True))
def test_canonical_chain_order_is_the_sort_by_chain_order(names: list[str]) -> None:
    assert canonical_chain_order(names) == sorted(names, key=chain_order)
    texts = [(n, f"-A {n} -j X") for n in names]
    assert [t[0] for t in canonical_chain_order(texts, itemgetter(0))] == sorted(names, key=chain_order)
    chains = [Chain.of_specs(n, ["-j X"] if i % 2 else []) for i, n in enumerate(names)]
    generated = generated_table_text("nat", [c.name for c in chains],
                                     [text for c in chains if (text := "\n".join(r.text() for r in c.rules))])
    assert generated == table_text("nat", chain_texts(chains))  # one declaration format


_specs = st.lists(st.sampled_from(["-j A", "-j B", "-s 10.0.0.1 -j C"]), max_size=3)
_buffers = st.fixed_dictionaries({"KUBE-SERVICES": _specs, "KUBE-SEP-X": _specs, "KUBE-FORWARD": _specs})


@given(_buffers, _buffers)
def test_extending_a_buffer_is_writing_after_it(first: dict[str, list[str]], second: dict[str, list[str]]) -> None:
    def buffer(*parts: dict[str, list[str]]) -> RuleBuffer:
        out = RuleBuffer()
        for part in parts:
            for chain, specs in part.items():
                out.nat[chain].extend(specs)
                out.filter[chain].extend(specs[:1])
            out.nat_chains.append(f"C{len(out.nat_chains)}")
        return out

    joined = buffer(first)
    joined.extend(buffer(second))
    once = buffer(first, second)
    assert {k: v for k, v in joined.nat.items() if v} == {k: v for k, v in once.nat.items() if v}
    assert {k: v for k, v in joined.filter.items() if v} == {k: v for k, v in once.filter.items() if v}
    assert joined.nat_chains == ["C0", "C0"] and len(once.nat_chains) == 2


def test_a_parent_that_sends_its_count_after_the_child_finished_still_splits(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Both shares large alone: the child needs no count, finishes first, and must still read the parent's
    (else the parent's late write meets a closed pipe and it falls back to one process)."""
    items: list[object] = []
    for n in range(8):
        ips = [f"10.{n}.{i // 250}.{i % 250 + 1}" for i in range(300)]
        items += [_service(f"s{n:02d}"), _slice(f"s{n:02d}", ips, f"s{n:02d}-0")]
    listing = tmp_path / "large.json"
    listing.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    parent, send = os.getpid(), split_sync._send

    def late_in_the_parent(stream: BinaryIO, value: object) -> None:
        if os.getpid() == parent and isinstance(value, int):
            time.sleep(0.5)  # the child is done by then
        send(stream, value)

    monkeypatch.setattr(split_sync, "_send", late_in_the_parent)
    whole, split = both_ways(["-f", str(listing)], text=True)
    assert written(split) == written(whole)


def test_chains_rendered_in_one_loop_read_as_each_one_alone() -> None:
    """generated_rules_texts (the split's per-service chains) writes what generated_rules_text writes per chain:
    no rule, a bare rule (``-A NAME``, through the chain's own rendering), several rules."""
    rules = {"KUBE-SEP-A": ["-s 10.0.0.1 -j KUBE-MARK-MASQ", "-m tcp -p tcp -j DNAT --to-destination 10.0.0.1:80"],
             "KUBE-SVC-B": ["", "-j KUBE-SEP-A"], "KUBE-SVC-C": []}
    names = ["KUBE-SEP-A", "KUBE-SVC-B", "KUBE-SVC-C", "KUBE-SVC-D"]
    assert generated_rules_texts(names, rules.get) == [generated_rules_text(n, rules.get(n, ())) for n in names]
    assert generated_rules_texts(names, rules.get)[1] == "-A KUBE-SVC-B\n-A KUBE-SVC-B -j KUBE-SEP-A"


_chain_specs = st.lists(st.sampled_from(["-j A", "", "-s 10.0.0.1 -j C"]), max_size=3)


@given(st.dictionaries(_names, _chain_specs))
def test_rule_texts_sorted_as_strings_are_in_canonical_chain_order(chains: dict[str, list[str]]) -> None:
    """A split sync orders its chains' rule lines without their names (_in_chain_order): names that are prefixes
    of others, bare rules (``-A NAME``) and the chains canonical_chain_order puts first keep the names' order."""
    texts = {name: generated_rules_text(name, specs) for name, specs in chains.items()}
    expected = [texts[name] for name in canonical_chain_order(list(chains)) if texts[name]]
    assert split_sync._in_chain_order(sorted(text for text in texts.values() if text), "-A ") == expected
    assert split_sync._in_chain_order(sorted(chains), "") == canonical_chain_order(list(chains))


def _crossed(blocks: split_sync._Blocks) -> tuple[split_sync._Blocks, split_sync._Blocks]:
    """``blocks`` as the parent reads them from the shared mapping, and through the pipe (pickled)."""
    with mmap.mmap(-1, 1 << 16) as handover:
        placed = split_sync._placed(handover, blocks)
        with memoryview(handover) as mapped:
            read = placed.read(mapped)
    return read, pickle.loads(pickle.dumps(blocks))


@pytest.mark.parametrize("texts", [[], ["-A KUBE-SVC-B"], ["-A KUBE-SEP-A -j X\n-A KUBE-SEP-A", "-A KUBE-SVC-B"],
                                   ["-A KUBE-SEP-A -m comment --comment \"a\0\0\0b\"\n", "\0\0-A KUBE-SVC-B \u00e9"]])
@pytest.mark.parametrize("per_chunk", [1, 2, 4096])
def test_rendered_chains_cross_as_they_were(texts: list[str], per_chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chunks a child writes (one chain a chunk or all in one) and the strings it pickles read back as the
    same lines, even where a line holds parts of the separator at either end."""
    monkeypatch.setattr(split_sync, "TEXT_CHUNK", per_chunk)
    blocks = split_sync._Blocks(texts)
    assert _crossed(blocks) == (blocks, blocks)


def test_a_rule_that_holds_the_separator_is_refused() -> None:
    """Cut at the separator, its chain would be two: the parent then does the sync alone (see _split)."""
    blocks = split_sync._Blocks([f"-A KUBE-SEP-A -m comment --comment a{split_sync._SEPARATOR}b"])
    with pytest.raises(pickle.UnpicklingError):
        _crossed(blocks)
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(pickle.dumps(blocks))
