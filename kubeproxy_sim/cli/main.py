"""The ``kubeproxy-sim`` command: argument parsing and dispatch.

Each command lives in its own module with ``register(subparsers)``, which adds
its parser and sets ``func`` to a ``run(args) -> int``. Command modules import
their heavy dependencies inside ``run`` so that ``--help`` and light commands
start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from kubeproxy_sim import __version__
from kubeproxy_sim.errors import EnvironmentMissing, InputError, KubeproxySimError

EXIT_OK = 0
EXIT_INVALID_INPUT = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3

COMMAND_MODULES = (
    "kubeproxy_sim.cli.rules_cmd",
    "kubeproxy_sim.cli.trace_cmd",
    "kubeproxy_sim.cli.demo_cmd",
    "kubeproxy_sim.cli.netns_cmd",
    "kubeproxy_sim.cli.graph_cmd",
    "kubeproxy_sim.cli.scenario_cmd",
    "kubeproxy_sim.cli.replay_cmd",
    "kubeproxy_sim.cli.send_cmd",
    "kubeproxy_sim.cli.healthz_cmd",
    "kubeproxy_sim.cli.dist_cmd",
    "kubeproxy_sim.cli.diff_cmd",
    "kubeproxy_sim.cli.completion_cmd",
    "kubeproxy_sim.cli.watch_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubeproxy-sim",
        description="Where does a packet to this Service go, and why? kube-proxy's iptables data plane, "
        "emulated from the objects alone.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kubeproxy-sim {__version__}")
    from kubeproxy_sim.cli.output import add_color_flag

    add_color_flag(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command still being written is simply absent
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except EnvironmentMissing as exc:
        print(f"kubeproxy-sim: {exc}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except InputError as exc:
        for diagnostic in exc.diagnostics:
            print(f"kubeproxy-sim: {diagnostic}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    except KubeproxySimError as exc:
        print(f"kubeproxy-sim: {exc}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
