"""The inputs of :mod:`tests.netfilter.option_cases` fed to this machine's iptables-legacy-restore and
iptables-nft-restore, as :mod:`tests.kernel.test_restore_parity` feeds restore_cases' (one ``unshare --net``
namespace per command)."""

from __future__ import annotations

import pytest

from tests.kernel.test_restore_parity import _ours, _restore
from tests.netfilter.option_cases import ALL_CASES
from tests.netfilter.restore_cases import Case

pytestmark = pytest.mark.kernel


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_the_parser_agrees_with_this_machine_s_iptables_restore(kernel: None, case: Case) -> None:
    legacy_line, legacy_saved = _restore("legacy", case.text, case.ipv6)
    assert _ours(case.text, case.ipv6) == (case.line, legacy_saved)
    assert legacy_line == case.line
    nft_line, nft_saved = _restore("nft", case.text, case.ipv6)
    assert (nft_line, nft_saved) == (legacy_line, legacy_saved)
