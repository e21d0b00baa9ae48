"""Node flags and KubeProxyConfiguration -> ProxyConfig, with kube-proxy's precedence."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.cli.options import config_from_args, parse_bool, parse_int
from kubeproxy_sim.errors import InputError, Severity
from kubeproxy_sim.objects.model import Cluster, IPFamily, Node, NodeAddress
from kubeproxy_sim.proxier.config import DetectLocalMode
from tests.cli._usage_pointer import without_pointer

NODE = Node("n1", (NodeAddress("InternalIP", "192.168.49.2"), NodeAddress("Hostname", "n1")),
            pod_cidrs=("10.244.0.0/24",), labels=(("topology.kubernetes.io/zone", "z1"),))


def test_defaults_without_objects() -> None:
    config = config_from_args([], Cluster())
    assert config.node_name == "node1"
    assert config.ip_family is IPFamily.IPV4
    assert config.node_ips == ()
    assert config.localhost_nodeports is True and config.random_fully is True and config.nfacct is True
    assert config.masquerade_mark == "0x4000"


def test_node_object_supplies_host_facts() -> None:
    config = config_from_args([], Cluster(nodes=(NODE,)))
    assert config.node_name == "n1"
    assert config.node_ips == ("192.168.49.2/32",)
    assert config.node_pod_cidrs == ("10.244.0.0/24",)
    assert config.zone == "z1"


def test_flags_override_node_object_and_parse_like_kube_proxy() -> None:
    config = config_from_args(
        ["--hostname-override", "n1", "--node-ip", "10.1.1.1/24", "--node-ip", "2001:db8::1/64",
         "--cluster-cidr", "10.0.0.0/8, fd00::/48", "--masquerade-all", "--iptables-localhost-nodeports=false",
         "--nodeport-addresses", "10.1.1.0/24,10.2.0.0/16", "--detect-local-mode", "NodeCIDR",
         "--iptables-masquerade-bit", "5", "--random-fully=false", "--nfacct", "f"],
        Cluster(nodes=(NODE,)),
    )
    assert config.node_ips == ("10.1.1.1/24", "2001:db8::1/64")
    assert config.cluster_cidrs == ("10.0.0.0/8", "fd00::/48")
    assert config.masquerade_all is True and config.localhost_nodeports is False
    assert config.nodeport_addresses == ("10.1.1.0/24", "10.2.0.0/16")
    assert config.detect_local_mode is DetectLocalMode.NODE_CIDR
    assert config.masquerade_mark == "0x20"
    assert config.random_fully is False and config.nfacct is False


def test_hostname_override_is_trimmed_and_lower_cased_as_kube_proxy_does() -> None:
    config = config_from_args(["--hostname-override", " N1\n"], Cluster(nodes=(NODE,)))
    assert config.node_name == "n1" and config.node_ips == ("192.168.49.2/32",)  # found the Node object
    with pytest.raises(InputError) as info:
        config_from_args(["--hostname-override", "  "], Cluster())
    assert [str(d) for d in info.value.diagnostics] == ["--hostname-override: '  ' is blank; expected a node name"]


def test_a_blank_hostname_stops_the_command_before_any_output(tmp_path, monkeypatch, capsys) -> None:
    from kubeproxy_sim.cli.main import main

    config = tmp_path / "kp.yaml"
    config.write_text("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
                      "hostnameOverride: '  '\n")
    for flags in (["--hostname-override", " "], ["--config", str(config)]):
        assert main(["rules", "--scenario", "bootcamp", *flags]) == 1
        captured = capsys.readouterr()
        assert captured.out == "" and "is blank; expected a node name" in captured.err


def test_ipv6_family_follows_primary_node_ip() -> None:
    assert config_from_args(["--node-ip", "fd00::2"], Cluster()).ip_family is IPFamily.IPV6
    assert config_from_args(["--node-ip", "fd00::2", "--ip-family", "ipv4"], Cluster()).ip_family is IPFamily.IPV4


def test_config_file_then_flags(tmp_path) -> None:
    path = tmp_path / "kp.yaml"
    path.write_text(
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\n"
        "clusterCIDR: 10.244.0.0/16\nhostnameOverride: n9\n"
        "iptables: {masqueradeAll: true, masqueradeBit: 15, localhostNodePorts: false}\n"
        "nodePortAddresses: [192.168.0.0/16]\nconntrack: {tcpBeLiberal: true}\n"
    )
    config = config_from_args(["--config", str(path), "--masquerade-all=false"], Cluster())
    assert config.node_name == "n9" and config.cluster_cidrs == ("10.244.0.0/16",)
    assert config.masquerade_all is False  # the flag wins over the file
    assert config.masquerade_bit == 15 and config.localhost_nodeports is False
    assert config.nodeport_addresses == ("192.168.0.0/16",) and config.conntrack_tcp_be_liberal is True


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--node-ip", "300.1.1.1"], "--node-ip: '300.1.1.1' is not an IP address; expected IP or IP/PREFIX"),
        (["--iptables-masquerade-bit", "40"], "--iptables-masquerade-bit: 40 is not in 0-31"),
        (["--cluster-cidr", "10.244.0.0/16,bogus"],
         "--cluster-cidr: 'bogus' is not a CIDR; expected e.g. 10.244.0.0/16 or fd00:10:244::/56"),
        (["--cluster-cidr", "10.244.0.0/16,10.245.0.0/16"],
         "--cluster-cidr: '10.244.0.0/16,10.245.0.0/16': expected one CIDR, or two of different IP families (a "
         "dual-stack pair, e.g. 10.244.0.0/16,fd00:10:244::/56)"),
        (["--nodeport-addresses", "primary,10.0.0.0/8"], "--nodeport-addresses: 'primary,10.0.0.0/8': can't use "
         "both 'primary' and CIDRs; expected 'primary' alone, or CIDRs"),
        (["--detect-local-mode", "BridgeInterface"], "--detect-local-mode: BridgeInterface needs an interface: "
         "--pod-bridge-interface (detectLocal.bridgeInterface) must not be empty"),
        (["--detect-local-mode", "InterfaceNamePrefix", "--pod-interface-name-prefix", ""], "--detect-local-mode: "
         "InterfaceNamePrefix needs an interface: --pod-interface-name-prefix (detectLocal.interfaceNamePrefix) must "
         "not be empty"),
        (["--detect-local-mode", "NodeCIDR", "--hostname-override", "n1"], "--detect-local-mode: NodeCIDR needs the "
         "node's pod CIDR, and there is no Node object named 'n1'; kube-proxy waits for spec.podCIDRs and fails to "
         "start (give the Node object with -f, or choose another mode)"),
        (["--nodeport-addresses", "10.0.0.0/33"], "--nodeport-addresses: '10.0.0.0/33' is not a CIDR; expected "
         "e.g. 10.244.0.0/16 or fd00:10:244::/56 or 'primary'"),
        *[(["--nodeport-addresses", text], f"--nodeport-addresses: {text!r} has an empty entry, which kube-proxy "
           "refuses (must be a valid CIDR); expected CIDRs (e.g. 10.244.0.0/16 or fd00:10:244::/56) or 'primary', "
           "separated by single commas") for text in (",", "10.0.0.0/8,", "10.0.0.0/8,,fd00::/64")],
        *[(["--cluster-cidr", text], f"--cluster-cidr: {text!r} has an empty entry, which kube-proxy refuses "
           "(must be a valid CIDR); expected CIDRs (e.g. 10.244.0.0/16 or fd00:10:244::/56), separated by single "
           "commas") for text in (",", "10.0.0.0/8,", ",fd00::/64")],
    ],
)
def test_invalid_values_are_reported(argv: list[str], message: str) -> None:
    with pytest.raises(InputError) as info:
        config_from_args(argv, Cluster())
    assert [str(d) for d in info.value.diagnostics] == [message]


def test_parse_bool_is_go_strconv() -> None:
    assert parse_bool("T") is True and parse_bool("0") is False
    with pytest.raises(Exception, match="not a boolean"):
        parse_bool("yes")


def test_cidrs_are_written_as_kube_proxy_writes_them() -> None:
    """kube-proxy parses --cluster-cidr sloppily (leading zeros) and prints the network: host bits cleared;
    --nodeport-addresses it keeps as written and reads where it matches node IPs (its IsZeroCIDR reads the
    prefix as written: ::ffff:192.168.0.0/96 is written 0.0.0.0/0 but matches no more than the node's IPv4s)."""
    config = config_from_args(["--cluster-cidr", "10.244.0.1/16, fd00:10:244::5/56", "--nodeport-addresses",
                               "192.168.1.7/24,10.0.0.1/8,::ffff:192.168.0.0/96"], Cluster())
    assert config.cluster_cidrs == ("10.244.0.0/16", "fd00:10:244::/56")
    assert config.nodeport_addresses == ("192.168.1.7/24", "10.0.0.1/8", "::ffff:192.168.0.0/96")


CONFIG_HEAD = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"


@pytest.mark.parametrize(
    ("text", "messages"),
    [
        ("- a\n", ["expected a KubeProxyConfiguration mapping, got a list"]),
        ("", ["expected a KubeProxyConfiguration mapping, got nothing"]),
        ("apiVersion: v1\n", ["kind: not set; expected KubeProxyConfiguration"]),
        ("kind: [\n", [":2: syntax error: expected the node content, but found '<stream end>' (while parsing a "
                       "flow node) at column 1"]),
        (CONFIG_HEAD + "iptables: 5\nclusterCIDR: 5\n",
         ["iptables: expected a mapping, got an integer",
          "clusterCIDR: expected comma-separated CIDRs (e.g. 10.244.0.0/16 or fd00:10:244::/56), got an integer 5"]),
        (CONFIG_HEAD + "clusterCIDR: nope\niptables: {masqueradeAll: 'yes', masqueradeBit: 99}\n"
         "nodePortAddresses: [7, nope]\ndetectLocalMode: Bogus\n",
         ["clusterCIDR: 'nope' is not a CIDR; expected e.g. 10.244.0.0/16 or fd00:10:244::/56",
          "detectLocalMode: 'Bogus' is not a detect-local mode; expected ClusterCIDR, NodeCIDR, BridgeInterface, "
          "InterfaceNamePrefix",
          "iptables.masqueradeAll: expected true or false, got a string \"yes\"",
          "iptables.masqueradeBit: 99 is not in 0-31",
          "nodePortAddresses[0]: expected a CIDR or 'primary', got an integer 7",
          "nodePortAddresses[1]: 'nope' is not a CIDR; expected e.g. 10.244.0.0/16 or fd00:10:244::/56 or 'primary'"]),
    ],
)
def test_config_file_problems_name_the_file_and_field(tmp_path, text: str, messages: list[str]) -> None:
    path = tmp_path / "kp.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        config_from_args(["--config", str(path)], Cluster())
    assert [str(d) for d in info.value.diagnostics] == [f"{path}{m}" if m.startswith(":") else f"{path}: {m}"
                                                        for m in messages]


def test_config_file_unknown_fields_warn_and_good_fields_still_apply(tmp_path) -> None:
    from argparse import ArgumentParser

    from kubeproxy_sim.cli.options import add_node_flags, build_config

    path = tmp_path / "kp.yaml"
    path.write_text(CONFIG_HEAD + "clusterCIDR: 10.1.0.0/16\nmasqueradeAll: true\nbindAddress: 0.0.0.0\n"
                    "iptables: {masqueradeBit: 99}\n")
    parser = ArgumentParser()
    add_node_flags(parser)
    config, diags = build_config(parser.parse_args(["--config", str(path)]), Cluster())
    assert config.cluster_cidrs == ("10.1.0.0/16",) and config.masquerade_bit == 14
    assert [str(d) for d in diags] == [
        f"{path}: masqueradeAll: warning: unknown field of KubeProxyConfiguration; kube-proxy's strict decoding "
        "refuses it",
        f"{path}: iptables.masqueradeBit: 99 is not in 0-31"]


def test_a_family_the_node_has_no_address_of_is_warned_about() -> None:
    from argparse import ArgumentParser

    from kubeproxy_sim.cli.options import add_node_flags, build_config

    parser = ArgumentParser()
    add_node_flags(parser)
    config, diags = build_config(parser.parse_args(["--ip-family", "ipv6"]), Cluster(nodes=(NODE,)))
    assert config.ipv6 and [d.field for d in diags] == ["--ip-family", "--detect-local-mode"]
    assert "the node has no IPv6 address" in diags[0].message
    _, diags = build_config(parser.parse_args(["--ip-family", "ipv4"]), Cluster(nodes=(NODE,)))
    assert [d.field for d in diags] == ["--detect-local-mode"]  # no --cluster-cidr: a note, no warning


@pytest.mark.parametrize("flags, field, message", [
    (["--node-ip", "192.168.0.2/24", "--iptables-localhost-nodeports=false",
      "--nodeport-addresses", "192.168.0.0/24,127.0.0.1/32"], "--nodeport-addresses",
     "includes localhost (127.0.0.1), but --iptables-localhost-nodeports=false; kube-proxy logs an error and skips it"),
    (["--node-ip", "2001:db8::2/64", "--ip-family", "ipv6", "--nodeport-addresses", "::1/128,2001:db8::/64"],
     "--nodeport-addresses", "includes localhost (::1), but localhost NodePorts are not supported on IPv6"),
    (["--node-ip", "192.168.0.2"], "--detect-local-mode", "ClusterCIDR with no IPv4 cluster CIDR (--cluster-cidr)"),
])
def test_what_kube_proxy_logs_and_works_around_is_said(flags: list[str], field: str, message: str) -> None:
    """kube-proxy logs these and carries on; silently, a user would not know why rules are missing."""
    from argparse import ArgumentParser

    from kubeproxy_sim.cli.options import add_node_flags, build_config

    parser = ArgumentParser()
    add_node_flags(parser)
    _, diags = build_config(parser.parse_args(flags), Cluster())
    assert any(d.field == field and message in d.message for d in diags), diags
    _, quiet = build_config(parser.parse_args(["--node-ip", "192.168.0.2", "--cluster-cidr", "10.0.0.0/8"]), Cluster())
    assert quiet == []


def test_a_config_file_overrides_a_scenarios_flags_and_a_flag_overrides_both(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Precedence: defaults < the scenario's flags < --config < flags given (bootcamp presets 10.244.0.0/16)."""
    config_file = tmp_path / "kube-proxy.yaml"
    config_file.write_text("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
                           "clusterCIDR: 10.99.0.0/16\n")

    def masquerade_source(*extra: str) -> str:
        assert main(["rules", "--scenario", "bootcamp", *extra]) == 0
        found = re.search(r"-A KUBE-SVC-\S+ .* ! -s (\S+) -j KUBE-MARK-MASQ", capsys.readouterr().out)
        assert found is not None
        return found.group(1)

    assert masquerade_source() == "10.244.0.0/16"
    assert masquerade_source("--config", str(config_file)) == "10.99.0.0/16"
    assert masquerade_source("--config", str(config_file), "--cluster-cidr", "10.55.0.0/16") == "10.55.0.0/16"


def test_unknown_nested_fields_warn_like_top_level_ones_and_the_rest_still_applies(tmp_path) -> None:
    """kube-proxy's strict decoder finds a typo at any depth (then decodes leniently, ignoring it, and logs why)."""
    from argparse import ArgumentParser

    from kubeproxy_sim.cli.options import add_node_flags, build_config

    path = tmp_path / "kp.yaml"
    path.write_text(CONFIG_HEAD + "iptables: {masqueradBit: 20, masqueradeAl: true, masqueradeBit: 3}\n"
                    "conntrack: {max: 0, minn: 1, tcpBeLiberal: true}\n"
                    "detectLocal: {bridgeInterface: cbr0}\nlogging: {format: text}\n")
    parser = ArgumentParser()
    add_node_flags(parser)
    config, diags = build_config(parser.parse_args(["--config", str(path)]), Cluster())
    assert config.masquerade_bit == 3 and config.conntrack_tcp_be_liberal
    unknown = "warning: unknown field of KubeProxyConfiguration; kube-proxy's strict decoding refuses it"
    assert [str(d) for d in diags if d.severity is Severity.WARNING] == [
        f"{path}: iptables.masqueradBit: {unknown}; did you mean iptables.masqueradeBit?",
        f"{path}: iptables.masqueradeAl: {unknown}; did you mean iptables.masqueradeAll?",
        f"{path}: conntrack.max: {unknown}",
        f"{path}: conntrack.minn: {unknown}; did you mean conntrack.min?"]


def test_a_linux_or_windows_section_is_an_unknown_field_of_v1alpha1_and_is_ignored(tmp_path) -> None:
    """v1alpha1 has no ``linux``/``windows`` (the internal type and the withdrawn v1alpha2 have): kube-proxy's
    strict decoding refuses them and its lenient decoding drops them, so nothing in them takes effect; the warning
    names where v1alpha1 has each setting (kube-proxy's conversion fills Linux from those)."""
    from argparse import ArgumentParser

    from kubeproxy_sim.cli.options import add_node_flags, build_config

    path = tmp_path / "kp.yaml"
    path.write_text(CONFIG_HEAD + "linux: {masqueradeAll: true, conntrack: {tcpBeLiberal: true}, oomScoreAdj: 5}\n"
                    "windows: {runAsService: true}\n")
    parser = ArgumentParser()
    add_node_flags(parser)
    config, diags = build_config(parser.parse_args(["--config", str(path)]), Cluster())
    assert config.masquerade_all is False and config.conntrack_tcp_be_liberal is False
    unknown = "warning: unknown field of KubeProxyConfiguration; kube-proxy's strict decoding refuses it"
    assert [str(d) for d in diags if d.severity is Severity.WARNING] == [
        f"{path}: linux: {unknown}; v1alpha1 has no linux section, and kube-proxy ignores it: did you mean "
        "iptables.masqueradeAll, conntrack.tcpBeLiberal or oomScoreAdj?",
        f"{path}: windows: {unknown}; v1alpha1 has no windows section, and kube-proxy ignores it: did you mean "
        "windowsRunAsService?"]


@pytest.mark.parametrize(("head", "message"), [
    ("apiVersion: kubeproxy.config.k8s.io/v9\n", "'kubeproxy.config.k8s.io/v9'"),
    ("", "not set"),
])
def test_an_api_version_kube_proxy_cannot_decode_is_refused(tmp_path, head: str, message: str) -> None:
    path = tmp_path / "kp.yaml"
    path.write_text(head + "kind: KubeProxyConfiguration\niptables: {masqueradeBit: 3}\n")
    with pytest.raises(InputError) as info:
        config_from_args(["--config", str(path)], Cluster())
    assert [str(d) for d in info.value.diagnostics] == [
        f"{path}: apiVersion: {message}; kube-proxy decodes KubeProxyConfiguration only as "
        "kubeproxy.config.k8s.io/v1alpha1"]


# -- --scenario DIR of the user's own: one line naming scenario.yaml and the field, no traceback, no usage dump --

BOOTCAMP_OBJECTS = Path(__file__).resolve().parents[2] / "rulesets" / "bootcamp" / "objects.yaml"


@pytest.mark.parametrize(("scenario", "status", "message"), [
    ("args: [\n", 2, "scenario.yaml:2: syntax error: expected the node content, but found '<stream end>' "
     "(while parsing a flow node) at column 1"),
    ("- a\n- b\n", 2, 'scenario.yaml: expected a mapping with description and args, got a list ["a", "b"]'),
    ('args: "--hostname-override node1"\n', 2, "scenario.yaml: args: expected a list of flags and values "
     '(args: [--hostname-override, node1]), got a string "--hostname-override node1"'),
    ("args: [--hostname-override, node1, {a: 1}]\n", 2,
     'scenario.yaml: args[2]: expected a flag or a value, got a mapping {"a": 1}'),
    ("args: [--hostname-override, node1, --bogus, x]\n", 2, "scenario.yaml: args[2]: unknown flag --bogus; "
     "expected one of --bind-address, --cluster-cidr, --config, --conntrack-tcp-be-liberal, --detect-local-mode, "
     "--feature-gates, --hostname-override, --ip-family (the first of 17 flags)"),
    ("args: [--hostnme-override=node1]\n", 2,
     "scenario.yaml: args[0]: unknown flag --hostnme-override; expected one of --hostname-override (the closest "
     "of 17 flags)"),
    ("args: [--hostname-override, node1, stray]\n", 2,
     "scenario.yaml: args[2]: 'stray' is not a flag, nor the value of one"),
    ("args: [--iptables-masquerade-bit, x]\n", 2,
     "scenario.yaml: args[0]: argument --iptables-masquerade-bit: 'x' is not a whole number (expected decimal "
     "digits 0-9)"),
    ("args: [--iptables-masquerade-bit, 99]\n", 1, "scenario.yaml: args[0]: --iptables-masquerade-bit: 99 is not "
     "in 0-31"),
])
def test_a_scenario_directory_of_ones_own_is_checked_by_file_and_field(tmp_path, capsys, scenario, status,
                                                                       message) -> None:
    (tmp_path / "objects.yaml").write_text(BOOTCAMP_OBJECTS.read_text())
    (tmp_path / "scenario.yaml").write_text(scenario)
    assert main(["rules", "--scenario", str(tmp_path)]) == status
    out, err = capsys.readouterr()
    said = without_pointer(err, "rules") if status == 2 else err
    assert out == "" and said == f"kubeproxy-sim: {tmp_path}/{message}\n"
    assert status == 2 or "for usage." not in err


def test_a_directory_that_is_not_a_scenario_names_what_it_lacks(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in (".", str(tmp_path)):
        assert main(["rules", "--scenario", name]) == 2
        # one error naming the directory (tests/cli/test_scenario_empty_dir.py)
        err = without_pointer(capsys.readouterr().err, "rules")
        assert err.startswith(f"kubeproxy-sim: {name}: --scenario: no scenario.yaml and no objects.yaml in this "
                              "directory") and err.count("\n") == 1
    (tmp_path / "bootcamp").mkdir()  # a folder of the same name that is no scenario: the built-in one is meant
    assert main(["rules", "--scenario", "bootcamp"]) == 0
    capsys.readouterr()
    (tmp_path / "scen").mkdir()
    (tmp_path / "scen" / "objects.yaml").write_text(BOOTCAMP_OBJECTS.read_text())
    (tmp_path / "scen" / "scenario.yaml").write_text("description: mine\nargs: [--hostname-override, node9]\n")
    assert main(["rules", "--scenario", "scen"]) == 0
    assert "no Node object named 'node9'" in capsys.readouterr().err


def test_nodeport_addresses_given_empty_is_the_default_as_kube_proxys_string_slice() -> None:
    assert config_from_args(["--nodeport-addresses", ""], Cluster()).nodeport_addresses == ()


def test_integer_flags_take_ascii_decimal_digits_only(capsys) -> None:
    assert parse_int("14") == 14 and parse_int("-1") == -1 and parse_int("007") == 7
    for text in (" 14", "14 ", "+5", "1_4", "\u0661\u0664", "0x1f", "1e3", "", "-"):
        with pytest.raises(argparse.ArgumentTypeError, match="is not a whole number"):
            parse_int(text)
    argv = ["--scenario", "bootcamp", "--from", "external", "--to", "node/node1:31526"]
    for flag, command in (("--iptables-masquerade-bit", ["rules", "--scenario", "bootcamp"]),
                          ("--count", ["send", *argv]), ("--seed", ["send", *argv]),
                          ("--max-endpoints", ["graph", "--scenario", "bootcamp"])):
        with pytest.raises(SystemExit) as info:
            main([*command, flag, "1_4"])
        assert info.value.code == 2
        assert f"argument {flag}: '1_4' is not a whole number (expected decimal digits 0-9)" in capsys.readouterr().err


def test_graph_service_with_an_empty_port_is_a_usage_error(capsys) -> None:
    assert main(["graph", "--scenario", "bootcamp", "--service", "default/kubernetes-bootcamp:"]) == 2
    assert without_pointer(capsys.readouterr().err, "graph") == (
        "kubeproxy-sim: --service: 'default/kubernetes-bootcamp:' has an empty port; "
                                       "expected NAMESPACE/NAME or NAMESPACE/NAME:PORT (PORT: the port's name, or its "
                                       "number)\n")


def test_every_node_flag_is_described_with_its_default() -> None:
    """QA-dumps #11: --detect-local-mode had no help at all; every command's node flags are the same group."""
    from kubeproxy_sim.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in ("rules", "trace", "dist", "send", "replay", "watch"):
        actions = {o: a for a in sub.choices[name]._actions for o in a.option_strings}
        mode = actions["--detect-local-mode"]
        assert mode.help and "ClusterCIDR, the default" in mode.help, name
        group = next(g for g in sub.choices[name]._action_groups if mode in g._group_actions)
        assert all(a.help for a in group._group_actions), name


def test_every_option_of_every_command_has_a_description() -> None:
    """QA-dumps #11: an option without help shows only its name in --help (netns send's --proto and --count did)."""
    from kubeproxy_sim.cli.main import build_parser

    def undescribed(parser: argparse.ArgumentParser, name: str) -> list[str]:
        out = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                out += [m for verb, sub in action.choices.items() for m in undescribed(sub, f"{name} {verb}")]
            elif action.option_strings and not action.help:
                out.append(f"{name} {action.option_strings[-1]}")
        return out

    assert undescribed(build_parser(), "kubeproxy-sim") == []


def test_netns_verify_s_summary_names_both_modes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["netns", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "verify check the simulator against the kernel (-f/--scenario" in text and "or the tracer (--rules" in text



def test_a_scenario_yaml_or_config_that_cannot_be_read_says_why_in_errors_unreadable_words(tmp_path, capsys) -> None:
    """scenario.yaml's reader and --config's built their own texts (a bare 'not UTF-8 text', no 'cannot read')."""
    (tmp_path / "objects.yaml").write_text(BOOTCAMP_OBJECTS.read_text())
    (tmp_path / "scenario.yaml").write_bytes(b"args: [\xaf]\n")
    assert main(["rules", "--scenario", str(tmp_path)]) == 2
    assert without_pointer(capsys.readouterr().err, "rules") == (
        f"kubeproxy-sim: {tmp_path}/scenario.yaml: --scenario: cannot read it: not "
                                       "UTF-8 text (invalid start byte at byte 7); expected a YAML mapping with "
                                       "description and args\n")
    for config, reason in ((tmp_path / "scenario.yaml", "not UTF-8 text (invalid start byte at byte 7)"),
                           (tmp_path, "Is a directory")):
        assert main(["rules", "--scenario", "bootcamp", "--config", str(config)]) == 1
        assert (f"kubeproxy-sim: {config}: --config: cannot read it: {reason}; expected a KubeProxyConfiguration "
                "file\n") in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "said"), [
    (["replay", "--masq", "STATE"], "unrecognized arguments: --masq (options are taken by their whole names: "
     "--masquerade-all [true|false])"),
    (["rules", "--scenario", "bootcamp", "--masq"], "unrecognized arguments: --masq"),
    (["rules", "--scen", "bootcamp"], "unrecognized arguments: --scen bootcamp (options are taken by their whole "
     "names: --scenario NAME)\n"),
    (["netns", "send", "--fro", "a", "--to", "b", "x"], "the following arguments are required: --from"),
    # before the command: argparse took the word after the unknown option for the command ("invalid choice: never")
    (["--col", "never", "rules"], "kubeproxy-sim: error: unrecognized arguments: --col (options are taken by their "
     "whole names: --color auto|always|never)\n"),
    (["--col=never", "rules"], "unrecognized arguments: --col=never (options are taken by their whole names: "
     "--color auto|always|never)\n"),
    (["rules", "--scenario", "bootcamp", "--ip-fam", "ipv6"], "unrecognized arguments: --ip-fam ipv6 (options are "
     "taken by their whole names: --ip-family ipv4|ipv6)\n"),
    (["--bogus", "rules"], "kubeproxy-sim: error: unrecognized arguments: --bogus\n"),
    # more names than the hint lists: it says so (--color was left out in silence)
    (["rules", "--c", "x"], "(options are taken by their whole names: --config FILE, --cluster-cidr CIDR[,CIDR], "
     "--conntrack-tcp-be-liberal [true|false], and 1 more)\n"),
    # a top-level option given a value it does not take is recognised, not unknown
    (["--version=x"], "kubeproxy-sim: error: argument --version: ignored explicit argument 'x'\n"),
    (["-hrules"], "kubeproxy-sim: error: argument -h/--help: ignored explicit argument 'rules'\n"),
])
def test_an_option_is_taken_by_its_whole_name_only(argv: list[str], said: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """As kube-proxy's flags (pflag): argparse took a unique prefix, so ``replay --masq FILE`` read FILE as
    --masquerade-all's value ("is not a boolean"), where the whole name is rewritten to ``--masquerade-all=true``."""
    state = str(Path(__file__).parent / "replay_states" / "step1.yaml")
    with pytest.raises(SystemExit) as exc:
        main([state if word == "STATE" else word for word in argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert said in err and "is not a boolean" not in err, err


@pytest.mark.parametrize("flag", [["--bind-address", "127.0.0.1"], ["--node-ip", "127.0.0.1"],
                                  ["--node-ip", "127.8.0.1"]])
def test_nodeport_addresses_primary_skips_a_loopback_node_ip(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              flag: list[str]) -> None:
    """cmd/kube-proxy/app/server.go (newProxyServer, kubernetes 531be81208e2): ``primary`` takes each family's node
    IP that is not loopback (IsLoopback: all of 127.0.0.0/8), so a loopback one leaves the list empty: NodePorts
    answer on every local address, and checkBadConfig logs "nodePortAddresses is unset"."""
    path = tmp_path / "np.yaml"
    path.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: np, namespace: ns}\nspec:\n  type: NodePort\n"
                    "  clusterIP: 10.96.0.5\n  ports: [{port: 80, nodePort: 30080}]\n")
    assert main(["rules", "-f", str(path), "--hostname-override", "n1", "--nodeport-addresses", "primary",
                 "--cluster-cidr", "10.0.0.0/8", *flag]) == 0
    out, err = capsys.readouterr()
    assert [line for line in out.splitlines() if line.endswith("-j KUBE-NODEPORTS")] == [
        '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in '
        'this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS']
    assert [line for line in err.splitlines() if "--nodeport-addresses" in line] == [
        f"kubeproxy-sim: --nodeport-addresses: warning: primary, but the node's IP is loopback ({flag[1]}), which "
        "primary leaves out, so NodePorts answer on every local address (kube-proxy logs \"nodePortAddresses is "
        "unset\")"]
