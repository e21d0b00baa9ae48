"""The packages import one another one way only, as the README's Layout section says."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "kubeproxy_sim"
ALLOWED = {
    "errors": set(),
    "durations": set(),
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
IMPORT = re.compile(r"^\s*(?:from|import) kubeproxy_sim\.(\w+)", re.M)


def test_no_package_imports_one_after_it() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        owner = parts[0] if len(parts) > 1 else path.stem
        if owner not in ALLOWED:
            continue  # cli (imports anything) and the package's own entry points
        for used in set(IMPORT.findall(path.read_text(encoding="utf-8"))) - {owner, "durations"}:
            if used not in ALLOWED[owner]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)} imports kubeproxy_sim.{used}")
    assert not wrong, "\n".join(wrong)
