"""tools/gen_services.py and the table it writes: the committed module is what this machine's /etc/services gives,
and each name maps where the C library's getservbyname maps it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kubeproxy_sim.netfilter.services import SERVICES
from tests.tool_script import TOOLS, load_tool

ETC_SERVICES = Path("/etc/services")
needs_services = pytest.mark.skipif(not ETC_SERVICES.is_file(), reason="no /etc/services on this machine")


@needs_services
def test_the_committed_table_is_what_the_tool_makes_of_etc_services() -> None:
    done = subprocess.run([sys.executable, str(TOOLS / "gen_services.py"), "--check"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@needs_services
def test_every_name_is_where_getservbyname_finds_it() -> None:
    wrong = [(proto, name) for proto, names in SERVICES.items() for name, port in names.items()
             if socket.getservbyname(name, proto) != port]
    assert wrong == []


def test_the_first_entry_of_a_name_wins_and_aliases_count() -> None:
    text = "# comment\nhttp 80/tcp www # web\nhttp 8080/tcp\nweb 81/udp http\nbad x/tcp\nodd 5/ddp\n"
    assert load_tool("gen_services").read_services(text) == {
        "tcp": {"http": 80, "www": 80}, "udp": {"web": 81, "http": 81}, "sctp": {}}
