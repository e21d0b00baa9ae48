"""A large YAML text loaded on two cores gives exactly what one load of the whole text gives.

The cut (a ``---`` line of a stream, or an item line of a kubectl List) is checked
against texts that try to fool it: strings holding ``---``, ``items:`` and ``- ``
lines, block scalars, anchors, comments; whenever the parts cannot be joined
exactly, the whole text is loaded in one process, with the same documents and
the same messages.
"""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproxy_sim.objects import load, yamlsplit
from kubeproxy_sim.objects.yamlsplit import find_cut, load_in_two
from tests.budget import budget


def _load(text: str) -> list:
    return list(yaml.load_all(text, Loader=yaml.CSafeLoader))


TRICKY = ["---", "--- x", "items:", "- a", "- ", "kind: List", "\n- b\n", "a\n---\nb", "items:\n- x", "# c", "",
          "'q'", '"', "é", "...", "x: y"]
_text = st.sampled_from(TRICKY) | st.text(alphabet="ab-:# \n'\"", max_size=12)
_scalar = st.one_of(_text, st.integers(-5, 70000), st.booleans(), st.none())
_object = st.fixed_dictionaries({
    "apiVersion": st.just("v1"),
    "kind": st.sampled_from(["Service", "EndpointSlice", "Node"]),
    "metadata": st.fixed_dictionaries({"name": _text, "annotations": st.dictionaries(_text, _text, max_size=2)}),
    "spec": st.dictionaries(_text, st.one_of(_scalar, st.lists(_scalar, max_size=3)), max_size=3),
})


@settings(max_examples=budget(120), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_object, min_size=1, max_size=6), st.sampled_from(["stream", "list", "list-block-scalars"]))
def test_two_parts_load_what_the_whole_text_loads(objects: list, form: str) -> None:
    if form == "stream":
        text = yaml.dump_all(objects, sort_keys=False, default_flow_style=False)
    else:
        style = "|" if form == "list-block-scalars" else None
        text = yaml.dump({"apiVersion": "v1", "items": objects, "kind": "List", "metadata": {}}, sort_keys=False,
                         default_flow_style=False, default_style=style)
    whole = _load(text)
    parts = load_in_two(text, _load)
    assert parts is None or parts == whole
    if len(objects) >= 2 and form != "list-block-scalars":  # a block-scalar dump quotes the keys: no cut
        assert find_cut(text) is not None and parts == whole  # cut, and joined


def test_kubectl_list_is_cut_at_an_item_and_joined_in_key_order() -> None:
    items = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"s{i}"}} for i in range(40)]
    text = yaml.dump({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}},
                     sort_keys=False, default_flow_style=False)
    cut = find_cut(text)
    assert cut is not None and cut.items and cut.first.endswith("\n") and cut.second.startswith("items:\n- ")
    joined = load_in_two(text, _load)
    assert joined == _load(text) and list(joined[0]) == ["apiVersion", "items", "kind", "metadata"]


@pytest.mark.parametrize("text", [
    "a: &x 1\n---\nb: 2\n",  # a stream: anchors never cross documents
    "items:\n- &x {a: 1}\n- b\n- *x\n- c\n",  # an alias to an anchor in the other part: loaded whole
    "items:\n- a\n- b\n- c\n- d\nkind: List\n",
    "kind: List\nitems:\n- a\n- b\nmetadata: {}\nother:\n- c\n- d\n",  # the cut would leave the items
    "items:\n- a: |\n    x\n- b\n- c\n- d\n",
    "x: 1\n---\n- [unclosed\n",  # a syntax error in one part
    "a: |\n  ---\n  - x\n  items:\n---\nb: 1\n---\nc: 2\n",  # markers and items inside a block scalar
    "items:\n- a: |\n    ---\n    - x\n    items:\n- b\n- c\n",
    "items:\n  - a\n  - b\n  - c\n",  # items indented: no cut
])
def test_unusual_texts_load_as_the_whole_text_does(text: str) -> None:
    try:
        whole = _load(text)
    except yaml.YAMLError:
        assert load_in_two(text, _load) is None
        return
    parts = load_in_two(text, _load)
    assert parts is None or parts == whole
    if find_cut(text) is not None and "*x" not in text:
        assert parts == whole


def test_a_large_text_is_loaded_in_two_and_its_errors_keep_their_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the loader: the documents and messages are those of the one-process load."""
    good = "".join(f"---\napiVersion: v1\nkind: Node\nmetadata:\n  name: n{i}\n" for i in range(30))
    broken = good + "---\napiVersion: v1\nkind: Node\nmetadata: {name: [\n"
    for text in (good, broken):
        monkeypatch.setattr(yamlsplit, "MIN_PARALLEL_CHARS", 1 << 40)
        one = list(load.text_documents(text, "big.yaml"))
        monkeypatch.setattr(yamlsplit, "MIN_PARALLEL_CHARS", 0)
        two = list(load.text_documents(text, "big.yaml"))
        assert one == two
    assert "big.yaml:155: syntax error" in str(two[-1][2])  # at its line in the whole text, not in a part
