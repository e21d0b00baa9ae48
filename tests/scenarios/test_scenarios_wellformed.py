"""Every scenario folder under rulesets/ follows the format rulesets/README.md defines.

The golden tests compare rules byte for byte; these checks make sure a scenario
is usable before that: that its files exist, parse, and say what they claim
(a malformed flow or a typo in a flag would otherwise surface as a confusing
golden mismatch, or not at all).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import netaddr
import pytest
import yaml

RULESETS = Path(__file__).resolve().parents[2] / "rulesets"
REQUIRED_FILES = ("README.md", "objects.yaml", "scenario.yaml", "flows.yaml")
SCENARIO_KEYS = {"description", "args", "upstream", "unsupported", "dual-stack"}
FLOW_KEYS = {"name", "src", "dst", "dport", "proto", "output", "masq"}
FLOW_REQUIRED = {"name", "src", "dst", "dport", "output"}
PROTOCOLS = {"tcp", "udp", "sctp"}
VERDICTS = {"", "DROP", "REJECT", "ACCEPT"}
KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
DESTINATION = re.compile(r"^(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<v4>[0-9.]+)):(?P<port>\d+)$")
RULE_LINE = re.compile(r"^(?:\*(?:filter|nat|mangle|raw)|:\S+ - \[0:0\]|-A \S+( .*)?|-X \S+|COMMIT)$")
UPSTREAM_NODE_ARGS = ["--hostname-override", "test-node"]

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml is installed in the project env
    _Loader = yaml.SafeLoader


def _folders() -> list[Path]:
    return sorted(p for p in RULESETS.iterdir() if p.is_dir() and not p.name.startswith("."))


FOLDERS = _folders()
IDS = [p.name for p in FOLDERS]


def _load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)


def _is_ip(text: object) -> bool:
    if not isinstance(text, str):
        return False
    try:
        netaddr.IPAddress(text)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return False
    return True


def _object_problems(doc: object, where: str) -> list[str]:
    """Why one manifest would not be accepted by `kubectl apply`-style loading."""
    if not isinstance(doc, dict):
        return [f"{where}: not a mapping"]
    problems = [f"{where}: missing {key}" for key in ("apiVersion", "kind", "metadata") if key not in doc]
    if problems:
        return problems
    kind = doc["kind"]
    if isinstance(kind, str) and kind.endswith("List"):
        items = doc.get("items")
        if not isinstance(items, list):
            return [f"{where}: {kind} without an items list"]
        for index, item in enumerate(items):
            problems += _object_problems(item, f"{where}.items[{index}]")
        return problems
    metadata = doc["metadata"]
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
        problems.append(f"{where}: metadata.name missing")
    if kind == "EndpointSlice":
        labels = metadata.get("labels") or {}
        if "kubernetes.io/service-name" not in labels:
            problems.append(f"{where}: EndpointSlice without the kubernetes.io/service-name label")
        if doc.get("addressType") not in {"IPv4", "IPv6", "FQDN"}:
            problems.append(f"{where}: EndpointSlice addressType {doc.get('addressType')!r}")
    return problems


def _output_problems(output: object) -> list[str]:
    """`output` is a verdict or a comma-separated list of IP:port (IPv6 in brackets)."""
    if not isinstance(output, str):
        return [f"output {output!r} is not a string"]
    if output in VERDICTS:
        return []
    problems = []
    for part in output.split(", "):
        match = DESTINATION.match(part)
        address = match and (match.group("v6") or match.group("v4"))
        if not match or not _is_ip(address) or not 0 < int(match.group("port")) < 65536:
            problems.append(f"output part {part!r} is not IP:port")
    return problems


def _flow_problems(index: int, item: object) -> list[str]:
    where = f"flow[{index}]"
    if not isinstance(item, dict):
        return [f"{where}: not a mapping"]
    problems = [f"{where}: unknown key {key!r}" for key in sorted(set(item) - FLOW_KEYS)]
    problems += [f"{where}: missing {key!r}" for key in sorted(FLOW_REQUIRED - set(item))]
    if problems:
        return problems
    if not isinstance(item["name"], str) or not item["name"]:
        problems.append(f"{where}: empty name")
    for key in ("src", "dst"):
        if not _is_ip(item[key]):
            problems.append(f"{where}: {key} {item[key]!r} is not an IP address")
    dport = item["dport"]
    if not isinstance(dport, int) or isinstance(dport, bool) or not 0 < dport < 65536:
        problems.append(f"{where}: dport {dport!r} is not a port number")
    if item.get("proto", "tcp") not in PROTOCOLS:
        problems.append(f"{where}: proto {item['proto']!r} is not one of {sorted(PROTOCOLS)}")
    if not isinstance(item.get("masq", False), bool):
        problems.append(f"{where}: masq {item['masq']!r} is not a boolean")
    problems += [f"{where}: {p}" for p in _output_problems(item["output"])]
    return problems


def test_there_are_scenarios() -> None:
    assert len(FOLDERS) >= 10


def test_folder_names_are_unique_kebab_case() -> None:
    bad = [name for name in IDS if not KEBAB.match(name)]
    assert not bad, f"not kebab-case: {bad}"
    lowered = [name.lower() for name in IDS]
    assert len(set(lowered)) == len(lowered)


def test_readme_table_lists_every_scenario() -> None:
    """The table at the end of rulesets/README.md is the index; a folder missing from it is lost."""
    readme = (RULESETS / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| \[?`?([a-z0-9-]+)`?", readme, flags=re.MULTILINE))
    missing = [name for name in IDS if name not in listed]
    assert not missing, f"not in the rulesets/README.md scenario table: {missing}"


@pytest.mark.parametrize("folder", FOLDERS, ids=IDS)
def test_required_files_exist(folder: Path) -> None:
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    assert not missing, f"{folder.name}: missing {missing}"


@pytest.mark.parametrize("folder", FOLDERS, ids=IDS)
def test_readme_describes_the_scenario(folder: Path) -> None:
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert text.startswith(f"# {folder.name}\n"), "README.md starts with '# <folder name>'"
    body = text.split("\n", 1)[1].strip()
    assert len(body) > 40, "README.md says what the scenario shows and where it comes from"


@pytest.mark.parametrize("folder", FOLDERS, ids=IDS)
def test_objects_are_manifests(folder: Path) -> None:
    docs = [d for d in yaml.load_all((folder / "objects.yaml").read_text(encoding="utf-8"), Loader=_Loader)
            if d is not None]
    assert docs, "objects.yaml holds at least one object"
    problems: list[str] = []
    for index, doc in enumerate(docs):
        problems += _object_problems(doc, f"document {index}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("folder", FOLDERS, ids=IDS)
def test_scenario_yaml(folder: Path) -> None:
    scenario = _load_yaml(folder / "scenario.yaml")
    assert isinstance(scenario, dict), "scenario.yaml is a mapping"
    assert not set(scenario) - SCENARIO_KEYS, f"unknown keys {sorted(set(scenario) - SCENARIO_KEYS)}"
    description = scenario.get("description")
    assert isinstance(description, str) and description.strip(), "description: one line"
    assert "\n" not in description.strip()
    args = scenario.get("args")
    assert isinstance(args, list) and all(isinstance(a, str) for a in args), "args: a list of strings"
    flags = [a for a in args if a.startswith("--")]
    assert flags, "args holds at least one flag"
    assert all(re.match(r"^--[a-z][a-z0-9-]*(=.*)?$", f) for f in flags), f"odd flag spelling in {flags}"
    if "unsupported" in scenario:
        assert scenario["unsupported"], "unsupported: lists what no flag expresses"
    if "dual-stack" in scenario:
        assert scenario["dual-stack"] is True, "dual-stack: true, or no key"
        picked = [f for f in flags if f.partition("=")[0] == "--ip-family"]
        assert not picked, "a dual-stack node's two proxiers share its flags; --ip-family picks one"


def _dual_stack(folder: Path) -> bool:
    """Whether the folder shows both proxiers, as the golden tool reads it (a scenario.yaml missing or unreadable
    is test_required_files_exist's and test_scenario_yaml's to report)."""
    from kubeproxy_sim.cli.options import scenario_proxiers
    from kubeproxy_sim.errors import InputError

    try:
        return (folder / "scenario.yaml").is_file() and len(scenario_proxiers(folder)) > 1
    except InputError:
        return False


DUAL_STACK = [f for f in FOLDERS if _dual_stack(f)]


@pytest.mark.parametrize("folder", DUAL_STACK, ids=[f.name for f in DUAL_STACK])
def test_dual_stack_flows_are_of_both_families(folder: Path) -> None:
    families = {netaddr.IPAddress(f["src"]).version for f in _load_yaml(folder / "flows.yaml")}
    assert families == {4, 6}, "a dual-stack scenario's flows.yaml has flows for each family's proxier"


@pytest.mark.parametrize("folder", FOLDERS, ids=IDS)
def test_upstream_scenarios_are_marked(folder: Path) -> None:
    """upstream-* folders name their test and use upstream's fake node."""
    scenario = _load_yaml(folder / "scenario.yaml")
    is_upstream = folder.name.startswith("upstream-")
    assert ("upstream" in scenario) == is_upstream
    if is_upstream:
        assert str(scenario["upstream"]).startswith("Test")
        assert scenario["args"][:2] == UPSTREAM_NODE_ARGS
    else:
        assert not (folder / "upstream.rules").exists(), "only upstream scenarios carry upstream.rules"


@pytest.mark.parametrize("folder", FOLDERS, ids=IDS)
def test_flows_schema(folder: Path) -> None:
    flows = _load_yaml(folder / "flows.yaml")
    assert isinstance(flows, list), "flows.yaml is a list (possibly empty)"
    problems: list[str] = []
    for index, item in enumerate(flows):
        problems += _flow_problems(index, item)
    # a name that is no string is _flow_problems' "empty name" already
    names: list[str] = [f["name"] for f in flows if isinstance(f, dict) and isinstance(f.get("name"), str)]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"duplicate flow names {duplicates}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("folder", [f for f in FOLDERS if (f / "upstream.rules").exists()],
                         ids=[f.name for f in FOLDERS if (f / "upstream.rules").exists()])
def test_upstream_rules_look_like_a_dump(folder: Path) -> None:
    text = (folder / "upstream.rules").read_text(encoding="utf-8")
    assert text.startswith("*filter\n") and text.endswith("COMMIT\n")
    lines = text.splitlines()
    bad = [line for line in lines if not RULE_LINE.match(line)]
    assert not bad, f"not iptables-restore lines: {bad[:3]}"
    assert [line for line in lines if line.startswith("*")] == ["*filter", "*nat"]
    assert lines.count("COMMIT") == 2
    declared = {line[1:].split(" ")[0] for line in lines if line.startswith(":")}
    used = {line.split(" ")[1] for line in lines if line.startswith("-A ")}
    assert used <= declared, f"rules in undeclared chains: {sorted(used - declared)}"


# --- the checks themselves must reject what they are meant to reject


def test_flow_checker_rejects_bad_flows() -> None:
    good = {"name": "a", "src": "10.0.0.1", "dst": "10.0.0.2", "dport": 80, "output": "10.1.0.1:80"}
    assert _flow_problems(0, good) == []
    assert _flow_problems(0, {**good, "output": "[fd00::1]:80, 10.1.0.2:8080"}) == []
    assert _flow_problems(0, {**good, "dport": 0})
    assert _flow_problems(0, {**good, "src": "10.0.0.300"})
    assert _flow_problems(0, {**good, "proto": "icmp"})
    assert _flow_problems(0, {**good, "output": "fd00::1:80"})
    assert _flow_problems(0, {**good, "output": "drop"})
    assert _flow_problems(0, {**good, "masq": "yes"})
    assert _flow_problems(0, {**good, "port": 80})


def test_object_checker_rejects_bad_manifests() -> None:
    assert _object_problems({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}}, "d") == []
    assert _object_problems({"kind": "Service", "metadata": {"name": "a"}}, "d")
    unlabelled = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "s"},
                  "addressType": "IPv4"}
    assert _object_problems(unlabelled, "d")
    listed = {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": [{"kind": "Service"}]}
    assert _object_problems(listed, "d")


@pytest.mark.parametrize("folder", FOLDERS, ids=IDS)
def test_args_are_known_node_flags(folder: Path) -> None:
    """Every flag in args is one `kubeproxy-sim rules` accepts, with a valid value."""
    import argparse
    import contextlib
    import io

    from kubeproxy_sim.cli.options import add_node_flags

    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    add_node_flags(parser)
    args = _load_yaml(folder / "scenario.yaml")["args"]
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            parser.parse_args(args)
    except (argparse.ArgumentError, SystemExit) as exc:
        pytest.fail(f"{folder.name}: args {args} rejected: {exc} {stderr.getvalue()}")
