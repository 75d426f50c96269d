"""Give back the references cel-expr-python keeps when it calls a Python-implemented CEL function.

cel-expr-python 0.1.3 converts a call's arguments into a new tuple and never releases it, nor the value the
function returns: every call leaks its arguments (a whole list of containers, for `containers.indexOf(c)`) and
its result. Kubernetes' list and regex functions are Python here (library.py), and the catalogue's templates
call them per container, so a review of the starter set leaked some 33 KB.

The fix, from outside the binding: each Python implementation is wrapped (`tracked`) to find the binding's
tuple among the objects the garbage collector tracks as young (the newest tuple whose items are those very
arguments) and to note it and the result; after the evaluation (`evaluate`), each loses the one reference the
binding kept, if nothing else holds it. A probe (`_leaks`) first checks, once, that this version of the binding
does leak both, so nothing is ever released twice.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import sys
import threading
from collections.abc import Callable
from typing import Any

_local = threading.local()
_lock = threading.Lock()  # a release sees every other holder: no other thread is releasing or scanning
_decref = ctypes.pythonapi.Py_DecRef
_decref.argtypes = [ctypes.py_object]
_decref.restype = None

# sys.getrefcount of a leaked object while `_release` inspects it: the leak, the local variable and
# getrefcount's own argument.
_HELD_ONLY_BY_THE_LEAK = 3


def tracked(impl: Callable[..., Any]) -> Callable[..., Any]:
    """`impl` as a CEL function's implementation whose calls `evaluate` can clean up after."""

    @functools.wraps(impl)
    def call(*args: Any) -> Any:
        calls = getattr(_local, "calls", None)
        if calls is None:
            return impl(*args)
        entry: list[Any] = [_leaked_tuple(args), None]
        calls.append(entry)
        result = impl(*args)
        if sys.getrefcount(result) == 2:  # made for this call (held by `result` alone): the binding's only, next
            entry[1] = result
        return result

    return call


def _leaked_tuple(args: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The binding's tuple of these very arguments, found while it is young (newest objects last); held from now
    on, so a collection that would stop tracking it (a tuple of strings and numbers) cannot hide it."""
    if not any(_fresh(a) for a in args):
        return None  # shared objects only (None, small numbers, ...): another tuple may hold the same
    with _lock:  # the list of young objects holds each of them: no release may run while it exists
        return _newest_tuple_of(args)


def _newest_tuple_of(args: tuple[Any, ...]) -> tuple[Any, ...] | None:
    for generation in (0, 1):  # a collection since the binding made it moved it to generation 1
        for obj in reversed(gc.get_objects(generation=generation)):
            same = type(obj) is tuple and obj is not args and len(obj) == len(args)
            if same and all(a is b for a, b in zip(args, obj, strict=True)):
                return obj
    return None


def _fresh(value: Any) -> bool:
    """Whether the binding made `value` for this call alone (Python shares None, booleans, small integers and
    empty or 1-character strings), so no tuple but the binding's can hold it."""
    kind = type(value)
    if kind is str or kind is bytes:
        return len(value) > 1
    if kind is int:
        return not -5 <= value <= 256
    return kind not in (bool, type(None), tuple)  # lists, maps, floats, the library's protobuf values


def evaluate(program: Any, *args: Any, **kwargs: Any) -> Any:
    """`program.eval(*args, **kwargs)`, then the references the Python functions it called leaked released."""
    if not _ENABLED:
        return program.eval(*args, **kwargs)
    outer = getattr(_local, "calls", None)
    calls: list[list[Any]] = []
    _local.calls = calls
    try:
        return program.eval(*args, **kwargs)
    finally:
        _local.calls = outer
        if calls:
            _release(calls)


def _release(calls: list[list[Any]]) -> None:
    """Drop the reference the binding kept to each call's tuple, then to its result (which may be one of the
    arguments, freed with the tuple), if nothing but the leak and this function holds it."""
    with _lock:  # checking that only the leak holds an object and releasing it must not interleave with a scan
        for slot in (0, 1):
            for entry in calls:
                obj = entry[slot]
                entry[slot] = None
                # held by the leak, `obj`, and getrefcount's argument
                if obj is not None and sys.getrefcount(obj) == _HELD_ONLY_BY_THE_LEAK:
                    _decref(obj)
                del obj


def _leaks() -> bool:
    """Whether the binding leaks both a call's argument tuple and its result, as 0.1.3 does: two calls of a probe
    function, then the first call's tuple and result must still be alive and held by nothing else."""
    from cel_expr_python import cel

    seen: list[list[Any]] = []

    def probe(text: str) -> list[str]:
        seen.append([text, [text]])
        return seen[-1][1]

    t = cel.Type
    overload = cel.Overload("gatekeeper_py_leak_probe_s", t.DYN, [t.STRING], is_member=True, impl=probe)
    extension = cel.CelExtension("gatekeeper_py_leak_probe", [cel.FunctionDecl("probe", [overload])])
    env = cel.NewEnv(variables={"x": t.DYN}, extensions=[extension])
    program = env.compile("x.probe()")
    for i in range(2):
        program.eval(data={"x": f"probe-{i}-" + "x" * 20}).type()
    del program, env, extension, overload
    text, result = seen[0]
    seen.clear()
    # the result: the leak, `result`, getrefcount's argument; the text: the leaked tuple and `text` too, and the
    # leaked result list (which holds it) is not released here.
    if sys.getrefcount(result) != 3:
        return False
    holders = [o for o in gc.get_referrers(text) if type(o) is tuple and len(o) == 1]
    leaked = len(holders) == 1 and sys.getrefcount(holders[0]) == 3  # the leak, `holders`, getrefcount's argument
    if leaked:
        _decref(holders[0])
        _decref(result)
    return leaked


_ENABLED = False
try:
    _ENABLED = _leaks()
except Exception:  # a probe that cannot run: leave the binding's references alone
    _ENABLED = False
