"""send --hosts: every bad line of the hosts file is said in one run, each by its line (QA-errors: the first
alone was, so a file with several was fixed one line per run)."""

from __future__ import annotations

import pytest

from kubeproxy_sim.errors import InputError
from kubeproxy_sim.simulator.dns import parse_hosts


def test_every_bad_line_is_said_at_once() -> None:
    text = "999.1.1.1 host\n5.6.7.8 good\n# a comment\n1.2.3.4\nfoo bar\n" + "x" * 300 + " y\n"
    with pytest.raises(InputError) as caught:
        parse_hosts(text, "hosts")
    assert [str(d) for d in caught.value.diagnostics] == [
        "hosts:1: '999.1.1.1' is not an IP address; expected ADDRESS NAME [ALIAS...]",
        "hosts:4: no name after the address; expected ADDRESS NAME [ALIAS...]",
        "hosts:5: 'foo' is not an IP address; expected ADDRESS NAME [ALIAS...]",
        f"hosts:6: '{'x' * 200}'... (300 characters) is not an IP address; expected ADDRESS NAME [ALIAS...]"]
