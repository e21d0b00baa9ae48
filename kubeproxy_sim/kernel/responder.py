"""kube-dns in the kernel cluster: the answers a kube-dns endpoint pod's server gives to DNS queries.

``netns up`` starts each kube-dns endpoint pod's server with its DNS target port as ``dns:PORT`` and hands it
:func:`dns_records` (what the state keeps of the Services, their slices and the pods) on its standard input. A
datagram there that is a DNS query is answered from the simulator's own :class:`ClusterDNS` over those records,
one name without a search path as CoreDNS answers it (a CNAME followed to its addresses, several addresses in a
random order, see :func:`load_balanced`); any other datagram is a probe's and gets the usual JSON line, so
``netns verify`` and the differential tests see the pod as before.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from kubeproxy_sim.simulator import dnswire

if TYPE_CHECKING:
    from kubeproxy_sim.simulator.dns import ClusterDNS

RECORD_KEYS = ("family", "services", "slices", "pods")


def dns_records(state: dict[str, Any]) -> dict[str, Any]:
    """What a responder needs of a state record (or of the topology record ``netns up`` is writing)."""
    return {key: state[key] for key in RECORD_KEYS if key in state}


def cluster_dns(state: dict[str, Any]) -> ClusterDNS:
    """The simulator's cluster DNS over what the state record keeps of the Services and their slices (a record
    written before it kept types and slices: ClusterIP Services with their addresses; one written before it kept
    ``cluster_ip_unset`` has the ``headless`` that was derived from it)."""
    from kubeproxy_sim.objects.model import (
        AddressType,
        Cluster,
        Endpoint,
        EndpointConditions,
        EndpointPort,
        EndpointSlice,
        Pod,
        Protocol,
        Service,
        ServiceType,
    )
    from kubeproxy_sim.simulator.dns import ClusterDNS

    services = []
    for key, record in state["services"].items():
        namespace, _, name = key.partition("/")
        kind = ServiceType(record.get("type", ServiceType.CLUSTER_IP.value))
        unset = record["cluster_ip_unset"] if "cluster_ip_unset" in record else \
            kind is not ServiceType.EXTERNAL_NAME and not record["cluster_ips"] and not record.get("headless", True)
        services.append(Service(namespace, name, kind, cluster_ips=tuple(record["cluster_ips"]),
                                external_name=record.get("external_name", ""), cluster_ip_unset=unset))
    slices = []
    for record in state.get("slices", ()):
        namespace, _, name = record["key"].partition("/")
        slices.append(EndpointSlice(
            namespace, name, record["service"], AddressType(record["address_type"]),
            endpoints=tuple(Endpoint(tuple(addresses), EndpointConditions(ready=ready), hostname=hostname)
                            for addresses, hostname, ready in record["endpoints"]),
            ports=tuple(EndpointPort(n, p, Protocol(proto)) for n, p, proto in record["ports"])))
    pods = tuple(Pod(*p["key"].split("/", 1)) for p in state["pods"].values())
    return ClusterDNS(Cluster(services=tuple(services), endpoint_slices=tuple(slices), pods=pods),
                      family=int(state.get("family", 4)))


def load_balanced(records: list[tuple[str, str, str]], qid: int) -> list[tuple[str, str, str]]:
    """An answer's records as CoreDNS's ``loadbalance`` plugin (in kubeadm's default Corefile) sends them: the
    CNAMEs first, then the addresses shuffled, so a client that takes the first address (getaddrinfo's first
    result) spreads its connections over a headless Service's pods, as ``send``'s client takes a random one. The
    shuffle is drawn from the query's message ID, not from this long-lived server's own generator, so a seeded
    run (whose IDs are fixed, :func:`.dnsquery.draws`) gets the same answers again."""
    addresses = [r for r in records if r[1] in ("A", "AAAA")]
    random.Random(qid).shuffle(addresses)
    return [r for r in records if r[1] not in ("A", "AAAA")] + addresses


class Responder:
    """Answers DNS queries from one cluster's records."""

    def __init__(self, records: dict[str, Any]) -> None:
        self.dns = cluster_dns(records)

    def answer(self, data: bytes, witness: str, *, over_tcp: bool = False) -> bytes | None:
        """The response to a DNS query (None: ``data`` is no query). A question of the cluster's address type is
        answered with its CNAMEs and addresses; of another type, with the name's rcode and its CNAMEs only. Cut as
        CoreDNS cuts it, to what the transport and the query's EDNS0 OPT record allow (a datagram: 512 bytes, or
        the payload size the OPT advertises; ``over_tcp``: no cut), TC set when records were left out, and with
        CoreDNS's OPT record when the query had one (:func:`.dnswire.encode_response`)."""
        question = dnswire.parse_query(data)
        if question is None:
            return None
        found = self.dns.resolve(question.name + ".")  # the name alone: the client walks its own search list
        wanted = {"CNAME", self.dns.qtype} if question.qtype == dnswire.TYPES[self.dns.qtype] else {"CNAME"}
        records = [(r.name, r.type, r.value) for r in found.records if r.type in wanted]
        if found.rcode == "NOERROR":
            records = load_balanced(records, question.id)
        return dnswire.encode_response(question, found.rcode, records, witness, over_tcp=over_tcp,
                                       family=self.dns.family)

    @staticmethod
    def failure(data: bytes, witness: str) -> bytes | None:
        """The answer when :meth:`answer` failed (a bug): SERVFAIL, the witness carrying a ``fault`` that the
        client stops at and ``netns send`` reports, instead of no answer, which would read as a DROP."""
        return dnswire.encode_failure(data, witness)
