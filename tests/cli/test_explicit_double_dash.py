"""``--flag=--`` gives the flag the value "--", as pflag (kube-proxy's flags) reads it, and is checked as any other
value: Python 3.11's argparse dropped the "--" of an explicit value as if it ended the options, and gave the flag an
empty list, which the commands then failed on (internal error, exit 4: TypeError or AttributeError on a list), or
gave a flag with an optional value its bare value (``--masquerade-all=--`` was true). Found by fuzzing (b9)."""

from __future__ import annotations

import pytest

from kubeproxy_sim.cli import main as cli
from kubeproxy_sim.cli.options import REPO_RULESETS
from kubeproxy_sim.cli.parsers import Parser
from tests.cli._main_run import status_and_stderr as _run

TRACE = ["trace", "--rules", str(REPO_RULESETS / "bootcamp" / "full.golden"), "--src", "10.244.0.9", "--dst",
         "10.96.142.87", "--dport", "8080"]


@pytest.mark.parametrize("argv", [
    ["dist", "--scenario", "bootcamp", "--client-interval=--"],
    ["diff", "--scenario", "bootcamp", "--against-scenario", "dual-stack", "--iptables-masquerade-bit=--"],
    ["graph", "--scenario", "bootcamp", "-o=--"],
    [*TRACE, "--node-ip=--"],
    ["rules", "--scenario", "bootcamp", "--masquerade-all=--"],
    ["rules", "--scenario", "bootcamp", "--cluster-cidr=--"],
    ["rules", "--scenario", "bootcamp", "-o--"],
])
def test_a_double_dash_value_is_a_value_the_flag_refuses(argv: list[str]) -> None:
    status, err = _run(argv)
    assert "internal error" not in err, err
    assert status in (cli.EXIT_INVALID_INPUT, cli.EXIT_USAGE), err
    assert "'--'" in err or '"--"' in err, err  # (the value is named as given)


def test_the_parser_keeps_an_explicit_double_dash_and_still_ends_options_with_a_bare_one() -> None:
    parser = Parser(prog="p")
    parser.add_argument("--one")
    parser.add_argument("--maybe", nargs="?", const="bare")
    parser.add_argument("--many", action="append")
    parser.add_argument("-o")
    parser.add_argument("rest", nargs="*")
    args = parser.parse_args(["--one=--", "--maybe=--", "--many=--", "-o--", "--", "--x"])
    assert (args.one, args.maybe, args.many, args.o, args.rest) == ("--", "--", ["--"], "--", ["--x"])
    assert parser.parse_args(["--maybe"]).maybe == "bare"


def test_an_interface_named_by_a_double_dash_is_taken() -> None:
    """"--" is a name the kernel gives an interface (dev_valid_name refuses only "", ".", "..", a slash, a colon, a
    blank and 16 bytes or more): the trace runs with it (it raised TypeError: unhashable type: 'list')."""
    assert _run([*TRACE, "--out-iface=--"]) == (cli.EXIT_OK, "")
