"""A Pod's spec.dnsPolicy and spec.dnsConfig: read, defaulted and refused as the API server does."""

from __future__ import annotations

import pytest

from kubeproxy_sim.objects.model import DNSPolicy, PodDNSConfig

POD = "apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: ns1}}\nspec: {spec}\n"


def test_absent_fields_are_cluster_first_without_a_config(load):
    pod, = load(POD.format(spec="{nodeName: n1}"), "t.yaml").cluster.pods
    assert pod.dns_policy is DNSPolicy.CLUSTER_FIRST and pod.dns_config is None
    pod, = load(POD.format(spec='{dnsPolicy: ""}'), "t.yaml").cluster.pods  # "" is defaulted as absent
    assert pod.dns_policy is DNSPolicy.CLUSTER_FIRST


@pytest.mark.parametrize("policy", [p.value for p in DNSPolicy if p is not DNSPolicy.NONE])
def test_every_policy_of_the_enum_is_read(load, policy):
    result = load(POD.format(spec=f"{{dnsPolicy: {policy}}}"), "t.yaml")
    assert list(result.diagnostics) == []
    assert result.cluster.pods[0].dns_policy.value == policy


def test_dns_config_keeps_its_order_and_canonical_addresses(load):
    spec = ("{dnsPolicy: None, dnsConfig: {nameservers: ['10.0.0.53', 'FD00::0:53'], searches: [b.example, "
            "a.example.], options: [{name: ndots, value: '2'}, {name: edns0}]}}")
    result = load(POD.format(spec=spec), "t.yaml")
    assert list(result.diagnostics) == []
    pod, = result.cluster.pods
    assert pod.dns_policy is DNSPolicy.NONE
    assert pod.dns_config == PodDNSConfig(nameservers=("10.0.0.53", "fd00::53"),
                                          searches=("b.example", "a.example."),
                                          options=(("ndots", "2"), ("edns0", None)))


@pytest.mark.parametrize(("spec", "expected"), [
    ("{dnsPolicy: clusterfirst}",
     ['spec.dnsPolicy: "clusterfirst" is not a DNS policy (did you mean ClusterFirst? the value is case-sensitive); '
      'expected ClusterFirst, ClusterFirstWithHostNet, '
      "Default or None"]),
    ("{dnsPolicy: None}",
     ["spec.dnsConfig: required when spec.dnsPolicy is None (the pod's resolv.conf is dnsConfig alone); expected "
      "at least one nameserver"]),
    ("{dnsPolicy: None, dnsConfig: {searches: [a.example]}}",
     ["spec.dnsConfig.nameservers: required when spec.dnsPolicy is None; expected at least one nameserver "
      "address"]),
    ("{dnsConfig: {nameservers: [1.1.1.1, 1.0.0.1, 8.8.8.8, 8.8.4.4]}}",
     ["spec.dnsConfig.nameservers: 4 nameservers; expected at most 3 (the API server refuses more)"]),
    ("{dnsConfig: {nameservers: [1.1.1.1, dns.example]}}",
     ['spec.dnsConfig.nameservers[1]: "dns.example" is not an IP address (a nameserver)']),
    ("{dnsConfig: {searches: [" + ", ".join(f"s{i}.example" for i in range(33)) + "]}}",
     ["spec.dnsConfig.searches: 33 search domains; expected at most 32 (the API server refuses more)"]),
    ("{dnsConfig: {searches: [" + ", ".join(f"{'a' * 62}.s{i}" for i in range(32)) + "]}}",
     ["spec.dnsConfig.searches: 2,133 characters (with the spaces between them); expected at most 2048 (the API "
      "server refuses more)"]),
    ("{dnsConfig: {searches: [Corp.Example]}}",
     ['spec.dnsConfig.searches[0]: "Corp.Example" is not a DNS-1123 subdomain; expected at most 253 lower-case '
      'letters, digits and "-" and ".", each "."-separated part starting and ending with a letter or digit (the '
      "API server refuses it)"]),
    ("{dnsConfig: {options: [{value: '3'}]}}",
     ["spec.dnsConfig.options[0].name: required; expected a resolver option such as ndots"]),
    ("{dnsConfig: {options: [ndots]}}",
     ['spec.dnsConfig.options[0]: expected a mapping, got a string "ndots"']),
    ("{dnsConfig: {nameservers: 1.1.1.1}}",
     ["spec.dnsConfig.nameservers: expected a list, got a string"]),
])
def test_refused_dns_fields_are_named_and_the_pod_is_skipped(load, spec, expected):
    result = load(POD.format(spec=spec), "t.yaml")
    assert [str(d) for d in result.errors] == [f"t.yaml: Pod ns1/p: {e}" for e in expected]
    assert result.cluster.pods == ()


def test_a_bad_pod_dns_field_never_hides_the_good_pods(load):
    good = POD.format(spec="{dnsPolicy: Default}").replace("name: p,", "name: good,")
    bad = POD.format(spec="{dnsPolicy: Nope}")
    result = load(good + "---\n" + bad, "t.yaml")
    assert [p.name for p in result.cluster.pods] == ["good"]
    assert len(result.errors) == 1
