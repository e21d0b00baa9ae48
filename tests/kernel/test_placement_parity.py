"""The inputs of :mod:`tests.netfilter.restore_cases_placement` and :mod:`tests.netfilter.restore_cases_families`
fed to this machine's iptables-legacy-restore and iptables-nft-restore, as ``test_restore_parity`` feeds
restore_cases' (each in a network namespace of its own that lives for that one command, ``unshare --net``)."""

from __future__ import annotations

import pytest

from tests.kernel.test_restore_parity import check_on_this_machine
from tests.netfilter.restore_cases import Case
from tests.netfilter.restore_cases_families import FAMILY_CASES
from tests.netfilter.restore_cases_placement import PLACEMENT_CASES

pytestmark = pytest.mark.kernel


@pytest.mark.parametrize("case", [*PLACEMENT_CASES, *FAMILY_CASES], ids=lambda c: c.name)
def test_the_parser_places_as_this_machine_s_iptables_restore(kernel: None, case: Case) -> None:
    check_on_this_machine(case)
