"""Every argparse parser the package builds takes options only by their whole names, as pflag does."""

from __future__ import annotations

import argparse
import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import build_parser
from kubeproxy_sim.cli.options import add_node_flags
from kubeproxy_sim.cli.parsers import Parser

PACKAGE = Path(__file__).resolve().parents[2] / "kubeproxy_sim"
TOOLS = PACKAGE.parent / "tools"


Named = tuple[str, argparse.ArgumentParser]


def _tree(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> Iterator[Named]:
    """The parser and, through its subcommands, every command's and verb's parser, by their words."""
    yield " ".join(words) or "top-level", parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _tree(sub, (*words, name))


@pytest.mark.parametrize(("words", "parser"), list(_tree(build_parser())), ids=lambda value: str(value)[:40])
def test_every_command_s_parser_is_the_one_kind(words: str, parser: argparse.ArgumentParser) -> None:
    assert isinstance(parser, Parser) and parser.allow_abbrev is False, words


def _constructions(path: Path) -> Iterator[tuple[str, ast.AST]]:
    """Where the module builds an ArgumentParser (a call) or a class of its own over one (a subclass), with
    the node that does."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            names = [node.func]
        elif isinstance(node, ast.ClassDef):
            names = list(node.bases)
        else:
            continue
        for name in names:
            if (name.attr if isinstance(name, ast.Attribute) else getattr(name, "id", None)) == "ArgumentParser":
                yield f"{path.relative_to(PACKAGE.parent)}:{node.lineno}", node


def test_no_module_builds_an_argparse_parser_but_through_parsers() -> None:
    """The helper parsers (a scenario's args, its node name, a node's config from a list of flags) are not in the
    commands' tree: every ArgumentParser the package makes or subclasses must be cli.parsers' Parser."""
    found = [where for path in sorted(PACKAGE.rglob("*.py")) for where, _ in _constructions(path)]
    assert [where for where in found if not where.startswith("kubeproxy_sim/cli/parsers.py:")] == []
    assert found, "the scan found not even Parser's own base"


def test_the_parser_refuses_an_abbreviation_even_when_asked_to_take_them() -> None:
    parser = Parser(add_help=False, allow_abbrev=True)
    add_node_flags(parser)
    values, extra = parser.parse_known_args(["--masq", "--hostname", "node1"])
    assert extra == ["--masq", "--hostname", "node1"] and values.masquerade_all is None


def _abbrev_off(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and any(
        k.arg == "allow_abbrev" and isinstance(k.value, ast.Constant) and k.value.value is False for k in node.keywords)


def test_the_maintainer_scripts_take_whole_option_names_too() -> None:
    """tools/ builds its parsers with Parser, or, in a script that imports nothing of the package, with
    ``allow_abbrev=False``: a prefix taken there (``--chec``) would work in one script and not on the CLI."""
    scripts = sorted(TOOLS.glob("*.py"))
    assert scripts, TOOLS
    assert [where for path in scripts for where, node in _constructions(path) if not _abbrev_off(node)] == []


@pytest.mark.parametrize(("script", "argv", "prefix"), [
    ("gen_scale", ["--services", "1", "--endpoints", "1", "--form", "json"], "--form"),
    ("gen_services", ["--chec"], "--chec"), ("readme_tour", ["--chec"], "--chec"),
    ("regen_goldens", ["--chec"], "--chec"), ("bench", ["--quic"], "--quic"),
])
def test_a_maintainer_script_refuses_an_abbreviation(script: str, argv: list[str], prefix: str) -> None:
    import subprocess
    import sys

    # (the timeout guards against a script that takes the prefix and runs: it is no speed figure)
    done = subprocess.run([sys.executable, str(TOOLS / f"{script}.py"), *argv], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and f"unrecognized arguments: {prefix}" in done.stderr, done.stderr
