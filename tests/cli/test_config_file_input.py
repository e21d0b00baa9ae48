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


def test_a_key_given_twice_is_a_warning_and_the_last_one_wins_as_kube_proxy_decodes_it(tmp_path) -> None:
    """kube-proxy's strict decoding fails on a duplicate key (sigs.k8s.io/yaml's YAMLToJSONStrict), and
    kube-proxy then decodes leniently (logging why), where the last one wins: so does this, with a warning."""
    from argparse import ArgumentParser

    from kubeproxy_sim.cli.options import add_node_flags, build_config

    path = tmp_path / "kp.yaml"
    path.write_text(CONFIG_HEAD + "iptables: {masqueradeBit: 14}\niptables:\n  masqueradeBit: 12\n"
                    "  masqueradeBit: 13\n")
    parser = ArgumentParser()
    add_node_flags(parser)
    config, diags = build_config(parser.parse_args(["--config", str(path)]), Cluster())
    assert config.masquerade_bit == 13
    assert [str(d) for d in diags if d.file] == [
        f'{path}:{line}: warning: mapping key "{key}" already defined at line {first}; kube-proxy\'s strict '
        "decoding refuses it, and its lenient decoding keeps the last"
        for line, key, first in ((4, "iptables", 3), (6, "masqueradeBit", 5))]


@pytest.mark.parametrize(("member", "number", "field"), [
    ('"iptables": {"masqueradeBit": %s}', "1e400", "iptables.masqueradeBit"),
    ('"featureGates": {"x": [1, %s]}', "-2E+999", "featureGates.x[1]"),
])
def test_a_json_number_past_a_float_is_out_of_range_not_a_string(tmp_path, member: str, number: str,
                                                                  field: str) -> None:
    """QA-errors: the YAML reader took a JSON config's 1e400 for the string "1e400" (said 'got a string'); kube-proxy
    decodes a JSON file as JSON, where Go's float parsing refuses it and the decoding of the file fails."""
    text = ('{"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration", "clusterCIDR": '
            f'"10.0.0.0/8", {member % number}, "conntrack": {{"min": 1e400}}}}')
    assert _problems(tmp_path, text) == [
        f"kp.yaml: {field}: {number} is a number out of range (a 64-bit float reaches about ±1.8e308); kube-proxy's "
        "JSON decoding refuses the file"]


def test_a_config_given_by_process_substitution_is_read_once(capsys, tmp_path) -> None:
    """``rules --config <(cat cfg.yaml)`` said 'expected a KubeProxyConfiguration mapping, got nothing': the node
    settings read the file, then the sync periods read it again (r5); every command reads it once now."""
    from kubeproxy_sim.cli.main import main
    from tests.cli._fifo import fifo_giving

    fifo = tmp_path / "fd63"
    with fifo_giving(fifo, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
                           "iptables: {masqueradeBit: 15}\n"):
        status = main(["rules", "--scenario", "bootcamp", "--config", str(fifo)])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "-m mark --mark 0x8000/0x8000" in out


def test_a_config_given_by_process_substitution_that_cannot_be_read_says_why(capsys, tmp_path) -> None:
    """A first reading that fails is kept, with its reason, where the file is used: read again there, the pipe gave
    nothing, and the command said 'expected a KubeProxyConfiguration mapping, got nothing' of a file that is not
    UTF-8."""
    from kubeproxy_sim.cli.main import main
    from tests.cli._fifo import fifo_giving

    fifo = tmp_path / "fd63"
    with fifo_giving(fifo, b"kind: \xff\n"):
        status = main(["rules", "--scenario", "bootcamp", "--config", str(fifo)])
    out, err = capsys.readouterr()
    assert (status, out) == (1, "")
    assert err == (f"kubeproxy-sim: {fifo}: --config: cannot read it: not UTF-8 text (invalid start byte at byte 6); "
                   "expected a KubeProxyConfiguration file\n")


def test_a_config_that_cannot_be_read_is_kept_as_its_reason_without_a_traceback(tmp_path) -> None:
    """with_config_read keeps why the --config file could not be read, for where it is used: without its traceback
    (whose frames, and their locals, would live as long as the arguments), read through the one typed accessor."""
    from kubeproxy_sim.cli.main import build_parser
    from kubeproxy_sim.cli.options import config_text, with_config_read

    config = tmp_path / "kp.yaml"
    config.write_bytes(b"kind: \xff\n")
    args = with_config_read(build_parser().parse_args(["rules", "-f", str(tmp_path), "--config", str(config)]))
    failure = config_text(args)
    assert isinstance(failure, UnicodeDecodeError) and failure.__traceback__ is None
    config.write_text("kind: KubeProxyConfiguration\n")
    assert config_text(with_config_read(args, again=True)) == "kind: KubeProxyConfiguration\n"
    assert config_text(build_parser().parse_args(["rules", "-f", str(tmp_path)])) is None
