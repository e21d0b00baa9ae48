"""render.generated_table_text: the declarations of generated chains in one join, the names list as it was."""

from __future__ import annotations

import pytest

from kubeproxy_sim.netfilter.render import generated_table_text


@pytest.mark.parametrize("names", [[], ["KUBE-SVC-A"], ["KUBE-SVC-A", "KUBE-SEP-B"], ["A", "B", "C"]])
def test_the_declarations_are_each_name_s_and_the_names_are_left_as_they_were(names: list[str]) -> None:
    given = list(names)
    texts = [f"-A {name} -j ACCEPT" for name in names]
    pieces = generated_table_text("nat", names, list(texts))
    assert names == given
    declared = [f":{name} - [0:0]" for name in names]
    assert pieces == ["*nat", *(["\n".join(declared)] if names else []), *texts, "COMMIT"]
