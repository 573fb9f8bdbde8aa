"""What a class's instances will have, read from the class (no instance is built).

Many attributes exist only once some method has run (a sender's MID is set when it starts),
so a class is searched for the attribute names its methods assign as well as for class
attributes and annotations. Used by :func:`relay.compat.self_check`.
"""

from __future__ import annotations

import dis
import types
from collections.abc import Iterator


def _code_objects(value: object) -> Iterator[types.CodeType]:
    """The code of a class member (function, property, static or class method), nested too."""
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    if isinstance(value, property):
        for accessor in (value.fget, value.fset, value.fdel):
            if accessor is not None:
                yield from _code_objects(accessor)
        return
    code = getattr(value, "__code__", None)
    if not isinstance(code, types.CodeType):
        return
    pending = [code]
    while pending:
        current = pending.pop()
        yield current
        pending.extend(const for const in current.co_consts if isinstance(const, types.CodeType))


def _assigned_attributes(owner: type) -> frozenset[str]:
    """Attribute names that ``owner``'s own code (any method, MRO included) assigns.

    Instance attributes such as a sender's MID exist only once aiortc's methods have run,
    so a class is read for the attributes its code stores rather than built and inspected.
    """
    names: set[str] = set()
    for klass in owner.__mro__:
        for value in vars(klass).values():
            for code in _code_objects(value):
                names.update(
                    str(instruction.argval)
                    for instruction in dis.get_instructions(code)
                    if instruction.opname == "STORE_ATTR"
                )
    return frozenset(names)


def defines(owner: type, name: str) -> bool:
    """Whether ``owner`` or its instances have attribute ``name``, judged from the class alone:
    a class attribute, an annotation, or an attribute some method of the class assigns."""
    if hasattr(owner, name):
        return True
    if any(name in vars(klass).get("__annotations__", {}) for klass in owner.__mro__):
        return True  # declared on the class, assigned by other code (aioice's local_candidate)
    return name in _assigned_attributes(owner)
