"""kube-proxy's service health server: what a node answers on a service's healthCheckNodePort.

kube-proxy serves one HTTP endpoint per LoadBalancer service with
externalTrafficPolicy Local. It counts the node's local *ready* endpoints of
the service (distinct IPs over all its ports, so a pod serving two ports counts
once; terminating endpoints do not count) and answers 200 when there is at
least one, 503 otherwise, with a small JSON body and the count in a header.
Load balancers use it to send traffic only to nodes that can serve it locally.

:func:`service_health` is the handler's answer: its status, the headers it sets
and its body. :meth:`HealthResponse.sent` adds what Go's net/http server writes
around it (service_health.go's handler sets no Date or Content-Length): a
``Date`` from the caller's clock, and a ``Content-Length``, since the handler
writes its small body in one go and returns before the server's chunking
buffer fills.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from kubeproxy_sim.objects.model import Cluster, EndpointSlice, Service
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.proxier.state import endpoints_map, service_ports

KUBE_PROXY_HEALTHZ_PORT = 10256


@dataclass(frozen=True, slots=True)
class HealthResponse:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: str
    local_endpoints: int

    @property
    def healthy(self) -> bool:
        return self.status == 200

    def as_json(self) -> dict[str, object]:
        import json

        return {"status": self.status, "headers": dict(self.headers), "body": json.loads(self.body)}

    def sent(self, now: float) -> HealthResponse:
        """The answer as net/http puts it on the wire at ``now`` (Unix seconds, from the caller's clock): the
        handler's headers in key order, then ``Date`` and ``Content-Length`` unless already set (server.go,
        chunkWriter.writeHeader and extraHeader.Write)."""
        from email.utils import formatdate

        have = {key for key, _ in self.headers}
        extra = [(key, value) for key, value in (("Date", formatdate(now, usegmt=True)),
                                                 ("Content-Length", str(len(self.body.encode()))))
                 if key not in have]
        return replace(self, headers=(*sorted(self.headers), *extra))

    def render_http(self) -> str:
        head = [f"HTTP/1.1 {self.status} {self.reason}", *(f"{k}: {v}" for k, v in self.headers)]
        return "\n".join([*head, "", self.body]) + "\n"


def health_check_port(service: Service, config: ProxyConfig) -> int:
    """The port kube-proxy serves the service's health on (0: it serves none for this service)."""
    ports = service_ports(service, config)
    return ports[0].health_check_node_port if ports else 0


def service_slices(cluster: Cluster, service: Service) -> list[EndpointSlice]:
    """The EndpointSlices of one service (a scan of them all: a caller asking for many services groups them once)."""
    return [s for s in cluster.endpoint_slices if s.namespace == service.namespace and s.service_name == service.name]


def local_ready_endpoints(slices: Sequence[EndpointSlice], config: ProxyConfig) -> int:
    """Distinct local ready endpoint IPs of a service (its ``slices``), over all its ports, as kube-proxy counts
    them."""
    ips = {ep.ip for key, eps in endpoints_map(slices, config).items() for ep in eps if ep.is_local and ep.ready}
    return len(ips)


def _body(service: Service, count: int, healthy: bool) -> str:
    """The body's exact layout (tab-indented JSON), as kube-proxy writes it."""
    return "\n".join([
        "{",
        '\t"service": {',
        f'\t\t"namespace": "{service.namespace}",',
        f'\t\t"name": "{service.name}"',
        "\t},",
        f'\t"localEndpoints": {count},',
        f'\t"serviceProxyHealthy": {"true" if healthy else "false"}',
        "}",
    ])


def service_health(cluster: Cluster, config: ProxyConfig, service: Service, *, proxy_healthy: bool = True,
                   slices: Sequence[EndpointSlice] | None = None) -> HealthResponse:
    """The answer of ``config``'s node for ``service`` (a LoadBalancer with externalTrafficPolicy Local);
    ``slices``: the service's EndpointSlices, when the caller has them grouped."""
    count = local_ready_endpoints(service_slices(cluster, service) if slices is None else slices, config)
    ok = count != 0 and proxy_healthy
    headers = (("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff"),
               ("X-Load-Balancing-Endpoint-Weight", str(count)))
    return HealthResponse(200 if ok else 503, "OK" if ok else "Service Unavailable", headers,
                          _body(service, count, proxy_healthy), count)


def health_ports(cluster: Cluster, config: ProxyConfig) -> dict[int, Service]:
    """healthCheckNodePort -> service, for every service kube-proxy serves health for on this node."""
    found: dict[int, Service] = {}
    for service in cluster.services:
        port = health_check_port(service, config)
        if port:
            found.setdefault(port, service)
    return found
