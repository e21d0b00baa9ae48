"""simulator layer: the whole cluster packet by packet (nodes' rules and conntrack, routes, DNS, balancer).

Entry points: :class:`kubeproxy_sim.simulator.network.Simulator` (``connect``, ``update``, ``resolve``),
:func:`kubeproxy_sim.simulator.send.send` (N connections, tallied, with exact expected shares),
:func:`kubeproxy_sim.simulator.health.service_health` (kube-proxy's health server answer),
:func:`kubeproxy_sim.simulator.bench.bench_connections` (the speed figure for tools/bench.py).
"""
