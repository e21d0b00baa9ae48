"""A Service patch of a field the model does not hold is refused as not modelled, never reported as ``patched (no
change)`` (reviewer r5: metadata.finalizers, spec.loadBalancerIP, ipFamilyPolicy and allocateLoadBalancerNodePorts
were dropped silently); the patched document is compared with the Service read back from it."""

from __future__ import annotations

import pytest

from .test_patch_get_label import exposed, run


@pytest.mark.parametrize(("patch", "where"), [
    ('{"metadata":{"finalizers":["example.com/keep"]}}', "metadata.finalizers"),
    ('{"metadata":{"ownerReferences":[]}}', None),  # an empty list is Go's zero value: unset
    ('{"spec":{"loadBalancerIP":"1.2.3.4"}}', "spec.loadBalancerIP"),
    ('{"spec":{"ipFamilyPolicy":"PreferDualStack"}}', "spec.ipFamilyPolicy"),
    ('{"spec":{"allocateLoadBalancerNodePorts":false}}', "spec.allocateLoadBalancerNodePorts"),
    ('{"spec":{"ports":[{"port":80,"unknownField":1}]}}', "spec.ports[0].unknownField"),
])
def test_a_field_the_model_does_not_hold_is_refused(patch: str, where: str | None) -> None:
    world, rng = exposed(kind="LoadBalancer")
    after, played = run(world, rng, f"patch service web -p '{patch}'")
    if where is None:
        assert played[0].notes == ("service/web patched (no change)",), played[0]
        return
    assert played[0].error is not None, played[0].notes
    assert f"the patch changes {where}, which the simulator does not model" in played[0].error
    assert after is world


@pytest.mark.parametrize("patch", [
    '{"spec":{"publishNotReadyAddresses":false}}',
    '{"metadata":{"labels":{}}}',
    '{"spec":{"sessionAffinity":null}}',
    '{"spec":{"externalTrafficPolicy":"Cluster"}}',
])
def test_a_held_field_at_its_default_is_no_change(patch: str) -> None:
    world, rng = exposed(kind="LoadBalancer")
    _, played = run(world, rng, f"patch service web --type merge -p '{patch}'")
    assert played[0].error is None, played[0].error
    assert played[0].notes == ("service/web patched (no change)",)


def test_held_fields_still_change() -> None:
    world, rng = exposed(kind="NodePort")
    _, played = run(world, rng, "patch service web -p '{\"spec\":{\"type\":\"ClusterIP\",\"publishNotReadyAddresses\""
                                ":true},\"metadata\":{\"labels\":{\"a\":\"b\"}}}'")
    assert played[0].error is None, played[0].error
    assert played[0].notes == ("service/web patched",)
