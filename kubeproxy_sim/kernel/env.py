"""What the kernel backend needs from this machine, checked before anything is created."""

from __future__ import annotations

import os
import shutil

from kubeproxy_sim.errors import EnvironmentMissing

TOOLS = ("iptables-restore", "iptables-save")
# capability(7) bits root needs here: mounting the namespaces, and links, routes and iptables
CAPABILITIES = {21: ("CAP_SYS_ADMIN", "mounting network namespaces"),
                12: ("CAP_NET_ADMIN", "links, routes and iptables rules")}


def effective_capabilities(status: str | None = None) -> int | None:
    """This process's effective capability set (CapEff of /proc/self/status); None when it cannot be read."""
    if status is None:
        try:
            with open("/proc/self/status") as handle:
                status = handle.read()
        except OSError:
            return None
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            try:
                return int(line.split(":", 1)[1].strip(), 16)
            except ValueError:
                return None
    return None


def missing() -> list[str]:
    """Each missing requirement, phrased for the user; empty when the backend can run."""
    problems = []
    if os.geteuid() != 0:
        problems.append("root privileges (network namespaces and iptables need them; run as root or with sudo)")
    else:  # root without them (a default container, setpriv): the first mount would fail with EPERM
        caps = effective_capabilities()
        lacking = [(name, use) for bit, (name, use) in CAPABILITIES.items() if caps is not None and not caps >> bit & 1]
        if lacking:
            names = " and ".join(name for name, _ in lacking)
            problems.append(f"the {names} capabilit{'ies' if len(lacking) > 1 else 'y'} "
                            f"({'; '.join(use for _, use in lacking)}), which this root lacks (in a container: run "
                            f"it privileged, or with {' '.join('--cap-add=' + n[4:] for n, _ in lacking)})")
    problems += [f"the {tool} command (install the iptables package)" for tool in TOOLS if not shutil.which(tool)]
    if not os.path.exists("/proc/self/ns/net"):
        problems.append("network namespace support in the kernel (CONFIG_NET_NS)")
    return problems


def require() -> None:
    problems = missing()
    if problems:
        raise EnvironmentMissing("the kernel backend needs " + "; ".join(problems))
