"""The API server's defaults, applied to hand-written manifests that omit them."""

from __future__ import annotations

from kubeproxy_sim.objects import (
    AddressType,
    EndpointConditions,
    IPFamily,
    Protocol,
    ServiceType,
    SessionAffinity,
    TrafficPolicy,
)


def test_minimal_service_gets_api_server_defaults(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          clusterIP: 10.96.0.10
          ports: [{port: 80}]
    """)
    assert result.ok and result.diagnostics == ()
    (svc,) = result.cluster.services
    assert svc.namespace == "default"
    assert svc.type is ServiceType.CLUSTER_IP
    assert svc.cluster_ips == ("10.96.0.10",)
    assert svc.ip_families == (IPFamily.IPV4,)
    (port,) = svc.ports
    assert (port.name, port.protocol, port.port, port.target_port, port.node_port) == ("", Protocol.TCP, 80, 80, 0)
    assert svc.session_affinity is SessionAffinity.NONE
    assert svc.affinity_timeout == 10800
    assert svc.external_traffic_policy is TrafficPolicy.CLUSTER
    assert svc.internal_traffic_policy is TrafficPolicy.CLUSTER
    assert svc.selector is None
    assert svc.origin.file == "t.yaml"


def test_target_port_zero_or_empty_means_port(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          clusterIP: 10.96.0.10
          ports: [{name: a, port: 80, targetPort: 0}, {name: b, port: 81, targetPort: ""},
                  {name: c, port: 82, targetPort: http}]
    """)
    assert [p.target_port for p in result.cluster.services[0].ports] == [80, 81, "http"]


def test_whole_numbers_written_as_floats_read_as_integers_as_kubectl_sends_them(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          clusterIP: 10.96.0.10
          ports: [{port: 80.0, targetPort: 8080.0}]
    """)
    assert result.diagnostics == ()
    assert [(p.port, p.target_port) for p in result.cluster.services[0].ports] == [(80, 8080)]


def test_client_ip_affinity_timeout_default_and_explicit(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: a}
        spec: {clusterIP: 10.0.0.1, sessionAffinity: ClientIP, ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: b}
        spec:
          clusterIP: 10.0.0.2
          sessionAffinity: ClientIP
          sessionAffinityConfig: {clientIP: {timeoutSeconds: 300}}
          ports: [{port: 80}]
    """)
    a, b = result.cluster.services
    assert (a.session_affinity, a.affinity_timeout) == (SessionAffinity.CLIENT_IP, 10800)
    assert (b.session_affinity, b.affinity_timeout) == (SessionAffinity.CLIENT_IP, 300)


def test_cluster_ips_and_families_from_cluster_ip(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: dual, namespace: ns}
        spec:
          clusterIP: 10.0.0.1
          clusterIPs: [10.0.0.1, "fd00:0:0::1"]
          ipFamilies: [IPv4, IPv6]
          ports: [{port: 80}]
    """)
    (svc,) = result.cluster.services
    assert svc.cluster_ips == ("10.0.0.1", "fd00::1")
    assert svc.ip_families == (IPFamily.IPV4, IPFamily.IPV6)


def test_headless_service(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: h}
        spec: {clusterIP: None, selector: {app: h}, ports: [{port: 80}]}
    """)
    (svc,) = result.cluster.services
    assert svc.headless and svc.cluster_ips == ()
    assert svc.selector == (("app", "h"),)


def test_headless_service_without_ports_is_fine(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: h}
        spec: {clusterIP: None}
    """)
    assert result.ok and result.cluster.services[0].ports == ()


def test_empty_selector_is_no_selector(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: s}
        spec: {clusterIP: 10.0.0.1, selector: {}, ports: [{port: 80}]}
    """)
    assert result.cluster.services[0].selector is None


def test_nodeport_and_loadbalancer_fields(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: lb, namespace: ns1, labels: {team: x}}
        spec:
          type: LoadBalancer
          clusterIP: 172.30.0.41
          externalTrafficPolicy: Local
          healthCheckNodePort: 30000
          externalIPs: [192.168.99.11]
          loadBalancerSourceRanges: [203.0.113.0/25, "2001:db8::/32"]
          ports: [{name: p80, port: 80, nodePort: 3001, protocol: UDP, appProtocol: dns}]
        status:
          loadBalancer:
            ingress: [{ip: 1.2.3.4}, {ip: 5.6.7.8, ipMode: Proxy}, {hostname: lb.example.com}]
    """)
    (svc,) = result.cluster.services
    assert svc.type is ServiceType.LOAD_BALANCER
    assert svc.external_traffic_policy is TrafficPolicy.LOCAL
    assert svc.health_check_node_port == 30000
    assert svc.external_ips == ("192.168.99.11",)
    assert svc.load_balancer_source_ranges == ("203.0.113.0/25", "2001:db8::/32")
    assert svc.ports[0].node_port == 3001 and svc.ports[0].app_protocol == "dns"
    assert svc.ports[0].protocol is Protocol.UDP
    assert [(i.ip, i.hostname, i.ip_mode) for i in svc.load_balancer_ingress] == [
        ("1.2.3.4", None, None), ("5.6.7.8", None, "Proxy"), (None, "lb.example.com", None)]
    assert svc.labels == (("team", "x"),)


def test_external_name_service(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: ext}
        spec: {type: ExternalName, externalName: example.com}
    """)
    (svc,) = result.cluster.services
    assert svc.type is ServiceType.EXTERNAL_NAME and svc.external_name == "example.com"
    assert svc.cluster_ips == () and not svc.headless


def test_endpoint_slice_defaults(load):
    result = load("""
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: web-1
          labels: {kubernetes.io/service-name: web}
        addressType: IPv4
        endpoints:
        - addresses: [10.180.0.1]
        - addresses: [10.180.0.2]
          conditions: {ready: false, serving: true, terminating: true}
          nodeName: node2
          zone: z1
          hostname: web-2
          hints: {forZones: [{name: z1}], forNodes: [{name: node2}]}
          targetRef: {kind: Pod, namespace: default, name: web-2}
        ports: [{port: 8080}, {name: dns, port: 53, protocol: UDP, appProtocol: dns}]
    """)
    assert result.ok, result.diagnostics
    (eps,) = result.cluster.endpoint_slices
    assert (eps.namespace, eps.name, eps.service_name, eps.address_type) == ("default", "web-1", "web",
                                                                             AddressType.IPV4)
    first, second = eps.endpoints
    assert first.conditions == EndpointConditions(None, None, None)
    assert first.node_name is None and first.hints_for_zones is None and first.target_ref is None
    assert second.conditions == EndpointConditions(ready=False, serving=True, terminating=True)
    assert (second.node_name, second.zone, second.hostname) == ("node2", "z1", "web-2")
    assert second.hints_for_zones == ("z1",) and second.hints_for_nodes == ("node2",)
    assert second.target_ref == ("Pod", "default", "web-2")
    assert [(p.name, p.port, p.protocol, p.app_protocol) for p in eps.ports] == [
        ("", 8080, Protocol.TCP, None), ("dns", 53, Protocol.UDP, "dns")]


def test_slice_port_without_number_is_kept_unset(load):
    result = load("""
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: s, labels: {kubernetes.io/service-name: web}}
        addressType: IPv6
        endpoints: [{addresses: ["2001:DB8:0:0::5"]}]
        ports: [{name: p}]
    """)
    (eps,) = result.cluster.endpoint_slices
    assert eps.ports[0].port is None
    assert eps.endpoints[0].addresses == ("2001:db8::5",)


def test_node_fields(load):
    result = load("""
        apiVersion: v1
        kind: Node
        metadata:
          name: node1
          namespace: ignored
          labels: {topology.kubernetes.io/zone: z1}
        spec: {podCIDR: 10.244.0.0/24}
        status:
          addresses:
          - {type: InternalIP, address: 192.168.49.2}
          - {type: Hostname, address: node1}
    """)
    (node,) = result.cluster.nodes
    assert node.name == "node1" and node.key == "node1"
    assert node.pod_cidrs == ("10.244.0.0/24",)
    assert [(a.type, a.address) for a in node.addresses] == [("InternalIP", "192.168.49.2"), ("Hostname", "node1")]
    assert node.label("topology.kubernetes.io/zone") == "z1"
    assert result.cluster.node("node1") is node


def test_node_pod_cidrs_list_wins_and_is_canonical(load):
    result = load("""
        apiVersion: v1
        kind: Node
        metadata: {name: 'n'}
        spec: {podCIDR: 10.244.0.0/24, podCIDRs: [10.244.0.0/24, "FD00:10:0::/64"]}
    """)
    assert result.cluster.nodes[0].pod_cidrs == ("10.244.0.0/24", "fd00:10::/64")


def test_pod_fields(load):
    result = load("""
        apiVersion: v1
        kind: Pod
        metadata:
          name: web-1
          namespace: ns
          labels: {app: web}
          deletionTimestamp: "2024-01-01T00:00:00Z"
        spec:
          nodeName: node1
          containers:
          - name: c
            ports: [{name: http, containerPort: 8080}, {containerPort: 53, protocol: UDP}]
        status:
          phase: Running
          podIP: 10.244.0.5
          conditions: [{type: Initialized, status: "True"}, {type: Ready, status: "False"}]
    """)
    (pod,) = result.cluster.pods
    assert (pod.namespace, pod.name, pod.node_name) == ("ns", "web-1", "node1")
    assert pod.pod_ips == ("10.244.0.5",)
    assert pod.labels == (("app", "web"),)
    assert [(p.name, p.container_port, p.protocol) for p in pod.ports] == [
        ("http", 8080, Protocol.TCP), (None, 53, Protocol.UDP)]
    assert pod.ready is False and pod.terminating is True and pod.phase == "Running"


def test_pod_without_status_counts_as_ready(load):
    result = load("""
        apiVersion: v1
        kind: Pod
        metadata: {name: p}
        spec: {hostNetwork: true, containers: [{name: c}]}
    """)
    (pod,) = result.cluster.pods
    assert pod.ready and not pod.terminating and pod.host_network and pod.pod_ips == ()


def test_publish_not_ready_addresses_is_read_for_the_controllers(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: peers}
        spec: {clusterIP: None, publishNotReadyAddresses: true, ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}
    """)
    assert [s.publish_not_ready_addresses for s in result.cluster.services] == [True, False]
