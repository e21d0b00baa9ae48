"""A template's containers and init containers share one name space, as the API server validates a pod spec: a name
taken twice is refused at the second one's field (kubectl set image app=... would otherwise set both)."""

from __future__ import annotations

import yaml

from kubeproxy_sim.controllers.decode import decode_deployment
from kubeproxy_sim.errors import Severity

TEMPLATE = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [%s]
      initContainers: [%s]
"""
APP = "{name: app, image: nginx}"


def _errors(containers: str, init: str) -> tuple[bool, list[tuple[str | None, str]]]:
    deployment, problems = decode_deployment(yaml.safe_load(TEMPLATE % (containers, init)), "dep.yaml")
    return deployment is None, [(p.field, p.message) for p in problems if p.severity is Severity.ERROR]


def test_an_init_container_named_as_a_container_is_refused_at_its_name() -> None:
    refused, errors = _errors(APP, "{name: app, image: envoy, restartPolicy: Always}")
    assert refused
    assert [field for field, _ in errors] == ["spec.template.spec.initContainers[0].name"]
    assert errors[0][1].startswith('Duplicate value: "app"')


def test_two_containers_or_two_init_containers_of_one_name_are_refused_at_the_second() -> None:
    refused, errors = _errors(f"{APP}, {{name: sidecar, image: envoy}}, {APP}", "")
    assert refused and [field for field, _ in errors] == ["spec.template.spec.containers[2].name"]
    refused, errors = _errors(APP, "{name: init, image: busybox}, {name: init, image: alpine}")
    assert refused and [field for field, _ in errors] == ["spec.template.spec.initContainers[1].name"]


def test_distinct_names_decode_and_an_empty_one_is_no_duplicate() -> None:
    refused, errors = _errors(APP, "{name: init, image: busybox}")
    assert not refused and errors == []
    refused, errors = _errors(f"{APP}, {{image: nginx}}", "{image: busybox}")
    assert refused and [f for f, _ in errors] == ["spec.template.spec.containers[1].name",
                                                  "spec.template.spec.initContainers[0].name"]
    assert all(m.startswith("required") for _, m in errors)
