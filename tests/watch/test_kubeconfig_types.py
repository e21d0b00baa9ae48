"""watch --kubeconfig: a field of the wrong type, a ``-data`` field that is not base64, and (in the chosen cluster or
user) a file name with a NUL or a removed auth-provider plugin are said by their field path, as client-go refuses them
(fuzzed, session 19: the Python client went on and said "cannot use this kubeconfig: 'int' object is not
subscriptable", "... 'NoneType' object has no attribute 'token'" or "... embedded null byte", naming no field)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproxy_sim.errors import InputError

pytest.importorskip("kubernetes")

KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- {{name: c, cluster: {{server: "https://127.0.0.1:1", {cluster}}}}}
contexts:
- {{name: x, context: {{cluster: c, user: u}}}}
current-context: x
users:
- {{name: u, user: {{{user}}}}}
"""


def _problems(tmp_path: Path, *, cluster: str = "insecure-skip-tls-verify: true", user: str = "token: t") -> list[str]:
    from kubeproxy_sim.watch.apiserver import connect

    path = tmp_path / "kc.yaml"
    path.write_text(KUBECONFIG.format(cluster=cluster, user=user))
    with pytest.raises(InputError) as caught:
        connect(str(path))
    return [str(d).replace(str(path), "kc.yaml") for d in caught.value.diagnostics]


@pytest.mark.parametrize(("cluster", "user", "expected"), [
    ("insecure-skip-tls-verify: 'yes'", "token: t",
     ['clusters[0].cluster.insecure-skip-tls-verify: expected a boolean (true or false), got a string "yes"']),
    ("certificate-authority: 5", "token: [t]",
     ["clusters[0].cluster.certificate-authority: expected a string, got an integer 5",
      'users[0].user.token: expected a string, got a list ["t"]']),
    ("certificate-authority-data: '!!!'", "exec: {command: x, args: a}",
     ["clusters[0].cluster.certificate-authority-data: not base64 (illegal base64 data at input byte 0); expected "
      "the PEM data base64-encoded, as `kubectl config view --raw` prints it",
      'users[0].user.exec.args: expected a list, got a string "a"']),
    ("certificate-authority: \"a\\0b\"", "token: t",
     ['clusters[0].cluster.certificate-authority: a string "a\\x00b" holds a NUL character, which no file name can; '
      "expected a file name"]),
    ("disable-compression: false", "auth-provider: {name: gcp}",
     ["users[0].user.auth-provider.name: the gcp auth plugin was removed from client-go and kubectl (1.26); "
      "expected the gke-gcloud-auth-plugin exec credential plugin (users[0].user.exec)"]),
    ("disable-compression: false", "auth-provider: {name: oidc, config: {id-token: 5}}",
     ["users[0].user.auth-provider.config.id-token: expected a string, got an integer 5"]),
])
def test_a_field_client_go_would_not_decode_is_named_by_its_path(tmp_path: Path, cluster: str, user: str,
                                                                 expected: list[str]) -> None:
    assert _problems(tmp_path, cluster=cluster, user=user) == [f"kc.yaml: {e}" for e in expected]


@pytest.mark.parametrize("stale", [
    "auth-provider: {name: gcp, config: {access-token: ya29.old}}",
    'client-certificate: "/tmp/a\\0b", client-key: /tmp/k',
    'exec: {command: "a\\0b", apiVersion: client.authentication.k8s.io/v1beta1}',
])
def test_a_removed_auth_provider_or_a_nul_in_a_user_no_context_chooses_is_no_matter(tmp_path: Path,
                                                                                     stale: str) -> None:
    """Review r8 (kubectl 1.27 to 1.33 the oracle): a stale GKE user (auth-provider gcp) or one naming a file with a
    NUL beside the chosen kind user connects, as client-go looks only at the user its context chooses; both were
    refused file-wide."""
    text = KUBECONFIG.format(cluster="insecure-skip-tls-verify: true", user="token: t")
    assert _connected_or_said(tmp_path, f"{text}- {{name: old, user: {{{stale}}}}}\n") == []


def test_a_list_entry_of_the_wrong_type_is_named_and_the_others_still_checked(tmp_path: Path) -> None:
    from kubeproxy_sim.watch.apiserver import connect

    path = tmp_path / "kc.yaml"
    text = KUBECONFIG.format(cluster="disable-compression: false", user="token: t")
    path.write_text(text.replace("users:\n", "users:\n- 7\n"))
    with pytest.raises(InputError) as caught:
        connect(str(path))
    assert [d.field for d in caught.value.diagnostics] == ["users[0]"]


def test_a_number_json_cannot_hold_is_refused_wherever_it_is(tmp_path: Path) -> None:
    """client-go turns the whole kubeconfig into JSON before it decodes it (sigs.k8s.io/yaml), and JSON has no
    .inf or .nan: the file is refused ("json: unsupported value: +Inf") even where the value sits in an extension
    or a field client-go does not know, which the types' check took (a key .inf is made a string: no problem)."""
    from kubeproxy_sim.watch.apiserver import connect

    path = tmp_path / "kc.yaml"
    text = KUBECONFIG.format(cluster="extensions: [{name: e, extension: {a: [1, .NaN]}}]", user="token: t")
    path.write_text(f"{text}unknown: -.inf\n.inf: 1\n")
    with pytest.raises(InputError) as caught:
        connect(str(path))
    expected = "is a number JSON cannot hold, and client-go reads a kubeconfig as JSON (it refuses the file: json: " \
               "unsupported value); expected a finite number, or a string in quotes"
    assert [str(d).replace(str(path), "kc.yaml") for d in caught.value.diagnostics] == [
        f"kc.yaml: clusters[0].cluster.extensions[0].extension.a[1]: .NaN {expected}",
        f"kc.yaml: unknown: -.inf {expected}"]


def _connected_or_said(tmp_path: Path, text: str, context: str | None = None) -> list[str]:
    from kubeproxy_sim.watch.apiserver import connect

    path = tmp_path / "kc.yaml"
    path.write_text(text)
    try:
        connect(str(path), context)
    except InputError as exc:
        return [str(d).replace(str(path), "kc.yaml") for d in exc.diagnostics]
    return []


PLAIN = KUBECONFIG.format(cluster="insecure-skip-tls-verify: true", user="token: t")
NO_CONTEXT = 'expected the name of one of its contexts: "x"'


@pytest.mark.parametrize(("old", "new"), [
    ("contexts:\n", "contexts:\n- null\n"),
    ("clusters:\n", "clusters:\n- null\n"),
    ("users:\n", "users:\n- null\n- {name: v}\n"),
    ("user: {token: t}", "user: null"),
    ("current-context: x\n", ""),  # (with the nameless context below: Go's name "" is current-context's zero value)
])
def test_a_null_entry_or_field_is_go_s_zero_value_and_the_rest_still_used(tmp_path: Path, old: str,
                                                                         new: str) -> None:
    """Fuzzing (session 19): contexts: [null] ended in "cannot use this kubeconfig: argument of type 'NoneType' is
    not iterable" (users: [null], clusters: [null] alike), user: null in "Expected key user". Go's decoder makes a
    null list item an entry named "" and a null field its zero value, and clientcmd goes on with what is chosen."""
    text = PLAIN.replace(old, new)
    if not new:
        text = text.replace("contexts:\n", "contexts:\n- {context: {cluster: c, user: u}}\n")
    assert _connected_or_said(tmp_path, text) == []


@pytest.mark.parametrize(("old", "new", "context", "expected"), [
    ("contexts:\n", "contexts:\n- null\n- {}\n", None,
     'contexts[1].name: "" is the name of contexts[0] too, which client-go refuses (a null entry, or one without a '
     'name, is named "" there); expected each name once'),
    ("- {name: u,", "- {name: u, user: {}}\n- {name: u,", None,
     'users[1].name: "u" is the name of users[0] too, which client-go refuses; expected each name once'),
    ("insecure-skip-tls-verify: true", "extensions: [{name: e, extension: 1}, {name: e}]", None,
     'clusters[0].cluster.extensions[1].name: "e" is the name of clusters[0].cluster.extensions[0] too, which '
     "client-go refuses; expected each name once"),
    ("current-context: x", 'current-context: ""', None,
     'current-context: empty: the kubeconfig chooses no context, and no cluster is named "", so client-go finds no '
     f"server (no configuration has been provided); {NO_CONTEXT}"),
    ("current-context: x", "current-context: null", None,
     'current-context: empty: the kubeconfig chooses no context, and no cluster is named "", so client-go finds no '
     f"server (no configuration has been provided); {NO_CONTEXT}"),
    ("current-context: x", "current-context: z", None,
     f'current-context: "z" names no context of the kubeconfig; {NO_CONTEXT}'),
    ("current-context: x", "current-context: x", "nosuch",
     f'--context: "nosuch" names no context of the kubeconfig; {NO_CONTEXT}'),
    ("context: {cluster: c, user: u}", "context: null", None,
     "contexts[0].context.cluster: empty: the context names no cluster, so client-go finds no server (no "
     'configuration has been provided); expected the name of one of its clusters: "c"'),
    ("context: {cluster: c,", "context: {cluster: d,", None,
     'contexts[0].context.cluster: "d" names no cluster of the kubeconfig, so client-go finds no server (no '
     'configuration has been provided); expected the name of one of its clusters: "c"'),
    ('server: "https://127.0.0.1:1"', "server: null", None,
     'clusters[0].cluster.server: missing or empty: client-go finds no server for the cluster "c"; expected '
     "http(s)://HOST[:PORT]"),
])
def test_what_clientcmd_refuses_in_the_chosen_context_is_named_by_its_field(
        tmp_path: Path, old: str, new: str, context: str | None, expected: str) -> None:
    """The client said these in its own words ("Invalid kube-config file. Expected object with name y in
    kube-config/contexts list", "Expected all values in kube-config/contexts list to have 'name' key"), naming no
    field; client-go's conversion (duplicate names) and DirectClientConfig.ClientConfig decided each."""
    assert old in PLAIN
    assert _connected_or_said(tmp_path, PLAIN.replace(old, new), context) == [f"kc.yaml: {expected}"]


@pytest.mark.parametrize(("cluster", "user", "expected"), [
    ("certificate-authority: ca.crt", "token: t",
     ['clusters[0].cluster.certificate-authority: "ca.crt": cannot read it: No such file or directory; expected the '
      "PEM certificate of the cluster's certificate authority"]),
    ("insecure-skip-tls-verify: true", "{client-certificate: /, client-key: key.pem}",
     ['users[0].user.client-certificate: "/": cannot read it: Is a directory; expected the user\'s PEM client '
      "certificate",
      'users[0].user.client-key: "key.pem": cannot read it: No such file or directory; expected the user\'s PEM '
      "client key"]),
    ("insecure-skip-tls-verify: true", "tokenFile: token",
     ['users[0].user.tokenFile: "token": cannot read it: No such file or directory; expected a file holding the '
      "user's bearer token"]),
    ("insecure-skip-tls-verify: true",
     "{exec: {command: no-such-plugin, apiVersion: client.authentication.k8s.io/v1beta1, "
     "installHint: \"get\\n\\n  it\"}}",  # (a hint of several lines is said on one)
     ['users[0].user.exec.command: "no-such-plugin": executable not found (looked up in PATH); expected the '
      "credential plugin's command (get it)"]),
])
def test_a_file_the_chosen_cluster_or_user_names_that_cannot_be_read_is_named_by_its_field(
        tmp_path: Path, cluster: str, user: str, expected: list[str]) -> None:
    """Fuzzing (session 19): the client said "cannot use this kubeconfig: File does not exist: ca.crt", "[Errno 2]
    No such file or directory: 'token'" or "cannot get the kubeconfig's credentials: [Errno 2] ...", naming no
    field; client-go's ConfirmUsable refuses a certificate or key it cannot open, its token reading and its exec
    plugin fail alike. Relative paths are taken from the kubeconfig's directory (tmp_path, where none is)."""
    text = KUBECONFIG.format(cluster=cluster, user=user).replace("user: {{", "user: {").replace("}}}", "}}")
    assert _connected_or_said(tmp_path, text) == [f"kc.yaml: {e}" for e in expected]


def test_an_exec_plugin_not_installed_is_no_matter_for_an_http_server(tmp_path: Path) -> None:
    """Review r8 (kubectl 1.33 the oracle): client-go merges the user's credentials only for an https server
    (IsConfigTransportTLS), so for http:// it never runs the exec plugin and connects; it was refused here
    ("executable not found"), and the Python client ran the plugin."""
    text = PLAIN.replace("https://", "http://").replace(
        "token: t", "exec: {command: no-such-plugin, apiVersion: client.authentication.k8s.io/v1beta1}")
    assert _connected_or_said(tmp_path, text) == []


@pytest.mark.parametrize(("user", "expected"), [
    ("exec: {command: 'true', apiVersion: client.authentication.k8s.io/v1beta1}, auth-provider: {name: oidc}",
     ["users[0].user.auth-provider: set beside exec, which client-go refuses; expected one of them"]),
    ("client-certificate: c.pem, client-certificate-data: Y2VydA==, client-key-data: a2V5",
     ["users[0].user.client-certificate-data: client-certificate and client-certificate-data both set, which "
      "client-go refuses; expected one of them"]),
    ("client-certificate-data: Y2VydA==, client-key: k.pem, client-key-data: a2V5",
     ["users[0].user.client-key-data: client-key and client-key-data both set, which client-go refuses; expected "
      "one of them"]),
])
def test_each_of_two_ways_set_together_is_refused_alone(tmp_path: Path, user: str, expected: list[str]) -> None:
    """Review r8: these checks were asserted only as the first of several messages (or not at all); each is the
    whole refusal here (the file names are not read: ConfirmUsable's refusal comes first)."""
    assert _connected_or_said(tmp_path, PLAIN.replace("token: t", user)) == [f"kc.yaml: {e}" for e in expected]


@pytest.mark.parametrize("key", ["client-key: k.pem", "client-key: k.pem, client-key-data: a2V5"])
def test_a_client_key_without_a_client_certificate_is_not_looked_at(tmp_path: Path, key: str) -> None:
    """Review r8: client-go looks at a client key only beside a client certificate (ConfirmUsable, the TLS
    config), so a key file not there, or a key given twice, is no matter alone; both were refused here."""
    assert _connected_or_said(tmp_path, PLAIN.replace("token: t", f"token: t, {key}")) == []


@pytest.mark.parametrize(("extensions", "refused"), [
    ("[{name: e}, {name: e}]", False), ("[null, null]", False), ("[{name: e}, {name: e, extension: 1}]", False),
    ("[{name: e, extension: 1}, {name: e}]", True), ("[{name: e, extension: {}}, {name: e, extension: ''}]", True),
])
def test_an_extension_without_a_value_takes_no_name(tmp_path: Path, extensions: str, refused: bool) -> None:
    """Review r8, kubectl 1.33 the oracle: an extension whose ``extension`` is null or missing is not kept by
    client-go's conversion, so a later one may have its name (it was refused as a name twice)."""
    said = _connected_or_said(tmp_path, PLAIN.replace("insecure-skip-tls-verify: true", f"extensions: {extensions}"))
    assert said == (['kc.yaml: clusters[0].cluster.extensions[1].name: "e" is the name of '
                     "clusters[0].cluster.extensions[0] too, which client-go refuses; expected each name once"]
                    if refused else [])


def test_no_context_at_all_takes_the_nameless_cluster_and_user(tmp_path: Path) -> None:
    """Review r8 (kubectl 1.33 the oracle): with current-context unset and no context named "", client-go takes an
    empty context, so the cluster and the user named "" (it connects); this refused the file."""
    text = PLAIN.replace("current-context: x\n", "").replace("name: c,", "name: '',").replace("name: u,", "name: '',")
    assert "current-context" not in text and text.count("name: '',") == 2
    assert _connected_or_said(tmp_path, text) == []


def test_a_token_beside_a_token_file_is_used_without_reading_the_file(tmp_path: Path) -> None:
    assert _connected_or_said(tmp_path, PLAIN.replace("token: t", "token: t, tokenFile: nowhere")) == []


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("insecure-skip-tls-verify: true", "certificate-authority: a, certificate-authority-data: Y2VydA==",
     "clusters[0].cluster.certificate-authority-data: certificate-authority and certificate-authority-data both "
     "set, which client-go refuses; expected one of them"),
    ("token: t", "client-certificate-data: Y2VydA==",
     "users[0].user: a client certificate without its key, which client-go refuses; expected client-key or "
     "client-key-data beside it"),
    ("token: t", "token: t, username: a",
     "users[0].user: token and username/password both set, which client-go refuses (more than one authentication "
     "method); expected one of them"),
    ("token: t", "as-groups: [g]",
     "users[0].user.as: missing or empty beside as-uid, as-groups or as-user-extra, which client-go refuses; "
     "expected the user to impersonate"),
    ("token: t", "exec: {command: 'true', env: [null]}",
     "users[0].user.exec.apiVersion: missing or empty, which client-go refuses; expected its API version, as "
     "client.authentication.k8s.io/v1"),
    ("token: t", "exec: {command: 'true', apiVersion: v1, env: [{value: x}], interactiveMode: Sometimes}",
     "users[0].user.exec.env[0].name: missing or empty, which client-go refuses; expected the variable's name"),
])
def test_what_confirm_usable_refuses_in_the_chosen_user_or_cluster_is_named_by_its_field(
        tmp_path: Path, old: str, new: str, expected: str) -> None:
    """clientcmd's ConfirmUsable (validateClusterInfo, validateAuthInfo) refuses each; the client took some and
    said others in its own words ("Expected key name in kube-config/users[name=u]/user/exec/env/0")."""
    assert old in PLAIN
    said = _connected_or_said(tmp_path, PLAIN.replace(old, new))
    assert said[0] == f"kc.yaml: {expected}"


MODES = "expected Never, IfAvailable or Always"


@pytest.mark.parametrize(("plugin", "expected"), [
    ("apiVersion: client.authentication.k8s.io/v1",
     ["users[0].user.exec.interactiveMode: missing or empty, which client-go refuses (interactiveMode must be "
      f"specified: it gives IfAvailable only to a client.authentication.k8s.io/v1beta1 plugin); {MODES}"]),
    ("apiVersion: client.authentication.k8s.io/v1, interactiveMode: Sometimes",
     [f'users[0].user.exec.interactiveMode: "Sometimes" is no mode client-go knows; {MODES}']),
    ("apiVersion: client.authentication.k8s.io/v1alpha1",
     ['users[0].user.exec.apiVersion: "client.authentication.k8s.io/v1alpha1" is refused by client-go (exec plugin: '
      "invalid apiVersion); expected client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1"]),
    ("apiVersion: foo/v9",
     ["users[0].user.exec.interactiveMode: missing or empty, which client-go refuses (interactiveMode must be "
      f"specified: it gives IfAvailable only to a client.authentication.k8s.io/v1beta1 plugin); {MODES}"]),
    ("apiVersion: foo/v9, interactiveMode: Never",
     ['users[0].user.exec.apiVersion: "foo/v9" is refused by client-go (exec plugin: invalid apiVersion); expected '
      "client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1"]),
])
def test_an_exec_plugin_s_api_version_and_interactive_mode_are_judged_as_client_go_does(
        tmp_path: Path, plugin: str, expected: list[str]) -> None:
    """Review r8 (kubectl 1.33 the oracle): a v1 plugin without interactiveMode is refused ("interactiveMode must
    be specified for u to use exec authentication plugin": SetDefaults_ExecConfig defaults only v1beta1 and
    v1alpha1), and an apiVersion other than v1 and v1beta1 is refused after ConfirmUsable ("exec plugin: invalid
    apiVersion"); both connected here."""
    text = PLAIN.replace("token: t", f"exec: {{command: 'true', {plugin}}}")
    assert _connected_or_said(tmp_path, text) == [f"kc.yaml: {e}" for e in expected]


@pytest.mark.parametrize(("data", "offset"), [
    ("Y2VydA==", None), ("Y2Vy\ndA==\n", None), ("YWI=", None), ("", None),
    ("Y2VydA", 4), ("Y2VydA=", 7), ("Y2VydA==x", 8), ("ab=c", 2), ("a===", 1), ("Y2V\u00e9", 3),
])
def test_base64_is_judged_as_go_decodes_a_byte_field(data: str, offset: int | None) -> None:
    """The re-fuzz of session 19 found Python's words ("Incorrect padding", "number of data characters (5) cannot
    be 1 more than a multiple of 4"); encoding/json decodes a []byte field with base64.StdEncoding, whose error
    says the byte offset where it stopped (decodeQuantum: an incomplete quantum at its start, a "=" too early at
    itself, a missing second "=" at the end)."""
    from kubeproxy_sim.watch.kubeconfig_types import go_base64_error

    assert go_base64_error(data) == offset


def test_an_oidc_user_without_an_id_token_is_refreshed_as_client_go_refreshes_it(tmp_path: Path,
                                                                                   monkeypatch) -> None:
    """client-go's oidc idToken refreshes when the config has no id-token (``ok && len(idToken) > 0``). The
    watch refused such a user at start (the Python client needed an id-token: "Expected key id-token", found by the
    re-fuzz of session 19); with client-go's exchange of its own (watch/oidc) it refreshes it as kubectl does."""
    from kubeproxy_sim.watch import oidc

    asked: list[dict[str, str]] = []

    def refreshed(config: dict[str, str], _idp: object = None) -> dict[str, str]:
        asked.append(dict(config))
        return {**config, "id-token": "h.p.s"}

    monkeypatch.setattr(oidc, "refreshed_config", refreshed)
    text = PLAIN.replace("token: t", "auth-provider: {name: oidc, config: {client-id: k, refresh-token: r, "
                                     "idp-issuer-url: 'https://idp.invalid'}}")
    assert _connected_or_said(tmp_path, text) == []
    assert asked == [{"client-id": "k", "refresh-token": "r", "idp-issuer-url": "https://idp.invalid"}]
    assert "id-token: h.p.s" in (tmp_path / "kc.yaml").read_text()


@pytest.mark.parametrize("empty", ["certificate-authority: ''", "certificate-authority-data: ''",
                                   "proxy-url: ''", "tls-server-name: ''"])
def test_an_empty_string_field_is_unset_as_in_client_go(tmp_path: Path, empty: str) -> None:
    """The re-fuzz of session 19: client-key: '' (certificate-authority: '' alike) said "cannot use this
    kubeconfig: File does not exist: DIR", the client taking the kubeconfig's directory for the file; client-go
    takes a field of its zero value for unset."""
    text = PLAIN.replace("insecure-skip-tls-verify: true", f"insecure-skip-tls-verify: true, {empty}")
    assert _connected_or_said(tmp_path, text.replace("token: t", "token: t, client-key: ''")) == []


def test_an_exec_plugin_whose_output_is_no_json_is_said_without_python_s_json_error(tmp_path: Path) -> None:
    """The re-fuzz of session 19 (exec command true): "cannot get the kubeconfig's credentials: exec: failed to
    decode process output: Expecting value: line 1 column 1 (char 0)", naming no field."""
    text = PLAIN.replace("token: t", "exec: {command: 'true', apiVersion: client.authentication.k8s.io/v1, "
                                         "interactiveMode: Never}")
    assert _connected_or_said(tmp_path, text) == [
        "kc.yaml: users[0].user.exec: cannot get the kubeconfig's credentials: exec: the plugin's output is not "
        "JSON; expected an ExecCredential on its stdout"]


@pytest.mark.parametrize("users", ["", "users: null\n", "users: []\n"])
def test_a_file_without_users_is_a_kubeconfig_whose_context_chooses_none(tmp_path: Path, users: str) -> None:
    """kubectl 1.33 (the oracle) connects with a kubeconfig that has no users key (its context names no user);
    the watch said "cannot use this kubeconfig: 'users'" (found while testing session 21's dial failures)."""
    text = ("apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters:\n- {name: k, cluster: {server: "
            "'http://127.0.0.1:1'}}\ncontexts:\n- {name: x, context: {cluster: k}}\n" + users)
    assert _connected_or_said(tmp_path, text) == []
