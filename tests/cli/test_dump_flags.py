"""Session 10 M-opts: what the command line gives with a dump (``--rules``) or as a flag's value: the picture of
a packet that hits no service quotes the dump's lines, node flags a dump makes idle are named, ``--rules -``
reads standard input, and a value of the wrong shape is a usage error (2)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main
from tests.cli._usage_pointer import last_words

# counters and no `-m tcp`: the line reads otherwise than iptables-save would print the rule
NO_SERVICE = "*filter\n:FORWARD DROP [0:0]\n[3:180] -A FORWARD -p tcp --dport 80 -j ACCEPT\nCOMMIT\n"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_trace_graph_of_a_packet_that_hits_no_service_quotes_the_dump_s_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "plain.rules"
    dump.write_text(NO_SERVICE)
    picture = tmp_path / "t.dot"
    code, _, err = run(["trace", "--rules", str(dump), "--src", "10.0.0.1", "--dst", "10.0.0.2", "--dport", "80",
                        "--graph", str(picture)], capsys)
    assert code == 0, err
    dot = picture.read_text()
    assert "it hits no service" in dot
    assert re.search(r'tooltip="filter line 3: \[3:180\] -A FORWARD -p tcp --dport 80 -j ACCEPT"', dot), dot


def _kind_dump() -> Path:
    from tests.realworld import DUMPS

    return DUMPS / "06-kind-1.23-traefik-2022.rules"


IDLE = ("kubeproxy-sim: --rules: warning: --hostname-override, --ip-family, --cluster-cidr and --masquerade-all "
        "have no effect with a dump: kube-proxy's settings shape the rules it makes, and the dump's rules are made "
        "already (its family is its own: IPv4)")
IDLE_FLAGS = ["--masquerade-all", "--cluster-cidr", "10.0.0.0/8", "--hostname-override", "foo", "--ip-family", "ipv6"]


def test_trace_with_a_dump_names_the_node_flags_it_ignores_in_one_warning(
        capsys: pytest.CaptureFixture[str]) -> None:
    base = ["trace", "--rules", str(_kind_dump()), "--src", "10.244.0.9", "--dst", "10.96.0.10", "--dport", "53",
            "--proto", "udp", "-o", "json"]
    code, _, err = run([*base, *IDLE_FLAGS], capsys)
    assert code == 0 and err.count("warning") == 1 and IDLE in err.splitlines()
    code, _, err = run([*base, "--node-ip", "172.18.0.5"], capsys)  # --node-ip is read: no warning
    assert code == 0 and "no effect" not in err
    code, _, err = run(base, capsys)
    assert code == 0 and "no effect" not in err


def test_graph_with_a_dump_names_the_node_flags_it_ignores_node_ip_too(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["graph", "--rules", str(_kind_dump()), "--node-ip", "1.2.3.4", "--format", "dot"], capsys)
    assert code == 0
    assert err.splitlines() == ["kubeproxy-sim: --rules: warning: --node-ip has no effect with a dump: kube-proxy's "
                                "settings shape the rules it makes, and the dump's rules are made already"]
    code, _, err = run(["graph", "--rules", str(_kind_dump()), *IDLE_FLAGS, "--format", "dot"], capsys)
    assert code == 0 and IDLE in err.splitlines()


def test_netns_verify_with_a_dump_names_the_node_flags_it_ignores(monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from kubeproxy_sim.errors import EnvironmentMissing
    from kubeproxy_sim.kernel import env

    def missing() -> None:  # stop before anything is staged: the warning comes first
        raise EnvironmentMissing("not here")

    monkeypatch.setattr(env, "require", missing)
    code, _, err = run(["netns", "verify", "--rules", str(_kind_dump()), "--node-ip", "172.18.0.5",
                        "--masquerade-all", "--config", "kp.yaml"], capsys)
    assert code == 3
    assert ("kubeproxy-sim: --rules: warning: --config and --masquerade-all have no effect with a dump: "
            "kube-proxy's settings shape the rules it makes, and the dump's rules are made already") in err


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))


def test_trace_rules_dash_reads_standard_input_and_cites_its_lines_as_read(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    _stdin(monkeypatch, NO_SERVICE)
    code, out, err = run(["trace", "--rules", "-", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--dport", "80",
                          "-o", "json"], capsys)
    assert code == 0, err
    assert [(s["line"], s["rule"]) for s in json.loads(out)["outcomes"][0]["path"]] == [
        (3, "[3:180] -A FORWARD -p tcp --dport 80 -j ACCEPT")]  # the line as read, counters and all
    _stdin(monkeypatch, "*filter\nbogus\n")
    code, _, err = run(["trace", "--rules", "-", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--dport", "80"], capsys)
    assert code == 1 and err.startswith("kubeproxy-sim: <stdin>:2: ")


def test_graph_rules_dash_reads_standard_input(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _stdin(monkeypatch, NO_SERVICE)
    code, dot, err = run(["graph", "--rules", "-", "--format", "dot"], capsys)
    assert code == 0, err
    assert dot.startswith('digraph "<stdin>"') and "FORWARD" in dot


@pytest.mark.parametrize("argv", [
    ["graph", "--rules", "-", "--format", "dot"],
    ["trace", "--rules", "-", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--dport", "80", "--graph", "{out}"],
    ["trace", "--rules", "-", "--src", "fd00::1", "--dst", "fd00::2", "--dport", "80", "--graph", "{out}"],
])
def test_a_dump_on_standard_input_is_read_once_by_the_one_reader_and_its_lines_quoted_as_read(
        argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Standard input can be read once: each command reads its dump once, by the one reader (trace reads the
    text again in the packet's family, not the input), and its picture's tooltips quote the lines as read, as
    trace cites them; they quoted iptables-save's form (`-m tcp`, no counters)."""
    from kubeproxy_sim.netfilter import dumpfile

    reads: list[str] = []
    reader = dumpfile.read_dump_text

    def counted(path: str) -> str:
        reads.append(path)
        return reader(path)

    monkeypatch.setattr(dumpfile, "read_dump_text", counted)
    _stdin(monkeypatch, NO_SERVICE)
    picture = tmp_path / "t.dot"
    code, out, err = run([a.format(out=picture) for a in argv], capsys)
    assert code == 0, err
    assert reads == ["-"]
    dot = out if argv[0] == "graph" else picture.read_text()
    assert 'tooltip="filter line 3: [3:180] -A FORWARD -p tcp --dport 80 -j ACCEPT"' in dot, dot


def test_the_one_reader_reads_standard_input_and_names_a_file_it_cannot_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from kubeproxy_sim.errors import InputError
    from kubeproxy_sim.netfilter.codec import parse_ruleset_file
    from kubeproxy_sim.netfilter.dumpfile import read_dump_text

    _stdin(monkeypatch, NO_SERVICE)
    assert read_dump_text("-") == NO_SERVICE
    _stdin(monkeypatch, NO_SERVICE)
    assert parse_ruleset_file("-").table("filter") is not None
    _stdin(monkeypatch, "")  # another stream: read afresh
    assert read_dump_text("-") == ""
    with pytest.raises(InputError, match=r"^/nonexistent\.rules: --rules: cannot read it: No such file or directory; "
                       r"expected an iptables-save dump$"):
        read_dump_text("/nonexistent.rules")


@pytest.mark.parametrize(("argv", "status", "message"), [
    # the wrong shape: a usage error, 2 (README's exit status), the message unchanged
    (["trace", "--scenario", "bootcamp", "--src", "foo", "--dst", "10.96.142.87", "--dport", "80"], 2,
     "--src: 'foo' is not an IP address; expected an IPv4 or IPv6 address"),
    # text no host name has is a malformed address, with objects or a dump (a DNS-shaped name is looked up in
    # the objects, no such Service being 1 as for send and dist; a dump has no names to read)
    (["trace", "--scenario", "bootcamp", "--src", "1.2.3.4", "--dst", "300.1.1.1", "--dport", "80"], 2,
     "--dst: '300.1.1.1' is not an IP address; expected an IPv4 or IPv6 address"),
    (["trace", "--rules", str(Path(__file__).parents[2] / "rulesets/bootcamp/full.golden"), "--src", "1.2.3.4",
     "--dst", "nothost", "--dport", "80"], 2,
     "--dst: 'nothost' is not an IP address"),
    (["rules", "--scenario", "bootcamp", "--node-ip", "foo"], 2, "--node-ip: 'foo' is not an IP address"),
    (["rules", "--scenario", "bootcamp", "--cluster-cidr", "foo"], 2, "--cluster-cidr: 'foo' is not a CIDR"),
    (["rules", "--scenario", "bootcamp", "--nodeport-addresses", "foo"], 2,
     "--nodeport-addresses: 'foo' is not a CIDR"),
    (["rules", "--scenario", "bootcamp", "--nodeport-addresses", "10.0.0.0/8,"], 2, "has an empty entry"),
    (["rules", "--scenario", "bootcamp", "--cluster-cidr", ","], 2, "--cluster-cidr: ',' has an empty entry"),
    (["rules", "--scenario", "bootcamp", "--cluster-cidr", "10.0.0.0/8,"], 2, "has an empty entry"),
    (["send", "--scenario", "bootcamp", "--from", "bogus", "--to", "node/node1:31526"], 2,
     "--from: 'bogus': expected pod/NS/NAME, node/NAME, external, external:IP or an IP address"),
    (["send", "--scenario", "bootcamp", "--from", "external:zz", "--to", "node/node1:31526"], 2,
     "--from: 'external:zz': expected external:IP"),
    # a loopback address is every node's: refused alike by send and netns send (send took an outside host, netns
    # send the first node), before the objects are read or the cluster looked up
    (["send", "--scenario", "nosuch-scenario", "--from", "127.0.0.1", "--to", "node/node1:31526"], 2,
     "--from: '127.0.0.1': a loopback address is a node's own, and which node's is not said; expected node/NAME"),
    (["netns", "send", "nosuch", "--from", "[::1]", "--to", "10.0.0.1:80"], 2,
     "--from: '[::1]': a loopback address is a node's own, and which node's is not said; expected node/NAME"),
    # no outside machine has a loopback address (send took one for a host out there, netns send asked for a client
    # netns up --client refuses to make)
    (["send", "--scenario", "nosuch-scenario", "--from", "external:127.0.0.1", "--to", "node/node1:31526"], 2,
     "--from: 'external:127.0.0.1': a loopback address is no outside machine's; expected external:IP with a routable"),
    (["send", "--scenario", "bootcamp", "--from", "224.0.0.1", "--to", "node/node1:31526"], 2,
     "--from: '224.0.0.1': a multicast address is no pod's, node's or outside machine's; expected a routable"),
    (["netns", "send", "nosuch", "--from", "external:224.0.0.1", "--to", "10.0.0.1:80"], 2,
     "--from: 'external:224.0.0.1': a multicast address is no outside machine's; expected external:IP"),
    (["send", "--scenario", "bootcamp", "--from", "external", "--to", "bogus"], 2, "--to: 'bogus': expected IP:PORT"),
    # --from's shape is checked before the objects are read, as --to's (no scenario of that name: it would be 1)
    (["send", "--scenario", "nosuch-scenario", "--from", "bogus", "--to", "10.0.0.1:80"], 2,
     "--from: 'bogus': expected pod/NS/NAME"),
    (["send", "--scenario", "nosuch-scenario", "--from", "external:zz", "--to", "10.0.0.1:80"], 2,
     "--from: 'external:zz': expected external:IP with an IP address"),
    (["send", "--scenario", "bootcamp", "--from", "external", "--to", "1.2.3.4:\u00b2"], 2,
     "--to: '1.2.3.4:\u00b2': expected IP:PORT"),  # a digit int() cannot read: it was an internal error, 4
    (["send", "--scenario", "bootcamp", "--from", "external", "--to", "fd00::1:80"], 2,
     "--to: 'fd00::1:80': an IPv6 address with a port is written [ADDRESS]:PORT"),
    # a '/' outside node/NAME is of no form: it was looked up as a name (NXDOMAIN, 1); NS/NAME is dist's form
    (["send", "--scenario", "bootcamp", "--from", "external", "--to", "default/:80"], 2,
     "--to: 'default/:80': of the forms only node/NAME:NODEPORT holds a '/'; expected IP:PORT, NAME:PORT"),
    (["send", "--scenario", "bootcamp", "--from", "external", "--to", "pod/default/web:80"], 2,
     "--to: 'pod/default/web:80': of the forms only node/NAME:NODEPORT holds a '/'; expected IP:PORT"),
    (["send", "--scenario", "bootcamp", "--from", "external", "--to", "Default/Web:80"], 2,
     "--to: 'Default/Web:80': a Service is NAME.NAMESPACE here (Web.Default:80; NS/NAME is dist's form); expected"),
    (["send", "--scenario", "bootcamp", "--from", "external", "--to", "node/:31526"], 2,
     "--to: 'node/:31526': node/NAME takes one node's name after 'node/'; expected IP:PORT"),
    (["send", "--scenario", "bootcamp", "--from", "external", "--to", "node/node1/x:31526"], 2,
     "node/NAME takes one node's name after 'node/'"),
    # a node's prefix in capitals was answered as a Service's spelling (node1.Node:31000)
    (["send", "--scenario", "bootcamp", "--from", "external", "--to", "Node/node1:31000"], 2,
     "--to: 'Node/node1:31000': a node is node/NAME, 'node/' in lower case (not 'Node/'); expected IP:PORT"),
    (["send", "--scenario", "bootcamp", "--from", "external", "--to", "NODE/node1:31000"], 2,
     "(not 'NODE/')"),
    # --to's shape before the objects and --from are looked at (it was --from's 'no such pod', 1)
    (["send", "--scenario", "bootcamp", "--from", "pod/bogus", "--to", "default/web:80"], 2,
     "--to: 'default/web:80': a Service is NAME.NAMESPACE here"),
    (["dist", "--scenario", "bootcamp", "--to", "a.b.c"], 2, "--to: 'a.b.c': not an address, a service name"),
    (["dist", "--scenario", "bootcamp", "--to", "node/node1"], 2, "a node destination needs a NodePort number"),
    (["dist", "--scenario", "bootcamp", "--from", "bogus"], 2, "--from: 'bogus': not a known kind of source"),
    (["dist", "--scenario", "bootcamp", "--from", "external:zz"], 2, "--from: 'external:zz': not an IPv4 address"),
    (["trace", "--rules", "{dump}", "--node-ip", "node1", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--dport", "80"],
     2, "--node-ip: 'node1' is not an IP address"),
    # netns: the target's shape is checked before the cluster is looked up (there is no cluster of that name here)
    (["netns", "exec", "nosuch-cluster", "bogus", "--", "true"], 2, "TARGET: 'bogus': expected pod/NS/NAME"),
    (["netns", "send", "nosuch-cluster", "--from", "external", "--to", "bogus"], 2, "--to: 'bogus': expected IP:PORT"),
    (["netns", "send", "nosuch-cluster", "--from", "external", "--to", "default/:80"], 2,
     "--to: 'default/:80': of the forms only node/NAME:NODEPORT holds a '/'"),
    (["netns", "send", "nosuch-cluster", "--from", "bogus", "--to", "10.0.0.1:80"], 2,
     "--from: 'bogus': expected pod/NS/NAME"),
    (["netns", "send", "nosuch-cluster", "--from", "external:zz", "--to", "10.0.0.1:80"], 2,
     "--from: 'external:zz': expected external:IP"),
    # the right shape, but wrong: invalid input, 1
    (["trace", "--scenario", "bootcamp", "--src", "1.2.3.4", "--dst", "fd00::1", "--dport", "80"], 1,
     "are of different IP families"),
    (["rules", "--scenario", "bootcamp", "--cluster-cidr", "10.0.0.0/8,10.1.0.0/16"], 1,
     "expected one CIDR, or two of different IP families"),
    (["send", "--scenario", "bootcamp", "--from", "external:fd00::1", "--to", "node/node1:31526"], 1,
     "--from: 'external:fd00::1': expected external:IP with an IPv4 address (or --ip-family ipv6)"),
    (["send", "--scenario", "bootcamp", "--from", "pod/default/nope", "--to", "node/node1:31526"], 1,
     "no such pod"),
    (["send", "--scenario", "bootcamp", "--from", "external", "--to", "10.0.0.1:70000"], 1,
     "--to: '10.0.0.1:70000': port 70000 is out of range; expected a port 1-65535"),
    (["send", "--scenario", "bootcamp", "--from", "external", "--to", "node/node1:0"], 1,
     "--to: 'node/node1:0': port 0 is out of range; expected a port 1-65535"),
    (["netns", "send", "nosuch-cluster", "--from", "external", "--to", "10.0.0.1:70000"], 1,
     "--to: '10.0.0.1:70000': port 70000 is out of range; expected a port 1-65535"),  # send's own (QA-cli #21b)
    (["netns", "send", "nosuch-cluster", "--from", "external", "--to", "node/node1:0"], 1,
     "--to: 'node/node1:0': port 0 is out of range; expected a port 1-65535"),
    (["send", "--scenario", "bootcamp", "--from", "external", "--to", "nosuch.default:80"], 1, "--to:"),
    (["dist", "--scenario", "bootcamp", "--to", "default/nope"], 1, "no proxied service default/nope"),
    # a bare NAME is namespace default's Service NAME (b03d1c3), with :PORT optional: of dist's forms, so 1
    (["dist", "--scenario", "bootcamp", "--to", "bogus"], 1, "--to: 'bogus': not an address, a service name"),
    (["dist", "--scenario", "bootcamp", "--to", "nosuch:80"], 1, "no Service default/nosuch"),
    (["dist", "--scenario", "bootcamp", "--to", "nosuch.default.svc.cluster.local.:80"], 1,
     "no proxied service default/nosuch"),
    (["dist", "--scenario", "bootcamp", "--from", "external:fd00::1"], 1, "not an IPv4 address"),
    (["dist", "--scenario", "bootcamp", "--from", "node/nope"], 1, "no node 'nope'"),
    (["trace", "--rules", "{dump}", "--node-ip", "fd00::1", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--dport",
      "80"], 1, "fd00::1 is an IPv6 address"),
])
def test_a_flag_value_of_the_wrong_shape_is_a_usage_error_and_a_wrong_value_of_the_right_shape_invalid_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], status: int, message: str) -> None:
    dump = tmp_path / "v4.rules"
    dump.write_text("*filter\n:FORWARD DROP [0:0]\n-A FORWARD -d 10.0.0.2/32 -j ACCEPT\nCOMMIT\n")
    code, _, err = run([a.format(dump=dump) for a in argv], capsys)
    assert (code, "Traceback" in err) == (status, False), err
    assert message in last_words(err, status, argv)


def test_a_scenario_s_args_of_the_wrong_shape_are_a_usage_error_as_on_the_command_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "objects.yaml").write_text("")
    (tmp_path / "scenario.yaml").write_text("args: [--cluster-cidr, foo]\n")
    code, _, err = run(["rules", "--scenario", str(tmp_path)], capsys)
    assert code == 2 and "args[0]: --cluster-cidr: 'foo' is not a CIDR" in err
    (tmp_path / "scenario.yaml").write_text("args: [--iptables-masquerade-bit, 99]\n")
    code, _, err = run(["rules", "--scenario", str(tmp_path)], capsys)
    assert code == 1 and "args[0]: --iptables-masquerade-bit: 99 is not in 0-31" in err


def test_the_cidr_checks_tell_text_that_is_no_cidr_apart_from_a_value_kube_proxy_refuses() -> None:
    """The shape is told where the text is parsed (no second parse decides the exit status): text that is no CIDR
    goes to ``malformed`` when one is given, everything else (and everything, without one) to ``report``."""
    from kubeproxy_sim.cli.config_file import check_cluster_cidrs, check_nodeport_addresses

    told: list[str] = []
    shape: list[str] = []
    assert check_cluster_cidrs(["foo", "10.0.0.0/8", "10.1.0.0/16"], told.append, shape.append) == ("10.0.0.0/8",)
    assert shape == ["'foo' is not a CIDR; expected e.g. 10.244.0.0/16 or fd00:10:244::/56"]
    assert told == ["'foo,10.0.0.0/8,10.1.0.0/16': expected one CIDR, or two of different IP families (a dual-stack "
                    "pair, e.g. 10.244.0.0/16,fd00:10:244::/56)"]
    told, shape = [], []
    assert check_nodeport_addresses(["bar", "primary"], told.append, shape.append) == ()
    assert shape == ["'bar' is not a CIDR; expected e.g. 10.244.0.0/16 or fd00:10:244::/56 or 'primary'"]
    assert told == ["'bar,primary': can't use both 'primary' and CIDRs; expected 'primary' alone, or CIDRs"]
    told = []
    check_nodeport_addresses(["bar"], told.append)  # no malformed: told with the rest (a --config file's field)
    assert told == ["'bar' is not a CIDR; expected e.g. 10.244.0.0/16 or fd00:10:244::/56 or 'primary'"]


def test_a_config_file_s_value_of_the_wrong_shape_stays_invalid_input_beside_a_right_flag(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "kp.yaml"
    config.write_text("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
                      "clusterCIDR: foo\n")
    code, _, err = run(["rules", "--scenario", "bootcamp", "--config", str(config), "--cluster-cidr",
                        "10.244.0.0/16"], capsys)
    assert code == 1 and "clusterCIDR: 'foo' is not a CIDR" in err
    code, _, err = run(["rules", "--scenario", "bootcamp", "--config", str(config), "--cluster-cidr", "bar"], capsys)
    assert code == 2 and "--cluster-cidr: 'bar' is not a CIDR" in err and "clusterCIDR: 'foo'" in err


def test_the_node_flags_are_known_by_dest_and_name_from_add_node_flags_itself() -> None:
    """idle_with_dump and a scenario's args read the node flags from add_node_flags' own actions (no throwaway
    parser's private _actions): every flag, by its one name, in order."""
    import argparse

    from kubeproxy_sim.cli.options import add_node_flags, node_flag_dests

    actions = add_node_flags(argparse.ArgumentParser(add_help=False))
    assert all(len(a.option_strings) == 1 for a in actions)
    assert node_flag_dests() == {a.dest: a.option_strings[0] for a in actions}
    assert list(node_flag_dests().items())[:3] == [("config", "--config"), ("hostname_override", "--hostname-override"),
                                                   ("node_ip", "--node-ip")]
    assert node_flag_dests() is node_flag_dests()  # built once


def test_the_idle_flags_warning_names_the_family_a_dump_without_addresses_is_traced_in(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A dump without addresses is read in the packet's family: the warning said IPv4 (its first reading) for a
    packet traced as IPv6. A dump with addresses refusing the packet still names the idle flags, in its family."""
    dump = tmp_path / "plain.rules"
    dump.write_text(NO_SERVICE)
    idle = "--ip-family has no effect with a dump: kube-proxy's settings shape the rules it makes, and the dump's " \
           "rules are made already (its family is its own: IPv{})"
    code, out, err = run(["trace", "--rules", str(dump), "--src", "fd00::1", "--dst", "fd00::2", "--dport", "80",
                          "--ip-family", "ipv6"], capsys)
    assert code == 0 and "tcp fd00::1 -> [fd00::2]:80" in out
    assert err.splitlines() == ["kubeproxy-sim: --rules: warning: " + idle.format(6)]
    code, out, err = run(["trace", "--rules", str(_kind_dump()), "--src", "fd00::1", "--dst", "fd00::2", "--dport",
                          "80", "--ip-family", "ipv6"], capsys)
    assert code == 1 and out == ""
    assert err.splitlines()[0] == "kubeproxy-sim: --rules: warning: " + idle.format(4)
    assert "the packet is IPv6, but the dump is an iptables-save (IPv4)" in err.splitlines()[1]
