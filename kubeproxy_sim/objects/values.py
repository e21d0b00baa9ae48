"""Frozen, slotted dataclasses made for about a third of what ``@dataclass(frozen=True, slots=True)`` costs.

``dataclass`` writes each class's ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__`` and
``__delattr__`` as source text and compiles each (Python 3.11): about 4.8M instructions a class, and the ~60
dataclasses ``rules`` imports before it reads its input were about half of its start-up (callgrind; importing
objects.model's 14 took 68.3M instructions, 26.0M as value classes). :func:`value_class` makes the same classes
with one compile a class, the ``__init__``, whose signature depends on the fields; equality and the hash are
closures over a getter of the compared fields, the rest the same functions for every class.

What a frozen slotted dataclass does, one of these does alike: ``dataclasses.fields``, ``replace``, ``asdict``
and ``astuple`` (``dataclass`` itself processes the fields and makes the slots), equality and hashing over the
fields compared (``field(compare=False)`` left out, another class never equal), the repr of the fields shown,
``FrozenInstanceError`` on assignment or deletion, pickling and copying, ``__match_args__``, a frozen dataclass
derived from one. Type checkers read the decorator as ``@dataclass(frozen=True)`` (``dataclass_transform``).
"""

from __future__ import annotations

from dataclasses import MISSING, Field, FrozenInstanceError, dataclass, field, fields
from operator import attrgetter
from reprlib import recursive_repr
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T", bound=type)

_set = object.__setattr__


@dataclass_transform(frozen_default=True, field_specifiers=(field, Field))
def value_class(cls: T) -> T:
    """``cls`` as ``@dataclass(frozen=True, slots=True)`` makes it (see the module doc)."""
    written = [name for name in (*_SHARED, "__eq__", "__hash__") if name in cls.__dict__]
    if written:
        raise TypeError(f"{cls.__qualname__} defines {written[0]}, which value_class writes")
    # Derived from a frozen dataclass (a value class says it is one), dataclass() must be told frozen, and then
    # writes the two frozen methods itself: two compiles more, for the rare subclass only.
    frozen_base = any(getattr(getattr(base, "__dataclass_params__", None), "frozen", False) for base in cls.__mro__[1:])
    for name, method in _SHARED.items():
        if not (frozen_base and name in _FROZEN_METHODS):
            setattr(cls, name, method)
    made: Any = dataclass(cls, init=False, repr=False, eq=False, slots=True, frozen=frozen_base)
    _say_frozen(made.__dataclass_params__)
    made.__value_shown__ = tuple(f.name for f in fields(made) if f.repr)
    made.__eq__, made.__hash__ = _comparisons(_key_getter([f.name for f in fields(made) if f.compare]))
    made.__init__ = _init(made)
    result: T = made
    return result


def _say_frozen(params: Any) -> None:
    """The class's dataclass parameters as ``@dataclass(frozen=True)``'s: what the methods written here do, and
    what ``dataclass`` checks a subclass against (a frozen dataclass may only derive from frozen ones)."""
    params.init = params.repr = params.eq = params.frozen = True


def _key_getter(names: list[str]) -> Any:
    """What equality and the hash compare: the tuple of the compared fields' values."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return lambda obj: ()


def _comparisons(key: Any) -> tuple[Any, Any]:
    """``__eq__`` and ``__hash__`` over ``key``'s tuple: closures, made without a compile, within a third of the
    speed of the ones ``dataclass`` compiles (a shared pair that looked the key up on the class took 2-3 times
    as long)."""

    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    def __hash__(self: Any) -> int:
        return hash(key(self))

    return __eq__, __hash__


def _init(cls: type) -> Any:
    """The class's ``__init__``: the fields in order, defaults and default factories as ``dataclass`` takes
    them, each stored with ``object.__setattr__`` (as a frozen dataclass's is)."""
    params, lines = [], []
    env: dict[str, Any] = {"_set": _set, "_FACTORY": _FACTORY}
    for f in fields(cls):
        if f.default is not MISSING:
            env[f"_d_{f.name}"] = f.default
            default = f"=_d_{f.name}"
        elif f.default_factory is not MISSING:
            env[f"_f_{f.name}"] = f.default_factory
            default = "=_FACTORY"
        else:
            default = ""
        if not f.init:
            if not default:
                continue  # (left unset, for __post_init__ to write)
            value = f"_d_{f.name}" if f.default is not MISSING else f"_f_{f.name}()"
        else:
            params.append(f"{f.name}{default}")
            value = f"_f_{f.name}() if {f.name} is _FACTORY else {f.name}" if default == "=_FACTORY" else f.name
        lines.append(f" _set(self, {f.name!r}, {value})")
    post = " self.__post_init__()" if hasattr(cls, "__post_init__") else ""
    text = f"def __init__(self, {', '.join(params)}):\n" + "\n".join([*lines, post or " pass"])
    exec(text, env)  # (the one compile a class: see the module doc)
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = {f.name: f.type for f in fields(cls) if f.init} | {"return": None}
    return init


class _Factory:
    """The default of a parameter whose field has a default factory (``dataclass``'s ``_HAS_DEFAULT_FACTORY``)."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


@recursive_repr()
def _repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__value_shown__)
    return f"{self.__class__.__qualname__}({shown})"


def _setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _getstate(self: Any) -> list[Any]:
    return [getattr(self, f.name) for f in fields(self)]


def _setstate(self: Any, state: list[Any]) -> None:
    for f, value in zip(fields(self), state, strict=True):
        _set(self, f.name, value)


_FROZEN_METHODS = ("__setattr__", "__delattr__")
_SHARED = {"__repr__": _repr, "__setattr__": _setattr, "__delattr__": _delattr,
           "__getstate__": _getstate, "__setstate__": _setstate}
