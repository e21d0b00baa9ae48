"""naming.endpoint_chains, which inlines _hash16 for a port's endpoints, names each as endpoint_chain does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kubeproxy_sim.proxier import naming


@given(st.text(max_size=40), st.sampled_from(["tcp", "udp", "sctp", ""]), st.lists(st.text(max_size=30), max_size=5))
def test_endpoint_chains_are_endpoint_chain_each(port_name: str, protocol: str, endpoints: list[str]) -> None:
    assert naming.endpoint_chains(port_name, protocol, endpoints) == [
        naming.endpoint_chain(port_name, protocol, endpoint) for endpoint in endpoints]


def test_the_prefix_is_the_endpoint_chains():
    assert naming.endpoint_chains("ns1/svc1:p80", "tcp", ["10.180.0.1:80"])[0].startswith(naming.SEP_PREFIX)
