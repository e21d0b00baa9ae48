"""Input flags shared by the commands: objects (-f) and one node's kube-proxy settings.

Flag names are kube-proxy's own, so a node's command line can be pasted in.
Precedence is kube-proxy's: defaults < ``--config`` file < flags. What kube-proxy
learns from the host (node IPs, zone, pod CIDRs) comes from ``--node-ip`` or,
failing that, from the Node object of this node. A ``--bind-address`` (or the
file's ``bindAddress``) other than 0.0.0.0 or :: is the primary node IP over
both, as kube-proxy's detectNodeIPs makes it.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import math
import os
import re
import stat
from collections.abc import Callable, Collection, Sequence
from dataclasses import field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from kubeproxy_sim.builtin_folder import RULESETS
from kubeproxy_sim.cli.builtin_names import plain_name
from kubeproxy_sim.cli.parsers import Parser
from kubeproxy_sim.errors import Diagnostic, InputError, Severity, UsageError, cannot_read, literal
from kubeproxy_sim.objects.model import Cluster, IPFamily, Node
from kubeproxy_sim.objects.values import value_class
from kubeproxy_sim.proxier.config import DEFAULT_NODE_NAME, DetectLocalMode, ProxyConfig

if TYPE_CHECKING:  # the model is imported by the commands that build rules, not at start-up
    from kubeproxy_sim.cli.config_file import ReadFailure
    from kubeproxy_sim.netfilter.model import Ruleset
    from kubeproxy_sim.objects.load import LoadResult, PathNames

REPO_RULESETS = RULESETS
"""The built-in scenarios' folder (:data:`kubeproxy_sim.builtin_folder.RULESETS`, which objects.load reads too)."""


def parse_bool(text: str | bool) -> bool:
    """Go's strconv.ParseBool, which kube-proxy's boolean flags use."""
    if isinstance(text, bool):
        return text
    value = text.strip()
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not a boolean (expected true or false)")


def parse_feature_gates(text: str) -> dict[str, bool]:
    """``--feature-gates A=true,B=false`` as kube-proxy's flag reads it (component-base's MapStringBool): pairs
    separated by commas, empty ones skipped, name and value trimmed, the value a Go boolean."""
    found: dict[str, bool] = {}
    for pair in text.split(","):
        if not pair:
            continue
        name, equals, value = pair.partition("=")
        if not equals:
            raise argparse.ArgumentTypeError(f"{pair!r} is no NAME=true|false pair; expected e.g. "
                                             "NodeSwap=true,WatchList=false")
        try:
            found[name.strip()] = parse_bool(value)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"{pair!r}: {value.strip()!r} is not a boolean; expected "
                                             f"{name.strip()}=true or {name.strip()}=false") from None
    return found


def parse_int(text: str) -> int:
    """An integer flag's value: ASCII decimal digits, with a "-" for a negative number, and nothing else (Python's
    int() also takes " 14", "+5", "1_4" and other scripts' digits such as Arabic-Indic ones). One parser for every
    integer flag."""
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (expected decimal digits 0-9)")
    return int(text)


_DECIMAL = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def parse_float(text: str) -> float:
    """A number flag's value: ASCII decimal (``2``, ``0.5``, ``1e-3``), finite. Python's float() also takes "nan",
    "inf" and a number too large to hold (``1e400``, read as inf), which every later bound check lets through
    (nan compares false) and JSON cannot carry; and it takes " 2", "1_0" and other scripts' digits. One parser
    for every number flag."""
    if not (text.isascii() and _DECIMAL.fullmatch(text)) or not math.isfinite(value := float(text)):
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a finite decimal number (expected e.g. "
                                         "2, 0.5 or 1e-3)")
    return value


def no_stdin(reason: str, expected: str) -> Callable[[str], str]:
    """An argparse type for a flag whose value is a path standard input cannot stand for: "-" (which -f, --against
    and --rules take for it) is refused by name and ``reason``; it was looked for as a file named "-" ("No such
    file")."""
    def path(text: str) -> str:
        if text == "-":
            raise argparse.ArgumentTypeError(f"'-': {reason}; expected {expected}")
        return text

    return path


config_path = no_stdin("the configuration is read from a file, not standard input (it is read more than once)",
                       "a KubeProxyConfiguration file")
"""--config's value: read more than once (node settings, sync periods), and a pipe can be read only once."""


def scenario_name(text: str) -> str:
    """--scenario's (and diff's --against-scenario's) value: an empty one is refused, as -f's empty name is; it was
    taken for no flag at all (``--scenario "$S"`` with S unset read -f alone, or said 'no objects given')."""
    if not text:
        raise argparse.ArgumentTypeError("an empty name; expected a built-in scenario's name (rulesets/README.md "
                                         "lists them) or a directory holding scenario.yaml and objects.yaml")
    return text


def _bool_flag(group: argparse._ArgumentGroup, name: str, help_text: str) -> argparse.Action:
    return group.add_argument(name, nargs="?", const=True, default=None, type=parse_bool, metavar="true|false",
                              help=help_text)


def add_node_flags(parser: argparse.ArgumentParser, *, node_ip_help: str = "") -> list[argparse.Action]:
    """kube-proxy's flags (and what it learns from the host) for the node whose rules we build; ``node_ip_help``
    is added to --node-ip's help (what else a command reads it for). Returns the flags' actions."""
    node = parser.add_argument_group("node and kube-proxy settings (kube-proxy's flag names)")
    return [
        node.add_argument("--config", metavar="FILE", type=config_path,
                          help="a KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1)"),
        node.add_argument("--hostname-override", metavar="NAME",
                          help="the node's name (default: the first Node object by name; without any, the first node "
                          "the pods and endpoints name, node1 when they name it or none)"),
        node.add_argument("--node-ip", action="append", default=None, metavar="IP[/PREFIX]",
                          help="an address of the node's interfaces (repeatable; the first is the primary node IP, "
                          "unless --bind-address names one; default: the Node object's InternalIP, then ExternalIP "
                          "addresses)" + node_ip_help),
        node.add_argument("--bind-address", metavar="IP",
                          help="kube-proxy's: unless 0.0.0.0 or :: (the default), the primary node IP, over --node-ip "
                          "and the Node object (it goes first among the node's addresses, and its family is the "
                          "default --ip-family)"),
        node.add_argument("--ip-family", choices=["ipv4", "ipv6"], help="the family of this proxier "
                          "(default: the primary node IP's)"),
        node.add_argument("--cluster-cidr", metavar="CIDR[,CIDR]",
                          help="the pods' range, for detect-local-mode ClusterCIDR"),
        node.add_argument("--detect-local-mode", choices=[m.value for m in DetectLocalMode],
                          help="how kube-proxy tells traffic from this node's pods from the rest: by --cluster-cidr "
                          "(ClusterCIDR, the default), the Node's spec.podCIDRs (NodeCIDR), the bridge it comes in "
                          "on (BridgeInterface) or its interface's name prefix (InterfaceNamePrefix)"),
        node.add_argument("--pod-bridge-interface", metavar="IFACE", help="for detect-local-mode BridgeInterface"),
        node.add_argument("--pod-interface-name-prefix", metavar="PREFIX",
                          help="for detect-local-mode InterfaceNamePrefix"),
        _bool_flag(node, "--masquerade-all", "SNAT all traffic sent via Service cluster IPs"),
        node.add_argument("--iptables-masquerade-bit", type=parse_int, metavar="0-31",
                          help="the fwmark bit for masquerade"),
        _bool_flag(node, "--iptables-localhost-nodeports", "accept NodePort traffic to localhost (default true)"),
        node.add_argument("--nodeport-addresses", metavar="CIDR[,CIDR]|primary",
                          help="the addresses NodePorts answer on (default: all local addresses)"),
        _bool_flag(node, "--conntrack-tcp-be-liberal", "nf_conntrack_tcp_be_liberal is set: no INVALID drop rule"),
        _bool_flag(node, "--random-fully", "iptables supports MASQUERADE --random-fully (default true)"),
        _bool_flag(node, "--nfacct", "the kernel has nfacct counters (default true)"),
        node.add_argument("--feature-gates", action="append", type=parse_feature_gates, metavar="NAME=BOOL[,...]",
                          help="kube-proxy's feature gates, checked as kube-proxy checks them (an unknown gate, or a "
                          "locked one set to its other value, is refused; repeatable, the later wins); "
                          "PreferSameTrafficDistribution=false makes kube-proxy, and the rules here, ignore "
                          "endpoints' node hints"),
    ]


def add_input_flags(parser: argparse.ArgumentParser, *, required: bool = False, node_ip_help: str = "") -> None:
    """``-f PATH`` (repeatable) or ``--scenario NAME``, plus the node flags."""
    src = parser.add_argument_group("input")
    add_filename_flags(src, "manifests: a file or directory, YAML or JSON, as kubectl apply -f (repeatable; - for "
                       "standard input)")
    src.add_argument("--scenario", metavar="NAME", type=scenario_name,
                     help="a built-in scenario from rulesets/ (its objects and node flags; "
                     "rulesets/README.md lists them)")
    add_node_flags(parser, node_ip_help=node_ip_help)


def add_filename_flags(group: argparse._ActionsContainer, help_text: str) -> None:
    """``-f PATH`` (repeatable) and kubectl's ``-R/--recursive``, which every command that reads manifests takes
    (expanded by :func:`require_paths`)."""
    group.add_argument("-f", "--filename", action="append", default=[], metavar="PATH", help=help_text)
    add_recursive_flag(group, "read")


def add_recursive_flag(group: argparse._ActionsContainer, verb: str) -> None:
    """kubectl's ``-R/--recursive`` alone, for a command whose ``-f`` is not :func:`add_filename_flags`' (watch's
    one directory); ``verb`` says what the command does with the directory ("read", "watch")."""
    group.add_argument("-R", "--recursive", action="store_true",
                       help=f"{verb} a directory given to -f with its subdirectories, as kubectl -R does "
                       "(default: its own files only)")


def bare_bool_flags(words: Sequence[str], flags: Collection[str]) -> list[str]:
    """The command line with each of the boolean ``flags`` that a word other than a boolean follows written
    ``--flag=true``.

    kube-proxy's boolean flags take a value only as ``--flag=VALUE``; here the next word may be the value too
    (``--masquerade-all false``), but only when it is a boolean: argparse would take any word there for the
    flag's value and refuse ``replay --masquerade-all state.yaml``, where the file follows the bare flag."""
    found = list(words)
    for index, word in enumerate(words[:-1]):
        if word == "--":
            break
        following = words[index + 1]
        if word in flags and not following.startswith("-") and not _is_bool(following):
            found[index] = f"{word}=true"
    return found


def after_bool_flag(words: Sequence[str], extra: str, flags: Collection[str]) -> str:
    """What to add to "unrecognized arguments" when ``extra`` came right after one of the boolean ``flags``
    (``rules --masquerade-all yes``): it is no value of the flag, which takes a boolean; "" otherwise."""
    for index, word in enumerate(words[1:], start=1):
        if word == extra and words[index - 1] in flags:
            return f" ({words[index - 1]} takes true or false)"
    return ""


def _is_bool(text: str) -> bool:
    try:
        parse_bool(text)
    except argparse.ArgumentTypeError:
        return False
    return True


@cache
def node_flag_dests() -> dict[str, str]:
    """Each node flag's dest and its name (``node_ip``: ``--node-ip``), in :func:`add_node_flags`' order."""
    return {action.dest: action.option_strings[0] for action in add_node_flags(Parser(add_help=False))}


def idle_with_dump(args: argparse.Namespace, *, used: Sequence[str] = (),
                   family: int | None = None) -> list[Diagnostic]:
    """One warning naming the node flags given that a dump (``--rules``) makes idle: kube-proxy's settings shape
    the rules it makes, and a dump's rules are made already (``--ip-family`` too: its family is the dump's own).
    ``used``: the flags' dests the command still reads with a dump (``node_ip``); ``family``: the dump's."""
    idle = [flag for dest, flag in node_flag_dests().items()
            if dest not in used and getattr(args, dest, None) is not None]
    if not idle:
        return []
    names = ", ".join(idle[:-1]) + " and " + idle[-1] if len(idle) > 1 else idle[0]
    own = f" (its family is its own: IPv{family})" if family and "--ip-family" in idle else ""
    return [Diagnostic(f"{names} {'have' if len(idle) > 1 else 'has'} no effect with a dump: kube-proxy's settings "
                       f"shape the rules it makes, and the dump's rules are made already{own}", field="--rules",
                       severity=Severity.WARNING)]


@value_class
class Inputs:
    """What a command reads: the objects, the node's kube-proxy config, and every message about them."""

    cluster: Cluster
    config: ProxyConfig
    diagnostics: tuple[Diagnostic, ...]
    ip_family: str | None = None  # the --ip-family read with: the flag's, or the packet's (load_inputs' choice)
    loaded: LoadResult | None = field(default=None, compare=False, repr=False)
    """The objects as read, with their messages: what :func:`load_inputs` builds another node's config from
    without reading them again (standard input can be read only once)."""

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)


SCENARIO_FILES = ("scenario.yaml", "objects.yaml")  # what a --scenario folder holds (rulesets/*/)
SCENARIO_FILE_EXPECTED = {"scenario.yaml": "a YAML mapping with description and args",
                          "objects.yaml": "a YAML or JSON manifest file"}


def scenario_dir(name: str, flag: str = "--scenario", *, takes_manifests: bool = True) -> Path:
    """The folder ``--scenario NAME`` stands for: a folder of rulesets/, or a directory of the user's own that
    holds scenario.yaml and objects.yaml (an own directory of the same name as a built-in one wins).
    ``flag``: the option NAME was given with (diff's ``--against-scenario``), which an error names;
    ``takes_manifests``: whether the command also reads a directory of manifests (:data:`MANIFESTS_FLAG`), which
    a directory that is no scenario is pointed at (demo reads scenarios alone)."""
    path = Path(name)
    plain = plain_name(name)
    candidate = REPO_RULESETS / name if plain else path  # (a path joined to an absolute one is that one)
    own = _scenario_folder(path, flag, plain)
    holds = own and any(os.path.lexists(path / f) for f in SCENARIO_FILES)
    if own and (holds or not plain or not os.path.isdir(candidate)):
        if not holds:
            raise UsageError(_not_a_scenario(path, flag, takes_manifests))
        problems = [problem for f in SCENARIO_FILES if (problem := _scenario_file_problem(path / f, flag))]
        if problems:
            raise UsageError(problems)
        return path
    if plain and os.path.isdir(candidate):
        return candidate
    raise InputError(Diagnostic(f"no scenario {literal(name)}; {_scenarios_offered(name)}", field=flag))


def _not_a_scenario(path: Path, flag: str, takes_manifests: bool) -> Diagnostic:
    """A directory holding neither scenario file is no scenario: one error naming it (not one per missing file),
    what a scenario directory holds, and, when the command has it, ``-f DIR``, which reads a directory of manifests
    (an empty one as an empty cluster, with a warning, as an empty objects.yaml is read), written as a shell takes
    it. Its manifests, when it has some, are named: the likely mistake is ``--scenario`` for ``-f``; when only its
    subdirectories hold some, ``-f DIR -R`` reads them (-f alone would not)."""
    import shlex  # (this error path only)

    held, recursive = _manifests_held(path)
    command = f"{MANIFESTS_FLAG.get(flag, '-f')} {shlex.quote(str(path))}{' -R' if recursive else ''}"
    what = "a directory of manifests with its subdirectories" if recursive else "a directory of manifests"
    hint = f"; {command} reads {what}" if takes_manifests else ""
    return Diagnostic(f"no {' and no '.join(SCENARIO_FILES)} in this directory, {held}; expected a scenario "
                      f"directory: scenario.yaml (args: node flags) and objects.yaml (its objects; an empty file is "
                      f"an empty cluster), or a built-in scenario's name{hint}", file=str(path), field=flag)


def _manifests_held(path: Path) -> tuple[str, bool]:
    """What a directory that is no scenario holds, said after its missing scenario files: its own manifests (a
    few named), else the first of its subdirectories' (walked as -R walks them, to the first), else none; and
    whether -R is what reads them. A directory that cannot be listed is said so, not taken for an empty one."""
    from kubeproxy_sim.objects.load import MANIFEST_SUFFIXES, manifest_walk

    try:
        manifests = sorted(e.name for e in os.scandir(path) if e.name.endswith(MANIFEST_SUFFIXES) and e.is_file())
    except OSError as exc:
        return f"and its entries cannot be listed ({exc.strerror or exc})", False
    if manifests:
        shown = ", ".join(manifests[:3]) + (f" and {len(manifests) - 3} more" if len(manifests) > 3 else "")
        return f"but {len(manifests)} manifest file{'' if len(manifests) == 1 else 's'} ({shown})", False
    none = "no manifest files (*.yaml, *.yml, *.json)"
    try:
        below = next((found for found, problem in manifest_walk(str(path), recursive=True)
                      if problem is None and os.sep in os.path.relpath(found, path)), None)
    except OSError:
        below = None
    if below is None:
        return f"and {none}", False
    return f"and {none} of its own, but its subdirectories hold some ({os.path.relpath(below, path)} first)", True


MANIFESTS_FLAG = {"--against-scenario": "--against"}
"""The flag that reads a directory of manifests where a scenario's flag was given one (-f, but diff's AFTER side
is --against)."""


def _scenario_file_problem(file: Path, flag: str) -> Diagnostic | None:
    """Why a scenario directory's file cannot be read (errors.cannot_read's line naming ``flag``), looked at
    before any reading: missing, a dangling link, a directory, or no regular file (a FIFO would be read more than
    once: its args, then its objects; a device may never end); None for a regular file."""
    from kubeproxy_sim.objects.load import special_kind

    expected = SCENARIO_FILE_EXPECTED[file.name]
    try:
        mode = os.stat(file).st_mode
    except OSError as exc:
        return Diagnostic(cannot_read(exc, expected), file=str(file), field=flag)
    if stat.S_ISREG(mode):
        return None
    why = os.strerror(errno.EISDIR) if stat.S_ISDIR(mode) else f"{special_kind(mode)}, not a regular file"
    return Diagnostic(cannot_read(why, expected), file=str(file), field=flag)


def _scenarios_offered(name: str) -> str:
    """What an unknown scenario name is offered: a few built-in names holding it, or else close to it (all 58 made
    a line of 3 kB), where all of them are listed, and that a directory of one's own is taken too."""
    known = sorted(p.name for p in REPO_RULESETS.iterdir() if p.is_dir()) if REPO_RULESETS.is_dir() else []
    own = f"a directory holding {' and '.join(SCENARIO_FILES)}"
    if not known:
        return f"expected {own} (no built-in scenario was found)"
    import difflib  # (this error path only)

    close = [k for k in known if name.lower() in k] if len(name) >= 3 else []  # ('terminating': its family)
    close = close or difflib.get_close_matches(name, known, n=SCENARIOS_SUGGESTED, cutoff=0.6)
    more = f" (or {len(close) - SCENARIOS_SUGGESTED} more with that in the name)" if len(
        close) > SCENARIOS_SUGGESTED else ""
    guess = f"did you mean {', '.join(close[:SCENARIOS_SUGGESTED])}{more}? " if close else ""
    return (f"{guess}expected a built-in scenario (one of the {len(known)} in {REPO_RULESETS}, which its README.md "
            f"lists) or {own}")


SCENARIOS_SUGGESTED = 3


def _scenario_folder(path: Path, flag: str, plain: bool) -> bool:
    """Whether a ``--scenario`` value is a directory. A path that cannot be looked at (a directory above it that
    may not be entered, a name longer than the system takes) is said so by its reason; a plain name then names
    no folder of the user's, and a built-in one is looked for (pathlib raised both to the user as a traceback)."""
    try:
        return path.is_dir()
    except OSError as exc:
        if plain:
            return False
        raise InputError(Diagnostic(cannot_read(exc, f"a directory holding {' and '.join(SCENARIO_FILES)}"),
                                    file=str(path), field=flag)) from None


class _ArgsError(Exception):
    """argparse's complaint about a scenario's args, raised instead of printing usage and exiting."""


class _ArgsParser(Parser):
    def error(self, message: str) -> NoReturn:
        raise _ArgsError(message)


def _scenario_mapping(directory: Path) -> dict[object, object]:
    """``DIR/scenario.yaml`` as a mapping (an empty file: an empty one); a file that cannot be read or parsed, or is
    not a mapping, is a usage error naming the file."""
    import yaml

    from kubeproxy_sim.objects.load import safe_load
    from kubeproxy_sim.objects.report import described
    from kubeproxy_sim.objects.stdin import read_text

    file = str(directory / "scenario.yaml")
    try:
        text = read_text(directory / "scenario.yaml")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(Diagnostic(cannot_read(exc, SCENARIO_FILE_EXPECTED["scenario.yaml"]), file=file,
                                    field="--scenario")) from None
    try:
        data, _ = safe_load(text, single=True)
    except yaml.YAMLError as exc:
        from kubeproxy_sim.objects.load import yaml_syntax_error

        raise UsageError(yaml_syntax_error(exc, file, text=text)) from None  # (the text: a tab is named)
    if data is None:
        return {}
    if type(data) is not dict:
        raise UsageError(Diagnostic(f"expected a mapping with description and args, got {described(data)}",
                                    file=file))
    return data


def scenario_args(directory: Path) -> list[str]:
    """The node flags of ``DIR/scenario.yaml``'s ``args``, checked as the command line's are: a file that cannot
    be read, is not a mapping, or whose args are not a list of known flags is one usage error naming the file and
    the field."""
    from kubeproxy_sim.objects.report import described

    file = str(directory / "scenario.yaml")
    data = _scenario_mapping(directory)
    raw = data.get("args")
    if raw is None:
        return []
    if type(raw) is not list:
        raise UsageError(Diagnostic(f"expected a list of flags and values (args: [--hostname-override, node1]), "
                                    f"got {described(raw)}", file=file, field="args"))
    texts: list[str] = []
    for i, item in enumerate(raw):
        if type(item) is bool:
            texts.append("true" if item else "false")
        elif type(item) in (str, int, float):
            texts.append(str(item))
        else:
            raise UsageError(Diagnostic(f"expected a flag or a value, got {described(item)}", file=file,
                                        field=f"args[{i}]"))
    _check_scenario_flags(texts, file)
    return texts


DUAL_STACK = "dual-stack"
"""scenario.yaml's key that makes a scenario show both proxiers of a dual-stack node (``dual-stack: true``)."""
PROXIER_SUFFIXES = {4: "", 6: "-ipv6"}
"""A dual-stack scenario's golden names per proxier family: rules.golden is IPv4's, rules-ipv6.golden IPv6's."""


def scenario_proxiers(directory: Path) -> dict[str, list[str]]:
    """Golden-name suffix -> the flags, after the scenario's args, of each proxier the scenario shows: the args'
    own alone; a dual-stack scenario's IPv4 and IPv6 ones (``--ip-family``). kube-proxy runs one proxier per
    family on a dual-stack node, from the same flags, each writing its own family's tables. scenario.yaml is read
    as :func:`scenario_args` reads it (its errors are usage errors naming the file)."""
    from kubeproxy_sim.objects.report import described

    value = _scenario_mapping(directory).get(DUAL_STACK, False)
    if type(value) is not bool:
        raise UsageError(Diagnostic(f"expected true or false, got {described(value)}",
                                    file=str(directory / "scenario.yaml"), field=DUAL_STACK))
    if not value:
        return {"": []}
    return {suffix: ["--ip-family", f"ipv{family}"] for family, suffix in PROXIER_SUFFIXES.items()}


def _check_scenario_flags(texts: list[str], file: str) -> None:
    """Every flag a known node flag, and every value of the right shape; else a usage error at its index."""
    from kubeproxy_sim.errors import one_of

    parser = _ArgsParser(add_help=False)
    add_node_flags(parser)
    known = list(node_flag_dests().values())  # (a node flag has one name)
    for i, text in enumerate(texts):
        flag = text.split("=", 1)[0]
        if text.startswith("-") and len(text) > 1 and not _is_number(text) and flag not in known:
            raise UsageError(Diagnostic(f"unknown flag {flag}; expected one of {one_of(flag, known, 'flags')}",
                                        file=file, field=f"args[{i}]"))
    try:
        values, extra = parser.parse_known_args(texts)
    except _ArgsError as exc:
        message = str(exc)
        at = next((i for i, t in enumerate(texts) if t.startswith("-") and t.split("=", 1)[0] in message), None)
        raise UsageError(Diagnostic(message, file=file, field="args" if at is None else f"args[{at}]")) from None
    if extra:
        at = len(texts) - 1 - texts[::-1].index(extra[0])
        raise UsageError(Diagnostic(f"{extra[0]!r} is not a flag, nor the value of one", file=file,
                                    field=f"args[{at}]"))
    try:  # values of the right shape that kube-proxy refuses (--iptables-masquerade-bit 99), or of the wrong shape
        check_node_settings(values)  # (--node-ip foo): as on the command line, 1 or 2
    except InputError as exc:
        raise (UsageError if isinstance(exc, UsageError) else InputError)(
            [_at_arg(d, texts, file) for d in exc.diagnostics]) from None


def _at_arg(diagnostic: Diagnostic, texts: list[str], file: str) -> Diagnostic:
    """A flag's diagnostic moved to the scenario.yaml ``args`` entry that gave the flag."""
    flag = diagnostic.field or ""
    at = next((i for i in range(len(texts) - 1, -1, -1) if texts[i].split("=", 1)[0] == flag), None)
    if at is None:
        return diagnostic
    return dataclasses.replace(diagnostic, file=diagnostic.file or file, field=f"args[{at}]",
                               message=f"{flag}: {diagnostic.message}")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_inputs(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None, *,
                family: int | None = None, loaded: LoadResult | None = None) -> Inputs:
    """Load the objects and build the node's config; diagnostics are returned, not raised. ``family``: that of the
    packet the command traces or sends (its literal addresses; None: not known), whose own proxier may be the one
    simulated (:func:`_packet_s_proxier`); ``Inputs.ip_family`` says which was, and a caller that reads the flags
    again (diff's after state, dist's notes) sets it on them itself. ``loaded``: the objects an earlier call read
    (its ``Inputs.loaded``), for another node's config without reading them again (``trace`` moving to its
    source pod's node)."""
    from kubeproxy_sim.objects import load_paths

    paths = input_paths(args)
    if loaded is None:
        loaded = load_paths(paths, named=input_names(args, paths))
    config, config_diags = build_config(args, loaded.cluster)
    config_diags = follow_on(config_diags, loaded.diagnostics, loaded.cluster)
    chosen = _packet_s_proxier(args, loaded.cluster, config, family)
    if chosen is None:
        return Inputs(loaded.cluster, config, (*loaded.diagnostics, *config_diags), args.ip_family, loaded)
    # built again, not replaced: what the config says of itself (the node's address of the family, what the
    # local detector has to detect with) is of the family simulated
    note, flag = _switched_note(chosen, 6 if config.ipv6 else 4), f"ipv{chosen}"
    config, config_diags = build_config(argparse.Namespace(**{**vars(args), "ip_family": flag}), loaded.cluster)
    return Inputs(loaded.cluster, config, (*loaded.diagnostics, *config_diags, note), flag, loaded)


def follow_on(config_diags: Sequence[Diagnostic], loaded: Sequence[Diagnostic],
              cluster: Cluster) -> list[Diagnostic]:
    """The config's messages worth saying after the objects' ``loaded``: all of them when some object was read.
    With none, the notes about the rules (--detect-local-mode's: rules left out) are of rules for objects nobody
    gave: dropped, the flags' warnings and errors kept; after an input refused (errors: an iptables-save dump given
    to -f, a file that does not parse) that is all, the errors saying why, and after an input that held nothing
    kube-proxy reads (an empty file, only other kinds) a note says what the answers then are (:data:`NOTHING_READ`).
    """
    if cluster != Cluster():
        return list(config_diags)
    kept = [d for d in config_diags if d.severity is not Severity.NOTE]
    if not any(d.severity is Severity.ERROR for d in loaded):
        kept.append(Diagnostic(NOTHING_READ, severity=Severity.NOTE))
    return kept


NOTHING_READ = ("no Service, EndpointSlice, Endpoints, Node or Pod was read, so the answers are for a cluster of "
                "nothing: the rules are kube-proxy's base chains and jumps alone, as it writes them with no Services "
                "(kubectl apply would refuse an empty input: no objects passed to apply)")
"""What a run whose inputs held no object kube-proxy reads answers for (rules is not apply: kube-proxy with no
Services still writes its chains, so exit 0, and this says so)."""


def _packet_s_proxier(args: argparse.Namespace, cluster: Cluster, config: ProxyConfig,
                      family: int | None) -> int | None:
    """A dual-stack node runs a proxier of each family and a packet meets its own family's: without --ip-family,
    a packet of the other family than the node's primary one is simulated with that family's proxier when the
    objects give it something to proxy (:meth:`~kubeproxy_sim.objects.model.Cluster.has_family`; they need not be
    dual-stack: IPv6-only objects on a node whose primary address is IPv4 do too). Its family; None: the config
    stays (then a packet of the other family is refused in the words of simulator.topology.family_mismatch)."""
    if family in (None, 6 if config.ipv6 else 4) or args.ip_family is not None:
        return None
    return family if cluster.has_family(family) else None


def _switched_note(family: int, primary: int) -> Diagnostic:
    """What :func:`_packet_s_proxier`'s choice says: which proxier is simulated and why, and (trace citing its rules'
    lines) the command that prints that proxier's rules."""
    return Diagnostic(f"the addresses given are IPv{family} and the objects give the node's IPv{family} proxier "
                      f"something to proxy (an IPv{family} cluster IP or endpoint slice): simulating that proxier, "
                      f"the one their packets meet, not the primary IPv{primary} one, as --ip-family ipv{family} "
                      f"does (rules --ip-family ipv{family} prints its rules)",
                      field="--ip-family", severity=Severity.NOTE)


def fill_node_flags(args: argparse.Namespace, directory: Path) -> frozenset[str]:
    """Set each node flag not given on the command line from the scenario's args (flags given here override
    them); the dests it set."""
    node_parser = Parser(add_help=False)
    add_node_flags(node_parser)
    base = node_parser.parse_args(scenario_args(directory))
    filled = frozenset(key for key in node_flag_dests()
                       if getattr(args, key, None) is None and getattr(base, key) is not None)
    for key in filled:
        setattr(args, key, getattr(base, key))
    return filled


def input_names(args: argparse.Namespace, paths: list[str]) -> PathNames:
    """What ``load_paths`` takes as ``named`` for the :func:`input_paths` of ``args``: the scenario's objects.yaml
    (their last) named by its flag."""
    return scenario_objects(paths[-1]) if args.scenario else {}


def input_paths(args: argparse.Namespace) -> list[str]:
    """The manifest paths of ``-f`` and ``--scenario``; a scenario's node flags fill the flags not given."""
    paths = list(args.filename)
    if args.scenario:
        directory = scenario_dir(args.scenario, takes_manifests=getattr(args, "takes_manifests", True))
        paths.append(str(directory / "objects.yaml"))
        args.from_scenario = fill_node_flags(args, directory) | getattr(args, "from_scenario", frozenset())
    if not paths:
        raise UsageError(Diagnostic("no objects given; expected -f PATH or --scenario NAME", field="-f"))
    check_node_settings(args)
    files = require_paths(list(args.filename), "-f", recursive=getattr(args, "recursive", False))  # (demo: no -f)
    return files + paths[len(args.filename):]  # (the scenario's objects.yaml: scenario_dir looked at it)


def scenario_objects(path: str, flag: str = "--scenario") -> PathNames:
    """How a problem reading a scenario's objects.yaml at ``path`` is said: named by the scenario's flag (diff's
    ``--against-scenario``), expecting a scenario's objects.yaml, not in the loader's words for the one flag it
    names every path by (-f's "or - for standard input", which this file did not come from)."""
    return {path: (flag, SCENARIO_FILE_EXPECTED["objects.yaml"])}


def with_config_read(args: argparse.Namespace, again: bool = False) -> argparse.Namespace:
    """``args`` with the --config file's content as it is now (``config_text``), which every later reading of
    the file then takes: kube-proxy reads its config once, when it starts, and a Node change that rebuilds the
    config here must not see a file written, replaced or removed since; every command reads it once (main), so
    that a pipe (``--config <(...)``), which gives its text once, is read as the file it stands for. ``again``:
    read anew though read before (a kube-proxy restart). A file that cannot be read keeps why
    (:func:`~kubeproxy_sim.cli.config_file.read_file`), which is said where it is used: read again there, a pipe
    would give nothing, and the wrong reason."""
    if not getattr(args, "config", None) or ("config_text" in vars(args) and not again):
        return args
    fields = {key: value for key, value in vars(args).items() if key != "config_text"}  # (a restart reads anew)
    from kubeproxy_sim.cli.config_file import read_file

    read = read_file(args.config, newline="")  # (as on disk, newline="": the watch compares it)
    # (a failure is kept without its traceback: the frames it holds, and their locals, would live as long as args)
    return argparse.Namespace(**fields, config_text=read if isinstance(read, str) else read.with_traceback(None))


def config_text(args: argparse.Namespace) -> str | ReadFailure | None:
    """The --config file's content as :func:`with_config_read` read it, or why that reading failed; None when it
    was not read (no --config, or a caller that reads the file where it uses it). The one reader of
    ``args.config_text``, which argparse's Namespace types as anything."""
    found: str | ReadFailure | None = vars(args).get("config_text")
    return found


def config_file_settings(args: argparse.Namespace) -> tuple[dict[str, object], list[Diagnostic]]:
    """The --config file's settings and problems (:func:`read_config_file`), from the content read at start
    (:func:`with_config_read`) when there is one."""
    from kubeproxy_sim.cli.config_file import read_config_file

    return read_config_file(args.config, config_text(args))


def check_node_settings(args: argparse.Namespace) -> None:
    """Refuse node settings kube-proxy would refuse to start with, before any work.

    kube-proxy validates its configuration and exits; rules made with a value left at its default instead
    would be rules for another node. (Objects are different: a bad one is reported and skipped, as
    kube-proxy does.) Warnings are left to :func:`build_config`, which reports them once.
    """
    diags: list[Diagnostic] = []
    malformed: list[Diagnostic] = []  # a flag's value of the wrong shape (also in diags): a usage error
    settings: dict[str, object] = {}
    if getattr(args, "config", None):
        file_settings, file_diags = config_file_settings(args)
        settings.update(file_settings)
        diags += file_diags
    settings.update(_flag_settings(args, diags, malformed))
    diags += _detect_local_problems(settings)
    no_address: list[Diagnostic] = []  # (_normalise_ip's one refusal: text that is no address)
    for text in args.node_ip or ():
        _normalise_ip(text, "--node-ip", no_address)
    diags += no_address
    malformed += no_address
    diags += _masquerade_bit_problems(args)
    diags += [d for d in _sync_period_problems(args)[2] if d not in diags]  # (a bad duration: the file's already)
    errors = [d for d in diags if d.severity is Severity.ERROR]
    if errors:  # a value of the wrong shape is a usage error (2), as argparse's are; one kube-proxy refuses, 1
        raise (UsageError if malformed else InputError)(errors)


def sync_periods(args: argparse.Namespace, min_flag: str | None = None,
                 sync_flag: str | None = None) -> tuple[float, float]:
    """(min sync period, sync period) in seconds: kube-proxy's defaults (1s, 30s) < ``--config``'s
    ``iptables.minSyncPeriod``/``syncPeriod`` (where not zero, which kube-proxy defaults) < the flags; refused as
    kube-proxy's validation refuses them (:func:`_sync_period_problems`)."""
    low, period, diags = _sync_period_problems(args, min_flag, sync_flag)
    if diags:
        raise InputError(diags)
    return low, period


def _sync_period_problems(args: argparse.Namespace, min_flag: str | None = None,
                          sync_flag: str | None = None) -> tuple[float, float, list[Diagnostic]]:
    """The sync periods (as :func:`sync_periods`) and what kube-proxy's validation refuses in them: a sync period
    that is not positive, a negative minimum, or a sync period shorter than the minimum. One check for every
    command: those without the flags (rules, demo) validate ``--config``'s values, as kube-proxy does before it
    starts. ``min_flag``/``sync_flag``: the flags' names to blame where not given (default: the command's
    ``sync_period_flags``); a flag given is blamed under the spelling it was given with."""
    without_flags = ("iptables.minSyncPeriod", "iptables.syncPeriod")  # (rules: only the file can set them)
    default_min, default_sync = getattr(args, "sync_period_flags", ("--min-sync-period", "--sync-period")
                                        if hasattr(args, "sync_period") else without_flags)
    min_flag, sync_flag = min_flag or default_min, sync_flag or default_sync
    values = {"minSyncPeriod": 1.0, "syncPeriod": 30.0}
    # where each value came from, to blame the right one: (file, field) of --config, or (None, flag)
    sources: dict[str, tuple[str | None, str] | None] = {"minSyncPeriod": None, "syncPeriod": None}
    diags: list[Diagnostic] = []
    if getattr(args, "config", None):
        from kubeproxy_sim.cli.config_file import read_sync_periods

        found, diags = read_sync_periods(args.config, config_text(args))
        values.update(found)
        sources.update({key: (args.config, f"iptables.{key}") for key in found})
    for key, name, flag in (("minSyncPeriod", "min_sync_period", min_flag),
                            ("syncPeriod", "sync_period", sync_flag)):
        if getattr(args, name, None) is not None:
            values[key] = getattr(args, name)
            sources[key] = (None, getattr(args, f"{name}_flag", None) or flag)  # (the spelling typed, if parsed)
    low, period = values["minSyncPeriod"], values["syncPeriod"]
    low_from, period_from = sources["minSyncPeriod"], sources["syncPeriod"]
    if low < 0:
        file, field = low_from or (None, min_flag)
        diags.append(Diagnostic(f"{low:g}s: must be greater than or equal to 0", file=file, field=field))
    if period <= 0:
        file, field = period_from or (None, sync_flag)
        diags.append(Diagnostic(f"{period:g}s: must be greater than 0", file=file, field=field))
    elif low > period and period_from is None and low_from is not None:  # the default sync period: blame the minimum
        file, field = low_from
        diags.append(Diagnostic(f"{low:g}s is longer than the sync period ({period:g}s, kube-proxy's default); "
                                f"expected at most that, or a longer {sync_flag}", file=file, field=field))
    elif low > period:
        file, field = period_from or (None, sync_flag)
        diags.append(Diagnostic(f"{period:g}s is shorter than the minimum sync period ({low:g}s); expected at "
                                f"least {(low_from or (None, min_flag))[1]}", file=file, field=field))
    return low, period, diags


def _masquerade_bit_problems(args: argparse.Namespace) -> list[Diagnostic]:
    bit = getattr(args, "iptables_masquerade_bit", None)
    if bit is not None and not 0 <= bit <= 31:
        return [Diagnostic(f"{bit} is not in 0-31", field="--iptables-masquerade-bit")]
    return []


def stdin_once(*uses: tuple[str, Sequence[str]]) -> None:
    """A usage error when standard input ("-") is given more than once in one run, across the flags given as
    (flag, values): a pipe can be read once, so a second "-" would be read as empty and the answer would be about
    the first alone (``diff -f - --against -`` compared a state with nothing). Checked before anything is read."""
    flags = [flag for flag, values in uses for value in values if value == "-"]
    if len(flags) > 1:
        both = flags[0] if len(set(flags)) == 1 else " and ".join(dict.fromkeys(flags))
        raise UsageError(Diagnostic(f"'-' (standard input) given {len(flags)} times ({both}); a pipe can be read "
                                    "once; expected '-' for one input only, the others files", field=flags[1]))


def require_paths(paths: list[str], flag: str, *, recursive: bool = False) -> list[str]:
    """The paths, when each exists: as kubectl apply -f, a path that is not there stops the command before any
    answer (an analysis of the other files alone would read like an answer about the whole input); "-" at most
    once (:func:`stdin_once`); ``recursive`` (-R): see :func:`recursive_paths`."""
    from kubeproxy_sim.objects.load import MANIFEST_EXPECTED, STDIN, manifest_unreadable

    stdin_once((flag, paths))
    if "" in paths:  # (``-f "$DIR"`` with DIR unset: "no such file" of no name said nothing, as check_writable's)
        raise UsageError(Diagnostic(f"an empty file name; expected {MANIFEST_EXPECTED}", field=flag))
    missing = []
    for path in paths:
        try:
            if path != STDIN:
                os.stat(path)
        except OSError as exc:  # not there; a dangling link or a loop of them is named so
            missing.append(manifest_unreadable(path, exc, flag))
    if missing:
        raise InputError(missing)
    return recursive_paths(paths) if recursive else paths


def recursive_paths(paths: list[str]) -> list[str]:
    """The paths with each directory replaced by the manifests of its tree, as kubectl's -R reads them
    (objects.load.manifest_entries); a directory with none, or one that cannot be listed (the given one or a
    subdirectory, in its place among the files read), is kept, for the loader to say so of it."""
    from kubeproxy_sim.objects.load import STDIN, manifest_entries

    found: list[str] = []
    for path in paths:
        if path == STDIN or not os.path.isdir(path):
            found.append(path)
            continue
        try:
            files = manifest_entries(path, recursive=True, keep_unlisted=True)
        except OSError:
            files = []
        found += files or [path]
    return found


def config_from_args(argv: Sequence[str], cluster: Cluster) -> ProxyConfig:
    """The config a list of node flags describes (scenario.yaml's ``args``); raises InputError if invalid."""
    parser = Parser(add_help=False)
    add_node_flags(parser)
    config, diagnostics = build_config(parser.parse_args(list(argv)), cluster)
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    if errors:
        raise InputError(errors)
    return config


def _split_flags(args: argparse.Namespace) -> tuple[argparse.Namespace | None, argparse.Namespace]:
    """The flags a ``--scenario`` filled in, and those given on the command line.

    A scenario's flags are presets: a ``--config`` file given with the scenario overrides them, as a flag does.
    """
    filled: frozenset[str] = getattr(args, "from_scenario", frozenset())
    if not filled:
        return None, args
    scenario, given = argparse.Namespace(**vars(args)), argparse.Namespace(**vars(args))
    for key in vars(args):
        setattr(given if key in filled else scenario, key, None)
    return scenario, given


def _flag_settings(args: argparse.Namespace, diags: list[Diagnostic],
                   malformed: list[Diagnostic] | None = None) -> dict[str, object]:
    """The node flags given; a CIDR that is not one is reported under its flag and left out. A value of the wrong
    shape (text that is no CIDR, an empty entry) is also put on ``malformed``."""
    from kubeproxy_sim.cli.config_file import check_cluster_cidrs, check_nodeport_addresses

    def reporter(flag: str, shape: bool = False) -> Callable[[str], None]:
        def report(message: str) -> None:
            diags.append(Diagnostic(message, field=flag))
            if shape and malformed is not None:
                malformed.append(diags[-1])
        return report

    cidrs = check_cluster_cidrs(_flag_entries(args.cluster_cidr, reporter("--cluster-cidr", shape=True)),
                                reporter("--cluster-cidr"), reporter("--cluster-cidr", shape=True))
    nodeports = check_nodeport_addresses(
        _flag_entries(args.nodeport_addresses, reporter("--nodeport-addresses", shape=True), " or 'primary'"),
        reporter("--nodeport-addresses"), reporter("--nodeport-addresses", shape=True))
    if blank_hostname(args.hostname_override):
        diags.append(Diagnostic(f"{args.hostname_override!r} is blank; expected a node name",
                                field="--hostname-override"))
    gates = {name: value for given in getattr(args, "feature_gates", None) or () for name, value in given.items()}
    if gates:
        diags += _gate_diagnostics(gates)
    bind = None
    if args.bind_address is not None:
        from kubeproxy_sim.cli.config_file import ip_address_text, specified_ip

        bind = ip_address_text(args.bind_address)
        if bind is None:
            reporter("--bind-address", shape=True)(f"{args.bind_address!r} is not an IP address; expected e.g. "
                                                   "192.168.0.10 or fd00::10 (or 0.0.0.0, the default: no override)")
        bind = specified_ip(bind)
    settings: dict[str, object] = {
        "node_name": None if blank_hostname(args.hostname_override) else args.hostname_override,
        "bind_address": bind,
        "cluster_cidrs": cidrs or None,
        "detect_local_mode": DetectLocalMode(args.detect_local_mode) if args.detect_local_mode else None,
        "bridge_interface": args.pod_bridge_interface,
        "interface_name_prefix": args.pod_interface_name_prefix,
        "masquerade_all": args.masquerade_all,
        "masquerade_bit": args.iptables_masquerade_bit,
        "localhost_nodeports": args.iptables_localhost_nodeports,
        "nodeport_addresses": nodeports or None,
        "conntrack_tcp_be_liberal": args.conntrack_tcp_be_liberal,
        "random_fully": args.random_fully,
        "nfacct": args.nfacct,
        "feature_gates": gates or None,
    }
    return {k: v for k, v in settings.items() if v is not None}


def _flag_entries(text: str | None, malformed: Callable[[str], None], alternative: str = "") -> list[str]:
    """The entries of a comma-separated CIDR flag. "" is no entry (the default), but an empty one ("," or
    "10.0.0.0/8,") is one kube-proxy's validation refuses ("must be a valid CIDR"): reported, then left out."""
    from kubeproxy_sim.cli.config_file import CIDR_EXAMPLE

    entries = [part.strip() for part in text.split(",")] if text else []
    if "" in entries:
        malformed(f"{text!r} has an empty entry, which kube-proxy refuses (must be a valid CIDR); expected CIDRs "
                  f"({CIDR_EXAMPLE}){alternative}, separated by single commas")
    return [entry for entry in entries if entry]


def _gate_diagnostics(gates: dict[str, bool]) -> list[Diagnostic]:
    """``--feature-gates`` (every one given, a later value of a gate winning) checked as kube-proxy checks them.
    They are kube-proxy's flag's: a ``--config`` file's ``featureGates`` are checked as the file's."""
    from kubeproxy_sim.cli.feature_gates import gate_problems

    return [Diagnostic(f"{name}: {message}"[:300] if name else message, field="--feature-gates", severity=severity)
            for name, message, severity in gate_problems(gates)]


def _layer(settings: dict[str, object], over: dict[str, object]) -> None:
    """``over``'s settings over ``settings``'; feature gates gate by gate, as one map the later layer adds to."""
    below, above = settings.get("feature_gates"), over.get("feature_gates")
    settings.update(over)
    if isinstance(below, dict) and isinstance(above, dict):
        settings["feature_gates"] = {**below, **above}


_IPV4_PREFIXES = frozenset(str(n) for n in range(33))
"""IPv4 prefix lengths as netaddr reads and prints them (no sign, no leading zero)."""


def _normalise_ip(text: str, field: str, diags: list[Diagnostic]) -> str | None:
    """``IP[/PREFIX]`` in canonical form; the prefix defaults to a host route."""
    from kubeproxy_sim.objects.addr import is_plain_ipv4

    address, slash, prefix = text.strip().partition("/")
    if is_plain_ipv4(address) and (not slash or prefix in _IPV4_PREFIXES):
        # the usual node address (a Node object's, a plain --node-ip), canonical as it is: no netaddr needed,
        # whose import is a sixth of the start-up of ``rules``
        return f"{address}/{prefix or 32}"
    import netaddr

    try:
        if "/" in text:
            net = netaddr.IPNetwork(text.strip())
            return f"{net.ip}/{net.prefixlen}"
        ip = netaddr.IPAddress(text.strip())
        return f"{ip}/{32 if ip.version == 4 else 128}"
    except (netaddr.AddrFormatError, ValueError, TypeError):
        diags.append(Diagnostic(f"{text!r} is not an IP address; expected IP or IP/PREFIX", field=field))
        return None


def _bound_first(bind: str, node_ips: tuple[str, ...], diags: list[Diagnostic],
                 source: tuple[str | None, str]) -> tuple[str, ...]:
    """The node's addresses with the bind address first: kube-proxy's detectNodeIPs makes a specified bindAddress
    the primary node IP, over what it learns from the Node object (here also --node-ip), and its family the
    primary family. An address the node does not have is added to them, with a note."""
    same = [ip for ip in node_ips if ip.split("/")[0] == bind]
    if node_ips and not same:
        diags.append(Diagnostic(f"{bind} is not one of the node's addresses ({', '.join(node_ips)}); kube-proxy "
                                "takes it as the primary node IP all the same, and the simulator adds it to them",
                                file=source[0], field=source[1], severity=Severity.NOTE))
    return (*(same[:1] or [f"{bind}/{128 if ':' in bind else 32}"]), *(ip for ip in node_ips if ip not in same))


def _node_addresses(node: Node | None) -> tuple[str, ...]:
    return tuple(f"{ip}/{128 if ':' in ip else 32}" for ip in node.ips) if node is not None else ()


def normal_node_name(name: str | None) -> str | None:
    """The node name as kube-proxy takes it from --hostname-override: trimmed and lower-cased (Node names are
    lower-case DNS names, so ``Node1`` still finds node ``node1``). A blank one was refused when read."""
    return name.strip().lower() or None if name else None


def blank_hostname(name: object) -> bool:
    """Spaces only: kube-proxy refuses it ("empty hostname is invalid"); an empty one means the host's name."""
    return isinstance(name, str) and bool(name) and not name.strip()


def _lowered(given: object, name: str) -> str:
    """Why the name said is not the one typed (``nodeA``: kube-proxy takes 'nodea'), or nothing."""
    return " (kube-proxy lower-cases the name given)" if isinstance(given, str) and given.strip() != name else ""


def _closest_node(name: str, cluster: Cluster) -> str:
    """'did you mean X? ' naming the Node closest to a name no Node has (``nodea``: node-a), at difflib's 0.8
    as the field hints; nothing when none is close, or when several are as close (``node-x``: node-a, node-b and
    node-c alike), where naming one would be a guess."""
    import difflib  # (only when the node is missing: the usual run never loads it)

    close = difflib.get_close_matches(name, sorted(node.name for node in cluster.nodes), n=2, cutoff=0.8)
    ratio = [difflib.SequenceMatcher(None, name, found).ratio() for found in close]
    return f"did you mean {close[0]}? " if close and (len(close) == 1 or ratio[0] > ratio[1]) else ""


def _pick_node(cluster: Cluster, name: str | None) -> tuple[str, Node | None]:
    """The node a command runs as: the one named, else the first Node object by name, else, without any Node
    object, a node the objects name (:func:`named_default_node`)."""
    if name:
        return name, cluster.node(name)
    if cluster.nodes:
        first = min(cluster.nodes, key=lambda n: n.name)
        return first.name, first
    return named_default_node(cluster), None


def named_default_node(cluster: Cluster) -> str:
    """The default node of objects without any Node object (``kubectl get svc,endpointslices,pods``): their nodes
    are the names the endpoints' and pods' nodeName give, so the first of them by name is the node, as the first
    Node object by name is with Nodes; node1 when nothing names a node (it is then the one node) or when the
    objects name it. Never a node1 beside named nodes: it would be a node no object has, its share of every
    view's traffic made up (a Local policy's DROP there, a client pod there)."""
    names = {e.node_name for s in cluster.endpoint_slices for e in s.endpoints if e.node_name}
    names |= {p.node_name for p in cluster.pods if p.node_name}
    return DEFAULT_NODE_NAME if not names or DEFAULT_NODE_NAME in names else min(names)


def node_settings(args: argparse.Namespace,
                  diags: list[Diagnostic] | None = None) -> tuple[dict[str, object], frozenset[str]]:
    """The node settings ``args`` give, as kube-proxy layers them: defaults < a scenario's flags < the --config
    file < the flags given; and which of them are the file's (for messages to name it). One precedence for
    :func:`build_config` and what is read before it (the watch's wait for the node's Node); problems go to
    ``diags``."""
    diags = [] if diags is None else diags
    scenario, given = _split_flags(args)
    settings = _flag_settings(scenario, diags) if scenario is not None else {}
    file_settings: dict[str, object] = {}
    if getattr(args, "config", None):
        file_settings, file_diags = config_file_settings(args)
        _layer(settings, file_settings)
        diags.extend(file_diags)
    flags = _flag_settings(given, diags)
    _layer(settings, flags)
    return settings, frozenset(file_settings.keys() - flags.keys())


POD_CIDRS_HINT = "give the Node object with -f, or choose another mode"
"""What build_config's refusal of NodeCIDR without the node's pod CIDR suggests, for objects given once."""


def build_config(args: argparse.Namespace, cluster: Cluster, *, node_said: bool = False,
                 pod_cidrs_hint: str = POD_CIDRS_HINT) -> tuple[ProxyConfig, list[Diagnostic]]:
    """Defaults < a scenario's flags < --config file < flags (:func:`node_settings`); host facts from --node-ip or
    the Node object. ``node_said``: a missing Node of the node's name was said already (the watch's wait for it).
    ``pod_cidrs_hint``: what to do about NodeCIDR without the node's pod CIDR, in the words of the objects'
    source."""
    diags: list[Diagnostic] = []
    settings, from_file = node_settings(args, diags)
    # (file, field) the bind address and the node name came from
    bind_from = (args.config, "bindAddress") if "bind_address" in from_file else (None, "--bind-address")
    name_from = (args.config, "hostnameOverride") if "node_name" in from_file else (None, "--hostname-override")
    from kubeproxy_sim.cli.feature_gates import gate_settings

    gates = settings.pop("feature_gates", None)
    settings.update(gate_settings(gates if isinstance(gates, dict) else {}))
    given_name = settings.pop("node_name", None)
    name, node = _pick_node(cluster, normal_node_name(given_name))  # type: ignore[arg-type]
    if node is None and cluster.nodes and not node_said:
        diags.append(Diagnostic(f"no Node object named {literal(name)}{_lowered(given_name, name)}; "
                                f"{_closest_node(name, cluster)}node facts come from flags only",
                                severity=Severity.WARNING, file=name_from[0], field=name_from[1]))
    raw_ips = args.node_ip if args.node_ip else _node_addresses(node)
    node_ips = tuple(ip for ip in (_normalise_ip(t, "--node-ip", diags) for t in raw_ips) if ip)
    bind = settings.pop("bind_address", None)
    if isinstance(bind, str) and bind:
        node_ips = _bound_first(bind, node_ips, diags, bind_from)
    family = _family(args.ip_family, node_ips)
    want6 = family is IPFamily.IPV6
    if node_ips and not any((":" in ip) == want6 for ip in node_ips):
        diags.append(Diagnostic(f"the node has no IPv{6 if want6 else 4} address (from --node-ip or its Node "
                                f"object: {', '.join(node_ips)}); an IPv{6 if want6 else 4} proxier then has no "
                                "node address to match NodePorts on, and the simulator makes one up",
                                field="--ip-family", severity=Severity.WARNING))
    bit_problems = _masquerade_bit_problems(args)
    if bit_problems:
        diags += bit_problems
        settings.pop("masquerade_bit")
    diags += _detect_local_problems(settings)
    if settings.get("detect_local_mode") is DetectLocalMode.NODE_CIDR and not (node and node.pod_cidrs):
        raise InputError([Diagnostic(
            f"NodeCIDR needs the node's pod CIDR, and {_whose(name, node)}; kube-proxy waits for spec.podCIDRs "
            f"and fails to start ({pod_cidrs_hint})", field="--detect-local-mode")])
    config = ProxyConfig(
        node_name=name,
        ip_family=family,
        node_ips=node_ips,
        node_pod_cidrs=node.pod_cidrs if node else (),
        node_labels=node.labels if node else (),
        **settings,  # type: ignore[arg-type]
    )
    return config, [*diags, *_logged_at_start(config)]


def _logged_at_start(config: ProxyConfig) -> list[Diagnostic]:
    """What kube-proxy logs about a setting it then works around, so the user of the rules hears it too.

    ``--nodeport-addresses primary`` with no node IP (none from the flags nor the Node object, as after the
    watch's wait for the Node timed out): kube-proxy's detectNodeIPs then assumes loopback, which primary skips,
    leaving no addresses, so every local one (as a loopback node IP does: primary skips it); a loopback address in
    ``--nodeport-addresses`` that the proxier skips (IPv6 has no localhost NodePorts, and IPv4 only with
    ``--iptables-localhost-nodeports``); and a detect-local mode with nothing to detect with, which silently drops
    the rules that masquerade traffic from outside the pod network.
    """
    from kubeproxy_sim.proxier.rules.context import local_detector, nodeport_destinations, primary_nodeport_cidrs

    found: list[Diagnostic] = []
    if "primary" in config.nodeport_addresses and not config.node_ips:
        found.append(Diagnostic(
            "primary, but the node has no node IP (none from --node-ip, --bind-address or its Node object): "
            "kube-proxy assumes loopback (\"Can't determine this node's IP, assuming loopback\"), which primary "
            "leaves out, so NodePorts answer on every local address (it logs \"nodePortAddresses is unset\")",
            field="--nodeport-addresses", severity=Severity.WARNING))
    elif "primary" in config.nodeport_addresses and not primary_nodeport_cidrs(config):
        found.append(Diagnostic(
            f"primary, but the node's IP is loopback ({config.node_ips[0].split('/')[0]}), which primary leaves "
            "out, so NodePorts answer on every local address (kube-proxy logs \"nodePortAddresses is unset\")",
            field="--nodeport-addresses", severity=Severity.WARNING))
    loopback = [ip for ip in nodeport_destinations(config).addresses if ip in ("127.0.0.1", "::1")]
    if loopback and config.ipv6:
        found.append(Diagnostic("includes localhost (::1), but localhost NodePorts are not supported on IPv6; "
                                "kube-proxy logs an error and skips it", field="--nodeport-addresses",
                                severity=Severity.WARNING))
    elif loopback and not config.localhost_nodeports:
        found.append(Diagnostic("includes localhost (127.0.0.1), but --iptables-localhost-nodeports=false; "
                                "kube-proxy logs an error and skips it", field="--nodeport-addresses",
                                severity=Severity.WARNING))
    if local_detector(config) is None:
        family = 6 if config.ipv6 else 4
        missing = (f"no IPv{family} cluster CIDR (--cluster-cidr)"
                   if config.detect_local_mode is DetectLocalMode.CLUSTER_CIDR else f"no IPv{family} pod CIDR")
        found.append(Diagnostic(
            f"{config.detect_local_mode.value} with {missing}: kube-proxy then tells no pod traffic from other "
            "traffic: the rules that masquerade traffic from outside the pod network to cluster IPs, and under "
            "externalTrafficPolicy Local the one that sends pods' traffic to every endpoint, are left out",
            field="--detect-local-mode", severity=Severity.NOTE))
    return found


def _whose(name: str, node: Node | None) -> str:
    return f"node {name!r} has no spec.podCIDRs" if node is not None else f"there is no Node object named {name!r}"


def _detect_local_problems(settings: dict[str, object]) -> list[Diagnostic]:
    """The interface a detect-local mode reads must be named (kube-proxy's validation: "must not be empty")."""
    needs = {DetectLocalMode.BRIDGE_INTERFACE: ("bridge_interface", "--pod-bridge-interface"),
             DetectLocalMode.INTERFACE_NAME_PREFIX: ("interface_name_prefix", "--pod-interface-name-prefix")}
    mode = settings.get("detect_local_mode")
    if isinstance(mode, DetectLocalMode) and mode in needs and not settings.get(needs[mode][0]):
        key, flag = needs[mode]
        return [Diagnostic(f"{mode.value} needs an interface: {flag} (detectLocal.{_camel(key)}) must not be empty",
                           field="--detect-local-mode")]
    return []


def _camel(key: str) -> str:
    first, *rest = key.split("_")
    return first + "".join(word.title() for word in rest)


def _family(flag: str | None, node_ips: tuple[str, ...]) -> IPFamily:
    if flag:
        return IPFamily.IPV6 if flag == "ipv6" else IPFamily.IPV4
    if node_ips and ":" in node_ips[0]:
        return IPFamily.IPV6
    return IPFamily.IPV4


def with_overrides(config: ProxyConfig, **changes: object) -> ProxyConfig:
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]


@value_class
class NodeRules:
    """One node's whole nat and filter tables, generated from the objects, and what they came from."""

    ruleset: Ruleset
    inputs: Inputs

    @property
    def config(self) -> ProxyConfig:
        return self.inputs.config


def load_node_rules(args: argparse.Namespace, family: int | None = None) -> NodeRules:
    """Objects + node flags -> the node's tables as kube-proxy leaves them (built-in chains with its jumps);
    ``family``: a packet's, as :func:`load_inputs` takes it."""
    return node_rules(load_inputs(args, family=family))


def node_rules(inputs: Inputs) -> NodeRules:
    """The node's tables for inputs already read (:func:`load_inputs`): generated once per node."""
    from kubeproxy_sim.proxier import generate
    from kubeproxy_sim.proxier.full import node_tables

    result = generate(inputs.cluster, inputs.config)
    return NodeRules(node_tables(result.ruleset, result.jumps), inputs)
