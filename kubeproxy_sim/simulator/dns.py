"""Cluster DNS as CoreDNS's kubernetes plugin answers it, plus an upstream for everything else.

Records (zone ``cluster.local``):

* ``SVC.NS.svc.cluster.local``: the cluster IPs of a service with one (none while its
  clusterIP is not set); the ready endpoint addresses of a headless one (clusterIP
  "None"; NXDOMAIN without one); a CNAME to ``spec.externalName`` for an ExternalName
  service, followed as CoreDNS follows it (at most 8 CNAMEs; a loop or a longer chain
  answers no data), none for an address (NXDOMAIN);
* ``ENDPOINT.SVC.NS.svc.cluster.local``: a ready endpoint's address, by its hostname or else
  its address with ``-`` for ``.`` or ``:`` (CoreDNS's endpointHostname), of any Service but
  an ExternalName one;
* ``_PORT._PROTO.SVC.NS.svc.cluster.local``: SRV records for named ports (a headless
  Service's: each slice's endpoints with that slice's ports); as CoreDNS's parseRequest,
  any two labels before the Service are the port and the protocol, a leading underscore
  taken off (``http.tcp.SVC...`` too; a label ``_`` alone matches any), and an
  ExternalName Service has none (no data);
* ``A-B-C-D.NS.pod.cluster.local``: the dashed address itself (IPv4 for exactly three
  dashes, none doubled, else IPv6 with ``-`` for ``:``), in a namespace that exists;
  NXDOMAIN when the label is no address, no data for the other family;
* the zone, ``svc``/``pod`` and ``NS.svc``/``NS.pod`` of a namespace that exists: no data;
* any other name in the zone is NXDOMAIN; names outside it are looked up in the
  upstream map (``--hosts``, /etc/hosts style), NXDOMAIN when absent.

A pod's resolver uses the resolv.conf the kubelet writes for its ``dnsPolicy`` and
``dnsConfig`` (:class:`Resolver`; by default the search path ``NS.svc.cluster.local
svc.cluster.local cluster.local`` with ``ndots:5`` and kube-dns as its nameserver); a name
that exists without data does not end the search (glibc). With ``options edns0`` its queries
carry an EDNS0 OPT record, so CoreDNS's answer over UDP may be larger before it is truncated
(:meth:`ClusterDNS.truncated`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from kubeproxy_sim.errors import Diagnostic, InputError, literal
from kubeproxy_sim.objects.decode_nodes import (
    MAX_DNS_NAMESERVERS,
    MAX_DNS_SEARCH_LIST_CHARS,
    MAX_DNS_SEARCH_PATHS,
)
from kubeproxy_sim.objects.model import AddressType, Cluster, DNSPolicy, Pod, PodDNSConfig, Service, ServiceType
from kubeproxy_sim.simulator import dnswire

DOMAIN = "cluster.local"
NDOTS = 5
MAX_CNAME_CHAIN = 8
ALWAYS_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
GLIBC_NDOTS = 1  # the resolver's own default, when resolv.conf sets no ndots
GLIBC_MAX_NDOTS = 15  # RES_MAXNDOTS
MAX_SEARCH_LENGTH = 253
"""What the kubelet keeps of a merged resolv.conf (formDNSConfigFitsLimits): the first 3 nameservers, the first 32
searches, none longer than 253 characters, then as many as fit in 2048 characters with their spaces; the counts are
the API server's limits on spec.dnsConfig (validation.MaxDNS*), defined with its check in objects.decode_nodes."""


@dataclass(frozen=True, slots=True)
class Record:
    name: str
    type: str  # A, AAAA, CNAME, SRV
    value: str  # the address, the CNAME target, or the SRV target
    port: int | None = None  # SRV only


@dataclass(frozen=True, slots=True)
class Answer:
    query: str  # the name asked for
    name: str  # the fully qualified name that answered (after the search path)
    rcode: str  # NOERROR or NXDOMAIN
    records: tuple[Record, ...] = ()
    tried: tuple[str, ...] = field(default=(), compare=False)  # the names asked, in order (the search path)

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(r.value for r in self.records if r.type in ("A", "AAAA"))

    @property
    def cname(self) -> str | None:
        return next((r.value for r in self.records if r.type == "CNAME"), None)

    def as_json(self) -> dict[str, object]:
        return {"query": self.query, "name": self.name, "rcode": self.rcode,
                "records": [{"name": r.name, "type": r.type, "value": r.value, **({"port": r.port} if r.port
                                                                                  else {})} for r in self.records]}


def parse_hosts(text: str, file: str = "<hosts>") -> tuple[tuple[str, str], ...]:
    """/etc/hosts lines ``ADDRESS NAME [ALIAS...]`` -> (name, address) pairs; raises InputError naming every bad
    line at once (the first alone was said, so a file was fixed one line per run)."""
    import netaddr

    pairs: list[tuple[str, str]] = []
    problems: list[Diagnostic] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        try:
            address = str(netaddr.IPAddress(fields[0]))
        except (netaddr.AddrFormatError, ValueError):
            problems.append(Diagnostic(f"{literal(fields[0])} is not an IP address; expected ADDRESS NAME "
                                       "[ALIAS...]", file=file, line=number))
            continue
        if len(fields) < 2:
            problems.append(Diagnostic("no name after the address; expected ADDRESS NAME [ALIAS...]", file=file,
                                       line=number))
            continue
        pairs.extend((name.lower().rstrip("."), address) for name in fields[1:])
    if problems:
        raise InputError(problems)
    return tuple(pairs)


def pod_label_address(label: str) -> str | None:
    """The address ``A-B-C-D`` (or IPv6 with ``-`` for ``:``) stands for, canonical; None when it is none."""
    import ipaddress

    text = label.replace("-", ".") if label.count("-") == 3 and "--" not in label else label.replace("-", ":")
    if "%" in text:  # Go's net.ParseIP takes no zone
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)  # CoreDNS answers A for an IPv4-mapped address (To4)
    return str(address)


def pod_record_address(fqdn: str, domain: str = DOMAIN) -> str | None:
    """The address a pod name ``A-B-C-D.NS.pod.DOMAIN`` stands for; None for any other name."""
    labels = fqdn.lower().rstrip(".").removesuffix("." + domain).split(".")
    if len(labels) != 3 or labels[2] != "pod" or not fqdn.lower().rstrip(".").endswith("." + domain):
        return None
    return pod_label_address(labels[0])


def external_name_is_address(service: Service) -> bool:
    """An ExternalName that is an IP address: cluster DNS answers no record for it ("ExternalNames that resemble
    IPv4 addresses are not resolved by DNS servers")."""
    import ipaddress

    try:
        ipaddress.ip_address(service.external_name.rstrip("."))
    except ValueError:
        return False
    return True


Subset = tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str, int], ...]]
"""One slice's ready (address, endpoint name) pairs and its (port name or "", protocol, port) triples."""


def endpoint_name(address: str, hostname: str | None) -> str:
    """An endpoint's DNS label, as CoreDNS endpointHostname: its hostname, else its address with - for . or :."""
    return hostname or address.replace(".", "-").replace(":", "-")


def search_path(namespace: str | None, domain: str = DOMAIN) -> tuple[str, ...]:
    """The kubelet's resolv.conf search path for a pod of ``namespace`` (None: none, as a node's resolver)."""
    return (f"{namespace}.svc.{domain}", f"svc.{domain}", domain) if namespace else ()


def search_candidates(name: str, namespace: str | None = None, domain: str = DOMAIN, *,
                      searches: tuple[str, ...] | None = None, ndots: int = NDOTS) -> list[str]:
    """The fully qualified names a pod's resolver asks for ``name``, in order, lower case, as glibc's res_search:
    a trailing dot: the name alone; at least ``ndots`` dots: the name first, then each search domain; fewer: the
    search domains first. ``searches`` (default: the kubelet's for ``namespace``) may end in a dot."""
    if name.endswith("."):
        return [name.rstrip(".").lower()]
    name = name.lower()
    suffixes = search_path(namespace, domain) if searches is None else searches
    candidates = [f"{name}.{suffix.rstrip('.').lower()}" for suffix in suffixes]
    if name.count(".") >= ndots or not candidates:
        candidates.insert(0, name)
    else:
        candidates.append(name)
    return candidates


CLUSTER, OUTSIDE, UNASKED = "cluster", "outside", "unasked"
"""Who answers a resolver's queries (:attr:`Resolver.scope`): cluster DNS (kube-dns, its upstream the --hosts map);
a server outside the cluster's DNS, known to answer only the outside's names (--hosts), not the cluster's; or
none the simulation can ask."""


@dataclass(frozen=True, slots=True)
class Resolver:
    """One pod's resolv.conf as the kubelet writes it for its dnsPolicy and dnsConfig, and what the simulation
    makes of it: the search list and ndots its lookups use, the nameserver its query is sent to over the
    simulated network (``server``; None: no query is simulated), and who answers (``scope``; ``why`` says, for
    the user, why it is not cluster DNS). glibc asks the first nameserver and the next only after a timeout,
    which is not simulated: ``server`` is the first."""

    policy: DNSPolicy  # as written
    nameservers: tuple[str, ...]  # resolv.conf's, as far as the simulation knows them
    searches: tuple[str, ...]
    ndots: int
    server: str | None
    scope: str = CLUSTER
    why: str = ""
    edns0: bool = False  # resolv.conf's ``options edns0``: its queries carry an OPT record (dnswire.resolver_opt)

    def candidates(self, name: str, domain: str = DOMAIN) -> list[str]:
        return search_candidates(name, domain=domain, searches=self.searches, ndots=self.ndots)

    def own_settings(self, label: str, domain: str = DOMAIN) -> str:
        """`` (LABEL's resolv.conf: ...)`` when its search list or ndots is not the kubelet's default one, which
        a message about a name it did not resolve would otherwise take for granted; else ""."""
        namespace = label.removeprefix("pod/").split("/", 1)[0]
        if self.searches == search_path(namespace, domain) and self.ndots == NDOTS:
            return ""
        searches = f"search {' '.join(self.searches)}" if self.searches else "no search domains"
        return (f" ({label}'s resolv.conf: {searches}, ndots:{self.ndots}, from its dnsPolicy {self.policy} and "
                "dnsConfig)")

    def unanswered(self, *, hosts: bool = True) -> str:
        """Why a name got no address from a resolver that is not cluster DNS (the whole reason, for --to).
        ``hosts``: the command has --hosts (the outside's names); without it (netns send) nothing else resolves."""
        if self.scope == UNASKED:
            return f"{self.why}; give the address as IP:PORT"
        if not hosts:
            return (f"{self.why}, so cluster names do not resolve for it, and this command knows no other names (it "
                    "has no --hosts): give the address as IP:PORT")
        return (f"{self.why}, so cluster names do not resolve for it; only the names of --hosts (the outside's) are "
                "answered: give one of those, or the address as IP:PORT")


def _omit_duplicates(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _fit_searches(searches: tuple[str, ...]) -> tuple[str, ...]:
    """The kubelet's cut of a merged search list (formDNSSearchFitsLimits)."""
    kept = [s for s in searches[:MAX_DNS_SEARCH_PATHS] if len(s) <= MAX_SEARCH_LENGTH]
    while kept and len(" ".join(kept)) > MAX_DNS_SEARCH_LIST_CHARS:
        kept.pop()
    return tuple(kept)


def _merged_options(base: tuple[tuple[str, str | None], ...],
                    config: PodDNSConfig | None) -> dict[str, str | None]:
    """The kubelet's mergeDNSOptions: by name, dnsConfig's overriding the policy's."""
    options = dict(base)
    for name, value in config.options if config is not None else ():
        options[name] = value
    return options


def _edns0(options: Mapping[str, str | None]) -> bool:
    """glibc's RES_USE_EDNS0 from resolv.conf's options: res_init compares each option word's first five
    characters with ``edns0`` (strncmp over the name's length), and the kubelet writes an option as NAME or
    NAME:VALUE, so any option whose name starts with ``edns0`` sets it, with a value or without."""
    return any(name.startswith("edns0") for name in options)


_ATOI = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)")  # what strtol reads: blanks, at most one sign, digits


def _atoi(text: str) -> int:
    """C's atoi as glibc has it, ``(int) strtol(text, NULL, 10)``: the leading number (0 when there is none),
    saturated to a 64-bit long, then cut to a 32-bit int."""
    found = _ATOI.match(text)
    number = max(-(1 << 63), min(int(found.group(1)) if found else 0, (1 << 63) - 1))
    return (number + (1 << 31)) % (1 << 32) - (1 << 31)


def _ndots(options: Mapping[str, str | None]) -> int:
    """glibc's ndots from resolv.conf's options: ``ndots:N`` read with atoi (at most RES_MAXNDOTS; a negative
    value wraps in its 4-bit field); an ``ndots`` without a value is written without ``:`` and ignored."""
    value = options.get("ndots")
    if not value:
        return GLIBC_NDOTS
    number = _atoi(value)
    return min(number, GLIBC_MAX_NDOTS) if number >= 0 else number & GLIBC_MAX_NDOTS


def pod_resolver(pod: Pod | None, namespace: str, *, label: str, host_network: bool, kube_dns: str | None,
                 kube_dns_pods: Iterable[str] = (), family: int = 4, domain: str = DOMAIN) -> Resolver:
    """The resolver of a pod (``pod`` None: one without a Pod object, ClusterFirst), as the kubelet's GetPodDNS
    builds its resolv.conf: ClusterFirst (on the host network: Default) and ClusterFirstWithHostNet give kube-dns
    (``kube_dns``, the simulation's --cluster-dns) and the cluster search path with ndots:5; Default the node's
    resolv.conf, which the simulation does not have; None nothing. dnsConfig is then added (nameservers and
    searches after the policy's, duplicates left out; options by name) and the kubelet's limits applied.
    ``label`` names the pod in ``why``."""
    policy = pod.dns_policy if pod is not None else DNSPolicy.CLUSTER_FIRST
    config = pod.dns_config if pod is not None else None
    effective = DNSPolicy.DEFAULT if policy is DNSPolicy.CLUSTER_FIRST and host_network else policy
    cluster_first = effective in (DNSPolicy.CLUSTER_FIRST, DNSPolicy.CLUSTER_FIRST_WITH_HOST_NET)
    servers: tuple[str, ...] = (kube_dns,) if cluster_first and kube_dns else ()
    searches: tuple[str, ...] = search_path(namespace, domain) if cluster_first else ()
    options = _merged_options((("ndots", str(NDOTS)),) if cluster_first else (), config)
    if config is not None:
        servers = _omit_duplicates((*servers, *config.nameservers))
        searches = _omit_duplicates((*searches, *config.searches))
    resolver = Resolver(policy, servers[:MAX_DNS_NAMESERVERS], _fit_searches(searches), _ndots(options), None,
                        edns0=_edns0(options))
    if effective is DNSPolicy.DEFAULT:
        how = ("dnsPolicy ClusterFirst on the host network, which the kubelet turns into Default (ClusterFirstWithHost"
               "Net would ask kube-dns)" if policy is not effective else "dnsPolicy Default")
        return _replace(resolver, OUTSIDE, f"{label} has {how}: it asks its node's nameservers (the node's "
                        "resolv.conf, outside the simulation), not kube-dns")
    if cluster_first and kube_dns is None:
        return resolver  # no kube-dns Service: cluster DNS answers, and no query is simulated
    if not resolver.nameservers:  # (None without a nameserver: the API server refuses it)
        return _replace(resolver, UNASKED, f"{label} has dnsPolicy {policy} and no nameserver")
    first = resolver.nameservers[0]
    if (":" in first) != (family == 6):
        return _replace(resolver, UNASKED, f"the first nameserver of {label} ({first}, dnsPolicy {policy}) is "
                        f"IPv{6 if ':' in first else 4}, and the simulation is IPv{family}: it cannot ask it")
    if first == kube_dns or first in set(kube_dns_pods):
        return replace(resolver, server=first)
    kube = f"kube-dns ({kube_dns} or a ready kube-dns pod)" if kube_dns else "kube-dns"
    return _replace(resolver, OUTSIDE, f"the first nameserver of {label} ({first}, dnsPolicy {policy}) is not "
                    f"{kube}: the simulation does not know what it answers for names of {domain}", first)


def _replace(resolver: Resolver, scope: str, why: str, server: str | None = None) -> Resolver:
    return replace(resolver, server=server, scope=scope, why=why)


class ClusterDNS:
    """The answers of the cluster's DNS for one IP family (A for IPv4, AAAA for IPv6)."""

    def __init__(self, cluster: Cluster, upstream: Iterable[tuple[str, str]] = (), *, family: int = 4,
                 domain: str = DOMAIN) -> None:
        self.domain = domain
        self.family = family
        self.services: Mapping[tuple[str, str], Service] = {(s.namespace, s.name): s for s in cluster.services}
        # the namespaces that exist: those of the objects, and the ones every cluster has
        self.namespaces = {s.namespace for s in cluster.services} | {p.namespace for p in cluster.pods} | \
            {s.namespace for s in cluster.endpoint_slices} | ALWAYS_NAMESPACES
        self._cluster_pods = cluster.pods
        self._dns_pods: dict[str, Pod] | None = None  # made when a pod first resolves a name (see pods)
        self._resolvers: dict[tuple[str, bool, str | None], Resolver] = {}
        self.upstream: dict[str, list[str]] = {}
        for name, address in upstream:
            self.upstream.setdefault(name.lower(), []).append(address)
        # per Service, one subset per slice as CoreDNS's EndpointSliceToEndpoints makes them: the ready
        # addresses with their endpoint names, and the slice's named ports
        self._subsets: dict[tuple[str, str], list[Subset]] = {}
        for slc in cluster.endpoint_slices:
            if slc.address_type is AddressType.FQDN or not slc.service_name:
                continue
            ready = tuple((address, endpoint_name(address, ep.hostname)) for ep in slc.endpoints
                          if ep.conditions.counts_ready for address in ep.addresses)
            ports = tuple((port.name or "", port.protocol.value.lower(), port.port) for port in slc.ports
                          if port.port)
            self._subsets.setdefault((slc.namespace, slc.service_name), []).append((ready, ports))

    @property
    def qtype(self) -> str:
        return "A" if self.family == 4 else "AAAA"

    def search_path(self, namespace: str | None) -> tuple[str, ...]:
        return search_path(namespace, self.domain)

    def candidates(self, name: str, namespace: str | None = None) -> list[str]:
        """The names a pod's resolver asks, in order (a trailing dot: the name alone)."""
        return search_candidates(name, namespace, self.domain)

    @property
    def pods(self) -> Mapping[str, Pod]:
        """The Pods whose resolv.conf is not the default one, by key; worked out when first asked (a run that
        resolves no name from a pod does not pay a pass over every pod)."""
        if self._dns_pods is None:
            default = DNSPolicy.CLUSTER_FIRST
            self._dns_pods = {p.key: p for p in self._cluster_pods
                              if p.dns_policy is not default or p.dns_config is not None}
        return self._dns_pods

    def resolver(self, key: str, *, host_network: bool = False, kube_dns: str | None = None) -> Resolver:
        """The resolver of pod ``key`` (NS/NAME; one without a Pod object is ClusterFirst), ``kube_dns`` the
        cluster IP its ClusterFirst queries go to (None: no kube-dns Service; cluster DNS answers unasked)."""
        known = self._resolvers.get((key, host_network, kube_dns))
        if known is not None:  # (asked once per connection of a run)
            return known
        kube = self.services.get(("kube-system", "kube-dns"))
        kube_pods = [a for a, _ in self.ready_endpoints(kube)] if kube is not None else []
        known = self._resolvers[key, host_network, kube_dns] = pod_resolver(
            self.pods.get(key), key.split("/", 1)[0], label=f"pod/{key}", host_network=host_network,
            kube_dns=kube_dns, kube_dns_pods=kube_pods, family=self.family, domain=self.domain)
        return known

    def resolve(self, name: str, namespace: str | None = None, resolver: Resolver | None = None) -> Answer:
        """A pod's lookup (``namespace``: the pod's; None: no search path, as a node's resolver; ``resolver``:
        the pod's own resolv.conf, instead of the default one of ``namespace``). As glibc's res_search, a name
        that exists without data (NODATA) does not end the search: the first answer with records does (a CNAME
        alone too: res_search takes any NOERROR answer with records, and getaddrinfo then finds no address in
        it), else the first NODATA one, else the last NXDOMAIN. A resolver that is not cluster DNS is asked no
        name of the cluster's zone (what it answers there is not known), and one the simulation cannot ask,
        nothing."""
        query = name
        nodata: Answer | None = None
        tried = tuple(resolver.candidates(name, self.domain) if resolver is not None else
                      self.candidates(name, namespace))
        last = Answer(query, name.lower().rstrip("."), "NXDOMAIN", tried=tried)
        scope = resolver.scope if resolver is not None else CLUSTER
        for candidate in tried if scope != UNASKED else ():
            if scope == OUTSIDE and self.in_zone(candidate):
                continue
            answer = self._follow(query, candidate, tried)
            if answer.records:
                return answer
            if answer.rcode == "NOERROR":
                nodata = nodata or answer
            last = answer
        return nodata or last

    def truncated(self, answer: Answer, resolver: Resolver | None = None) -> bool:
        """Whether CoreDNS's answer over UDP has TC set (more than 512 bytes, as a headless Service's of some 30
        pods or more; with ``resolver``'s ``options edns0``, more than the 1200 its OPT record advertises, some 70),
        so the client asks again over TCP (``Simulator.dns_query``): the answer to the name that answered, of its
        CNAMEs and addresses, sized as ``netns send``'s responder sends it."""
        records = [(r.name, r.type, r.value) for r in answer.records if r.type in ("CNAME", self.qtype)]
        opt = dnswire.resolver_opt(resolver is not None and resolver.edns0)
        return dnswire.truncated(answer.name, self.qtype, records, opt)

    def _follow(self, query: str, fqdn: str, tried: tuple[str, ...] = ()) -> Answer:
        """Look a name up, following CNAMEs (an ExternalName) to their addresses."""
        rcode, found = self.lookup(fqdn)
        if rcode != "NOERROR":
            return Answer(query, fqdn, rcode, tried=tried)
        return Answer(query, fqdn, "NOERROR", tuple(self._expand(fqdn, found, ())), tried)

    def _expand(self, name: str, found: tuple[Record, ...], previous: tuple[Record, ...]) -> list[Record]:
        """CoreDNS's A/AAAA (backend_lookup.go): a CNAME to itself, one more after MAX_CNAME_CHAIN of them, or
        one whose target an earlier one had (a loop) is dropped; one into the zone is kept only when its target
        gives records; one out of the zone is kept with what the upstream has (maybe nothing). A name that exists
        answers NOERROR even when every CNAME was dropped (no data), never SERVFAIL."""
        out: list[Record] = []
        for record in found:
            if record.type != "CNAME":
                out.append(record)
                continue
            target = record.value
            if target == name or len(previous) >= MAX_CNAME_CHAIN or any(p.value == target for p in previous):
                continue
            rcode, more = self.lookup(target)
            if self.in_zone(target):
                rest = self._expand(target, more, (*previous, record)) if rcode == "NOERROR" else []
                if rest:
                    out += [record, *rest]
            else:
                out += [record, *more]
        return out

    def in_zone(self, fqdn: str) -> bool:
        return fqdn == self.domain or fqdn.endswith("." + self.domain)

    def lookup(self, fqdn: str) -> tuple[str, tuple[Record, ...]]:
        """One name, no search path, no CNAME following."""
        fqdn = fqdn.lower().rstrip(".")
        zone = "." + self.domain
        if not self.in_zone(fqdn):
            known = self.upstream.get(fqdn)
            if not known:
                return "NXDOMAIN", ()
            return "NOERROR", tuple(Record(fqdn, self.qtype, a) for a in known if (":" in a) == (self.family == 6))
        if fqdn == self.domain:
            return "NOERROR", ()  # the apex: NODATA (CoreDNS parseRequest)
        labels = fqdn[: -len(zone)].split(".")
        if labels[-1] not in ("svc", "pod"):
            return "NXDOMAIN", ()
        if len(labels) <= 2:  # svc.DOMAIN, pod.DOMAIN: NODATA; NS.svc|pod.DOMAIN: NODATA when NS exists
            return ("NOERROR", ()) if len(labels) == 1 or labels[0] in self.namespaces else ("NXDOMAIN", ())
        if labels[-1] == "svc":
            return self._service_name(fqdn, labels[:-1])
        if len(labels) == 3:
            return self._pod_name(fqdn, labels[0], labels[1])
        return "NXDOMAIN", ()

    def _pod_name(self, fqdn: str, label: str, namespace: str) -> tuple[str, tuple[Record, ...]]:
        """CoreDNS findPods (pods insecure): the label's family from its dashes (IPv4: exactly three, none
        doubled), NXDOMAIN when it is no address or the namespace does not exist, no data for the other family."""
        if namespace not in self.namespaces:
            return "NXDOMAIN", ()
        address = pod_label_address(label)
        if address is None:
            return "NXDOMAIN", ()
        if (":" in address) != (self.family == 6):
            return "NOERROR", ()
        return "NOERROR", (Record(fqdn, self.qtype, address),)

    def service_named(self, fqdn: str) -> Service | None:
        """The Service ``SVC.NS.svc.DOMAIN`` names; None for any other name."""
        fqdn = fqdn.lower().rstrip(".")
        zone = f".svc.{self.domain}"
        labels = fqdn[: -len(zone)].split(".") if fqdn.endswith(zone) else []
        return self.services.get((labels[1], labels[0])) if len(labels) == 2 else None

    def _service_name(self, fqdn: str, labels: list[str]) -> tuple[str, tuple[Record, ...]]:
        namespace = labels[-1]
        service = self.services.get((namespace, labels[-2]))
        if service is None:
            return "NXDOMAIN", ()
        rest = labels[:-2]
        if not rest:
            return self._service_records(fqdn, service)
        if len(rest) == 2:  # CoreDNS parseRequest: port and protocol, each without one leading underscore
            return self._srv(fqdn, service, rest[0].removeprefix("_"), rest[1].removeprefix("_"))
        if len(rest) == 1 and service.type is not ServiceType.EXTERNAL_NAME:
            # CoreDNS answers an endpoint's name for every Service with endpoints, headless or not
            named = [address for address, name in self.ready_endpoints(service) if name.lower() == rest[0]]
            if not named:
                return "NXDOMAIN", ()
            return "NOERROR", tuple(Record(fqdn, self.qtype, a) for a in self._of_family(named))
        return "NXDOMAIN", ()

    def ready_endpoints(self, service: Service) -> list[tuple[str, str]]:
        """The ready (address, endpoint name) pairs of a Service's slices, both families."""
        return [pair for ready, _ in self._subsets.get((service.namespace, service.name), ()) for pair in ready]

    def _of_family(self, addresses: Iterable[str]) -> list[str]:
        seen: dict[str, None] = {}
        for address in addresses:
            if (":" in address) == (self.family == 6):
                seen.setdefault(address)
        return list(seen)

    def _service_records(self, fqdn: str, service: Service) -> tuple[str, tuple[Record, ...]]:
        if service.type is ServiceType.EXTERNAL_NAME:
            if external_name_is_address(service):  # CoreDNS findServices keeps only a name (HostType CNAME)
                return "NXDOMAIN", ()
            return "NOERROR", (Record(fqdn, "CNAME", service.external_name.lower().rstrip(".")),)
        if service.headless:
            addresses = self.ready_endpoints(service)
            if not addresses:  # the spec (2.4.1): a headless Service without ready endpoints is NXDOMAIN
                return "NXDOMAIN", ()
            return "NOERROR", tuple(Record(fqdn, self.qtype, a) for a in self._of_family(a for a, _ in addresses))
        return "NOERROR", tuple(Record(fqdn, self.qtype, ip) for ip in self._of_family(service.cluster_ips))

    def _srv(self, fqdn: str, service: Service, port_name: str, proto: str) -> tuple[str, tuple[Record, ...]]:
        """CoreDNS findServices with a port and a protocol (matchPortAndProtocol: equal, or "" for any)."""
        if service.type is ServiceType.EXTERNAL_NAME:
            return "NOERROR", ()  # findServices answers its CNAME, which Services() drops from an SRV answer
        base = fqdn.split(".", 2)[2]

        def wanted(name: str, protocol: str) -> bool:
            return port_name in ("", name.lower()) and proto in ("", protocol)

        if service.headless:  # per slice: its endpoints with its ports (both families: SRV names no address)
            pairs = {(f"{name.lower()}.{base}", p) for ready, ports in self._subsets.get((service.namespace,
                                                                                          service.name), ())
                     for n, pr, p in ports if wanted(n, pr) for _, name in ready}
            found = tuple(Record(fqdn, "SRV", t, p) for t, p in sorted(pairs, key=lambda tp: (tp[1], tp[0])))
        else:
            found = tuple(Record(fqdn, "SRV", base, p.port) for p in service.ports
                          if wanted(p.name or "", p.protocol.value.lower()))
        return ("NOERROR", found) if found else ("NXDOMAIN", ())
