"""watch --kubeconfig: a server URL with a user and password (``https://u:secret@host``), as client-go takes it.

Go's http.Client sends Basic auth from the request URL's user before client-go's round trippers run, and these
then leave an Authorization header already set alone: kubectl 1.33 (the oracle) sent ``Authorization: Basic
dTpzZWNyZXQ=`` for ``http://u:secret@127.0.0.1:PORT`` and for https, with and without a user token. Go writes the
URL in an error with the password as ``***`` (net/http's stripPassword). The watch sent nothing from the URL and
said the password in every message (final reader f2 finding 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._kubeconfigs import synced, with_user

pytest.importorskip("kubernetes")


def _with_userinfo(kubeconfig: Path, userinfo: str) -> Path:
    import yaml

    config = yaml.safe_load(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    scheme, _, rest = cluster["server"].partition("://")
    cluster["server"] = f"{scheme}://{userinfo}@{rest}"
    kubeconfig.write_text(yaml.safe_dump(config))
    return kubeconfig


@pytest.mark.parametrize("user", [{}, {"token": "tok"}])
def test_the_url_s_user_is_sent_as_basic_auth_over_https(tls_fake, tmp_path: Path, user: dict[str, str]) -> None:
    kubeconfig = _with_userinfo(with_user(tls_fake, tmp_path / "kc", user, **{"insecure-skip-tls-verify": True}),
                                "u:secret")
    synced(kubeconfig)
    assert set(tls_fake.authorization) == {"Basic dTpzZWNyZXQ="}


def test_the_url_s_user_is_sent_over_http_too_percent_decoded(fake, tmp_path: Path) -> None:
    kubeconfig = _with_userinfo(Path(fake.write_kubeconfig(str(tmp_path / "kc"))), "u%40x:p%3As")
    synced(kubeconfig)
    assert set(fake.authorization) == {"Basic dUB4OnA6cw=="}  # (u@x:p:s)


def test_the_password_is_not_said(dead_server, tmp_path: Path) -> None:
    from kubeproxy_sim.watch.apiserver import ApiServerSource

    kubeconfig, _ = dead_server
    _with_userinfo(Path(kubeconfig), "u:secret")
    src = ApiServerSource(kubeconfig)
    try:
        assert src.host.startswith("http://u:***@") and "secret" not in src.host
    finally:
        src.close()


def test_a_failure_says_no_password(dead_server, tmp_path: Path) -> None:
    from ._kubeconfigs import given_up

    kubeconfig, url = dead_server
    _with_userinfo(Path(kubeconfig), "u:secret")
    said = str(given_up(kubeconfig, sleep=lambda _: None))
    assert "secret" not in said and said.startswith(url.replace("http://", "http://u:***@"))
