"""Every validation message, exactly as the user reads it, and that bad objects never hide good ones."""

from __future__ import annotations

import pytest

from kubeproxy_sim.errors import Severity

SERVICE = """
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: ns1}}
spec:
  clusterIP: 10.0.0.1
  {spec}
"""


def _service_errors(load, spec: str) -> list[str]:
    result = load(SERVICE.format(spec=spec), "svc.yaml")
    assert result.cluster.services == ()  # the bad Service is skipped
    return [str(d) for d in result.errors]


@pytest.mark.parametrize(("spec", "expected"), [
    ("ports: [{name: a, port: 80}, {name: b, port: 70000}]",
     "spec.ports[1].port: 70000 is not in 0-65535"),
    ("ports: [{port: -1}]", "spec.ports[0].port: -1 is not in 0-65535"),  # (issue #2 words the range so; 0 has its own)
    ("ports: [{port: 0}]", "spec.ports[0].port: 0 is not a valid Service port; expected 1-65535"),
    ("ports: [{name: a}]", "spec.ports[0].port: required; expected a port number in 1-65535"),
    ('ports: [{port: "80"}]', 'spec.ports[0].port: expected an integer, got a string "80"'),
    ("ports: [{port: true}]", "spec.ports[0].port: expected an integer, got a boolean true"),
    ("ports: [{port: 80, protocol: ICMP}]",
     'spec.ports[0].protocol: "ICMP" is not a protocol; expected TCP, UDP or SCTP'),
    ("ports: [{port: 80, protocol: tcp}]",
     'spec.ports[0].protocol: "tcp" is not a protocol (did you mean TCP? the value is case-sensitive); expected TCP, '
     'UDP or SCTP'),
    ("ports: [{port: 80, targetPort: 65536}]", "spec.ports[0].targetPort: 65536 is not in 0-65535"),
    ('ports: [{port: 80, targetPort: "8080"}]',
     'spec.ports[0].targetPort: "8080" is not a port name; expected a number in 1-65535 or a name of up to 15 '
     'lower-case letters, digits and "-" with at least one letter'),
    ("ports: [{port: 80, targetPort: 1.5}]",
     "spec.ports[0].targetPort: expected a port number or name, got a number 1.5"),
    ("ports: [{name: a, port: 80}, {port: 81}]",
     "spec.ports[1].name: required when a Service has more than one port"),
    ("ports: [{name: http, port: 80}, {name: http, port: 81}]",
     'spec.ports[1].name: "http" is also the name of spec.ports[0]; expected unique port names'),
    ("ports: [{name: a, port: 80}, {name: b, port: 80}]",
     "spec.ports[1]: 80/TCP is also spec.ports[0]; expected each port and protocol once"),
    ("ports: [{port: 80, nodePort: 30001}]",
     "spec.ports[0].nodePort: only valid for type NodePort or LoadBalancer, not ClusterIP"),
    ("ports: [80]", 'spec.ports[0]: expected a mapping, got an integer 80'),
    ("ports: {port: 80}", "spec.ports: expected a list, got a mapping"),
    ("ports: []", "spec.ports: required; expected at least one port"),
    ("type: Foo\n  ports: [{port: 80}]",
     'spec.type: "Foo" is not a Service type; expected ClusterIP, NodePort, LoadBalancer or ExternalName; the API '
     'server refuses it: spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", '
     '"LoadBalancer", "NodePort"'),
    ("sessionAffinity: Sticky\n  ports: [{port: 80}]",
     'spec.sessionAffinity: "Sticky" is not a session affinity; expected None or ClientIP'),
    ("sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 86401}}\n  ports: [{port: 80}]",
     "spec.sessionAffinityConfig.clientIP.timeoutSeconds: 86401 is not in 1-86400"),
    ("externalTrafficPolicy: Global\n  ports: [{port: 80}]",
     'spec.externalTrafficPolicy: "Global" is not a traffic policy; expected Cluster or Local'),
    ("internalTrafficPolicy: local\n  ports: [{port: 80}]",
     'spec.internalTrafficPolicy: "local" is not a traffic policy (did you mean Local? the value is case-sensitive); '
     'expected Cluster or Local'),
    ("ipFamilies: [IPv5]\n  ports: [{port: 80}]",
     'spec.ipFamilies[0]: "IPv5" is not an IP family; expected IPv4 or IPv6'),
    ("ipFamilies: [[IPv4]]\n  ports: [{port: 80}]",
     'spec.ipFamilies[0]: ["IPv4"] is not an IP family; expected IPv4 or IPv6'),
    ("ipFamilies: [IPv6]\n  ports: [{port: 80}]",
     "spec.ipFamilies[0]: IPv6 does not match the cluster IP 10.0.0.1 (IPv4)"),
    ("clusterIPs: [10.0.0.2]\n  ports: [{port: 80}]",
     'spec.clusterIPs[0]: "10.0.0.2" differs from spec.clusterIP "10.0.0.1"; '
     "expected the same address (clusterIPs[0] is clusterIP)"),
    ("clusterIPs: [10.0.0.1, 10.0.0.2]\n  ports: [{port: 80}]",
     'spec.clusterIPs[1]: "10.0.0.2" is IPv4 like spec.clusterIPs[0]; expected one address of each IP family'),
    ("selector: [app]\n  ports: [{port: 80}]", "spec.selector: expected a mapping, got a list"),
    ("selector: {app: 1}\n  ports: [{port: 80}]", "spec.selector.app: expected a string, got an integer 1"),
    ("healthCheckNodePort: -5\n  ports: [{port: 80}]", "spec.healthCheckNodePort: -5 is not in 0-65535"),
])
def test_service_error_message(load, spec, expected):
    assert _service_errors(load, spec) == [f"svc.yaml: Service ns1/web: {expected}"]


def test_only_a_headless_service_goes_without_ports(load):
    """The API server's ValidateService requires spec.ports unless spec.clusterIP is "None" (or the type is
    ExternalName): a Service whose clusterIP is left out gets an address, so it needs ports as one with an address
    does (it was taken as headless and let through)."""
    def service(spec: str) -> str:
        return f"apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: ns1}}\nspec: {spec}\n"

    left_out = load(service("{selector: {app: web}}"), "svc.yaml")
    assert left_out.cluster.services == ()
    assert [str(d) for d in left_out.errors] == [
        "svc.yaml: Service ns1/web: spec.ports: required; expected at least one port"]
    for spec in ("{clusterIP: None, selector: {app: web}}", "{clusterIPs: [None], clusterIP: None}",
                 "{type: ExternalName, externalName: example.com}"):
        result = load(service(spec), "svc.yaml")
        assert result.errors == () and len(result.cluster.services) == 1 and result.cluster.services[0].ports == ()


def test_unparseable_cluster_ip(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: ns1}
        spec: {clusterIP: 10.0.0.300, ports: [{port: 80}]}
    """, "svc.yaml")
    assert [str(d) for d in result.errors] == [
        'svc.yaml: Service ns1/web: spec.clusterIP: "10.0.0.300" is not an IP address']


def test_headless_only_for_cluster_ip_type(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: b}
        spec: {type: NodePort, clusterIP: None, ports: [{port: 80, nodePort: 30001}]}
    """)
    assert [str(d) for d in result.errors] == [
        't.yaml: Service default/b: spec.clusterIP: "None" (headless) is only valid for type ClusterIP, not NodePort']


def test_external_name_needs_a_name(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: e}
        spec: {type: ExternalName}
    """)
    assert [str(d) for d in result.errors] == [
        "t.yaml: Service default/e: spec.externalName: required for a Service of type ExternalName"]


def test_an_external_name_the_api_server_refuses_is_warned_about(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: e}
        spec: {type: ExternalName, externalName: "not a name!"}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: ok}
        spec: {type: ExternalName, externalName: my.database.example.com.}
    """)
    assert not result.errors and [s.name for s in result.cluster.services] == ["e", "ok"]
    assert [str(d) for d in result.diagnostics] == [
        "t.yaml: Service default/e: spec.externalName: warning: 'not a name!' is not a DNS name; the API server "
        "refuses it (kube-proxy ignores ExternalName services; cluster DNS answers with this CNAME)"]


def test_a_service_another_proxy_serves_is_noted(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: s, labels: {service.kubernetes.io/service-proxy-name: cilium}}
        spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
    """)
    assert [s.name for s in result.cluster.services] == ["s"]  # still there: cluster DNS serves it
    assert [str(d) for d in result.diagnostics] == [
        "t.yaml: Service default/s: metadata.labels.service.kubernetes.io/service-proxy-name: note: "
        "service.kubernetes.io/service-proxy-name=cilium: kube-proxy does not watch this Service (another proxy "
        "serves it), so it writes no rules for it"]


def test_all_errors_of_one_object_are_reported(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: ns1}
        spec:
          clusterIP: 10.0.0.1
          sessionAffinity: Sticky
          ports:
          - {name: a, port: 80, protocol: ICMP}
          - {name: b, port: 70000}
    """, "svc.yaml")
    assert [str(d) for d in result.errors] == [
        'svc.yaml: Service ns1/web: spec.ports[0].protocol: "ICMP" is not a protocol; expected TCP, UDP or SCTP',
        "svc.yaml: Service ns1/web: spec.ports[1].port: 70000 is not in 0-65535",
        'svc.yaml: Service ns1/web: spec.sessionAffinity: "Sticky" is not a session affinity; '
        "expected None or ClientIP",
    ]


def test_messages_name_the_wrong_value_once_and_where_it_is(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          type: NodePort
          clusterIP: 10.0.0.1
          ports: [null, {name: a, port: 80, nodePort: 99999}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: web-1, labels: {kubernetes.io/service-name: web}}
        addressType: IPv4
        endpoints: [{addresses: [10.0.0.5], hints: {forZones: [null, {name: 5}]}}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: p}
        status: {podIP: bad, podIPs: [null, {ip: 10.0.0.9}]}
    """)
    assert [str(d) for d in result.diagnostics] == [
        "t.yaml: Service default/web: spec.ports[0]: expected a mapping, got null",
        "t.yaml: Service default/web: spec.ports[1].nodePort: 99999 is not in 0-65535",
        "t.yaml: EndpointSlice default/web-1: endpoints[0].hints.forZones[0]: expected a mapping with a name, got null",
        "t.yaml: EndpointSlice default/web-1: endpoints[0].hints.forZones[1].name: required; expected a name, got an "
        "integer 5",
        "t.yaml: Pod default/p: status.podIPs[0]: expected a mapping, got null",
        't.yaml: Pod default/p: status.podIP: "bad" is not an IP address',
    ]


def test_missing_name(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {namespace: x}
        spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
    """)
    assert [str(d) for d in result.errors] == [
        "t.yaml: Service x/(unnamed): metadata.name: required; every object needs a name (document 1)"]


def test_a_namespace_that_is_a_list_or_a_map_is_reported_as_not_a_string(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: a, namespace: [x]}
        spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: p, namespace: {x: 1}}
        spec: {nodeName: node1}
    """)
    problems = [str(d) for d in result.errors]
    assert len(problems) == 2 and not any("internal error" in p for p in problems), problems
    assert all("metadata.namespace: expected a string" in p for p in problems), problems


SLICE_ERRORS = [
    ('addressType: IPv4\nendpoints: [{addresses: ["fd00::1"]}]',
     'endpoints[0].addresses[0]: "fd00::1" is not an IPv4 address (the slice\'s addressType is IPv4)'),
    ("addressType: IPv6\nendpoints: [{addresses: [10.0.0.1]}]",
     'endpoints[0].addresses[0]: "10.0.0.1" is not an IPv6 address (the slice\'s addressType is IPv6)'),
    ("addressType: IPv4\nendpoints: [{addresses: [nope]}]",
     'endpoints[0].addresses[0]: "nope" is not an IP address'),
    ("addressType: IPv4\nendpoints: [{addresses: [5]}]",
     "endpoints[0].addresses[0]: expected an address, got an integer 5"),
    ("addressType: IPv4\nendpoints: [{addresses: []}]",
     "endpoints[0].addresses: has 0 addresses; expected 1 to 100"),
    ("addressType: IPv4\nendpoints: [{nodeName: 'n'}]",
     "endpoints[0].addresses: required; expected 1 to 100 addresses"),
    ("addressType: IPv4\nendpoints: [{addresses: [1.2.3.4], conditions: {ready: 'yes'}}]",
     'endpoints[0].conditions.ready: expected true or false, got a string "yes"'),
    ("addressType: IPv4\nendpoints: [{addresses: [1.2.3.4], conditions: {terminating: 1}}]",
     "endpoints[0].conditions.terminating: expected true or false, got an integer 1"),
    ("addressType: IPv4\nendpoints: [{addresses: [1.2.3.4], nodeName: 7}]",
     "endpoints[0].nodeName: expected a string, got an integer 7"),
    ("addressType: IPv4\nendpoints: [5]", "endpoints[0]: expected a mapping, got an integer 5"),
    ("addressType: IPv4\nendpoints: {}", "endpoints: expected a list, got a mapping"),
    ("addressType: Foo", 'addressType: "Foo" is not an address type; expected IPv4, IPv6 or FQDN'),
    ("endpoints: []", "addressType: required; expected IPv4, IPv6 or FQDN"),
    ("addressType: IPv4\nports: [{port: 70000}]", "ports[0].port: 70000 is not in 0-65535"),
    ("addressType: IPv4\nports: [{port: -1}]", "ports[0].port: -1 is not in 0-65535"),  # (issue #2 words the range so)
    ("addressType: IPv4\nports: [{port: 80, protocol: tcp}]",
     'ports[0].protocol: "tcp" is not a protocol (did you mean TCP? the value is case-sensitive); expected TCP, UDP '
     'or SCTP'),
    ("addressType: IPv4\nports: [{name: a, port: 80}, {name: a, port: 81}]",
     'ports[1].name: "a" is also the name of ports[0]; expected unique port names'),
]


@pytest.mark.parametrize(("body", "expected"), SLICE_ERRORS)
def test_endpoint_slice_error_message(load, body, expected):
    text = ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
            "metadata: {name: s, namespace: ns1, labels: {kubernetes.io/service-name: web}}\n" + body + "\n")
    result = load(text, "eps.yaml")
    assert result.cluster.endpoint_slices == ()
    assert [str(d) for d in result.errors] == [f"eps.yaml: EndpointSlice ns1/s: {expected}"]


@pytest.mark.parametrize(("doc", "expected"), [
    ("kind: Node\nmetadata: {name: 'n'}\nspec: {podCIDR: 10.0.0.0/33}",
     'Node n: spec.podCIDR: "10.0.0.0/33" is not a CIDR like 10.244.0.0/24'),
    ("kind: Node\nmetadata: {name: 'n'}\nstatus: {addresses: [{type: InternalIP, address: 5}]}",
     "Node n: status.addresses[0].address: expected a string, got an integer 5"),  # "foo": test_objects_tolerance
    ("kind: Node\nmetadata: {name: 'n'}\nstatus: {addresses: [{type: InternalIP, address: ''}]}",
     "Node n: status.addresses[0].address: required; expected an IP address"),
    ("kind: Node\nmetadata: {name: 'n'}\nstatus: {addresses: [{type: Hostname}]}",
     "Node n: status.addresses[0].address: required; expected a host name"),
    ("kind: Node\nmetadata: {name: 'n'}\nstatus: {addresses: [{address: 1.2.3.4}]}",
     "Node n: status.addresses[0].type: required; expected InternalIP, ExternalIP, Hostname, ..."),
    ("kind: Pod\nmetadata: {name: p}\nspec: {hostNetwork: 'yes'}",
     'Pod default/p: spec.hostNetwork: expected true or false, got a string "yes"'),
    ("kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, ports: [{containerPort: 0}]}]}",
     "Pod default/p: spec.containers[0].ports[0].containerPort: 0 is not a valid port; expected 1-65535"),
    ("kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, ports: [{containerPort: -1}]}]}",
     "Pod default/p: spec.containers[0].ports[0].containerPort: -1 is not in 0-65535"),
    ("kind: Pod\nmetadata: {name: p}\nstatus: {podIP: 10.0.0.5, podIPs: [{ip: [10.0.0.5]}]}",  # (was a warning)
     'Pod default/p: status.podIPs[0].ip: expected a string, got a list ["10.0.0.5"]'),
    ("kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, ports: [{name: x}]}]}",
     "Pod default/p: spec.containers[0].ports[0].containerPort: required; expected a port number in 1-65535"),
    ("kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, ports: [{containerPort: 80, protocol: HTTP}]}]}",
     'Pod default/p: spec.containers[0].ports[0].protocol: "HTTP" is not a protocol; expected TCP, UDP or SCTP'),
    ("kind: Pod\nmetadata: {name: p}\nstatus: {podIP: 1.2.3.999}",
     'Pod default/p: status.podIP: "1.2.3.999" is not an IP address'),
    ("kind: Endpoints\nmetadata: {name: e}\nsubsets: [{addresses: [{ip: bad}], ports: [{port: 80}]}]",
     'Endpoints default/e: subsets[0].addresses[0].ip: "bad" is not an IP address'),
    ("kind: Endpoints\nmetadata: {name: e}\nsubsets: [{addresses: [{}], ports: [{port: 80}]}]",
     "Endpoints default/e: subsets[0].addresses[0].ip: required; expected an IP address"),
    ("kind: Endpoints\nmetadata: {name: e}\nsubsets: [{addresses: [{ip: 10.1.0.1}], ports: [{port: 0}]}]",
     "Endpoints default/e: subsets[0].ports[0].port: 0 is not a valid port; expected 1-65535"),
    ("kind: Endpoints\nmetadata: {name: e}\nsubsets: [{addresses: [{ip: 10.1.0.1}], ports: [{port: -1}]}]",
     "Endpoints default/e: subsets[0].ports[0].port: -1 is not in 0-65535"),
    ("kind: Endpoints\nmetadata: {name: e}\n"
     "subsets: [{addresses: [{ip: 10.1.0.1}], ports: [{name: a, port: 1}, {port: 2}]}]",
     "Endpoints default/e: subsets[0].ports[1].name: required when a subset has more than one port"),
])
def test_node_pod_endpoints_error_message(load, doc, expected):
    result = load("apiVersion: v1\n" + doc + "\n", "o.yaml")
    assert [str(d) for d in result.errors] == [f"o.yaml: {expected}"]
    cluster = result.cluster
    assert cluster.nodes == () and cluster.pods == () and cluster.endpoint_slices == ()


def test_a_pod_cidr_of_another_type_is_one_error_not_also_a_warning(load):
    """QA-errors: spec.podCIDRs[0] of another type was an error, and then a warning that it "differs" from
    spec.podCIDR (``[] differs from spec.podCIDR "10.244.1.0/24"``)."""
    result = load("apiVersion: v1\nkind: Node\nmetadata: {name: 'n'}\nspec: {podCIDR: 10.244.1.0/24, podCIDRs: [[]]}\n",
                  "o.yaml")
    assert [str(d) for d in result.diagnostics] == [
        "o.yaml: Node n: spec.podCIDRs[0]: expected a string, got a list []"]


def test_one_bad_object_never_hides_the_good_ones(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: good1}
        spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: bad}
        spec: {clusterIP: 10.0.0.2, ports: [{port: 70000}]}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: bad-slice, labels: {kubernetes.io/service-name: good1}}
        addressType: IPv4
        endpoints: [{addresses: [not-an-ip]}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: good-slice, labels: {kubernetes.io/service-name: good1}}
        addressType: IPv4
        endpoints: [{addresses: [10.1.0.1]}]
        ---
        [not, an, object]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: good2}
        spec: {clusterIP: 10.0.0.3, ports: [{port: 80}]}
    """)
    assert [s.name for s in result.cluster.services] == ["good1", "good2"]
    assert [s.name for s in result.cluster.endpoint_slices] == ["good-slice"]
    assert [str(d) for d in result.errors] == [
        "t.yaml: Service default/bad: spec.ports[0].port: 70000 is not in 0-65535",
        't.yaml: EndpointSlice default/bad-slice: endpoints[0].addresses[0]: "not-an-ip" is not an IP address',
        "t.yaml: document 5 is a list; expected a Kubernetes object with apiVersion and kind",
    ]
    assert not result.ok


def test_errors_property_filters_by_severity(load):
    result = load("""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: d}
    """)
    assert result.ok and result.errors == ()
    assert [d.severity for d in result.diagnostics] == [Severity.NOTE]


def test_an_empty_ip_mode_is_not_an_unset_one(load):
    """kube-proxy writes VIP rules for an unset ipMode only; the API server refuses an empty one."""
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: lb, namespace: ns1}
        spec: {type: LoadBalancer, clusterIP: 10.0.0.1, ports: [{port: 80, nodePort: 30001}]}
        status: {loadBalancer: {ingress: [{ip: 1.2.3.4, ipMode: ""}]}}
    """, "svc.yaml")
    assert [str(d) for d in result.errors] == [
        'svc.yaml: Service ns1/lb: status.loadBalancer.ingress[0].ipMode: "" is not an IP mode; expected "VIP" or '
        '"Proxy", or no ipMode at all']


def test_the_singular_field_wins_as_the_api_server_s_conversion_keeps_it(load, messages):
    """A Node's podCIDR and a Pod's podIP are authoritative when the plural disagrees: kept, with a warning."""
    result = load("""
        apiVersion: v1
        kind: Node
        metadata: {name: 'n'}
        spec: {podCIDR: 10.0.0.0/8, podCIDRs: [10.1.0.0/16]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: p}
        status: {podIP: 1.2.3.4, podIPs: [{ip: 1.2.3.5}]}
    """)
    assert result.errors == ()
    assert result.cluster.nodes[0].pod_cidrs == ("10.0.0.0/8",) and result.cluster.pods[0].pod_ips == ("1.2.3.4",)
    assert messages(result) == [
        't.yaml: Node n: spec.podCIDRs[0]: warning: "10.1.0.0/16" differs from spec.podCIDR "10.0.0.0/8"; the API '
        "server keeps spec.podCIDR alone, and so does this",
        't.yaml: Pod default/p: status.podIPs[0].ip: warning: "1.2.3.5" differs from status.podIP "1.2.3.4"; the '
        "API server keeps status.podIP alone, and so does this"]


def test_affinity_config_without_client_ip_affinity_is_cleared_as_defaulting_does(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec: {clusterIP: 10.0.0.1, sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}, ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: only-ips}
        spec: {clusterIPs: [10.0.0.2], ports: [{port: 80}]}
    """)
    assert [s.name for s in result.cluster.services] == ["web"]
    assert [str(d) for d in result.errors] == [
        "t.yaml: Service default/only-ips: spec.clusterIPs: set without spec.clusterIP; expected spec.clusterIP too "
        "(the API server refuses clusterIPs alone, and kube-proxy reads spec.clusterIP)"]


def test_what_the_api_server_would_refuse_or_allocate_is_said(load, messages):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: ci}
        spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
        status: {loadBalancer: {ingress: [{ip: 203.0.113.9}]}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: lb}
        spec: {type: LoadBalancer, clusterIP: 10.0.0.2, externalTrafficPolicy: Local, ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: twice}
        spec:
          type: NodePort
          clusterIP: 10.0.0.3
          ports: [{name: a, port: 80, nodePort: 30080}, {name: b, port: 81, nodePort: 30080}]
    """)
    ci, lb = result.cluster.services
    assert ci.load_balancer_ingress == () and lb.ports[0].node_port == 0
    assert messages(result) == [
        "t.yaml: Service default/ci: status.loadBalancer.ingress: warning: only a LoadBalancer Service has one, "
        "not ClusterIP; ignored",
        "t.yaml: Service default/lb: spec.ports[0].nodePort: warning: not set; the API server would allocate one, "
        "so no node port rules are made for this port",
        "t.yaml: Service default/lb: spec.healthCheckNodePort: warning: not set; the API server would allocate one, "
        "so no health check node port rule is made",
        "t.yaml: Service default/twice: spec.ports[1].nodePort: 30080/TCP is also spec.ports[0]'s; expected each "
        "node port and protocol once"]


# -- names, as the API server validates them (a quote or a newline in a name broke or injected rules) ------------

_LABEL_RULE = ('expected at most 63 lower-case letters, digits and "-", starting with a letter and ending with a '
               "letter or digit (the API server refuses it)")


@pytest.mark.parametrize(("name", "shown", "message"), [
    ('web"x', 'web"x', '"web\\"x" is not a DNS-1035 label; ' + _LABEL_RULE),
    ("web\n-A KUBE-SERVICES -j ACCEPT #", "web\\n-A KUBE-SERVICES -j ACCEPT #",
     '"web\\n-A KUBE-SERVICES -j ACCEPT #" is not a DNS-1035 label; ' + _LABEL_RULE),
    ("1web", "1web", '"1web" is not a DNS-1035 label; ' + _LABEL_RULE),
    ("Web", "Web", '"Web" is not a DNS-1035 label; ' + _LABEL_RULE),
    ("a" * 64, "a" * 64, f'"{"a" * 64}" is 64 characters long; expected at most 63 (a DNS-1035 label)'),
])
def test_a_service_name_the_api_server_refuses_skips_the_service(load, name, shown, message):
    import json

    result = load(f"""
        apiVersion: v1
        kind: Service
        metadata: {{name: {json.dumps(name)}}}
        spec: {{clusterIP: 10.0.0.1, ports: [{{port: 80}}]}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {{name: ok}}
        spec: {{clusterIP: 10.0.0.2, ports: [{{port: 80}}]}}
    """)
    assert [s.name for s in result.cluster.services] == ["ok"]
    assert [str(d) for d in result.errors] == [f"t.yaml: Service default/{shown}: metadata.name: {message}"]
    assert "\n" not in str(result.errors[0])


def test_namespace_slice_label_pod_node_and_port_names_are_checked(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: "Ns_1"}
        spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web2}
        spec: {clusterIP: 10.0.0.2, ports: [{name: "http\\"", port: 80}]}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: web-abc, labels: {kubernetes.io/service-name: "web x"}}
        addressType: IPv4
        endpoints: [{addresses: [10.244.0.5]}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: "web_abc", labels: {kubernetes.io/service-name: web}}
        addressType: IPv4
        ---
        apiVersion: v1
        kind: Node
        metadata: {name: "node 1"}
        ---
        apiVersion: v1
        kind: Node
        metadata: {name: node-1.example.com}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: "p/1"}
    """)
    assert [n.name for n in result.cluster.nodes] == ["node-1.example.com"]
    subdomain = ('expected at most 253 lower-case letters, digits and "-" and ".", each "."-separated part starting '
                 "and ending with a letter or digit (the API server refuses it)")
    assert [str(d) for d in result.errors] == [
        't.yaml: Service Ns_1/web: metadata.namespace: "Ns_1" is not a DNS-1123 label; expected at most 63 '
        'lower-case letters, digits and "-", starting and ending with a letter or digit (the API server refuses it)',
        't.yaml: Service default/web2: spec.ports[0].name: "http\\"" is not a DNS-1123 label; expected at most 63 '
        'lower-case letters, digits and "-", starting and ending with a letter or digit (the API server refuses it)',
        't.yaml: EndpointSlice default/web-abc: metadata.labels.kubernetes.io/service-name: "web x" is not a label '
        'value; expected at most 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit '
        "(the API server refuses it)",
        f't.yaml: EndpointSlice default/web_abc: metadata.name: "web_abc" is not a DNS-1123 subdomain; {subdomain}',
        f't.yaml: Node node 1: metadata.name: "node 1" is not a DNS-1123 subdomain; {subdomain}',
        f't.yaml: Pod default/p/1: metadata.name: "p/1" is not a DNS-1123 subdomain; {subdomain}',
    ]
    assert not result.cluster.services and not result.cluster.endpoint_slices and not result.cluster.pods



@pytest.mark.parametrize(("spec", "expected"), [
    ("{clusterIP: 5, ports: [{port: 80}]}", "spec.clusterIP: expected a string, got an integer 5"),
    ("{clusterIP: [1], clusterIPs: [10.0.0.1], ports: [{port: 80}]}",
     "spec.clusterIP: expected a string, got a list [1]"),
    ("{clusterIPs: 5, ports: [{port: 80}]}", "spec.clusterIPs: expected a list, got an integer"),
    ("[1, 2]", "spec: expected a mapping, got a list"),
    ("5", "spec: expected a mapping, got an integer"),
])
def test_a_field_of_the_wrong_type_gets_one_message_not_a_cascade(load, spec, expected):
    """Not also 'clusterIP not set', 'clusterIPs set without clusterIP' or 'ports required': it is set."""
    result = load(f"apiVersion: v1\nkind: Service\nmetadata: {{name: s}}\nspec: {spec}\n")
    assert result.cluster.services == ()
    assert [str(d) for d in result.diagnostics] == [f"t.yaml: Service default/s: {expected}"]


@pytest.mark.parametrize(("doc", "expected"), [
    ("kind: Service\nmetadata: {name: s}\nspec: {clusterIP: 10.0.0.1, ports: [{port: 80, targetPort: false}]}",
     "Service default/s: spec.ports[0].targetPort: expected a port number or name, got a boolean false (unquoted, "
     "n, no, off and false are booleans in YAML, false in JSON: quote a string)"),
    ("kind: Service\nmetadata: {name: s}\nspec: {type: LoadBalancer, clusterIP: 10.0.0.1, "
     "allocateLoadBalancerNodePorts: 'false', ports: [{port: 80}]}",
     'Service default/s: spec.allocateLoadBalancerNodePorts: expected true or false, got a string "false"'),
    ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e, labels: "
     "{kubernetes.io/service-name: s}}\naddressType: IPv6\nendpoints: [{addresses: [ff12::1]}]",
     'EndpointSlice default/e: endpoints[0].addresses[0]: "ff12::1" is a link-local multicast address; the API '
     "server refuses it as an endpoint"),
    ("kind: Endpoints\nmetadata: {name: e}\nsubsets: [{addresses: [{ip: 'ff32::1'}], ports: [{port: 80}]}]",
     'Endpoints default/e: subsets[0].addresses[0].ip: "ff32::1" is a link-local multicast address; the API '
     "server refuses it as an endpoint"),
    ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e, labels: "
     "{kubernetes.io/service-name: s}}\naddressType: IPv4\nendpoints: [{addresses: [10.0.0.1]}]\n"
     "ports: [{port: 0}]",
     "EndpointSlice default/e: ports[0].port: 0 is not a valid port; expected 1-65535"),
])
def test_values_the_api_server_refuses_are_errors(load, doc, expected):
    """targetPort false (False == 0 in Python, not in the API's decoder), a quoted boolean, Go's link-local
    multicast (every ffX2::/16), a slice port 0 (IsValidPortNum)."""
    result = load(("" if doc.startswith("apiVersion") else "apiVersion: v1\n") + doc + "\n")
    assert [str(d) for d in result.diagnostics] == [f"t.yaml: {expected}"]
    assert result.cluster.services == () and result.cluster.endpoint_slices == ()


def test_other_multicast_scopes_are_endpoints_the_api_server_takes(load):
    result = load("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e, labels: "
                  "{kubernetes.io/service-name: s}}\naddressType: IPv6\n"
                  "endpoints: [{addresses: ['ff05::2']}, {addresses: ['ff1e::1']}, {addresses: ['fe02::2']}]\n")
    assert result.diagnostics == ()
    assert [e.addresses[0] for e in result.cluster.endpoint_slices[0].endpoints] == ["ff05::2", "ff1e::1", "fe02::2"]


def test_every_bad_pod_cidr_of_a_node_is_named_at_its_own_field(load, messages):
    """QA-cli #12: a bad podCIDR was reported as podCIDRs[0] (which was valid) and podCIDRs[1] was never read."""
    result = load("""
        apiVersion: v1
        kind: Node
        metadata: {name: 'n'}
        spec: {podCIDR: 10.244.0.0/99, podCIDRs: [10.244.0.0/24, foo, 5]}
        ---
        apiVersion: v1
        kind: Node
        metadata: {name: m}
        spec: {podCIDR: bar, podCIDRs: [bar, 10.1.0.0/16, baz]}
    """)
    assert result.cluster.nodes == ()
    assert messages(result) == [
        't.yaml: Node n: spec.podCIDR: "10.244.0.0/99" is not a CIDR like 10.244.0.0/24',
        't.yaml: Node n: spec.podCIDRs[1]: "foo" is not a CIDR like 10.244.0.0/24',
        "t.yaml: Node n: spec.podCIDRs[2]: expected a string, got an integer 5",
        # (no warning that podCIDRs[0] differs from podCIDR: a refused object gets its errors alone)
        't.yaml: Node m: spec.podCIDRs[0]: "bar" is not a CIDR like 10.244.0.0/24',
        't.yaml: Node m: spec.podCIDRs[2]: "baz" is not a CIDR like 10.244.0.0/24']
