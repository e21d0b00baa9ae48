"""The user-facing readers, fed mutated copies of the built-in scenarios' inputs, never show a traceback: a
manifest (``rules -f``), a KubeProxyConfiguration (``--config``) and an iptables-save dump (``trace --rules``)
each end in a documented status, and every error about the file names it (session 21's fuzzing, b9: coverage-
guided and structure-aware mutation of rulesets/*/ found no traceback here; this keeps the property).

A mutation replaces a value anywhere in a document with one of the values users get wrong (a wrong type, an
empty string, a number past int64, an address of the other family...), deletes a key, adds a field, repeats a
list item or wraps a value; a dump's rule line gets a token replaced, added, dropped or swapped.
"""

from __future__ import annotations

import copy
import json
import shlex
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.cli import main as cli
from kubeproxy_sim.cli.options import REPO_RULESETS
from tests.budget import budget
from tests.cli._main_run import status_and_stderr as _run

SEEDS = ("bootcamp", "dual-stack", "externalname-and-headless", "ipv6")
ATOMS: tuple[Any, ...] = (
    None, 0, -1, 65535, 65536, 2**31, 2**63, 2**64, 1.5, True, False, "", " ", "x", "None", "10.0.0.1", "::1",
    "fe80::1%eth0", "10.0.0.0/8", "1.2.3.4.5", "0x10", "010", "\u0663", "+5", "\x00", "a" * 300, "TCP", "SCTP",
    "Local", "ClientIP", "NodePort", "LoadBalancer", "ExternalName", "IPv6", "FQDN", "RequireDualStack",
    "PreferClose", "::ffff:1.2.3.4", [], {}, [None], {"": None}, ["10.0.0.1", "10.0.0.1"], {"a": "b"},
)
FIELDS = ("ports", "port", "targetPort", "nodePort", "protocol", "clusterIP", "clusterIPs", "type", "externalIPs",
          "externalTrafficPolicy", "internalTrafficPolicy", "sessionAffinity", "ipFamilies", "ipFamilyPolicy",
          "healthCheckNodePort", "endpoints", "addresses", "conditions", "nodeName", "hints", "addressType",
          "subsets", "podCIDRs", "selector", "podIPs", "hostNetwork", "items", "kind", "apiVersion", "namespace")
# a summary line naming no file: it follows the errors that do
SUMMARIES = ("no object could be read",)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


def _mutated(data: st.DataObject, docs: list[Any]) -> list[Any]:
    """``docs`` with one to three values, keys or items changed (see the module's docstring)."""
    docs = copy.deepcopy(docs)
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.integers(0, len(docs) - 1))
        paths = list(_paths(docs[where]))
        path = paths[data.draw(st.integers(0, len(paths) - 1))]
        target = _at(docs[where], path)
        parent = _at(docs[where], path[:-1]) if path else None
        how = data.draw(st.sampled_from(("set", "delete", "add", "repeat", "wrap")))
        if how == "delete" and parent is not None:
            del parent[path[-1]]
        elif how == "add" and isinstance(target, dict):
            target[data.draw(st.sampled_from(FIELDS))] = copy.deepcopy(data.draw(st.sampled_from(ATOMS)))
        elif how == "repeat" and isinstance(target, list) and target:
            target.append(copy.deepcopy(target[-1]))
        else:
            value = [target] if how == "wrap" else copy.deepcopy(data.draw(st.sampled_from(ATOMS)))
            if parent is None:
                docs[where] = value
            else:
                parent[path[-1]] = value
    return docs


def _check(status: int, err: str, path: str, allowed: tuple[int, ...]) -> None:
    assert "internal error" not in err and "Traceback" not in err, err
    assert status in allowed, (status, err)
    for line in err.splitlines():
        said = line.removeprefix("kubeproxy-sim: ")
        if said == line or said.startswith("--") or " note: " in said or " warning: " in said:
            continue  # (a continuation line, a flag's message, or not an error)
        assert path in said or said.startswith(SUMMARIES), line


def _seed(name: str) -> tuple[list[Any], list[str]]:
    folder = REPO_RULESETS / name
    docs = [doc for doc in yaml.safe_load_all((folder / "objects.yaml").read_text()) if doc is not None]
    args = [str(arg) for arg in yaml.safe_load((folder / "scenario.yaml").read_text()).get("args") or []]
    return docs, args


SEEDED = {name: _seed(name) for name in SEEDS}


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kpsim-fuzz-") as folder:
        yield Path(folder)


@settings(max_examples=budget(60), deadline=None)
@given(data=st.data(), name=st.sampled_from(SEEDS), as_json=st.booleans())
def test_a_mutated_manifest_is_reported_never_a_traceback(scratch: Path, data: st.DataObject, name: str,
                                                         as_json: bool) -> None:
    docs, args = SEEDED[name]
    changed = _mutated(data, docs)
    path = scratch / ("m.json" if as_json else "m.yaml")
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": changed}) if as_json
                    else "---\n".join(yaml.safe_dump(doc) for doc in changed))
    status, err = _run(["rules", "-f", str(path), *args])
    _check(status, err, str(path), (cli.EXIT_OK, cli.EXIT_INVALID_INPUT))


CONFIG = {
    "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration", "bindAddress": "0.0.0.0",
    "healthzBindAddress": "0.0.0.0:10256", "clusterCIDR": "10.244.0.0/16", "configSyncPeriod": "15m0s",
    "conntrack": {"maxPerCore": 32768, "tcpCloseWaitTimeout": "1h0m0s", "tcpBeLiberal": False},
    "detectLocalMode": "ClusterCIDR", "detectLocal": {"bridgeInterface": "cni0", "interfaceNamePrefix": "veth"},
    "featureGates": {"ServiceTrafficDistribution": True}, "hostnameOverride": "node1",
    "iptables": {"localhostNodePorts": True, "masqueradeAll": False, "masqueradeBit": 14, "minSyncPeriod": "1s"},
    "mode": "iptables", "nodePortAddresses": ["10.0.0.0/8", "192.168.0.0/16"], "oomScoreAdj": -999,
}


@settings(max_examples=budget(60), deadline=None)
@given(data=st.data(), as_json=st.booleans())
def test_a_mutated_config_file_is_reported_never_a_traceback(scratch: Path, data: st.DataObject,
                                                             as_json: bool) -> None:
    (changed,) = _mutated(data, [CONFIG])
    path = scratch / ("kp.json" if as_json else "kp.yaml")
    path.write_text(json.dumps(changed) if as_json else yaml.safe_dump(changed))
    status, err = _run(["rules", "--config", str(path), "-f", str(REPO_RULESETS / "bootcamp" / "objects.yaml")])
    _check(status, err, str(path), (cli.EXIT_OK, cli.EXIT_INVALID_INPUT))


TOKENS = ("-m", "!", "-j", "--to-destination", "1.2.3.4:0-70000", "[::1]:80", "0x4000/0x4000", "--probability",
          "2", "nan", "--every", "0", "--dport", "1:0", "65536", "--set", "--rcheck", "--seconds", "-1",
          "--ctstate", "NEW,FOO", "-s", "1.2.3.4/33", "::/129", "-i", "eth+", "-p", "icmp", "--icmp-type", "255/255",
          "--tcp-flags", "SYN,ACK", "--or-mark", "--to-ports", "1-0", "--random", "--reject-with", "tcp-reset",
          "MARK", "DNAT", "RETURN", "ACCEPT", "KUBE-SERVICES", "NONEXIST", "OUTPUT", "statistic", "recent",
          "conntrack", "multiport", "mark", "--ctorigdst", "1.2.3", "--to-source")
DUMPS = ("bootcamp", "externalname-and-headless")


def _token_mutated(data: st.DataObject, lines: list[str]) -> list[str]:
    """``lines`` with one to three rule lines changed token by token (see the module's docstring)."""
    lines = list(lines)
    rules = [i for i, line in enumerate(lines) if line.startswith("-A ")]
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.sampled_from(rules))
        words = shlex.split(lines[at])
        where = data.draw(st.integers(0, len(words) - 1))
        how = data.draw(st.sampled_from(("set", "insert", "drop", "swap")))
        if how == "set":
            words[where] = data.draw(st.sampled_from(TOKENS))
        elif how == "insert":
            words.insert(where, data.draw(st.sampled_from(TOKENS)))
        elif how == "drop":
            del words[where]
        else:
            other = data.draw(st.integers(0, len(words) - 1))
            words[where], words[other] = words[other], words[where]
        lines[at] = shlex.join(words).replace("'", '"')
    return lines


@settings(max_examples=budget(60), deadline=None)
@given(data=st.data(), name=st.sampled_from(DUMPS), dport=st.sampled_from(("53", "80", "8080", "31526")),
       proto=st.sampled_from(("tcp", "udp", "sctp")))
def test_a_mutated_dump_is_reported_never_a_traceback(scratch: Path, data: st.DataObject, name: str, dport: str,
                                                      proto: str) -> None:
    lines = (REPO_RULESETS / name / "full.golden").read_text().splitlines()
    path = scratch / "dump.rules"
    path.write_text("\n".join(_token_mutated(data, lines)) + "\n")
    status, err = _run(["trace", "--rules", str(path), "--src", "10.244.0.9", "--dst", "10.96.142.87",
                        "--dport", dport, "--proto", proto])
    _check(status, err, str(path), (cli.EXIT_OK, cli.EXIT_INVALID_INPUT))


COMMANDS = (
    ("rules", "--scenario", "bootcamp"),
    ("trace", "--scenario", "bootcamp", "--src", "10.244.0.9", "--dst", "10.96.142.87", "--dport", "8080"),
    ("dist", "--scenario", "bootcamp"),
    ("diff", "--scenario", "bootcamp", "--against-scenario", "dual-stack"),
)
FLAGS = ("--node-ip", "--bind-address", "--ip-family", "--cluster-cidr", "--detect-local-mode",
         "--pod-bridge-interface", "--masquerade-all", "--iptables-masquerade-bit", "--nodeport-addresses",
         "--random-fully", "--feature-gates", "--hostname-override", "--src", "--dst", "--dport", "--proto",
         "--icmp-type", "--in-iface", "--out-iface", "--affinity", "--ctstate", "--to", "--connections",
         "--client-interval", "--node", "-o")
VALUES = ("", " ", "--", "-", "x", "0", "-1", "65536", "1e400", "nan", "true", "10.0.0.1", "10.0.0.1/33",
          "10.0.0.0/8,fd00::/8", "::ffff:1.2.3.4", "fe80::1%eth0", "primary,10.0.0.0/8", "AllAlpha=true", "=", ",",
          "ipv6", "icmp", "255/255", "NEW", "eth+", "a" * 300, "10.96.142.87:8080", "[::1]:80", "json", "\u0663")


@settings(max_examples=budget(60), deadline=None)
@given(command=st.sampled_from(COMMANDS), given_flags=st.lists(
    st.tuples(st.sampled_from(FLAGS), st.sampled_from(VALUES), st.booleans()), min_size=1, max_size=2))
def test_odd_flag_values_are_refused_never_a_traceback(command: tuple[str, ...],
                                                       given_flags: list[tuple[str, str, bool]]) -> None:
    """A command's flags with values users get wrong, given as two words or joined by ``=``: each is refused (or
    taken) by the flag's own check. (The fuzzing that found ``--flag=--`` an internal error enumerated every flag of
    every command; tests/cli/test_explicit_double_dash.py holds those cases, which 60 drawn examples rarely reach.)"""
    argv = list(command)
    for flag, value, joined in given_flags:
        argv += [f"{flag}={value}"] if joined else [flag, value]
    status, err = _run(argv)
    assert "internal error" not in err and "Traceback" not in err, err
    assert status in (cli.EXIT_OK, cli.EXIT_INVALID_INPUT, cli.EXIT_USAGE), (status, err)
