"""A node's dump as the commands that read one (``trace``, ``graph``, ``netns verify``) take it: its family's
tool, and the words for an input of the other family than the dump's.

A dump's family is its own (an iptables-save is IPv4, an ip6tables-save IPv6): a packet or a node address of
the other family is refused in one wording, naming the tool, not blamed on the dump's rules.
"""

from __future__ import annotations


def save_tool(family: int) -> str:
    """The tool whose output a dump of this family is."""
    return "ip6tables-save" if family == 6 else "iptables-save"


def dump_family_mismatch(what: str, dump_family: int, expected: str) -> str:
    """``what`` (``the packet is IPv6``, ``fd00::1 is an IPv6 address``) said of an input of the other family
    than the dump's: ``..., but the dump is an iptables-save (IPv4); expected IPv4 EXPECTED``."""
    tool = save_tool(dump_family)
    return f"{what}, but the dump is an {tool} (IPv{dump_family}); expected IPv{dump_family} {expected}"
