"""`rules --full` is what iptables-save really prints: every scenario's node tables (a dual-stack scenario's, each
proxier's) are loaded with iptables-restore or ip6tables-restore into a scratch namespace of ours and read back."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeproxy_sim.cli.options import config_from_args, scenario_args, scenario_proxiers
from kubeproxy_sim.kernel import nsexec, sysfs
from kubeproxy_sim.netfilter.codec import render_ruleset
from kubeproxy_sim.objects import load_paths
from kubeproxy_sim.proxier import generate
from kubeproxy_sim.proxier.full import node_tables

pytestmark = pytest.mark.kernel
ROOT = Path(__file__).resolve().parents[2]

FOLDERS = sorted(p for p in (ROOT / "rulesets").iterdir() if (p / "full.golden").is_file())
SCENARIOS = [(d, suffix, flags) for d in FOLDERS for suffix, flags in scenario_proxiers(d).items()]
"""(folder, golden-name suffix, flags after its args): one per proxier whose tables the folder holds."""


@pytest.fixture(scope="module")
def scratch(kernel: None, run_tag: str) -> Iterator[str]:
    from pyroute2 import netns

    name = f"kpsim-{run_tag}.full"
    netns.create(name)
    try:
        yield name
    finally:
        netns.remove(name)


def saved_tables(ns: str, ipv6: bool) -> str:
    """iptables-save's nat and filter tables (in our order), without its comment lines."""
    tool = "ip6tables-save" if ipv6 else "iptables-save"
    parts: list[str] = []
    for table in ("filter", "nat"):
        out = nsexec.run(ns, [tool, "-t", table]).stdout
        parts.extend(line for line in out.splitlines() if not line.startswith("#"))
    return "\n".join(parts) + "\n"


@pytest.mark.parametrize(("directory", "suffix", "flags"), SCENARIOS, ids=[d.name + s for d, s, _ in SCENARIOS])
def test_full_golden_is_what_iptables_save_prints(scratch: str, directory: Path, suffix: str,
                                                  flags: list[str]) -> None:
    cluster = load_paths([str(directory / "objects.yaml")]).cluster
    config = config_from_args([*scenario_args(directory), *flags], cluster)
    result = generate(cluster, config)
    text = render_ruleset(node_tables(result.ruleset, result.jumps))
    names = sysfs.nfacct_names(text)
    if names:
        nsexec.call(scratch, sysfs.create_nfacct, names)
    tool = "ip6tables-restore" if config.ipv6 else "iptables-restore"
    done = nsexec.run(scratch, [tool, "-w", "5"], stdin=text)
    assert done.returncode == 0, done.stderr
    saved = saved_tables(scratch, config.ipv6)
    golden = (directory / f"full{suffix}.golden").read_text()
    if saved != golden:
        sys.stderr.write(saved)
    assert saved == golden
