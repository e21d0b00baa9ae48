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


@pytest.mark.parametrize(("text", "seconds"), [
    ("0", 0.0), ("-0", 0.0), ("30s", 30.0), ("1m30s", 90.0), ("-1s", -1.0), ("+2h", 7200.0), (".5s", 0.5),
    ("1.s", 1.0), ("1h1m1s", 3661.0), ("500ms", 0.5), ("3us", 3e-6), ("3µs", 3e-6), ("3μs", 3e-6),
    ("30", None), ("1", None), ("s", None), (".s", None), ("", None), (" 30s", None), ("30s ", None),
    ("1d", None), ("forever", None), ("--1s", None),
])
def test_go_duration_reads_what_go_s_time_parse_duration_reads(text: str, seconds: float | None) -> None:
    assert go_duration(text) == seconds
