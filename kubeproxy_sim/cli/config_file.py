"""``--config FILE``: a KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1), read as kube-proxy reads it.

kube-proxy refuses to start on a configuration it cannot decode or validate. Here
every field that cannot be used is reported on one line (the file, the field path,
what is wrong and what is expected) and left at its default, so that the other
fields and the flags still apply; the exit status says that something was wrong.
The same CIDR checks serve ``--cluster-cidr`` and ``--nodeport-addresses``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from kubeproxy_sim.durations import GO_MAX_SECONDS
from kubeproxy_sim.errors import Diagnostic, Severity, cannot_read, literal, shortened
from kubeproxy_sim.objects.addr import parse_cidr
from kubeproxy_sim.objects.report import WrittenNumber, described, number, quote, quoting_hint, type_name
from kubeproxy_sim.objects.stdin import read_text
from kubeproxy_sim.proxier.config import DetectLocalMode

if TYPE_CHECKING:
    from kubeproxy_sim.objects.load import KeyCollision  # (imported when a file is read: see _parse)

ReadFailure = OSError | UnicodeDecodeError
"""Why a file could not be read (:func:`~kubeproxy_sim.objects.stdin.read_text` raises these)."""

T = TypeVar("T")

KIND = "KubeProxyConfiguration"
# v1alpha1's fields: anything else is a typo kube-proxy would refuse. (``linux`` and ``windows`` are the internal
# type's and the withdrawn v1alpha2's, not v1alpha1's: conversion fills them from the top-level fields below.)
KNOWN_FIELDS = frozenset({
    "apiVersion", "kind", "featureGates", "clientConnection", "logging", "hostnameOverride", "bindAddress",
    "healthzBindAddress", "metricsBindAddress", "bindAddressHardFail", "enableProfiling",
    "showHiddenMetricsForVersion", "mode", "iptables", "ipvs", "nftables", "winkernel", "detectLocalMode",
    "detectLocal", "clusterCIDR", "nodePortAddresses", "oomScoreAdj", "conntrack", "configSyncPeriod", "portRange",
    "windowsRunAsService",
})
API_VERSION = "kubeproxy.config.k8s.io/v1alpha1"  # the one version kube-proxy's scheme registers
# The fields of v1alpha1's nested structs: strict decoding finds an unknown field at any depth, and kube-proxy then
# decodes leniently and ignores it. ``logging`` (component-base's, with its own nested options) and ``featureGates``
# (a map) are not checked.
NESTED_FIELDS: dict[str, frozenset[str]] = {
    "clientConnection": frozenset({"kubeconfig", "acceptContentTypes", "contentType", "qps", "burst"}),
    "iptables": frozenset({"masqueradeBit", "masqueradeAll", "localhostNodePorts", "snatNodeInternalIP",
                           "syncPeriod", "minSyncPeriod"}),
    "ipvs": frozenset({"syncPeriod", "minSyncPeriod", "scheduler", "excludeCIDRs", "strictARP", "tcpTimeout",
                       "tcpFinTimeout", "udpTimeout"}),
    "nftables": frozenset({"masqueradeBit", "masqueradeAll", "syncPeriod", "minSyncPeriod"}),
    "winkernel": frozenset({"networkName", "sourceVip", "enableDSR", "rootHnsEndpointName",
                            "forwardHealthCheckVip"}),
    "detectLocal": frozenset({"bridgeInterface", "interfaceNamePrefix"}),
    "conntrack": frozenset({"maxPerCore", "min", "tcpEstablishedTimeout", "tcpCloseWaitTimeout", "tcpBeLiberal",
                            "udpTimeout", "udpStreamTimeout"}),
}
# Where v1alpha1 has what a ``linux``/``windows`` section (of the internal type, or of v1alpha2) holds: the hint of
# the warning that section gets, as kube-proxy ignores it
MOVED_FIELDS = {"linux.masqueradeAll": "iptables.masqueradeAll", "linux.conntrack": "conntrack",
                "linux.oomScoreAdj": "oomScoreAdj", "windows.runAsService": "windowsRunAsService"}
# The Linux modes other than iptables that kube-proxy's validation accepts, and the data plane each programs
_OTHER_LINUX_MODES = {"ipvs": "IPVS virtual servers and ipsets", "nftables": "nftables tables (kube-proxy's own)"}
CIDR_EXAMPLE = "e.g. 10.244.0.0/16 or fd00:10:244::/56"
# Go's time.ParseDuration, which decodes a metav1.Duration: a sign, then numbers each with its unit
_GO_DURATION = re.compile(r"([-+]?)((?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+)")
_GO_PART = re.compile(r"([0-9]+\.?[0-9]*|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")


def read_config_file(path: str, text: str | ReadFailure | None = None) -> tuple[dict[str, object], list[Diagnostic]]:
    """The ProxyConfig fields a KubeProxyConfiguration sets, and every problem with it; ``text``: the file's
    content as read before (every command reads it once, a watch once per kube-proxy start), or why that reading
    failed; None: it is read now."""
    data, problem, duplicates = _load(path, text)
    if problem is not None:
        return {}, [*duplicates, problem]  # (the ConfigMap's note: the problem is config.conf's)
    reader = _Reader(path, data)
    settings = reader.settings()
    return settings, [*duplicates, *reader.diags]


def read_sync_periods(path: str, text: str | ReadFailure | None = None) -> tuple[dict[str, float], list[Diagnostic]]:
    """``iptables.minSyncPeriod`` and ``iptables.syncPeriod`` (Go durations) in seconds, where the file sets
    them, and what is wrong with either (naming the file and field); the problems of the file as a whole are
    :func:`read_config_file`'s to report. A zero one (or null) is not set: kube-proxy's defaulting
    (SetDefaults_KubeProxyConfiguration) makes a file's 0 its default, 30s and 1s, before validating; only a
    flag's 0 stays 0."""
    data, problem, _ = _load(path, text)
    if problem is not None:
        return {}, []
    reader = _Reader(path, data)
    found: dict[str, float] = {}
    for key in ("minSyncPeriod", "syncPeriod"):
        seconds = reader.duration(f"iptables.{key}")
        if seconds:
            found[key] = seconds
    return found, reader.diags


def go_duration(text: str) -> float | None:
    """Seconds, as Go's time.ParseDuration reads ``text`` (a metav1.Duration in a KubeProxyConfiguration): an
    optional sign, then numbers each with its unit (``1m30s``, ``-1s``, ``.5s``); ``0`` alone needs none, and
    nothing else may go without one (``30`` is refused: plain seconds are a convenience of this tool's flags
    only). None where Go refuses it."""
    if text in ("0", "+0", "-0"):
        return 0.0
    found = _GO_DURATION.fullmatch(text)
    if found is None:
        return None
    seconds = sum(float(number) * _GO_UNITS[unit] for number, unit in _GO_PART.findall(found.group(2)))
    if seconds > GO_MAX_SECONDS:  # Go: "invalid duration" (a float held 400 digits as inf)
        return None
    return -seconds if found.group(1) == "-" else seconds


def _load(path: str, text: str | ReadFailure | None) -> tuple[dict[str, Any], Diagnostic | None, list[Diagnostic]]:
    """The file's mapping, its keys the JSON keys kube-proxy's codec makes (sigs.k8s.io/yaml: ``y:`` is the field
    "true"), or the problem that makes it unusable; and a warning for each key given twice (kube-proxy's strict
    decoding fails on it, and kube-proxy then decodes leniently, the last one winning), and for each pair of keys
    made one JSON key (``1`` and ``"1"``: strict decoding passes it, go-yaml holding two keys, and the value kept
    follows Go's map order). Of kubeadm's kube-proxy ConfigMap, its ``config.conf``'s, after a note that says so
    (also with a problem, which is config.conf's)."""
    data, problem, duplicates, collisions, notes = _parse(path, text)
    if problem is not None:
        return {}, problem, notes
    found = [(mark.index, Diagnostic(f'mapping key "{key}" already defined at line {first.line + 1}; kube-proxy\'s '
                                     "strict decoding refuses it, and its lenient decoding keeps the last",
                                     file=path, line=mark.line + 1, severity=Severity.WARNING))
             for mark, key, first in duplicates]
    found.extend((c.mark.index, Diagnostic(
        f"mapping key {c.written} and {c.first_written} at line {c.first_mark.line + 1} are two keys to go-yaml but "
        f'one JSON key, "{c.name}"; which value kube-proxy keeps is unspecified (Go\'s map order), the last is '
        "used here", file=path, line=c.mark.line + 1, severity=Severity.WARNING)) for c in collisions)
    return data, None, [*notes, *(warning for _, warning in sorted(found, key=lambda entry: entry[0]))]


_Parsed = tuple[dict[str, Any], Diagnostic | None, list[tuple[Any, Any, Any]], list["KeyCollision"], list[Diagnostic]]
"""The file's mapping, the problem that makes it unusable, the keys given twice and made one JSON key, and the
note of a ConfigMap read for its config.conf."""
CONFIG_MAP_KEY = "config.conf"
"""The data key of kubeadm's kube-proxy ConfigMap that holds the KubeProxyConfiguration (its DaemonSet mounts the
ConfigMap and runs kube-proxy --config=/var/lib/kube-proxy/config.conf)."""


def _parse(path: str, text: str | ReadFailure | None, within: bool = False) -> _Parsed:
    import yaml

    from kubeproxy_sim.objects.load import safe_load

    if text is None:
        text = read_file(path)
    if not isinstance(text, str):
        return {}, Diagnostic(cannot_read(text, f"a {KIND} file"), file=path, field="--config"), [], [], []
    overflow = _json_number_out_of_range(text)
    if overflow is not None:
        field, literal_text = overflow
        return {}, Diagnostic(f"{shortened(literal_text)} is a number out of range (a 64-bit float reaches "
                              "about ±1.8e308); kube-proxy's JSON decoding refuses the file", file=path,
                              field=field), [], [], []
    collisions: list[KeyCollision] = []
    try:
        data, duplicates = safe_load(text, collisions=collisions)
    except yaml.YAMLError as exc:
        from kubeproxy_sim.objects.load import BadValueError, yaml_syntax_error

        found = yaml_syntax_error(exc, path, text=text)  # (the text: a tab is named whichever reader marked it)
        if isinstance(exc, BadValueError):  # (it parses: a null key or a bad !!binary fails kube-proxy's decoding)
            found = dataclasses.replace(found, message=f"{found.message}; kube-proxy's decoding refuses the file")
        return {}, found, [], [], []
    if not isinstance(data, dict):
        got = "nothing" if data is None else type_name(data)
        return {}, Diagnostic(f"expected a {KIND} mapping, got {got}", file=path), [], [], []
    kind = data.get("kind")
    if kind == "ConfigMap" and not within:
        return _config_map(path, text, data)
    if kind != KIND:
        got = "not set" if kind is None else _value(kind)
        return {}, Diagnostic(f"{got}; expected {KIND}", file=path, field="kind"), [], [], []  # (the field names it)
    version = data.get("apiVersion")
    if version != API_VERSION:  # kube-proxy: no kind "KubeProxyConfiguration" is registered for version "..."
        got = "not set" if version is None else _value(version)
        return {}, Diagnostic(f"{got}; kube-proxy decodes {KIND} only as {API_VERSION}", file=path,
                              field="apiVersion"), [], [], []
    return data, None, duplicates, collisions, []


def _config_map(path: str, text: str, data: dict[str, Any]) -> _Parsed:
    """kubeadm's kube-proxy ConfigMap given as the file (``kubectl get configmap kube-proxy -o yaml``): its
    config.conf is the KubeProxyConfiguration, read after a note saying so; a ConfigMap without it is refused,
    naming the keys it has."""
    entries = data.get("data")
    conf = entries.get(CONFIG_MAP_KEY) if isinstance(entries, dict) else None
    if not isinstance(conf, str):
        keys = ", ".join(sorted(map(str, entries))) if isinstance(entries, dict) else ""
        has = f"its data keys: {keys}" if keys else "it has no data"
        wrong = "is not a string" if conf is not None else f"is not set ({has})"
        return {}, Diagnostic(f"{wrong}; expected kube-proxy's ConfigMap, whose {CONFIG_MAP_KEY} holds the "
                              f"{KIND} (or that {KIND} alone)", file=path,
                              field=f'data["{CONFIG_MAP_KEY}"]'), [], [], []
    inner, lined = _embedded(text, conf)
    lines = "its lines are the file's" if lined else f"lines are counted from {CONFIG_MAP_KEY}'s first"
    note = Diagnostic(f"a ConfigMap: its {CONFIG_MAP_KEY}, kubeadm's kube-proxy configuration, is read as the "
                      f"{KIND} ({lines})", file=path, field=f'data["{CONFIG_MAP_KEY}"]', severity=Severity.NOTE)
    found, problem, duplicates, collisions, _ = _parse(path, inner, within=True)
    if problem is not None:  # (an error is said alone: it names config.conf, whose kind or syntax it is)
        problem = dataclasses.replace(problem, message=f"{problem.message} (in {CONFIG_MAP_KEY})")
    return found, problem, duplicates, collisions, [note]


def _embedded(text: str, value: str) -> tuple[str, bool]:
    """config.conf's text to read, and whether its lines (and columns) are the file's: a literal block (``|-``,
    as kubectl writes it) is given back in place, indented and after as many empty lines as precede it, so that
    a problem's line is the file's; another style (a JSON string) as it is."""
    import yaml

    node = _data_value(yaml.SafeLoader(text))
    if node is None or node.style != "|" or node.value != value:
        return value, False
    first = node.start_mark.line + 1  # (the line after the block's header)
    line = text.splitlines()[first] if first < len(text.splitlines()) else ""
    indent = line[: len(line) - len(line.lstrip(" "))]
    body = "".join(indent + part if part.strip() else part for part in value.splitlines(keepends=True))
    return "\n" * first + body, True


def _data_value(loader: Any) -> Any:
    """The node of the first document's data["config.conf"], or None."""
    try:
        node = loader.get_node() if loader.check_node() else None
    except Exception:  # (it parsed as the reader reads it: a node not found is only lines not mapped)
        return None
    finally:
        loader.dispose()
    for key in ("data", CONFIG_MAP_KEY):
        pairs = node.value if node is not None and isinstance(node.value, list) else []
        node = next((value for name, value in pairs if getattr(name, "value", None) == key), None)
    return node


def read_file(path: str, newline: str | None = None) -> str | ReadFailure:
    """The --config file's text (:func:`~kubeproxy_sim.objects.stdin.read_text`), or why it cannot be read: a
    reading that failed is kept as its reason, since reading again may fail otherwise (a pipe gives its text once,
    and is then read empty)."""
    try:
        return read_text(path, newline=newline)
    except (OSError, UnicodeDecodeError) as exc:
        return exc


def _json_number_out_of_range(text: str) -> tuple[str, str] | None:
    """The field path and literal of the first number of a JSON configuration that is past a 64-bit float, or
    None. The YAML reader takes ``1e400`` for the string "1e400" (go-yaml's float parsing fails), where
    kube-proxy decodes a JSON file as JSON, and Go's float parsing refuses the number (ErrRange), failing the
    decoding of the whole file. Text that is no JSON is left to the YAML reader, which says what is wrong."""
    from kubeproxy_sim.objects.load import json_float  # (the manifests' JSON numbers: 1e400 kept as written)

    if text.lstrip()[:1] != "{":
        return None
    try:
        data = json.loads(text, parse_float=json_float)
    except (ValueError, RecursionError):
        return None
    pending: list[tuple[str, Any]] = [("", data)]
    while pending:  # (in the file's order: a value's items go first)
        path, value = pending.pop(0)
        if type(value) is WrittenNumber and not value.whole:  # (a whole 1e30 is a float to Go: in range)
            return path, value.text
        if isinstance(value, dict):
            pending[:0] = [(f"{path}.{key}" if path else str(key), item) for key, item in value.items()]
        elif isinstance(value, list):
            pending[:0] = [(f"{path}[{i}]", item) for i, item in enumerate(value)]
    return None


def _value(value: object) -> str:
    """A value of the file for a message: a string as the flags' messages show one (quoted, cut at 200
    characters), anything else said with its type (``a boolean true``, ``a list ["a"]``), as YAML wrote it."""
    return literal(value) if isinstance(value, str) else described(value)


def _key(name: object) -> str:
    """A mapping key in a field path: a string as it is, cut at 200 characters; a YAML null, number or boolean
    key as YAML writes it (``null``, not Python's ``None``)."""
    return shortened(name) if isinstance(name, str) else quote(name)


class _Reader:
    """Reads typed fields of one document, reporting each wrong one by its path."""

    def __init__(self, path: str, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self.diags: list[Diagnostic] = []

    def error(self, field: str, message: str, severity: Severity = Severity.ERROR) -> None:
        self.diags.append(Diagnostic(message, file=self.path, field=field, severity=severity))

    def get(self, dotted: str, want: type[T], expected: str) -> T | None:
        """The value at ``dotted`` when it has type ``want``; None (reported) when it has another."""
        value: Any = self.data
        for part in dotted.split("."):
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        if value is None:
            return None
        if type(value) is not want:
            hint = quoting_hint(value) if want is str else ""  # (a bare n: see objects.report.not_a_string)
            self.error(dotted, f"expected {expected}, got {described(value)}{hint}")
            return None
        return value

    def duration(self, dotted: str) -> float | None:
        """The duration at ``dotted`` in seconds, as kube-proxy decodes it (a string Go's time.ParseDuration
        reads); None (reported) when it cannot be decoded, or when the field is not set."""
        text = self.get(dotted, str, "a duration such as 30s")
        if text is None:
            return None
        seconds = go_duration(text)
        if seconds is None and _NUMBER.fullmatch(text):
            self.error(dotted, f"{literal(text)} is not a duration: kube-proxy decodes it with Go's "
                       f"time.ParseDuration, which needs a unit; expected e.g. {shortened(text)}s")
        elif seconds is None:
            self.error(dotted, f"{literal(text)} is not a duration; expected e.g. 1s, 30s or 1m30s")
        return seconds

    def section(self, name: str) -> None:
        value = self.data.get(name)
        if value is not None and not isinstance(value, dict):
            self.error(name, f"expected a mapping, got {type_name(value)}")

    def unknown_fields(self) -> None:
        """Each field v1alpha1 does not have, at any depth checked, as a warning: kube-proxy's strict decoding
        fails on it, and kube-proxy then decodes leniently (logging why) and ignores the field."""
        import difflib  # here: only a --config file needs it, and every rules run imports this module

        sections: list[tuple[str, object, frozenset[str]]] = [("", self.data, KNOWN_FIELDS)]
        sections += [(f"{name}.", self._at(name), known) for name, known in NESTED_FIELDS.items()]
        for prefix, value, known in sections:
            if not isinstance(value, dict):
                continue
            for name in sorted((k for k in value if k not in known), key=str):
                close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.8)
                hint = f"; did you mean {prefix}{close[0]}?" if close else self._moved_hint(f"{prefix}{name}")
                self.error(f"{prefix}{_key(name)}", f"unknown field of {KIND}; kube-proxy's strict decoding "
                           f"refuses it{hint}", Severity.WARNING)

    def _moved_hint(self, dotted: str) -> str:
        """For a ``linux``/``windows`` section: where v1alpha1 has the fields it holds ("" for another field)."""
        section = self._at(dotted)
        if not isinstance(section, dict):
            return ""
        moved: list[str] = []
        for key, value in section.items():
            to = MOVED_FIELDS.get(f"{dotted}.{key}")
            if to is not None:  # (a nested section's fields one by one: linux.conntrack.tcpBeLiberal)
                moved += [f"{to}.{inner}" for inner in value] if isinstance(value, dict) and value else [to]
        if not moved:
            return ""
        listed = ", ".join(moved[:-1]) + " or " + moved[-1] if len(moved) > 1 else moved[0]
        return f"; v1alpha1 has no {dotted} section, and kube-proxy ignores it: did you mean {listed}?"

    def _at(self, dotted: str) -> object:
        value: Any = self.data
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    def settings(self) -> dict[str, object]:
        self.unknown_fields()
        for name in ("iptables", "detectLocal", "conntrack"):
            self.section(name)
        self._mode()
        settings: dict[str, object | None] = {
            "node_name": self._hostname(),
            "bind_address": self._bind_address(),
            "cluster_cidrs": self._cidrs("clusterCIDR"),
            "detect_local_mode": self._detect_local_mode(),
            "bridge_interface": self.get("detectLocal.bridgeInterface", str, "an interface name") or None,
            "interface_name_prefix": self.get("detectLocal.interfaceNamePrefix", str, "an interface name prefix")
            or None,
            "masquerade_all": self.get("iptables.masqueradeAll", bool, "true or false"),
            "masquerade_bit": self._masquerade_bit(),
            "localhost_nodeports": self.get("iptables.localhostNodePorts", bool, "true or false"),
            "nodeport_addresses": self._nodeport_addresses(),
            "conntrack_tcp_be_liberal": self.get("conntrack.tcpBeLiberal", bool, "true or false"),
        }
        self._check_unused()
        settings["feature_gates"] = self._feature_gates() or None
        return {k: v for k, v in settings.items() if v is not None}

    def _mode(self) -> None:
        """``mode`` as kube-proxy's validateProxyModeLinux checks it: iptables, ipvs and nftables (its gate is
        GA and locked on), or blank for iptables; anything else (``kernelspace``, Windows' only mode, or the
        ``userspace`` mode removed in 1.26) stops it at start. An ipvs or nftables node starts, but programs
        another data plane than the one emulated here: say so, so that no one reads these rules as that node's."""
        mode = self.get("mode", str, "a proxy mode") or "iptables"
        if mode == "iptables":
            return
        if mode in _OTHER_LINUX_MODES:
            self.error("mode", f"{literal(mode)}: the real node runs another data plane ({_OTHER_LINUX_MODES[mode]}), "
                       "not these iptables rules; these answers are what an iptables-mode kube-proxy would write "
                       "for the same objects", Severity.WARNING)
            return
        where = "is Windows' proxy mode" if mode == "kernelspace" else "is not a proxy mode"
        self.error("mode", f"{literal(mode)} {where}: kube-proxy on Linux refuses to start; expected iptables, ipvs "
                   "or nftables (blank means iptables)")

    def _check_unused(self) -> None:
        """The fields that do not reach the rules, checked as kube-proxy decodes (defaults) and validates them
        (pkg/proxy/apis/config/validation): it refuses to start on any of these; then they are ignored."""
        for key in ("minSyncPeriod", "syncPeriod"):  # (decoded only: their values are watch's and replay's)
            self.duration(f"iptables.{key}")
        config_sync = self.duration("configSyncPeriod")  # (0 is defaulted to 15m)
        if config_sync is not None and config_sync < 0:
            self.error("configSyncPeriod", f"{config_sync:g}s: must be greater than 0")
        for key in ("maxPerCore", "min"):
            count = self.get(f"conntrack.{key}", int, "a whole number")
            if count is not None and count < 0:
                self.error(f"conntrack.{key}", f"{number(count)}: must be greater than or equal to 0")
        for key in ("tcpEstablishedTimeout", "tcpCloseWaitTimeout", "udpTimeout", "udpStreamTimeout"):
            seconds = self.duration(f"conntrack.{key}")
            if seconds is not None and seconds < 0:
                self.error(f"conntrack.{key}", f"{seconds:g}s: must be greater than or equal to 0")
        oom = self.get("oomScoreAdj", int, "a whole number in -1000..1000")
        if oom is not None and not -1000 <= oom <= 1000:
            self.error("oomScoreAdj", f"{number(oom)} is not within [-1000, 1000]")
        for key, port in (("healthzBindAddress", 10256), ("metricsBindAddress", 10249)):
            text = self.get(key, str, "IP:port")
            problem = host_port_problem(text) if text else None  # ("": kube-proxy's default)
            if text and problem:
                self.error(key, f"{literal(text)}: {problem}; expected e.g. 0.0.0.0:{port}")

    def _feature_gates(self) -> dict[str, bool]:
        """``featureGates``, checked as kube-proxy's feature gate takes them (:mod:`feature_gates`): the gates whose
        value is a boolean (build_config layers them under the flag's and turns them into ProxyConfig fields)."""
        gates = self.get("featureGates", dict, "a mapping of feature names to true or false")
        if not gates:
            return {}
        from kubeproxy_sim.cli.feature_gates import gate_problems

        valid: dict[str, bool] = {}
        for name, value in gates.items():
            if type(value) is not bool:
                self.error(f"featureGates.{_key(name)}", f"expected true or false, got {described(value)}")
            else:
                valid[name if isinstance(name, str) else quote(name)] = value
        for name, message, severity in gate_problems(valid):
            self.error(f"featureGates.{_key(name)}", message, severity)
        return valid

    def _hostname(self) -> str | None:
        name = self.get("hostnameOverride", str, "a node name")
        if isinstance(name, str) and name and not name.strip():  # kube-proxy: "empty hostname is invalid"
            self.error("hostnameOverride", f"{literal(name)} is blank; expected a node name")
            return None
        return name or None

    def _bind_address(self) -> str | None:
        """The primary node IP ``bindAddress`` gives (kube-proxy's detectNodeIPs); "" for 0.0.0.0 or ::, None when
        not set (or not an IP)."""
        text = self.get("bindAddress", str, "an IP address")
        if not text:  # kube-proxy's default: 0.0.0.0
            return None
        ip = ip_address_text(text)
        if ip is None:
            self.error("bindAddress", f"{literal(text)} is not an IP address, which kube-proxy's validation "
                       "refuses; expected e.g. 192.168.0.10 or fd00::10 (or 0.0.0.0, the default: no override)")
        return specified_ip(ip)

    def _cidrs(self, field: str) -> tuple[str, ...] | None:
        text = self.get(field, str, f"comma-separated CIDRs ({CIDR_EXAMPLE})")
        if not text:
            return None
        padded = [part for part in text.split(",") if part != part.strip() or not part]
        if padded and self.data.get("detectLocalMode") in (None, "", DetectLocalMode.CLUSTER_CIDR.value):
            # kube-proxy's conversion splits the field on commas alone, and validation (in this mode) refuses
            # what the split leaves around a CIDR, and an empty entry ("10.0.0.0/8,")
            wrong = (f"{literal(text)} has an empty entry" if not padded[0] else
                     f"{literal(padded[0])} has spaces around it, which kube-proxy does not trim")
            self.error(field, f"{wrong} (its validation refuses it); expected CIDRs separated by "
                       f"commas alone ({CIDR_EXAMPLE})")
            return None
        return check_cluster_cidrs(split_list(text), lambda message: self.error(field, message)) or None

    def _detect_local_mode(self) -> DetectLocalMode | None:
        text = self.get("detectLocalMode", str, "a detect-local mode")
        if not text:
            return None
        try:
            return DetectLocalMode(text)
        except ValueError:
            self.error("detectLocalMode", f"{literal(text)} is not a detect-local mode; expected "
                       + ", ".join(m.value for m in DetectLocalMode))
            return None

    def _masquerade_bit(self) -> int | None:
        bit = self.get("iptables.masqueradeBit", int, "an integer in 0-31")
        if bit is not None and not 0 <= bit <= 31:
            self.error("iptables.masqueradeBit", f"{number(bit)} is not in 0-31")
            return None
        return bit

    def _nodeport_addresses(self) -> tuple[str, ...] | None:
        values = self.get("nodePortAddresses", list, f"a list of CIDRs ({CIDR_EXAMPLE}) or 'primary'")
        if not values:
            return None
        texts, indexes = [], []
        for i, value in enumerate(values):
            if isinstance(value, str):
                texts.append(value)
                indexes.append(i)
            else:
                self.error(f"nodePortAddresses[{i}]", f"expected a CIDR or 'primary', got {described(value)}")

        def entry(k: int) -> Report:
            return lambda message: self.error(f"nodePortAddresses[{indexes[k]}]", message)
        return check_nodeport_addresses(texts, lambda message: self.error("nodePortAddresses", message),
                                        entry=entry) or None


def ip_address_text(text: str) -> str | None:
    """``text`` in canonical form as kube-proxy's netutils.ParseIPSloppy reads an address (IPv4 parts may have
    leading zeros, read as decimal; an IPv4-mapped IPv6 address is the IPv4 one); None where it is no address."""
    import ipaddress

    parts = text.split(".")
    if len(parts) == 4 and all(p.isascii() and p.isdigit() and int(p) <= 255 for p in parts):
        return ".".join(str(int(p)) for p in parts)
    if ":" not in text or "%" in text:  # (Go's ParseIP takes no zone)
        return None
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    return str(address.ipv4_mapped or address)


def host_port_problem(text: str) -> str | None:
    """What kube-proxy's validation finds wrong with a healthz or metrics bind address (after its defaulting adds
    the port to a bare IP: AppendPortIfNeeded), as Go's net.SplitHostPort splits it; None when nothing."""
    if ip_address_text(text) is not None:
        return None
    if text.startswith("["):
        host, close, port = text[1:].partition("]")
        if not close or not port.startswith(":") or "[" in host or "]" in port:
            return "not IP:port, which kube-proxy's validation refuses"
        port = port[1:]
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        return "not IP:port, which kube-proxy's validation refuses"
    if ip_address_text(host) is None:
        return f"the host {literal(host)} is not an IP address, which kube-proxy's validation refuses"
    digits = port[1:] if port[:1] in ("+", "-") else port
    if not (digits.isascii() and digits.isdigit()) or not 1 <= int(port) <= 65535:
        return f"the port {literal(port)} is not a port (1-65535), which kube-proxy's validation refuses"
    return None


def specified_ip(ip: str | None) -> str | None:
    """A bind address that overrides the primary node IP: not 0.0.0.0 or :: (kube-proxy's IsUnspecified), which
    are "" (set, overriding a bind address of lower precedence, but no override of the node IP); None: no IP."""
    return "" if ip in ("0.0.0.0", "::") else ip


def split_list(text: str) -> list[str]:
    """A comma-separated flag or field value, blanks dropped."""
    return [p.strip() for p in text.split(",") if p.strip()]


Report = Callable[[str], None]
"""Where a check says what is wrong with a value (a message)."""


def check_cidrs(texts: list[str], report: Report, malformed: Report | None = None) -> tuple[str, ...]:
    """The CIDRs in canonical form (host bits cleared, as kube-proxy writes them); each bad one reported, to
    ``malformed`` when given (text that is no CIDR: of the wrong shape, where a flag's is a usage error)."""
    found = []
    for text in texts:
        parsed = parse_cidr(text)
        if parsed is None:
            (malformed or report)(f"{literal(text)} is not a CIDR; expected {CIDR_EXAMPLE}")
        else:
            found.append(parsed.text)
    return tuple(found)


def check_cluster_cidrs(texts: list[str], report: Report, malformed: Report | None = None) -> tuple[str, ...]:
    """kube-proxy's rule for the cluster CIDR: one CIDR, or a dual-stack pair (one per family); ``malformed``:
    as :func:`check_cidrs`."""
    found = check_cidrs(texts, report, malformed)
    families = [":" in cidr for cidr in found]
    if len(found) > 2 or len(set(families)) != len(families):
        report(f"{literal(','.join(texts))}: expected one CIDR, or two of different IP families (a dual-stack pair, "
               "e.g. 10.244.0.0/16,fd00:10:244::/56)")
        return found[:1]
    return found


def check_nodeport_addresses(texts: list[str], report: Report, malformed: Report | None = None, *,
                             entry: Callable[[int], Report] | None = None) -> tuple[str, ...]:
    """CIDRs and the keyword ``primary``, as written: kube-proxy keeps these strings and reads each where it
    matches node IPs, and whether one is a zero CIDR is in the prefix as written (``::ffff:192.168.0.0/96`` is
    written 0.0.0.0/0 but is none); each bad entry reported (``malformed``: as :func:`check_cidrs`; ``entry``:
    the report for the i-th text, where a file names its item, ``nodePortAddresses[i]``)."""
    found = []
    for i, text in enumerate(texts):
        shape = entry(i) if entry is not None else malformed or report

        def said(message: str, shape: Report = shape) -> None:
            shape(message + " or 'primary'")
        if text == "primary" or check_cidrs([text], report, said):
            found.append(text)
    if "primary" in found and len(texts) > 1:  # kube-proxy's validation refuses the mix
        report(f"{literal(','.join(texts))}: can't use both 'primary' and CIDRs; expected 'primary' alone, or CIDRs")
        return tuple(cidr for cidr in found if cidr != "primary")
    return tuple(found)
