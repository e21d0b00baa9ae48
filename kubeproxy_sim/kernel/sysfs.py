"""Things set from inside a namespace: sysctls and nfacct counters.

Both are per network namespace, so they are written by a child that entered the
namespace (see :func:`kubeproxy_sim.kernel.nsexec.call`); the root namespace's
values are never read or changed.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import struct
from collections.abc import Iterable

NETLINK_NETFILTER = 12
NFNL_SUBSYS_ACCT = 7
NFNL_MSG_ACCT_NEW = 0
NFACCT_NAME = 1
NLM_F_REQUEST, NLM_F_ACK, NLM_F_CREATE = 0x1, 0x4, 0x400
NLMSG_ERROR = 2
NFACCT_RULE = re.compile(r"--nfacct-name\s+(\S+)")


def write_sysctls(values: dict[str, str], optional: Iterable[str] = ()) -> dict[str, str]:
    """Write ``net.x.y`` keys through /proc/sys (which shows the writer's own namespace).

    A key of ``optional`` that this namespace does not have is skipped (a kernel where the setting is global:
    it is never written from here, so the root namespace's value is never changed); the result is what was
    written.
    """
    written = {}
    for key, value in values.items():
        path = "/proc/sys/" + key.replace(".", "/")
        if key in optional and not os.path.exists(path):
            continue
        with open(path, "w") as handle:
            handle.write(value)
        written[key] = value
    return written


def has_sysctl(key: str) -> bool:
    """Whether this namespace has the ``net.x.y`` setting (an older kernel lacks some)."""
    return os.path.exists("/proc/sys/" + key.replace(".", "/"))


def nfacct_names(rules_text: str) -> list[str]:
    """The nfacct counters a ruleset refers to (they must exist before iptables-restore)."""
    return sorted(set(NFACCT_RULE.findall(rules_text)))


def _nfacct_message(name: str, seq: int) -> bytes:
    raw = name.encode() + b"\0"
    attr = struct.pack("HH", 4 + len(raw), NFACCT_NAME) + raw
    attr += b"\0" * (-len(attr) % 4)
    body = struct.pack("BBH", socket.AF_UNSPEC, 0, 0) + attr
    flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE
    return struct.pack("IHHII", 16 + len(body), (NFNL_SUBSYS_ACCT << 8) | NFNL_MSG_ACCT_NEW, flags, seq, 0) + body


def create_nfacct(names: list[str]) -> list[str]:
    """Create nfacct objects by netlink (what ``nfacct add`` does); existing ones are kept."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER) as sock:
        sock.bind((0, 0))
        for seq, name in enumerate(names, start=1):
            sock.send(_nfacct_message(name, seq))
            reply = sock.recv(4096)
            _, kind = struct.unpack("IH", reply[:6])
            code = -struct.unpack("i", reply[16:20])[0] if kind == NLMSG_ERROR else 0
            if code not in (0, errno.EBUSY, errno.EEXIST):
                raise OSError(code, f"cannot create nfacct counter {name}: {errno.errorcode.get(code, code)}")
    return names
