"""value_class makes the class ``@dataclass(frozen=True, slots=True)`` would, behaviour for behaviour, with one
compile instead of six (objects.values)."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from dataclasses import FrozenInstanceError, dataclass, field

import pytest

from kubeproxy_sim.objects.model import Endpoint, EndpointConditions, Service
from kubeproxy_sim.objects.values import value_class


def _body() -> dict[str, object]:
    """One class body, decorated both ways below: a default, a factory, a field left out of equality and repr,
    one the constructor does not take."""
    return {"__annotations__": {"name": "str", "port": "int", "tags": "list[str]", "origin": "str", "seen": "int"},
            "port": 80, "tags": field(default_factory=list), "origin": field(default="x", compare=False, repr=False),
            "seen": field(default=0, init=False), "__module__": __name__, "__qualname__": "Thing"}


Made = value_class(type("Thing", (), _body()))
Real = dataclass(frozen=True, slots=True)(type("Thing", (), _body()))


def test_construction_fields_and_repr_are_the_dataclass_s() -> None:
    for cls in (Made, Real):
        thing = cls("web", 8080, ["a"], origin="file")
        assert (thing.name, thing.port, thing.tags, thing.origin, thing.seen) == ("web", 8080, ["a"], "file", 0)
        assert cls("web").tags == [] and cls("web").tags is not cls("web").tags
        with pytest.raises(TypeError):
            cls("web", seen=1)
    assert repr(Made("web", 1, ["a"])) == repr(Real("web", 1, ["a"])) == "Thing(name='web', port=1, tags=['a'], seen=0)"
    assert [f.name for f in dataclasses.fields(Made)] == [f.name for f in dataclasses.fields(Real)]
    assert Made.__match_args__ == Real.__match_args__ and Made.__slots__ == Real.__slots__
    assert str(inspect.signature(Made)) == str(inspect.signature(Real)) == "(name: 'str', port: 'int' = 80, tags: " \
        "'list[str]' = <factory>, origin: 'str' = 'x') -> None"


def test_equality_and_hash_compare_the_compared_fields_of_one_class() -> None:
    a, b = Service("ns", "web"), Service("ns", "web", labels=(("k", "v"),))
    assert a == Service("ns", "web") and hash(a) == hash(Service("ns", "web")) and a != b
    assert Made("web", origin="one") == Made("web", origin="two")  # origin: compare=False
    assert Made("web") != Real("web") and (Made("web") == "web") is False
    assert {Endpoint(("10.0.0.1",)): 1}[Endpoint(("10.0.0.1",), EndpointConditions())] == 1


def test_frozen_and_copied_as_the_dataclass_is() -> None:
    service = Service("ns", "web")
    with pytest.raises(FrozenInstanceError):
        service.name = "other"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del service.name  # type: ignore[misc]
    assert dataclasses.replace(service, name="db") == Service("ns", "db")
    assert pickle.loads(pickle.dumps(service)) == service == copy.deepcopy(service)
    assert dataclasses.asdict(Made("web")) == dataclasses.asdict(Real("web"))


def test_a_class_that_writes_its_own_method_is_refused() -> None:
    with pytest.raises(TypeError, match="defines __eq__"):
        value_class(type("Own", (), {"__annotations__": {"a": "int"}, "__eq__": lambda self, other: True}))


def test_a_field_the_constructor_does_not_take_and_has_no_default_is_left_to_post_init() -> None:
    """objects.fields' Schema: ``plan`` (init=False, no default) is written by ``__post_init__`` alone."""
    from kubeproxy_sim.objects.fields import Schema

    leaf = Schema(frozenset({"a"}))
    schema = Schema(frozenset({"b"}), {"b": leaf})
    assert schema.plan == (("b", frozenset({"a"}), ()),) and "plan" not in repr(schema)


def test_the_classes_rules_imports_first_are_value_classes() -> None:
    """The start-up's saving, pinned: the model, the config and the rule context are made by value_class (one
    compile a class), not by dataclass (six)."""
    from kubeproxy_sim.netfilter.model import Rule
    from kubeproxy_sim.proxier.config import ProxyConfig
    from kubeproxy_sim.proxier.rules.context import SyncContext

    for cls in (Service, Endpoint, EndpointConditions, ProxyConfig, SyncContext, Rule):
        assert "_comparisons" in cls.__eq__.__qualname__, cls


def test_a_frozen_dataclass_may_derive_from_a_value_class() -> None:
    """dataclass checks a subclass against its bases' parameters: a value class says it is frozen."""
    derived = dataclass(frozen=True)(type("Derived", (Made,), {"__annotations__": {"extra": "int"}, "extra": 0,
                                                               "__module__": __name__}))
    thing = derived("web", extra=1)
    assert (thing.name, thing.extra) == ("web", 1) and Made.__dataclass_params__.frozen
    with pytest.raises(FrozenInstanceError):
        thing.extra = 2


def test_a_value_class_may_derive_from_a_value_class() -> None:
    """netfilter.trace derives value classes from value classes: dataclass then sees a frozen base."""
    derived = value_class(type("Derived", (Made,), {"__annotations__": {"extra": "int"}, "extra": 0,
                                                    "__module__": __name__}))
    thing = derived("web", extra=1)
    assert (thing.name, thing.extra) == ("web", 1) and thing == derived("web", extra=1) != derived("web")
    with pytest.raises(FrozenInstanceError):
        thing.extra = 2
