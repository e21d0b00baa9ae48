"""Values kube-proxy accepts although a strict check would not: read them as kube-proxy does, and warn."""

from __future__ import annotations

import json

import pytest

from kubeproxy_sim.objects import IPFamily, TrafficPolicy
from kubeproxy_sim.objects.addr import parse_cidr, parse_ip
from kubeproxy_sim.objects.report import number


@pytest.mark.parametrize(("text", "canonical", "family", "legacy"), [
    ("10.1.0.1", "10.1.0.1", IPFamily.IPV4, False),
    ("010.001.0.1", "10.1.0.1", IPFamily.IPV4, True),  # decimal, as Go's ParseIPSloppy, not octal
    ("0.0.0.0", "0.0.0.0", IPFamily.IPV4, False),
    ("255.255.255.255", "255.255.255.255", IPFamily.IPV4, False),
    ("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1", IPFamily.IPV6, False),
    ("fd00:0:0:0:0:0:0:1", "fd00::1", IPFamily.IPV6, False),
    ("::1.2.3.4", "::102:304", IPFamily.IPV6, False),
    ("::ffff:1.2.3.4", "1.2.3.4", IPFamily.IPV4, True),
])
def test_parse_ip_canonical(text, canonical, family, legacy):
    parsed = parse_ip(text)
    assert parsed is not None
    assert (parsed.text, parsed.family, parsed.legacy) == (canonical, family, legacy)


@pytest.mark.parametrize("text", [
    "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "0256.1.1.1", " 1.2.3.4", "1.2.3.4 ", "1.2.3.-4", "a.b.c.d",
    "fe80::1%eth0", "10.0.0.0/8", "::g", "1::2::3", "１.2.3.4", None, 5,
])
def test_parse_ip_rejects(text):
    assert parse_ip(text) is None


@pytest.mark.parametrize(("text", "canonical", "legacy"), [
    ("10.0.0.0/8", "10.0.0.0/8", False),
    ("10.1.2.3/8", "10.0.0.0/8", True),
    ("010.0.0.0/8", "10.0.0.0/8", True),
    ("2001:DB8::/32", "2001:db8::/32", False),
    ("0.0.0.0/0", "0.0.0.0/0", False),
])
def test_parse_cidr(text, canonical, legacy):
    parsed = parse_cidr(text)
    assert parsed is not None and (parsed.text, parsed.legacy) == (canonical, legacy)


@pytest.mark.parametrize(("text", "canonical", "family"), [
    # as Go's net.ParseCIDR and IPNet.String read them (checked against go, 5,000 random cases): the prefix of an
    # IPv4-mapped CIDR counts 128 bits, from /96 on it is the IPv4 network, below /96 an IPv6 one
    ("::ffff:203.0.113.0/120", "203.0.113.0/24", IPFamily.IPV4),
    ("::ffff:1.2.3.4/128", "1.2.3.4/32", IPFamily.IPV4),
    ("::ffff:0:0/96", "0.0.0.0/0", IPFamily.IPV4),
    ("::ffff:1.2.3.4/100", "0.0.0.0/4", IPFamily.IPV4),
    ("0:0:0:0:0:FFFF:a00:1/104", "10.0.0.0/8", IPFamily.IPV4),
    ("::ffff:1.2.3.4/88", "::ff00:0:0/88", IPFamily.IPV6),
    ("::ffff:1.2.3.4/24", "::/24", IPFamily.IPV6),
])
def test_parse_cidr_ipv4_mapped(text, canonical, family):
    parsed = parse_cidr(text)
    assert parsed is not None and (parsed.text, parsed.family, parsed.legacy) == (canonical, family, True)


@pytest.mark.parametrize(("text", "canonical", "family"), [
    # kube-proxy's ParseCIDRSloppy is k8s.io/utils' fork of Go 1.16's ParseCIDR (its dtoi and xtoi): leading zeros
    # in the prefix and in an embedded IPv4 part, hex groups of more than four digits that fit in 16 bits; each
    # checked against that fork built with go 1.19, as are 200,000 random texts (same text, family and zero-ness)
    ("10.0.0.0/0008", "10.0.0.0/8", IPFamily.IPV4),
    ("::ffff:1.2.3.0/0120", "1.2.3.0/24", IPFamily.IPV4),
    ("::ffff:010.1.2.3/120", "10.1.2.0/24", IPFamily.IPV4),
    ("::ffff:1.2.3.4/" + "0" * 5000 + "128", "1.2.3.4/32", IPFamily.IPV4),
    ("0:0:0:0:0:0:0:00001/64", "::/64", IPFamily.IPV6),
    ("fd00::000000000001/128", "fd00::1/128", IPFamily.IPV6),
])
def test_parse_cidr_reads_leading_zeros_as_kube_proxys_parser(text, canonical, family):
    parsed = parse_cidr(text)
    assert parsed is not None and (parsed.text, parsed.family, parsed.legacy) == (canonical, family, True)


@pytest.mark.parametrize(("text", "zero"), [
    ("0.0.0.0/0", True), ("10.0.0.0/0", True), ("::/0", True), ("::ffff:1.2.3.4/0", True), ("0.0.0.0/00", True),
    # Go's mask of a mapped CIDR keeps its 128-bit length: /96 is no zero CIDR to kube-proxy's IsZeroCIDR
    ("::ffff:192.168.0.0/96", False), ("::ffff:0:0/96", False), ("0.0.0.0/1", False),
])
def test_parse_cidr_zero_is_the_prefix_as_written(text, zero):
    parsed = parse_cidr(text)
    assert parsed is not None and parsed.zero is zero


@pytest.mark.parametrize("text", ["10.0.0.0", "10.0.0.0/33", "::ffff:1.2.3.4/129", "::ffff:1.2.3.4/33x",
                                  "10.0.0.0/ 8", "10.0.0.0/-1", "x/8", "::/129", "10.0.0.0/8/8", "10.0.0.0/",
                                  "10.0.0.0/0033", "10.0.0.0/+8", "10.0.0.0/８", "::ffff:0256.1.2.3/120",
                                  "::10000/64", "::000010000/64", "1:2:3:4:5:6:7:8::/64", "::1:2:3:4:5:6:7:8/64",
                                  "1:2:3:4:5:010.1.2.3/128"])
def test_parse_cidr_rejects(text):
    assert parse_cidr(text) is None


@pytest.mark.parametrize(("text", "canonical", "family"), [
    ("::ffff:010.001.0.1", "10.1.0.1", IPFamily.IPV4),  # ParseIPSloppy shares the fork's IPv6 reader
    ("2001:db8::00000001", "2001:db8::1", IPFamily.IPV6),
    ("0" * 5000 + "1.1.1.1", "1.1.1.1", IPFamily.IPV4),
])
def test_parse_ip_reads_what_only_kube_proxys_parser_accepts_as_legacy(text, canonical, family):
    parsed = parse_ip(text)
    assert parsed is not None and (parsed.text, parsed.family, parsed.legacy) == (canonical, family, True)


def test_leading_zero_cluster_ip_is_read_as_decimal_with_warning(load, messages):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: a}
        spec: {clusterIP: 010.001.0.1, ports: [{port: 80}]}
    """)
    assert result.ok and result.cluster.services[0].cluster_ips == ("10.1.0.1",)
    assert messages(result) == [
        't.yaml: Service default/a: spec.clusterIP: warning: "010.001.0.1" is a legacy address form; '
        "kube-proxy reads it as 10.1.0.1"]


def test_leading_zero_endpoint_address(load):
    result = load("""
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: s, labels: {kubernetes.io/service-name: a}}
        addressType: IPv4
        endpoints: [{addresses: [010.180.000.001]}]
    """)
    assert result.ok
    assert result.cluster.endpoint_slices[0].endpoints[0].addresses == ("10.180.0.1",)
    assert [d.severity.value for d in result.diagnostics] == ["warning"]


def test_invalid_external_ips_and_lb_ingress_are_dropped_with_warnings(load, messages):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: lb}
        spec:
          type: LoadBalancer
          clusterIP: 10.0.0.1
          externalIPs: [1.2.3.4, not-an-ip, "0192.168.0.1"]
          loadBalancerSourceRanges: ["  203.0.113.0/24 ", bogus, 10.1.2.3/8]
          ports: [{port: 80, nodePort: 8080}]
        status:
          loadBalancer:
            ingress: [{ip: 5.6.7.8}, {ip: nope, hostname: h.example}]
    """)
    assert result.ok
    (svc,) = result.cluster.services
    assert svc.external_ips == ("1.2.3.4", "192.168.0.1")
    assert svc.load_balancer_source_ranges == ("203.0.113.0/24", "10.0.0.0/8")
    assert [(i.ip, i.hostname) for i in svc.load_balancer_ingress] == [("5.6.7.8", None), (None, "h.example")]
    assert svc.ports[0].node_port == 8080
    assert messages(result) == [
        "t.yaml: Service default/lb: spec.ports[0].nodePort: warning: 8080 is outside the default node port "
        "range 30000-32767; kube-proxy uses it as given",
        't.yaml: Service default/lb: spec.externalIPs[1]: warning: "not-an-ip" is not an IP address; '
        "kube-proxy ignores it",
        't.yaml: Service default/lb: spec.externalIPs[2]: warning: "0192.168.0.1" is a legacy address form; '
        "kube-proxy reads it as 192.168.0.1",
        't.yaml: Service default/lb: spec.loadBalancerSourceRanges[1]: warning: "bogus" is not a CIDR like '
        "10.0.0.0/8; kube-proxy ignores it",
        't.yaml: Service default/lb: status.loadBalancer.ingress[1].ip: warning: "nope" is not an IP address; '
        "kube-proxy ignores it",
    ]


def test_an_ipv4_mapped_source_range_that_kube_proxy_widens_is_kept_with_a_warning(load, messages):
    """Go's ParseCIDR counts a mapped range's prefix over 128 bits: /96 is 0.0.0.0/0 (every IPv4 client), below
    /96 an IPv6 range; kube-proxy writes them so, and so does the loader, saying so; /120 is 203.0.113.0/24."""
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: lb}
        spec:
          type: LoadBalancer
          clusterIP: 10.0.0.1
          loadBalancerSourceRanges: ["::ffff:203.0.113.0/120", "::ffff:192.168.0.0/96", "::ffff:1.2.3.4/88"]
          ports: [{port: 80, nodePort: 30080}]
    """)
    assert result.ok
    (svc,) = result.cluster.services
    assert svc.load_balancer_source_ranges == ("203.0.113.0/24", "0.0.0.0/0", "::ff00:0:0/88")
    meant = "an IPv4 range is a.b.c.d/n, or ::ffff:a.b.c.d/n+96"
    assert messages(result) == [
        't.yaml: Service default/lb: spec.loadBalancerSourceRanges[1]: warning: "::ffff:192.168.0.0/96" is '
        "0.0.0.0/0 as kube-proxy reads it (its prefix counts 128 bits, and /96 leaves none of the IPv4 address): "
        f"every IPv4 client is let in; {meant}",
        't.yaml: Service default/lb: spec.loadBalancerSourceRanges[2]: warning: "::ffff:1.2.3.4/88" is the IPv6 '
        "range ::ff00:0:0/88 as kube-proxy reads it (its prefix counts 128 bits, and below 96 the ::ffff: is masked "
        f"off): the IPv4 proxier does not see it (the Service's other IPv4 ranges alone decide which IPv4 clients "
        "get in); the IPv6 proxier keeps it (as the Service's only IPv6 range, its IPv6 rules let in only clients "
        f"in that reserved block: no real IPv6 client); {meant}",
    ]


@pytest.mark.parametrize(("ranges", "v4", "v6"), [
    # alone (the review's ds-mapped.yaml): every IPv4 client gets in, and no real IPv6 one
    (["::ffff:203.0.113.0/88"], "with no other IPv4 range, the Service's IPv4 rules let every IPv4 client in",
     "as the Service's only IPv6 range, its IPv6 rules let in only clients in that reserved block: no real IPv6 "
     "client"),
    # beside an IPv6 range: the IPv4 clients still all get in, and the IPv6 ones of 2001:db8::/64
    (["::ffff:203.0.113.0/88", "2001:db8::/64"],
     "with no other IPv4 range, the Service's IPv4 rules let every IPv4 client in",
     "beside the Service's other IPv6 ranges, it lets in no more real IPv6 clients"),
])
def test_a_mapped_source_range_below_96_says_what_each_proxier_then_lets_in(load, messages, ranges, v4, v6):
    """Below /96 the range is IPv6: the IPv4 proxier drops it, so with no other IPv4 range its rules filter no
    IPv4 client, and the IPv6 proxier filters by a block no real client is in; the warning says both."""
    result = load(f"""
        apiVersion: v1
        kind: Service
        metadata: {{name: lb}}
        spec:
          type: LoadBalancer
          clusterIP: 10.0.0.1
          loadBalancerSourceRanges: {json.dumps(ranges)}
          ports: [{{port: 80, nodePort: 30080}}]
    """)
    assert result.ok
    assert messages(result) == [
        't.yaml: Service default/lb: spec.loadBalancerSourceRanges[0]: warning: "::ffff:203.0.113.0/88" is the '
        "IPv6 range ::ff00:0:0/88 as kube-proxy reads it (its prefix counts 128 bits, and below 96 the ::ffff: is "
        f"masked off): the IPv4 proxier does not see it ({v4}); the IPv6 proxier keeps it ({v6}); an IPv4 range is "
        "a.b.c.d/n, or ::ffff:a.b.c.d/n+96",
    ]


def test_a_node_address_that_is_not_an_ip_goes_alone_with_a_warning(load, messages):
    """The API server does not check status.addresses' text and kube-proxy skips what it cannot parse: the
    Node stays, with its zone, podCIDRs and its other addresses."""
    result = load("""
        apiVersion: v1
        kind: Node
        metadata: {name: 'n', labels: {topology.kubernetes.io/zone: za}}
        spec: {podCIDR: 10.244.1.0/24}
        status:
          addresses:
          - {type: InternalIP, address: foo}
          - {type: InternalIP, address: 192.168.1.10}
          - {type: ExternalIP, address: not-an-ip.example.com}
          - {type: Hostname, address: 'n'}
    """, "o.yaml")
    assert result.ok
    (node,) = result.cluster.nodes
    assert [(a.type, a.address) for a in node.addresses] == [("InternalIP", "192.168.1.10"), ("Hostname", "n")]
    assert node.pod_cidrs == ("10.244.1.0/24",) and dict(node.labels)["topology.kubernetes.io/zone"] == "za"
    assert messages(result) == [
        'o.yaml: Node n: status.addresses[0].address: warning: "foo" is not an IP address; kube-proxy ignores '
        "this InternalIP",
        'o.yaml: Node n: status.addresses[2].address: warning: "not-an-ip.example.com" is not an IP address; '
        "kube-proxy ignores this ExternalIP"]


def test_what_kube_proxy_ignores_as_go_reads_it(load, messages):
    """An external IP in ffX2::/16 (Go's link-local multicast) goes, with a warning; a source range padded
    with \\x1c is not trimmed (Go's TrimSpace keeps it, Python's strip() would not) and is ignored."""
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: lb}
        spec:
          type: LoadBalancer
          clusterIP: fd00::10
          externalIPs: ["ff12::1", "ff15::1"]
          loadBalancerSourceRanges: ["\\x1c10.0.0.0/8", "\\u00a010.1.0.0/16\\t"]
          ports: [{port: 80, nodePort: 30080}]
    """)
    assert result.ok
    (svc,) = result.cluster.services
    assert svc.external_ips == ("ff15::1",)
    assert svc.load_balancer_source_ranges == ("10.1.0.0/16",)
    assert messages(result) == [
        't.yaml: Service default/lb: spec.externalIPs[0]: warning: "ff12::1" is a link-local multicast address, '
        "which the API server refuses as an external IP; ignored",
        't.yaml: Service default/lb: spec.loadBalancerSourceRanges[0]: warning: "\\x1c10.0.0.0/8" is not a CIDR '
        "like 10.0.0.0/8; kube-proxy ignores it",
    ]


def test_nodeport_service_without_node_port_warns(load, messages):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: np}
        spec: {type: NodePort, clusterIP: 10.0.0.1, ports: [{port: 80}]}
    """)
    assert result.ok and result.cluster.services[0].ports[0].node_port == 0
    assert messages(result) == [
        "t.yaml: Service default/np: spec.ports[0].nodePort: warning: not set; the API server would allocate "
        "one, so no node port rules are made for this port"]


def test_service_without_cluster_ip_is_kept_and_skipped_like_kube_proxy(load, messages):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: noip}
        spec: {ports: [{port: 80}]}
    """)
    (svc,) = result.cluster.services
    assert svc.cluster_ips == () and not svc.headless and svc.cluster_ip_unset  # not "None" (QA-dns H3)
    assert messages(result) == [
        "t.yaml: Service default/noip: spec.clusterIP: warning: not set; the API server would allocate one, and "
        'kube-proxy skips a Service without it (set an address, or "None" for a headless Service)']


def test_external_policy_local_on_internal_service_reads_as_cluster(load, messages):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: a}
        spec: {clusterIP: 10.0.0.1, externalTrafficPolicy: Local, ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: b}
        spec: {clusterIP: 10.0.0.2, externalIPs: [1.1.1.1], externalTrafficPolicy: Local, ports: [{port: 80}]}
    """)
    a, b = result.cluster.services
    assert a.external_traffic_policy is TrafficPolicy.CLUSTER
    assert b.external_traffic_policy is TrafficPolicy.LOCAL
    assert messages(result) == [
        "t.yaml: Service default/a: spec.externalTrafficPolicy: warning: Local has no effect on a Service "
        "without node ports, external IPs or a load balancer; read as Cluster"]


def test_slice_without_service_name_label_is_kept_with_warning(load, messages):
    result = load("""
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: s}
        addressType: IPv4
        endpoints: [{addresses: [10.0.0.1]}]
    """)
    assert result.ok and result.cluster.endpoint_slices[0].service_name == ""
    assert messages(result) == [
        "t.yaml: EndpointSlice default/s: metadata.labels.kubernetes.io/service-name: warning: not set; "
        "kube-proxy ignores an EndpointSlice that does not name its Service"]


def test_an_empty_zone_hint_is_kept_as_the_api_keeps_it(load, messages):
    """Zone hints are validated as label values, which may be empty; a node hint names a Node and may not."""
    result = load("""
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: s, labels: {kubernetes.io/service-name: a}}
        addressType: IPv4
        endpoints: [{addresses: [10.180.0.1], hints: {forZones: [{name: ""}]}}]
    """)
    assert result.ok and messages(result) == []
    assert result.cluster.endpoint_slices[0].endpoints[0].hints_for_zones == ("",)
    refused = load("""
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: s, labels: {kubernetes.io/service-name: a}}
        addressType: IPv4
        endpoints: [{addresses: [10.180.0.1], hints: {forNodes: [{name: ""}]}}]
    """)
    assert not refused.ok and "endpoints[0].hints.forNodes[0].name" in messages(refused)[0]


def test_a_traffic_distribution_the_api_refuses_is_kept_with_a_warning(load, messages):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: a}
        spec: {clusterIP: 10.96.0.1, trafficDistribution: Closest, ports: [{port: 80}]}
    """)
    assert result.ok and result.cluster.services[0].traffic_distribution == "Closest"
    assert messages(result) == [
        't.yaml: Service default/a: spec.trafficDistribution: warning: "Closest" is not a value the API server '
        "accepts; expected PreferClose, PreferSameZone or PreferSameNode (the EndpointSlice controller then "
        "writes no hints)"]


def test_a_slice_port_without_a_number_is_kept_with_kube_proxys_warning(load, messages):
    """endpointslicecache skips such a port ("Ignoring invalid endpoint port"); the API allows it."""
    result = load("""
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: s, labels: {kubernetes.io/service-name: a}}
        addressType: IPv4
        endpoints: [{addresses: [10.180.0.1]}]
        ports: [{name: http, protocol: TCP}]
    """)
    assert result.ok and result.cluster.endpoint_slices[0].ports[0].port is None
    assert messages(result) == [
        "t.yaml: EndpointSlice default/s: ports[0].port: warning: not set; kube-proxy ignores a slice port without "
        "a number, so no service port gets these endpoints through it"]


@pytest.mark.usefixtures("unlimited_digits")
def test_a_number_of_thousands_of_digits_is_said_by_its_length_not_written_out(load, messages):
    # (JSON: written plain in YAML, a number past a 64-bit float is the string go-yaml keeps it as)
    digits = "9" * 50_000
    result = load(json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"},
        "spec": {"clusterIP": "10.0.0.1", "sessionAffinity": "ClientIP",
                 "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": -int(digits)}},
                 "ports": [{"name": int("1" * 300), "port": int(digits)}]}}), "t.json")
    assert messages(result) == [
        "t.json: Service default/a: spec.ports[0].name: expected a string, got an integer of 300 digits",
        "t.json: Service default/a: spec.ports[0].port: an integer of 50,000 digits is not in 0-65535",
        "t.json: Service default/a: spec.sessionAffinityConfig.clientIP.timeoutSeconds: a negative integer of "
        "50,000 digits is not in 1-86400"]
    assert number(10 ** 200 - 1) == "9" * 200 and number(10 ** 200) == "an integer of 201 digits"


@pytest.mark.usefixtures("unlimited_digits")
def test_a_number_of_thousands_of_digits_inside_a_list_or_mapping_is_said_by_its_length_too(load, messages):
    # (review r2 #4) JSON's encoder wrote it whole, 2.4 s for 300,000 digits, and the message showed 200 of them
    digits = "9" * 300_000
    result = load(json.dumps({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "a", "labels": {"x": {"y": [-int(digits), 1]}, "2020-01-02": {"2020-01-02": 1.5}}},
        "spec": {"clusterIP": "10.0.0.1", "ports": [{"port": [int(digits)]}]}}), "t.json")
    assert messages(result) == [
        't.json: Service default/a: metadata.labels.x: expected a string, got a mapping {"y": [a negative integer '
        'of 300,000 digits, 1]}',
        't.json: Service default/a: metadata.labels.2020-01-02: expected a string, got a mapping {"2020-01-02": 1.5}',
        "t.json: Service default/a: spec.ports[0].port: expected an integer, got a list [an integer of 300,000 "
        "digits]"]


def test_a_long_list_or_mapping_is_written_only_as_far_as_a_message_shows_it(load, messages):
    """QA-cli #1: a value was written whole as JSON, then cut (a 722,220-character text for 200 shown)."""
    ports = ", ".join(["80"] * 5_000)
    result = load(f"""
        apiVersion: v1
        kind: [{ports}]
        metadata: {{name: a, labels: {{x: {{y: "{"z" * 300}"}}}}}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {{name: b, labels: {{x: {{k: "{"z" * 300}"}}}}}}
        """)
    first, second = messages(result)[:2]
    assert first == (f"t.yaml: a: kind: expected a string, got a list [{', '.join(['80'] * 50)},... (a list of "
                     "5,000 items) (document 1); expected Service, EndpointSlice, Endpoints, Node or Pod")
    assert second == ('t.yaml: Service default/b: metadata.labels.x: expected a string, got a mapping {"k": "'
                      f'{"z" * 193}... (a mapping of 1 key)')
