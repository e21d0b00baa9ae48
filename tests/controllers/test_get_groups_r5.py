"""``get`` over several kinds as kubectl 1.33 prints it (reviewer r5: get svc,pods, get pod/X svc/web, get all,
--show-labels, --no-headers): each kind's own table, a blank line between two unless --no-headers, the kind
before each name when several types were asked for (cli-runtime MultipleTypesRequested) or found, LABELS last,
and a missing name as the API server's NotFound."""

from __future__ import annotations

import pytest

from kubeproxy_sim.controllers.kubectl_get import Group, multiple_types_requested, printed_groups

SVC = Group("services", {"web": ["web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "5s"]},
            {"web": (("app", "web"),)})
PODS = Group("pods", {"web-1": ["web-1", "1/1", "Running", "0", "5s"]}, {"web-1": (("app", "web"), ("tier", "a"))})


@pytest.mark.parametrize(("words", "expected"), [
    (["svc"], False), (["svc", "web"], False), (["svc,pods"], True), (["svc,svc"], False), (["all"], True),
    (["pod/a", "svc/web"], True), (["svc/a", "svc/b"], False), (["svc/a", "service/b"], True),
])
def test_multiple_types_requested(words: list[str], expected: bool) -> None:
    assert multiple_types_requested(words) is expected


def test_two_kinds_each_in_its_table_with_the_kind_before_the_name() -> None:
    lines, missing = printed_groups([SVC, PODS], "", "default", with_kind=True)
    assert lines == ["NAME          TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE",
                     "service/web   ClusterIP   10.96.0.10   <none>        80/TCP    5s",
                     "",
                     "NAME        READY   STATUS    RESTARTS   AGE",
                     "pod/web-1   1/1     Running   0          5s"]
    assert missing == []


def test_no_headers_drop_the_header_and_the_blank_line_and_show_labels_adds_labels() -> None:
    lines, _ = printed_groups([SVC, PODS], "", "default", with_kind=True, no_headers=True, show_labels=True)
    assert lines == ["service/web   ClusterIP   10.96.0.10   <none>   80/TCP   5s    app=web",  # (6 wide at least)
                     "pod/web-1   1/1   Running   0     5s    app=web,tier=a"]
    lines, _ = printed_groups([SVC], "", "default", with_kind=False, show_labels=True)
    assert lines == ["NAME   TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE   LABELS",
                     "web    ClusterIP   10.96.0.10   <none>        80/TCP    5s    app=web"]


def test_an_empty_kind_prints_nothing_and_nothing_found_says_so() -> None:
    empty = Group("deployments", {}, {})
    lines, _ = printed_groups([empty, SVC], "", "default", with_kind=True)
    assert lines[0].startswith("NAME          TYPE")
    assert printed_groups([empty], "", "shop", with_kind=True) == (["No resources found in shop namespace."], [])


def test_a_missing_name_is_not_found_in_the_api_servers_words() -> None:
    lines, missing = printed_groups([Group("pods", PODS.rows, PODS.labels, ("web-1",)),
                                     Group("services", SVC.rows, SVC.labels, ("x",))], "name", "default",
                                    with_kind=True)
    assert lines == ["pod/web-1"]
    assert missing == ['Error from server (NotFound): services "x" not found']
