"""The types of a kubeconfig's fields, checked as client-go decodes the file (clientcmd/api/v1's structs).

client-go refuses a kubeconfig whose field has the wrong JSON type ("json: cannot unmarshal number into Go struct
field NamedCluster.clusters.name of type string"), and a ``-data`` field that is not base64, before it connects.
The Python client takes such a file as it comes and trips over it later in Python's own words ("'int' object is
not subscriptable", "expected str, bytes or os.PathLike object, not ConfigNode"), naming no field. This walks the
file once and says every such field by its path, what it holds and what the field takes.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Union

from kubeproxy_sim.errors import Diagnostic
from kubeproxy_sim.objects.report import WrittenNumber, described, not_a_string, quote

STRING, BOOLEAN, BYTES, PATH = "string", "boolean", "bytes", "path"
Spec = Union[str, "ListOf", "MapOf", dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ListOf:
    """A JSON array of ``item``."""

    item: Spec


@dataclass(frozen=True, slots=True)
class MapOf:
    """A JSON object of string keys to ``item``."""

    item: Spec


_EXTENSIONS = ListOf({"name": STRING})  # (each extension's ``extension`` is raw JSON: any value)
_CLUSTER = {"server": STRING, "tls-server-name": STRING, "insecure-skip-tls-verify": BOOLEAN,
            "certificate-authority": PATH, "certificate-authority-data": BYTES, "proxy-url": STRING,
            "disable-compression": BOOLEAN, "extensions": _EXTENSIONS}
_EXEC = {"command": PATH, "args": ListOf(STRING), "env": ListOf({"name": STRING, "value": STRING}),
         "apiVersion": STRING, "installHint": STRING, "provideClusterInfo": BOOLEAN, "interactiveMode": STRING}
_USER = {"client-certificate": PATH, "client-certificate-data": BYTES, "client-key": PATH, "client-key-data": BYTES,
         "token": STRING, "tokenFile": PATH, "as": STRING, "as-uid": STRING, "as-groups": ListOf(STRING),
         "as-user-extra": MapOf(ListOf(STRING)), "username": STRING, "password": STRING,
         "auth-provider": {"name": STRING, "config": MapOf(STRING)}, "exec": _EXEC, "extensions": _EXTENSIONS}
CONFIG: dict[str, Any] = {
    "kind": STRING, "apiVersion": STRING, "current-context": STRING, "extensions": _EXTENSIONS,
    "preferences": {"colors": BOOLEAN, "extensions": _EXTENSIONS},
    "clusters": ListOf({"name": STRING, "cluster": _CLUSTER}),
    "users": ListOf({"name": STRING, "user": _USER}),
    "contexts": ListOf({"name": STRING, "context": {"cluster": STRING, "user": STRING, "namespace": STRING,
                                                    "extensions": _EXTENSIONS}}),
}
"""client-go's clientcmd/api/v1 Config (types.go), by JSON name; fields not listed are ignored, as
client-go's decoding ignores unknown fields. PATH is a string naming a file (or the exec plugin's command)."""


REMOVED_AUTH_PROVIDERS = {"gcp": "gke-gcloud-auth-plugin", "azure": "kubelogin"}
"""The in-tree auth-provider plugins client-go and kubectl dropped in 1.26 (their stubs refuse the user: "The gcp
auth plugin has been removed. Please use the "gke-gcloud-auth-plugin" kubectl/client-go credential plugin
instead"), with the exec plugin that replaces each; the Python client's gcp provider fails in Python's words."""


def kubeconfig_problems(data: dict[str, Any], kubeconfig: str) -> list[Diagnostic]:
    """Every field of the kubeconfig ``data`` (read from the file ``kubeconfig``) that client-go would refuse to
    decode, each said by its field path (null is any field's zero value, as in Go), and every user of a removed
    auth-provider plugin."""
    problems = _not_json(data) or _problems(data, CONFIG, "") or _removed_providers(data)
    return [Diagnostic(text, file=kubeconfig, field=path) for path, text in problems]


def _not_json(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Every ``.inf``, ``-.inf`` or ``.nan`` in the kubeconfig, wherever it is (an extension, a field client-go does
    not know): client-go turns the whole file into JSON before it decodes it (sigs.k8s.io/yaml's YAMLToJSON), and
    JSON has no such number, so the file is refused ("json: unsupported value: +Inf") before any field is read.
    (Walked without recursion: a file may nest deeper than Python's stack.)"""
    found = []
    pending: list[tuple[str, Any]] = [("", data)]
    while pending:  # (in the file's order: a value's items go first)
        path, value = pending.pop()
        if type(value) is WrittenNumber and not value.whole:  # (a whole 1e30 is an ordinary float to Go)
            found.append((path, f"{value.text} is a number JSON cannot hold, and client-go reads a kubeconfig as "
                                "JSON (it refuses the file: json: unsupported value); expected a finite number, or "
                                "a string in quotes"))
        elif isinstance(value, dict):
            pending.extend(reversed([(_field(path, key), item) for key, item in value.items()]))
        elif isinstance(value, list):
            pending.extend(reversed([(f"{path}[{i}]", item) for i, item in enumerate(value)]))
    return found


def _removed_providers(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The users whose auth-provider client-go no longer has (``data`` of the right types: each user a mapping)."""
    found = []
    for i, entry in enumerate(data.get("users") or []):
        provider = ((entry or {}).get("user") or {}).get("auth-provider") or {}
        plugin = REMOVED_AUTH_PROVIDERS.get(provider.get("name") or "")
        if plugin:
            found.append((f"users[{i}].user.auth-provider.name",
                          f"the {provider['name']} auth plugin was removed from client-go and kubectl (1.26); expected "
                          f"the {plugin} exec credential plugin (users[{i}].user.exec)"))
    return found


def _problems(value: Any, spec: Spec, path: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    if isinstance(spec, str):
        problem = _scalar_problem(value, spec)
        return [(path, problem)] if problem else []
    if isinstance(spec, ListOf):
        if not isinstance(value, list):
            return [(path, f"expected a list, got {described(value)}")]
        return [p for i, item in enumerate(value) for p in _problems(item, spec.item, f"{path}[{i}]")]
    if not isinstance(value, dict):
        return [(path, f"expected a mapping, got {described(value)}")]
    if isinstance(spec, MapOf):
        return [p for key, item in value.items() for p in _problems(item, spec.item, _field(path, key))]
    return [p for key, item_spec in spec.items() if key in value
            for p in _problems(value[key], item_spec, f"{path}.{key}" if path else key)]


def _field(path: str, key: object) -> str:
    """The field path of ``key`` in the mapping at ``path``; a key that is no string as YAML writes it (``null``,
    not Python's ``None``)."""
    name = key if isinstance(key, str) else quote(key)
    return f"{path}.{name}" if path else name


def _scalar_problem(value: Any, spec: str) -> str | None:
    if spec == BOOLEAN:
        return None if type(value) is bool else f"expected a boolean (true or false), got {described(value)}"
    if not isinstance(value, str):
        return not_a_string(value)
    if spec == PATH and "\0" in value:  # (Go's open or exec refuses it: invalid argument)
        return f"{described(value)} holds a NUL character, which no file name can; expected a file name"
    if spec == BYTES:
        try:
            base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True)
        except (binascii.Error, ValueError) as exc:
            return f"not base64 ({exc}); expected the PEM data base64-encoded, as `kubectl config view --raw` prints it"
    return None
