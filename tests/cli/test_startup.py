"""The CLI starts fast: building the parser (what --help and every command do first) imports no heavy module."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("scapy", "pyroute2", "kubernetes", "graphviz")


def test_parser_imports_no_heavy_module() -> None:
    code = (
        "import sys; from kubeproxy_sim.cli.main import build_parser; build_parser(); "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_command_s_help_loads_no_manifest_reader_or_rule_family() -> None:
    """Flag parsing needs the model and the config, not YAML, the decoders or the generator."""
    code = ("import sys; from kubeproxy_sim.cli.main import build_parser; build_parser('rules'); "
            "print(sorted(m for m in ('yaml', 'kubeproxy_sim.objects.load', 'kubeproxy_sim.proxier.sync') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_rules_from_json_loads_no_yaml_reader(tmp_path) -> None:
    """A JSON input (how a large cluster comes) pays for neither PyYAML nor the YAML splitter."""
    listing = tmp_path / "cluster.json"
    listing.write_text('{"apiVersion": "v1", "kind": "List", "items": []}')
    code = (f"import sys; from kubeproxy_sim.cli.main import main; main(['rules', '-f', {str(listing)!r}]); "
            "print(sorted(m for m in ('yaml', 'kubeproxy_sim.objects.yamlsplit') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "[]"


def test_help_lists_the_commands() -> None:
    out = subprocess.run([sys.executable, "-m", "kubeproxy_sim", "--help"], capture_output=True, text=True,
                         check=True).stdout
    assert "rules" in out and "demo" in out


def test_a_command_builds_only_its_own_parser() -> None:
    from kubeproxy_sim.cli.main import build_parser

    def commands(parser: object) -> list[str]:
        return sorted(parser._subparsers._group_actions[0].choices)  # type: ignore[attr-defined]

    assert commands(build_parser("rules")) == ["rules"]
    assert len(commands(build_parser("no-such-command"))) == len(commands(build_parser())) >= 13


def test_options_before_the_command_still_work(capsys: object) -> None:
    from kubeproxy_sim.cli.main import main

    assert main(["--color", "never", "rules", "--scenario", "bootcamp"]) == 0
    assert main(["rules", "--scenario", "bootcamp"]) == 0


def test_the_command_word_is_found_past_top_level_options() -> None:
    from kubeproxy_sim.cli.main import _command_word

    assert _command_word(["--color", "never", "rules", "-f", "x"]) == "rules"
    assert _command_word(["--color=never", "trace"]) == "trace"
    assert _command_word(["--version"]) == "--version"  # builds no command's parser at all
    assert _command_word(["--help", "rules"]) is None and _command_word([]) is None
