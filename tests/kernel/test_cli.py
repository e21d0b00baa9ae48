"""``netns up / send / exec / down / gc`` through the command line parser."""

from __future__ import annotations

import argparse
import json

import pytest
import yaml
from pyroute2 import netns

from kubeproxy_sim.cli import netns_cmd
from kubeproxy_sim.errors import EnvironmentMissing, InputError, KubeproxySimError, UsageError

pytestmark = pytest.mark.kernel


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    netns_cmd.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_up_send_exec_down(kernel: None, run_tag: str, tmp_path, monkeypatch, capfd) -> None:
    monkeypatch.setenv("KPSIM_STATE_DIR", str(tmp_path))
    name = f"{run_tag}-cli"
    assert run(["netns", "up", "--scenario", "bootcamp", "--name", name, "--client", "10.244.0.9"]) == 0
    try:
        assert f"cluster {name} is up: 2 nodes" in capfd.readouterr().out
        assert run(["netns", "send", name, "--from", "pod/client/10-244-0-9", "--to",
                    "kubernetes-bootcamp.default:8080", "--count", "40", "-o", "json"]) == 0
        result = json.loads(capfd.readouterr().out)
        assert set(result) == {"from", "to", "proto", "connections", "seed", "delivered", "failed", "sticky",
                               "answered", "ping"}
        assert result["sticky"] is None  # the kernel alone predicts nothing
        assert sum(d["count"] for d in result["delivered"]) == 40 and result["failed"] == []
        assert {d["node"] for d in result["delivered"]} == {"node1", "node2"}
        assert all(set(d) == {"pod", "ip", "node", "count", "share", "expected", "sources_seen", "pod_object", "why"}
                   for d in result["delivered"])
        assert all(d["pod_object"] is True and d["why"] == [] for d in result["delivered"])  # bootcamp's are Pods
        assert all(d["sources_seen"] == ["10.244.0.9"] for d in result["delivered"])
        assert run(["netns", "send", name, "--from", "external", "--to", "10.244.9.9:80", "--count", "3",
                    "--timeout", "0.3", "-o", "json"]) == 0
        failed = json.loads(capfd.readouterr().out)["failed"]
        assert [(f["reason"], f["count"]) for f in failed] == [("NO_ROUTE", 3)]
        assert run(["netns", "send", name, "--from", "external", "--to", "10.244.9.9:80", "--count", "3",
                    "--timeout", "0.3", "-o", "yaml"]) == 0
        as_yaml = yaml.safe_load(capfd.readouterr().out)  # the same content as json
        assert set(as_yaml) == set(result) and [(f["reason"], f["count"]) for f in as_yaml["failed"]] == \
            [("NO_ROUTE", 3)]
        # left up by `netns up`, owned by its keeper: gc (of any state directory) leaves it alone
        assert run(["netns", "gc", "--only", name]) == 0  # never other people's clusters
        out = capfd.readouterr().out
        assert f"kpsim-{name}.net" in netns.listnetns() and out == "removed 0 leftover namespaces\n"
        assert run(["netns", "send", name, "--from", "node/node1", "--to", "kubernetes-bootcamp.default:8080",
                    "--count", "4"]) == 0
        text = capfd.readouterr().out
        # the simulator's own renderer: the same head line and table columns as `send`
        assert text.startswith("4 tcp connections from node/node1 to kubernetes-bootcamp.default:8080\n")
        # each row names the source the pod saw: node1's own address across nodes, its bridge address on node1
        # (which pods the 4 connections reach is random, so either may be missing)
        assert ("192.168.49.2" in text or "10.244.0.1" in text) and "POD" in text
        assert run(["netns", "exec", name, "node/node1", "--", "iptables-save", "-t", "nat"]) == 0
        assert "KUBE-SERVICES" in capfd.readouterr().out
        with pytest.raises(InputError, match="SCTP"):
            run(["netns", "send", name, "--from", "external", "--to", "10.96.142.87:8080", "--proto", "sctp"])
        with pytest.raises(InputError, match="no such node"):
            run(["netns", "send", name, "--from", "node/nope", "--to", "10.96.142.87:8080"])
    finally:
        assert run(["netns", "down", name]) == 0
    assert not [n for n in netns.listnetns() if n.startswith(f"kpsim-{name}.")]
    with pytest.raises(InputError, match="no running cluster"):
        run(["netns", "send", name, "--from", "external", "--to", "1.2.3.4:80"])
    capfd.readouterr()
    assert run(["netns", "gc", "--only", name]) == 0  # never other people's clusters
    assert capfd.readouterr().out == "removed 0 leftover namespaces\n"


def test_send_says_which_rows_have_a_pod_object_and_marks_the_others_as_send(
        kernel: None, run_tag: str, tmp_path, monkeypatch, capfd) -> None:
    """web-1 is a Pod; db's endpoints are an address-only one (a made-up name) and one whose targetRef names
    db-0, neither with a Pod object: the JSON says pod_object as `send` does, the text marks them as it does."""
    from tests.cli.test_send_why import WEB
    from tests.cli.test_trace_why import NODES, endpoint

    monkeypatch.setenv("KPSIM_STATE_DIR", str(tmp_path))
    (tmp_path / "marks.yaml").write_text(NODES + WEB % endpoint("10.244.2.10", "node2"))
    name = f"{run_tag}-marks"
    assert run(["netns", "up", "-f", str(tmp_path / "marks.yaml"), "--cluster-cidr", "10.244.0.0/16",
                "--name", name]) == 0
    try:
        capfd.readouterr()
        send = ["netns", "send", name, "--from", "pod/default/client", "--count", "30", "--seed", "1"]
        assert run([*send, "--to", "10.96.0.10:80", "-o", "json"]) == 0
        web = json.loads(capfd.readouterr().out)["delivered"]
        assert [(d["pod"], d["count"], d["pod_object"], d["why"]) for d in web] == [("default/web-1", 30, True, [])]
        assert run([*send, "--to", "10.96.0.20:5432", "-o", "json"]) == 0
        db = json.loads(capfd.readouterr().out)["delivered"]
        assert {d["pod"]: d["pod_object"] for d in db} == {"default/ep-10-244-1-10": False, "default/db-0": False}
        assert run([*send, "--to", "10.96.0.20:5432"]) == 0
        text = capfd.readouterr().out
        assert sorted(line.split()[0] for line in text.splitlines()[3:5]) == ["default/db-0*",
                                                                               "default/ep-10-244-1-10*"]
        assert text.splitlines()[-1].startswith("* no Pod object was read")
    finally:
        assert run(["netns", "down", name]) == 0
    assert not [n for n in netns.listnetns() if n.startswith(f"kpsim-{name}.")]


HOST_NETWORK_ELSEWHERE = """
apiVersion: v1
kind: Node
metadata: {name: n0}
spec: {podCIDR: 10.244.0.0/24, podCIDRs: [10.244.0.0/24]}
status: {addresses: [{type: InternalIP, address: 192.168.0.10}]}
---
apiVersion: v1
kind: Pod
metadata: {name: hn, namespace: default}
spec: {nodeName: n0, hostNetwork: true, containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]}
status: {phase: Running, podIP: 10.99.0.5, podIPs: [{ip: 10.99.0.5}]}
"""


def test_up_says_the_objects_warnings_on_stderr_apart_from_the_stage_listing(
        kernel: None, run_tag: str, tmp_path, monkeypatch, capfd) -> None:
    """A host-network pod's foreign podIP is the objects' warning: said on stderr as `send` says it, not a
    "note: ...: warning: ..." line inside the cluster listing on stdout, nor a note saved with the stage."""
    monkeypatch.setenv("KPSIM_STATE_DIR", str(tmp_path))
    (tmp_path / "hn.yaml").write_text(HOST_NETWORK_ELSEWHERE)
    name = f"{run_tag}-hnw"
    assert run(["netns", "up", "-f", str(tmp_path / "hn.yaml"), "--name", name]) == 0
    try:
        out, err = capfd.readouterr()
        assert "warning" not in out and f"cluster {name} is up: 1 node, 1 workload, 1 external client, " in out
        [line] = [line for line in err.splitlines() if "status.podIP" in line]
        assert line.startswith("kubeproxy-sim: ") and "Pod default/hn: status.podIP: warning: '10.99.0.5' is no " \
            "node's address" in line
        state = json.loads((tmp_path / f"{name}.json").read_text())
        assert not [n for n in state["notes"] if "warning" in n]
    finally:
        assert run(["netns", "down", name]) == 0


def test_verify_says_the_objects_warnings_when_planned_even_if_the_run_fails_after(
        kernel: None, run_tag: str, tmp_path, monkeypatch, capfd) -> None:
    """As netns up: the host-network pod's warning is on stderr before the build, so a run that fails after the
    planning (here the build itself) has still said it."""
    from kubeproxy_sim.kernel import build

    def broken(*_args: object, **_kwargs: object) -> None:
        raise EnvironmentMissing("the build failed")

    monkeypatch.setenv("KPSIM_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(build, "up", broken)
    (tmp_path / "hn.yaml").write_text(HOST_NETWORK_ELSEWHERE)
    with pytest.raises(EnvironmentMissing, match="the build failed"):
        run(["netns", "verify", "-f", str(tmp_path / "hn.yaml"), "--name", f"{run_tag}-vw"])
    [line] = [line for line in capfd.readouterr().err.splitlines() if "status.podIP" in line]
    assert "Pod default/hn: status.podIP: warning: '10.99.0.5' is no node's address" in line


def test_netns_send_help_names_its_destinations_and_says_it_sends_the_dns_query(capsys) -> None:
    with pytest.raises(SystemExit):
        run(["netns", "send", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "a bare NAME by the source pod's search list (its dnsPolicy and dnsConfig)" in text and "FQDN" in text
    assert "with the source pod's resolver (its dnsPolicy and dnsConfig" in text
    assert "sends a real DNS query over UDP to its first nameserver" in text and "'DNS query to'" in text


def test_without_root_the_user_is_told(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("KPSIM_STATE_DIR", str(tmp_path))
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(EnvironmentMissing, match="root privileges"):
        run(["netns", "up", "--scenario", "bootcamp", "--name", "x"])


def test_up_send_and_exec_say_what_is_wrong(kernel: None, run_tag: str, tmp_path, monkeypatch, capfd) -> None:
    monkeypatch.setenv("KPSIM_STATE_DIR", str(tmp_path))
    name = f"{run_tag}-cl6"
    for client, why in [("notanip", "is not an IP address"), ("203.0.113.10", "an IPv4 address, but the cluster "
                        "is built for IPv6"), ("fd00:198:18::1", "the stage's own router"),
                        ("fd00:10:96::10", "an address of Service default/web"),
                        ("2001:db8:0:1::10", "is node/node1's address")]:
        with pytest.raises(InputError, match=why) as caught:
            run(["netns", "up", "--scenario", "ipv6", "--name", name, "--client", client])
        assert isinstance(caught.value, UsageError) is (client == "notanip")  # no address: the wrong shape, 2
        assert not [n for n in netns.listnetns() if n.startswith(f"kpsim-{name}.")]
    assert run(["netns", "up", "--scenario", "ipv6", "--name", name]) == 0
    try:
        capfd.readouterr()
        assert run(["netns", "send", name, "--from", "external", "--to", "[2001:db8:ffff::80]:80", "--count", "2"]) == 0
        assert "2001:db8:ffff::80 is a LoadBalancer or external IP: the stage has no balancer" in capfd.readouterr().err
        with pytest.raises(InputError, match=r"--timeout: 0\.0 seconds: expected more than 0"):  # nan: parse_float, 2
            run(["netns", "send", name, "--from", "external", "--to", "[2001:db8:ffff::80]:80", "--timeout", "0"])
        with pytest.raises(InputError, match="TARGET: 'pod/default/nope'") as caught:
            run(["netns", "exec", name, "pod/default/nope", "--", "true"])
        assert not isinstance(caught.value, UsageError)  # of the form, naming nothing: 1
        # values not of the forms exit 2, as send's and trace's do
        with pytest.raises(UsageError, match="TARGET: 'bogus': expected pod/NS/NAME"):
            run(["netns", "exec", name, "bogus", "--", "true"])
        with pytest.raises(UsageError, match="--to: 'bogus': expected IP:PORT"):
            run(["netns", "send", name, "--from", "external", "--to", "bogus"])
        with pytest.raises(UsageError, match="--from: 'bogus': expected pod/NS/NAME"):
            run(["netns", "send", name, "--from", "bogus", "--to", "[2001:db8:ffff::80]:80"])
        assert run(["netns", "exec", name, "node/node1", "--", "no-such-command-here"]) == 127
        assert run(["netns", "exec", name, "node/node1", "--", "/etc/passwd"]) == 126
        assert run(["netns", "exec", name, "node/node1", "--", "sh", "-c", "kill -9 $$"]) == 137
        netns.remove(f"kpsim-{name}.c0")  # someone removes a namespace behind our back
        with pytest.raises(InputError, match=f"cluster '{name}' is broken: kpsim-{name}.c0 is gone"):
            run(["netns", "send", name, "--from", "external", "--to", "[2001:db8:ffff::80]:80"])
    finally:
        assert run(["netns", "down", name]) == 0
    assert not [n for n in netns.listnetns() if n.startswith(f"kpsim-{name}.")]


def test_down_refuses_a_cluster_its_builder_is_still_building(kernel: None, run_tag: str, tmp_path,
                                                               monkeypatch) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    monkeypatch.setenv("KPSIM_STATE_DIR", str(tmp_path))
    name = f"{run_tag}-bld"
    env = {**os.environ, "KPSIM_STATE_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "kubeproxy_sim", "netns", "up", "--scenario", "bootcamp",
                             "--name", name], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / f"{name}.json").exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGSTOP)  # held mid-build while `down` runs: no race with the build finishing
        said = []  # QA-kernel 6: send and a second up name the builder too, not "run `netns down` first"
        try:
            for argv in (["netns", "send", name, "--from", "external", "--to", "10.96.0.1:80"],
                         ["netns", "up", "--scenario", "bootcamp", "--name", name]):
                try:
                    run(argv)
                    said.append("ran")
                except KubeproxySimError as exc:
                    said.append(str(exc))
            run(["netns", "down", name])
            refused = False
        except InputError as exc:
            refused = "is being built or verified by process" in str(exc)
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        assert proc.wait(timeout=60) == 0 or not refused
        assert all(f"is being built or verified by process {proc.pid}" in text for text in said), said
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        run(["netns", "down", name])
    assert refused, "down took a cluster its builder was still building"
    assert not [n for n in netns.listnetns() if n.startswith(f"kpsim-{name}.")]


def test_kube_proxy_s_own_ports_answer_as_the_node(kernel: None, run_tag: str, tmp_path, monkeypatch,
                                                   capfd) -> None:
    """healthz (10256) and a health-check node port answer on every node as in the simulator's `send`."""
    monkeypatch.setenv("KPSIM_STATE_DIR", str(tmp_path))
    name = f"{run_tag}-hc"
    assert run(["netns", "up", "--scenario", "upstream-health-check-node-port", "--name", name]) == 0
    try:
        capfd.readouterr()
        for port in ("10256", "30000"):
            assert run(["netns", "send", name, "--from", "external", "--to", f"node/test-node:{port}", "--count",
                        "3", "-o", "json"]) == 0
            result = json.loads(capfd.readouterr().out)
            assert [(d["pod"], d["count"]) for d in result["delivered"]] == [("node/test-node", 3)], result
    finally:
        assert run(["netns", "down", name]) == 0


def test_root_without_capabilities_exits_3_in_one_line(kernel: None, run_tag: str, tmp_path) -> None:
    """The real thing: setpriv drops every capability of this root."""
    import os
    import shutil
    import subprocess
    import sys

    if not shutil.which("setpriv"):
        if os.environ.get("CI", "").lower() == "true":  # vagrant/provision.sh installs it: a kernel test must run
            pytest.fail("no setpriv on this machine (CI=true: kernel tests must run here)", pytrace=False)
        pytest.skip("no setpriv on this machine")
    done = subprocess.run(["setpriv", "--inh-caps=-all", "--bounding-set=-all", sys.executable, "-m",
                           "kubeproxy_sim.cli.main", "netns", "up", "--scenario", "bootcamp", "--name",
                           f"{run_tag}caps"], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "KPSIM_STATE_DIR": str(tmp_path)})
    assert done.returncode == 3 and done.stderr.count("\n") == 1, done.stderr
    assert "CAP_SYS_ADMIN" in done.stderr and "CAP_NET_ADMIN" in done.stderr


def test_a_client_in_another_text_sends_by_either_text(kernel: None, run_tag: str, tmp_path, monkeypatch,
                                                       capfd) -> None:
    """--client ::1.2.3.4 was recorded as netaddr wrote it, --from external:::1.2.3.4 looked up as Go writes it
    (::102:304): 'no external client ::102:304'. Both are canonical_address's text now."""
    monkeypatch.setenv("KPSIM_STATE_DIR", str(tmp_path))
    name = f"{run_tag}-c6t"
    assert run(["netns", "up", "--scenario", "ipv6", "--name", name, "--client", "::1.2.3.4"]) == 0
    try:
        assert "external:::102:304" in capfd.readouterr().out
        for source in ("external:::1.2.3.4", "::102:304"):
            assert run(["netns", "send", name, "--from", source, "--to", "[2001:db8:0:1::10]:30080", "--count", "5",
                        "--timeout", "1", "-o", "json"]) == 0
            result = json.loads(capfd.readouterr().out)
            assert sum(d["count"] for d in result["delivered"]) == 5 and result["failed"] == []
    finally:
        assert run(["netns", "down", name]) == 0
    assert not [n for n in netns.listnetns() if n.startswith(f"kpsim-{name}.")]
