"""A watch warns of an endpoint two EndpointSlices of one Service list in copies kube-proxy picks between at random,
as a one-shot load does (objects.overlap): at the sync where it appears, once while it holds, again if it comes
back. Driven through the sync loop (memory), ``watch -f DIR`` and ``watch --kubeconfig`` on the fake API server."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from kubeproxy_sim.cli import watch_cmd
from kubeproxy_sim.cli.main import build_parser
from kubeproxy_sim.errors import Severity
from kubeproxy_sim.objects import load_paths
from kubeproxy_sim.objects.model import AddressType, Endpoint, EndpointConditions, Node
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.watch import Kind, MemorySource
from kubeproxy_sim.watch.sync_loop import LoopTiming, SyncLoop

from ._fake_apiserver import FakeApiServer
from ._objects import eps, slice_json, svc, svc_json

CONFIG = ProxyConfig(node_name="n1", node_ips=("192.168.0.1/24",), cluster_cidrs=("10.0.0.0/8",))
NODE_FLAGS = ["--hostname-override", "n1", "--node-ip", "192.168.0.1/24", "--cluster-cidr", "10.0.0.0/8"]
RANDOM = "picks one copy at random on each sync"


def _not_ready(es, ip: str = "10.1.0.7"):
    """The slice with its copy of ``ip`` not ready (and not serving), the others as they were."""
    copy = Endpoint(addresses=(ip,), conditions=EndpointConditions(ready=False, serving=False))
    return dataclasses.replace(es, endpoints=tuple(copy if e.addresses == (ip,) else e for e in es.endpoints))


# --------------------------------------------------------------------------- the sync loop


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert self.now < 1000.0, "the watch never got to the expected syncs"
        self.now += seconds


def _loop_syncs(changes: list[Callable[[MemorySource], None]], objects=()) -> list[list[str]]:
    """The overlap warnings of each sync: the first of ``objects``, then one after each change."""
    clock = Clock()
    source = MemorySource(objects)
    loop = SyncLoop(CONFIG, clock=clock, timing=LoopTiming(min_sync_period=1.0))
    said = []
    for change in [lambda _source: None, *changes]:
        change(source)
        loop.feed(source.poll())
        report = loop.sync_if_due()
        assert report is not None
        said.append([str(d) for d in report.overlaps])
        assert all(d.severity is Severity.WARNING for d in report.overlaps)
        clock.now += 5
    return said


WEB = svc("web", "172.30.0.10")
WEB_A = eps("web-a", "web", ["10.1.0.7", "10.1.0.8"])
WEB_B = eps("web-b", "web", ["10.1.0.7"])
OTHER = (svc("other", "172.30.0.20"), eps("other-1", "other", ["10.2.0.1"]))


def test_said_at_the_sync_it_appears_once_while_it_holds_and_again_when_it_comes_back():
    said = _loop_syncs([
        lambda s: s.apply(_not_ready(WEB_B)),  # appears
        lambda s: s.apply(eps("other-1", "other", ["10.2.0.2"])),  # another Service changes
        lambda s: s.apply(dataclasses.replace(_not_ready(WEB_B), endpoints=(
            *_not_ready(WEB_B).endpoints, *eps("x", "web", ["10.1.0.9"]).endpoints))),  # web changes, not the overlap
        lambda s: s.apply(WEB_B),  # the copies agree: gone
        lambda s: s.apply(_not_ready(WEB_B)),  # back
        lambda s: s.delete(Kind.ENDPOINT_SLICE, WEB_B.key),  # gone with the slice
    ], objects=(WEB, WEB_A, *OTHER, Node("n1")))
    warning = ("Service default/web: warning: endpoint 10.1.0.7 is in EndpointSlices web-a (ready=true, "
               "serving=true) and web-b (ready=false, serving=false), neither terminating: kube-proxy's IPv4 "
               "proxier " + RANDOM + "; this simulation uses web-b's (the slice whose name sorts last)")
    assert [[w.removeprefix("<memory>: ") for w in sync] for sync in said] == [
        [], [warning], [], [], [], [warning], []]


def test_the_initial_sync_says_every_overlap_the_lists_hold():
    said = _loop_syncs([lambda s: s.apply(eps("other-1", "other", ["10.2.0.3"]))],
                       objects=(WEB, WEB_A, _not_ready(WEB_B), *OTHER, Node("n1")))
    assert [len(sync) for sync in said] == [1, 0]
    assert "endpoint 10.1.0.7 is in EndpointSlices web-a" in said[0][0]


def test_a_copy_that_changes_again_is_a_new_warning():
    terminating = Endpoint(addresses=("10.1.0.7",),
                           conditions=EndpointConditions(ready=False, serving=True, terminating=False))
    said = _loop_syncs([lambda s: s.apply(dataclasses.replace(WEB_B, endpoints=(terminating,)))],
                       objects=(WEB, WEB_A, _not_ready(WEB_B), Node("n1")))
    assert [len(sync) for sync in said] == [1, 1]
    assert "web-b (ready=false)" in said[1][0]  # serving now agrees; only ready differs


def test_slices_of_the_other_family_are_not_this_proxier_s_to_warn_of():
    a, b = (dataclasses.replace(eps(name, "web", ["fd00::7"]), address_type=AddressType.IPV6)
            for name in ("web-a", "web-b"))
    assert _loop_syncs([], objects=(WEB, a, _not_ready(b, "fd00::7"), Node("n1"))) == [[]]


# --------------------------------------------------------------------------- watch -f DIR


SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ns}
spec: {clusterIP: 172.30.0.10, ports: [{name: p, port: 80}]}
"""


def _slice(name: str, ready: str, *more: str) -> str:
    return (f"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
            f"metadata: {{name: {name}, namespace: ns, labels: {{kubernetes.io/service-name: web}}}}\n"
            f"addressType: IPv4\nports: [{{name: p, port: 8080}}]\n"
            f"endpoints:\n- {{addresses: [10.1.0.7], conditions: {{ready: {ready}}}}}\n"
            + "".join(f"- {{addresses: [{ip}]}}\n" for ip in more))


def _write(path: Path, text: str) -> None:
    """Write and move the mtime on, so the directory source sees a change even within one clock tick."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


class _Recording(io.StringIO):
    """The watch's stdout: at each sync's flush, what stderr said so far is kept, then the next edit is made."""

    def __init__(self, err: io.StringIO, actions: Sequence[Callable[[], object]]) -> None:
        super().__init__()
        self.err, self.actions = err, actions  # (an edit's return value, if any, is not used)
        self.said: list[str] = []

    def flush(self) -> None:
        super().flush()
        self.said.append(self.err.getvalue())
        if len(self.said) <= len(self.actions):
            self.actions[len(self.said) - 1]()


def test_watch_directory_says_it_at_the_sync_it_appears_and_as_rules_would(tmp_path: Path):
    _write(tmp_path / "web.yaml", SERVICE)
    _write(tmp_path / "web-a.yaml", _slice("web-a", "true"))
    loaded: list[list[str]] = []

    def edit(ready: str, *more: str) -> Callable[[], None]:
        def act() -> None:
            _write(tmp_path / "web-b.yaml", _slice("web-b", ready, *more))
            loaded.append([str(d) for d in load_paths([str(tmp_path)]).diagnostics if RANDOM in d.message])
        return act

    actions = [edit("false"), edit("false", "10.1.0.8"), edit("true"), edit("false")]
    err = io.StringIO()
    out = _Recording(err, actions)
    clock = Clock()
    args = build_parser().parse_args(["watch", "-f", str(tmp_path), *NODE_FLAGS, "--poll-interval", "100ms",
                                      "--debounce", "200ms", "--max-syncs", "5"])
    assert watch_cmd.run(args, out=out, err=err, sleep=clock.sleep, clock=clock) == 0, err.getvalue()
    new = [[line.removeprefix("kubeproxy-sim: ") for line in now[len(before):].splitlines() if RANDOM in line]
           for before, now in zip(["", *out.said], out.said, strict=False)]
    warning = loaded[0]
    assert len(warning) == 1 and f"{tmp_path / 'web.yaml'}: Service ns/web: warning: endpoint 10.1.0.7" in warning[0]
    assert new == [[], warning, [], [], warning]  # the same words as a one-shot load of the directory


# --------------------------------------------------------------------------- watch --kubeconfig


def _live_slice(name: str, ready: bool) -> dict:
    es = slice_json(name, "web", ["10.1.0.7"])
    es["endpoints"][0]["conditions"] = {"ready": ready}
    return es


def test_watch_kubeconfig_says_it_once_and_again_when_it_comes_back(tmp_path: Path):
    fake = FakeApiServer().start()
    try:
        fake.add("Service", svc_json("web", "172.30.0.10"))
        fake.add("EndpointSlice", _live_slice("web-a", True))
        fake.add("EndpointSlice", _live_slice("web-b", False))
        kubeconfig = fake.write_kubeconfig(str(tmp_path / "kubeconfig"))
        err = io.StringIO()
        edits = [lambda: fake.add("Service", svc_json("other", "172.30.0.20")),
                 lambda: fake.modify("EndpointSlice", _live_slice("web-b", True)),
                 lambda: fake.modify("EndpointSlice", _live_slice("web-b", False))]
        records: list[dict] = []

        class Out(_Recording):
            def flush(self) -> None:
                records[:] = [json.loads(line) for line in self.getvalue().splitlines()]
                if len(records) > len(edits):
                    self.said.append(self.err.getvalue())
                    raise KeyboardInterrupt  # what Ctrl-C does: the command stops cleanly
                super().flush()

        deadline = time.monotonic() + 15

        def clock() -> float:
            assert time.monotonic() < deadline, f"no sync with the expected changes; got {records}"
            return time.monotonic()

        args = build_parser().parse_args(["watch", "--kubeconfig", kubeconfig, *NODE_FLAGS, "-o", "json",
                                          "--min-sync-period", "300ms", "--poll-interval", "50ms"])
        out = Out(err, edits)
        assert watch_cmd.run(args, out=out, err=err, clock=clock) == 0, err.getvalue()
    finally:
        fake.stop()
    assert [r["changed"] for r in records] == [["default/web"], ["default/other"],
                                               ["default/web"], ["default/web"]]
    new = [[line for line in now[len(before):].splitlines() if RANDOM in line]
           for before, now in zip(["", *out.said], out.said, strict=False)]
    assert [len(sync) for sync in new] == [1, 0, 0, 1]
    assert new[0][0].endswith(
        "/api/v1/services: Service default/web: warning: endpoint 10.1.0.7 is in EndpointSlices web-a (ready=true) "
        "and web-b (ready=false), neither terminating: kube-proxy's IPv4 proxier " + RANDOM + "; this simulation "
        "uses web-b's (the slice whose name sorts last)")
    assert all(set(r) == {"number", "full", "reason", "duration_ms", "apply_ms", "changed", "metrics", "restore",
                          "error"} for r in records)  # the JSON lines keep their contract: warnings go to stderr
