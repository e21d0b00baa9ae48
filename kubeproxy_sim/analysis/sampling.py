"""Seeded sampling of new connections through one node's rules, as the kernel draws them.

This is the fallback of ``dist --connections`` and of the affinity sampling
(:mod:`.journeys` runs whole journeys through the cluster simulator): it
serves the entry points the simulated network cannot carry, such as an
outside client sent straight to a cluster IP.

Each node gets an :class:`Engine` with its own :class:`Sampler`, because each
node's kernel has its own ``recent`` lists (session affinity is per node).
Randomness comes from one ``random.Random(seed)``; time is a counter the
caller advances, so a run is reproducible from its seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from kubeproxy_sim.analysis.exact import Entry, weighted_sum
from kubeproxy_sim.analysis.nodes import EXTERNAL_IFACE, NodeSet, Source
from kubeproxy_sim.netfilter.evaluate import Engine, RecentTable, Sampler
from kubeproxy_sim.netfilter.packet import Packet, split_endpoint


@dataclass(slots=True)
class ConnectionSampler:
    """Draw the fate of new connections entering given nodes; ``now`` is the kernel clock in seconds."""

    nodes: NodeSet
    rng: random.Random
    now: float = 0.0
    recent_size: int = 100
    _engines: dict[str, tuple[Engine, Sampler]] = field(default_factory=dict)

    def _engine(self, node: str) -> tuple[Engine, Sampler]:
        if node not in self._engines:
            sampler = Sampler(lambda: self.rng.getrandbits(32), RecentTable(size=self.recent_size))
            self._engines[node] = (Engine(self.nodes.compiled(node), self.nodes.context(node), sampler), sampler)
        return self._engines[node]

    def connect(self, node: str, source: Source, dst: str, dport: int, proto: str,
                client: str | None = None) -> tuple[str, str | None]:
        """(verdict, endpoint) of one new connection; ``client`` overrides the source address."""
        engine, sampler = self._engine(node)
        sampler.now = self.now
        local = source.kind in ("pod", "node") and source.node == node
        iface = (self.nodes.pod_iface(node) if source.kind == "pod" else None) if local else EXTERNAL_IFACE
        packet = Packet.of(proto, client or source.address, dst, dport, in_iface=iface)
        finished = engine.run(packet)[0]
        return finished.verdict, finished.destination


def pick_entry(rng: random.Random, entries: Sequence[Entry]) -> Entry:
    """An entry point drawn by its weight (exact fractions, so weights of 1/3 are fair)."""
    weights = [e.weight for e in entries]
    den = 1
    for w in weights:
        den = den * w.denominator // _gcd(den, w.denominator)
    scaled = [int(w * den) for w in weights]
    draw = rng.randrange(sum(scaled))
    for entry, size in zip(entries, scaled, strict=True):
        if draw < size:
            return entry
        draw -= size
    return entries[-1]


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def sample_connections(nodes: NodeSet, entries: Sequence[Entry], proto: str, count: int, seed: int,
                       interval: float = 1.0,
                       on_connection: Callable[[Entry, tuple[str, str | None]], None] | None = None,
                       ) -> dict[tuple[str, str | None], int]:
    """Counts of (verdict, endpoint) over ``count`` seeded new connections, entries drawn by weight.

    Connections are ``interval`` seconds apart on the kernel clock (affinity
    entries stay live well within the default 3 hours). ``on_connection`` sees
    each one's entry point and outcome (affinity pins a client per entry point).
    """
    rng = random.Random(seed)
    sampler = ConnectionSampler(nodes, rng)
    usable = [e for e in entries if e.weight > 0]
    counts: dict[tuple[str, str | None], int] = {}
    for i in range(count):
        entry = pick_entry(rng, usable)
        sampler.now = i * interval
        dst, dport = split_endpoint(entry.destination)
        key = sampler.connect(entry.node, entry.source, dst, dport, proto)
        counts[key] = counts.get(key, 0) + 1
        if on_connection is not None:
            on_connection(entry, key)
    return counts


def exact_of(entries: Sequence[Entry]) -> dict[tuple[str, str | None], Fraction]:
    """The exact probability of each (verdict, endpoint) over weighted entries, in the order the outcomes first
    come. Each is summed by :func:`~kubeproxy_sim.analysis.exact.weighted_sum` (one common denominator, reduced
    once): a Fraction product and add per entry and endpoint took a gcd of numbers of ~30,000 bits each, ~1.3 s
    CPU of ``dist --connections`` on a service of 1,000 endpoints seen from 3 nodes (now ~0.06 s)."""
    terms: dict[tuple[str, str | None], list[tuple[Fraction, Fraction]]] = {}
    for entry in entries:
        for share in entry.shares:
            terms.setdefault((share.verdict, share.endpoint), []).append((entry.weight, share.probability))
    return {key: weighted_sum(parts) for key, parts in terms.items()}
