"""ClientIP session affinity's timeout, the simulator against a kernel cluster: sticky within
``timeoutSeconds``, balanced afresh once it has passed.

kube-proxy's service chain first asks each endpoint's recent list ``--rcheck --seconds TIMEOUT --reap`` for the
client; the endpoint chain ``--set``s it on every new connection. So a client's connections keep their endpoint
while the last one is younger than the timeout, and after a wait longer than that the list no longer holds the
client within the window and the next connection goes through the random split again.

The cluster is built in namespaces once (``kpsim-<run>-at``): a ClusterIP Service with ClientIP affinity and a
``timeoutSeconds`` of :data:`TIMEOUT`, three endpoints (two on node1, one on node2), and :data:`CLIENTS` client pods
on node1. Every client connects once; after a short wait, three times more; after a wait of the timeout and
0.7 s, once more (the clients one after the other at each step, so the run sleeps twice in all). node1's xt_recent
lists (``/proc/net/xt_recent/KUBE-SEP-*`` in its namespace) are read after the second step, after the long wait
and at the end: each entry lists its stamps in jiffies, and ``/proc/timer_list`` gives the kernel's jiffies then.
The simulator makes the same connections, its clock set to the moment the kernel stamped each one (so both sides
share one clock, to a jiffy). What is compared:

* within the timeout, each client's four connections reach one endpoint on both sides, one the simulator gives a
  positive share to a new client (the socket's outcome: which endpoint answered, and the source it saw), and the
  kernel's list that holds the client is that endpoint's;
* before the wait every list holding a client holds it within the window (its newest stamp no more than
  TIMEOUT seconds old), after it none does, on both sides (the simulator's lists read at the same moments);
* after the wait the kernel's endpoint is again one the simulator gives a positive share, and is drawn afresh:
  how many clients landed where they were is within the exact binomial range of the simulator's chance of that
  (the sum of the squared shares; a kernel that kept them would put all there), at a false alarm rate of 1/1000;
  the simulator's own draws are checked so over many sessions with a fixed seed.

Every claim is about times far from the window (0.5 s and TIMEOUT + 0.7 s against TIMEOUT), which the kernel's
own stamps confirm; a run too slow to keep :data:`MARGIN` fails saying so rather than judging.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.kernel import build, nsexec
from kubeproxy_sim.kernel.differential import Flow, Key, SimulatorSide, observation
from kubeproxy_sim.kernel.probe import probe
from kubeproxy_sim.kernel.send import resolve_destination, resolve_source
from kubeproxy_sim.kernel.state import read_state
from kubeproxy_sim.kernel.verify import binomial_range
from kubeproxy_sim.netfilter.packet import parse_address
from kubeproxy_sim.objects.model import Cluster
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.send import parse_destination, parse_source
from tests.kernel.test_kernel import small_cluster, start

pytestmark = pytest.mark.kernel

TIMEOUT = 2
SHORT = 0.5
LONG = TIMEOUT + 0.7
MARGIN = 0.2  # the least distance from the window a step's moments may leave
CLIENTS = 8
SERVICE = "10.96.0.40:80"
ALPHA = Fraction(1, 1000)
CONNECT_TIMEOUT = 3.0
SEED = 7

AFFINITY = f"""
---
apiVersion: v1
kind: Service
metadata: {{name: sticky, namespace: default}}
spec:
  clusterIP: 10.96.0.40
  sessionAffinity: ClientIP
  sessionAffinityConfig: {{clientIP: {{timeoutSeconds: {TIMEOUT}}}}}
  ports: [{{name: http, port: 80, targetPort: 8080, protocol: TCP}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: sticky-1, namespace: default, labels: {{kubernetes.io/service-name: sticky}}}}
addressType: IPv4
endpoints:
- {{addresses: [10.244.0.3], nodeName: node1}}
- {{addresses: [10.244.0.4], nodeName: node1}}
- {{addresses: [10.244.1.3], nodeName: node2}}
ports: [{{name: http, port: 8080, protocol: TCP}}]
""" + "".join(f"""
---
apiVersion: v1
kind: Pod
metadata: {{name: c{i}, namespace: default}}
spec: {{nodeName: node1, containers: [{{name: c, image: x}}]}}
status: {{phase: Running, podIP: 10.244.0.{20 + i}, podIPs: [{{ip: 10.244.0.{20 + i}}}]}}
""" for i in range(1, CLIENTS + 1))
CLIENT_PODS = tuple(f"pod/default/c{i}" for i in range(1, CLIENTS + 1))
CLIENT_IPS = {pod: f"10.244.0.{20 + i}" for i, pod in enumerate(CLIENT_PODS, 1)}


@dataclass(frozen=True)
class Lists:
    """node1's affinity lists at one moment: list -> client address -> its stamps (jiffies, oldest first), the
    kernel's jiffies then, and the monotonic moment of the read."""

    entries: dict[str, dict[str, list[int]]]
    jiffies: int
    moment: float

    def stamps(self, ip: str) -> list[int]:
        """The client's stamps in the one list that holds it (a client in none, or in several, fails the test)."""
        (held,) = [entries[ip] for entries in self.entries.values() if ip in entries]
        return held

    def newest(self, ip: str) -> int:
        """The client's newest stamp in any list."""
        return max(entries[ip][-1] for entries in self.entries.values() if ip in entries)

    def held(self, ip: str, hz: int) -> bool:
        """Whether a list holds the client within the window, as xt_recent's --rcheck --seconds tests it: its newest
        stamp no more than TIMEOUT seconds of jiffies old."""
        return self.jiffies - self.newest(ip) <= TIMEOUT * hz


@pytest.fixture(scope="module")
def built(kernel: None, run_tag: str, state_dir: Path) -> Iterator[tuple[Cluster, ProxyConfig, dict[str, Any]]]:
    name = f"{run_tag}-at"
    _topo, state = start(name, state_dir, extra=AFFINITY)
    try:
        yield (*small_cluster(AFFINITY), state)
    finally:
        build.teardown(name, state_dir, read_state(state_dir, name))


LISTED = re.compile(r"^src=(\S+) ttl: \d+ last_seen: \d+ oldest_pkt: \d+ (.*)$", re.M)


def _read_lists() -> dict[str, Any]:
    """(Run inside the node's namespace.) Every xt_recent list's entries with their stamps (printed in the order
    they were taken while an entry has fewer than its ring holds), and the kernel's jiffies."""
    entries: dict[str, dict[str, list[int]]] = {}
    folder = "/proc/net/xt_recent"
    for name in os.listdir(folder):
        with open(os.path.join(folder, name)) as listing:
            entries[name] = {m[1]: [int(v) for v in m[2].split(",")] for m in LISTED.finditer(listing.read())}
    with open("/proc/timer_list") as timers:
        found = re.search(r"^jiffies: (\d+)", timers.read(), re.M)
    assert found is not None, "/proc/timer_list gives no jiffies"
    return {"entries": entries, "jiffies": int(found[1])}


def read_lists(state: dict[str, Any]) -> Lists:
    low = time.monotonic()
    read = nsexec.call(state["nodes"]["node1"]["netns"], _read_lists)
    return Lists(read["entries"], read["jiffies"], (low + time.monotonic()) / 2)


def sep_endpoints(state: dict[str, Any]) -> dict[str, str]:
    """node1's endpoint chains (each one's recent list) -> the endpoint address it DNATs to."""
    done = nsexec.run(state["nodes"]["node1"]["netns"], ["iptables-save", "-t", "nat"])
    assert done.returncode == 0, done.stderr
    return {m[1]: m[2] for m in re.finditer(r"^-A (KUBE-SEP-\S+) .*--to-destination ([\d.]+):\d+", done.stdout, re.M)}


def kernel_step(state: dict[str, Any], pod: str, count: int) -> list[Key]:
    """``count`` connections of one client to the Service, made at once by the probe ``netns send`` runs (here in
    a forked child in the client's namespace: no interpreter to start), what their sockets told."""
    source = resolve_source(state, pod)
    dest = resolve_destination(state, SERVICE, source)
    results = nsexec.call(source.netns, probe, [dest.ip], dest.port, "tcp", count, CONNECT_TIMEOUT, source.bind)
    return [observation(r) for r in results]


Run = tuple[dict[str, list[list[Key]]], tuple[Lists, Lists, Lists]]
"""Per client, what each of its three steps' sockets told; node1's lists after the first two steps, after the
long wait, and after the third."""


def run_kernel(state: dict[str, Any]) -> Run:
    """Every client one connection; a short wait; every client three more; the lists; the long wait (from the
    last client's last connection); the lists; every client one more connection; the lists."""
    steps: dict[str, list[list[Key]]] = {pod: [] for pod in CLIENT_PODS}
    for count in (1, 3):
        for pod in CLIENT_PODS:
            steps[pod].append(kernel_step(state, pod, count))
        time.sleep(SHORT if count == 1 else 0)
    last = time.monotonic()
    held = read_lists(state)
    time.sleep(max(0.0, last + LONG - time.monotonic()))
    expired = read_lists(state)
    for pod in CLIENT_PODS:
        steps[pod].append(kernel_step(state, pod, 1))
    return steps, (held, expired, read_lists(state))


def jiffies_per_second(held: Lists, expired: Lists) -> int:
    """The kernel's HZ, from the jiffies the two reads saw and the time between them (the nearest of the values a
    kernel is configured with)."""
    rate = (expired.jiffies - held.jiffies) / (expired.moment - held.moment)
    return min((100, 250, 300, 1000), key=lambda hz: abs(hz - rate))


def check_margins(held: Lists, expired: Lists, hz: int) -> None:
    """Every claim of the test is about times far from the window, in the kernel's own clock (the stamps its lists
    took): each client's first four connections span less than it less MARGIN, the first read came that soon
    after the last of them, the second read (and so the last connections) more than it and MARGIN after."""
    for pod, ip in CLIENT_IPS.items():
        stamps = held.stamps(ip)
        assert len(stamps) == 4, f"{pod}: {stamps} (one stamp for each of its connections)"
        for span, limit in ((stamps[-1] - stamps[0], TIMEOUT - MARGIN), (held.jiffies - stamps[-1], TIMEOUT - MARGIN)):
            assert span <= limit * hz, f"{pod}: too slow to judge: {span} jiffies (HZ {hz}) within {TIMEOUT} s"
        assert expired.jiffies - stamps[-1] > (TIMEOUT + MARGIN) * hz, f"{pod}: the wait was too short"


def simulated(cluster: Cluster, config: ProxyConfig, reads: tuple[Lists, ...],
              hz: int) -> tuple[dict[str, list[Key]], list[dict[str, bool]]]:
    """The clients' connections in the simulator, each at the moment the kernel stamped it (in seconds from the
    first stamp), in that order: per client, what its sockets told; and at the moments of the first two reads,
    whether node1's simulated lists hold each client within the window."""
    held, _, after = reads
    start = min(held.stamps(ip)[0] for ip in CLIENT_IPS.values())
    now = [0.0]
    sim = Simulator(cluster, config, rng=random.Random(SEED), clock=lambda: now[0])
    events = sorted([(stamp, 1, pod) for pod, ip in CLIENT_IPS.items() for stamp in held.stamps(ip)]
                    + [(after.newest(ip), 1, pod) for pod, ip in CLIENT_IPS.items()]
                    + [(r.jiffies, 0, str(i)) for i, r in enumerate(reads[:2])])
    made: dict[str, list[Key]] = {pod: [] for pod in CLIENT_PODS}
    within: list[dict[str, bool]] = [{}, {}]
    for jiffies, kind, who in events:
        now[0] = (jiffies - start) / hz
        if kind == 0:
            within[int(who)] = {pod: stamp >= now[0] - TIMEOUT for pod, stamp in newest_stamps(sim).items()}
            continue
        client = parse_source(sim, who)
        target = parse_destination(sim, client, SERVICE)
        made[who].append(socket_outcome(sim.connect(client, target.addresses[0], target.port, close=True)))
    return made, within


def socket_outcome(conn: Any) -> Key:
    assert conn.failure is None, conn.failure
    return ("reply", conn.ip or "", conn.seen or "")


def newest_stamps(sim: Simulator) -> dict[str, float]:
    """Client pod -> the newest stamp node1's simulated lists hold for its address (a client in none: absent)."""
    table = sim.runtimes["node1"].sampler.recent
    found: dict[str, float] = {}
    for name, entries in table.lists.items():
        for pod, ip in CLIENT_IPS.items():
            stamps = entries.get(parse_address(ip)[1] & table.masks.get(name, -1))
            if stamps:
                found[pod] = max(stamps[-1], found.get(pod, stamps[-1]))
    return found


def p_same(shares: dict[Key, Fraction]) -> Fraction:
    """The chance two independent draws of a new client reach the same endpoint."""
    return sum((share * share for share in shares.values()), Fraction(0))


def test_affinity_holds_within_its_timeout_and_is_drawn_afresh_after_it(
        built: tuple[Cluster, ProxyConfig, dict[str, Any]]) -> None:
    cluster, config, state = built
    steps, reads = run_kernel(state)
    held, expired, after = reads
    hz = jiffies_per_second(held, expired)
    check_margins(held, expired, hz)
    sims = SimulatorSide(cluster, config)
    predictions = {pod: sims.predict(Flow(pod, SERVICE)) for pod in CLIENT_PODS}
    assert all(p.sticky and len(p.shares) == 3 for p in predictions.values()), predictions
    ours, within = simulated(cluster, config, reads, hz)
    lists = sep_endpoints(state)
    for pod, (first, again, last) in steps.items():
        shares = predictions[pod].shares
        sticky = {*first, *again}
        assert len(sticky) == 1 and sticky <= set(shares), f"{pod}: {steps[pod]}"
        assert len(ours[pod]) == 5 and len(set(ours[pod][:4])) == 1, f"{pod} simulated: {ours[pod]}"
        assert last[0] in shares, f"{pod}: {steps[pod]}"
        (endpoint,) = sticky
        held_in = [name for name, entries in held.entries.items() if CLIENT_IPS[pod] in entries]
        assert [lists.get(name) for name in held_in] == [endpoint[1]], f"{pod}: in {held_in}, reached {endpoint}"
        assert after.newest(CLIENT_IPS[pod]) > expired.jiffies, f"{pod}: its last connection left no stamp"
    for lists_read, mine, expected in zip((held, expired), within, (True, False), strict=True):
        theirs = {pod: lists_read.held(ip, hz) for pod, ip in CLIENT_IPS.items()}
        assert theirs == mine == dict.fromkeys(CLIENT_PODS, expected), (lists_read, theirs, mine)
    chances = {p_same(p.shares) for p in predictions.values()}
    assert len(chances) == 1, chances  # (every client's draw alike: the clients' count is binomial)
    low, high = binomial_range(CLIENTS, chances.pop(), ALPHA)
    same = sum(steps[pod][2][0] == steps[pod][0][0] for pod in CLIENT_PODS)
    assert low <= same <= high, f"{same} of {CLIENTS} clients kept their endpoint after the timeout: " \
                                f"expected {low}-{high} if drawn afresh"


def test_the_simulator_draws_afresh_after_the_timeout_and_keeps_within_it(
        built: tuple[Cluster, ProxyConfig, dict[str, Any]]) -> None:
    """Many sessions, no kernel: with a fixed seed, connections a short wait apart always keep their endpoint;
    across a wait past the timeout, as often the same as two fresh draws are (exact binomial range)."""
    cluster, config, _state = built
    shares = SimulatorSide(cluster, config).predict(Flow(CLIENT_PODS[0], SERVICE)).shares
    sim = Simulator(cluster, config, rng=random.Random(SEED))
    rounds = 40
    kept = {SHORT: 0, LONG: 0}
    for wait in (SHORT, LONG):
        for pod in CLIENT_PODS:
            client = parse_source(sim, pod)
            target = parse_destination(sim, client, SERVICE)
            seen = []
            for _ in range(rounds + 1):
                seen.append(socket_outcome(sim.connect(client, target.addresses[0], target.port, close=True)))
                sim.advance(wait)
            kept[wait] += sum(a == b for a, b in itertools.pairwise(seen))
        sim.advance(LONG)  # (the next sessions start with every client expired)
    pairs = rounds * CLIENTS
    assert kept[SHORT] == pairs
    low, high = binomial_range(pairs, p_same(shares), ALPHA)
    assert low <= kept[LONG] <= high, (kept, low, high)
