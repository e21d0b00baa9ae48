"""watch --kubeconfig: a user's empty ``tokenFile``, refused as the client is built, as client-go refuses it.

clientcmd takes a token file's bytes as the bearer token; with none, client-go's NewBearerAuthWithRefreshRoundTripper
asks its file token source for one as the transport is built, which refuses a file empty once trimmed: kubectl 1.33
(the oracle) said ``error: read empty token from file "..."`` and exited 1 without dialing, an exec plugin beside
the file never run (the file's token set it aside); kube-proxy builds its client at start and stops there. The
watch took the file for no token and synced without an Authorization header (reviewer r3 finding 1).

A file of white space alone is no empty token to clientcmd: the client is built, and its bearer round tripper sends
the bytes as they are while the file token source finds no token there; Go's transport fails each request for a
line break in them, before dialing (kubectl 1.33: ``net/http: invalid header field value for "Authorization"``),
and sends ``Bearer`` and the rest otherwise, ASCII blanks at the ends trimmed. The watch sent ``Bearer`` for both.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproxy_sim.errors import InputError
from kubeproxy_sim.watch.apiserver import ApiServerSource
from kubeproxy_sim.watch.events import Kind

from ._kubeconfigs import noting_plugin, synced, with_user

pytest.importorskip("kubernetes")


@pytest.mark.parametrize("beside", ["nothing", "an exec plugin"])
@pytest.mark.parametrize("written", ["absolute", "relative"])
def test_an_empty_token_file_is_refused_at_start_naming_its_field(
        tls_fake, tmp_path: Path, beside: str, written: str) -> None:
    (tmp_path / "empty.tok").write_text("")
    run, ran = noting_plugin(tmp_path)
    name = str(tmp_path / "empty.tok") if written == "absolute" else "empty.tok"
    user = {"tokenFile": name, **({"exec": run} if beside == "an exec plugin" else {})}
    kubeconfig = with_user(tls_fake, tmp_path / "kc", user, **{"insecure-skip-tls-verify": True})
    with pytest.raises(InputError) as caught:
        ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE])
    assert str(caught.value) == (f'{kubeconfig}: users[0].user.tokenFile: "{name}": the file is empty (client-go: '
                                 '"read empty token from file"); expected a file holding the user\'s bearer token')
    assert (tls_fake.requests, ran.exists()) == ([], False)


def test_an_empty_token_file_beside_a_token_is_not_read(tls_fake, tmp_path: Path) -> None:
    """clientcmd takes the token and reads no file: the token source is asked only at requests, and its failure
    there leaves the token as it is."""
    (tmp_path / "empty.tok").write_text("")
    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"token": "tok", "tokenFile": str(tmp_path / "empty.tok")},
                           **{"insecure-skip-tls-verify": True})
    seen = synced(kubeconfig, sleep=lambda _: None)
    assert (seen.said(), set(tls_fake.authorization)) == ([], {"Bearer tok"})


def test_an_empty_token_file_is_not_read_for_an_http_server(fake, tmp_path: Path) -> None:
    """client-go takes no credentials for an http:// server (IsConfigTransportTLS), the token file among them."""
    from ._kubeconfigs import populate

    populate(fake)
    (tmp_path / "empty.tok").write_text("")
    seen = synced(with_user(fake, tmp_path / "kc", {"tokenFile": str(tmp_path / "empty.tok")}), sleep=lambda _: None)
    assert (seen.said(), set(fake.authorization)) == ([], {None})


def _blank_problem(kubeconfig: Path, name: str) -> str:
    return (f'net/http: invalid header field value for "Authorization" ({kubeconfig}: users[0].user.tokenFile: '
            f'"{name}" holds no token, only white space with a control character such as a line break, which '
            "client-go then sends as the bearer token as it is; expected a file holding the user's bearer token)")


@pytest.mark.parametrize("server", ["up", "not there"])
def test_a_token_file_of_a_line_break_fails_each_request_before_the_dial(
        tls_fake, tmp_path: Path, server: str) -> None:
    from ._kubeconfigs import given_up

    (tmp_path / "blank.tok").write_text(" \n")
    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"tokenFile": str(tmp_path / "blank.tok")},
                           **{"insecure-skip-tls-verify": True})
    if server == "not there":
        tls_fake.stop()
    said = str(given_up(kubeconfig, sleep=lambda _: None))
    assert said == f"https://127.0.0.1:{tls_fake.url.rsplit(':', 1)[1]}: list failed: " + _blank_problem(
        kubeconfig, str(tmp_path / "blank.tok"))
    assert tls_fake.requests == []


def test_a_follower_goes_on_once_a_token_file_of_a_line_break_holds_a_token(tls_fake, tmp_path: Path) -> None:
    """client-go's file token source reads the file at each request until it holds a token (a projected token the
    kubelet writes later); the watch reads the credentials again then."""
    token = tmp_path / "blank.tok"
    token.write_text("\n")
    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"tokenFile": str(token)}, **{"insecure-skip-tls-verify": True})
    seen = synced(kubeconfig, sleep=lambda _: token.write_text("tok\n"))
    assert [str(d).split(": list failed: ", 1)[1] for d in seen.said()] == [
        _blank_problem(kubeconfig, str(token)) + "; retrying from a new list with backoff, until it works"]
    assert set(tls_fake.authorization) == {"Bearer tok"}


@pytest.mark.parametrize(("content", "sent"), [
    ("  ", "Bearer"),
    ("\t \u00a0", "Bearer \t \u00c2\u00a0"),  # (its UTF-8 bytes, which the fake reads as latin-1)
])
def test_a_token_file_of_blanks_without_a_line_break_is_sent_as_go_sends_it(
        tls_fake, tmp_path: Path, content: str, sent: str) -> None:
    """kubectl 1.33 sent these very headers: ``Bearer`` and the bytes, ASCII blanks at the ends trimmed."""
    (tmp_path / "blank.tok").write_text(content)
    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"tokenFile": str(tmp_path / "blank.tok")},
                           **{"insecure-skip-tls-verify": True})
    seen = synced(kubeconfig, sleep=lambda _: None)
    assert (seen.said(), set(tls_fake.authorization)) == ([], {sent})
