#!/usr/bin/env python3
"""Speed and memory figures for kubeproxy-sim, printed next to their targets.

Targets live here, not in timed unit tests: a laptop and a CI runner disagree
about milliseconds, and a benchmark that prints figures is read by people.

  tools/bench.py                 # everything at the full sizes
  tools/bench.py --quick         # smaller sizes, seconds instead of minutes
  tools/bench.py rules trace     # only some sections
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable


def gen_cluster(directory: Path, services: int, endpoints: int, fmt: str) -> Path:
    out = directory / f"cluster-{services}x{endpoints}.{fmt}"
    if not out.exists():
        subprocess.run([PYTHON, str(ROOT / "tools" / "gen_scale.py"), "--services", str(services),
                        "--endpoints", str(endpoints), "--format", fmt, "-o", str(out)], check=True)
    return out


def run_process(argv: list[str], stdout_path: Path | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process, start-up included."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    with open(stdout_path or os.devnull, "w") as out:
        subprocess.run(argv, stdout=out, check=True)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the maximum over all children so far: run the biggest last or read it as a bound.
    return wall, max(peak, before) / 1024


def line(name: str, value: str, target: str = "") -> None:
    print(f"  {name:<52} {value:>14}   {target}")


def bench_rules(work: Path, quick: bool) -> None:
    services = 1000 if quick else 10000
    print(f"rules: {services} services x 10 endpoints (whole process, start-up included)")
    cli = [PYTHON, "-m", "kubeproxy_sim", "rules", "--hostname-override", "node-0", "--cluster-cidr", "10.0.0.0/8"]
    json_file = gen_cluster(work, services, 10, "json")
    yaml_file = gen_cluster(work, services, 10, "yaml")
    out = work / "rules.txt"
    wall, peak = run_process([*cli, "-f", str(json_file)], out)
    line("JSON List -> rules, wall", f"{wall:.2f} s", "target <= 1 s at 10,000 services")
    line("JSON List -> rules, peak RSS (max over runs so far)", f"{peak:.0f} MB", "target <= 300 MB")
    yaml_wall, _ = run_process([*cli, "-f", str(yaml_file)])
    import yaml

    loader = "libyaml CSafeLoader" if getattr(yaml, "__with_libyaml__", False) else "pure-Python loader"
    line(f"YAML -> rules, wall ({loader})", f"{yaml_wall:.2f} s", f"{yaml_wall / wall:.1f}x the JSON run")
    lines = sum(1 for _ in out.open())
    line("restore input lines", f"{lines}")
    restore = iptables_restore_seconds(out)
    if restore is not None:
        line("iptables-restore of the same text (scratch netns)", f"{restore:.2f} s",
             f"ours is {wall / restore:.2f}x iptables-restore")


def iptables_restore_seconds(rules: Path) -> float | None:
    """Load the text into a scratch network namespace (root only); the root namespace is never touched."""
    if os.geteuid() != 0 or not shutil.which("iptables-restore"):
        line("iptables-restore comparison", "skipped", "(needs root and iptables)")
        return None
    from pyroute2 import netns

    name = f"kpsim-bench-{os.getpid()}"
    netns.create(name)
    try:
        start = time.perf_counter()
        code = ("import sys; from pyroute2 import netns; netns.setns(sys.argv[1]); import subprocess; "
                "subprocess.run(['iptables-restore', '--noflush'], stdin=open(sys.argv[2]), check=True)")
        subprocess.run([PYTHON, "-c", code, name, str(rules)], check=True)
        return time.perf_counter() - start
    finally:
        netns.remove(name)


def bench_parse(work: Path, quick: bool) -> None:
    from kubeproxy_sim.netfilter.codec import parse_ruleset

    services = 1000 if quick else 10000
    rules = work / f"rules-{services}.txt"
    cli = [PYTHON, "-m", "kubeproxy_sim", "rules", "--hostname-override", "node-0", "--cluster-cidr", "10.0.0.0/8",
           "-f", str(gen_cluster(work, services, 10, "json"))]
    if not rules.exists():
        run_process(cli, rules)
    text = rules.read_text()
    print(f"parse: a {services}-service dump ({text.count(chr(10))} lines)")
    seconds = best_of(3, lambda: parse_ruleset(text))
    line("parse_ruleset, best of 3", f"{seconds:.2f} s", "target <= 1 s at 10,000 services")


def best_of(n: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


SECTIONS: dict[str, Callable[[Path, bool], None]] = {"rules": bench_rules, "parse": bench_parse}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sections", nargs="*", choices=[*SECTIONS, []], help="default: all")
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--keep", metavar="DIR", help="keep generated clusters in DIR")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="kpsim-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for name in args.sections or SECTIONS:
            SECTIONS[name](work, args.quick)
            print()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
