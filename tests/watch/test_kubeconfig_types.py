"""watch --kubeconfig: a field of the wrong type, a ``-data`` field that is not base64, a file name with a NUL and
a removed auth-provider plugin are said by their field path, as client-go refuses them when it decodes the file
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
     ["clusters[0].cluster.certificate-authority-data: not base64 (Only base64 data is allowed); expected the PEM "
      "data base64-encoded, as `kubectl config view --raw` prints it",
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
