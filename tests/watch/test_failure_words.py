"""watch --kubeconfig: a failed request is told in words, never by a Python class's name (the fuzzer's finding F3:
"list failed: LocationParseError: Failed to parse: Name '\\u200b' is not a valid IDNA label")."""

from __future__ import annotations

import http.client
import socket
import threading
from pathlib import Path

import pytest

from kubeproxy_sim.watch.apiserver import classify

pytest.importorskip("kubernetes")


def test_an_exception_of_no_kind_known_is_told_by_its_words() -> None:
    """classify's last resort said "RuntimeError: something odd" and, for an exception without words, its class."""
    assert classify(RuntimeError("something odd\nmore"), "k8s:6443").text == \
        "the request to k8s:6443 failed: something odd"
    assert classify(RuntimeError(), "k8s:6443").text == "the request to k8s:6443 failed"


@pytest.mark.parametrize(("cause", "said"), [(ConnectionResetError(), "connection reset"),
                                             (http.client.RemoteDisconnected(""), "remote disconnected")])
def test_a_cause_without_words_is_named_in_words(cause: BaseException, said: str) -> None:
    from urllib3.exceptions import ProtocolError

    assert classify(ProtocolError("Connection aborted.", cause), "k8s:6443").text == \
        f"the connection to k8s:6443 broke ({said})"


def test_a_host_urllib3_cannot_name_fails_for_good_in_words() -> None:
    from urllib3.exceptions import LocationParseError

    failure = classify(LocationParseError("Name '\u0663' is not a valid IDNA label"), "\u0663")
    assert "LocationParseError" not in failure.text and "Failed to parse" not in failure.text
    assert (failure.permanent, failure.server_wide) == (True, True)


def test_a_tunnel_to_a_name_idna_lookup_refuses_is_given_up_at_once(tmp_path: Path) -> None:
    """https://\\u0663 through a proxy-url: Go asks the proxy for "CONNECT \\u0663:443" as written; urllib3 cannot
    build the request, so nothing cures it: a bounded run gives up at the first list, without the class's name."""
    from ._kubeconfigs import given_up, kubeconfig_for

    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    try:
        kubeconfig = tmp_path / "kc"
        proxy = f"http://127.0.0.1:{listener.getsockname()[1]}"
        kubeconfig.write_text(kubeconfig_for("https://\u0663", **{"proxy-url": proxy}))
        sleeps: list[float] = []
        failed = str(given_up(kubeconfig, sleep=sleeps.append))
    finally:
        listener.close()
    assert failed == ("https://\u0663: list failed: cannot send the request for \u0663: the watch's HTTP client "
                      "(urllib3) cannot name that host (Name '\u0663' is not a valid IDNA label), where kubectl names "
                      "it as written")
    assert sleeps == []
