"""replay --metrics's Prometheus lines are kube-proxy's /metrics samples: client_golang's order (families by name, a
family's series by label values, labels by name) and expfmt's writeFloat of the float64 each gauge and counter holds
(Go's strconv.FormatFloat(v, 'g', -1, 64): a million rules is 1e+06)."""

from __future__ import annotations

import pytest

from kubeproxy_sim.proxier.partial import SyncMetrics, prometheus_value

GO_FORMATTED = [
    # printed by Go 1.19 (/usr/bin/go): fmt.Println(strconv.FormatFloat(f, 'g', -1, 64)) of each value
    (0, "0"), (1, "1"), (5, "5"), (100000, "100000"), (999999, "999999"), (1000000, "1e+06"),
    (1234567, "1.234567e+06"), (12345678, "1.2345678e+07"), (1e21, "1e+21"), (0.0001, "0.0001"), (0.00001, "1e-05"),
    (1.764523456789e+09, "1.764523456789e+09"), (1700000001.25, "1.70000000125e+09"),
]


@pytest.mark.parametrize(("value", "text"), GO_FORMATTED)
def test_values_are_gos_g_format(value: float, text: str) -> None:
    assert prometheus_value(value) == text


@pytest.mark.parametrize(("value", "text"), [(-0.0, "0"), (-1, "-1"), (float("nan"), "NaN"), (float("inf"), "+Inf"),
                                             (float("-inf"), "-Inf")])
def test_writefloats_own_cases(value: float, text: str) -> None:
    assert prometheus_value(value) == text  # expfmt writeFloat: f == 0 (so -0 too), ±1, NaN, ±Inf spelled out


def test_lines_come_in_client_golangs_order_with_sorted_labels() -> None:
    metrics = SyncMetrics(full=True, filter_rules=1_000_000, nat_rules_synced=1_234_567, nat_rules_total=2_000_000,
                          deleted_chains=0, no_local_endpoints_internal=3, no_local_endpoints_external=0,
                          restore_failures=2, partial_restore_failures=1, last_timestamp_seconds=1_764_523_456.789)
    assert metrics.prometheus("IPv6") == [
        'kubeproxy_sync_proxy_rules_iptables_last{ip_family="IPv6",table="filter"} 1e+06',
        'kubeproxy_sync_proxy_rules_iptables_last{ip_family="IPv6",table="nat"} 1.234567e+06',
        'kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total{ip_family="IPv6"} 1',
        'kubeproxy_sync_proxy_rules_iptables_restore_failures_total{ip_family="IPv6"} 2',
        'kubeproxy_sync_proxy_rules_iptables_total{ip_family="IPv6",table="filter"} 1e+06',
        'kubeproxy_sync_proxy_rules_iptables_total{ip_family="IPv6",table="nat"} 2e+06',
        'kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv6"} 1.764523456789e+09',
        'kubeproxy_sync_proxy_rules_no_local_endpoints_total{ip_family="IPv6",traffic_policy="external"} 0',
        'kubeproxy_sync_proxy_rules_no_local_endpoints_total{ip_family="IPv6",traffic_policy="internal"} 3',
    ]


def test_before_any_applied_restore_only_the_rule_counts() -> None:
    metrics = SyncMetrics(full=True, filter_rules=4, nat_rules_synced=9, nat_rules_total=9, deleted_chains=0,
                          no_local_endpoints_internal=0, no_local_endpoints_external=0, restore_failures=0,
                          partial_restore_failures=0, last_timestamp_seconds=None)
    assert metrics.prometheus() == [
        'kubeproxy_sync_proxy_rules_iptables_last{ip_family="IPv4",table="filter"} 4',
        'kubeproxy_sync_proxy_rules_iptables_last{ip_family="IPv4",table="nat"} 9',
        'kubeproxy_sync_proxy_rules_iptables_total{ip_family="IPv4",table="filter"} 4',
        'kubeproxy_sync_proxy_rules_iptables_total{ip_family="IPv4",table="nat"} 9',
    ]
