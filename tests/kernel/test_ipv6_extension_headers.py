"""IPv6 extension-header matches in the kernel: ``netns verify`` agrees with the tracer's known answers.

One ip6tables dump holds every case of ``tests/netfilter/test_ipv6_extension_headers.py``, each DROPping its own
port to the node; the kernel's packets carry no extension header, as the tracer's, so the predicted DROPs time out
and the rest are refused (nothing listens).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kubeproxy_sim.kernel.verify import verify
from tests.netfilter.test_ipv6_extension_headers import CASES, NODE_IP

pytestmark = pytest.mark.kernel
FIRST_PORT = 2000


def test_extension_header_matches_agree_with_the_kernel(kernel: None, run_tag: str, state_dir: Path,
                                                        tmp_path: Path) -> None:
    rules = "".join(f"-A INPUT -d {NODE_IP}/128 -p tcp -m tcp --dport {FIRST_PORT + i} {match} -j DROP\n"
                    for i, (match, _) in enumerate(CASES))
    dump = tmp_path / "ext6.rules"
    dump.write_text(f"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n{rules}COMMIT\n")
    flows = tmp_path / "flows.yaml"
    flows.write_text(yaml.safe_dump({"flows": [
        {"from": "external", "to": f"[{NODE_IP}]:{FIRST_PORT + i}", "proto": "tcp", "count": 2}
        for i in range(len(CASES))]}))
    name = f"{run_tag}-ext6"
    report = verify(str(dump), state_dir, name=name, node_ips=[NODE_IP], flows_file=str(flows), count=2)
    assert len(report.results) == len(CASES)
    bad = [r.as_json() for r in report.results if not r.ok]
    assert not bad, json.dumps(bad, indent=1)
    sees = {r.flow.label: [row.expect for row in r.rows] for r in report.results}
    for i, (match, matches) in enumerate(CASES):
        assert sees[f"[{NODE_IP}]:{FIRST_PORT + i}/tcp"] == ["timeout" if matches else "refused"], match
