"""The packages import one another one way only, as the README's Layout section says.

Every import form counts: ``import kubeproxy_sim.x``, ``from kubeproxy_sim import x``, relative imports
(``from ..x import y``), function-local ones and ``importlib.import_module("kubeproxy_sim.x")``. A package or
top-level module this table does not know fails the test, so a new one gets a place in the order.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "kubeproxy_sim"
ALLOWED = {
    "errors": set(),
    "durations": set(),
    "signals": set(),
    "builtin_folder": set(),
    "objects": {"errors"},
    "netfilter": {"errors", "objects"},
    "proxier": {"errors", "objects", "netfilter"},
    "controllers": {"errors", "objects"},
    "graph": {"errors", "netfilter"},
    "watch": {"errors", "objects", "netfilter", "proxier"},
    "simulator": {"errors", "objects", "netfilter", "proxier"},
    "analysis": {"errors", "objects", "netfilter", "proxier", "simulator"},
    "kernel": {"errors", "objects", "netfilter", "proxier", "simulator", "analysis"},
}
ANYTHING = {"cli", "__init__", "__main__"}  # the command line sits on top; the package's entry points
SHARED = {"durations", "signals", "builtin_folder"}  # leaves every layer may use (builtin_folder: pathlib only)


def _top(dotted: str) -> str | None:
    """The first part under kubeproxy_sim of an absolute module name, or None for another package."""
    parts = dotted.split(".")
    return parts[1] if parts[0] == "kubeproxy_sim" and len(parts) > 1 else None


def imported(path: Path, root: Path = PACKAGE) -> Iterator[str]:
    """The kubeproxy_sim parts (``objects``, ``cli``, ...) a module of the package at ``root`` imports."""
    here = path.relative_to(root.parent).with_suffix("").parts  # ("kubeproxy_sim", "objects", "load")
    package = here if path.name == "__init__.py" else here[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from filter(None, (_top(alias.name) for alias in node.names))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                base = ".".join([*package[:len(package) - node.level + 1], *([base] if base else [])])
            if base == "kubeproxy_sim":
                yield from (alias.name for alias in node.names)
            elif (top := _top(base)) is not None:
                yield top
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) \
                == "import_module" and node.args and isinstance(node.args[0], ast.Constant):
            if (top := _top(str(node.args[0].value))) is not None:
                yield top
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                node.value.id == "kubeproxy_sim":
            yield node.attr  # import kubeproxy_sim; kubeproxy_sim.watch.something


def test_no_package_imports_one_after_it() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        owner = parts[0] if len(parts) > 1 else path.stem
        if owner in ANYTHING:
            continue
        if owner not in ALLOWED:
            wrong.append(f"{path.relative_to(PACKAGE.parent)}: kubeproxy_sim.{owner} has no place in ALLOWED")
            continue
        for used in set(imported(path)) - {owner} - SHARED:
            if used not in ALLOWED[owner] and used != "__version__":
                wrong.append(f"{path.relative_to(PACKAGE.parent)} imports kubeproxy_sim.{used}")
    assert not wrong, "\n".join(wrong)


def test_every_import_form_is_seen(tmp_path: Path) -> None:
    """The forms a line regex misses: each must be found, or the guard above is blind to it."""
    source = ("from kubeproxy_sim import cli\nfrom ..simulator import network\nimport importlib\n"
              "importlib.import_module('kubeproxy_sim.kernel.build')\nimport kubeproxy_sim\nkubeproxy_sim.watch\n"
              "def f():\n    from kubeproxy_sim.analysis import exact\n")
    fake = tmp_path / "kubeproxy_sim" / "objects" / "model.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(source)
    assert set(imported(fake, tmp_path / "kubeproxy_sim")) == {"cli", "simulator", "kernel", "watch", "analysis"}
