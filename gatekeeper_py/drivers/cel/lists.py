"""Kubernetes' list library (k8s.io/apiserver/pkg/cel/library/lists.go) and the list and set extensions of
cel-go that Kubernetes enables (ext.Lists version 3 and ext.Sets), which cel-expr-python does not ship. The
optional-returning `first`/`last` and the macro `sortBy` come through a rewrite of the expression (`rewrite`).

Kubernetes declares `sum` for lists of int, uint, double and duration, and `min`, `max`, `isSorted` for lists of
comparable types, so other lists are compile errors. Values compare as CEL compares them: numbers across types
(Kubernetes enables cross-type numeric comparisons), but a bool is never a number.
"""

from __future__ import annotations

import datetime
import functools
import itertools
import re
from collections.abc import Callable
from typing import Any

from cel_expr_python import cel

from .calls import rewrite_calls
from .declare import Function, NoSuchOverload, function
from .rewrite import BOUND_PREFIX

T = cel.Type
_SUMMABLE = {"int": T.INT, "uint": T.UINT, "double": T.DOUBLE, "duration": T.DURATION}
_COMPARABLE = {
    **_SUMMABLE,
    "bool": T.BOOL,
    "timestamp": T.TIMESTAMP,
    "string": T.STRING,
    "bytes": T.BYTES,
}


def _family(value: Any) -> type:
    if isinstance(value, bool):
        return bool
    if isinstance(value, int | float):
        return float
    return type(value)


def cel_equal(a: Any, b: Any) -> bool:
    """CEL's heterogeneous equality on converted values: numbers by value, bools only with bools, lists and maps
    element by element."""
    if _family(a) is not _family(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(cel_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(cel_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _compare(a: Any, b: Any) -> int:
    if _family(a) is not _family(b) or isinstance(a, list | dict):
        raise NoSuchOverload
    return (a > b) - (a < b)


def _is_sorted(items: list[Any]) -> bool:
    return all(_compare(a, b) <= 0 for a, b in itertools.pairwise(items))


def _sum(items: list[Any]) -> Any:
    if not items:
        return 0  # cel-go picks the first overload, int, for an empty list of unknown type
    total = items[0]
    for item in items[1:]:
        if type(item) is not type(total) or isinstance(total, bool):  # CEL adds only values of one type
            raise NoSuchOverload
        total = total + item
    if isinstance(total, bool | str | list | dict | datetime.datetime):
        raise NoSuchOverload
    return total


def _extreme(name: str, prefer: int) -> Callable[[list[Any]], Any]:
    def pick(items: list[Any]) -> Any:
        if not items:
            raise ValueError(f"{name} called on empty list")
        best = items[0]
        for item in items[1:]:
            if _compare(best, item) == prefer:
                best = item
        return best

    return pick


def _index_of(items: list[Any], value: Any) -> int:
    return next((i for i, x in enumerate(items) if cel_equal(x, value)), -1)


def _last_index_of(items: list[Any], value: Any) -> int:
    return next((i for i in range(len(items) - 1, -1, -1) if cel_equal(items[i], value)), -1)


# --- ext.Lists ---


def _slice(items: list[Any], start: int, end: int) -> list[Any]:
    if start < 0 or end < 0:
        raise ValueError(f"cannot slice({start}, {end}), negative indexes not supported")
    if start > end:
        raise ValueError(f"cannot slice({start}, {end}), start index must be less than or equal to end index")
    if end > len(items):
        raise ValueError(f"cannot slice({start}, {end}), list is length {len(items)}")
    return items[start:end]


def _flatten(items: list[Any], depth: int = 1) -> list[Any]:
    if depth < 0:
        raise ValueError("level must be non-negative")
    out: list[Any] = []
    for item in items:
        if isinstance(item, list) and depth > 0:
            out.extend(_flatten(item, depth - 1))
        else:
            out.append(item)
    return out


def _distinct(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if not any(cel_equal(item, seen) for seen in out):
            out.append(item)
    return out


def _sort(items: list[Any]) -> list[Any]:
    if items and any(_family(i) is not _family(items[0]) for i in items):
        raise ValueError("list elements must have the same type")
    return sorted(items, key=functools.cmp_to_key(_compare))


def _range(n: int) -> list[int]:
    return list(range(n))


def _sort_by(items: list[Any], keys: list[Any]) -> list[Any]:
    """`items` in the order of their `keys` (stable), for the rewritten `sortBy` macro."""
    _sort(keys)  # the keys must be of one comparable type
    order = sorted(range(len(items)), key=functools.cmp_to_key(lambda i, j: _compare(keys[i], keys[j])))
    return [items[i] for i in order]


SORT_BY = BOUND_PREFIX + "sort_by"
_SORT_BY_CALL = re.compile(r"\.\s*sortBy\s*\(")


def rewrite(expression: str) -> str:
    """`first()`, `last()` (which return optionals) and the macro `sortBy(e, key)`, rewritten in CEL the
    environment has: `first()` binds the list and takes `optional.none()` or `optional.of(list[0])`, `sortBy`
    sorts the list by `list.map(e, key)`."""
    if "first" not in expression and "last" not in expression and "sortBy" not in expression:
        return expression

    def end(receiver: str, arguments: str, bound: str, last: bool) -> str:
        index = f"size({bound}) - 1" if last else "0"
        return f"cel.bind({bound}, {receiver}, size({bound}) == 0 ? optional.none() : optional.of({bound}[{index}]))"

    def sort_by(receiver: str, arguments: str, bound: str) -> str:
        return f"cel.bind({bound}, {receiver}, {bound}.{SORT_BY}({bound}.map{arguments}))"

    for which in ("first", "last"):
        pattern = re.compile(rf"\.\s*{which}\s*\((?=\s*\))")
        expression = rewrite_calls(expression, pattern, lambda r, a, b, w=which: end(r, a, b, w == "last"), which)
    return rewrite_calls(expression, _SORT_BY_CALL, sort_by, "sort_by")


# --- ext.Sets ---


def _contains(items: list[Any], wanted: list[Any]) -> bool:
    return all(any(cel_equal(w, i) for i in items) for w in wanted)


def _intersects(a: list[Any], b: list[Any]) -> bool:
    return any(any(cel_equal(x, y) for y in b) for x in a)


def functions() -> list[Function]:
    a_list, dyn = T.List(T.DYN), T.DYN
    return [
        function(
            "isSorted",
            _is_sorted,
            *((f"list_{n}_is_sorted_bool", T.BOOL, [T.List(t)]) for n, t in _COMPARABLE.items()),
            member=True,
        ),
        function("sum", _sum, *((f"list_{n}_sum_{n}", t, [T.List(t)]) for n, t in _SUMMABLE.items()), member=True),
        function(
            "max",
            _extreme("max", -1),
            *((f"list_{n}_max_{n}", t, [T.List(t)]) for n, t in _COMPARABLE.items()),
            member=True,
        ),
        function(
            "min",
            _extreme("min", 1),
            *((f"list_{n}_min_{n}", t, [T.List(t)]) for n, t in _COMPARABLE.items()),
            member=True,
        ),
        function("indexOf", _index_of, ("list_a_index_of_int", T.INT, [a_list, dyn]), member=True),
        function("lastIndexOf", _last_index_of, ("list_a_last_index_of_int", T.INT, [a_list, dyn]), member=True),
        function("slice", _slice, ("list_slice", a_list, [a_list, T.INT, T.INT]), member=True),
        function(
            "flatten",
            _flatten,
            ("list_flatten", a_list, [a_list]),
            ("list_flatten_int", a_list, [a_list, T.INT]),
            member=True,
        ),
        function("distinct", _distinct, ("list_distinct", a_list, [a_list]), member=True),
        function("reverse", lambda items: list(reversed(items)), ("list_reverse", a_list, [a_list]), member=True),
        function(
            "sort",
            _sort,
            *((f"list_{n}_sort", T.List(t), [T.List(t)]) for n, t in _COMPARABLE.items()),
            member=True,
        ),
        function("lists.range", _range, ("lists_range", T.List(T.INT), [T.INT])),
        function(SORT_BY, _sort_by, ("list_sort_by_keys", a_list, [a_list, a_list]), member=True),
        function("sets.contains", _contains, ("list_sets_contains_list", T.BOOL, [a_list, a_list])),
        function(
            "sets.equivalent",
            lambda a, b: _contains(a, b) and _contains(b, a),
            ("list_sets_equivalent_list", T.BOOL, [a_list, a_list]),
        ),
        function("sets.intersects", _intersects, ("list_sets_intersects_list", T.BOOL, [a_list, a_list])),
    ]
