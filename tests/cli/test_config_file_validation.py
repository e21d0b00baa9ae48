"""--config as kube-proxy takes it: defaulted (SetDefaults_KubeProxyConfiguration), then validated
(pkg/proxy/apis/config/validation): the file kubeadm writes starts, and what kube-proxy refuses is refused."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kubeproxy_sim.cli.config_file import go_duration
from kubeproxy_sim.cli.main import main
from kubeproxy_sim.cli.options import sync_periods
from kubeproxy_sim.errors import InputError

BOOTCAMP = str(Path(__file__).resolve().parents[2] / "rulesets" / "bootcamp" / "objects.yaml")
CONFIG_HEAD = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
# kubeadm's kube-proxy ConfigMap (config.conf), not defaulted: zeros, nulls and empty strings throughout
KUBEADM = CONFIG_HEAD + """bindAddress: 0.0.0.0
bindAddressHardFail: false
clientConnection:
  acceptContentTypes: ""
  burst: 0
  contentType: ""
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
  qps: 0
clusterCIDR: 10.244.0.0/16
configSyncPeriod: 0s
conntrack:
  maxPerCore: null
  min: null
  tcpBeLiberal: false
  tcpCloseWaitTimeout: null
  tcpEstablishedTimeout: null
  udpStreamTimeout: 0s
  udpTimeout: 0s
detectLocal:
  bridgeInterface: ""
  interfaceNamePrefix: ""
detectLocalMode: ""
enableProfiling: false
healthzBindAddress: ""
hostnameOverride: ""
iptables:
  localhostNodePorts: null
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
ipvs:
  excludeCIDRs: null
  minSyncPeriod: 0s
  scheduler: ""
  strictARP: false
  syncPeriod: 0s
  tcpFinTimeout: 0s
  tcpTimeout: 0s
  udpTimeout: 0s
logging:
  flushFrequency: 0
  options:
    json:
      infoBufferSize: "0"
    text:
      infoBufferSize: "0"
  verbosity: 0
metricsBindAddress: ""
mode: ""
nftables:
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
nodePortAddresses: null
oomScoreAdj: null
portRange: ""
showHiddenMetricsForVersion: ""
winkernel:
  enableDSR: false
  forwardHealthCheckVip: false
  networkName: ""
  rootHnsEndpointName: ""
  sourceVip: ""
"""


def _file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "kp.yaml"
    path.write_text(text)
    return str(path)


def _periods(config: str, low: float | None = None, period: float | None = None) -> tuple[float, float]:
    return sync_periods(argparse.Namespace(config=config, min_sync_period=low, sync_period=period))


def test_kubeadms_config_with_zero_sync_periods_runs_watch_and_replay(tmp_path, capsys) -> None:
    """kube-proxy defaults a file's zero iptables.syncPeriod/minSyncPeriod (30s, 1s) before validating it."""
    config = _file(tmp_path, KUBEADM)
    assert _periods(config) == (1.0, 30.0)
    assert main(["replay", BOOTCAMP, BOOTCAMP, "--config", config]) == 0
    (tmp_path / "objects").mkdir()
    (tmp_path / "objects" / "objects.yaml").write_text(Path(BOOTCAMP).read_text())
    assert main(["watch", "-f", str(tmp_path / "objects"), "--config", config, "--once"]) == 0
    assert "kp.yaml" not in capsys.readouterr().err  # nothing to say about the file


@pytest.mark.parametrize(("iptables", "flags", "periods"), [
    ("{minSyncPeriod: 0s, syncPeriod: 10s}", {}, (1.0, 10.0)),  # a file's 0 minimum is kube-proxy's 1s
    ("{minSyncPeriod: 5s, syncPeriod: 0s}", {}, (5.0, 30.0)),
    ("{minSyncPeriod: null, syncPeriod: null}", {}, (1.0, 30.0)),
    ("{minSyncPeriod: '0', syncPeriod: 1m}", {}, (1.0, 60.0)),  # Go reads a bare 0 without a unit
    ("{minSyncPeriod: 5s, syncPeriod: 1m}", {"low": 0.0}, (0.0, 60.0)),  # a flag's 0 stays 0
])
def test_a_zero_or_null_sync_period_in_the_file_is_kube_proxys_default(tmp_path, iptables: str, flags,
                                                                        periods) -> None:
    assert _periods(_file(tmp_path, CONFIG_HEAD + f"iptables: {iptables}\n"), **flags) == periods


@pytest.mark.parametrize(("iptables", "message"), [
    ("{syncPeriod: '30', minSyncPeriod: '1'}",
     ["iptables.minSyncPeriod: '1' is not a duration: kube-proxy decodes it with Go's time.ParseDuration, which "
      "needs a unit; expected e.g. 1s",
      "iptables.syncPeriod: '30' is not a duration: kube-proxy decodes it with Go's time.ParseDuration, which "
      "needs a unit; expected e.g. 30s"]),
    ("{syncPeriod: -1s}", ["iptables.syncPeriod: -1s: must be greater than 0"]),
    ("{minSyncPeriod: -500ms}", ["iptables.minSyncPeriod: -0.5s: must be greater than or equal to 0"]),
])
def test_sync_periods_kube_proxy_cannot_decode_or_refuses_name_the_file_and_field(tmp_path, iptables: str,
                                                                                  message: list[str]) -> None:
    config = _file(tmp_path, CONFIG_HEAD + f"iptables: {iptables}\n")
    with pytest.raises(InputError) as info:
        _periods(config)
    assert [str(d) for d in info.value.diagnostics] == [f"{config}: {m}" for m in message]


@pytest.mark.parametrize(("iptables", "message"), [
    ("{minSyncPeriod: -5s}", "iptables.minSyncPeriod: -5s: must be greater than or equal to 0"),
    ("{syncPeriod: -5s}", "iptables.syncPeriod: -5s: must be greater than 0"),
    ("{minSyncPeriod: 40s}", "iptables.minSyncPeriod: 40s is longer than the sync period (30s, kube-proxy's "
     "default); expected at most that, or a longer iptables.syncPeriod"),
])
@pytest.mark.parametrize("command", [["rules", "-f", BOOTCAMP], ["demo", "--scenario", "bootcamp"],
                                     ["replay", BOOTCAMP],
                                     ["healthz", "-f", BOOTCAMP, "--node", "node1", "default/kubernetes-bootcamp"]])
def test_sync_periods_kube_proxy_refuses_stop_every_command_that_reads_the_file(
        tmp_path, capsys, command: list[str], iptables: str, message: str) -> None:
    """kube-proxy validates its sync periods before it starts, whatever else it is asked: rules and demo (which
    take no sync flags) refuse the file as replay does, before any output."""
    config = _file(tmp_path, CONFIG_HEAD + f"iptables: {iptables}\n")
    assert main([*command, "--config", config]) == 1
    captured = capsys.readouterr()
    if command[0] == "replay" and "40s" in message:  # (replay has the flag: it is named)
        message = message.replace("iptables.syncPeriod", "--iptables-sync-period")
    assert captured.out == "" and f"{config}: {message}" in captured.err


@pytest.mark.parametrize(("text", "seconds"), [
    ("0", 0.0), ("-0", 0.0), ("30s", 30.0), ("1m30s", 90.0), ("-1s", -1.0), ("+2h", 7200.0), (".5s", 0.5),
    ("1.s", 1.0), ("1h1m1s", 3661.0), ("500ms", 0.5), ("3us", 3e-6), ("3µs", 3e-6), ("3μs", 3e-6),
    ("30", None), ("1", None), ("s", None), (".s", None), ("", None), (" 30s", None), ("30s ", None),
    ("1d", None), ("forever", None), ("--1s", None),
])
def test_go_duration_reads_what_go_s_time_parse_duration_reads(text: str, seconds: float | None) -> None:
    assert go_duration(text) == seconds


# -- bindAddress / --bind-address: the primary node IP (cmd/kube-proxy/app/server.go detectNodeIPs) --

def _config(*argv: str):
    from kubeproxy_sim.cli.options import add_node_flags, build_config
    from kubeproxy_sim.objects.model import Cluster, Node, NodeAddress

    node = Node("n1", (NodeAddress("InternalIP", "192.168.49.2"), NodeAddress("InternalIP", "fd00::2")))
    parser = argparse.ArgumentParser()
    add_node_flags(parser)
    return build_config(parser.parse_args(list(argv)), Cluster(nodes=(node,)))


@pytest.mark.parametrize(("argv", "node_ips", "family"), [
    ([], ("192.168.49.2/32", "fd00::2/128"), "IPv4"),  # the Node object's: no override
    (["--bind-address", "0.0.0.0"], ("192.168.49.2/32", "fd00::2/128"), "IPv4"),  # unspecified: none
    (["--bind-address", "::"], ("192.168.49.2/32", "fd00::2/128"), "IPv4"),
    (["--bind-address", "fd00::2"], ("fd00::2/128", "192.168.49.2/32"), "IPv6"),  # its family is the primary one
    (["--bind-address", "192.168.049.002"], ("192.168.49.2/32", "fd00::2/128"), "IPv4"),  # (ParseIPSloppy)
    (["--node-ip", "10.0.0.5/24", "--node-ip", "10.0.0.6/24", "--bind-address", "10.0.0.6"],
     ("10.0.0.6/24", "10.0.0.5/24"), "IPv4"),  # over --node-ip too, keeping its prefix
    (["--bind-address", "fd00::2", "--ip-family", "ipv4"], ("fd00::2/128", "192.168.49.2/32"), "IPv4"),
])
def test_a_specified_bind_address_is_the_primary_node_ip(argv: list[str], node_ips, family: str) -> None:
    config, diags = _config(*argv)
    assert (config.node_ips, config.ip_family.value) == (node_ips, family)
    assert not [d for d in diags if d.field in ("--bind-address", "bindAddress")]


def test_the_file_s_bind_address_applies_and_the_flag_overrides_it(tmp_path) -> None:
    config = _file(tmp_path, CONFIG_HEAD + "bindAddress: 198.51.100.9\n")
    found, diags = _config("--config", config)
    assert found.node_ips == ("198.51.100.9/32", "192.168.49.2/32", "fd00::2/128")
    assert [str(d) for d in diags if d.field == "bindAddress"] == [
        f"{config}: bindAddress: note: 198.51.100.9 is not one of the node's addresses (192.168.49.2/32, "
        "fd00::2/128); kube-proxy takes it as the primary node IP all the same, and the simulator adds it to them"]
    found, _ = _config("--config", config, "--bind-address", "0.0.0.0")
    assert found.node_ips == ("192.168.49.2/32", "fd00::2/128")


def test_the_bind_address_decides_load_balancer_source_ranges_allow_from_node(tmp_path, capsys) -> None:
    """proxier.go: the node IP in a loadBalancerSourceRanges CIDR lets the node's own traffic in (-s LB IP)."""
    config = _file(tmp_path, CONFIG_HEAD + "bindAddress: 198.51.100.9\n")
    for argv in (["--config", config], ["--bind-address", "198.51.100.9"]):
        assert main(["rules", "--scenario", "upstream-load-balancer", *argv]) == 0
        assert "-s 1.2.3.4 -j KUBE-EXT-" not in capsys.readouterr().out
    assert main(["rules", "--scenario", "upstream-load-balancer"]) == 0
    assert "-s 1.2.3.4 -j KUBE-EXT-" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "status", "message"), [
    (["--bind-address", "foo"], 2, "--bind-address: 'foo' is not an IP address; expected e.g. 192.168.0.10 or "
     "fd00::10 (or 0.0.0.0, the default: no override)"),
    (["--bind-address", "10.0.0.1/24"], 2, "--bind-address: '10.0.0.1/24' is not an IP address"),
    (["--config", "BAD"], 1, "kp.yaml: bindAddress: 'foo' is not an IP address, which kube-proxy's validation "
     "refuses; expected e.g. 192.168.0.10 or fd00::10 (or 0.0.0.0, the default: no override)"),
])
def test_a_bind_address_that_is_not_an_ip_is_refused(tmp_path, capsys, argv: list[str], status: int,
                                                       message: str) -> None:
    config = _file(tmp_path, CONFIG_HEAD + "bindAddress: foo\n")
    argv = [config if a == "BAD" else a for a in argv]
    assert main(["rules", "-f", BOOTCAMP, *argv]) == status
    assert message in capsys.readouterr().err


# -- values kube-proxy refuses to start with (decoding, then pkg/proxy/apis/config/validation), one line each --

@pytest.mark.parametrize(("text", "messages"), [
    ("healthzBindAddress: not-an-addr\n", ["healthzBindAddress: 'not-an-addr': not IP:port, which kube-proxy's "
                                           "validation refuses; expected e.g. 0.0.0.0:10256"]),
    ("metricsBindAddress: 'foo:10249'\nhealthzBindAddress: '1.2.3.4:0'\n",
     ["healthzBindAddress: '1.2.3.4:0': the port '0' is not a port (1-65535), which kube-proxy's validation "
      "refuses; expected e.g. 0.0.0.0:10256",
      "metricsBindAddress: 'foo:10249': the host 'foo' is not an IP address, which kube-proxy's validation "
      "refuses; expected e.g. 0.0.0.0:10249"]),
    ("conntrack: {maxPerCore: -1, udpTimeout: foo, min: 1.5, tcpCloseWaitTimeout: -1h}\n",
     ["conntrack.maxPerCore: -1: must be greater than or equal to 0",
      "conntrack.min: expected a whole number, got a number 1.5",
      "conntrack.tcpCloseWaitTimeout: -3600s: must be greater than or equal to 0",
      "conntrack.udpTimeout: 'foo' is not a duration; expected e.g. 1s, 30s or 1m30s"]),
    ("oomScoreAdj: 5000\n", ["oomScoreAdj: 5000 is not within [-1000, 1000]"]),
    ("configSyncPeriod: -15m\n", ["configSyncPeriod: -900s: must be greater than 0"]),
    ("iptables: {syncPeriod: '30'}\n", ["iptables.syncPeriod: '30' is not a duration: kube-proxy decodes it with "
                                        "Go's time.ParseDuration, which needs a unit; expected e.g. 30s"]),
    ("clusterCIDR: ' 10.244.0.0/16'\n", ["clusterCIDR: ' 10.244.0.0/16' has spaces around it, which kube-proxy "
                                         "does not trim (its validation refuses it); expected CIDRs separated by "
                                         "commas alone (e.g. 10.244.0.0/16 or fd00:10:244::/56)"]),
    ("clusterCIDR: '10.244.0.0/16,'\n", ["clusterCIDR: '10.244.0.0/16,' has an empty entry (its validation "
                                         "refuses it); expected CIDRs separated by commas alone (e.g. "
                                         "10.244.0.0/16 or fd00:10:244::/56)"]),
    ("featureGates: {SomeGate: 'yes'}\n", ['featureGates.SomeGate: expected true or false, got a string "yes"']),
])
def test_values_kube_proxy_refuses_are_refused_naming_the_file_and_field(tmp_path, text: str,
                                                                        messages: list[str]) -> None:
    from kubeproxy_sim.cli.options import config_from_args
    from kubeproxy_sim.objects.model import Cluster

    config = _file(tmp_path, CONFIG_HEAD + text)
    with pytest.raises(InputError) as info:
        config_from_args(["--config", config], Cluster())
    assert [str(d) for d in info.value.diagnostics] == [f"{config}: {m}" for m in messages]


@pytest.mark.parametrize("text", [
    "healthzBindAddress: 0.0.0.0:10256\nmetricsBindAddress: '[::]:10249'\n",
    "healthzBindAddress: 127.0.0.1\nmetricsBindAddress: '::1'\n",  # (a bare IP gets kube-proxy's default port)
    "conntrack: {maxPerCore: 0, min: 131072, tcpEstablishedTimeout: 24h, udpTimeout: 0s}\noomScoreAdj: -999\n",
    "clusterCIDR: ' 10.244.0.0/16'\ndetectLocalMode: NodeCIDR\n",  # (validated in ClusterCIDR mode only)
    "featureGates: {WatchList: false, AllAlpha: true}\n",  # (known gates: tests/cli/test_feature_gates.py)
])
def test_values_kube_proxy_takes_pass(tmp_path, text: str) -> None:
    from kubeproxy_sim.cli.options import add_node_flags, check_node_settings

    parser = argparse.ArgumentParser()
    add_node_flags(parser)
    check_node_settings(parser.parse_args(["--config", _file(tmp_path, CONFIG_HEAD + text)]))  # raises on errors


def test_kubeadms_config_makes_rules_with_nothing_to_say_about_it(tmp_path, capsys) -> None:
    config = _file(tmp_path, KUBEADM)
    assert main(["rules", "-f", BOOTCAMP, "--config", config]) == 0
    assert "kp.yaml" not in capsys.readouterr().err


@pytest.mark.parametrize("command", [["rules", "--scenario", "bootcamp"], ["replay", BOOTCAMP]])
def test_standard_input_for_the_config_is_refused_by_name(capsys, command: list[str]) -> None:
    """``--config -`` said "No such file or directory" of '-', which -f reads as standard input; the file is read
    more than once, and a pipe only once."""
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--config", "-"])
    captured = capsys.readouterr()
    assert exit_info.value.code == 2 and captured.out == ""
    assert ("argument --config: '-': the configuration is read from a file, not standard input (it is read more than "
            "once); expected a KubeProxyConfiguration file") in captured.err


def test_a_missing_config_file_says_what_is_expected_there(tmp_path, capsys) -> None:
    """QA-errors: a missing --config file said only the system's "No such file or directory"."""
    missing = tmp_path / "kp.yaml"
    assert main(["rules", "-f", BOOTCAMP, "--config", str(missing)]) == 1
    assert capsys.readouterr().err == (f"kubeproxy-sim: {missing}: --config: cannot read it: No such file or "
                                       "directory; expected a KubeProxyConfiguration file\n")


# -- mode: validateProxyModeLinux accepts iptables, ipvs and nftables (NFTablesProxyMode is GA, locked) or blank --

@pytest.mark.parametrize(("mode", "what"), [
    ("bogus", "is not a proxy mode"), ("kernelspace", "is Windows' proxy mode"),
    ("userspace", "is not a proxy mode"),  # (removed in 1.26)
    ("IPTables", "is not a proxy mode"),  # (compared as written)
])
def test_a_mode_kube_proxy_on_linux_refuses_stops_the_command_naming_file_and_field(tmp_path, capsys, mode: str,
                                                                                   what: str) -> None:
    config = _file(tmp_path, CONFIG_HEAD + f"mode: {mode}\n")
    assert main(["rules", "-f", BOOTCAMP, "--hostname-override", "node1", "--config", config]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{config}: mode: '{mode}' {what}: kube-proxy on Linux refuses to start; expected iptables, ipvs or " \
           "nftables (blank means iptables)" in captured.err


@pytest.mark.parametrize(("mode", "plane"), [("ipvs", "IPVS virtual servers and ipsets"),
                                             ("nftables", "nftables tables (kube-proxy's own)")])
def test_an_ipvs_or_nftables_mode_warns_that_the_node_runs_another_data_plane(tmp_path, capsys, mode: str,
                                                                              plane: str) -> None:
    config = _file(tmp_path, CONFIG_HEAD + f"mode: {mode}\n")
    assert main(["rules", "-f", BOOTCAMP, "--hostname-override", "node1", "--config", config]) == 0
    captured = capsys.readouterr()
    assert "-A KUBE-SERVICES" in captured.out
    assert f"{config}: mode: warning: '{mode}': the real node runs another data plane ({plane}), not these " \
           "iptables rules; these answers are what an iptables-mode kube-proxy would write for the same objects" \
           in captured.err


@pytest.mark.parametrize("mode", ["iptables", "''"])
def test_iptables_or_blank_mode_says_nothing(tmp_path, capsys, mode: str) -> None:
    config = _file(tmp_path, CONFIG_HEAD + f"mode: {mode}\n")
    assert main(["rules", "-f", BOOTCAMP, "--hostname-override", "node1", "--config", config]) == 0
    assert "kp.yaml" not in capsys.readouterr().err
