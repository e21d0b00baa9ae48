"""The types of a kubeconfig's fields, checked as client-go decodes the file (clientcmd/api/v1's structs).

client-go refuses a kubeconfig whose field has the wrong JSON type ("json: cannot unmarshal number into Go struct
field NamedCluster.clusters.name of type string"), and a ``-data`` field that is not base64, before it connects;
what it refuses only in the context, cluster and user it chooses (a file name with a NUL, a removed auth-provider,
what ConfirmUsable refuses) is checked there alone: a stale user beside the chosen one is no matter to kubectl.
The Python client takes such a file as it comes and trips over it later in Python's own words ("'int' object is
not subscriptable", "expected str, bytes or os.PathLike object, not ConfigNode"), naming no field. This walks the
file once and says every such field by its path, what it holds and what the field takes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Union

from kubeproxy_sim.errors import Diagnostic, quoted
from kubeproxy_sim.objects.load import go_base64_error
from kubeproxy_sim.objects.report import WrittenNumber, described, not_a_string, quote

STRING, BOOLEAN, BYTES, PATH = "string", "boolean", "bytes", "path"
Spec = Union[str, "ListOf", "MapOf", dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ListOf:
    """A JSON array of ``item``; ``keyed``: client-go makes it a map by each item's name (clusters, users,
    contexts, extensions), and refuses a name twice."""

    item: Spec
    keyed: bool = False


@dataclass(frozen=True, slots=True)
class MapOf:
    """A JSON object of string keys to ``item``."""

    item: Spec


_EXTENSIONS = ListOf({"name": STRING}, keyed=True)  # (each extension's ``extension`` is raw JSON: any value)
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
    "clusters": ListOf({"name": STRING, "cluster": _CLUSTER}, keyed=True),
    "users": ListOf({"name": STRING, "user": _USER}, keyed=True),
    "contexts": ListOf({"name": STRING, "context": {"cluster": STRING, "user": STRING, "namespace": STRING,
                                                    "extensions": _EXTENSIONS}}, keyed=True),
}
"""client-go's clientcmd/api/v1 Config (types.go), by JSON name; fields not listed are ignored, as
client-go's decoding ignores unknown fields. PATH is a string naming a file (or the exec plugin's command)."""


REMOVED_AUTH_PROVIDERS = {"gcp": "gke-gcloud-auth-plugin", "azure": "kubelogin"}
"""The in-tree auth-provider plugins client-go and kubectl dropped in 1.26 (their stubs refuse the user: "The gcp
auth plugin has been removed. Please use the "gke-gcloud-auth-plugin" kubectl/client-go credential plugin
instead"), with the exec plugin that replaces each; the Python client's gcp provider fails in Python's words."""


def kubeconfig_problems(data: dict[str, Any], kubeconfig: str) -> list[Diagnostic]:
    """Every field of the kubeconfig ``data`` (read from the file ``kubeconfig``) that client-go would refuse to
    decode, each said by its field path (null is any field's zero value, as in Go): types, base64, .inf/.nan
    and names twice, file-wide as client-go's decoding refuses them."""
    problems = _not_json(data) or _problems(data) or _names_twice(data)
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


def _removed_provider(user: dict[str, Any], at: str) -> list[tuple[str, str]]:
    """The chosen user's auth-provider when client-go no longer has it (its stub refuses only the user a context
    chooses: kubectl 1.27 to 1.33 connect with a stale gcp user beside the chosen one)."""
    provider = user.get("auth-provider") or {}
    plugin = REMOVED_AUTH_PROVIDERS.get(provider.get("name") or "")
    if not plugin:
        return []
    return [(f"{at}.auth-provider.name", f"the {provider['name']} auth plugin was removed from client-go and kubectl "
                                         f"(1.26); expected the {plugin} exec credential plugin ({at}.exec)")]


def _nul_in_paths(entry: dict[str, Any], spec: dict[str, Any], at: str) -> list[tuple[str, str]]:
    """Each file name of the chosen cluster or user (``entry``, of type ``spec`` at ``at``) with a NUL in it, which
    Go's open or exec refuses (invalid argument) when client-go reads it; a file name no context chooses is never
    opened, and kubectl connects."""
    return [(path, f"{described(value)} holds a NUL character, which no file name can; expected a file name")
            for value, kind, path in _nodes(entry, spec, at) if kind == PATH and "\0" in value]


def _nodes(value: Any, spec: Spec, path: str) -> Iterator[tuple[Any, Spec, str]]:
    """Every value of the kubeconfig that has a type in :data:`CONFIG`, with it and its field path, going down
    wherever the value is of the container its type says."""
    yield value, spec, path
    if isinstance(spec, ListOf) and isinstance(value, list):
        for i, item in enumerate(value):
            yield from _nodes(item, spec.item, f"{path}[{i}]")
    elif isinstance(spec, MapOf) and isinstance(value, dict):
        for key, item in value.items():
            yield from _nodes(item, spec.item, _field(path, key))
    elif isinstance(spec, dict) and isinstance(value, dict):
        for key, item_spec in spec.items():
            if key in value:
                yield from _nodes(value[key], item_spec, _field(path, key))


def _problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Every value of the wrong type (null is any field's zero value, as in Go)."""
    found = [(path, _type_problem(value, spec)) for value, spec, path in _nodes(data, CONFIG, "") if value is not None]
    return [(path, problem) for path, problem in found if problem is not None]


def _type_problem(value: Any, spec: Spec) -> str | None:
    if isinstance(spec, str):
        return _scalar_problem(value, spec)
    if isinstance(spec, ListOf):
        return None if isinstance(value, list) else f"expected a list, got {described(value)}"
    return None if isinstance(value, dict) else f"expected a mapping, got {described(value)}"


def _names_twice(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Every entry of a keyed list (:class:`ListOf`) whose name an entry before it has: client-go's conversion
    makes each such list a map by name and refuses the file (duplicate name "c" in list). A null entry, or
    one without a name, is named "" there (Go decodes null as the zero value). An extension whose ``extension`` is
    null or missing does not take its name (kubectl 1.33, the oracle, takes [{name: e}, {name: e}] and refuses
    [{name: e, extension: 1}, {name: e}])."""
    found = []
    for value, spec, path in _nodes(data, CONFIG, ""):
        if isinstance(spec, ListOf) and spec.keyed and isinstance(value, list):
            first: dict[str, int] = {}
            for i, entry in enumerate(value):
                name = (entry or {}).get("name") or ""
                if name in first:
                    nameless = " (a null entry, or one without a name, is named \"\" there)" if not name else ""
                    found.append((f"{path}[{i}].name", f"{quoted(name)} is the name of {path}[{first[name]}] too, "
                                                       f"which client-go refuses{nameless}; expected each name once"))
                if spec is not _EXTENSIONS or (entry or {}).get("extension") is not None:
                    first.setdefault(name, i)
    return found


def go_decoded(data: dict[str, Any]) -> dict[str, Any]:
    """The kubeconfig ``data`` (of the right types: :func:`kubeconfig_problems` found none) as client-go decodes
    it, in the shape the Python client reads: a field that is null or "" is absent, as client-go takes its zero
    value for unset (the client took certificate-authority: "" for the kubeconfig's directory: "File does not
    exist"), a null list item is the zero value of its type (a null cluster, user or context an entry named ""),
    every cluster, user and context entry has its name and its inner mapping, every context a cluster and a user
    name, every exec env variable a value and the file a current-context ("" when unset) and a users list (empty
    when unset: the watch refused a file without one, "cannot use this kubeconfig: 'users'", where kubectl 1.33
    connects). The client tripped over each of these in Python's words ("argument of type 'NoneType' is not
    iterable") or its own ("Expected key current-context")."""
    decoded = _zeroed(data, CONFIG)
    decoded.setdefault("current-context", "")
    decoded.setdefault("users", [])  # (a file without users: client-go's empty map; the client's loader needs one)
    for key, inner in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
        for entry in decoded.get(key) or []:
            entry.setdefault("name", "")
            entry.setdefault(inner, {})
    for entry in decoded["contexts"]:
        entry["context"].setdefault("cluster", "")
        entry["context"].setdefault("user", "")
    for entry in decoded.get("users") or []:
        for variable in (entry["user"].get("exec") or {}).get("env") or []:
            variable.setdefault("value", "")
    return decoded


def _zeroed(value: Any, spec: Spec) -> Any:
    if isinstance(spec, ListOf) and isinstance(value, list):
        return [_zero(spec.item) if item is None else _zeroed(item, spec.item) for item in value]
    if isinstance(spec, MapOf) and isinstance(value, dict):
        return {key: _zero(spec.item) if item is None else _zeroed(item, spec.item) for key, item in value.items()}
    if isinstance(spec, dict) and isinstance(value, dict):
        return {key: _zeroed(item, spec[key]) if key in spec else item for key, item in value.items()
                if key not in spec or item not in (None, "")}  # (types checked: "" is a string field's)
    return value


def _zero(spec: Spec) -> Any:
    """Go's zero value of a field of type ``spec``, as JSON's null decodes into a list item or a map value."""
    if isinstance(spec, str):
        return False if spec == BOOLEAN else ""
    return [] if isinstance(spec, ListOf) else {}


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
    if spec == BYTES and (offset := go_base64_error(value)) is not None:
        return f"not base64 (illegal base64 data at input byte {offset}); expected the PEM data base64-encoded, as " \
            "`kubectl config view --raw` prints it"
    return None


def choice_problems(data: dict[str, Any], context: str | None) -> list[tuple[str, str]]:
    """What client-go refuses in the context and cluster the kubeconfig ``data`` (:func:`go_decoded`) chooses, by
    field path, as clientcmd's DirectClientConfig.ClientConfig does (kube-proxy builds its client so): a context
    ``--context`` names that is not there ("context "x" does not exist"), a current-context naming none ("context
    was not found for specified context"; none at all is :data:`NO_CONTEXT`), or a cluster without a server, as
    a context naming no cluster, or one that is not there, leaves it ("no configuration has been provided", "no
    server found for cluster"). The user is not checked: one that is not there is no user, as in client-go. The
    client said these in its own words ("Invalid kube-config file. Expected object with name x in
    kube-config/contexts list"), naming no field."""
    contexts = {entry["name"]: (i, entry["context"]) for i, entry in enumerate(data["contexts"])}
    clusters = {entry["name"]: (i, entry["cluster"]) for i, entry in enumerate(data["clusters"])}
    name = context or data["current-context"]
    if name and name not in contexts:
        where = "--context" if context else "current-context"
        return [(where, f"{quoted(name)} names no context of the kubeconfig; expected the name of one of its "
                        f"contexts{_among(contexts)}")]
    i, chosen = contexts.get(name, (None, NO_CONTEXT))
    wanted = chosen["cluster"]
    if i is None and wanted not in clusters:
        return [("current-context", f"empty: the kubeconfig chooses no context, and no cluster is named \"\", so "
                                    f"client-go finds no server (no configuration has been provided); expected "
                                    f"the name of one of its contexts{_among(contexts)}")]
    if wanted not in clusters:
        said = f"{quoted(wanted)} names no cluster of the kubeconfig" if wanted else \
            "empty: the context names no cluster"
        return [(f"contexts[{i}].context.cluster", f"{said}, so client-go finds no server (no configuration has been "
                                                   f"provided); expected the name of one of its clusters"
                                                   f"{_among(clusters)}")]
    j, cluster = clusters[wanted]
    if not cluster.get("server"):
        return [(f"clusters[{j}].cluster.server", f"missing or empty: client-go finds no server for the cluster "
                                                  f"{quoted(wanted)}; expected http(s)://HOST[:PORT]")]
    return []


def _among(named: dict[str, Any]) -> str:
    """The names a choice could have named, for "expected one of" (none when the list is empty)."""
    shown = [quoted(name) for name in list(named)[:10]]
    return f": {', '.join(shown)}{', ...' if len(named) > 10 else ''}" if shown else " (it has none)"


NO_CONTEXT = {"cluster": "", "user": ""}
"""The context client-go takes when none is chosen and none is named "" (current-context unset): the cluster and
the user named "" (kubectl 1.33, the oracle, connects to a nameless cluster with no context at all)."""


def chosen(data: dict[str, Any], context: str | None) -> tuple[int, int | None]:
    """The indexes of the cluster and of the user the kubeconfig ``data`` (:func:`go_decoded`, of which
    :func:`choice_problems` said nothing) chooses; None for a user that is not there (no user, as in client-go)."""
    name = context or data["current-context"]
    ctx = next((entry["context"] for entry in data["contexts"] if entry["name"] == name), NO_CONTEXT)
    cluster = next(i for i, entry in enumerate(data["clusters"]) if entry["name"] == ctx["cluster"])
    user = next((i for i, entry in enumerate(data.get("users") or []) if entry["name"] == ctx["user"]), None)
    return cluster, user


INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")
"""An exec plugin's interactiveMode values client-go takes; it must be set, except that clientcmd/api/v1's
SetDefaults_ExecConfig gives IfAvailable to an unset one of :data:`DEFAULTED_MODE_VERSIONS` (not to v1's)."""

EXEC_VERSION = "client.authentication.k8s.io/"
DEFAULTED_MODE_VERSIONS = (f"{EXEC_VERSION}v1beta1", f"{EXEC_VERSION}v1alpha1")
EXEC_VERSIONS = (f"{EXEC_VERSION}v1", f"{EXEC_VERSION}v1beta1")
"""The exec plugin apiVersions client-go's exec authenticator takes (its others: "exec plugin: invalid apiVersion";
v1alpha1 was dropped in 1.24)."""


CLIENT_CERTIFICATE_KEYS = ("client-certificate", "client-certificate-data")


def has_client_certificate(user: dict[str, Any]) -> bool:
    """Whether a kubeconfig user gives a client certificate (client-go looks at a client key only beside one)."""
    return any(user.get(key) for key in CLIENT_CERTIFICATE_KEYS)


def usable_problems(data: dict[str, Any], context: str | None) -> list[tuple[str, str]]:
    """What client-go refuses in the chosen cluster and user of ``data`` besides their files, by field path: a file
    name with a NUL, a removed auth-provider (:data:`REMOVED_AUTH_PROVIDERS`; neither is refused in a cluster or
    user no context chooses), and what clientcmd's ConfirmUsable refuses: a -data field and its file both set, a
    client certificate without its key, a token with a username or password, impersonation details without a
    user to impersonate, and an exec plugin without a command or apiVersion, with an auth-provider, a nameless env
    variable or an interactiveMode missing or unknown (validateClusterInfo, validateAuthInfo); then an exec
    apiVersion client-go's authenticator does not take. kube-proxy refuses the kubeconfig for each; the Python
    client took some and failed on others in its own words ("Expected key name in .../exec/env/0")."""
    cluster_at, user_at = chosen(data, context)
    cluster, cluster_path = data["clusters"][cluster_at]["cluster"], f"clusters[{cluster_at}].cluster"
    found = _nul_in_paths(cluster, _CLUSTER, cluster_path) + _both(cluster, cluster_path, "certificate-authority")
    if user_at is None:
        return found
    user, at = data["users"][user_at]["user"], f"users[{user_at}].user"
    found += _nul_in_paths(user, _USER, at) + _removed_provider(user, at)
    if has_client_certificate(user):
        found += _both(user, at, "client-certificate") + _both(user, at, "client-key")
        if not (user.get("client-key") or user.get("client-key-data")):
            found.append((at, "a client certificate without its key, which client-go refuses; expected client-key "
                              "or client-key-data beside it"))
    if user.get("token") and (user.get("username") or user.get("password")):
        found.append((at, "token and username/password both set, which client-go refuses (more than one "
                          "authentication method); expected one of them"))
    if not user.get("as") and any(user.get(k) for k in ("as-uid", "as-groups", "as-user-extra")):
        found.append((f"{at}.as", "missing or empty beside as-uid, as-groups or as-user-extra, which client-go "
                                  "refuses; expected the user to impersonate"))
    return found + _exec_problems(user, at) or _exec_version_problem(user, at)


def _both(entry: dict[str, Any], at: str, key: str) -> list[tuple[str, str]]:
    if entry.get(key) and entry.get(f"{key}-data"):
        return [(f"{at}.{key}-data", f"{key} and {key}-data both set, which client-go refuses; expected one of them")]
    return []


def _exec_problems(user: dict[str, Any], at: str) -> list[tuple[str, str]]:
    plugin = user.get("exec")
    if plugin is None:
        return []
    found = [(f"{at}.auth-provider", "set beside exec, which client-go refuses; expected one of them")] \
        if user.get("auth-provider") is not None else []
    for key, what in (("command", "the credential plugin's command"), ("apiVersion", "its API version, as "
                      "client.authentication.k8s.io/v1")):
        if not plugin.get(key):
            found.append((f"{at}.exec.{key}", f"missing or empty, which client-go refuses; expected {what}"))
    found += [(f"{at}.exec.env[{i}].name", "missing or empty, which client-go refuses; expected the variable's name")
              for i, variable in enumerate(plugin.get("env") or []) if not variable.get("name")]
    modes = f"{', '.join(INTERACTIVE_MODES[:-1])} or {INTERACTIVE_MODES[-1]}"
    mode = plugin.get("interactiveMode")
    if mode and mode not in INTERACTIVE_MODES:
        found.append((f"{at}.exec.interactiveMode", f"{quoted(mode)} is no mode client-go knows; expected {modes}"))
    elif not mode and plugin.get("apiVersion") not in DEFAULTED_MODE_VERSIONS:
        found.append((f"{at}.exec.interactiveMode", f"missing or empty, which client-go refuses (interactiveMode must "
                                                    f"be specified: it gives IfAvailable only to a "
                                                    f"{DEFAULTED_MODE_VERSIONS[0]} plugin); expected {modes}"))
    return found


def _exec_version_problem(user: dict[str, Any], at: str) -> list[tuple[str, str]]:
    """The exec plugin's apiVersion when client-go's exec authenticator does not take it, which it says only when
    ConfirmUsable found nothing (the authenticator is built after)."""
    version = (user.get("exec") or {}).get("apiVersion")
    if not version or version in EXEC_VERSIONS:
        return []
    return [(f"{at}.exec.apiVersion", f"{quoted(version)} is refused by client-go (exec plugin: invalid apiVersion); "
                                      f"expected {EXEC_VERSIONS[0]} or {EXEC_VERSIONS[1]}")]
