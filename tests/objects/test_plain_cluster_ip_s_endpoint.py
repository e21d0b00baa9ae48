"""decode._plain_cluster_ip, the common single-IPv4 cluster IP read without the checked path: for every spec,
decode._cluster_ips returns and reports the same with it as with the checked path alone."""

from __future__ import annotations

from typing import Any

import pytest

from kubeproxy_sim.objects import decode
from kubeproxy_sim.objects.model import ServiceType
from kubeproxy_sim.objects.report import Report

SPECS: list[dict[str, Any]] = [
    {"clusterIP": "10.96.0.1"},
    {"clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"]},
    {"clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"], "ipFamilies": ["IPv4"]},
    {"clusterIP": "10.96.0.1", "ipFamilies": ["IPv6"]},
    {"clusterIP": "10.96.0.1", "ipFamilies": ["IPv4", "IPv6"]},
    {"clusterIP": "10.96.0.1", "ipFamilies": ["ipv4"]},
    {"clusterIP": "10.96.0.1", "ipFamilies": [["IPv4"]]},
    {"clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.2"]},
    {"clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1", "fd00::1"]},
    {"clusterIP": "10.96.0.1", "clusterIPs": [1]},
    {"clusterIP": "10.96.0.1", "clusterIPs": "10.96.0.1"},
    {"clusterIP": "010.96.0.1"},
    {"clusterIP": "10.96.0.256"},
    {"clusterIP": "0.0.0.0"},
    {"clusterIP": "127.0.0.1"},
    {"clusterIP": "fd00::1"},
    {"clusterIP": "None"},
    {"clusterIP": ""},
    {"clusterIP": 7},
    {},
]


def _read(spec: dict[str, Any], svc_type: ServiceType) -> tuple[object, list[str]]:
    report = Report("t.yaml", "Service", "ns/s")
    result = decode._cluster_ips(report, spec, svc_type)
    return result, [str(d) for d in report.diagnostics]


@pytest.mark.parametrize("spec", SPECS, ids=repr)
@pytest.mark.parametrize("svc_type", [ServiceType.CLUSTER_IP, ServiceType.NODE_PORT])
def test_the_plain_cluster_ip_is_the_checked_path_s(spec: dict[str, Any], svc_type: ServiceType,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _read(spec, svc_type)
    monkeypatch.setattr(decode, "_plain_cluster_ip", lambda *_: None)
    assert fast == _read(spec, svc_type)


def test_the_plain_cluster_ip_takes_the_common_service() -> None:
    assert decode._plain_cluster_ip("10.96.0.1", [], []) == (("10.96.0.1",), decode._IPV4_ONLY, "10.96.0.1")
    assert decode._plain_cluster_ip("010.96.0.1", [], []) is None
