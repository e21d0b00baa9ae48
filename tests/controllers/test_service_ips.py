"""Cluster IPs as the API server allocates them: per family, by ipFamilyPolicy and ipFamilies, primary first."""

from __future__ import annotations

import ipaddress
import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.decode import family_policy, family_policy_problem
from kubeproxy_sim.controllers.model import Annotations, ServiceTable
from kubeproxy_sim.controllers.script import Manifests, Step, play
from kubeproxy_sim.objects.model import Cluster, IPFamily, Protocol, Service, ServicePort, ServiceType
from tests.budget import budget
from tests.cli._usage_pointer import without_pointer

from ._helpers import NODES, node, run_cli, world

V4, V6 = IPFamily.IPV4, IPFamily.IPV6
V6_NODES = (node("node1", "fd00:10:244:1::/64", "2001:db8:0:1::10", "zone-a"),
            node("node2", "fd00:10:244:2::/64", "2001:db8:0:1::11", "zone-b"))
DS_NODES = tuple(replace(n, pod_cidrs=(n.pod_cidrs[0], f"fd00:10:244:{i}::/64"))
                 for i, n in enumerate(NODES, start=1))
V6_FIRST = tuple(replace(n, pod_cidrs=tuple(reversed(n.pod_cidrs))) for n in DS_NODES)


def _service(name: str = "web", families: tuple[IPFamily, ...] = (), ips: tuple[str, ...] = ()) -> Service:
    """A manifest's Service: with no address given, one that leaves clusterIP out (the allocator fills it)."""
    return Service("default", name, cluster_ips=ips, ip_families=families, selector=(("app", "web"),),
                   ports=(ServicePort("", Protocol.TCP, 80, 80),), cluster_ip_unset=not ips)


def _admit(nodes: tuple, service: Service, policy: str | None = None, **changes: object) -> Service:
    return W.admit_service(world(nodes, **changes), service, random.Random(0), policy=policy)


def _in(address: str, cidr: str) -> bool:
    return ipaddress.ip_address(address) in ipaddress.ip_network(cidr)


def test_the_service_ranges_follow_the_nodes_families_primary_first_unless_set() -> None:
    assert W.service_ranges(world(NODES)) == {V4: "10.96.0.0/12"}
    assert W.service_ranges(world(V6_NODES)) == {V6: "fd00:10:96::/112"}
    assert list(W.service_ranges(world(DS_NODES))) == [V4, V6]
    assert list(W.service_ranges(world(V6_FIRST))) == [V6, V4]
    assert W.service_ranges(world(())) == {V4: "10.96.0.0/12"}
    assert W.service_ranges(world(NODES, service_cidrs=("fd00:1::/108", "10.0.0.0/16"))) == {
        V6: "fd00:1::/108", V4: "10.0.0.0/16"}


def test_a_service_naming_no_family_gets_the_primary_family_single_stack() -> None:
    v6 = _admit(V6_NODES, _service())
    assert v6.ip_families == (V6,) and _in(v6.cluster_ips[0], "fd00:10:96::/112")
    ds = _admit(DS_NODES, _service())
    assert ds.ip_families == (V4,) and _in(ds.cluster_ips[0], "10.96.0.0/12")
    assert _admit(V6_FIRST, _service()).ip_families == (V6,)
    w, rng = world(V6_NODES), random.Random(0)
    w = W.create_deployment(w, W.new_deployment("default", "web", ["nginx"], 1, 80), rng)
    _, exposed = W.expose(w, "default", "web", rng, port=80)
    assert exposed.ip_families == (V6,) and _in(exposed.cluster_ips[0], "fd00:10:96::/112")


def test_requested_families_and_dual_stack_policies_get_one_address_per_family_in_family_order() -> None:
    v6 = _admit(DS_NODES, _service(families=(V6,)), "SingleStack")
    assert v6.ip_families == (V6,) and _in(v6.cluster_ips[0], "fd00:10:96::/112")
    for policy in ("PreferDualStack", "RequireDualStack"):
        both = _admit(DS_NODES, _service(), policy)
        assert both.ip_families == (V4, V6)
        assert _in(both.cluster_ips[0], "10.96.0.0/12") and _in(both.cluster_ips[1], "fd00:10:96::/112")
        six_first = _admit(DS_NODES, _service(families=(V6,)), policy)
        assert six_first.ip_families == (V6, V4) and ":" in six_first.cluster_ips[0]
    # two families without a policy (the manifest must have had a dual-stack one): both
    assert _admit(DS_NODES, _service(families=(V6, V4))).ip_families == (V6, V4)
    # PreferDualStack on a single-stack cluster: the one family
    assert _admit(V6_NODES, _service(), "PreferDualStack").ip_families == (V6,)
    # a given address keeps its place; a dual-stack policy adds the other family's
    given = _admit(DS_NODES, _service(families=(V4,), ips=("10.96.0.50",)), "RequireDualStack")
    assert given.cluster_ips[0] == "10.96.0.50" and given.ip_families == (V4, V6)
    assert _admit(DS_NODES, _service(families=(V4,), ips=("10.96.0.50",))).cluster_ips == ("10.96.0.50",)


def test_families_the_cluster_has_no_range_for_are_refused_as_the_api_server_does() -> None:
    with pytest.raises(W.ActionError, match=r'spec.ipFamilies\[0\]: Invalid value: "IPv6": not configured on this '
                                            r"cluster \(the service ranges here are 10.96.0.0/12, from the Nodes"):
        _admit(NODES, _service(families=(V6,)))
    with pytest.raises(W.ActionError, match=r'spec\.ipFamilyPolicy: Invalid value: "RequireDualStack": this '
                                            r"cluster is not configured for dual-stack services"):
        _admit(V6_NODES, _service(), "RequireDualStack")
    with pytest.raises(W.ActionError, match="must be 'RequireDualStack' or 'PreferDualStack' when multiple IP "
                                            "families are specified"):
        _admit(DS_NODES, _service(families=(V4, V6)), "SingleStack")
    with pytest.raises(W.ActionError, match=r"not configured on this cluster \(the service ranges here are "
                                            r"10.0.0.0/16\)"):
        _admit(V6_NODES, _service(families=(V6,)), service_cidrs=("10.0.0.0/16",))


def test_an_update_keeps_the_addresses_adds_a_requested_family_and_single_stack_releases_the_secondary() -> None:
    rng = random.Random(0)
    w = world(DS_NODES)
    first = W.admit_service(w, _service(), rng)
    w = W.put_service(w, first)
    assert W.admit_service(w, _service(), rng) == first  # apply again: unchanged
    upgraded = W.admit_service(w, _service(), rng, policy="PreferDualStack")
    assert upgraded.cluster_ips[0] == first.cluster_ips[0] and upgraded.ip_families == (V4, V6)
    w = W.put_service(w, upgraded)
    assert W.admit_service(w, _service(), rng) == upgraded
    assert W.admit_service(w, _service(), rng, policy="SingleStack").cluster_ips == first.cluster_ips
    with pytest.raises(W.ActionError, match=r'spec.ipFamilies\[0\]: Invalid value: "IPv6": may not change once set'):
        W.admit_service(w, _service(families=(V6,)), rng)


def test_apply_passes_each_service_s_ip_family_policy_to_the_allocator() -> None:
    assert family_policy({"spec": {"ipFamilyPolicy": "RequireDualStack"}}) == "RequireDualStack"
    assert family_policy({"spec": {"ipFamilyPolicy": "Dual"}}) is None
    assert family_policy({"spec": None}) is None
    manifests = Manifests(Cluster(services=(_service(),)), family_policies=(("default/web", "RequireDualStack"),))
    played = play(world(DS_NODES), Step(1, "apply -f s.yaml", "apply", paths=("s.yaml",)), random.Random(0),
                  lambda _paths: manifests)
    assert played.world.service("default", "web").ip_families == (V4, V6)  # type: ignore[union-attr]


DS_NODE_FILE = """apiVersion: v1
kind: Node
metadata: {name: node1}
spec: {podCIDRs: [10.244.1.0/24, "fd00:10:244:1::/64"]}
status: {addresses: [{type: InternalIP, address: 192.168.0.10}, {type: InternalIP, address: "2001:db8::10"}]}
"""


@pytest.mark.parametrize(("policy", "dual"), [("RequireDualStack", True), ("PreferDualStack", True),
                                              ("SingleStack", False), (None, False)])
def test_a_scenario_s_manifest_ip_family_policy_reaches_the_allocator(
        policy: str | None, dual: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "nodes.yaml").write_text(DS_NODE_FILE)
    spec = f"  ipFamilyPolicy: {policy}\n" if policy else ""
    (tmp_path / "svc.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n" + spec
                                       + "  selector: {app: web}\n  ports: [{port: 80}]\n")
    (tmp_path / "script").write_text("apply -f svc.yaml\n")
    common = ["scenario", str(tmp_path / "script"), "-f", str(tmp_path / "nodes.yaml"),
              "--cluster-cidr", "10.244.0.0/16,fd00:10:244::/56"]
    for family, cidr, wanted in (("ipv4", "10.96.0.0/12", True), ("ipv6", "fd00:10:96::/112", dual)):
        assert run_cli([*common, "--ip-family", family], monkeypatch) == 0
        web = [line for line in capsys.readouterr().out.splitlines()
               if line.startswith("-A KUBE-SERVICES") and "default/web" in line]
        assert len(web) == int(wanted), (family, web)
        if wanted:
            address = web[0].split(" -d ")[1].split()[0]
            assert _in(address, cidr)


UNSUPPORTED = ': Unsupported value: "PreferDualstack": supported values: "PreferDualStack", "RequireDualStack", ' \
              '"SingleStack"'


def test_an_unsupported_ip_family_policy_is_refused_in_the_api_server_s_words(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """validation.go: field.NotSupported with the supported values sorted; the apply is refused (nothing applied),
    not played as a Service without a policy."""
    assert family_policy_problem({"spec": {"ipFamilyPolicy": "PreferDualstack"}}) == UNSUPPORTED[2:]
    assert family_policy_problem({"spec": {"ipFamilyPolicy": 5}}) == (
        'Unsupported value: 5: supported values: "PreferDualStack", "RequireDualStack", "SingleStack"')
    for spec in ({"ipFamilyPolicy": "SingleStack"}, {"ipFamilyPolicy": None}, {}, None):
        assert family_policy_problem({"spec": spec}) is None
    (tmp_path / "nodes.yaml").write_text(DS_NODE_FILE)
    (tmp_path / "svc.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n"
                                       "  ipFamilyPolicy: PreferDualstack\n  selector: {app: web}\n"
                                       "  ports: [{port: 80}]\n")
    (tmp_path / "script").write_text("create deployment web --image=nginx --replicas=1 --port=80\napply -f svc.yaml\n")
    common = ["scenario", str(tmp_path / "script"), "--cluster-cidr", "10.244.0.0/16,fd00:10:244::/56",
              "--show", "endpoints"]
    assert run_cli([*common, "-f", str(tmp_path / "nodes.yaml")], monkeypatch) == 1
    captured = capsys.readouterr()
    assert "default/web" not in captured.out
    assert captured.err.splitlines() == [
        f"kubeproxy-sim: {tmp_path / 'svc.yaml'}: Service default/web: spec.ipFamilyPolicy" + UNSUPPORTED,
        f"kubeproxy-sim: {tmp_path / 'script'}:2: apply -f: the objects above are invalid; nothing was applied"]
    # among the starting objects too
    assert run_cli([*common, "-f", str(tmp_path / "nodes.yaml"), "-f", str(tmp_path / "svc.yaml")], monkeypatch) == 1
    assert f"svc.yaml: Service default/web: spec.ipFamilyPolicy{UNSUPPORTED}" in capsys.readouterr().err


def test_written_cluster_ips_are_checked_as_initipfamilyfields_and_allocips_do() -> None:
    """A written address of a family the cluster lacks (alone, or the second of a dual-stack pair), outside its
    family's range (the network and broadcast addresses too), or held by another Service is refused in the API
    server's words; the Service's own address, applied again, is not another's."""
    v6_alone = r'spec\.clusterIPs\[0\]: Invalid value: \[\]string\{"fd00:10:96::50"\}: IPv6 is not configured on this '
    with pytest.raises(W.ActionError, match=v6_alone + r"cluster \(the service ranges here are 10.96.0.0/12, from"):
        _admit(NODES, _service(ips=("fd00:10:96::50",)))
    with pytest.raises(W.ActionError, match=r'spec\.clusterIPs\[1\]: Invalid value: \[\]string\{"10.96.0.7", '
                                            r'"fd00:10:96::7"\}: IPv6 is not configured on this cluster'):
        _admit(NODES, _service(ips=("10.96.0.7", "fd00:10:96::7")), "PreferDualStack")
    for outside in ("172.30.0.5", "10.96.0.0", "10.111.255.255"):
        with pytest.raises(W.ActionError, match=rf'^The Service "web" is invalid: spec\.clusterIPs: Invalid value: '
                                                rf'\[\]string\{{"{outside}"\}}: failed to allocate IP {outside}: the '
                                                rf"provided IP \({outside}\) is not in the valid range\. The range of "
                                                r"valid IPs is 10\.96\.0\.0/12; expected an address of the service "
                                                r"range, or the cluster's range as --service-cluster-ip-range$"):
            _admit(NODES, _service(ips=(outside,)))
    with pytest.raises(W.ActionError, match=r"The range of valid IPs is 10\.0\.0\.0/16$"):  # a range given: no hint
        _admit(NODES, _service(ips=("172.30.0.5",)), service_cidrs=("10.0.0.0/16",))
    with pytest.raises(W.ActionError, match=r'\[\]string\{"10.1.0.5", ""\}: failed to allocate IP 10.1.0.5: the '
                                            r"provided IP \(10.1.0.5\) is not in the valid range"):
        _admit(DS_NODES, _service(ips=("10.1.0.5",)), "RequireDualStack")  # the marker of the IPv6 one to allocate
    assert _admit(NODES, _service(ips=("10.111.255.254",))).cluster_ips == ("10.111.255.254",)
    assert _admit(V6_NODES, _service(ips=("fd00:10:96::ffff",))).cluster_ips == ("fd00:10:96::ffff",)
    rng = random.Random(0)
    w = W.put_service(world(NODES), W.admit_service(world(NODES), _service("a", ips=("10.96.0.50",)), rng))
    with pytest.raises(W.ActionError, match=r'^The Service "b" is invalid: spec\.clusterIPs: Invalid value: '
                                            r'\[\]string\{"10.96.0.50"\}: failed to allocate IP 10.96.0.50: provided '
                                            r"IP is already allocated \(Service default/a has it\)$"):
        W.admit_service(w, _service("b", ips=("10.96.0.50",)), rng)
    assert W.admit_service(w, _service("a", ips=("10.96.0.50",)), rng).cluster_ips == ("10.96.0.50",)


def test_a_scenario_refuses_a_second_service_on_a_taken_address(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "svc.yaml").write_text("".join(
        f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  selector: {{app: web}}\n"
        f"  clusterIP: 10.96.0.50\n  ports: [{{port: {port}, targetPort: 8080}}]\n---\n"
        for name, port in (("a", 80), ("b", 81))))
    (tmp_path / "script").write_text("create deployment web --image=nginx --replicas=2 --port=8080\n"
                                     "apply -f svc.yaml\n")
    assert run_cli(["scenario", str(tmp_path / "script"), "--show", "endpoints"], monkeypatch) == 1
    captured = capsys.readouterr()
    assert "default/a" not in captured.out and "default/b" not in captured.out
    assert captured.err == (f"kubeproxy-sim: {tmp_path / 'script'}:2: apply: The Service \"b\" is invalid: "
                            'spec.clusterIPs: Invalid value: []string{"10.96.0.50"}: failed to allocate IP '
                            "10.96.0.50: provided IP is already allocated (Service default/a has it)\n")


def _headless(selector: tuple[tuple[str, str], ...] | None = (("app", "web"),),
              families: tuple[IPFamily, ...] = ()) -> Service:
    """clusterIP "None"."""
    return replace(_service(families=families), selector=selector, cluster_ip_unset=False)


def test_headless_services_get_families_as_initipfamilyfields_gives_them_and_no_address() -> None:
    """Headless with a selector: defaulted from the policy and the cluster like any Service (RequireDualStack still
    refuses a single-stack cluster); without a selector: RequireDualStack by default, and a dual-stack policy
    takes both families even on a single-stack cluster."""
    def admit(nodes: tuple, service: Service, policy: str | None = None) -> Service:
        return W.admit_service(world(nodes), service, random.Random(0), policy=policy)

    assert admit(DS_NODES, _headless(), "PreferDualStack").ip_families == (V4, V6)
    assert admit(V6_FIRST, _headless(), "RequireDualStack").ip_families == (V6, V4)
    assert admit(DS_NODES, _headless()).ip_families == (V4,)
    assert admit(V6_NODES, _headless(), "PreferDualStack").ip_families == (V6,)
    with pytest.raises(W.ActionError, match=r'spec\.ipFamilyPolicy: Invalid value: "RequireDualStack": this '
                                            r"cluster is not configured for dual-stack services"):
        admit(NODES, _headless(), "RequireDualStack")
    with pytest.raises(W.ActionError, match=r'spec\.ipFamilies\[0\]: Invalid value: "IPv6": not configured'):
        admit(NODES, _headless(families=(V6,)))
    assert admit(NODES, _headless(None)).ip_families == (V4, V6)
    assert admit(V6_NODES, _headless(None)).ip_families == (V6, V4)
    assert admit(NODES, _headless(None, (V6,))).ip_families == (V6, V4)
    assert admit(NODES, _headless(None), "SingleStack").ip_families == (V4,)
    for headless in (admit(DS_NODES, _headless(), "RequireDualStack"), admit(NODES, _headless(None))):
        assert headless.cluster_ips == () and headless.headless
    rng = random.Random(0)  # an update naming no family keeps them; SingleStack releases the secondary
    w = W.put_service(world(DS_NODES), W.admit_service(world(DS_NODES), _headless(), rng,
                                                    policy="PreferDualStack"))
    assert W.admit_service(w, _headless(), rng).ip_families == (V4, V6)
    assert W.admit_service(w, _headless(), rng, policy="SingleStack").ip_families == (V4,)


def test_a_scenario_s_headless_dual_stack_service_gets_slices_of_both_families(tmp_path: Path) -> None:
    """Through apply -f as the scenario reads it: the headless Service's ipFamilies, so the controller keeps a
    slice per family, each with the pods' address of that family."""
    from kubeproxy_sim.cli.scenario_cmd import load_manifests

    (tmp_path / "svc.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n"
                                       "  clusterIP: None\n  ipFamilyPolicy: PreferDualStack\n  selector: {app: web}\n"
                                       "  ports: [{port: 80, targetPort: 80}]\n")
    rng = random.Random(0)
    w = W.create_deployment(world(DS_NODES), W.new_deployment("default", "web", ["nginx"], 2, 80), rng)
    w = W.wait_for_rollout(w, "default", "web", rng).world
    step = Step(1, "apply -f svc.yaml", "apply", paths=("svc.yaml",))
    played = play(w, step, rng, lambda _paths: load_manifests((str(tmp_path / "svc.yaml"),)))
    web = played.world.service("default", "web")
    assert web is not None and web.headless and web.ip_families == (V4, V6)
    slices = [s for s in W.cluster_of(played.world).endpoint_slices if s.service_name == "web"]
    assert [s.address_type.value for s in slices] == ["IPv4", "IPv6"]
    for s, cidr in zip(slices, ("10.244.0.0/16", "fd00:10:244::/56"), strict=True):
        assert len(s.endpoints) == 2 and all(_in(e.addresses[0], cidr) for e in s.endpoints)


@pytest.mark.parametrize(("text", "problem", "malformed"), [
    ("fd00::/63", "specified --service-cluster-ip-range is too large; for 128-bit addresses, the mask must be >= 64",
     False),
    ("10.0.0.0/30", "error determining service IP ranges for primary service cidr: the service cluster IP range must "
                    "be at least 8 IP addresses", False),
    ("10.0.0.0/16,fd00::/112,10.1.0.0/16", "--service-cluster-ip-range must not contain more than two entries", False),
    ("10.0.0.0", "service-cluster-ip-range[0] is not a valid cidr", True),
    ("", "service-cluster-ip-range[0] is not a valid cidr", True),
    ("10.0.0.0/16,fd00::", "service-cluster-ip-range[1] is not an ip net", True),
    ("10.0.0.0/16,", "service-cluster-ip-range[1] is not an ip net", True),
    ("10.0.0.0/16,10.1.0.0/16", "--service-cluster-ip-range[0] and --service-cluster-ip-range[1] must be of "
                                "different IP family", False),
    ("10.0.0.0/16,fd00::/48", "specified --service-cluster-ip-range[1] is too large; for 128-bit addresses, the mask "
                              "must be >= 64", False),
])
def test_the_service_range_flag_is_refused_as_kube_apiserver_refuses_it(text: str, problem: str,
                                                                        malformed: bool) -> None:
    """The refusal in kube-apiserver's words; ``malformed`` (an entry that is no CIDR) where it is a usage error."""
    from kubeproxy_sim.controllers.allocate import service_ranges_flag

    assert service_ranges_flag(text) == ((), problem, malformed)


def test_the_service_range_flag_keeps_its_order_and_canonical_networks() -> None:
    from kubeproxy_sim.controllers.allocate import service_ranges_flag

    assert service_ranges_flag("172.30.0.0/16") == (("172.30.0.0/16",), None, False)
    assert service_ranges_flag("10.0.0.0/29") == (("10.0.0.0/29",), None, False)  # 8 addresses: the least
    assert service_ranges_flag("fd00:0::5/112,10.96.3.4/12") == (("fd00::/112", "10.96.0.0/12"), None, False)
    assert service_ranges_flag("fd00::/108") == (("fd00::/108",), None, False)
    assert service_ranges_flag("fd00::/64") == (("fd00::/64",), None, False)  # 64 host bits: the most
    assert service_ranges_flag("10.0.0.0/8") == (("10.0.0.0/8",), None, False)  # no IPv4 range has more


UPSTREAM_OBJECTS = Path(__file__).resolve().parents[2] / "rulesets" / "upstream-cluster-ip-general" / "objects.yaml"


def test_a_scenario_takes_the_api_server_s_service_range_from_the_flag(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """upstream's objects (cluster IPs in 172.30.0.0/16) are refused as starting objects by the default range, with
    the file and the Service named (once an internal error), and accepted with that range; allocation uses it."""
    (tmp_path / "script").write_text("create deployment web --image=nginx --port=80\n"
                                     "expose deployment/web --port=80\n")
    common = ["scenario", str(tmp_path / "script"), "-f", str(UPSTREAM_OBJECTS), "--hostname-override", "test-node"]
    assert run_cli(common, monkeypatch) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines()[0] == (
        f'kubeproxy-sim: {UPSTREAM_OBJECTS}: The Service "svc1" is invalid: spec.clusterIPs: Invalid value: '
        '[]string{"172.30.0.41"}: failed to allocate IP 172.30.0.41: the provided IP (172.30.0.41) is not in the '
        "valid range. The range of valid IPs is 10.96.0.0/12; expected an address of the service range, or the "
        "cluster's range as --service-cluster-ip-range")
    assert run_cli([*common, "--service-cluster-ip-range", "172.30.0.0/16"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert '"ns1/svc1:http cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80' in out
    web = [line for line in out.split("# step 2")[1].splitlines()
           if line.startswith("-A KUBE-SERVICES") and "default/web" in line]
    assert len(web) == 1 and _in(web[0].split(" -d ")[1].split()[0], "172.30.0.0/16")


def test_a_later_apply_of_a_service_outside_the_default_range_gets_the_same_hint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The hint is made with the API server's words, so an ``apply -f`` step has it as the starting objects do."""
    (tmp_path / "svc.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n"
                                       "  clusterIP: 172.30.0.41\n  selector: {app: web}\n  ports: [{port: 80}]\n")
    (tmp_path / "script").write_text("apply -f svc.yaml\n")
    assert run_cli(["scenario", str(tmp_path / "script")], monkeypatch) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f'kubeproxy-sim: {tmp_path / "script"}:1: apply: The Service "web" is invalid: spec.clusterIPs: Invalid '
        'value: []string{"172.30.0.41"}: failed to allocate IP 172.30.0.41: the provided IP (172.30.0.41) is not in '
        "the valid range. The range of valid IPs is 10.96.0.0/12; expected an address of the service range, or the "
        "cluster's range as --service-cluster-ip-range")


def test_a_bad_service_range_flag_stops_the_scenario_naming_the_flag(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "script").write_text("wait 1s\n")
    assert run_cli(["scenario", str(tmp_path / "script"), "--service-cluster-ip-range", "10.0.0.0/16,10.1.0.0/16"],
                   monkeypatch) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "kubeproxy-sim: --service-cluster-ip-range: '10.0.0.0/16,10.1.0.0/16': --service-cluster-ip-range[0] and "
        "--service-cluster-ip-range[1] must be of different IP family; expected one CIDR of at most 64 host bits "
        "(e.g. 10.96.0.0/12), or two of different families (10.96.0.0/12,fd00:10:96::/112)\n")


@pytest.mark.parametrize(("value", "problem"), [("foo", "service-cluster-ip-range[0] is not a valid cidr"),
                                                ("10.0.0.0/8,", "service-cluster-ip-range[1] is not an ip net")])
def test_a_service_range_flag_that_is_no_cidr_is_a_usage_error(
        value: str, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A value of the wrong shape exits 2, as README's exit-status row says of a flag taking CIDRs; the words are
    kube-apiserver's, as for a CIDR it refuses (1)."""
    (tmp_path / "script").write_text("wait 1s\n")
    assert run_cli(["scenario", str(tmp_path / "script"), "--service-cluster-ip-range", value], monkeypatch) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert without_pointer(captured.err, "scenario") == (
        f"kubeproxy-sim: --service-cluster-ip-range: {value!r}: {problem}; expected one CIDR of at most 64 host bits "
        "(e.g. 10.96.0.0/12), or two of different families (10.96.0.0/12,fd00:10:96::/112)\n")


def test_a_dual_stack_service_range_flag_sets_the_primary_family(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Its first range is the primary family, whatever the Nodes' order: a Service naming no family gets it."""
    (tmp_path / "nodes.yaml").write_text(DS_NODE_FILE)
    (tmp_path / "script").write_text("create deployment web --image=nginx --port=80\nexpose deployment/web --port=80\n")
    assert run_cli(["scenario", str(tmp_path / "script"), "-f", str(tmp_path / "nodes.yaml"), "--cluster-cidr",
                    "10.244.0.0/16,fd00:10:244::/56", "--ip-family", "ipv6", "--service-cluster-ip-range",
                    "fd00:10:96::/112,10.96.0.0/12"], monkeypatch) == 0
    web = [line for line in capsys.readouterr().out.split("# step 2")[1].splitlines()
           if line.startswith("-A KUBE-SERVICES") and "default/web" in line]
    assert len(web) == 1 and _in(web[0].split(" -d ")[1].split()[0], "fd00:10:96::/112")


def _held(nodes: tuple, service: Service, policy: str | None = None) -> tuple[object, random.Random]:
    """A world holding ``service`` as admitted, and the generator to go on with."""
    rng = random.Random(0)
    w = world(nodes)
    return W.put_service(w, W.admit_service(w, service, rng, policy=policy)), rng


def test_an_update_may_not_change_a_cluster_ip_as_validation_refuses_it() -> None:
    """validateUpgradeDowngradeClusterIPs: a changed clusterIPs[i] is refused ("may not change once set", with the
    new list); leaving the address out, or writing it again, keeps it; the old Service is what the world holds."""
    from kubeproxy_sim.controllers.decode import WrittenIPFields

    w, rng = _held(NODES, _service(ips=("10.96.0.50",)))
    with pytest.raises(W.ActionError, match=r'^The Service "web" is invalid: spec\.clusterIPs\[0\]: Invalid value: '
                                            r'\[\]string\{"10.96.0.60"\}: may not change once set$'):
        W.admit_service(w, _service(ips=("10.96.0.60",)), rng)  # type: ignore[arg-type]
    with pytest.raises(W.ActionError, match=r"spec\.clusterIPs\[0\]: .*: may not change once set"):  # even outside
        W.admit_service(w, _service(ips=("172.30.0.5",)), rng)  # type: ignore[arg-type]
    for same in (_service(), _service(ips=("10.96.0.50",))):
        assert W.admit_service(w, same, rng).cluster_ips == ("10.96.0.50",)  # type: ignore[arg-type]
    # dual-stack: both changed is two errors, listed as Go's aggregate prints them
    w, rng = _held(DS_NODES, _service(ips=("10.96.0.50", "fd00:10:96::50")), "PreferDualStack")
    with pytest.raises(W.ActionError, match=r'^The Service "web" is invalid: \[spec\.clusterIPs\[0\]: Invalid value: '
                                            r'\[\]string\{"10.96.0.51", "fd00:10:96::51"\}: may not change once set, '
                                            r"spec\.clusterIPs\[1\]: Invalid value: \[\]string\{\"10.96.0.51\", "
                                            r'"fd00:10:96::51"\}: may not change once set\]$'):
        W.admit_service(w, _service(ips=("10.96.0.51", "fd00:10:96::51")), rng,  # type: ignore[arg-type]
                        written=WrittenIPFields(cluster_ips_list=True))
    # upgrading keeps the primary: a new secondary is allocated, a new primary refused
    w, rng = _held(DS_NODES, _service(ips=("10.96.0.50",)))
    upgraded = W.admit_service(w, _service(), rng, policy="RequireDualStack")  # type: ignore[arg-type]
    assert upgraded.cluster_ips[0] == "10.96.0.50" and _in(upgraded.cluster_ips[1], "fd00:10:96::/112")
    with pytest.raises(W.ActionError, match=r"spec\.clusterIPs\[0\]: Invalid value: \[\]string\{\"10.96.0.7\", "
                                            r'"fd00:10:96::7"\}: may not change once set'):
        W.admit_service(w, _service(ips=("10.96.0.7", "fd00:10:96::7")), rng,  # type: ignore[arg-type]
                        policy="RequireDualStack", written=WrittenIPFields(cluster_ips_list=True))


def test_releasing_the_secondary_cluster_ip_needs_single_stack_as_init_ip_family_fields_says() -> None:
    """A written list that drops the secondary under a dual-stack policy (given, or the old one) is refused;
    SingleStack releases it; clusterIP alone, unchanged, leaves the live list as kubectl apply does."""
    from kubeproxy_sim.controllers.decode import WrittenIPFields

    w, rng = _held(DS_NODES, _service(ips=("10.96.0.50", "fd00:10:96::50")), "PreferDualStack")
    listed = WrittenIPFields(cluster_ips_list=True)
    for policy in (None, "RequireDualStack"):
        shown = policy or "PreferDualStack"
        with pytest.raises(W.ActionError, match=rf'^The Service "web" is invalid: spec\.ipFamilyPolicy: Invalid value: '
                                                rf'"{shown}": must be \'SingleStack\' to release the secondary '
                                                r"cluster IP$"):
            W.admit_service(w, _service(ips=("10.96.0.50",)), rng, policy=policy,  # type: ignore[arg-type]
                            written=listed)
    single = W.admit_service(w, _service(ips=("10.96.0.50",)), rng, policy="SingleStack",  # type: ignore[arg-type]
                             written=listed)
    assert single.cluster_ips == ("10.96.0.50",) and single.ip_families == (V4,)
    kept = W.admit_service(w, _service(ips=("10.96.0.50",)), rng)  # type: ignore[arg-type]
    assert kept.cluster_ips == ("10.96.0.50", "fd00:10:96::50")
    with pytest.raises(W.ActionError, match="must be 'SingleStack' to release the secondary cluster IP"):
        W.admit_service(w, _service(ips=("10.96.0.60",)), rng)  # type: ignore[arg-type]  # clusterIP changed alone


def test_headless_and_external_name_updates_follow_the_api_server() -> None:
    """None <-> an address is a change of clusterIPs[0]; an apply leaving clusterIP out keeps "None"
    (patchAllocatedValues); to and from ExternalName the addresses are released and allocated afresh."""
    from kubeproxy_sim.objects.model import ServiceType

    rng = random.Random(0)
    w = world(NODES)
    w = W.put_service(w, W.admit_service(w, _headless(), rng))
    with pytest.raises(W.ActionError, match=r'spec\.clusterIPs\[0\]: Invalid value: \[\]string\{"10.96.0.50"\}: '
                                            "may not change once set"):
        W.admit_service(w, _service(ips=("10.96.0.50",)), rng)
    still = W.admit_service(w, _service(), rng)
    assert still.headless and still.ip_families == (V4,)
    unset = replace(_service(), cluster_ip_unset=True)  # a manifest leaving clusterIP out, as decode reads it
    for _ in range(2):  # and again: the admitted Service is "None", no longer a manifest's unset address
        admitted = W.admit_service(w, unset, rng)
        assert admitted.headless and not admitted.cluster_ip_unset and admitted.cluster_ips == ()
        w = W.put_service(w, admitted)
    assert not replace(unset, ip_families=(V4,)).headless  # families written, address not: still to allocate
    allocated = _admit(NODES, unset)  # the allocator gives it an address: it is no longer "not set"
    assert len(allocated.cluster_ips) == 1 and not allocated.cluster_ip_unset and not allocated.headless
    w, rng = _held(NODES, _service(ips=("10.96.0.50",)))
    with pytest.raises(W.ActionError, match=r'spec\.clusterIPs\[0\]: Invalid value: \[\]string\{"None"\}: '
                                            "may not change once set"):
        W.admit_service(w, _headless(), rng)  # type: ignore[arg-type]
    external = replace(_service(), type=ServiceType.EXTERNAL_NAME, external_name="example.com", selector=None,
                       cluster_ip_unset=False)
    gone = W.admit_service(w, external, rng)  # type: ignore[arg-type]
    assert gone.cluster_ips == ()
    w = W.put_service(w, gone)  # type: ignore[arg-type]
    assert W.admit_service(w, _service(ips=("10.96.0.60",)), rng).cluster_ips == ("10.96.0.60",)


def test_a_written_family_without_a_range_is_reported_where_upstream_reports_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """initIPFamilyFields names a written address at spec.clusterIPs[i] only when ipFamilies[i] was left to be
    inferred from it; a written family is named at spec.ipFamilies[i] (with a RequireDualStack refusal, both)."""
    from kubeproxy_sim.controllers.decode import WrittenIPFields, written_ip_fields

    assert written_ip_fields({"spec": {"clusterIPs": ["10.0.0.1"], "ipFamilies": ["IPv4", "IPv6"]}}) == \
        WrittenIPFields(cluster_ips_list=True, ip_families=2)
    assert written_ip_fields({"spec": {"clusterIP": "10.0.0.1", "ipFamilies": "IPv4"}}) == WrittenIPFields()
    v6 = _service(ips=("fd00:10:96::5",))
    with pytest.raises(W.ActionError, match=r'^The Service "web" is invalid: spec\.ipFamilies\[0\]: Invalid value: '
                                            r'"IPv6": not configured on this cluster \(the service ranges here are '
                                            r"10\.96\.0\.0/12, from the Nodes' address families\)$"):
        W.admit_service(world(NODES), v6, random.Random(0), written=WrittenIPFields(ip_families=1))
    with pytest.raises(W.ActionError, match=r'^The Service "web" is invalid: \[spec\.ipFamilyPolicy: Invalid value: '
                                            r'"RequireDualStack": this cluster is not configured for dual-stack '
                                            r".*, spec\.ipFamilies\[1\]: Invalid value: \"IPv6\": not configured"):
        W.admit_service(world(NODES), _service(ips=("10.96.0.7", "fd00:10:96::7")), random.Random(0),
                        policy="RequireDualStack", written=WrittenIPFields(cluster_ips_list=True, ip_families=2))
    (tmp_path / "svc.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n"
                                       "  clusterIP: fd00:10:96::5\n  ipFamilies: [IPv6]\n  selector: {app: web}\n"
                                       "  ports: [{port: 80}]\n")
    (tmp_path / "script").write_text("apply -f svc.yaml\n")
    assert run_cli(["scenario", str(tmp_path / "script")], monkeypatch) == 1
    assert 'spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster' in capsys.readouterr().err


def test_a_scenario_refuses_a_changed_cluster_ip_and_keeps_the_old_service(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name, address in (("a", "10.96.0.50"), ("b", "10.96.0.60")):
        (tmp_path / f"{name}.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n"
                                               f"  clusterIP: {address}\n  selector: {{app: web}}\n"
                                               "  ports: [{port: 80, targetPort: 8080}]\n")
    (tmp_path / "script").write_text("create deployment web --image=nginx --port=8080\napply -f a.yaml\n"
                                     "apply -f b.yaml\n")
    assert run_cli(["scenario", str(tmp_path / "script")], monkeypatch) == 1
    captured = capsys.readouterr()
    assert "-d 10.96.0.50 --dport 80" in captured.out and "10.96.0.60" not in captured.out
    assert captured.err == (f"kubeproxy-sim: {tmp_path / 'script'}:3: apply: The Service \"web\" is invalid: "
                            'spec.clusterIPs[0]: Invalid value: []string{"10.96.0.60"}: may not change once set\n')


def _scanned(services: tuple[Service, ...]) -> tuple[dict[str, Service], dict[str, int], dict[int, int]]:
    """What a scan of every Service finds: each by key (the first of a key), the addresses and node ports held."""
    by_key: dict[str, Service] = {}
    for s in services:
        by_key.setdefault(s.key, s)
    ips = Counter(ip for s in services for ip in s.cluster_ips)
    ports = Counter(p for s in services for p in [*(q.node_port for q in s.ports), s.health_check_node_port] if p)
    return by_key, dict(ips), dict(ports)  # plain dicts: a Counter would take a count of 0 as no key


AUTO = (("service.kubernetes.io/topology-mode", "Auto"),)


def _annotated(before: tuple[tuple[str, Annotations], ...], key: str,
               annotations: Annotations | None) -> tuple[tuple[str, Annotations], ...]:
    """What a scan-and-copy of every Service's annotations gives after a put: a key's new ones moved last."""
    if annotations is None:
        return before
    others = tuple(entry for entry in before if entry[0] != key)
    return (*others, (key, annotations)) if annotations else others


@settings(max_examples=budget(60), deadline=None)
@given(st.lists(st.tuples(st.sampled_from(("put", "delete", "pods")), st.integers(0, 4), st.integers(0, 3),
                          st.sampled_from((None, (), AUTO)), st.none() | st.integers(0, 25)), max_size=25),
       st.lists(st.integers(0, 25), max_size=4))
def test_the_service_table_answers_as_a_scan_of_every_service_for_each_world_new_or_old(
        actions: list[tuple[str, int, int, Annotations | None, int | None]], read_early: list[int]) -> None:
    """The Services a World carries (one index advanced in place by each put, each older World keeping only its
    change) read and answer every lookup as a scan of that World's own Services would, for the newest World and
    for each one before it, whichever were read on the way (``read_early``), and whichever World each change
    was made from (``branch``: an earlier one, whose puts and deletes, read first or not, start a lineage of
    their own; None: the newest); puts keep the scan's order (a new key last, a replaced one moved last), and so
    do annotations, which go with their Service when it is deleted."""
    rng = random.Random(0)
    worlds = [world()]
    expected: list[tuple[tuple[Service, ...], tuple[tuple[str, Annotations], ...]]] = [((), ())]
    # (services, annotations) of each World, as the scans and copies built them
    for step, (verb, which, port, wanted, branch) in enumerate(actions):
        base = len(worlds) - 1 if branch is None else branch % len(worlds)
        w, name = worlds[base], f"svc-{which}"
        services, annotated = expected[base]
        if verb == "put":
            ports = (ServicePort("", Protocol.TCP, 80, 80, node_port=30000 + port if port else 0),)
            # admitted on the newest World, so that a put from an older one is not preceded by a read of it
            service = W.admit_service(worlds[-1], replace(_service(name), type=ServiceType.NODE_PORT, ports=ports),
                                      rng)
            after = W.put_service(w, service, wanted)
            services = (*(s for s in services if s.key != service.key), service)
            annotated = _annotated(annotated, service.key, wanted)
        elif verb == "delete" and any(s.name == name for s in services):  # not asking w: no read before it
            after = w.without_services(frozenset({f"default/{name}"}))
            services = tuple(s for s in services if s.name != name)
            annotated = tuple(entry for entry in annotated if entry[0] != f"default/{name}")
        else:  # a change of another field carries the Services along
            after = replace(w, now=w.now + 1)
        worlds.append(after)
        expected.append((services, annotated))
        if step in read_early:  # a World read before the ones after it are made
            assert (worlds[step].services, worlds[step].service_annotations) == expected[step]
    for i in [*range(len(worlds))[::-1], *range(len(worlds))]:  # the newest first (its index is current)
        w = worlds[i]
        assert (w.services, w.service_annotations) == expected[i]
        by_key, ips, ports = _scanned(w.services)
        index = w.index()
        assert (index.by_key, index.cluster_ips, index.node_ports) == (by_key, ips, ports)
        assert all(w.service("default", f"svc-{i}") is by_key.get(f"default/svc-{i}") for i in range(5))
        assert all(W.annotations_of(w, key) == value for key, value in expected[i][1])
        assert w == replace(w, service_table=ServiceTable(*expected[i]))  # equal by value, not by history


def test_an_index_is_valid_until_its_world_is_advanced_and_no_caller_keeps_one_past_that() -> None:
    """World.index()'s contract: the index is shared by a lineage and advanced in place, so one read before a
    put describes the World after it (not a snapshot: a copy per World would cost what the index saves), while
    asking the older World again gives its own; every function of the package that asks for an index puts and
    deletes no Service itself, so none reads one across an advance."""
    import ast

    import kubeproxy_sim

    rng = random.Random(0)
    a = W.put_service(world(), W.admit_service(world(), _service("first"), rng))
    held = a.index()
    b = W.put_service(a, W.admit_service(a, _service("second"), rng))
    assert "default/second" in held.by_key  # the hazard the contract names: held is now b's
    assert list(a.index().by_key) == ["default/first"] and list(b.index().by_key) == ["default/first",
                                                                                        "default/second"]
    advancing = {"with_service", "without_services", "put_service", "delete_services", "put", "delete", "_advance"}
    package = Path(kubeproxy_sim.__file__).parent
    callers = []
    for path in sorted(package.rglob("*.py")):
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            calls = [n for n in ast.walk(function) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
            called = {n.func.attr for n in calls}
            asks = any(n.func.attr == "index" and not n.args for n in calls)  # not a sequence's index(x)
            if asks and function.name not in ("index", "_advance", "_materialize"):
                callers.append(function.name)
                assert not called & advancing, f"{path.name}: {function.name} asks for an index and advances"
    assert {"service", "admit_service", "annotations_of"} <= set(callers)  # the check sees the callers
