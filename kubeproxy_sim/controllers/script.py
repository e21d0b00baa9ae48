"""Scenario scripts: kubectl commands, one per line, parsed into steps and played against a World.

The words are kubectl's (``create deployment``, ``expose``, ``scale``, ``set
image``, ``rollout status|undo|history``, ``label pods``, ``delete``, ``apply
-f``, ``cordon``, ``uncordon``, ``drain``) plus ``wait DURATION`` for time to pass. Parsing is strict: an unknown
command or flag, a missing value or a bad number stops the script with a
message that names the line and says what was expected. Reading files for
``apply -f`` is the caller's job (a loader function is injected), so playing a
script stays free of I/O.
"""

from __future__ import annotations

import json
import random
import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from kubeproxy_sim import durations
from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.allocate import AllocationError
from kubeproxy_sim.controllers.decode import (
    LABEL_KEY_EXPECTED,
    NOTHING_WRITTEN,
    WrittenIPFields,
    family_policy,
    is_label_key,
    written_ip_fields,
)
from kubeproxy_sim.controllers.deployment import history
from kubeproxy_sim.controllers.endpointslice import reconciled
from kubeproxy_sim.controllers.mirroring import (
    endpoints_controller_labels,
    mirror_slices_deleted,
    mirror_step,
    written_by_endpoints_controller,
)
from kubeproxy_sim.controllers.model import (
    MAX_REPLICAS,
    TOLERATIONS_FORBIDDEN,
    Deployment,
    Labels,
    LastApplied,
    SimPod,
    Toleration,
    World,
    admitted_tolerations,
    only_added_tolerations,
    replicas_over_limit,
)
from kubeproxy_sim.controllers.queue import pod_queued, slice_queued
from kubeproxy_sim.controllers.scheduler import PortConflict
from kubeproxy_sim.controllers.selector import Requirement, SelectorError
from kubeproxy_sim.controllers.selector import matches as selector_matches
from kubeproxy_sim.controllers.selector import parse as parse_selector
from kubeproxy_sim.controllers.topology import ANNOTATIONS
from kubeproxy_sim.errors import Diagnostic
from kubeproxy_sim.objects.decode import LABEL_VALUE
from kubeproxy_sim.objects.mirror import Endpoints
from kubeproxy_sim.objects.model import Cluster, Node, Origin, Pod, Protocol, Service, ServiceType
from kubeproxy_sim.objects.service_type_rules import invalid_message, service_errors

DEFAULT_NAMESPACE = "default"
COMMANDS = ("create deployment", "expose", "scale", "set image", "rollout status|undo|history", "label pods",
            "patch service|deployment|pod", "get pods|services|endpoints|endpointslices|deployments|replicasets|nodes",
            "delete service|deployment|pod|endpoints", "apply -f", "cordon|uncordon|drain NODE", "wait")
_DEPLOYMENT_KINDS = ("deployment", "deployments", "deploy", "deployment.apps", "deployments.apps")
_SERVICE_KINDS = ("service", "services", "svc")
_POD_KINDS = ("pod", "pods", "po")
_ENDPOINTS_KINDS = ("endpoints", "ep")  # v1 Endpoints: its singular name is endpoints too
# the API server's warning on every request for v1 Endpoints from v1.33 (KEP-4974: the type is deprecated), which
# kubectl prints once per command (its warning writer drops repeats), before the lines of the request it came with
ENDPOINTS_DEPRECATED = "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
_SERVICE_TYPES = {t.value: t for t in ServiceType if t is not ServiceType.EXTERNAL_NAME}
_DNS_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")  # RFC 1035, what a Service name must be
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class ScriptError(Exception):
    """A line that cannot be parsed or played; ``line`` is 1-based."""

    def __init__(self, line: int, message: str, file: str | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.file = file  # the manifest of an object the API server refused, when known


# -- steps -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    line: int
    text: str
    verb: str  # "create deployment", "expose", ...
    namespace: str = DEFAULT_NAMESPACE
    name: str = ""
    names: tuple[str, ...] = ()
    kind: str = ""
    replicas: int = 1
    port: int | None = None
    target_port: int | str | None = None
    service_type: ServiceType = ServiceType.CLUSTER_IP
    protocol: Protocol | None = None  # expose: None takes each port's own (or TCP)
    service_name: str | None = None
    images: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str | None], ...] = ()
    selector: tuple[tuple[str, str], ...] = ()
    overwrite: bool = False
    to_revision: int = 0
    paths: tuple[str, ...] = ()
    seconds: float = 0.0
    patch: str = ""  # patch: the -p text
    patch_type: str = "strategic"  # patch: --type
    select_all: bool = False  # label: --all
    force: bool = False  # drain: --force
    output: str = ""  # get: -o (wide, name, json or yaml; "" for the default table)
    all_namespaces: bool = False  # get: -A
    requirements: tuple[Requirement, ...] = ()  # -l of label, get and delete (controllers.selector), with selector
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()  # get: (kind, names) in the order asked for
    with_kind: bool = False  # get: several types asked for (kubectl_get.multiple_types_requested)
    show_labels: bool = False  # get: --show-labels
    no_headers: bool = False  # get: --no-headers
    single_item: bool = False  # get: one name asked for (cli-runtime's singleItemImplied): -o json|yaml prints it alone


@dataclass
class _Args:
    """One command line split into positional words and flags (local to one parse)."""

    line: int
    words: list[str]
    flags: dict[str, list[str]] = field(default_factory=dict)

    def one(self, flag: str, required: bool = False) -> str | None:
        values = self.flags.get(flag)
        if not values:
            if required:
                raise ScriptError(self.line, f"--{flag} is required")
            return None
        return values[-1]

    def number(self, flag: str, *, required: bool = False, low: int = 0, high: int = 2**31 - 1,
               over: Callable[[int], str | None] | None = None) -> int | None:
        """A whole number in low-high; ``over`` says why a number it refuses is too big (its own message)."""
        text = self.one(flag, required)
        if text is None:
            return None
        value = int(text) if re.fullmatch(r"[0-9]+", text) else None
        if value is not None and over is not None and (problem := over(value)):
            raise ScriptError(self.line, f"--{flag}={text}: {problem}")
        if value is None or not low <= value <= high:
            raise ScriptError(self.line, f"--{flag}={text}: expected a whole number in {low}-{high}")
        return value

    def replicas(self, *, required: bool = False) -> int | None:
        """``--replicas``: a whole number up to the simulator's limit (:data:`model.MAX_REPLICAS`)."""
        return self.number("replicas", required=required, high=MAX_REPLICAS, over=replicas_over_limit)


_SHORT = {"-l": "selector", "-f": "filename", "-n": "namespace", "-p": "patch", "-o": "output",
          "-A": "all-namespaces"}
_BOOLEAN = frozenset({"overwrite", "all", "all-namespaces", "show-labels", "no-headers", "force", "ignore-daemonsets",
                      "delete-emptydir-data"})


def _split_flags(line: int, tokens: list[str], allowed: set[str]) -> _Args:
    """Separate flags (``--x=v``, ``--x v``, ``-l v``) from words; reject flags the command does not take."""
    args = _Args(line, [])
    allowed = allowed | {"namespace"}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("-") and token != "-":
            if token.startswith("--"):
                name, eq, value = token[2:].partition("=")
            else:
                name, eq, value = _SHORT.get(token, token), "", ""
            if name not in allowed:
                expected = ", ".join(f"--{a}" for a in sorted(allowed)) or "no flags"
                raise ScriptError(line, f"unknown flag {token}; expected {expected}")
            if name in _BOOLEAN:
                value = value if eq else "true"
            elif not eq:
                if i + 1 >= len(tokens):
                    raise ScriptError(line, f"{token} needs a value")
                i += 1
                value = tokens[i]
            args.flags.setdefault(name, []).append(value)
        else:
            args.words.append(token)
        i += 1
    return args


def _ref(args: _Args, kinds: tuple[str, ...], what: str) -> str:
    """``kind/NAME`` or ``kind NAME`` as the first words."""
    words = args.words
    if words and "/" in words[0]:
        kind, _, name = words[0].partition("/")
        rest = 1
    elif len(words) >= 2:
        kind, name, rest = words[0], words[1], 2
    else:
        raise ScriptError(args.line, f"expected {what} like deployments/NAME")
    if kind not in kinds or not name:
        raise ScriptError(args.line, f"{words[0]!r} is not {what}; expected deployments/NAME")
    del words[:rest]
    return name


def _no_more(args: _Args, usage: str) -> None:
    if args.words:
        raise ScriptError(args.line, f"unexpected {' '.join(args.words)!r}; expected {usage}")


def _labels(line: int, items: list[str], *, removals: bool) -> tuple[tuple[str, str | None], ...]:
    out: list[tuple[str, str | None]] = []
    for item in items:
        if removals and item.endswith("-") and "=" not in item:
            key, value = item[:-1], None
        else:
            key, eq, value = item.partition("=")
            if not eq:
                raise ScriptError(line, f"{item!r} is not a label; expected KEY=VALUE" + (" or KEY-" if removals
                                                                                          else ""))
        _check_label(line, key, value)
        out.append((key, value))
    set_keys = {key for key, value in out if value is not None}
    if any(value is None and key in set_keys for key, value in out):  # kubectl label's parseLabels
        raise ScriptError(line, "can not both modify and remove a label in the same command")
    return tuple(out)


def _check_label(line: int, key: str, value: str | None) -> None:
    """The API server's label rules: a key is an optional DNS-subdomain prefix (up to 253 characters) and a
    name of up to 63; a value is empty or up to 63 letters, digits, '-', '_' and '.', alphanumeric at both ends."""
    if not is_label_key(key):
        raise ScriptError(line, f"{key!r} is not a valid label key; expected {LABEL_KEY_EXPECTED}")
    if value and LABEL_VALUE.problem(value) is not None:
        raise ScriptError(line, f"{value!r} is not a valid label value; expected up to 63 letters, digits, '-', '_' "
                          "and '.', alphanumeric at both ends")


def parse_duration(line: int, text: str) -> float:
    """``30s``, ``2m``, ``1m30s``, ``500ms``, or plain seconds."""
    seconds = durations.parse_duration(text)
    if seconds is None:
        raise ScriptError(line, f"{text!r} is not a duration; expected e.g. 30s, 2m or 1m30s")
    return seconds


# -- parsing each command --------------------------------------------------------------------------------


def _create(line: int, text: str, tokens: list[str]) -> Step:
    if not tokens or tokens[0] not in _DEPLOYMENT_KINDS:
        raise ScriptError(line, "expected create deployment NAME --image=IMG [--replicas=N] [--port=P]")
    args = _split_flags(line, tokens[1:], {"image", "replicas", "port"})
    if len(args.words) != 1:
        raise ScriptError(line, "expected one deployment name: create deployment NAME --image=IMG")
    if not _SUBDOMAIN.fullmatch(args.words[0]) or len(args.words[0]) > 253:
        raise ScriptError(line, f"{args.words[0]!r} is not a valid deployment name; expected a lowercase RFC 1123 "
                          "subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or "
                          "digit), as the API server requires")
    images = tuple(args.flags.get("image", []))
    if not images:
        raise ScriptError(line, "--image is required")
    names = [W.container_name(image) for image in images]
    for index, name in enumerate(names):
        if name in names[:index]:  # the API server refuses two containers of one name
            raise ScriptError(line, f'spec.template.spec.containers[{index}].name: Duplicate value: "{name}" '
                              f"(kubectl names containers after their images); expected different images")
    return Step(line, text, "create deployment", args.one("namespace") or DEFAULT_NAMESPACE, args.words[0],
                replicas=args.replicas() if "replicas" in args.flags else 1,  # type: ignore[arg-type]
                port=args.number("port", low=1, high=65535), images=tuple(("", i) for i in images))


def _target_port(line: int, text: str | None) -> int | str | None:
    if text is None:
        return None
    if text.isdigit():
        number = int(text)
        if not 1 <= number <= 65535:
            raise ScriptError(line, f"--target-port={text}: expected 1-65535 or a port name")
        return number
    return text


def _expose(line: int, text: str, tokens: list[str]) -> Step:
    args = _split_flags(line, tokens, {"type", "port", "target-port", "name", "protocol"})
    name = _ref(args, _DEPLOYMENT_KINDS, "a deployment")
    _no_more(args, "expose deployment/NAME --port=P")
    kind = args.one("type") or "ClusterIP"
    if kind not in _SERVICE_TYPES:  # the API server takes the type's exact spelling only
        raise ScriptError(line, _type_refused(kind))
    protocol = args.one("protocol")
    if protocol is not None and protocol not in Protocol.__members__:
        raise ScriptError(line, f"--protocol={protocol}: expected TCP, UDP or SCTP")
    service_name = args.one("name") or name
    if not _DNS_LABEL.fullmatch(service_name) or len(service_name) > 63:
        raise ScriptError(line, f"{service_name!r} is not a valid Service name; expected an RFC 1035 label (up to "
                          "63 lowercase letters, digits and '-', starting with a letter and ending with a letter or "
                          "digit), as the API server requires" + ("" if args.one("name") else "; give one with --name"))
    return Step(line, text, "expose", args.one("namespace") or DEFAULT_NAMESPACE, name,
                port=args.number("port", low=1, high=65535),
                target_port=_target_port(line, args.one("target-port")), service_type=_SERVICE_TYPES[kind],
                protocol=Protocol(protocol) if protocol else None, service_name=args.one("name"))


def _type_refused(kind: str) -> str:
    """What is wrong with expose's --type: kubectl sends it as written (expose.go), so the API server answers,
    with ValidateService's NotSupported for an unknown type (a near miss in case is named: Nodeport is NodePort's
    spelling to a reader, not to the API server); ExternalName is known but needs the spec.externalName expose
    does not write."""
    head = f"--type={kind}: expected ClusterIP, NodePort or LoadBalancer"
    if kind == ServiceType.EXTERNAL_NAME.value:
        return f"{head}; expose writes no spec.externalName, which an ExternalName Service needs (the API server " \
               "answers spec.externalName: Required value)"
    close = next((t.value for t in ServiceType if t.value.lower() == kind.lower()), None)
    hint = f" (did you mean {close}? the type is case-sensitive)" if close else ""
    supported = ", ".join(json.dumps(t) for t in sorted(t.value for t in ServiceType))
    return f"{head}{hint}; the API server refuses it: spec.type: Unsupported value: {json.dumps(kind)}: supported " \
           f"values: {supported}"


def _scale(line: int, text: str, tokens: list[str]) -> Step:
    args = _split_flags(line, tokens, {"replicas"})
    name = _ref(args, _DEPLOYMENT_KINDS, "a deployment")
    _no_more(args, "scale deployments/NAME --replicas=N")
    return Step(line, text, "scale", args.one("namespace") or DEFAULT_NAMESPACE, name,
                replicas=args.replicas(required=True))  # type: ignore[arg-type]


def _set(line: int, text: str, tokens: list[str]) -> Step:
    if not tokens or tokens[0] != "image":
        raise ScriptError(line, "expected set image deployments/NAME CONTAINER=IMAGE")
    args = _split_flags(line, tokens[1:], set())
    name = _ref(args, _DEPLOYMENT_KINDS, "a deployment")
    pairs = []
    for word in args.words:
        container, eq, image = word.partition("=")
        if not eq or not container or not image:
            raise ScriptError(line, f"{word!r}: expected CONTAINER=IMAGE")
        pairs.append((container, image))
    if not pairs:
        raise ScriptError(line, "expected at least one CONTAINER=IMAGE")
    return Step(line, text, "set image", args.one("namespace") or DEFAULT_NAMESPACE, name, images=tuple(pairs))


def _rollout(line: int, text: str, tokens: list[str]) -> Step:
    if not tokens or tokens[0] not in ("status", "undo", "history"):
        raise ScriptError(line, "expected rollout status|undo|history deployments/NAME")
    action = tokens[0]
    args = _split_flags(line, tokens[1:], {"to-revision"} if action == "undo" else set())
    name = _ref(args, _DEPLOYMENT_KINDS, "a deployment")
    _no_more(args, f"rollout {action} deployments/NAME")
    return Step(line, text, f"rollout {action}", args.one("namespace") or DEFAULT_NAMESPACE, name,
                to_revision=args.number("to-revision") or 0)


def _label_change(word: str) -> bool:
    """Whether kubectl takes a word of ``label`` as a change (KEY=VALUE or KEY-), not a resource
    (cmdutil.GetResourcesAndPairs)."""
    return ("=" in word and word[0] != "=") or (word.endswith("-") and word != "-")


def _label(line: int, text: str, tokens: list[str]) -> Step:
    """``label pods NAME... KEY=VALUE... [KEY-...]``, ``label pods/NAME... ...``, or ``label pods -l SEL|--all
    ...``: several pods, as kubectl labels several objects; the resources come first, then the changes. Its
    refusals are kubectl's (LabelOptions.Validate, the resource builder's)."""
    args = _split_flags(line, tokens, {"overwrite", "selector", "all"})
    words = args.words
    count = next((i for i, word in enumerate(words) if _label_change(word)), len(words))
    resources, rest = words[:count], words[count:]
    if late := next((word for word in rest if not _label_change(word)), None):
        raise ScriptError(line, f"all resources must be specified before label changes: {late}; expected "
                          "label pods NAME... KEY=VALUE...")
    selector_text = args.one("selector")
    select_all = (args.one("all") or "false").lower() == "true"
    if select_all and selector_text:
        raise ScriptError(line, "cannot set --all and --selector at the same time")
    if selector_text is not None or select_all:
        return _label_selected(line, text, args, resources, rest, selector_text)
    if len(resources) == 1 and "/" not in resources[0]:
        raise ScriptError(line, "resource(s) were provided, but no name was specified; expected label pods NAME "
                          "KEY=VALUE, or -l KEY=VALUE or --all to pick the pods")
    if resources and "/" in resources[0]:
        pairs = [word.partition("/") for word in resources]
        kinds = [kind for kind, slash, _ in pairs if slash]  # (the first has one)
        if len(kinds) != len(pairs):
            raise ScriptError(line, "expected every pod as pods/NAME, or label pods NAME...")
        kind, names = kinds[0], [name for _, _, name in pairs]
        kind = next((k for k in kinds if k not in _POD_KINDS), kind)
    elif len(resources) >= 2:
        kind, names = resources[0], resources[1:]
        if any("/" in name for name in names):
            raise ScriptError(line, "there is no need to specify a resource type as a separate argument when "
                              "passing arguments in resource/name form; expected label pods NAME... KEY=VALUE")
    else:
        raise ScriptError(line, "expected label pods NAME KEY=VALUE")
    if kind not in _POD_KINDS:
        raise ScriptError(line, f"{kind!r}: only pods can be labelled here; expected label pods NAME KEY=VALUE")
    if not rest and len(names) > 1:  # (`label pods web-1 bad`: the last word was meant as a change)
        raise ScriptError(line, f"{names[-1]!r} is not a label; expected KEY=VALUE or KEY-")
    labels = _labels(line, rest, removals=True)
    if not labels:
        raise ScriptError(line, "expected at least one KEY=VALUE")
    overwrite = (args.one("overwrite") or "false").lower() == "true"
    return Step(line, text, "label pods", args.one("namespace") or DEFAULT_NAMESPACE, names[0], names=tuple(names),
                labels=labels, overwrite=overwrite)


def _label_selected(line: int, text: str, args: _Args, resources: list[str], rest: list[str],
                    selector_text: str | None) -> Step:
    """``label pods -l KEY=VALUE[,...]`` or ``--all``: the pods picked when the step is played."""
    if not resources:
        raise ScriptError(line, "one or more resources must be specified as <resource> <name> or <resource>/<name>")
    if len(resources) > 1 or "/" in resources[0]:
        raise ScriptError(line, "name cannot be provided when a selector is specified")
    if resources[0] not in _POD_KINDS:
        raise ScriptError(line, f"{resources[0]!r}: only pods can be labelled here; expected label pods -l "
                          "KEY=VALUE KEY=VALUE")
    labels = _labels(line, rest, removals=True)
    if not labels:
        raise ScriptError(line, "at least one label update is required")
    return Step(line, text, "label pods", args.one("namespace") or DEFAULT_NAMESPACE, labels=labels,
                requirements=_selector(line, selector_text), select_all=selector_text is None,
                overwrite=(args.one("overwrite") or "false").lower() == "true")


def _selector(line: int, text: str | None) -> tuple[Requirement, ...]:
    """``-l``: kubectl's label selector (controllers.selector), each key and value checked as a label's."""
    if text is None:
        return ()
    try:
        requirements = parse_selector(text)
    except SelectorError as exc:
        raise ScriptError(line, f"-l {text}: {exc}") from None
    for key, op, values in requirements:
        for value in values if op not in (">", "<") else (None,):  # (an integer bound is no label value: -1)
            _check_label(line, key, value)
    return requirements


def _selected(step: Step, labels: Labels) -> bool:
    """Whether an object labelled ``labels`` is one a step's -l picks (its equality pairs and requirements)."""
    return all(dict(labels).get(k) == v for k, v in step.selector) and selector_matches(step.requirements, labels)


_PATCH_KINDS = {**dict.fromkeys(_SERVICE_KINDS, "service"), **dict.fromkeys(_DEPLOYMENT_KINDS, "deployment"),
                **dict.fromkeys(_POD_KINDS, "pod")}


def _patch(line: int, text: str, tokens: list[str]) -> Step:
    """``patch KIND NAME -p PATCH [--type strategic|merge|json]`` (KIND/NAME too); kubectl's refusals."""
    args = _split_flags(line, tokens, {"patch", "type"})
    usage = "patch service|deployment|pod NAME -p PATCH [--type strategic|merge|json]"
    if not args.words:
        raise ScriptError(line, f"expected {usage}")
    kind_word = args.words.pop(0)
    if "/" in kind_word:
        kind_word, _, name = kind_word.partition("/")
        args.words.insert(0, name)
    if kind_word not in _PATCH_KINDS:
        raise ScriptError(line, f"{kind_word!r} cannot be patched here; expected {usage}")
    if len(args.words) != 1 or not args.words[0]:
        raise ScriptError(line, f"expected one {_PATCH_KINDS[kind_word]} name: {usage}")
    kind = args.one("type") or "strategic"
    if kind not in ("json", "merge", "strategic"):
        raise ScriptError(line, f'--type must be one of [json merge strategic], not "{kind}"')
    patch = args.one("patch")
    if not patch:
        raise ScriptError(line, "must specify --patch or --patch-file containing the contents of the patch")
    return Step(line, text, "patch", args.one("namespace") or DEFAULT_NAMESPACE, args.words[0],
                kind=_PATCH_KINDS[kind_word], patch=patch, patch_type=kind)


_GET_KINDS = {**dict.fromkeys((*_POD_KINDS,), "pods"), **dict.fromkeys(_SERVICE_KINDS, "services"),
              **dict.fromkeys(_ENDPOINTS_KINDS, "endpoints"), **dict.fromkeys(_DEPLOYMENT_KINDS, "deployments"),
              **dict.fromkeys(("replicaset", "replicasets", "rs", "replicaset.apps", "replicasets.apps"),
                              "replicasets"),
              **dict.fromkeys(("node", "nodes", "no"), "nodes"),
              **dict.fromkeys(("endpointslice", "endpointslices", "endpointslice.discovery.k8s.io",
                               "endpointslices.discovery.k8s.io"), "endpointslices")}


def _get(line: int, text: str, tokens: list[str]) -> Step:
    """``get KIND[,KIND...] [NAME...]``, ``get KIND/NAME...``, ``get all`` [-l SEL] [-o wide|name|json|yaml] [-A]
    [--show-labels] [--no-headers] of the kinds the model holds."""
    from kubeproxy_sim.controllers import kubectl_get as G

    args = _split_flags(line, tokens, {"output", "selector", "all-namespaces", "show-labels", "no-headers"})
    usage = ("get pods|services|endpoints|endpointslices|deployments|replicasets|nodes[,...]|all [NAME...] "
             "(or KIND/NAME...) [-A] "
             "[-o wide|name|json|yaml] [--show-labels] [--no-headers]")
    if not args.words:
        raise ScriptError(line, f"expected {usage}")
    groups = _get_groups(line, args.words, usage)
    output = args.one("output") or ""
    if output not in ("", "wide", "name", "json", "yaml"):
        raise ScriptError(line, f"-o {output}: this simulator prints wide, name, json and yaml; expected one of "
                                "-o wide, name, json or yaml")
    named = any(names for _, names in groups)
    selector = _selector(line, args.one("selector"))
    if args.one("selector") is not None and named:
        raise ScriptError(line, "name cannot be provided when a selector is specified")
    everywhere = (args.one("all-namespaces") or "false").lower() == "true"
    if everywhere and named:
        raise ScriptError(line, "a resource cannot be retrieved by name across all namespaces")
    return Step(line, text, "get", args.one("namespace") or DEFAULT_NAMESPACE, kind=groups[0][0],
                names=groups[0][1], requirements=selector, output=output, all_namespaces=everywhere,
                groups=groups, with_kind=G.multiple_types_requested(args.words),
                show_labels=(args.one("show-labels") or "false").lower() == "true",
                no_headers=(args.one("no-headers") or "false").lower() == "true",
                single_item=_single_item(args.words))


def _single_item(words: list[str]) -> bool:
    """cli-runtime's singleItemImplied: one TYPE/NAME word, or one name after the type word(s) (``get svc,deploy
    web`` and ``get all web`` too, which print a List when two kinds have it)."""
    if "/" in words[0]:
        return len(words) == 1
    return len(words) == 2


def _get_groups(line: int, words: list[str], usage: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The kinds and names a get asks for, as kubectl's resource builder reads its words: ``all`` (its category,
    of the kinds held here), ``a,b NAME...`` (each name of each kind), or TYPE/NAME words, consecutive ones of a
    kind one group (each change of kind starts a table)."""
    from kubeproxy_sim.controllers import kubectl_get as G

    def kind_of(word: str) -> str:
        if word not in _GET_KINDS:
            raise ScriptError(line, f"{word!r} cannot be listed here; expected {usage}")
        return _GET_KINDS[word]

    if "/" in words[0]:
        if any("/" not in word for word in words):
            raise ScriptError(line, "there is no need to specify a resource type as a separate argument when "
                              "passing arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' "
                              "instead of 'kubectl get resource resource/<resource_name>'")
        out: list[tuple[str, list[str]]] = []
        for word in words:
            kind_word, _, name = word.partition("/")
            kind = kind_of(kind_word)
            if out and out[-1][0] == kind:
                out[-1][1].append(name)
            else:
                out.append((kind, [name]))
        return tuple((kind, tuple(names)) for kind, names in out)
    names = tuple(words[1:])
    if any("/" in name for name in names):
        raise ScriptError(line, "there is no need to specify a resource type as a separate argument when passing "
                          "arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of "
                          "'kubectl get resource resource/<resource_name>'")
    kinds = G.ALL_KINDS if words[0] == "all" else tuple(dict.fromkeys(kind_of(w) for w in words[0].split(",")))
    return tuple((kind, names) for kind in kinds)


def _delete(line: int, text: str, tokens: list[str]) -> Step:
    args = _split_flags(line, tokens, {"selector"})
    if not args.words:
        raise ScriptError(line, "expected delete service|deployment|pod|endpoints NAME or -l KEY=VALUE")
    kind_word = args.words.pop(0)
    if "/" in kind_word:
        kind_word, _, name = kind_word.partition("/")
        args.words.insert(0, name)
    kinds = {**dict.fromkeys(_SERVICE_KINDS, "service"), **dict.fromkeys(_DEPLOYMENT_KINDS, "deployment"),
             **dict.fromkeys(_POD_KINDS, "pod"), **dict.fromkeys(_ENDPOINTS_KINDS, "endpoints")}
    if kind_word not in kinds:
        raise ScriptError(line, f"{kind_word!r} cannot be deleted here; expected service, deployment, pod or "
                          "endpoints")
    selector_text = args.one("selector")
    selector = _selector(line, selector_text)
    if bool(selector) == bool(args.words):
        raise ScriptError(line, f"expected either names or -l KEY=VALUE: delete {kind_word} NAME")
    return Step(line, text, "delete", args.one("namespace") or DEFAULT_NAMESPACE, kind=kinds[kind_word],
                names=tuple(args.words), requirements=selector)


def _apply(line: int, text: str, tokens: list[str]) -> Step:
    args = _split_flags(line, tokens, {"filename"})
    _no_more(args, "apply -f FILE")
    paths = tuple(args.flags.get("filename", []))
    if not paths:
        raise ScriptError(line, "expected apply -f FILE")
    return Step(line, text, "apply", args.one("namespace") or DEFAULT_NAMESPACE, paths=paths)


def _wait(line: int, text: str, tokens: list[str]) -> Step:
    if len(tokens) != 1:
        raise ScriptError(line, "expected wait DURATION, e.g. wait 30s")
    return Step(line, text, "wait", seconds=parse_duration(line, tokens[0]))


def _node_verb(line: int, text: str, tokens: list[str], verb: str) -> Step:
    """``cordon NODE``, ``uncordon NODE``, ``drain NODE`` (--force, and --ignore-daemonsets and
    --delete-emptydir-data, taken and meaning nothing here: no DaemonSet nor emptyDir is modelled)."""
    flags = {"force", "ignore-daemonsets", "delete-emptydir-data"} if verb == "drain" else set()
    args = _split_flags(line, tokens, flags)
    if len(args.words) != 1:
        raise ScriptError(line, f"expected {verb} NODE: one Node's name")
    force = args.one("force") or "false"
    if force not in ("true", "false"):
        raise ScriptError(line, f"--force={force}: expected true or false")
    return Step(line, text, verb, name=args.words[0], force=force == "true")


_PARSERS: dict[str, Callable[[int, str, list[str]], Step]] = {
    "create": _create, "expose": _expose, "scale": _scale, "set": _set, "rollout": _rollout, "label": _label,
    "delete": _delete, "apply": _apply, "wait": _wait, "patch": _patch, "get": _get,
    "cordon": lambda line, text, tokens: _node_verb(line, text, tokens, "cordon"),
    "uncordon": lambda line, text, tokens: _node_verb(line, text, tokens, "uncordon"),
    "drain": lambda line, text, tokens: _node_verb(line, text, tokens, "drain"),
}


def _namespace_after_verb(tokens: list[str]) -> tuple[list[str], list[str]]:
    """kubectl's global ``-n NS`` / ``--namespace[=]NS`` before the verb (``kubectl -n prod scale ...``): the
    command's words, and those flags, which go after them (every command takes them)."""
    moved: list[str] = []
    while tokens:
        if tokens[0].startswith("--namespace="):
            count = 1
        elif tokens[0] in ("-n", "--namespace") and len(tokens) > 1:
            count = 2
        else:
            break
        moved += tokens[:count]
        tokens = tokens[count:]
    return tokens, moved


_DANGLING_ESCAPE = "No escaped character"  # shlex's error for a '\\' with nothing after it (outside a comment)
_UNCLOSED_QUOTE = "No closing quotation"  # shlex's error for a quote with no closing one


def parse_line(line: int, text: str) -> Step | None:
    """One script line as a step; None for blank and comment lines."""
    if "\0" in text:  # no shell word can hold one, and the OS refuses it in a file name (`apply -f a<NUL>b`)
        raise ScriptError(line, "the line holds a NUL character; expected a line of text, as a shell reads it")
    try:
        tokens = shlex.split(text, comments=True)
    except ValueError as exc:
        if str(exc) == _DANGLING_ESCAPE:  # a '\\' ending the line outside a comment: shell's line continuation
            raise ScriptError(line, "the line ends with '\\', but a line does not continue onto the next; expected "
                              "one command per line, written on one line") from None
        if str(exc) == _UNCLOSED_QUOTE:
            raise ScriptError(line, "a quotation mark is not closed; expected each ' or \" closed on the line it "
                              "opens on (one command per line)") from None
        raise ScriptError(line, f"cannot split the line into words ({exc})") from None
    if not tokens:
        return None
    if tokens[0] == "kubectl":
        tokens = tokens[1:]
    tokens, moved = _namespace_after_verb(tokens)
    if not tokens and moved:  # `kubectl -n prod` alone: the namespace is fine, the command is missing
        raise ScriptError(line, f"expected a command after {' '.join(moved)}; expected one of: {', '.join(COMMANDS)}")
    if not tokens or tokens[0] not in _PARSERS:
        word = tokens[0] if tokens else ""
        if word in ("-n", "--namespace"):  # the last word: the flag lacks its value
            raise ScriptError(line, f"flag {word} before the command has no value; expected {word} NS and then one "
                              f"of: {', '.join(COMMANDS)}")
        if word.startswith("-") and word != "-":  # a global flag other than the namespace
            raise ScriptError(line, f"flag {word} before the command: only -n/--namespace NS may come first; "
                              f"expected one of: {', '.join(COMMANDS)}")
        raise ScriptError(line, f"unknown command {word!r}; expected one of: {', '.join(COMMANDS)}")
    return _PARSERS[tokens[0]](line, text.strip(), [*tokens[1:], *moved])


def parse_script(text: str) -> list[Step]:
    """Every step of a script; the first bad line raises."""
    steps = []
    for number, raw in enumerate(text.splitlines(), start=1):
        step = parse_line(number, raw)
        if step is not None:
            steps.append(step)
    return steps


# -- playing -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Manifests:
    """What ``apply -f`` read: the objects, the Deployments, and API facts the model does not carry."""

    cluster: Cluster
    deployments: tuple[Deployment, ...] = ()
    not_ready_nodes: frozenset[str] = frozenset()  # Ready condition not True
    unreachable_nodes: frozenset[str] = frozenset()  # of those, Ready condition Unknown
    untainted_nodes: frozenset[str] = frozenset()  # of those, Ready condition none of True, False and Unknown, or none
    unposted_nodes: frozenset[str] = frozenset()  # of those, no Ready condition at all (no kubelet ever posted one)
    diagnostics: tuple[Diagnostic, ...] = ()
    node_cpu: tuple[tuple[str, int], ...] = ()  # Node name -> status.allocatable.cpu in millicores
    node_max_pods: tuple[tuple[str, int], ...] = ()  # Node name -> status.allocatable.pods
    # Service key -> its topology annotations (topology-mode, the deprecated topology-aware-hints)
    service_annotations: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    # Service key -> spec.ipFamilyPolicy as written (controllers.decode.family_policy); one left out is not given
    family_policies: tuple[tuple[str, str], ...] = ()
    # Service key -> what it wrote of clusterIPs and ipFamilies (controllers.decode.written_ip_fields); a Service
    # left out wrote neither the list clusterIPs nor ipFamilies
    ip_fields: tuple[tuple[str, WrittenIPFields], ...] = ()
    # Pod key -> what its manifest wrote of spec.tolerations and the pod-deletion-cost annotation (the new
    # last-applied view, scenario_cmd._pod_applied); a Pod left out wrote neither
    pod_applied: tuple[tuple[str, LastApplied], ...] = ()
    # Pod key -> the containers its manifest counts in kubectl's READY column (scenario_facts.ready_total)
    pod_containers: tuple[tuple[str, int], ...] = ()
    endpoints: tuple[Endpoints, ...] = ()  # v1 Endpoints, unmirrored: the mirroring controller's input
    # Endpoints key -> whether its manifest writes metadata.labels as a map (True, ``{}`` too) or as null (False),
    # which its decoded labels do not tell (scenario_facts.RawFacts._endpoints); one left out writes no labels
    endpoints_labels: tuple[tuple[str, bool], ...] = ()
    # Service key -> its document as kubectl apply keeps it in last-applied-configuration (JSON; RawFacts), what
    # the next apply's three-way merge compares with
    service_documents: tuple[tuple[str, str], ...] = ()
    # Service key -> the document its last-applied-configuration annotation holds, when its manifest carries one
    # (JSON): what a Service a scenario starts with was last applied as (mark_unannotated)
    service_last_applied: tuple[tuple[str, str], ...] = ()
    # Deployment key -> whether the document its last-applied-configuration annotation holds writes spec.replicas,
    # when its manifest carries one: a dump's Deployment always has spec.replicas, but the next apply's merge
    # deletes the count only when the last apply wrote it (mark_unannotated)
    deployment_replicas_last_applied: tuple[tuple[str, bool], ...] = ()
    # (kind, key) of each object in the order kubectl apply visits them: the files as given (a directory's in
    # its listing's order), each file's documents, a List's items in place; kubectl prints its lines so
    order: tuple[tuple[str, str], ...] = ()
    # those of them whose document counts as made by kubectl apply: it carries the last-applied-configuration
    # annotation or shows nothing of being made otherwise (not a Node, no ownerReferences, no managedFields without
    # kubectl-client-side-apply: scenario_facts._last_applied)
    annotated: frozenset[tuple[str, str]] = frozenset()


Loader = Callable[[tuple[str, ...]], Manifests]


@dataclass(frozen=True, slots=True)
class Played:
    world: World
    notes: tuple[str, ...]  # what kubectl would print
    error: str | None = None  # kubectl's error where it exits 1 though the step was carried out (a rollout that
    # missed its progress deadline: time passed and the notes say so; an apply whose pod update the API server
    # refused: the other objects were applied), without kubectl's "error: " prefix
    port_conflicts: tuple[PortConflict, ...] = ()  # pods applied bound that the kubelet would refuse (NodePorts)
    # what the mirroring controller's syncs of the step call for saying (Endpoints not mirrored and why, addresses
    # over its cap): controllers.mirroring.sync_mirrored
    mirror_notes: tuple[Diagnostic, ...] = ()
    # the Services whose controller-labelled loaded EndpointSlices the step added, changed or deleted: the
    # EndpointSlice controller's onEndpointSlice* handlers queue them (a second later), so the caller hands them to
    # W.controller_sync (a step's events, not the cluster's state: they are no field of the World)
    slice_events: frozenset[str] = frozenset()


def _format_time(seconds: float) -> str:
    """``5s``, ``0.5s``, ``360000000s``: never an exponent (``%g`` wrote ``wait 100000h`` as 3.6e+08s)."""
    return f"{seconds:.6f}".rstrip("0").rstrip(".") + "s"


def _applied(kind: str, name: str, before: object, after: object) -> str:
    """kubectl apply's word for one object: created, configured, or unchanged."""
    word = "created" if before is None else "unchanged" if before == after else "configured"
    return f"{kind}/{name} {word}"


def _ready_state(facts: World | Manifests, name: str) -> tuple[bool, bool, bool]:
    """What the model keeps of a Node's Ready condition (not True, Unknown, another status or none), so that an
    apply changing it is "configured", as kubectl says of any change to the object."""
    return name in facts.not_ready_nodes, name in facts.unreachable_nodes, name in facts.untainted_nodes


def _same_pod(running: Any, pod: Any) -> bool:
    """Whether a manifest asks nothing new of a running pod but maybe its tolerations and pod-deletion-cost, which
    the caller merges (:func:`_merged`) and updates in place: its labels and ports (sidecars' too) as they are,
    its node and addresses as they are or left out (the pod keeps those)."""
    return (not running.terminating and dict(running.labels) == dict(pod.labels) and running.ports == pod.ports
            and running.sidecar_ports == pod.sidecar_ports and pod.node_name in (None, running.node_name)
            and (not pod.pod_ips or pod.pod_ips == running.pod_ips))


def _merged(running: SimPod | None, written: LastApplied) -> tuple[tuple[Toleration, ...], str | None]:
    """A pod's tolerations (before admission) and pod-deletion-cost after kubectl apply's three-way merge of a
    manifest that wrote ``written``: what it writes replaces them (tolerations are one list, replaced whole);
    what it leaves out is removed when the pod's last apply wrote it (running.last_applied) and kept otherwise,
    so a pod the ReplicaSet made (no last-applied-configuration) loses nothing. Kept tolerations are the pod's
    own, the admission plugin's defaults among them, to which it adds nothing again."""
    if running is None:
        return written.tolerations, written.deletion_cost
    last = running.last_applied or LastApplied()
    tolerations = written.tolerations or (() if last.tolerations else running.tolerations)
    cost = written.deletion_cost
    if cost is None and last.deletion_cost is None:
        cost = running.deletion_cost
    return tolerations, cost


Note = tuple[tuple[str, str], str]
"""One line kubectl apply prints and the object it is of: (kind, key) as in :attr:`Manifests.order`."""


def _apply_manifests(world: World, manifests: Manifests, rng: random.Random, *, starting: bool = False) -> Played:
    """``kubectl apply -f``: each kind's objects put into the world in turn, with kubectl's lines for each in the
    order it visits the objects (:func:`in_file_order`); a pod update the API server refuses leaves the other
    objects applied, and its refusal is the step's error. ``starting``: the scenario's starting objects (its
    step at line 0, scenario_cmd._initial_world), the cluster as it stands, whose stored Services the API server
    does not validate again (:func:`_check_type_fields`)."""
    start = world
    world, notes = _apply_nodes(world, manifests, rng)
    world, more = _apply_services(world, manifests, rng, starting=starting)
    notes += more
    world, more = _apply_endpoints(world, manifests, start)
    notes += more
    slices_before = {s.key: s for s in world.user_slices}
    world = W.put_slices(world, manifests.cluster.endpoint_slices)
    notes += [(("EndpointSlice", s.key), _applied("endpointslice.discovery.k8s.io", s.name, slices_before.get(s.key),
                                                  s))
              for s in manifests.cluster.endpoint_slices]
    world, more, refused, conflicts = _apply_pods(world, manifests, rng)
    notes += more
    world, more = _apply_deployments(world, manifests, rng)
    notes += more
    applied = _annotatable(manifests.cluster.services, manifests.deployments, manifests.cluster.nodes)
    world = replace(world, unannotated=world.unannotated - applied)  # the annotation patched in
    return Played(world, in_file_order(notes, manifests.order), "; ".join(refused) or None,
                  port_conflicts=conflicts)


def in_file_order(notes: list[Note], order: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """The lines of one apply in the order kubectl prints them: it visits the objects in ``order`` (the files'),
    printing each one's lines as it applies it, where the model applies them kind by kind; an object not in
    ``order`` keeps its place after those that are. The API server's v1 Endpoints deprecation warning comes once,
    before the lines of the first Endpoints (kubectl's warning writer drops repeats; its GET of the object
    brings it)."""
    place = {key: index for index, key in reversed(list(enumerate(order)))}
    ranked = sorted(notes, key=lambda note: place.get(note[0], len(place)))
    lines = [line for _, line in ranked]
    first = next((i for i, (key, _) in enumerate(ranked) if key[0] == "Endpoints"), None)
    if first is not None:
        lines.insert(first, ENDPOINTS_DEPRECATED)
    return tuple(lines)


def _apply_nodes(world: World, manifests: Manifests, rng: random.Random) -> tuple[World, list[Note]]:
    """The manifests' Nodes put, and a word for each: a Node is "configured" when its object, its allocatable
    CPU or pods, or its readiness changed, which the model keeps apart from the Node object."""
    nodes_before = {n.name: n for n in world.nodes}
    cpu_before, pods_before = dict(world.node_cpu), dict(world.node_max_pods)
    cpu, max_pods = dict(manifests.node_cpu), dict(manifests.node_max_pods)
    ready_before = {name: _ready_state(world, name) for name in nodes_before}
    if manifests.cluster.nodes:
        world = W.put_nodes(world, manifests.cluster.nodes, manifests.not_ready_nodes, rng, cpu, max_pods,
                            manifests.unreachable_nodes, manifests.untainted_nodes)
    notes = [note for n in manifests.cluster.nodes for note in _unannotated(
        world, ("Node", n.key), "nodes", n.name, n.name in nodes_before) or [(("Node", n.key), _applied(
            "node", n.name, nodes_before.get(n.name) and (nodes_before[n.name], cpu_before.get(n.name),
                                                          pods_before.get(n.name), ready_before[n.name]),
            (n, cpu.get(n.name), max_pods.get(n.name), _ready_state(manifests, n.name))))]]
    return world, notes


def _apply_services(world: World, manifests: Manifests, rng: random.Random,
                    *, starting: bool = False) -> tuple[World, list[Note]]:
    """The manifests' Services, each admitted as the API server completes it (cluster IPs and families from the
    fields the manifest wrote) before it is put, so a later one sees its addresses taken; one ``expose`` made
    is warned of and configured (:func:`_unannotated`)."""
    annotations = dict(manifests.service_annotations)
    policies, written = dict(manifests.family_policies), dict(manifests.ip_fields)
    documents, last_applied = dict(manifests.service_documents), dict(world.services_last_applied)
    notes: list[Note] = []
    for service in manifests.cluster.services:
        current = world.service(service.namespace, service.name)
        key = ("Service", service.key)
        if current is not None and service.key in documents:
            admitted, wanted = _merged_service(world, current, service, json.loads(documents[service.key]),
                                               policies.get(service.key), rng)
        else:
            if not starting:
                _check_type_fields(service, documents.get(service.key))
            admitted = W.admit_service(world, service, rng, policy=policies.get(service.key),
                                       written=written.get(service.key, NOTHING_WRITTEN))
            wanted = tuple(sorted(annotations.get(service.key, ())))  # a changed topology annotation is a change
        # (a manifest that changed a field the model does not act on, an annotation say, changes the
        # last-applied-configuration annotation: kubectl's patch is not empty, and it says configured)
        notes += _unannotated(world, key, "services", service.name, current is not None) or [
            (key, _applied("service", service.name, current and (current, W.annotations_of(world, service.key),
                                                                 _compared(last_applied.get(service.key), service)),
                           (admitted, wanted, _compared(documents.get(service.key), service))))]
        world = W.put_service(world, admitted, wanted)
    last = {k: v for k, v in world.services_last_applied if k not in documents}
    return replace(world, services_last_applied=tuple(sorted({**last, **documents}.items()))), notes


def _check_type_fields(service: Service, document: str | None) -> None:
    """A created Service's fields its type may not carry refused as the API server refuses them (ValidateService,
    objects.service_type_rules), read from its manifest as written: the decoder reads some of them leniently (an
    externalTrafficPolicy on a ClusterIP Service is read as Cluster, with a warning), the API server does not.
    Not for the starting objects: they are stored already, and rulesets/ reproduces upstream's proxier tests,
    whose LoadBalancer Services with externalTrafficPolicy Cluster carry a healthCheckNodePort."""
    errors = service_errors(json.loads(document)) if document is not None else ()
    if errors:
        file = service.origin.file if service.origin.file != Origin().file else None
        raise W.ActionError(invalid_message("Service", service.name, errors), file)


def _merged_service(world: World, current: Service, service: Service, modified: dict[str, Any],
                    policy: str | None, rng: random.Random) -> tuple[Service, tuple[tuple[str, str], ...]]:
    """A live Service as kubectl apply's three-way strategic merge patch leaves it (kubectl_patch.apply_patch_of:
    the manifest merged in, what the last apply wrote and this one leaves out deleted, any other field kept: one
    ``patch`` set, as spec.externalTrafficPolicy, or the API server allocated), then admitted as ``patch`` admits
    it, with its topology annotations. One without a last-applied-configuration (``expose`` made it) has nothing
    deleted. The status stays the manifest's, as the first apply takes it (the simulator's stand-in for the
    load-balancer controller that writes it). The merge is of the fields the model holds (those of the manifest
    and the last apply the decoder left aside were read, warned of or refused, when the manifest was);
    ``policy``: the manifest's spec.ipFamilyPolicy, as admission reads it."""
    from kubeproxy_sim.controllers import kubectl_patch as KP

    stored = dict(world.services_last_applied).get(service.key)
    original = None if stored is None or ("Service", service.key) in world.unannotated else json.loads(stored)
    before = W.annotations_of(world, current.key)
    modified = _placed(_held(modified, KP._HELD_FIELDS), service.namespace)
    if original is not None:
        original = _placed(_held(original, KP._HELD_FIELDS), service.namespace)
    try:
        decoded, doc, kept = KP.patched_service(current, "strategic", KP.apply_patch_of(original, modified), before,
                                                ordered_as=modified)
    except KP.Refused as exc:
        raise W.ActionError(str(exc)) from None
    decoded = replace(decoded, load_balancer_ingress=service.load_balancer_ingress, origin=service.origin)
    admitted = W.admit_service(world, decoded, rng, policy=policy, written=written_ip_fields(doc))
    return admitted, tuple(sorted((k, v) for k, v in kept.items() if k in ANNOTATIONS))


def _placed(doc: dict[str, Any], namespace: str) -> dict[str, Any]:
    """``doc`` with its namespace, as kubectl sets it (the context's, for a manifest that names none) on the object
    it applies and on the last-applied-configuration it writes: one left out is no deletion."""
    meta = doc.get("metadata")
    return {**doc, "metadata": {**(meta if isinstance(meta, dict) else {}), "namespace": namespace}}


def _compared(text: str | None, service: Service) -> dict[str, Any] | None:
    """A Service document kept as JSON (Manifests.service_documents) as two applies' are compared, as kubectl's
    last-applied-configuration would differ: less what the API server writes (a document a scenario starts with
    may carry its status, managedFields, uid and the like, no part of an apply), in its namespace, no annotations
    the same as none (kubectl writes ``annotations: {}`` into the annotation of a manifest that has none). Every
    other field counts, those the model does not act on too (spec.ipFamilyPolicy left out: kubectl patches)."""
    if text is None:
        return None
    doc = {k: v for k, v in json.loads(text).items() if k != "status"}
    raw = doc.get("metadata")
    meta: dict[str, Any] = raw if isinstance(raw, dict) else {}
    doc["metadata"] = {k: v for k, v in {**meta, "namespace": service.namespace}.items()
                       if k not in _SERVER_METADATA and not (k == "annotations" and v == {})}
    return doc


_SERVER_METADATA = frozenset({"managedFields", "uid", "resourceVersion", "creationTimestamp", "generation",
                              "selfLink"})


def _held(doc: dict[str, Any], fields: dict[tuple[str, ...], set[str]], path: tuple[str, ...] = ()) -> dict[str, Any]:
    """``doc`` with only the fields ``fields`` names at each path it names (a list's items at the list's path)."""
    out = {}
    for key, value in doc.items():
        if path in fields and key not in fields[path]:
            continue
        if isinstance(value, dict) and (*path, key) in fields:
            value = _held(value, fields, (*path, key))
        elif isinstance(value, list) and (*path, key) in fields:
            value = [_held(item, fields, (*path, key)) if isinstance(item, dict) else item for item in value]
        out[key] = value
    return out


def _unannotated(world: World, key: tuple[str, str], resource: str, name: str, exists: bool) -> list[Note]:
    """kubectl apply's lines for an object a command other than apply made (``expose``, ``create deployment``:
    World.unannotated), which has no last-applied-configuration annotation: its warning, and "configured",
    as the patch adds the annotation whatever else it changes; none for any other object."""
    if not exists or key not in world.unannotated:
        return []
    return [(key, _no_last_applied(resource, name)), (key, f"{_APPLIED_KIND[key[0]]}/{name} configured")]


_APPLIED_KIND = {"Service": "service", "Deployment": "deployment.apps", "Node": "node"}


def _annotatable(services: Iterable[Service], deployments: Iterable[Deployment],
                 nodes: Iterable[Node]) -> set[tuple[str, str]]:
    """(kind, key) of the objects of the kinds World.unannotated tracks (:data:`_APPLIED_KIND`)."""
    return ({("Service", s.key) for s in services} | {("Deployment", d.key) for d in deployments}
            | {("Node", n.key) for n in nodes})


def mark_unannotated(world: World, manifests: Manifests) -> World:
    """The World a scenario starts from (the objects of -f, or the bootcamp Nodes, put as an apply puts them)
    with the objects whose documents show they were not made by kubectl apply marked as lacking its
    last-applied-configuration annotation (Manifests.annotated: a Node, which a kubelet registers; one with
    ownerReferences, a controller's; one whose managedFields name no kubectl-client-side-apply, as create or
    expose leave them): the first apply over one warns and says configured (World.unannotated for Nodes,
    Services and Deployments; a pod without a last-applied view, whose merge then removes nothing; Endpoints left
    out of endpoints_applied). The others keep the last-applied view the start's apply gave them, as the user's own
    file applied: applied again it is unchanged, and a re-apply leaving a field out removes it."""
    if manifests.service_last_applied:  # a document kubectl get shows: its annotation says what was applied
        kept = dict(world.services_last_applied) | dict(manifests.service_last_applied)
        world = replace(world, services_last_applied=tuple(sorted(kept.items())))
    if manifests.deployment_replicas_last_applied:  # the same of a Deployment's replicas (_merged_replicas)
        told = dict(manifests.deployment_replicas_last_applied)
        wrote = {key for key, given in told.items() if given}
        world = replace(world, deployments_replicas_applied=world.deployments_replicas_applied - told.keys() | wrote)
    bare = {key for key in manifests.order if key not in manifests.annotated}
    if not bare:
        return world
    marked = {(kind, key) for kind, key in bare if kind in _APPLIED_KIND}
    pods = tuple(replace(p, last_applied=None) if ("Pod", p.key) in bare else p for p in world.pods)
    return replace(world, unannotated=world.unannotated | marked, pods=pods,
                   endpoints_applied=world.endpoints_applied - {key for kind, key in bare if kind == "Endpoints"})


def _apply_endpoints(world: World, manifests: Manifests, start: World) -> tuple[World, list[Note]]:
    """The manifests' v1 Endpoints as kubectl apply's three-way merge leaves them (:func:`_merged_endpoints`;
    the mirroring controller reads them once the step is played: play), each with kubectl's word: the Endpoints
    of a Service the endpoints controller kept at the step's start exist (it wrote them) when the World holds
    none, so applying them configures them."""
    if not manifests.endpoints:
        return world, []
    before: dict[str, Endpoints | str] = {e.key: e for e in world.endpoints}
    selecting = {service.key: service for service in start.services if reconciled(service)}
    for key in selecting:
        before.setdefault(key, "written by the endpoints controller")
    last = {key: (labels, annotations) for key, labels, annotations in world.endpoints_last_applied
            if key in world.endpoints_applied}
    notes: list[Note] = []  # (in_file_order puts the deprecation warning before the first of them)
    stored = []
    written_labels = dict(manifests.endpoints_labels)
    for e in manifests.endpoints:
        was = before.get(e.key)
        live = _controllers_endpoints(start, selecting[e.key]) if isinstance(was, str) else was
        merged = _merged_endpoints(live, e, last.get(e.key), written_labels.get(e.key))
        if was is not None and e.key not in world.endpoints_applied:
            notes.append((("Endpoints", e.key), _no_last_applied("endpoints", e.name)))
        notes.append((("Endpoints", e.key), _applied("endpoints", e.name, was, merged)))
        stored.append(merged)
    keys = {e.key for e in manifests.endpoints}
    views = tuple((e.key, e.labels if e.key in written_labels else None, e.annotations) for e in manifests.endpoints)
    return replace(world, endpoints=(*(e for e in world.endpoints if e.key not in keys), *stored),
                   endpoints_applied=world.endpoints_applied | keys,
                   endpoints_last_applied=(*(v for v in world.endpoints_last_applied if v[0] not in keys),
                                           *views)), notes


def _controllers_endpoints(world: World, service: Service) -> Endpoints:
    """The Endpoints the endpoints controller keeps for ``service`` (a reconciled one) in ``world``."""
    return written_by_endpoints_controller(service, [p.at(world.now) for p in world.pods])


def _merged_endpoints(live: Endpoints | None, written: Endpoints,
                      last: tuple[Labels | None, Labels] | None, labels_as: bool | None) -> Endpoints:
    """The Endpoints once kubectl apply's patch of ``written`` is applied to ``live``: subsets replaced (a list
    with no patch merge key), labels and annotations merged as maps (:func:`_merged_map`; ``last``: the labels and
    annotations the previous apply wrote, its labels None when it wrote no labels field, ``last`` None when the
    live object has no last-applied-configuration, as the controller's Endpoints have none: then nothing is
    removed but what is written null; ``labels_as``: Manifests.endpoints_labels' word for ``written``). kubectl
    1.33's patch over the controller's Endpoints labelled app and tier, of a manifest labelled mine, is
    {"labels":{"mine":"yes"}} with the subsets whole, so the controller's labels stay."""
    if live is None:
        return written
    last_labels, last_annotations = last if last is not None else (None, ())
    return replace(written, labels=_merged_labels(live.labels, written.labels, last_labels, labels_as),
                   annotations=_merged_map(live.annotations, written.annotations, last_annotations))


def _merged_labels(live: Labels, written: Labels, last: Labels | None, written_as: bool | None) -> Labels:
    """apply's merge of metadata.labels, a map that may be written as a map (``written_as`` True, ``{}`` too),
    as null (False) or not at all (None), and that the last apply may have left out (``last`` None). kubectl
    1.33's three-way patch (over labels tier, another writer's, and mine, the last apply's): null written is
    {"labels":null}, the field deleted whole, others' entries too; none written after a last apply that wrote the
    field (even ``{}`` or null) is {"labels":null} as well; ``labels: {}`` after {mine: yes} is
    {"labels":{"mine":null}}, tier kept; none written after none is no labels patch at all."""
    if written_as is False or (written_as is None and last is not None):
        return ()
    return _merged_map(live, written, last or ())


def _merged_map(live: Labels, written: Labels, last: Labels) -> Labels:
    """apply's three-way merge of a map: the manifest's entries set, those the last apply wrote and this one
    leaves out removed, every other live entry (another writer's) kept; sorted, as the API server keeps keys.
    (The annotations are never deleted whole, as the last-applied annotation itself is one of them.)"""
    dropped = {key for key, _ in last} - {key for key, _ in written}
    merged = {key: value for key, value in live if key not in dropped}
    merged.update(written)
    return tuple(sorted(merged.items()))


def _no_last_applied(resource: str, name: str) -> str:
    """What kubectl apply prints (to stderr) before patching an object that exists without its
    last-applied-configuration annotation (apply.go's warningNoLastAppliedConfigAnnotation, kubectl 1.33, naming
    it by Info.ObjectName: the plural resource and the name): one another client made, as the endpoints controller
    makes a selector Service's Endpoints, the ReplicaSet controller its pods, ``expose`` its Service and ``create
    deployment`` its Deployment."""
    return (f"Warning: resource {resource}/{name} is missing the {LAST_APPLIED_ANNOTATION} annotation which is "
            "required by kubectl apply. kubectl apply should only be used on resources created declaratively by "
            "either kubectl create --save-config or kubectl apply. The missing annotation will be patched "
            "automatically.")


def _apply_pods(world: World, manifests: Manifests,
                rng: random.Random) -> tuple[World, list[Note], list[str], tuple[PortConflict, ...]]:
    """(world, notes, refusals, port conflicts) of the manifests' Pods: a running pod the manifest leaves the
    same is updated in place (its tolerations merged as apply merges them, a toleration dropped refused; its
    labels as apply's three-way merge of a map leaves them: the manifest's set, those the last apply wrote and
    this one leaves out deleted, another writer's, ``label``'s or ``patch``'s, kept), any other is created; the
    updates, then the creations, are made once every pod of the apply is read. A pod no apply made (a
    ReplicaSet's: last_applied None) has no last-applied-configuration annotation: warned of."""
    running = {p.key: p for p in world.pods}
    views = dict(manifests.pod_applied)
    notes: list[Note] = []
    changed = []
    merged: dict[str, tuple[tuple[Toleration, ...], str | None]] = {}  # by NS/NAME: the fields after the merge
    applied: dict[str, LastApplied] = {}  # by NS/NAME: the new last-applied view
    updated: set[str] = set()
    relabel: dict[str, dict[str, str | None]] = {}  # by NS/NAME: the label changes of a pod updated in place
    conflicts: tuple[PortConflict, ...] = ()
    refused = []
    for pod in manifests.cluster.pods:
        before = running.get(pod.key)
        view = replace(views.get(pod.key, LastApplied()), labels=pod.labels)  # what this apply writes
        own, cost = _merged(before, view)
        labels = _merged_map(before.labels, pod.labels, (before.last_applied or view).labels) if before else ()
        if before is not None and not only_added_tolerations(before.tolerations, admitted_tolerations(own)):
            refused.append(_tolerations_refused(pod))
            continue
        merged[pod.key], applied[pod.key] = (own, cost), view
        key = ("Pod", pod.key)
        if before is not None and before.last_applied is None:
            notes.append((key, _no_last_applied("pods", pod.name)))
        if before is not None and _same_pod(before, replace(pod, labels=before.labels)):  # labels: merged below
            relabelled = dict(labels) != dict(before.labels)
            same = not relabelled and ((admitted_tolerations(own), cost, view)
                                       == (before.tolerations, before.deletion_cost, before.last_applied))
            notes.append((key, f"pod/{pod.name} {'unchanged' if same else 'configured'}"))
            if not same:  # a pod spec change the API server allows, an annotation, or a first apply: in place
                updated.add(pod.key)
            if relabelled:
                relabel[pod.key] = {**{k: None for k, _ in before.labels if k not in dict(labels)}, **dict(labels)}
            continue
        notes.append((key, _applied("pod", pod.name, before, False)))
        changed.append(pod)
    if updated:
        world = W.update_pods(world, {key: merged[key] for key in updated}, rng, applied)
    for pod_key, changes in relabel.items():  # the labels apply's merge leaves, patched in place
        namespace, _, name = pod_key.partition("/")
        world = W.label_pod(world, namespace, name, changes, rng, overwrite=True)
    if changed:
        world, conflicts = W.add_pods(world, changed, rng, merged, applied, dict(manifests.pod_containers))
    return world, notes, refused, conflicts


def _apply_deployments(world: World, manifests: Manifests, rng: random.Random) -> tuple[World, list[Note]]:
    """The manifests' Deployments, as apply's three-way merge leaves them (:func:`_merged_replicas`), and a
    changed selector is refused (it is immutable), which stops the step; one ``create deployment`` made is warned
    of and configured (:func:`_unannotated`). The rest of what the model holds of a Deployment (its template:
    images, labels, the pod-deletion-cost annotation) is the manifest's: a manifest writes every container's
    image, and no other writer here changes the rest."""
    notes: list[Note] = []
    for d in manifests.deployments:
        existing = world.deployment(d.namespace, d.name)
        key = ("Deployment", d.key)
        if existing is not None:
            d = replace(d, replicas=_merged_replicas(world, existing, d))
        if existing is not None and existing.selector != d.selector:
            raise W.ActionError(f'The Deployment "{d.name}" is invalid: spec.selector: field is immutable')
        unannotated = _unannotated(world, key, "deployments", d.name, existing is not None)
        world = W.apply_deployment(world, d, rng)
        applied = world.deployments_replicas_applied
        rewritten = existing is not None and (d.key in applied) != d.replicas_given
        world = replace(world, deployments_replicas_applied=applied | {d.key} if d.replicas_given
                        else applied - {d.key})
        # the manifest writes spec.replicas where the last apply did not, or the other way round: the patch
        # carries the new last-applied-configuration (and the count, or null), so it is configured even when
        # the count stays (kubectl prints unchanged only for an empty patch)
        after = None if rewritten else world.deployment(d.namespace, d.name)
        notes += unannotated or [(key, _applied("deployment.apps", d.name, existing, after))]
    return world, notes


def _merged_replicas(world: World, live: Deployment, written: Deployment) -> int:
    """spec.replicas after kubectl apply's three-way merge: the manifest's when it writes them; left out, deleted
    when the last apply wrote them (kubectl's patch sends null, and the API server defaults the field to 1), else
    the live count kept (what ``scale``, ``patch`` or an autoscaler set)."""
    if written.replicas_given:
        return written.replicas
    wrote = live.key in world.deployments_replicas_applied and ("Deployment", live.key) not in world.unannotated
    return 1 if wrote else live.replicas


def _tolerations_refused(pod: Pod) -> str:
    """The API server's refusal of a pod update that drops or changes a toleration (validateOnlyAddedTolerations),
    as kubectl prints it, then where it came from: kubectl applies the manifest's other objects and exits 1."""
    return (f'The Pod "{pod.name}" is invalid: {TOLERATIONS_FORBIDDEN} ({pod.origin.file}: Pod {pod.key} keeps '
            "the tolerations it has; expected each of them again, its tolerationSeconds alone changed, and any new "
            "ones added)")


def _play_rollout(world: World, step: Step, rng: random.Random) -> Played:
    action = step.verb.split()[1]
    if action == "status":
        waited = W.wait_for_rollout(world, step.namespace, step.name, rng)
        notes = tuple(f"t={_format_time(t)}: {m}" for t, m in waited.messages)
        error = None if waited.done else waited.messages[-1][1].removeprefix("error: ")
        return Played(waited.world, notes, error)
    if action == "undo":
        world, message = W.undo(world, step.namespace, step.name, rng, step.to_revision)
        return Played(world, (message,))
    d = world.deployment(step.namespace, step.name)
    if d is None:
        raise W.ActionError(f'deployments.apps "{step.name}" not found')
    rows = [f"deployment.apps/{step.name}", "REVISION  CHANGE-CAUSE"]
    rows += [f"{revision:<9} {cause or '<none>'}" for revision, cause in history(world, d)]
    return Played(world, tuple(rows))


_NOT_FOUND = {"service": "services", "deployment": "deployments.apps", "pod": "pods", "endpoints": "endpoints"}


def _play_delete(world: World, step: Step, rng: random.Random) -> Played:
    """``kubectl delete KIND NAME...``: the objects found are deleted and each missing name is an error, kubectl's
    NotFound, after them (it exits 1 having deleted the rest: the script stops there)."""
    names, missing = _delete_names(world, step)
    if step.kind == "service":
        world = W.delete_services(world, step.namespace, names)
        notes = [f'service "{n}" deleted' for n in names]
    elif step.kind == "deployment":
        for name in names:
            world = W.delete_deployment(world, step.namespace, name, rng)
        notes = [f'deployment.apps "{n}" deleted' for n in names]
    elif step.kind == "endpoints":
        gone = {(step.namespace, name) for name in names}
        world = replace(world, endpoints=tuple(e for e in world.endpoints if (e.namespace, e.name) not in gone),
                        endpoints_applied=world.endpoints_applied - {f"{ns}/{name}" for ns, name in gone})
        notes = [ENDPOINTS_DEPRECATED, *(f'endpoints "{n}" deleted' for n in names)]
    else:
        world = W.delete_pods(world, step.namespace, names, rng)
        notes = [f'pod "{n}" deleted' for n in names]
    if missing:
        return Played(world, tuple(notes), "; ".join(f'{_NOT_FOUND[step.kind]} "{n}" not found' for n in missing))
    return Played(world, tuple(notes) if names else (*notes, "No resources found"))


def _delete_names(world: World, step: Step) -> tuple[list[str], list[str]]:
    """The names a delete step finds (those named, in the order given, or those its -l selects, in name
    order: kubectl deletes what the API server's list gives, which is in key order, namespace/name) and the names
    it does not."""
    ns = step.namespace
    if step.kind == "endpoints":
        labels = _endpoints_labels(world, ns)
    elif step.kind == "service":
        labels = {x.name: x.labels for x in world.services if x.namespace == ns}
    elif step.kind == "deployment":
        labels = {x.name: x.labels for x in world.deployments if x.namespace == ns}
    else:
        labels = {x.name: x.labels for x in world.pods if x.namespace == ns}
    if not step.names:
        return sorted(name for name, held in labels.items() if _selected(step, held)), []
    return [n for n in step.names if n in labels], [n for n in step.names if n not in labels]


def _endpoints_labels(world: World, namespace: str) -> dict[str, tuple[tuple[str, str], ...]]:
    """The Endpoints of ``namespace`` by name, with their labels, in name order. Those of a Service the endpoints
    controller keeps exist whether or not the World holds a copy (it wrote them, with the labels of
    mirroring.endpoints_controller_labels); deleted, they are written
    again from the pods at once (its onEndpointsDelete queues the Service), so the World holds none for them, as
    before. The mirroring controller then deletes the slices of the others (play)."""
    held = {e.name: e.labels for e in world.endpoints if e.namespace == namespace}
    kept = {s.name: endpoints_controller_labels(s) for s in world.services
            if s.namespace == namespace and reconciled(s)}
    return dict(sorted({**kept, **held}.items()))


def _run(world: World, step: Step, rng: random.Random, load: Loader) -> Played:
    verb = step.verb
    if verb == "create deployment":
        d = W.new_deployment(step.namespace, step.name, [i for _, i in step.images], step.replicas, step.port)
        world = W.create_deployment(world, d, rng)
        world = replace(world, unannotated=world.unannotated | {("Deployment", d.key)})
        return Played(world, (f"deployment.apps/{step.name} created",))
    if verb == "expose":
        world, service = W.expose(world, step.namespace, step.name, rng, port=step.port,
                                  target_port=step.target_port, service_type=step.service_type,
                                  name=step.service_name, protocol=step.protocol)
        world = replace(world, unannotated=world.unannotated | {("Service", service.key)})
        return Played(world, (f"service/{service.name} exposed",))
    if verb == "scale":
        return Played(W.scale(world, step.namespace, step.name, step.replicas, rng),
                      (f"deployment.apps/{step.name} scaled",))
    if verb == "set image":
        before = world.deployment(step.namespace, step.name)
        world = W.set_image(world, step.namespace, step.name, dict(step.images), rng)
        after = world.deployment(step.namespace, step.name)
        same = before is not None and after is not None and before.template == after.template
        return Played(world, () if same else (f"deployment.apps/{step.name} image updated",))  # kubectl: silent
    if verb.startswith("rollout"):
        return _play_rollout(world, step, rng)
    if verb == "label pods":
        notes = []
        names = step.names if step.names else tuple(sorted(
            p.name for p in world.pods if p.namespace == step.namespace
            and _selected(step, p.labels)))
        for name in names:
            pod_before = world.pod(step.namespace, name)
            present = dict(pod_before.labels) if pod_before is not None else {}
            notes += [f'label "{key}" not found.' for key, value in step.labels if value is None and key not in present]
            world = W.label_pod(world, step.namespace, name, dict(step.labels), rng, overwrite=step.overwrite)
            pod_after = world.pod(step.namespace, name)
            word = _label_message(present, dict(pod_after.labels) if pod_after else {}, step.overwrite)
            notes.append(f"pod/{name} {word}")
        return Played(world, tuple(notes))
    if verb == "delete":
        return _play_delete(world, step, rng)
    if verb == "patch":
        return _play_patch(world, step, rng)
    if verb == "get":
        return _play_get(world, step)
    if verb == "apply":
        return _apply_manifests(world, load(step.paths), rng, starting=step.line == 0)
    if verb in ("cordon", "uncordon"):
        world, changed = W.cordon(world, step.name, rng, on=verb == "cordon")
        return Played(world, (f"node/{step.name} {'' if changed else 'already '}{verb}ed",))
    if verb == "drain":
        drained = W.drain(world, step.name, rng, force=step.force)
        return Played(drained.world, drained.notes, drained.error)
    return Played(W.advance(world, step.seconds, rng), (f"t={_format_time(world.now + step.seconds)}",))


def _label_message(before: dict[str, str], after: dict[str, str], overwrite: bool) -> str:
    """kubectl 1.33's word for one object (label.go updateDataChangeMsg): ``not labeled`` when the object is the
    same; else ``unlabeled`` when, without --overwrite, its JSON got shorter (the labels are all that changed, and
    Go writes a map's keys sorted, so the labels' JSON lengths decide: a removal that outweighs what was added),
    ``labeled`` otherwise (checked against kubectl.1.33 label --local: ``app- new=1`` unlabeled, ``app- nn=webx``
    and ``app- --overwrite`` labeled)."""
    if before == after:
        return "not labeled"
    if not overwrite and _json_length(after) < _json_length(before):
        return "unlabeled"
    return "labeled"


def _json_length(labels: dict[str, str]) -> int:
    return len(json.dumps(labels, separators=(",", ":"), ensure_ascii=False))


def _play_patch(world: World, step: Step, rng: random.Random) -> Played:
    """``kubectl patch``: the patch applied to the object's modelled fields (controllers.kubectl_patch), and
    kubectl's line, ``patched`` or ``patched (no change)`` as the object came back the same."""
    from kubeproxy_sim.controllers import kubectl_patch as KP

    ns, name = step.namespace, step.name
    try:
        patch = KP.read_patch(step.patch, step.patch_type)
        if step.kind == "service":
            current = world.service(ns, name)
            if current is None:
                raise W.ActionError(f'services "{name}" not found')
            before = W.annotations_of(world, current.key)
            decoded, doc, annotations = KP.patched_service(current, step.patch_type, patch, before)
            admitted = W.admit_service(world, decoded, rng, policy=family_policy(doc),
                                       written=written_ip_fields(doc))
            kept = tuple(sorted(annotations.items()))  # (put_service keeps the topology ones, as apply does)
            same = admitted == current and kept == before
            world = world if same else W.put_service(world, admitted, kept)
            return Played(world, (_patched_line("service", name, same),))
        if step.kind == "deployment":
            d = world.deployment(ns, name)
            if d is None:
                raise W.ActionError(f'deployments.apps "{name}" not found')
            change = KP.patched_deployment(d, step.patch_type, patch)
            # one update of both: the controller's sync sees a scaling event first (a live set sized for another
            # count: upstream isScalingEvent), resizes the active set, and only then rolls out the new template
            if change.replicas is not None:
                world = W.scale(world, ns, name, change.replicas, rng)
            if change.images:
                world = W.set_image(world, ns, name, change.images, rng)
            same = not change.images and change.replicas is None
            return Played(world, (_patched_line("deployment.apps", name, same),))
        pod = world.pod(ns, name)
        if pod is None:
            raise W.ActionError(f'pods "{name}" not found')
        labels = KP.patched_pod_labels(pod, step.patch_type, patch)
        for key, value in labels.items():
            _check_label(step.line, key, value)
        changes: dict[str, str | None] = {key: None for key, _ in pod.labels if key not in labels}
        changes.update(labels)
        same = dict(pod.labels) == labels
        world = world if same else W.label_pod(world, ns, name, changes, rng, overwrite=True)
        return Played(world, (_patched_line("pod", name, same),))
    except KP.Refused as exc:
        return Played(world, (), str(exc))


def _patched_line(kind: str, name: str, same: bool) -> str:
    return f"{kind}/{name} patched" + (" (no change)" if same else "")


def _play_get(world: World, step: Step) -> Played:
    """``kubectl get``: kubectl's table of each kind asked for (controllers.kubectl_get), of one namespace or, with
    -A, of all (a NAMESPACE column first, rows by namespace then name); a name not found is the API server's
    NotFound after the rows found (kubectl exits 1: the script stops there)."""
    from kubeproxy_sim.controllers import kubectl_get as G

    groups = step.groups or ((step.kind, step.names),)
    warning = [ENDPOINTS_DEPRECATED] if any(kind == "endpoints" for kind, _ in groups) else []
    if step.output in ("json", "yaml"):
        lines, missing = _get_documents(world, step, groups)
        return Played(world, (*warning, *lines), "; ".join(missing) or None)
    parts = []
    for kind, names in groups:
        scoped = not G.KINDS[kind].cluster_scoped
        found = sorted((entry for entry in _get_rows(world, kind, step.output == "wide")
                        if (step.all_namespaces or not scoped or entry[0] == step.namespace)
                        and _selected(step, entry[2])),
                       key=lambda e: (e[0], e[1]))
        if step.all_namespaces and scoped:  # keyed NS/NAME, by namespace then name, the namespace a column first
            parts.append(G.Group(kind, {f"{ns}/{name}": [ns, *row] for ns, name, _, row in found},
                                 {f"{ns}/{name}": labels for ns, name, labels, _ in found}))
        else:
            parts.append(G.Group(kind, {name: row for _, name, _, row in found},
                                 {name: labels for _, name, labels, _ in found}, names))
    with_kind = step.with_kind or sum(1 for part in parts if part.rows) > 1
    lines, missing = G.printed_groups(parts, step.output, step.namespace, with_kind=with_kind,
                                      show_labels=step.show_labels, no_headers=step.no_headers,
                                      all_namespaces=step.all_namespaces)
    return Played(world, (*warning, *lines), "; ".join(missing) or None)


def _get_documents(world: World, step: Step,
                   groups: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[list[str], list[str]]:
    """``get -o json|yaml`` (controllers.kubectl_print): the objects found, kind by kind as asked for, each kind's
    by namespace and name or in the order of the names asked for; a name not found is the API server's NotFound
    after them, alone (nothing printed) when one name was asked for, as kubectl's printGeneric returns it."""
    from kubeproxy_sim.controllers import kubectl_get as G
    from kubeproxy_sim.controllers import kubectl_print as P

    items: list[dict[str, Any]] = []
    missing: list[str] = []
    for kind, names in groups:
        scoped = not G.KINDS[kind].cluster_scoped
        found = sorted(((ns, name, doc) for ns, name, labels, doc in P.documents(world, kind, _all_endpoints)
                        if (step.all_namespaces or not scoped or ns == step.namespace) and _selected(step, labels)),
                       key=lambda e: (e[0], e[1]))
        by_name = {name: doc for _, name, doc in found}
        items += [by_name[n] for n in names if n in by_name] if names else [doc for _, _, doc in found]
        missing += [f'Error from server (NotFound): {G.KINDS[kind].resource} "{n}" not found'
                    for n in names if n not in by_name]
    if missing and step.single_item:
        return [], missing
    return P.printed(items, step.output, single=step.single_item), missing


def _all_endpoints(world: World) -> list[Endpoints]:
    """The v1 Endpoints ``get endpoints`` lists: those the World holds, and the endpoints controller's of each
    Service it reconciles that has none held."""
    held = {e.key: e for e in world.endpoints}
    for s in world.services:
        if reconciled(s) and s.key not in held:
            held[s.key] = _controllers_endpoints(world, s)
    return list(held.values())


def _get_rows(world: World, kind: str, wide: bool) -> list[tuple[str, str, Labels, list[str]]]:
    """(namespace, name, labels, row) of every object of ``kind``, as kubectl get's table shows it."""
    from kubeproxy_sim.controllers import kubectl_get as G
    from kubeproxy_sim.controllers.deployment import rollout_status

    now, created = world.now, dict(world.created)
    if kind == "pods":
        return [(p.namespace, p.name, p.labels, G.pod_row(p, now, wide)) for p in world.pods]
    if kind == "services":
        return [(s.namespace, s.name, s.labels, G.service_row(s, G.age_of(created, "Service", s.key, now), wide))
                for s in world.services]
    if kind == "endpoints":
        return [(e.namespace, e.name, e.labels, [e.name, G.endpoints_cell(e), G.age_of(created, "Service", e.key, now)])
                for e in _all_endpoints(world)]
    if kind == "nodes":
        return [("", n.name, n.labels, G.node_row(n, _node_status(world, n.name),
                                                  G.age_of(created, "Node", n.key, now), wide)) for n in world.nodes]
    if kind == "endpointslices":
        return [(s.namespace, s.name, s.labels, G.slice_row(s, G.age_of(created, "Service", s.service_key, now)))
                for s in W.controller_sync(world).cluster.endpoint_slices]
    out: list[tuple[str, str, Labels, list[str]]] = []
    if kind == "replicasets":
        for rs in world.replica_sets:
            row = [rs.name, str(rs.replicas), str(world.active_pods(rs)), str(world.available_pods(rs)),
                   G.age_of(created, "ReplicaSet", rs.key, now)]
            out.append((rs.namespace, rs.name, rs.template.labels,
                        row + (G.workload_wide(rs.template.containers, rs.selector) if wide else [])))
        return out
    for d in world.deployments:
        status = rollout_status(world, d)
        row = [d.name, f"{status.available}/{d.replicas}", str(status.updated), str(status.available),
               G.age_of(created, "Deployment", d.key, now)]
        out.append((d.namespace, d.name, d.labels,
                    row + (G.workload_wide(d.template.containers, d.selector) if wide else [])))
    return out


def _node_status(world: World, name: str) -> str:
    """A Node's STATUS of its Ready condition as the World keeps it: not_ready_nodes less untainted_nodes had a
    status of False or Unknown, untainted_nodes most often none (kubectl_get.node_status)."""
    from kubeproxy_sim.controllers import kubectl_get as G

    status = G.node_status(name not in world.not_ready_nodes, name not in world.untainted_nodes)
    return f"{status},SchedulingDisabled" if name in world.cordoned else status  # printNode: spec.unschedulable


def _dated(world: World) -> set[tuple[str, str]]:
    """(kind, key) of the objects World.created dates."""
    return ({("Service", s.key) for s in world.services} | {("Deployment", d.key) for d in world.deployments}
            | {("ReplicaSet", rs.key) for rs in world.replica_sets} | {("Node", n.key) for n in world.nodes})


def _created(start: World, end: World) -> World:
    """``end`` with the instants the step made its new Services, Deployments, ReplicaSets and Nodes at
    (World.created): the step's start, when kubectl's request made them (a ReplicaSet the Deployment controller
    made at once)."""
    keys, before = _dated(end), _dated(start)
    known = {key: at for key, at in start.created if key in keys}
    new = {key: start.now for key in keys - before}
    if not new and len(known) == len(start.created):
        return end
    return replace(end, created=tuple(sorted({**known, **new}.items())))


def endpoints_controller_step(start: World, end: World) -> World:
    """The World once the endpoints controller has synced the Services a step's events queue (addPod, updatePod,
    deletePod: queue.pod_queued; onServiceUpdate: a Service added or changed): the Endpoints of such a Service
    with a selector that the World held from before the step (applied over what the controller wrote) are
    written again from the pods (syncService finds their subsets or labels unlike its own), keeping their
    annotations, kubectl's last-applied-configuration among them (it copies the object). The World then holds
    no copy, as for any other Endpoints the controller keeps (script._apply_endpoints: a later apply of the same
    file is "configured"). That controller has no handler for Endpoints but onEndpointsDelete, so Endpoints
    applied with no such event after them stay as applied; those a step applies itself are left as applied
    too (where the step's own pod events fall against the write is not modelled)."""
    had = {e.key: e for e in start.endpoints}
    services = {s.key: s for s in end.services}
    held = [e.key for e in end.endpoints if had.get(e.key) == e and e.key in services and reconciled(services[e.key])]
    if not held:
        return end
    before = {s.key: s for s in start.services}
    notes_before, notes_now = dict(start.service_annotations), dict(end.service_annotations)
    queued = {key for key, s in services.items()
              if before.get(key) != s or notes_before.get(key) != notes_now.get(key)}
    queued |= pod_queued([p.at(start.now) for p in start.pods], [p.at(end.now) for p in end.pods], end.services)
    rewritten = queued.intersection(held)
    if not rewritten:
        return end
    return replace(end, endpoints=tuple(e for e in end.endpoints if e.key not in rewritten))


def play(world: World, step: Step, rng: random.Random, load: Loader) -> Played:
    """Carry out one step; a refusal (not found, already exists, ...) raises ScriptError naming the line. The
    World it leaves has lost the loaded slices the mirroring controller deletes once it sees the step
    (W.collect_slices), so that what it deleted stays deleted whatever later steps do, and says which Services
    the step's changes to slices of the EndpointSlice controller's label queue (Played.slice_events), for
    W.controller_sync, whose sync of them a second later deletes those (the caller drops them then)."""
    try:
        played = _run(world, step, rng, load)
    except (W.ActionError, AllocationError) as exc:
        raise ScriptError(step.line, f"{step.verb}: {exc}", getattr(exc, "file", None)) from None
    touched = frozenset(slice_queued(world.user_slices, played.world.user_slices))
    after, mirror_notes = mirror_step(world, W.collect_slices(played.world, own_label=False))
    after = endpoints_controller_step(world, after)
    after = _created(world, after)
    if after.endpoints_applied:  # gone (with its Service too): made again, it has no annotation
        present = {e.key for e in after.endpoints} | {s.key for s in after.services if reconciled(s)}
        if not after.endpoints_applied <= present:
            after = replace(after, endpoints_applied=after.endpoints_applied & present)
    if after.services_last_applied:  # deleted: made again by expose, it has no last-applied-configuration
        present = {s.key for s in after.services}
        if any(key not in present for key, _ in after.services_last_applied):
            after = replace(after, services_last_applied=tuple(v for v in after.services_last_applied
                                                               if v[0] in present))
    if after.deployments_replicas_applied:  # deleted: made again by create, it has no last-applied-configuration
        kept = after.deployments_replicas_applied & {d.key for d in after.deployments}
        after = after if kept == after.deployments_replicas_applied else replace(
            after, deployments_replicas_applied=kept)
    if after.unannotated:  # deleted: made again by apply, it has one
        after = replace(after, unannotated=after.unannotated & _annotatable(after.services, after.deployments,
                                                                            after.nodes))
    return replace(played, world=after, slice_events=touched,
                   mirror_notes=(*mirror_slices_deleted(played.world.user_slices), *mirror_notes))
