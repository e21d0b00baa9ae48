"""Input forms: multi-document YAML, JSON, List wrappers, directories, stdin, syntax errors, duplicates."""

from __future__ import annotations

import io
import json
import os
import sys

import pytest

from kubeproxy_sim.errors import Severity
from kubeproxy_sim.objects import load_paths, load_text
from kubeproxy_sim.objects.load import manifest_entries

EXPECTED = "expected a YAML or JSON manifest file, a directory of them, or - for standard input"
"""What a manifest path that cannot be read is said to have to be (errors.cannot_read's one wording)."""


def _svc(name: str, ip: str, namespace: str = "default") -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"clusterIP": ip, "ports": [{"port": 80}]}}


def _slice(name: str, service: str, ip: str) -> dict:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4", "endpoints": [{"addresses": [ip]}], "ports": [{"port": 80}]}


def test_json_list_as_kubectl_get_writes_it():
    text = json.dumps({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
                       "items": [_svc("a", "10.0.0.1"), _slice("a-1", "a", "10.1.0.1")]}, indent=2)
    result = load_text(text, "dump.json")
    assert result.ok and result.diagnostics == ()
    assert [s.name for s in result.cluster.services] == ["a"]
    assert [s.name for s in result.cluster.endpoint_slices] == ["a-1"]
    assert result.cluster.services[0].origin.file == "dump.json"


def test_typed_list_items_may_omit_kind_and_api_version(load):
    result = load("""
        apiVersion: v1
        kind: ServiceList
        items:
        - metadata: {name: a}
          spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
        - metadata: {name: b}
          spec: {clusterIP: 10.0.0.2, ports: [{port: 80}]}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSliceList
        items:
        - metadata: {name: a-1, labels: {kubernetes.io/service-name: a}}
          addressType: IPv4
          endpoints: [{addresses: [10.1.0.1]}]
    """)
    assert result.ok, result.diagnostics
    assert [s.name for s in result.cluster.services] == ["a", "b"]
    assert [s.name for s in result.cluster.endpoint_slices] == ["a-1"]


def test_yaml_list_of_mixed_kinds_and_item_errors_name_the_item(load, messages):
    result = load("""
        apiVersion: v1
        kind: List
        items:
        - apiVersion: v1
          kind: Service
          metadata: {name: a}
          spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
        - 42
        - apiVersion: v1
          kind: ConfigMap
          metadata: {name: cm}
    """)
    assert [s.name for s in result.cluster.services] == ["a"]
    assert messages(result) == [
        "t.yaml: List: items[1]: expected a Kubernetes object, got an integer",
        "t.yaml: ConfigMap default/cm: note: skipped: kube-proxy does not read this kind",
    ]


def test_multi_document_yaml_with_empty_documents(load):
    result = load("""
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: a}
        spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
        ---
        ---
        # only a comment
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: b}
        spec: {clusterIP: 10.0.0.2, ports: [{port: 80}]}
    """)
    assert result.ok and [s.name for s in result.cluster.services] == ["a", "b"]


def test_an_unknown_kind_is_a_note_and_a_wrong_api_version_an_error(load, messages):
    # kubectl refuses an object whose apiVersion is missing or not served ("apiVersion not set"), so it is an
    # error of that object alone: the others are still used
    result = load("""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: ns}
        ---
        apiVersion: discovery.k8s.io/v1beta1
        kind: EndpointSlice
        metadata: {name: old}
        ---
        metadata: {name: nokind}
        ---
        kind: Service
        metadata: {name: noversion}
        ---
        apiVersion: v2
        kind: Service
        metadata: {name: v2}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: good}
        spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
    """)
    assert messages(result) == [
        "t.yaml: Deployment ns/web: note: skipped: kube-proxy does not read this kind",
        't.yaml: EndpointSlice default/old: apiVersion: "discovery.k8s.io/v1beta1" is not supported; expected '
        "discovery.k8s.io/v1 (v1beta1 was removed in Kubernetes 1.25; kube-proxy reads v1 only)",
        "t.yaml: kind: not set (document 3); expected Service, EndpointSlice, Endpoints, Node or Pod",
        "t.yaml: Service default/noversion: apiVersion: not set; expected v1",
        't.yaml: Service default/v2: apiVersion: "v2" is not supported; expected v1',
    ]
    assert [d.severity for d in result.diagnostics] == [Severity.NOTE] + [Severity.ERROR] * 4
    assert [s.name for s in result.cluster.services] == ["good"]
    assert result.cluster.endpoint_slices == ()


def test_a_kind_we_read_of_another_api_group_is_another_resource_not_read(load, messages):
    """Review R3: a Knative Service (or any CRD called Service, Pod or Node) was an error, exit 1; it is another
    resource, which kube-proxy does not read. A version of our own group that is not served stays an error."""
    result = load("""
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata: {name: hello}
        ---
        apiVersion: example.com/v1
        kind: Pod
        metadata: {name: p}
        ---
        apiVersion: example.com/v1
        kind: Node
        metadata: {name: 'n'}
        ---
        apiVersion: discovery.k8s.io/v2
        kind: EndpointSlice
        metadata: {name: s}
        ---
        apiVersion: v1
        kind: EndpointSlice
        metadata: {name: core}
    """)
    assert messages(result) == [
        "t.yaml: note: skipped 1 Service.serving.knative.dev, 1 Pod.example.com and 1 Node.example.com objects: "
        "kube-proxy does not read these kinds",
        't.yaml: EndpointSlice default/s: apiVersion: "discovery.k8s.io/v2" is not supported; expected '
        "discovery.k8s.io/v1",
        't.yaml: EndpointSlice default/core: apiVersion: "v1" is not supported; expected discovery.k8s.io/v1',
    ]
    only = load("apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: hello, namespace: ns}\n")
    assert messages(only) == [
        "t.yaml: Service.serving.knative.dev ns/hello: note: skipped: kube-proxy does not read this kind"]
    assert only.ok


def test_a_kind_we_read_written_in_another_case_says_which_it_means(load, messages):
    # kinds are case-sensitive (kubectl: no matches for kind "service"): skipped, but not as a kind we do not read
    result = load("""
        apiVersion: v1
        kind: service
        metadata: {name: web}
        spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: endpointslice
        metadata: {name: web-1}
    """)
    # an error, as a wrong apiVersion is (review R3: it was a warning, exit 0, though kubectl refuses it)
    assert messages(result) == [
        't.yaml: service default/web: kind: "service" is not a kind kube-proxy reads (kinds are '
        "case-sensitive); did you mean Service? this object is skipped",
        't.yaml: endpointslice default/web-1: kind: "endpointslice" is not a kind kube-proxy reads (kinds are '
        "case-sensitive); did you mean EndpointSlice? this object is skipped",
    ]
    assert [d.severity for d in result.diagnostics] == [Severity.ERROR] * 2
    assert result.cluster.services == ()


def _objects(kind: str, count: int, api_version: str = "apps/v1") -> str:
    return "".join(f"---\napiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: x{i}, namespace: ns}}\n"
                   for i in range(count))


def test_objects_of_kinds_not_read_are_one_note_a_file(tmp_path):
    """``kubectl get all -A -o yaml`` gave a note per Deployment and ReplicaSet: one line a file says it all."""
    first, second = tmp_path / "all.yaml", tmp_path / "more.yaml"
    first.write_text(_objects("Deployment", 30) + _objects("ReplicaSet", 30) + _objects("Service", 1, "v2")
                     + _objects("ConfigMap", 1, "v1"))
    second.write_text(_objects("DaemonSet", 1))
    result = load_paths([str(first), str(second)])
    assert [str(d) for d in result.diagnostics] == [
        f"{first}: note: skipped 30 Deployment, 30 ReplicaSet and 1 ConfigMap objects: kube-proxy does not read "
        "these kinds",
        f'{first}: Service ns/x0: apiVersion: "v2" is not supported; expected v1',  # per object, as before
        f"{second}: DaemonSet ns/x0: note: skipped: kube-proxy does not read this kind",  # one alone is named
    ]
    assert result.positions[0] < result.positions[1] < result.positions[2]  # the note at its file's first


def test_a_file_given_twice_has_a_note_for_each_reading(tmp_path):
    """Review R3: ``-f one.yaml -f one.yaml`` said "skipped 4 Deployment objects" of a file that holds 2."""
    one = tmp_path / "one.yaml"
    one.write_text(_objects("Deployment", 2))
    assert [str(d) for d in load_paths([str(one), str(one)]).diagnostics] == [
        f"{one}: note: skipped 2 Deployment objects: kube-proxy does not read this kind"] * 2


def test_a_built_in_scenarios_file_is_quiet_of_its_deployments_only(tmp_path, monkeypatch):
    """The built-in scenarios' Deployments (there for ``scenario``, which plays them) go unsaid; review R3: every
    other kind did too, so a typo such as ``kind: EndpointSlices`` in a scenario vanished silently."""
    monkeypatch.setattr("kubeproxy_sim.objects.load.BUILT_IN", str(tmp_path))
    objects = tmp_path / "bootcamp" / "objects.yaml"
    objects.parent.mkdir()
    objects.write_text(_objects("Deployment", 2) + _objects("EndpointSlices", 1, "discovery.k8s.io/v1"))
    assert [str(d) for d in load_paths([str(objects)]).diagnostics] == [
        f"{objects}: EndpointSlices ns/x0: note: skipped: kube-proxy does not read this kind; did you mean "
        "EndpointSlice?"]


def test_a_note_of_one_kind_not_read_counts_its_objects(load, messages):
    result = load(_objects("Deployment", 1200))
    assert messages(result) == ["t.yaml: note: skipped 1,200 Deployment objects: kube-proxy does not read this kind"]


def test_yaml_syntax_error_names_line_and_keeps_other_documents(load, messages):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: a}
        spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: broken
        spec: [
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: c}
        spec: {clusterIP: 10.0.0.3, ports: [{port: 80}]}
    """)
    assert [s.name for s in result.cluster.services] == ["a", "c"]
    (error,) = result.errors
    assert error.file == "t.yaml" and error.line in (9, 10)
    assert str(error).startswith(f"t.yaml:{error.line}: syntax error: ")
    assert str(error).endswith("; this document is skipped")


def test_duplicate_object_later_one_wins_with_warning(load, messages):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: a}
        spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: a, namespace: default}
        spec: {clusterIP: 10.0.0.9, ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: a, namespace: other}
        spec: {clusterIP: 10.0.0.5, ports: [{port: 80}]}
    """)
    assert [(s.key, s.cluster_ips) for s in result.cluster.services] == [
        ("default/a", ("10.0.0.9",)), ("other/a", ("10.0.0.5",))]
    assert messages(result) == [
        "t.yaml: Service default/a: warning: defined again; this definition replaces the one from t.yaml "
        "(document 1)"]


def test_an_invalid_redefinition_keeps_the_earlier_object(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: a}
        spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: a}
        spec: {clusterIP: bogus, ports: [{port: 80}]}
    """)
    assert [s.cluster_ips for s in result.cluster.services] == [("10.0.0.1",)]
    assert len(result.errors) == 1


def test_directory_reads_manifests_sorted_not_recursive(tmp_path):
    (tmp_path / "b.yaml").write_text(json.dumps(_svc("b", "10.0.0.2")))
    (tmp_path / "a.json").write_text(json.dumps(_svc("a", "10.0.0.1")))
    (tmp_path / "c.yml").write_text(json.dumps(_svc("c", "10.0.0.3")))
    (tmp_path / "notes.txt").write_text("not yaml: [")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.yaml").write_text(json.dumps(_svc("d", "10.0.0.4")))
    result = load_paths([str(tmp_path)])
    assert result.ok and result.diagnostics == ()
    assert [s.name for s in result.cluster.services] == ["a", "b", "c"]
    assert result.cluster.services[0].origin.file == str(tmp_path / "a.json")


def test_paths_in_order_later_files_win(tmp_path):
    first = tmp_path / "first.yaml"
    second = tmp_path / "second.yaml"
    first.write_text(json.dumps(_svc("a", "10.0.0.1")))
    second.write_text(json.dumps(_svc("a", "10.0.0.2")))
    result = load_paths([str(first), str(second)])
    assert result.cluster.services[0].cluster_ips == ("10.0.0.2",)
    assert [str(d) for d in result.diagnostics] == [
        f"{second}: Service default/a: warning: defined again; this definition replaces the one from {first} "
        "(document 1)"]


def test_a_device_that_never_ends_is_refused_after_a_cap_and_an_empty_one_is_empty(tmp_path, monkeypatch):
    """QA-errors: ``-f /dev/zero`` read forever (kubectl streams it until memory runs out); a device that is no
    terminal is read up to 64 MiB. /dev/null is an empty file, as before; standard input is capped the same."""
    good = tmp_path / "good.yaml"
    good.write_text(json.dumps(_svc("a", "10.0.0.1")))
    result = load_paths(["/dev/zero", "/dev/null", str(good)])
    assert [s.name for s in result.cluster.services] == ["a"]
    assert [str(d) for d in result.diagnostics] == [
        "/dev/zero: -f: cannot read it: a device that gave more than 64 MiB, and may never end (as /dev/zero does); "
        f"{EXPECTED}",
        "/dev/null: warning: empty; no objects in this file"]
    with open("/dev/zero", "rb") as zero:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(zero))
        assert [str(d) for d in load_paths(["-"]).diagnostics] == [
            "<stdin>: standard input is a device that gave more than 64 MiB, and may never end (as /dev/zero does); "
            "expected manifests piped or redirected to it"]


def test_missing_file_and_bad_encoding_are_errors_not_exceptions(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(json.dumps(_svc("a", "10.0.0.1")))
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\x80\x81bad")
    missing = tmp_path / "missing.yaml"
    result = load_paths([str(missing), str(binary), str(good)])
    assert [s.name for s in result.cluster.services] == ["a"]
    assert [str(d) for d in result.errors] == [
        f"{missing}: -f: cannot read it: No such file or directory; {EXPECTED}",
        f"{binary}: -f: cannot read it: not UTF-8 text (invalid start byte at byte 0); {EXPECTED}",
    ]


def test_empty_directory_warns(tmp_path):
    result = load_paths([str(tmp_path)])
    assert result.ok
    assert [str(d) for d in result.diagnostics] == [
        f"{tmp_path}: warning: no *.yaml, *.yml or *.json files in this directory"]


def _tree(root) -> None:
    """b.yaml, a/x.yaml, a/deeper/y.json, c.yaml/z.yml (a directory with a manifest's name), and a link to a/."""
    (root / "a" / "deeper").mkdir(parents=True)
    (root / "c.yaml").mkdir()
    for path, ip in (("b.yaml", "10.0.0.1"), ("a/x.yaml", "10.0.0.2"), ("a/deeper/y.json", "10.0.0.3"),
                     ("c.yaml/z.yml", "10.0.0.4"), ("a/notes.txt", "")):
        (root / path).write_text(json.dumps(_svc(path.replace("/", "-").replace(".", "-"), ip)) if ip else "x")
    os.symlink("a", root / "link")


def test_a_directory_whose_manifests_are_in_subdirectories_says_so(tmp_path):
    _tree(tmp_path)
    (tmp_path / "b.yaml").unlink()
    result = load_paths([str(tmp_path)])
    assert [str(d) for d in result.diagnostics] == [
        f"{tmp_path}: warning: no *.yaml, *.yml or *.json files in this directory; its subdirectories hold some, "
        "which are read with -R (--recursive), as kubectl reads them"]


def test_the_hint_of_manifests_in_subdirectories_stops_at_the_first(tmp_path, monkeypatch):
    """Review R3: the hint counted the whole tree (``rules -f /usr`` took 4.6 s); it looks no further than the
    first manifest: a later subdirectory is not listed (here it could not be)."""
    import errno

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.yaml").write_text("")
    (tmp_path / "b").mkdir()
    scandir = os.scandir

    def refusing(path):
        if os.path.basename(os.fspath(path)) == "b":
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    assert [d.message for d in load_paths([str(tmp_path)]).diagnostics] == [
        "no *.yaml, *.yml or *.json files in this directory; its subdirectories hold some, which are read with -R "
        "(--recursive), as kubectl reads them"]


def test_manifest_entries_recursive_walks_as_kubectl_does(tmp_path):
    """kubectl -R walks in lexical order, into real subdirectories (one named *.yaml too), not into links."""
    _tree(tmp_path)
    assert manifest_entries(str(tmp_path), recursive=True) == [
        str(tmp_path / p) for p in ("a/deeper/y.json", "a/x.yaml", "b.yaml", "c.yaml/z.yml")]
    assert manifest_entries(str(tmp_path)) == [str(tmp_path / "b.yaml")]


def test_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(_svc("a", "10.0.0.1"))))
    result = load_paths(["-"])
    assert [s.name for s in result.cluster.services] == ["a"]
    assert result.cluster.services[0].origin.file == "<stdin>"


def test_closed_stdin_is_said_so(monkeypatch):
    monkeypatch.setattr("sys.stdin", None)  # what Python has for a closed standard input (<&-)
    result = load_paths(["-"])
    assert [str(d) for d in result.diagnostics] == [
        "<stdin>: standard input is closed; expected manifests piped or redirected to it"]


def test_empty_stdin_warns_and_a_second_dash_is_told_stdin_was_read(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"")))
    assert [str(d) for d in load_paths(["-"]).diagnostics] == ["<stdin>: warning: empty; no objects on standard input"]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(json.dumps(_svc("a", "10.0.0.1")).encode())))
    result = load_paths(["-", "-"])
    assert [s.name for s in result.cluster.services] == ["a"]
    again = ("<stdin>: warning: standard input was read already, by an earlier '-' (a pipe can be read once); this "
             "'-' adds no objects; expected '-' given once")
    assert [str(d) for d in result.diagnostics] == [again]
    assert [str(d) for d in load_paths(["-"]).diagnostics] == [again]  # (a second load of the run: diff --against -)


def test_non_mapping_document_and_wrong_metadata(load, messages):
    result = load("""
        just a string
        ---
        apiVersion: v1
        kind: Service
        metadata: [x]
        spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
    """)
    assert messages(result) == [
        "t.yaml: document 1 is a string; expected a Kubernetes object with apiVersion and kind",
        "t.yaml: Service default/(unnamed): metadata: expected a mapping, got a list",
        "t.yaml: Service default/(unnamed): metadata.name: required; every object needs a name (document 2)",
    ]


def test_json_syntax_error_is_reported_with_a_line():
    result = load_text('{"apiVersion": "v1",\n "kind": "Service",\n "metadata": {"name": ["a"}\n}', "x.json")
    (error,) = result.errors
    assert error.file == "x.json" and error.line == 3
    assert result.cluster.services == ()


def test_a_stream_of_json_objects_reads_as_kubectl_reads_it():
    text = json.dumps(_svc("a", "10.0.0.1")) + json.dumps(_svc("b", "10.0.0.2")) + "\n\n" + json.dumps(
        _slice("a-1", "a", "10.1.0.1"), indent=2) + "\n"
    result = load_text(text, "stream.json")
    assert result.diagnostics == ()
    assert [s.name for s in result.cluster.services] == ["a", "b"]
    assert [s.name for s in result.cluster.endpoint_slices] == ["a-1"]


def test_a_broken_object_in_a_json_stream_costs_only_itself(messages):
    """As a broken YAML document does: the others are read, the message names where the broken one starts."""
    a, b, c = (json.dumps(_svc(n, f"10.0.0.{i}")) for i, n in enumerate("abc", 1))
    result = load_text(f"{a}\n{{\"apiVersion\": oops}}\n{c}\n", "s.json")
    assert [s.name for s in result.cluster.services] == ["a", "c"]
    assert messages(result) == [
        "s.json:2: syntax error: expecting value at line 2 column 16; this document is skipped"]
    result = load_text(f"{a[:-1]}\n{b}\n{c[:-5]}", "s.json")  # a lacks its closing brace; c is cut off
    assert [s.name for s in result.cluster.services] == ["b"]
    assert messages(result) == [
        "s.json:1: syntax error: expecting ',' delimiter at line 2 column 1; this document is skipped",
        f"s.json:3: syntax error: expecting ',' delimiter at line 3 column {len(c) - 4}; this document is "
        "skipped"]
    result = load_text(f"{{\"apiVersion\": oops}}\n{b}\n", "s.json")  # the first one broken
    assert [s.name for s in result.cluster.services] == ["b"] and len(result.errors) == 1


def test_a_json_stream_error_whose_reader_message_ends_in_at_says_at_once(messages):
    """Python's reader ends some messages with " at" (the place is ours to add): "at at line" was printed (b9's
    fuzzing)."""
    a = json.dumps(_svc("a", "10.0.0.1"))
    result = load_text(f'{a}\n{{"apiVersion": "v1", "kind": "Service", "metadata": {{"name": "b\n', "s.json")
    assert [s.name for s in result.cluster.services] == ["a"]
    assert messages(result) == [
        "s.json:2: syntax error: invalid control character at line 2 column 64; this document is skipped"]
    result = load_text(f'{a}\n{{"apiVersion": "v1", "kind": "Service", "metadata": {{"name": "b', "s.json")
    assert messages(result) == [
        "s.json:2: syntax error: unterminated string starting at line 2 column 62; this document is skipped"]


def test_files_with_a_byte_order_mark_are_read_in_its_encoding(tmp_path):
    text = json.dumps(_svc("a", "10.0.0.1"))
    paths = []
    for encoding in ("utf-8-sig", "utf-16", "utf-16-be", "utf-32"):
        path = tmp_path / f"{encoding}.json"
        data = text.encode(encoding)
        path.write_bytes(b"\xfe\xff" + data if encoding == "utf-16-be" else data)
        paths.append(str(path))
    for path in paths:
        result = load_paths([path])
        assert result.diagnostics == () and [s.name for s in result.cluster.services] == ["a"], path
    broken = tmp_path / "broken.json"
    broken.write_bytes(b"\xff\xfe" + b"\x00\xd8")  # a lone UTF-16 surrogate
    assert [str(d) for d in load_paths([str(broken)]).errors] == [
        f"{broken}: -f: cannot read it: not UTF-16 text, which its byte order mark announces (unexpected end of data "
        f"at byte 2); {EXPECTED}"]


def test_a_byte_that_is_not_utf8_after_a_utf8_byte_order_mark_is_said_at_its_offset_in_the_file(tmp_path):
    """utf-8-sig counts its offsets after the mark (the \\xff of ``\\xef\\xbb\\xbfa\\xff`` was "at byte 1"); r5
    found no test failed with the correction removed."""
    broken = tmp_path / "broken.yaml"
    broken.write_bytes(b"\xef\xbb\xbfa\xff")
    assert [str(d) for d in load_paths([str(broken)]).errors] == [
        f"{broken}: -f: cannot read it: not UTF-8 text (invalid start byte at byte 4); {EXPECTED}"]


def test_an_empty_file_is_a_warning(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("\n  \n")
    result = load_paths([str(empty)])
    assert result.ok and [str(d) for d in result.diagnostics] == [f"{empty}: warning: empty; no objects in this file"]


def test_digits_and_colons_stay_strings_as_kubectl_reads_them(load):
    """YAML 1.1 reads 1:30 as the base-60 number 90; Kubernetes' YAML library keeps it a string, so an IPv6
    address written with digits only is an address, not a number."""
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: web, labels: {at: 1:30}}
        spec:
          clusterIP: 10.96.0.10
          externalIPs: [2001:0:0:0:0:0:0:1]
          ports: [{port: 0x50}]
    """)
    assert [str(d) for d in result.diagnostics] == []
    (svc,) = result.cluster.services
    assert svc.external_ips == ("2001::1",) and dict(svc.labels) == {"at": "1:30"}
    assert svc.ports[0].port == 80  # other YAML 1.1 integers (hex, octal) read as before


def test_a_timestamp_or_binary_scalar_is_the_string_kubectl_reads(load):
    """QA-errors: PyYAML made ``2024-01-01`` a date ("expected a string, got date 2024-01-01" for a valid label)
    and ``!!binary`` bytes (said as Python's b'...'); go-yaml v2, decoding into an interface{} as sigs.k8s.io/yaml
    does, keeps a timestamp the string it is written as and a binary the text it decodes to."""
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: web, labels: {released: 2024-01-01, at: 2001-12-14t21:59:43.10-05:00}}
        spec:
          clusterIP: 10.96.0.10
          ports: [{port: 80, name: !!binary aHR0cA==}, {port: 81, name: !!timestamp 2024-01-02}]
    """)
    assert [str(d) for d in result.diagnostics] == []
    (svc,) = result.cluster.services
    assert dict(svc.labels) == {"released": "2024-01-01", "at": "2001-12-14t21:59:43.10-05:00"}
    assert [port.name for port in svc.ports] == ["http", "2024-01-02"]
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: web, labels: {released: 2024-01-01, at: 2001-12-14t21:59:43.10-05:00}}
        spec: {clusterIP: 10.96.0.10, ports: [{port: 80, name: !!binary aHR0cA==}, {port: !!binary gICA, name: b}]}
    """)
    assert [str(d) for d in result.errors] == [
        't.yaml: Service default/web: spec.ports[1].port: expected an integer, got a string "\ufffd\ufffd\ufffd"']


def test_json_nested_deeper_than_the_reader_follows_is_an_error_and_the_other_files_are_read(tmp_path):
    """Python's JSON reader recurses (about 1,000 levels): a RecursionError must cost the deep document and
    the rest of its text, not the run; the message names the file, the line and the deepest point."""
    deep = _svc("x", "10.0.0.9")
    deep["spec"]["x"] = "HERE"
    deep_text = json.dumps(deep).replace('"HERE"', "[" * 1500 + '"]"' + "]" * 1500)  # a bracket in a string
    before, after = json.dumps(_svc("a", "10.0.0.1")), json.dumps(_svc("c", "10.0.0.3"))
    stream = tmp_path / "a-stream.json"
    stream.write_text(before + "\n" + deep_text + "\n" + after)
    alone = tmp_path / "b-deep.json"
    alone.write_text(deep_text)
    good = tmp_path / "c-good.json"
    good.write_text(json.dumps(_svc("b", "10.0.0.2")))
    result = load_paths([str(tmp_path)])
    assert [s.name for s in result.cluster.services] == ["a", "b"]  # c came after the deep one in its stream
    column = deep_text.index("[" * 1500) + 1500
    assert [str(d) for d in result.errors] == [
        f"{path}:{line}: syntax error: exceeded maximum nesting depth (1502 levels of arrays and objects; the "
        f"JSON reader follows fewer than {sys.getrecursionlimit()}) at column {column}; this document and the "
        "rest of the file are skipped" for path, line in ((stream, 2), (alone, 1))]


KEEPS_THE_LAST = "kubectl's YAML reading keeps the last, and so does this"


def test_a_duplicate_key_is_a_warning_and_the_object_is_used_with_the_last_value_as_kubectl_reads_it(load,
                                                                                                   messages):
    """kubectl reads a manifest with go-yaml v2's lenient Unmarshal (cli-runtime's StreamVisitor, apimachinery's
    YAMLOrJSONDecoder, sigs.k8s.io/yaml's YAMLToJSON: only its Strict variants refuse a key given twice), where a
    later key replaces the earlier one: the object is used with the last value, and a warning names the object,
    the repeated key's field and both lines; a document without a kind is named as a document."""
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: a}
        spec:
          clusterIP: 10.0.0.1
          ports:
          - port: 80
            port: 90
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: b}
        spec: {clusterIP: 10.0.0.2, ports: [{port: 80}]}
        ---
        metadata: {name: c}
        metadata: {name: d}
    """)
    assert [(s.name, s.ports[0].port) for s in result.cluster.services] == [("a", 90), ("b", 80)]
    assert messages(result) == [
        f't.yaml:9: Service default/a: spec.ports[0].port: warning: mapping key "port" already defined at line 8; '
        f"{KEEPS_THE_LAST}",
        f't.yaml:17: metadata: warning: mapping key "metadata" already defined at line 16; {KEEPS_THE_LAST}',
        "t.yaml: kind: not set (document 3); expected Service, EndpointSlice, Endpoints, Node or Pod"]


def test_a_duplicate_key_in_a_list_item_or_in_the_list_is_a_warning_and_every_item_is_used(load, messages):
    result = load("""
        apiVersion: v1
        kind: ServiceList
        items:
        - metadata: {name: a}
          spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
        - metadata: {name: b, name: c}
          spec: {clusterIP: 10.0.0.2, ports: [{port: 80}]}
        - metadata: {name: d}
          spec: {clusterIP: 10.0.0.4, ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: List
        kind: List
        items:
        - {apiVersion: v1, kind: Service, metadata: {name: e}, spec: {clusterIP: 10.0.0.5, ports: [{port: 80}]}}
    """)
    assert [s.name for s in result.cluster.services] == ["a", "c", "d", "e"]
    assert messages(result) == [
        f't.yaml:7: Service default/c: metadata.name: warning: mapping key "name" already defined at line 7; '
        f"{KEEPS_THE_LAST}",
        f't.yaml:14: List: kind: warning: mapping key "kind" already defined at line 13; {KEEPS_THE_LAST}']


def test_a_duplicate_key_reached_through_an_alias_or_a_merge_is_warned_in_every_item_that_uses_it(load, messages):
    """go-yaml decodes an alias (and a merge key's alias) again where it is used, and each decoding keeps the
    later key: item b (``selector: *sel``) and item d (``<<: *sel``) are warned at their own object and field, as
    item a, which holds the anchor, is; item c uses neither. All four are used, with the last value; the anchor's
    line is named for each (where the key is written)."""
    result = load("""
        apiVersion: v1
        kind: List
        items:
        - {kind: Service, apiVersion: v1, metadata: {name: a},
           spec: {clusterIP: 10.0.0.1, ports: [{port: 80}], selector: &sel {app: web, app: api}}}
        - {kind: Service, apiVersion: v1, metadata: {name: b},
           spec: {clusterIP: 10.0.0.2, ports: [{port: 80}], selector: *sel}}
        - {kind: Service, apiVersion: v1, metadata: {name: c}, spec: {clusterIP: 10.0.0.3, ports: [{port: 80}]}}
        - kind: Service
          apiVersion: v1
          metadata: {name: d}
          spec:
            clusterIP: 10.0.0.4
            ports: [{port: 80}]
            selector: {<<: *sel, tier: front}
    """)
    assert [(s.name, s.selector) for s in result.cluster.services] == [
        ("a", (("app", "api"),)), ("b", (("app", "api"),)), ("c", None),
        ("d", (("app", "api"), ("tier", "front")))]
    assert messages(result) == [
        f't.yaml:6: Service default/{name}: spec.selector.app: warning: mapping key "app" already defined at line 6; '
        f"{KEEPS_THE_LAST}" for name in "abd"]


def test_a_duplicate_key_warned_beside_a_bad_binary_value_which_still_refuses_its_object(load, messages):
    """The two findings of one document are judged on their own: the List item with a bad ``!!binary`` is refused
    (kubectl's reading fails on it), the one with a key given twice is used."""
    result = load("""
        apiVersion: v1
        kind: List
        items:
        - {kind: Service, apiVersion: v1, metadata: {name: a, name: b},
           spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}}
        - {kind: Service, apiVersion: v1, metadata: {name: c, annotations: {x: !!binary "d2Vi="}},
           spec: {clusterIP: 10.0.0.3, ports: [{port: 80}]}}
    """)
    assert [s.name for s in result.cluster.services] == ["b"]
    assert messages(result) == [
        f't.yaml:5: Service default/b: metadata.name: warning: mapping key "name" already defined at line 5; '
        f"{KEEPS_THE_LAST}",
        "t.yaml:7: Service default/c: metadata.annotations.x: !!binary value contains invalid base64 data "
        "(illegal base64 data at input byte 4); kubectl refuses the object, so it is skipped"]


NO_JSON_KEY = ("which kubectl's YAML reading makes no JSON key of (\"unsupported map key\"); kubectl refuses the "
               "object, so it is skipped")


def test_a_null_or_uint64_key_refuses_its_object_at_the_mapping_and_the_rest_is_used(load, messages):
    """go-yaml v2 decodes a null key (``~``, ``null``, an empty ``?``) as nil and an unsigned integer past int64 as
    a uint64, and sigs.k8s.io/yaml's convertToJSONableObject has no JSON key for either ("unsupported map key of
    type ..."), so kubectl refuses the document: the object is refused at the mapping holding the key (the key's
    line), a List's other items are used, and a document that is no object says so. They were kept as key None
    and "9223372036854775808"."""
    result = load("""
        apiVersion: v1
        kind: Service
        metadata:
          name: a
          labels: {app: web, ~: x}
        spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: List
        items:
        - apiVersion: v1
          kind: Service
          metadata: {name: b, annotations: {9223372036854775808: big}}
          spec: {clusterIP: 10.0.0.2, ports: [{port: 80}]}
        - apiVersion: v1
          kind: Service
          metadata: {name: c}
          spec:
            clusterIP: 10.0.0.3
            ports: [{port: 80}]
            selector:
              ?
              : web
        - apiVersion: v1
          kind: Service
          metadata: {name: d, labels: {null: x, 0x8000000000000000: y}}
          spec: {clusterIP: 10.0.0.4, ports: [{port: 80}]}
        - apiVersion: v1
          kind: Service
          metadata: {name: e, labels: {18446744073709551616: f, -9223372036854775809: g, 0x1FFFFFFFFFFFFFFFF: h}}
          spec: {clusterIP: 10.0.0.5, ports: [{port: 80}]}
        ---
        ~: z
    """)
    assert [(s.name, s.labels) for s in result.cluster.services] == [
        ("e", (("-9.223372e+18", "g"), ("0x1FFFFFFFFFFFFFFFF", "h"), ("1.8446744e+19", "f")))]
    assert messages(result) == [
        f"t.yaml:6: Service default/a: metadata.labels: mapping key ~ is null, {NO_JSON_KEY}",
        "t.yaml:14: Service default/b: metadata.annotations: mapping key 9223372036854775808 is an integer go-yaml "
        f"holds as a uint64 (past int64), {NO_JSON_KEY}",
        f"t.yaml:23: Service default/c: spec.selector: an empty mapping key is null, {NO_JSON_KEY}",
        f"t.yaml:27: Service default/d: metadata.labels: mapping key null is null, {NO_JSON_KEY}",  # (once a mapping:
        # the conversion fails at the first it meets, in Go's map order; the first written is named)
        "t.yaml:34: mapping key ~ is null, which kubectl's YAML reading makes no JSON key of (\"unsupported map "
        "key\"); kubectl refuses the document, so it is skipped"]


def test_merge_keys_may_be_overridden_and_keys_are_kubectls_json_keys(load):
    """An explicit key over a merged one is no duplicate; a number or boolean key is the JSON key kubectl sends
    (sigs.k8s.io/yaml's convertToJSONableObject: ``true`` is "true", not Python's "True"; a float as Go's
    FormatFloat(f, 'g', -1, 32))."""
    result = load("""
        apiVersion: v1
        kind: Service
        metadata:
          name: a
          annotations: &base {app: web, tier: front}
          labels:
            <<: *base
            app: other
            1: one
            true: "yes"
            2.50: half
            1e6: million
        spec: {clusterIP: 10.0.0.1, ports: [{port: 80}], selector: {yes: web}}
    """)
    assert result.diagnostics == ()
    [service] = result.cluster.services
    assert service.labels == (("1", "one"), ("1e+06", "million"), ("2.5", "half"), ("app", "other"),
                              ("tier", "front"), ("true", "yes"))
    assert service.selector == (("true", "web"),)


def test_a_merge_key_is_applied_where_it_stands_as_go_yaml_v2_decodes_it(load, messages):
    """go-yaml v2 sets a merged mapping's keys where the merge key stands (decode.go: mapping calls merge in its
    loop), so a key before it is overridden and a key after it overrides; a list of mappings is merged last first
    (the earlier ones win); a key the merged mapping has twice keeps its last value in every mapping merging it,
    one-character ones too (PyYAML 6.0.4 kept the first of those, and put every merged key before the others)."""
    result = load("""
        apiVersion: v1
        kind: Service
        metadata:
          name: a
          annotations: &base {a: web, a: api, tier: front}
          labels: {a: before, tier: before, <<: [*base, {x: first}, {x: second, b: only}], tier: after}
        spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
    """)
    [service] = result.cluster.services
    assert service.labels == (("a", "api"), ("b", "only"), ("tier", "after"), ("x", "first"))
    assert messages(result) == [  # (the alias's repeat is named once an object, at its first field)
        f't.yaml:6: Service default/a: metadata.annotations.a: warning: mapping key "a" already defined at line 6; '
        f"{KEEPS_THE_LAST}",
        f't.yaml:7: Service default/a: metadata.labels.tier: warning: mapping key "tier" already defined at line 7; '
        f"{KEEPS_THE_LAST}"]


def test_keys_go_yaml_keeps_apart_that_make_one_json_key_are_warned_as_unspecified_and_the_last_is_used(load,
                                                                                                      messages):
    """go-yaml v2 decodes ``1`` and ``"1"`` (and ``1.0``) into different keys of a Go map, and sigs.k8s.io/yaml then
    turns each into the JSON key "1": which value kubectl's JSON keeps follows Go's map order, unspecified. The
    last is used here, with a warning naming both as written."""
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: a}
        spec:
          clusterIP: 10.0.0.1
          ports: [{port: 80}]
          selector:
            1: int
            "1": string
            true: bool
    """)
    [service] = result.cluster.services
    assert service.selector == (("1", "string"), ("true", "bool"))
    assert messages(result) == [
        't.yaml:10: Service default/a: spec.selector.1: warning: mapping key "1" and 1 at line 9 are two keys to '
        'go-yaml but one JSON key, "1"; which value kubectl keeps is unspecified (Go\'s map order), the last is used '
        "here"]


def test_a_duplicate_key_and_a_syntax_error_cost_only_what_they_cost(load, messages):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: a}
        spec: {clusterIP: 10.0.0.1, ports: [{port: 80}], clusterIP: 10.0.0.9}
        ---
        kind: [
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: b}
        spec: {clusterIP: 10.0.0.2, ports: [{port: 80}]}
    """)
    assert [(s.name, s.cluster_ips) for s in result.cluster.services] == [("a", ("10.0.0.9",)), ("b", ("10.0.0.2",))]
    assert [(d.line, d.severity.value) for d in result.diagnostics] == [(5, "warning"), (8, "error")]
    assert 'mapping key "clusterIP" already defined at line 5' in messages(result)[0]
    assert "syntax error" in messages(result)[1]


def test_a_kind_of_the_wrong_type_and_an_empty_api_version_are_named(load, messages):
    result = load("""
        apiVersion: v1
        kind: [Service]
        metadata: {name: web}
        ---
        apiVersion: ""
        kind: Service
        metadata: {name: blank}
    """)
    assert messages(result) == [
        't.yaml: web: kind: expected a string, got a list ["Service"] (document 1); expected Service, '
        "EndpointSlice, Endpoints, Node or Pod",
        "t.yaml: Service default/blank: apiVersion: empty; expected v1",
    ]


DUMP_GIVEN = ("this is an iptables-save dump, not Kubernetes objects, so it is skipped; trace, graph and netns verify "
              "read a dump with --rules DUMP")


def test_an_iptables_save_dump_given_as_manifests_is_named_so(tmp_path):
    # `*filter` is a YAML alias, so PyYAML said "found undefined alias at column 1"
    dump = tmp_path / "node.rules"
    dump.write_text("# Generated by iptables-save v1.8.7\n*filter\n:KUBE-SERVICES - [0:0]\n"
                    "-A KUBE-SERVICES -j RETURN\nCOMMIT\n")
    result = load_paths([str(dump)])
    assert [str(d) for d in result.diagnostics] == [f"{dump}:2: {DUMP_GIVEN}"]
    assert not result.ok and result.cluster.services == ()


def test_a_dump_of_chains_alone_is_named_too(messages):
    # without a table line YAML reads the dump as one folded string, or as a mapping when a comment has ": "
    for text in (":KUBE-SERVICES - [0:0]\n:KUBE-NODEPORTS - [0:0]\n-A KUBE-SERVICES -j KUBE-NODEPORTS\nCOMMIT\n",
                 '-A KUBE-SERVICES -m comment --comment "a: b" -j KUBE-NODEPORTS\n', "COMMIT\n"):
        result = load_text(text, "t.rules")
        assert messages(result) == [f"t.rules: {DUMP_GIVEN}"], text
        assert not result.ok


def test_other_broken_documents_keep_their_own_messages(messages):
    assert messages(load_text("just a string", "t.yaml")) == [
        "t.yaml: document 1 is a string; expected a Kubernetes object with apiVersion and kind"]
    assert messages(load_text("*anchorless", "t.yaml")) == [
        "t.yaml:1: syntax error: found undefined alias at column 1; this document is skipped"]
    assert messages(load_text("-Ax: b", "t.yaml")) == [
        "t.yaml: kind: not set (document 1); expected Service, EndpointSlice, Endpoints, Node or Pod"]


def test_a_directorys_links_it_cannot_read_are_named_and_subdirectories_skipped_as_kubectl_does(tmp_path):
    """QA-cli #6: kubectl -f DIR opens every *.yaml entry but a subdirectory (it does not recurse without -R), so
    a dangling link, a loop and a link to a directory are errors naming the file; the good files are still read."""
    (tmp_path / "a.yaml").write_text(json.dumps(_svc("a", "10.0.0.1")))
    (tmp_path / "sub.yaml").mkdir()
    (tmp_path / "sub.yaml" / "b.yaml").write_text(json.dumps(_svc("b", "10.0.0.2")))
    os.symlink(tmp_path / "absent", tmp_path / "dangling.yaml")  # a target no other process can create
    os.symlink("loop.yml", tmp_path / "loop.yml")
    os.symlink("sub.yaml", tmp_path / "to-dir.json")
    result = load_paths([str(tmp_path)])
    assert [s.name for s in result.cluster.services] == ["a"]
    assert [str(d) for d in result.diagnostics] == [
        f'{tmp_path}/dangling.yaml: -f: cannot read it: a symbolic link to "{tmp_path}/absent", which does not exist; '
        f"{EXPECTED}",
        f"{tmp_path}/loop.yml: -f: cannot read it: a loop of symbolic links (too many levels to follow); {EXPECTED}",
        f"{tmp_path}/to-dir.json: -f: cannot read it: Is a directory; expected a YAML or JSON manifest file (listing "
        "a directory, kubectl follows no symbolic link to another directory, nor does this)"]
    (link,) = load_paths([str(tmp_path / "loop.yml")]).diagnostics  # given itself (QA-cli #15, as the loader says)
    assert str(link) == (f"{tmp_path}/loop.yml: -f: cannot read it: a loop of symbolic links (too many levels to "
                         f"follow); {EXPECTED}")


def test_a_link_to_a_directory_given_itself_is_read_as_the_directory_unlike_kubectl(tmp_path):
    """(review r2 #7) kubectl takes a -f LINK for a file and fails to read a directory; ours follows it, as the
    README says (a link inside a directory is still an error, above)."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.yaml").write_text(json.dumps(_svc("a", "10.0.0.1")))
    os.symlink("d", tmp_path / "link")
    result = load_paths([str(tmp_path / "link")])
    assert [s.name for s in result.cluster.services] == ["a"] and not result.diagnostics


def test_a_fifo_in_a_directory_is_read_as_kubectl_reads_it(tmp_path):
    import threading

    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_text, args=(json.dumps(_svc("a", "10.0.0.1")),))
    writer.start()
    result = load_paths([str(tmp_path)])
    writer.join()
    assert [s.name for s in result.cluster.services] == ["a"] and result.diagnostics == ()


def test_a_document_without_a_kind_says_so_once(messages):
    """The field names kind: its message does not say the word again ('kind: kind is required')."""
    assert messages(load_text("apiVersion: v1\nmetadata: {name: a}\n---\nkind: ''\n", "t.yaml")) == [
        "t.yaml: kind: not set (document 1); expected Service, EndpointSlice, Endpoints, Node or Pod",
        "t.yaml: kind: empty (document 2); expected Service, EndpointSlice, Endpoints, Node or Pod"]


@pytest.mark.parametrize(("value", "shown"), [("7" * 5000, f'"{"7" * 200}"... (5,000 characters)'),
                                              ("-" + "7_7" * 2500, f'"-{"7_7" * 66}7"... (7,501 characters)')])
def test_a_number_past_pythons_digit_limit_is_a_bad_value_without_the_cli(python_int_limit, messages, value: str,
                                                                          shown: str) -> None:
    """load_text raised ValueError ('Exceeds the limit (4300 digits)') out of the loader: the field's check now
    says it, as under the CLI, and the next object is read. Written plain in YAML, a number past a 64-bit float
    is the string go-yaml v2 keeps it as (its ParseFloat fails)."""
    text = (f"apiVersion: v1\nkind: Service\nmetadata: {{name: a}}\nspec: {{clusterIP: 10.0.0.2, ports: [{{port: "
            f"{value}}}]}}\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: b}}\nspec: {{clusterIP: "
            "10.0.0.3, ports: [{port: 80}]}\n")
    result = load_text(text, "t.yaml")
    assert messages(result) == [f"t.yaml: Service default/a: spec.ports[0].port: expected an integer, got a string "
                                f"{shown}"]
    assert [s.name for s in result.cluster.services] == ["b"]


def test_a_json_number_past_pythons_digit_limit_is_a_bad_value_without_the_cli(python_int_limit, messages) -> None:
    text = ('{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"clusterIP": "10.0.0.2", '
            f'"ports": [{{"port": {"7" * 5000}}}]}}}}')
    assert messages(load_text(text, "t.json")) == [
        "t.json: Service default/a: spec.ports[0].port: an integer of 5,000 digits is not in 0-65535"]


def test_a_json_stream_number_past_pythons_digit_limit_is_a_bad_value_without_the_cli(python_int_limit,
                                                                                     messages) -> None:
    """The value holding it is read again with long integers, in a stream of values and in a stream with a broken
    value alike; the values before it are kept."""
    service = ('{{"apiVersion": "v1", "kind": "Service", "metadata": {{"name": "{}"}}, "spec": {{"clusterIP": '
               '"10.0.0.2", "ports": [{{"port": {}}}]}}}}\n')
    too_long = "t.json: Service default/b: spec.ports[0].port: an integer of 5,000 digits is not in 0-65535"
    for broken, said in (("", []), ('{"broken" 1}\n', ["t.json:2: syntax error: expecting ':' delimiter at line 2 "
                                                       "column 11; this document is skipped"])):
        result = load_text(service.format("a", 80) + broken + service.format("b", "7" * 5000), "t.json")
        assert messages(result) == [*said, too_long] and [s.name for s in result.cluster.services] == ["a"]


def test_long_decimal_reads_any_length_under_the_limit(python_int_limit) -> None:
    from kubeproxy_sim.objects.load import long_decimal

    digits = "1234567890" * 1000
    expected = sum(int(d) * 10 ** i for i, d in enumerate(reversed(digits)))
    assert long_decimal(digits) == expected and long_decimal("0042") == 42


def test_an_int_tag_on_no_integer_is_refused_with_the_line(messages) -> None:
    """(int() raised ValueError out of the loader for ``!!int abc``.)"""
    text = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: !!int abc}]}\n"
    assert messages(load_text(text, "t.yaml")) == [
        "t.yaml:4: syntax error: 'abc' is not an integer (tagged !!int) at column 23; this document is skipped"]
