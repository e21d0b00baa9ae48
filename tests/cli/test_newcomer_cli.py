"""What a newcomer's first runs of the CLI showed missing: hints where a command's answer was right but said too
little (a Service's address traced on a port it does not define, the node whose rules a trace read) or a mistake
went unexplained."""

from __future__ import annotations

import json

import pytest

from kubeproxy_sim.cli.main import main

BOOTCAMP_IP = ["trace", "--scenario", "bootcamp", "--src", "10.244.0.9", "--dst", "10.96.142.87"]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- trace: a port the Service lacks


def test_trace_of_a_cluster_ip_on_a_port_it_does_not_define_names_the_ports_it_does(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run([*BOOTCAMP_IP, "--dport", "80"], capsys)
    assert code == 0
    assert ("note: 10.96.142.87 is the cluster IP of default/kubernetes-bootcamp, which defines 8080/TCP; no rule "
            "matches 80/TCP, so the packet leaves the tables untranslated\n") in out
    code, out, _ = _run([*BOOTCAMP_IP, "--dport", "80", "-o", "json"], capsys)
    assert json.loads(out)["notes"] == [
        "10.96.142.87 is the cluster IP of default/kubernetes-bootcamp, which defines 8080/TCP; no rule matches "
        "80/TCP, so the packet leaves the tables untranslated"]


def test_trace_s_note_reads_only_the_services_owning_the_address(monkeypatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Review R3: the note built every service port of the cluster on each trace (0.23 s at 10,000 Services); it
    builds those of the Services that own the address only."""
    from kubeproxy_sim.analysis import targets

    every = targets.all_service_ports
    asked: list[list[str]] = []

    def recording(cluster, config):
        asked.append([f"{s.namespace}/{s.name}" for s in cluster.services])
        return every(cluster, config)

    monkeypatch.setattr(targets, "all_service_ports", recording)
    code, out, _ = _run(["trace", "--scenario", "upstream-overall-iptables-rules", "--src", "10.0.0.9", "--dst",
                         "172.30.0.42", "--dport", "81", "-o", "json"], capsys)
    assert code == 0 and json.loads(out)["notes"] == [
        "172.30.0.42 is the cluster IP of ns2/svc2, which defines 80/TCP; no rule matches 81/TCP, so the packet "
        "leaves the tables untranslated"]
    assert asked == [["ns2/svc2"]]


def test_trace_of_a_defined_port_or_another_protocol(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run([*BOOTCAMP_IP, "--dport", "8080", "-o", "json"], capsys)
    assert code == 0 and json.loads(out)["notes"] == []
    code, out, _ = _run([*BOOTCAMP_IP, "--dport", "8080", "--proto", "udp", "-o", "json"], capsys)
    assert json.loads(out)["notes"] == [
        "10.96.142.87 is the cluster IP of default/kubernetes-bootcamp, which defines 8080/TCP; no rule matches "
        "8080/UDP, so the packet leaves the tables untranslated"]


def test_trace_of_an_address_no_service_owns_has_no_note(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["trace", "--scenario", "bootcamp", "--src", "10.244.0.9", "--dst", "10.96.1.1",
                         "--dport", "80", "-o", "json"], capsys)
    assert code == 0 and json.loads(out)["notes"] == []


@pytest.mark.parametrize(("dst", "role"), [("192.168.99.11", "an external IP"), ("1.2.3.4", "a load-balancer IP")])
def test_trace_of_an_external_or_balancer_ip_on_another_port(dst: str, role: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["trace", "--scenario", "upstream-external-traffic-policy-local", "--src", "203.0.113.9",
                         "--dst", dst, "--dport", "443", "-o", "json"], capsys)
    assert code == 0 and json.loads(out)["notes"] == [
        f"{dst} is {role} of ns1/svc1, which defines 80/TCP; no rule matches 443/TCP, so the packet leaves the "
        "tables untranslated"]


# --------------------------------------------------------------------------- trace: whose rules


def test_trace_names_the_node_whose_rules_it_read(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run([*BOOTCAMP_IP, "--dport", "8080"], capsys)
    assert code == 0
    head = "tcp 10.244.0.9 -> 10.96.142.87:8080 (arrives on an interface: PREROUTING) through the rules of node node1\n"
    assert out.startswith(head)
    code, out, _ = _run([*BOOTCAMP_IP, "--dport", "8080", "--hostname-override", "node2", "-o", "json"], capsys)
    assert json.loads(out)["node"] == "node2"


def test_trace_of_a_dump_names_the_file_and_no_node(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "node1.rules"
    _, full, _ = _run(["rules", "--scenario", "bootcamp", "--full"], capsys)
    dump.write_text(full)
    argv = ["trace", "--rules", str(dump), "--src", "10.244.0.9", "--dst", "10.96.142.87", "--dport", "8080"]
    code, out, _ = _run(argv, capsys)
    assert code == 0 and out.startswith(
        f"tcp 10.244.0.9 -> 10.96.142.87:8080 (arrives on an interface: PREROUTING) through the rules of {dump}\n")
    code, out, _ = _run([*argv, "-o", "json"], capsys)
    assert json.loads(out)["node"] is None


# --------------------------------------------------------------------------- healthz: --hostname-override

HEALTHZ = ["healthz", "--scenario", "upstream-external-traffic-policy-local"]


def test_healthz_takes_hostname_override_as_its_node(capsys: pytest.CaptureFixture[str]) -> None:
    """As diff's --node, healthz's defaults to --hostname-override (the scenario's own: test-node)."""
    code, out, _ = _run([*HEALTHZ, "ns1/svc1", "-o", "json"], capsys)
    assert code == 0 and json.loads(out)["status"] == 200
    code, out, _ = _run([*HEALTHZ, "--hostname-override", "other", "ns1/svc1", "-o", "json"], capsys)
    assert code == 0 and json.loads(out)["status"] == 503  # node other has no local endpoint of it


def test_healthz_refuses_node_and_hostname_override_naming_two_nodes(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run([*HEALTHZ, "--node", "test-node", "--hostname-override", "other", "ns1/svc1"], capsys)
    assert code == 2
    assert ("--node 'test-node' and --hostname-override 'other' name two nodes; expected one of them (healthz "
            "answers for one node: --node, which defaults to --hostname-override)") in err
    code, _, _ = _run([*HEALTHZ, "--node", "test-node", "--hostname-override", "Test-Node", "ns1/svc1"], capsys)
    assert code == 0


# --------------------------------------------------------------------------- send --to NAME.NS:PORTNAME

SEND = ["send", "--scenario", "upstream-external-traffic-policy-local", "--count", "20", "-o", "json"]


def test_send_takes_a_port_name_as_dist_does(capsys: pytest.CaptureFixture[str]) -> None:
    code, by_name, _ = _run([*SEND, "--from", "node/test-node", "--to", "svc1.ns1:p80"], capsys)
    assert code == 0
    code, by_number, _ = _run([*SEND, "--from", "node/test-node", "--to", "svc1.ns1:80"], capsys)
    named, numbered = json.loads(by_name), json.loads(by_number)
    assert named["to"] == "svc1.ns1:80" and named["delivered"] == numbered["delivered"]
    assert named["delivered"]


@pytest.mark.parametrize(("to", "code", "says"), [
    ("svc1.ns1:p81", 1, "'svc1.ns1:p81': Service ns1/svc1 has no TCP port named 'p81' (its ports: p80=80/TCP)"),
    ("nosuch.ns1:p80", 1, "'nosuch.ns1:p80': no such name (NXDOMAIN)"),  # as for a port number
    ("172.30.0.41:p80", 2, "a port name needs a Service's DNS name"),
    ("node/test-node:p80", 2, "a port name needs a Service's DNS name"),
    ("[fd00::1]:p80", 2, "a port name needs a Service's DNS name"),
])
def test_send_port_names_it_cannot_read(to: str, code: int, says: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run([*SEND, "--from", "external", "--to", to], capsys)
    assert status == code and says in err, err


# --------------------------------------------------------------------------- nothing read

BAD_SERVICE = "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  namespace: default\nspec:\n  ports: nope\n"


@pytest.mark.parametrize("argv", [
    ["trace", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--dport", "80"],
    ["trace", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--dport", "80", "-o", "json"],
    ["send", "--from", "external", "--to", "10.0.0.2:80", "--count", "1"],
])
def test_input_of_which_no_object_could_be_read_is_not_traced_or_sent(argv: list[str], tmp_path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_SERVICE)
    code, out, err = _run([argv[0], "-f", str(bad), *argv[1:]], capsys)
    assert code == 1 and out == ""
    assert "spec.ports: expected a list" in err
    assert err.endswith("kubeproxy-sim: no object could be read (the errors above say why); nothing to "
                        f"{argv[0]}\n")


def test_an_empty_input_without_errors_is_still_traced(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    code, out, _ = _run(["trace", "-f", str(empty), "--src", "10.0.0.1", "--dst", "10.0.0.2", "--dport", "80"],
                        capsys)
    assert code == 0 and "ACCEPT: 100%" in out


# --------------------------------------------------------------------------- kubeproxy-sim --help


def test_top_level_help_says_where_to_start_and_lists_commands_as_readme_does(
        capsys: pytest.CaptureFixture[str]) -> None:
    import re
    from pathlib import Path

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "start here: kubeproxy-sim demo" in out and "First five minutes" in out
    listed = re.findall(r"^    ([a-z]+) ", out, flags=re.M)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("## Commands", 1)[1].split("\n## ", 1)[0]
    documented = list(dict.fromkeys(re.findall(r"^\| `kubeproxy-sim ([a-z]+)", table, flags=re.M)))
    documented.insert(documented.index("replay") + 1, "watch")  # a row of its own: `replay STATE...` / `watch`
    assert listed == documented


# --------------------------------------------------------------------------- --rules given objects

TRACE_DUMP = ["--src", "10.244.0.9", "--dst", "10.96.142.87", "--dport", "8080"]
OBJECTS_HINT = "(this looks like Kubernetes objects, which -f PATH reads; --rules reads an iptables-save dump)"


@pytest.mark.parametrize("text", [
    "# a comment\napiVersion: v1\nkind: Service\n",
    "---\napiVersion: v1\nkind: Service\n",
    '{"apiVersion": "v1", "kind": "List", "items": []}\n',
    "kind: Service\napiVersion: v1\n",
])
def test_rules_given_a_manifest_suggests_f(text: str, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "cluster.yaml"
    manifest.write_text(text)
    code, out, err = _run(["trace", "--rules", str(manifest), *TRACE_DUMP], capsys)
    assert code == 1 and out == "" and OBJECTS_HINT in err, err


def test_a_dump_line_of_no_form_gets_no_objects_hint(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "node.rules"
    dump.write_text("*nat\nbogus line\nCOMMIT\n")
    code, _, err = _run(["trace", "--rules", str(dump), *TRACE_DUMP], capsys)
    assert code == 1 and "unexpected line at 'bogus line'" in err and "-f PATH" not in err


DNS_SEARCH = """\
apiVersion: v1
kind: Node
metadata: {name: n1}
spec: {podCIDR: 10.244.0.0/24}
status: {addresses: [{type: InternalIP, address: 192.168.1.1}]}
""" + "".join(f"""---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {ns}}}
spec: {{clusterIP: 10.96.1.{i}, ports: [{{name: http, port: {port}, targetPort: 80}}], selector: {{app: web}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: w, namespace: {ns}, labels: {{app: web}}}}
spec: {{nodeName: n1, containers: [{{name: c, image: x, ports: [{{containerPort: 80}}]}}]}}
status: {{phase: Running, podIP: 10.244.0.{i + 4}, conditions: [{{type: Ready, status: "True"}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: web-1, namespace: {ns}, labels: {{kubernetes.io/service-name: web}}}}
addressType: IPv4
endpoints: [{{addresses: [10.244.0.{i + 4}], nodeName: n1, targetRef: {{kind: Pod, name: w, namespace: {ns}}}}}]
ports: [{{name: http, port: 80}}]
""" for i, ns, port in ((1, "a", 80), (2, "b", 8080))) + """---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: a}
spec: {nodeName: n1, dnsPolicy: None, dnsConfig: {nameservers: [10.96.0.10], searches: [b.svc.cluster.local]},
       containers: [{name: c, image: x}]}
status: {phase: Running, podIP: 10.244.0.9, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system}
spec: {clusterIP: 10.96.0.10, ports: [{name: dns, port: 53, protocol: UDP}], selector: {k8s-app: kube-dns}}
---
apiVersion: v1
kind: Pod
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec: {nodeName: n1, containers: [{name: c, image: x}]}
status: {phase: Running, podIP: 10.244.0.2, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: kube-dns-1, namespace: kube-system, labels: {kubernetes.io/service-name: kube-dns}}
addressType: IPv4
endpoints: [{addresses: [10.244.0.2], nodeName: n1, targetRef: {kind: Pod, name: coredns, namespace: kube-system}}]
ports: [{name: dns, port: 53, protocol: UDP}]
"""


def test_send_reads_a_port_name_from_the_service_the_clients_resolver_finds(
        tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """Review R3: the port name was read from the Service of the client's namespace's search path (a/web, http=80)
    while the connection went where the pod's own resolv.conf finds the name (b/web, whose http is 8080)."""
    objects = tmp_path / "dns.yaml"
    objects.write_text(DNS_SEARCH)
    node = ["-f", str(objects), "--hostname-override", "n1", "--cluster-cidr", "10.244.0.0/16", "-o", "json"]
    code, out, err = _run(["send", *node, "--from", "pod/a/client", "--to", "web:http", "--count", "5"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["to"] == "web:8080" and [d["pod"] for d in result["delivered"]] == ["b/w"]
    code, _, err = _run(["send", *node, "--from", "pod/a/client", "--to", "web.a.svc.cluster.local:web"], capsys)
    assert code == 1 and "'web.a.svc.cluster.local:web': Service a/web has no TCP port named 'web'" in err, err
    code, _, err = _run(["send", *node, "--from", "pod/a/client", "--to", "nosuch:http"], capsys)
    assert code == 1 and err.startswith("kubeproxy-sim: --to: 'nosuch:http': no such name (NXDOMAIN)"), err
    code, _, err = _run(["send", *node, "--from", "pod/a/client", "--to", "10-244-0-5.a.pod.cluster.local:http"],
                        capsys)
    assert code == 1 and "'10-244-0-5.a.pod.cluster.local:http': 10-244-0-5.a.pod.cluster.local resolves to " \
                         "10-244-0-5.a.pod.cluster.local, which is no Service's name, so port name 'http' names no " \
                         "port" in err, err
