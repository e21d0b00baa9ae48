"""What the kernel backend needs from this machine, checked before anything is created."""

from __future__ import annotations

import os
import shutil

from kubeproxy_sim.errors import EnvironmentMissing

TOOLS = ("iptables-restore", "iptables-save")


def missing() -> list[str]:
    """Each missing requirement, phrased for the user; empty when the backend can run."""
    problems = []
    if os.geteuid() != 0:
        problems.append("root privileges (network namespaces and iptables need them; run as root or with sudo)")
    problems += [f"the {tool} command (install the iptables package)" for tool in TOOLS if not shutil.which(tool)]
    if not os.path.exists("/proc/self/ns/net"):
        problems.append("network namespace support in the kernel (CONFIG_NET_NS)")
    return problems


def require() -> None:
    problems = missing()
    if problems:
        raise EnvironmentMissing("the kernel backend needs " + "; ".join(problems))
