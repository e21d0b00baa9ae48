"""YAML aliases as kubectl's reader takes them: a document mostly made of alias expansions ("billion laughs") or
an anchor holding an alias to itself is refused, with file, line and field; the other documents are still read."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from kubeproxy_sim.objects import load_paths, load_text
from kubeproxy_sim.objects.aliases import AliasingError, allowed_alias_ratio, may_alias
from kubeproxy_sim.objects.load import strict_loader
from tests.cli._usage_pointer import without_pointer

SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {clusterIP: 10.0.0.2, ports: [{port: 80}]}\n"


def laughs(levels: int, fanout: int = 10, field: str = "kind") -> str:
    """x0 a list of ``fanout`` strings, each x(i) a list of ``fanout`` aliases of x(i-1); ``field`` an alias of
    the last: a document whose aliases expand to fanout^levels values."""
    lines = [f"x0: &x0 [{', '.join(['lol'] * fanout)}]"]
    lines += [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * fanout)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + f"\napiVersion: v1\nmetadata: {{name: a}}\n{field}: *x{levels}\n"


def test_a_billion_laughs_is_refused_where_go_yaml_stops_and_the_next_document_is_read():
    # go-yaml's counts (the document node and its root node first): after x2, 1,320 of 1,359 values come from
    # aliases (97.1%, allowed); x3's third alias brings it to 4,983 of 5,028 (99.1%, over the 99% allowed)
    result = load_text(laughs(30) + "---\n" + SERVICE, "b.yaml")
    assert [str(d) for d in result.errors] == [
        "b.yaml:4: x3[2]: document contains excessive aliasing: the alias here expands to 1,221 values, and "
        "kubectl's YAML reader refuses a document more than 99% of whose values come from aliases; expected "
        "fewer aliases; this document is skipped"]
    assert [s.name for s in result.cluster.services] == ["b"]


def _refused(text: str) -> bool:
    loader = strict_loader()(text)
    try:
        loader.get_single_data()
    except AliasingError:
        return True
    finally:
        loader.dispose()
    return False


@pytest.mark.parametrize(("aliases", "refused"), [(201, False), (202, True)])
def test_the_document_node_and_its_root_count_as_go_yaml_counts_them(aliases, refused):
    # the document node, the root, three keys, a's list and its 200 values, f's and u's lists: 208 values; then
    # 202 each alias (201 from aliases): go-yaml v2 takes 201 (40,401 of 40,810, 98.998%) and refuses 202
    # (40,602 of 41,012, 99.0003%)
    text = f"a: &a [{', '.join(['x'] * 200)}]\nf: []\nu: [{', '.join(['*a'] * aliases)}]\n"
    assert _refused(text) is refused


_B = "b: &b {" + ", ".join(f"k{i}: {i}" for i in range(150)) + "}\n"


@pytest.mark.parametrize(("form", "first_refused"), [("{<<: [*b]}", 295), ("{<<: *b}", 295), ("{<<: [*b, *b]}", 100)])
def test_a_merge_keys_list_is_not_counted_itself_as_go_yamls_merge_counts_it(form, first_refused):
    # go-yaml v2 (kubectl's reader) refuses these from the counts given (found by running it): a merge key's list
    # is not decoded as a list, its items are decoded one by one, last first
    def uses(m: int) -> str:
        return _B + "u: [" + ", ".join([form] * m) + "]\n"
    assert (_refused(uses(first_refused - 1)), _refused(uses(first_refused))) == (False, True)


def test_aliases_below_go_yamls_share_are_read():
    result = load_text(laughs(2, field="metadata.labels"), "ok.yaml")
    assert not any("aliasing" in str(d) for d in result.diagnostics)


def test_the_object_and_field_of_the_alias_are_named_and_a_file_the_same():
    bomb = textwrap.dedent("""\
        apiVersion: v1
        kind: Service
        metadata: {name: a, namespace: n}
        x: &x [a, b, c, d, e, f, g, h, i, j]
        y: &y [*x, *x, *x, *x, *x, *x, *x, *x, *x, *x]
        z: &z [*y, *y, *y, *y, *y, *y, *y, *y, *y, *y]
        spec:
          ports:
          - port: 80
          - port: [*z, *z, *z, *z, *z, *z, *z, *z, *z, *z]
        """)
    (found,) = load_text(bomb, "s.yaml").errors
    assert str(found).startswith("s.yaml:10: Service n/a: spec.ports[1].port[3]: document contains excessive "
                                 "aliasing: the alias here expands to 1,221 values")


def test_an_anchor_holding_an_alias_to_itself_is_refused():
    text = "apiVersion: v1\nkind: Service\nmetadata: &m {name: a, labels: {x: *m}}\n---\n" + SERVICE
    result = load_text(text, "r.yaml")
    assert [str(d) for d in result.errors] == [
        "r.yaml:3: Service default/a: metadata.labels.x: an anchor's value holds an alias to itself (kubectl's "
        "YAML reader: anchor value contains itself); expected no alias inside its own anchor; this document is "
        "skipped"]
    assert [s.name for s in result.cluster.services] == ["b"]


def test_the_pure_python_loader_refuses_it_too_and_a_deep_bomb_costs_its_text_only():
    loader = strict_loader(base=yaml.SafeLoader)(laughs(200, fanout=2))  # 2^200 values expanded
    with pytest.raises(AliasingError) as refused:
        loader.get_single_data()
    loader.dispose()
    assert refused.value.field == "x9[0]"  # 4,545 of 4,587 values from aliases (99.1%)


def test_through_files_and_stdin_too(tmp_path, monkeypatch):
    import io
    import sys

    (tmp_path / "b.yaml").write_text(laughs(8))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(laughs(8).encode())))
    result = load_paths([str(tmp_path / "b.yaml"), "-"])
    assert [d.file for d in result.errors] == [str(tmp_path / "b.yaml"), "<stdin>"]


def test_the_share_allowed_scales_down_as_go_yamls_does():
    assert allowed_alias_ratio(1000) == allowed_alias_ratio(400_000) == 0.99
    assert allowed_alias_ratio(2_200_000) == pytest.approx(0.545)
    assert allowed_alias_ratio(4_000_000) == allowed_alias_ratio(10 ** 30) == 0.10


def test_an_ampersand_in_a_value_is_not_taken_for_an_anchor():
    assert not may_alias('metadata: {annotations: {url: "http://x/?a=1&b=2", t: "R & D"}}')
    assert may_alias("a: &x 1\nb: *x\n") and may_alias("a: [&x 1, *x]\n")


BOMB_MESSAGE = ("x3[2]: document contains excessive aliasing: the alias here expands to 1,221 values, and kubectl's "
                "YAML reader refuses a document more than 99% of whose values come from aliases; expected fewer "
                "aliases")


def test_a_kubeconfig_of_excessive_aliases_is_refused_before_the_client_reads_it(tmp_path, monkeypatch):
    """A kubeconfig, read by watch before the kubernetes client, was yaml.safe_load's: the bomb was built. The
    one reading refuses it, and neither the client nor anything else is given the file."""
    pytest.importorskip("kubernetes")
    from kubeproxy_sim.errors import InputError
    from kubeproxy_sim.watch import apiserver

    def no_client(*_: object) -> None:
        raise AssertionError("the client was built from a refused kubeconfig")

    monkeypatch.setattr(apiserver, "_client", no_client)
    path = tmp_path / "kubeconfig"
    path.write_text(laughs(30), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        apiserver.connect(str(path))
    assert [str(d) for d in caught.value.diagnostics] == [f"{path}:4: {BOMB_MESSAGE}"]


def test_a_flows_file_of_excessive_aliases_is_refused(tmp_path):
    """netns verify's flows file was yaml.safe_load's too."""
    from kubeproxy_sim.errors import InputError
    from kubeproxy_sim.kernel.verify import read_flow_entries

    path = tmp_path / "flows.yaml"
    path.write_text(laughs(30, field="flows"), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_flow_entries(str(path))
    assert [str(d) for d in caught.value.diagnostics] == [f"{path}:4: {BOMB_MESSAGE}"]


def test_a_flows_file_that_is_not_utf8_says_so_in_errors_unreadable_words(tmp_path):
    """(It raised a UnicodeDecodeError: 'internal error', exit 4.)"""
    from kubeproxy_sim.errors import InputError
    from kubeproxy_sim.kernel.verify import read_flow_entries

    path = tmp_path / "flows.yaml"
    path.write_bytes(b"flows: [\xaf]\n")
    with pytest.raises(InputError) as caught:
        read_flow_entries(str(path))
    assert str(caught.value.diagnostics[0]) == f"{path}: --flows: cannot read it: not UTF-8 text (invalid start " \
        "byte at byte 8); expected a YAML file of flows: [...]"


def test_a_flows_file_or_scenario_yaml_nested_too_deeply_is_a_syntax_error(tmp_path, capsys):
    """safe_load says it for every reader (the flows reader let the RecursionError through: 'internal error')."""
    import sys

    from kubeproxy_sim.cli.main import main
    from kubeproxy_sim.errors import InputError
    from kubeproxy_sim.kernel.verify import read_flow_entries

    deep = "[" * 3000 + "]" * 3000
    message = (f"syntax error: exceeded maximum nesting depth (the YAML reader follows fewer than "
               f"{sys.getrecursionlimit()} levels)")
    (tmp_path / "flows.yaml").write_text(f"flows: {deep}\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_flow_entries(str(tmp_path / "flows.yaml"))
    assert [str(d) for d in caught.value.diagnostics] == [f"{tmp_path}/flows.yaml: {message}"]
    (tmp_path / "objects.yaml").write_text(SERVICE, encoding="utf-8")
    (tmp_path / "scenario.yaml").write_text(f"args: {deep}\n", encoding="utf-8")
    assert main(["rules", "--scenario", str(tmp_path)]) == 2
    assert without_pointer(capsys.readouterr().err, "rules") == f"kubeproxy-sim: {tmp_path}/scenario.yaml: {message}\n"


def test_only_a_document_with_an_anchor_of_its_own_is_walked_and_a_later_bomb_still_refused(monkeypatch):
    # anchors are per document: one anchored document at the top of a large stream must not send every other
    # document through the walk (it cost +45% on a 10k-Service stream); the walk itself is real, only counted
    from kubeproxy_sim.objects import load
    from kubeproxy_sim.objects.aliases import _scalars

    walked: list[str] = []
    real = load.check_aliases

    def counting(node, merge_tag):
        walked.append(_scalars(node)["metadata"]["name"])
        return real(node, merge_tag)

    monkeypatch.setattr(load, "check_aliases", counting)
    anchored = SERVICE.replace("metadata: {name: b}", "metadata: &m {name: first}").replace("10.0.0.2", "10.0.0.1")
    text = anchored + "---\n" + SERVICE + "---\n" + laughs(30) + "---\n" + SERVICE.replace("name: b", "name: c")
    result = load_text(text, "m.yaml")
    assert set(walked) == {"first", "a"}  # the anchored document and the bomb (read again), not b or c
    assert [str(d).split(": document")[0] for d in result.errors] == ["m.yaml:14: x3[2]"]
    assert [s.name for s in result.cluster.services] == ["first", "b", "c"]
