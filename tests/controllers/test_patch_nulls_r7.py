"""Reviewer r7's findings on the patch types: nulls and ``$patch`` directives inside a value the strategic merge
takes whole (a key the live object lacks, or holds as another JSON type), nulls the JSON merge patch prunes, a
merge patch that is null, and two refusals' wording. Every expected document and message is kubectl 1.33's
(``kubectl patch --local -f FILE -p PATCH -o json``), which applies the same libraries the API server does
(apimachinery strategicpatch with IgnoreUnmatchedNulls, gopkg.in/evanphx/json-patch.v4 MergePatch)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubeproxy_sim.controllers.patch import PatchError, apply_patch

from .test_patch_get_label import exposed, run


def _service(selector: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "ClusterIP", "ports": [{"protocol": "TCP", "port": 80, "targetPort": 80}],
                            "sessionAffinity": "None", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"]}
    if selector is not None:
        spec["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}}, "spec": spec}


def _spec_after(kind: str, live: dict[str, Any], patch: Any) -> Any:
    return apply_patch(kind, copy.deepcopy(live), patch)["spec"]


# -- strategic: a value taken whole -------------------------------------------------------------------------------


def test_a_null_annotation_on_a_service_without_annotations_is_no_change_in_the_scenario() -> None:
    """The user's path: expose, then remove an annotation that is not there; the script stopped with
    'metadata.annotations: expected a map of strings' (the null stored), kubectl says no change."""
    world, rng = exposed(1, "ClusterIP")
    world, played = run(world, rng, "kubectl patch service web -p "
                                    "'{\"metadata\":{\"annotations\":{\"service.kubernetes.io/topology-mode\":null}}}'")
    assert played[0].error is None
    assert played[0].notes == ("service/web patched (no change)",)


def test_a_new_maps_nulls_are_dropped_and_its_other_keys_kept() -> None:
    assert _spec_after("strategic", _service(), {"spec": {"selector": {"app": None, "x": "1"}}})["selector"] == {
        "x": "1"}


def test_a_new_key_whose_value_is_a_patch_directive_is_not_set() -> None:
    assert "selector" not in _spec_after("strategic", _service(), {"spec": {"selector": {"$patch": "delete"}}})


def test_directive_maps_inside_a_new_value_are_removed_at_any_depth_and_its_list_nulls_kept() -> None:
    spec = _spec_after("strategic", _service(), {"spec": {
        "externalIPs": [{"$patch": "delete"}, "1.2.3.4"],
        "type": {"a": None, "b": {"$patch": "x"}, "c": [{"$patch": "delete"}, None, {"d": None}]}}})
    assert spec["externalIPs"] == ["1.2.3.4"]
    assert spec["type"] == {"c": [None, {}]}  # a string replaced by a map: taken whole, so cleaned the same way


def test_a_live_list_replaced_by_a_directive_map_is_deleted() -> None:
    assert "clusterIPs" not in _spec_after("strategic", _service(), {"spec": {"clusterIPs": {"$patch": "replace"}}})


def test_a_primitive_list_deletion_against_a_field_of_another_type_changes_nothing() -> None:
    live = _service()
    assert _spec_after("strategic", live, {"spec": {"$deleteFromPrimitiveList/type": ["ClusterIP"]}}) == live["spec"]
    assert _spec_after("strategic", live, {"spec": {"$deleteFromPrimitiveList/sessionAffinity": 1}}) == live["spec"]
    # a scalar of the same type is set, as the library sets it
    assert _spec_after("strategic", live, {"spec": {"$deleteFromPrimitiveList/sessionAffinity": "x"}})[
        "sessionAffinity"] == "x"


# -- merge (RFC 7386 as evanphx/json-patch v4.12.0 applies it) -----------------------------------------------------


def test_merge_prunes_nulls_in_the_maps_of_a_replaced_list_and_keeps_null_items() -> None:
    spec = _spec_after("merge", _service({"app": "web"}), {"spec": {"ports": [{"port": 81, "name": None}, None]}})
    assert spec["ports"] == [{"port": 81}, None]


def test_merge_prunes_a_new_values_nulls_at_every_depth() -> None:
    spec = _spec_after("merge", _service({"app": "web"}), {"spec": {
        "x": {"a": None, "b": [{"c": None}]}, "selector": {"app": [{"a": None}]}}})
    assert spec["x"] == {"b": [{}]}
    assert spec["selector"] == {"app": [{}]}


def test_merge_keeps_nulls_in_a_list_that_replaces_a_live_map() -> None:
    """merge(): a live map and a patch value that is no map: the patch's node is returned untouched."""
    spec = _spec_after("merge", _service({"app": "web"}), {"spec": {"selector": [{"a": None}, None]}})
    assert spec["selector"] == [{"a": None}, None]


@pytest.mark.parametrize("patch", [None, "x", 1, True])
def test_a_merge_patch_of_null_or_a_scalar_is_an_invalid_json_patch(patch: Any) -> None:
    with pytest.raises(PatchError, match=r"^Invalid JSON Patch$"):
        apply_patch("merge", _service(), patch)


def test_a_strategic_patch_of_null_is_still_no_change() -> None:
    live = _service()
    assert apply_patch("strategic", copy.deepcopy(live), None) == live


# -- wording -----------------------------------------------------------------------------------------------------


def test_a_non_map_in_a_set_element_order_list_is_named_without_a_trailing_period() -> None:
    with pytest.raises(PatchError) as caught:
        apply_patch("strategic", _service(), {"spec": {"$setElementOrder/ports": [{"port": 81}, "x"]}})
    assert str(caught.value) == "value for key 1 is not a map"


def test_a_null_where_a_map_is_expected_is_named_as_gos_fmt_names_a_nil_type() -> None:
    with pytest.raises(PatchError) as caught:
        apply_patch("strategic", _service(), {"spec": {"$setElementOrder/ports": [None], "ports": [{"port": 80}]}})
    assert str(caught.value) == "expected a map[string]interface {}, but received a %!s(<nil>)"


# -- found by rerunning r7's fuzzer ------------------------------------------------------------------------------

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}}, "template": {
        "metadata": {"labels": {"app": "d"}},
        "spec": {"containers": [{"name": "http", "image": "nginx", "env": [{"name": "B", "value": "1"}]}],
                 "initContainers": [{"name": "i", "image": "busybox", "env": [{"name": "B", "value": "1"}]}]}}}}


def _pod_spec(patch: dict[str, Any]) -> Any:
    return apply_patch("strategic", copy.deepcopy(DEPLOYMENT), {"spec": {"template": {"spec": patch}}})[
        "spec"]["template"]["spec"]


def test_a_containers_env_is_merged_by_name() -> None:
    """Container.Env: patchMergeKey name, patchStrategy merge; it was replaced whole."""
    twice = [{"name": "A", "value": "2"}, {"name": "A", "value": "3"}]  # the second merged into the first
    spec = _pod_spec({"containers": [{"name": "http", "env": twice}]})
    assert spec["containers"][0]["env"] == [{"name": "A", "value": "3"}, {"name": "B", "value": "1"}]
    spec = _pod_spec({"containers": [{"name": "http", "env": [{"name": "B", "$patch": "delete"}]}]})
    assert spec["containers"][0]["env"] == []


def test_an_init_containers_env_takes_a_set_element_order() -> None:
    spec = _pod_spec({"initContainers": [{"name": "i", "env": [{"name": "C", "value": "2"}],
                                          "$setElementOrder/env": [{"name": "C"}, {"name": "B"}]}]})
    assert spec["initContainers"][0]["env"] == [{"name": "C", "value": "2"}, {"name": "B", "value": "1"}]


def test_a_null_list_beside_its_set_element_order_is_refused() -> None:
    with pytest.raises(PatchError) as caught:
        apply_patch("strategic", _service(), {"spec": {"ports": None, "$setElementOrder/ports": [{"port": 80}]}})
    assert str(caught.value) == "expected a []interface {}, but received a %!s(<nil>)"


def test_a_list_added_with_its_set_element_order_loses_its_delete_items() -> None:
    """mergePatchIntoOriginal: a list only the patch has is taken through removeDirectives, with or without the
    order directive (it kept {"$patch": "delete", ...} when the directive came along)."""
    spec = _pod_spec({"containers": [{"name": "http", "ports": [
        {"containerPort": 53}, {"$patch": "delete", "containerPort": 8080}],
        "$setElementOrder/ports": [{"containerPort": 53}]}]})
    assert spec["containers"][0]["ports"] == [{"containerPort": 53}]
