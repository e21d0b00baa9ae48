"""A ``--to`` of none of a command's forms is a usage error (2) whose message lists the forms that command takes:
send's Service names take a port's name (``web.default:http``), netns send's take a number only, dist's and
diff's ports are optional and may be names. Each message is pinned whole, so a form one command takes and
another does not is said of the right one (send's said "a port 1-65535" where a port's name would do)."""

from __future__ import annotations

import json

import pytest

from kubeproxy_sim.cli.main import main
from tests.cli._usage_pointer import without_pointer

_FORMS = ("IP:PORT, NAME:PORT (by the client's DNS search list), NAME.NAMESPACE:PORT, "
          "NAME.NAMESPACE.svc.cluster.local:PORT, a pod's or an endpoint's DNS name:PORT or node/NAME:NODEPORT")
SEND = f"expected {_FORMS}, PORT a number 1-65535 or, after a Service's name, a port's name (NAME.NAMESPACE:http)"
NETNS_SEND = f"expected {_FORMS}, PORT a number 1-65535 (not a port's name)"
DIST = ("expected IP[:PORT], NAME.NS[:PORT], NAME.NS.svc.cluster.local[:PORT], NAME[:PORT] (namespace default), "
        "NS/NAME[:PORT] or node/NAME:NODEPORT, PORT a number or a port's name")


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("to", "why"), [
    ("kubernetes-bootcamp.default", ""),  # no port at all: the case that said a number was needed
    ("web.default:", ""),
    ("web.default:HTTP", ""),  # a port's name is lower case (IANA_SVC_NAME)
    ("default/web:http", "a Service is NAME.NAMESPACE here (web.default:http; NS/NAME is dist's form); "),
    ("Node/node1:http", "a node is node/NAME, 'node/' in lower case (not 'Node/'); "),
    ("10.0.0.1:http", "a port name needs a Service's DNS name (NAME.NS:PORTNAME, read from the Service); an "
                      "address or a node takes a number; "),
])
def test_send_names_its_forms_port_names_included(capsys: pytest.CaptureFixture[str], to: str, why: str) -> None:
    """The value is quoted as given: a port's name was swapped for port 1 before the shape was checked, so
    ``default/web:http`` was answered as 'default/web:1' (web.default:1)."""
    code, err = _error(["send", "--scenario", "bootcamp", "--from", "external", "--to", to], capsys)
    assert (code, without_pointer(err, "send")) == (2, f"kubeproxy-sim: --to: {to!r}: {why}{SEND}\n")


@pytest.mark.parametrize(("to", "why"), [
    ("kubernetes-bootcamp.default", ""),
    ("kubernetes-bootcamp.default:", ""),
    ("web.shop:http", ""),  # send's form, not netns send's
    ("default/web:80", "a Service is NAME.NAMESPACE here (web.default:80; NS/NAME is dist's form); "),
])
def test_netns_send_names_its_forms_a_port_number_only(capsys: pytest.CaptureFixture[str], to: str, why: str) -> None:
    """Checked before the cluster is looked up: there is no cluster of that name here."""
    code, err = _error(["netns", "send", "nosuch-cluster", "--from", "external", "--to", to], capsys)
    assert (code, without_pointer(err, "netns send")) == (2, f"kubeproxy-sim: --to: {to!r}: {why}{NETNS_SEND}\n")


@pytest.mark.parametrize("command", [["dist"], ["diff", "--against-scenario", "bootcamp"]])
@pytest.mark.parametrize(("to", "why"), [
    ("a.b.c", "not an address, a service name or a node"),
    ("kubernetes-bootcamp.default:", "no port after ':'"),  # (was invalid input: 'has no port  (ports: ...)')
    ("default/kubernetes-bootcamp:", "no port after ':'"),
    ("10.96.0.10:", "no port after ':'"),
    ("node/node1:http", "a node destination needs a NodePort number"),
])
def test_dist_and_diff_name_their_forms_optional_ports_and_port_names(
        capsys: pytest.CaptureFixture[str], command: list[str], to: str, why: str) -> None:
    code, err = _error([command[0], "--scenario", "bootcamp", *command[1:], "--to", to], capsys)
    assert (code, without_pointer(err, command[0])) == (2, f"kubeproxy-sim: --to: {to!r}: {why}; {DIST}\n")


@pytest.mark.parametrize("to", ["10.96.0.10", "10.96.0.10:http", "192.168.0.11:http"])
def test_dist_takes_an_address_without_a_port_or_with_a_port_s_name(
        capsys: pytest.CaptureFixture[str], to: str) -> None:
    """What DIST says dist takes: the cluster IP (or a node's address, its NodePort) alone, or with the port's
    name, selects default/web:http, the one port there."""
    code = main(["dist", "--scenario", "named-target-ports", "--to", to, "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert [s["name"] for s in json.loads(out)["services"]] == ["default/web:http"]
