"""The inputs of :mod:`tests.netfilter.restore_cases` fed to this machine's iptables-legacy-restore and
iptables-nft-restore (ip6tables- for an IPv6 case; with ``--counters``, as the parser keeps counters), each in a
network namespace of its own that lives for that one command (``unshare --net``): the parser accepts what legacy
accepts, refuses at the line legacy names, and what it reads is what iptables-save prints back."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from kubeproxy_sim.errors import RulesSyntaxError
from tests.netfilter.restore_cases import ALL_CASES, Case
from tests.netfilter.test_codec_restore_parity import saved_lines

pytestmark = pytest.mark.kernel


def _restore(variant: str, text: str, ipv6: bool) -> tuple[int | None, list[str]]:
    """(the line iptables-VARIANT-restore (``ipv6``: ip6tables-) refused, None when it took the text; what
    iptables-save -c prints)."""
    tool = f"ip{'6' if ipv6 else ''}tables-{variant}"
    if shutil.which(f"{tool}-restore") is None:
        pytest.skip(f"{tool}-restore not found")
    done = subprocess.run(["unshare", "--net", "sh", "-c", f"{tool}-restore --counters && {tool}-save -c"],
                          input=text, capture_output=True, text=True, timeout=60)
    if done.returncode == 0:
        return None, [line for line in done.stdout.splitlines() if line[:1] not in ("#", "*") and line != "COMMIT"]
    found = re.search(r"line:? (\d+)", done.stderr)
    assert found is not None, done.stderr
    return int(found.group(1)), []


def _ours(text: str, ipv6: bool) -> tuple[int | None, list[str]]:
    try:
        lines = saved_lines(text, ipv6)
    except RulesSyntaxError as err:
        return err.line, []
    return None, [line for line in lines if line[:1] != "*" and line not in ("COMMIT", "")]


def check_on_this_machine(case: Case) -> None:
    """The parser refuses ``case`` at its line and saves back what legacy saves; legacy and nft still decide as
    observed."""
    legacy_line, legacy_saved = _restore("legacy", case.text, case.ipv6)
    ours_line, ours_saved = _ours(case.text, case.ipv6)
    assert (ours_line, ours_saved) == (case.line, legacy_saved)
    # (what was observed still holds; at_commit: legacy names the first COMMIT's line)
    assert legacy_line == (case.text.split("\n").index("COMMIT") + 1 if case.at_commit else case.line)
    nft_line, _ = _restore("nft", case.text, case.ipv6)
    assert (nft_line is None) == ((case.line is None) != case.nft_differs)


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_the_parser_agrees_with_this_machine_s_iptables_restore(kernel: None, case: Case) -> None:
    check_on_this_machine(case)
