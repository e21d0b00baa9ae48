"""--config input the YAML reader would trip on: deep nesting (and duplicate keys, as kube-proxy's strict decoding)."""

from __future__ import annotations

import sys

import pytest

from kubeproxy_sim.cli.options import config_from_args
from kubeproxy_sim.errors import InputError
from kubeproxy_sim.objects.model import Cluster

CONFIG_HEAD = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"


def _problems(tmp_path, text: str) -> list[str]:
    path = tmp_path / "kp.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        config_from_args(["--config", str(path)], Cluster())
    return [str(d).replace(str(path), "kp.yaml") for d in info.value.diagnostics]


@pytest.mark.parametrize("depth", [1_500, 3_000])
def test_a_config_nested_too_deeply_is_a_syntax_error_naming_the_file(tmp_path, depth: int) -> None:
    assert _problems(tmp_path, CONFIG_HEAD + "featureGates: " + "[" * depth + "]" * depth + "\n") == [
        f"kp.yaml: syntax error: exceeded maximum nesting depth (the YAML reader follows fewer than "
        f"{sys.getrecursionlimit()} levels)"]
