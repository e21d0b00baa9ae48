"""The IPv6 addrtype answers the kernel differential compares, without a kernel: what a trace key may rely on.

A trace memoises walks keyed on each source's :meth:`~kubeproxy_sim.netfilter.evaluate.Env.address_type` on every
interface (tracekey), so two sources of one class there must get one answer from every IPv6 addrtype test
(:meth:`~kubeproxy_sim.netfilter.evaluate.Env.addrtype6`), or a walk is reused for a source it does not fit.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.netfilter.compile_types import Doubt
from kubeproxy_sim.netfilter.evaluate import Env, NodeContext
from kubeproxy_sim.netfilter.packet import parse_address
from tests.budget import budget

TYPES = ("LOCAL", "UNICAST", "MULTICAST", "UNREACHABLE", "ANYCAST", "UNSPEC")
WANTED = [frozenset(c) for n in (1, 2) for c in itertools.combinations(TYPES, n)]
ADDRESSES = ("fd00:9::1", "fd00:9::2", "fd00:9::", "fd00:100::", "fd00:100::1", "fd00:100::7", "fd00:77::5",
             "::", "::1", "ff02::1", "ff0e::5", "::ffff:10.0.0.1", "fe80::2", "2001:db8::1")
CONTEXTS = {
    "whole": NodeContext.of(("fd00:9::1/64", "fd00:100::1/48"),
                            interfaces={"c0": ("fd00:9::1/64",), "out0": ("fd00:100::1/48",)},
                            routes=(("fd00:9::/64", "c0"), ("fd00:100::/48", "out0"), ("::/0", "out0"))),
    "partial": NodeContext.of(("fd00:9::1/64",), interfaces={"c0": ("fd00:9::1/64",)},
                              routes=(("fd00:9::/64", "c0"),)),
}


@settings(max_examples=budget(60))
@given(st.sampled_from(sorted(CONTEXTS)), st.sampled_from(ADDRESSES), st.sampled_from(ADDRESSES))
def test_sources_of_one_class_get_one_addrtype_answer(context: str, first: str, second: str) -> None:
    env = Env(CONTEXTS[context], 6)
    a, b = parse_address(first)[1], parse_address(second)[1]
    for iface in ("", "lo", "c0", "out0"):
        if env.address_type(6, a, iface) != env.address_type(6, b, iface):
            continue
        for wanted in WANTED:
            assert _answer(env.addrtype6(a, iface, wanted)) == _answer(env.addrtype6(b, iface, wanted)), (iface, wanted)


def _answer(found: object) -> object:
    """A doubt by what it assumes (its text names the address)."""
    return ("doubt", found.assume) if isinstance(found, Doubt) else found


def test_ipv6_addrtype_is_not_ipv4s_any_of() -> None:
    """As the kernel answered (tests/kernel/test_eval_kernel_differential6.py PINNED): a local address is UNICAST
    too; LOCAL,UNICAST wants both; a subnet-router anycast address is ANYCAST, and delivered; limited to an
    interface, an address no route through it covers is UNREACHABLE."""
    env = Env(CONTEXTS["whole"], 6)

    def of(text: str) -> int:
        return parse_address(text)[1]

    assert env.addrtype6(of("fd00:9::1"), "", frozenset({"UNICAST"})) is True
    assert env.addrtype6(of("fd00:9::2"), "", frozenset({"LOCAL", "UNICAST"})) is False
    assert env.addrtype6(of("fd00:9::1"), "", frozenset({"LOCAL", "UNICAST"})) is True
    assert env.addrtype6(of("fd00:9::"), "", frozenset({"ANYCAST"})) is True
    assert env.addrtype6(of("fd00:77::5"), "c0", frozenset({"UNREACHABLE"})) is True
    assert env.addrtype6(of("fd00:77::5"), "", frozenset({"UNREACHABLE"})) is False
    assert env.addrtype6(of("fd00:100::1"), "c0", frozenset({"LOCAL"})) is False
    assert env.addrtype6(of("::ffff:10.0.0.1"), "", frozenset({"UNICAST"})) is False
