"""--config's messages name the file and field, show the user's value whole or cut with its length said, and keep
saying what is expected however long the value is (QA-errors: messages were cut at 200 or 300 characters after
they were written, which dropped the "expected ..." part, and kind and apiVersion were shown as Python reprs)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.cli.config_file import KNOWN_FIELDS, NESTED_FIELDS, read_config_file
from kubeproxy_sim.cli.main import main
from kubeproxy_sim.errors import Severity
from tests.budget import budget

HEAD = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
PATH = "kp.yaml"
LONG = "x" * 300
CUT = f"'{'x' * 200}'... (300 characters)"


def _said(text: str) -> list[str]:
    return [str(d) for d in read_config_file(PATH, text)[1]]


@pytest.mark.parametrize(("body", "expected"), [
    (f"bindAddress: {LONG}\n", f"bindAddress: {CUT} is not an IP address, which kube-proxy's validation refuses; "
     "expected e.g. 192.168.0.10 or fd00::10 (or 0.0.0.0, the default: no override)"),
    (f"iptables: {{syncPeriod: {LONG}}}\n", f"iptables.syncPeriod: {CUT} is not a duration; expected e.g. 1s, 30s "
     "or 1m30s"),
    (f"iptables: {{syncPeriod: '{'9' * 300}'}}\n", f"iptables.syncPeriod: '{'9' * 200}'... (300 characters) is not "
     "a duration: kube-proxy decodes it with Go's time.ParseDuration, which needs a unit; expected e.g. "
     f"{'9' * 200}... (300 characters)s"),
    (f"healthzBindAddress: {LONG}\n", f"healthzBindAddress: {CUT}: not IP:port, which kube-proxy's validation "
     "refuses; expected e.g. 0.0.0.0:10256"),
    (f"clusterCIDR: '{LONG},'\n", f"clusterCIDR: '{'x' * 200}'... (301 characters) has an empty entry (its "
     "validation refuses it); expected CIDRs separated by commas alone (e.g. 10.244.0.0/16 or fd00:10:244::/56)"),
    (f"detectLocalMode: {LONG}\n", f"detectLocalMode: {CUT} is not a detect-local mode; expected ClusterCIDR, "
     "NodeCIDR, BridgeInterface, InterfaceNamePrefix"),
    # (a 300-digit integer is a float to go-yaml v2, past int64 and uint64; kube-proxy's decoding refuses it)
    (f"iptables: {{masqueradeBit: {'9' * 300}}}\n", "iptables.masqueradeBit: expected an integer in 0-31, got a "
     "number 1e+300"),
    (f"oomScoreAdj: -{'9' * 300}\n", "oomScoreAdj: expected a whole number in -1000..1000, got a number -1e+300"),
    ("nodePortAddresses: [true]\n", "nodePortAddresses[0]: expected a CIDR or 'primary', got a boolean true"),
    # (a gate named "null": a null key fails the conversion to JSON, see tests/objects/test_config_keys.py)
    ('featureGates: {"null": true}\n', "featureGates.null: unrecognized feature gate, which kube-proxy refuses to "
     "start with; expected one of "),
    (f"iptables: {{{LONG}: 1}}\n", f"iptables.{'x' * 200}... (300 characters): warning: unknown field of "
     "KubeProxyConfiguration; kube-proxy's strict decoding refuses it"),
])
def test_a_long_or_odd_value_keeps_what_is_expected(body: str, expected: str) -> None:
    (line,) = _said(HEAD + body)
    assert line.startswith(f"{PATH}: {expected}")


@pytest.mark.parametrize(("head", "expected"), [
    ("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: true\n", "kind: a boolean true; expected "
     "KubeProxyConfiguration"),
    ("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: [KubeProxyConfiguration]\n", 'kind: a list '
     '["KubeProxyConfiguration"]; expected KubeProxyConfiguration'),
    (f"apiVersion: {LONG}\nkind: KubeProxyConfiguration\n", f"apiVersion: {CUT}; kube-proxy decodes "
     "KubeProxyConfiguration only as kubeproxy.config.k8s.io/v1alpha1"),
    ("apiVersion: 1\nkind: KubeProxyConfiguration\n", "apiVersion: an integer 1; kube-proxy decodes "
     "KubeProxyConfiguration only as kubeproxy.config.k8s.io/v1alpha1"),
])
def test_kind_and_api_version_of_another_type_are_said_as_yaml_wrote_them(head: str, expected: str) -> None:
    assert _said(head) == [f"{PATH}: {expected}"]


def test_a_node_name_from_the_file_is_warned_of_by_the_file_and_field(tmp_path, capsys) -> None:
    """The warning named --hostname-override when the name was the file's hostnameOverride."""
    config = tmp_path / "kp.yaml"
    config.write_text(HEAD + "hostnameOverride: nodex\n")
    assert main(["rules", "--scenario", "bootcamp", "--config", str(config)]) == 0
    assert (f"kubeproxy-sim: {config}: hostnameOverride: warning: no Node object named 'nodex'; node facts come "
            "from flags only") in capsys.readouterr().err.splitlines()
    assert main(["rules", "--scenario", "bootcamp", "--config", str(config), "--hostname-override", "nodey"]) == 0
    assert ("kubeproxy-sim: --hostname-override: warning: no Node object named 'nodey'; node facts come from flags "
            "only") in capsys.readouterr().err.splitlines()


# -- any value at any field: never an exception, every line names the file and a field, none runs on -----------

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10 ** 400), max_value=10 ** 400),
                     st.floats(allow_nan=False), st.text(max_size=400),
                     st.sampled_from(["0", "30s", "-1s", "primary", "10.0.0.0/8", "1.2.3.4:80", "[::1]:80", ""]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.one_of(st.text(max_size=300), st.none(), st.integers()), inner,
                                         max_size=3), max_leaves=6)
_FIELDS = sorted(KNOWN_FIELDS - {"apiVersion", "kind"}) + [f"{section}.{field}" for section, fields in
                                                          NESTED_FIELDS.items() for field in sorted(fields)]
LONGEST_LINE = 900  # a value is shown at most 200 characters long (a few such in one line), plus the words


def _with(field: str, value: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration"}
    section, _, key = field.rpartition(".")
    (document.setdefault(section, {}) if section else document)[key] = value
    return document


@settings(max_examples=budget(100), deadline=None)
@given(fields=st.lists(st.tuples(st.sampled_from(_FIELDS), _VALUES), min_size=1, max_size=4))
def test_any_value_at_any_field_is_reported_by_file_and_field(fields: list[tuple[str, Any]]) -> None:
    document: dict[str, Any] = {}
    for field, value in fields:
        merged = _with(field, value)
        for key, part in merged.items():
            if isinstance(part, dict) and isinstance(document.get(key), dict):
                document[key].update(part)
            else:
                document[key] = part
    _, diagnostics = read_config_file(PATH, yaml.safe_dump(document))
    for diagnostic in diagnostics:
        line = str(diagnostic)
        assert diagnostic.file == PATH and diagnostic.field, line
        assert len(line) <= LONGEST_LINE, line
        if diagnostic.severity is Severity.ERROR and diagnostic.message.startswith("expected "):
            assert ", got " in diagnostic.message, line
