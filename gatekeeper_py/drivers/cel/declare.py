"""Declaring Python functions to cel-cpp with Kubernetes' overloads.

The type checker needs every overload with its own types (`sum` of `list(int)` is an `int`, of `list(duration)`
a `duration`, and of `list(string)` a compile error), but cel-cpp's runtime tells overloads apart only by the
kinds of their arguments (list, map, message, int, ...), and refuses two with the same kinds. So overloads that
share their kinds are declared to the checker without an implementation, and one more overload of the same
kinds, typed with `gatekeeper_internal.Never` (a message no value has, so the checker never picks it for a typed
argument) and returning `dyn`, carries the function's implementation, which looks at its arguments' Python types.

Names CEL's standard library or an extension already declares (`string`, `indexOf`, `lastIndexOf`) are added
through a `cel.CelExtension`, which merges overloads into the existing function; every other name is declared
with `cel.NewEnv(functions=..., function_impls=...)`, the only route where an overload may lack an implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel

from .leaks import tracked
from .values import NEVER, to_cel

T = cel.Type
EXTENDED = frozenset({"string", "indexOf", "lastIndexOf"})
"""Functions the standard library or the strings extension declares already."""


class NoSuchOverload(ValueError):
    """Arguments a function's Python code does not take (cel-go's `no such overload`)."""

    def __init__(self) -> None:
        super().__init__("no such overload")


@dataclass(frozen=True)
class Function:
    """One CEL function: its overloads as (id, result, parameters, member or not), and the Python code behind
    all of them."""

    name: str
    impl: Callable[..., Any]
    overloads: tuple[Overload, ...]


Overload = tuple[str, cel.Type, tuple[cel.Type, ...], bool]


def function(
    name: str, impl: Callable[..., Any], *overloads: tuple[str, cel.Type, list[cel.Type]], member: bool = False
) -> Function:
    """`name` with `overloads` as (id, result, parameters), all called as members (`x.f()`) or all not."""
    return Function(name, impl, tuple((o, r, tuple(p), member) for o, r, p in overloads))


def _kind(t: cel.Type) -> str:
    name = t.name()
    if name.startswith("LIST"):
        return "list"
    if name.startswith("MAP"):
        return "map"
    return "message" if t.is_message() else name


_STAND_INS = {"list": T.List(NEVER), "map": T.Map(T.STRING, NEVER), "message": NEVER}


def _returning_cel(impl: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        return to_cel(impl(*args))

    return call


@dataclass
class Declarations:
    """What `cel.NewEnv` takes: `functions` and `function_impls`, and the `extension` for extended names."""

    functions: list[cel.FunctionDecl]
    function_impls: dict[str, Callable[..., Any]]
    extension: cel.CelExtension


def _merged(functions: Iterable[Function]) -> list[Function]:
    """One Function per name: libraries that share a name (`compareTo` of quantities and of versions) are tried
    in turn until one takes the arguments."""
    by_name: dict[str, list[Function]] = {}
    for fn in functions:
        by_name.setdefault(fn.name, []).append(fn)
    merged = []
    for name, same in by_name.items():
        if len(same) == 1:
            merged.append(same[0])
            continue
        impls = [fn.impl for fn in same]

        def call(*args: Any, impls: list[Callable[..., Any]] = impls) -> Any:
            for impl in impls:
                try:
                    return impl(*args)
                except NoSuchOverload:
                    continue
            raise NoSuchOverload

        merged.append(Function(name, call, tuple(o for fn in same for o in fn.overloads)))
    return merged


def declare(functions: Iterable[Function]) -> Declarations:
    declared: list[cel.FunctionDecl] = []
    impls: dict[str, Callable[..., Any]] = {}
    extended: list[cel.FunctionDecl] = []
    for fn in _merged(functions):
        groups: dict[tuple[bool, tuple[str, ...]], list[Overload]] = {}
        for overload in fn.overloads:
            groups.setdefault((overload[3], tuple(_kind(p) for p in overload[2])), []).append(overload)
        overloads: list[tuple[Overload, Callable[..., Any] | None]] = []
        for (member, kinds), group in groups.items():
            if len(group) == 1:
                overloads.append((group[0], fn.impl))
                continue
            if fn.name in EXTENDED or any(k not in _STAND_INS for k in kinds):
                raise ValueError(f"{fn.name}: overloads {[o[0] for o in group]} cannot be told apart at runtime")
            overloads.extend((overload, None) for overload in group)
            stand_in = (f"{group[0][0]}_runtime", T.DYN, tuple(_STAND_INS[k] for k in kinds), member)
            overloads.append((stand_in, _returning_cel(fn.impl)))
        if fn.name in EXTENDED:
            decl = [cel.Overload(i, r, list(p), is_member=m, impl=tracked(impl)) for (i, r, p, m), impl in overloads]
            extended.append(cel.FunctionDecl(fn.name, decl))
            continue
        declared.append(
            cel.FunctionDecl(fn.name, [cel.Overload(i, r, list(p), is_member=m) for (i, r, p, m), _ in overloads])
        )
        # Every implementation is `tracked`, or each call leaks its arguments and result (leaks.py).
        impls.update({o[0]: tracked(impl) for o, impl in overloads if impl is not None})
    return Declarations(declared, impls, cel.CelExtension("kubernetes", extended))
