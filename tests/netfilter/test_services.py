"""tools/gen_services.py and the table it writes: the committed module is what the committed snapshot of Debian
netbase 6.4's /etc/services gives, and (on a machine with that very file) each name maps where the C library's
getservbyname maps it."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kubeproxy_sim.netfilter.services import SERVICES
from tests.tool_script import TOOLS, load_tool

ETC_SERVICES = Path("/etc/services")
SNAPSHOT = TOOLS / "data" / "services-netbase-6.4"


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


same_services = pytest.mark.skipif(_digest(ETC_SERVICES) != _digest(SNAPSHOT),
                                   reason="this machine's /etc/services is not the snapshot's")


def test_the_committed_table_is_what_the_tool_makes_of_the_snapshot() -> None:
    done = subprocess.run([sys.executable, str(TOOLS / "gen_services.py"), "--check"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_table_names_the_file_it_came_from() -> None:
    tool = load_tool("gen_services")
    assert tool.source_label(SNAPSHOT) == "tools/data/services-netbase-6.4 (Debian netbase 6.4's /etc/services)"
    assert tool.source_label(Path("/srv/services")) == "/srv/services"


@same_services
def test_every_name_is_where_getservbyname_finds_it() -> None:
    wrong = [(proto, name) for proto, names in SERVICES.items() for name, port in names.items()
             if socket.getservbyname(name, proto) != port]
    assert wrong == []


def test_the_first_entry_of_a_name_wins_and_aliases_count() -> None:
    text = "# comment\nhttp 80/tcp www # web\nhttp 8080/tcp\nweb 81/udp http\nbad x/tcp\nodd 5/ddp\n"
    assert load_tool("gen_services").read_services(text) == {
        "tcp": {"http": 80, "www": 80}, "udp": {"web": 81, "http": 81}, "sctp": {}}
