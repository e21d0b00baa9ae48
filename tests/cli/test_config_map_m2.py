"""``--config`` given kubeadm's kube-proxy ConfigMap itself (u1's walkthrough, item 6): it was refused
("kind: 'ConfigMap'; expected KubeProxyConfiguration") though the README said the ConfigMap is read as it is."""

from __future__ import annotations

import json

from kubeproxy_sim.cli.config_file import read_config_file
from kubeproxy_sim.cli.main import main

_CONF = ("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nclusterCIDR: 10.244.0.0/16\n"
         "iptables: {masqueradeBit: 15}\n")


def _config_map(conf: str) -> str:
    """The ConfigMap as ``kubectl -n kube-system get configmap kube-proxy -o yaml`` writes it (a literal block)."""
    body = "".join(f"    {line}\n" for line in conf.splitlines())
    return (f"apiVersion: v1\ndata:\n  config.conf: |-\n{body}  kubeconfig.conf: |-\n    apiVersion: v1\n"
            "    kind: Config\nkind: ConfigMap\nmetadata:\n  name: kube-proxy\n  namespace: kube-system\n")


def test_the_config_map_is_read_for_its_config_conf_with_a_note(capsys, tmp_path) -> None:
    config = tmp_path / "kp-cm.yaml"
    config.write_text(_config_map(_CONF))
    status = main(["rules", "--scenario", "bootcamp", "--config", str(config)])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "-m mark --mark 0x8000/0x8000" in out  # config.conf's masqueradeBit
    assert err == (f'kubeproxy-sim: {config}: data["config.conf"]: note: a ConfigMap: its config.conf, kubeadm\'s '
                   "kube-proxy configuration, is read as the KubeProxyConfiguration (its lines are the file's)\n")


def test_a_problem_in_a_literal_config_conf_is_at_the_files_line_and_column(tmp_path) -> None:
    config = tmp_path / "kp-cm.yaml"
    config.write_text(_config_map(_CONF + "mode: ipvs\nmode: iptables\n"))
    settings, found = read_config_file(str(config))
    assert settings["masquerade_bit"] == 15
    assert [(d.severity.value, d.line) for d in found] == [("note", None), ("warning", 9)]
    assert config.read_text().splitlines()[8] == "    mode: iptables"  # line 9, where the key is given again
    text = _config_map(_CONF + "mode: [ipvs\n")
    problem = read_config_file(str(config), text)[1][-1]  # (the flow sequence unclosed: at its line's end)
    assert (problem.line, "at column 16 (in config.conf)" in problem.message) == (8, True)


def test_a_config_map_as_json_is_read_too_and_its_problems_say_config_conf(tmp_path) -> None:
    config = tmp_path / "kp-cm.json"
    conf = _CONF.replace("KubeProxyConfiguration", "KubeProxyConfig")
    config.write_text(json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "data": {"config.conf": conf}}))
    settings, found = read_config_file(str(config))
    assert settings == {}
    assert [str(d) for d in found] == [
        f'{config}: data["config.conf"]: note: a ConfigMap: its config.conf, kubeadm\'s kube-proxy configuration, '
        "is read as the KubeProxyConfiguration (lines are counted from config.conf's first)",
        f"{config}: kind: 'KubeProxyConfig'; expected KubeProxyConfiguration (in config.conf)",
    ]


def test_a_config_map_without_config_conf_is_an_error_naming_its_keys(capsys, tmp_path) -> None:
    config = tmp_path / "cm.yaml"
    config.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {kubeconfig.conf: x, b: y}\n")
    assert main(["rules", "--scenario", "bootcamp", "--config", str(config)]) == 1
    assert capsys.readouterr().err == (
        f'kubeproxy-sim: {config}: data["config.conf"]: is not set (its data keys: b, kubeconfig.conf); expected '
        "kube-proxy's ConfigMap, whose config.conf holds the KubeProxyConfiguration (or that KubeProxyConfiguration "
        "alone)\n")
    config.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    assert "is not set (it has no data)" in str(read_config_file(str(config))[1][0])
