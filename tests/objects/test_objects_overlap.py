"""An endpoint two EndpointSlices of one Service list in copies that differ: kube-proxy picks one at random per
sync (endpointslicecache addEndpoints walks the slices in Go map order), so the one used here is named."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.errors import Severity
from kubeproxy_sim.objects import Protocol, load_text
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.proxier.state import endpoints_map
from tests.budget import budget

SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ns}
spec: {clusterIP: 10.96.0.10, ports: [{name: p, port: 80}]}
"""


def _slice(name: str, *endpoints: str, ports: str = "[{name: p, port: 8080}]", service: str = "web") -> str:
    listed = "".join(f"\n- {e}" for e in endpoints)
    return (f"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
            f"metadata: {{name: {name}, namespace: ns, labels: {{kubernetes.io/service-name: {service}}}}}\n"
            f"addressType: IPv4\nports: {ports}\nendpoints:{listed}\n")


READY = "{addresses: [10.1.0.7], conditions: {ready: true}}"
NOT_READY = "{addresses: [10.1.0.7], conditions: {ready: false, serving: false}}"
TERMINATING = "{addresses: [10.1.0.7], conditions: {ready: false, serving: true, terminating: true}}"


def _warnings(load, text: str) -> list[str]:
    result = load(text)
    assert result.ok, result.diagnostics
    return [str(d) for d in result.diagnostics if d.severity is Severity.WARNING]


def _used(load, text: str) -> tuple[bool, bool]:
    """(ready, serving) of the copy the proxier merged for 10.1.0.7."""
    result = load(text)
    merged = endpoints_map(result.cluster.endpoint_slices, ProxyConfig())[("ns", "web", "p", Protocol.TCP)]
    (info,) = [info for info in merged if info.ip == "10.1.0.7"]
    return info.ready, info.serving


def test_two_live_copies_that_differ_name_both_slices_and_the_one_used(load):
    text = SERVICE + _slice("web-a", NOT_READY) + _slice("web-b", READY)
    assert _warnings(load, text) == [
        "t.yaml: Service ns/web: warning: endpoint 10.1.0.7 is in EndpointSlices web-a (ready=false, serving=false) "
        "and web-b (ready=true, serving=true), neither terminating: kube-proxy's IPv4 proxier picks one copy at "
        "random on each sync; this simulation uses web-b's (the slice whose name sorts last)"]
    assert _used(load, text) == (True, True)


def test_the_copy_named_is_the_one_the_proxier_uses_whichever_way_the_names_sort(load):
    text = SERVICE + _slice("web-a", READY) + _slice("web-b", NOT_READY)
    (warning,) = _warnings(load, text)
    assert "web-a (ready=true, serving=true) and web-b (ready=false, serving=false)" in warning
    assert warning.endswith("uses web-b's (the slice whose name sorts last)")
    assert _used(load, text) == (False, False)


@pytest.mark.parametrize("first, second", [
    (READY, READY),  # the same copy twice: nothing to pick between
    (TERMINATING, READY),  # the copy that is not terminating wins, in any order, upstream as here
    (READY, TERMINATING),
])
def test_copies_decided_as_upstream_decides_them_say_nothing(load, first: str, second: str):
    assert _warnings(load, SERVICE + _slice("web-a", first) + _slice("web-b", second)) == []


def test_only_terminating_copies_that_differ_keep_the_first(load):
    other = "{addresses: [10.1.0.7], conditions: {ready: false, serving: false, terminating: true}}"
    (warning,) = _warnings(load, SERVICE + _slice("web-a", TERMINATING) + _slice("web-b", other))
    assert ("web-a (serving=true) and web-b (serving=false), both terminating: kube-proxy's IPv4 proxier picks one "
            "copy at random" in warning)
    assert warning.endswith("uses web-a's (the slice whose name sorts first)")


def test_a_node_name_that_differs_is_named_too(load):
    text = SERVICE + _slice("web-a", "{addresses: [10.1.0.7], nodeName: n1}") + _slice(
        "web-b", "{addresses: [10.1.0.7]}")
    (warning,) = _warnings(load, text)
    assert "web-a (nodeName=n1) and web-b (nodeName unset), neither terminating" in warning


@pytest.mark.parametrize("hints", ["hints: {forZones: []}", "hints: {forNodes: []}",
                                   "hints: {forZones: [], forNodes: []}"])
def test_an_empty_hint_list_is_no_hints_as_an_absent_one(load, hints: str):
    """kube-proxy keeps hints only when some are listed: the two copies read alike, nothing to pick between."""
    text = SERVICE + _slice("web-a", f"{{addresses: [10.1.0.7], {hints}}}") + _slice(
        "web-b", "{addresses: [10.1.0.7]}")
    assert _warnings(load, text) == []


def test_hint_lists_that_differ_are_named(load):
    text = SERVICE + _slice("web-a", "{addresses: [10.1.0.7], hints: {forZones: [{name: b}, {name: a}]}}") + \
        _slice("web-b", "{addresses: [10.1.0.7], hints: {forZones: []}}")
    (warning,) = _warnings(load, text)
    assert "web-a (hints.forZones=[a, b]) and web-b (hints.forZones unset), neither terminating" in warning

def test_three_slices_list_every_copy_unlike_the_one_used_once(load):
    text = SERVICE + _slice("web-a", READY) + _slice("web-b", NOT_READY) + _slice("web-c", READY)
    (warning,) = _warnings(load, text)
    assert ("EndpointSlices web-b (ready=false, serving=false) and web-c (ready=true, serving=true), neither "
            "terminating" in warning)
    assert warning.endswith("uses web-c's (the slice whose name sorts last)")


def test_one_note_per_address_however_many_ports_share_it(load):
    service = SERVICE.replace("[{name: p, port: 80}]", "[{name: p, port: 80}, {name: q, port: 81}]")
    ports = "[{name: p, port: 8080}, {name: q, port: 8081}]"
    other = NOT_READY.replace("10.1.0.7", "10.1.0.8")
    text = service + _slice("web-a", NOT_READY, READY.replace("7", "8"), ports=ports) + _slice(
        "web-b", READY, other, ports=ports)
    warnings = _warnings(load, text)
    assert [w.split(" is in ")[0].rsplit(" ", 1)[1] for w in warnings] == ["10.1.0.7", "10.1.0.8"]


@pytest.mark.parametrize("service, b_ports", [
    (SERVICE, "[{name: p, port: 9090}]"),  # another target port: two endpoints, not two copies of one
    (SERVICE, "[{name: other, port: 8080}]"),  # a port the Service does not have: web-b is not used
    (SERVICE.replace("10.96.0.10", "None"), "[{name: p, port: 8080}]"),  # headless: no rules at all
    ("", "[{name: p, port: 8080}]"),  # no Service: no rules at all
])
def test_copies_kube_proxy_never_merges_into_one_rule_say_nothing(load, service: str, b_ports: str):
    text = service + _slice("web-a", NOT_READY) + _slice("web-b", READY, ports=b_ports)
    assert [str(d) for d in load(text).diagnostics if "picks one copy" in str(d)] == []


def test_another_service_s_slice_with_the_address_says_nothing(load):
    other = SERVICE.replace("name: web,", "name: api,").replace("10.96.0.10", "10.96.0.11")
    text = SERVICE + "---\n" + other + _slice("web-a", NOT_READY) + _slice("api-a", READY, service="api")
    assert _warnings(load, text) == []


def test_rules_says_it_once_and_exits_as_before(tmp_path, capsys):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(SERVICE + _slice("web-a", NOT_READY) + _slice("web-b", READY))
    assert main(["rules", "-f", str(manifest), "--hostname-override", "n1"]) == 0
    err = capsys.readouterr().err
    assert err.count("picks one copy at random") == 1, err
    assert "EndpointSlices web-a (ready=false, serving=false) and web-b (ready=true, serving=true)" in err



def test_an_ipv6_overlap_names_the_ipv6_proxier(load):
    """A load warns for the whole cluster, whatever family the command runs, so the warning says which family's
    proxier picks (``rules --ip-family ipv6`` is told of an IPv4 overlap as the IPv4 proxier's)."""
    service = SERVICE.replace("clusterIP: 10.96.0.10,", "clusterIP: fd00::10, ipFamilies: [IPv6],")
    text = (service + _slice("web-a", NOT_READY.replace("10.1.0.7", "fd00::7")) +
            _slice("web-b", READY.replace("10.1.0.7", "fd00::7"))).replace("addressType: IPv4", "addressType: IPv6")
    (warning,) = _warnings(load, text)
    assert "endpoint fd00::7 is in EndpointSlices" in warning
    assert "neither terminating: kube-proxy's IPv6 proxier picks one copy at random on each sync" in warning


# --------------------------------------------------------------------------- one slice listing an address twice
# addEndpoints walks one slice's endpoints in list order: the last copy not terminating wins, or the first when all
# are terminating, on every sync; the warning says which, and the rules use that copy.

SERVING_TERMINATING = TERMINATING
GONE = "{addresses: [10.1.0.7], conditions: {ready: false, serving: false, terminating: true}}"


def _repeat_warnings(load, text: str) -> list[str]:
    return [w for w in _warnings(load, text) if "in this EndpointSlice" in w]


def test_a_repeat_in_one_slice_names_the_field_the_copies_and_the_one_kept(load):
    text = SERVICE + _slice("web-a", NOT_READY, "{addresses: [10.1.0.8]}", READY)
    assert _warnings(load, text) == [
        "t.yaml: EndpointSlice ns/web-a: endpoints[2].addresses[0]: warning: address 10.1.0.7 is listed twice in "
        "this EndpointSlice, in copies that differ: endpoints[0] (ready=false, serving=false) and endpoints[2] "
        "(ready=true, serving=true); kube-proxy keeps one copy of an address, on every sync the same: "
        "endpoints[2]'s (the last one not terminating)"]
    assert _used(load, text) == (True, True)


@pytest.mark.parametrize("copies, kept, used", [
    ((READY, NOT_READY), "endpoints[1]'s (the last one not terminating)", (False, False)),
    ((READY, TERMINATING), "endpoints[0]'s (the last one not terminating)", (True, True)),
    ((TERMINATING, READY), "endpoints[1]'s (the last one not terminating)", (True, True)),
    ((READY, NOT_READY, TERMINATING), "endpoints[1]'s (the last one not terminating)", (False, False)),
    ((SERVING_TERMINATING, GONE), "endpoints[0]'s (the first one, as all are terminating)", (False, True)),
    ((GONE, SERVING_TERMINATING), "endpoints[0]'s (the first one, as all are terminating)", (False, False)),
])
def test_the_copy_named_is_the_one_the_proxier_merged(load, copies: tuple[str, ...], kept: str,
                                                       used: tuple[bool, bool]):
    text = SERVICE + _slice("web-a", *copies)
    (warning,) = _repeat_warnings(load, text)
    assert warning.startswith("t.yaml: EndpointSlice ns/web-a: endpoints[1].addresses[0]: warning: address "
                              f"10.1.0.7 is listed {'twice' if len(copies) == 2 else '3 times'} in this EndpointSlice")
    assert warning.endswith(f"on every sync the same: {kept}")
    assert _used(load, text) == used


@pytest.mark.parametrize("text", [
    SERVICE + _slice("web-a", READY, READY),  # the same copy twice: nothing is lost
    SERVICE + _slice("web-a", READY, "{addresses: [10.1.0.7], hints: {forZones: []}}"),  # reads alike
    SERVICE + _slice("web-a", READY, NOT_READY, ports="[]"),  # no port: kube-proxy merges no endpoint of it
    SERVICE + _slice("web-a", READY, NOT_READY).replace(  # another proxy's slice: kube-proxy never sees it
        "service-name: web}", "service-name: web, service.kubernetes.io/service-proxy-name: x}"),
])
def test_repeats_that_change_nothing_kube_proxy_reads_say_nothing(load, text: str):
    assert _repeat_warnings(load, text) == []


def test_rules_warn_of_a_repeat_once_and_program_the_copy_kept(tmp_path, capsys):
    """End to end: the warning on stderr, and the rules written from the copy named (a not-ready copy listed last
    leaves the service with no endpoints: the filter table's REJECT)."""
    manifest = tmp_path / "m.yaml"
    manifest.write_text(SERVICE + _slice("web-a", READY, NOT_READY))
    assert main(["rules", "-f", str(manifest), "--hostname-override", "n1"]) == 0
    out, err = capsys.readouterr()
    assert err.count("in this EndpointSlice") == 1, err
    assert f"{manifest}: EndpointSlice ns/web-a: endpoints[1].addresses[0]: warning: address 10.1.0.7" in err
    assert "endpoints[1]'s (the last one not terminating)" in err
    assert '"ns/web:p has no endpoints"' in out and "10.1.0.7" not in out
    manifest.write_text(SERVICE + _slice("web-a", NOT_READY, READY))
    assert main(["rules", "-f", str(manifest), "--hostname-override", "n1"]) == 0
    out, err = capsys.readouterr()
    assert "endpoints[1]'s (the last one not terminating)" in err
    assert "-j DNAT --to-destination 10.1.0.7:8080" in out and "has no endpoints" not in out


_CONDITION = st.tuples(*[st.sampled_from([None, True, False])] * 3)


@settings(max_examples=budget(100), deadline=None)
@given(st.lists(_CONDITION, min_size=2, max_size=5))
def test_whatever_the_copies_the_warning_names_the_copy_the_proxier_merged(conditions):
    """The copy kept (named by the warning, or any one when they all read alike) is the one behind the merged
    endpoint, whatever mix of ready/serving/terminating the copies carry."""
    def flag(value):
        return "null" if value is None else str(value).lower()

    copies = [f"{{addresses: [10.1.0.7], conditions: {{ready: {flag(r)}, serving: {flag(s)}, terminating: "
              f"{flag(t)}}}}}" for r, s, t in conditions]
    text = SERVICE + _slice("web-a", *copies)
    result = load_text(text, "t.yaml")
    (info,) = endpoints_map(result.cluster.endpoint_slices, ProxyConfig())[("ns", "web", "p", Protocol.TCP)]
    seen = [(r is None or r, s is None or s, bool(t)) for r, s, t in conditions]
    warnings = [str(d) for d in result.diagnostics if "in this EndpointSlice" in d.message]
    if len(set(seen)) == 1:
        assert warnings == []
        kept = 0
    else:
        (warning,) = warnings
        kept = int(re.search(r"the same: endpoints\[(\d+)\]'s", warning).group(1))
    assert (info.ready, info.serving, info.terminating) == seen[kept]
