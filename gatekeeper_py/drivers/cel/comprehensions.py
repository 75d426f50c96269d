"""cel-go's two-variable comprehensions, which Kubernetes enables from 1.32 (ext.TwoVarComprehensions):
`all(i, v, p)`, `exists(i, v, p)`, `existsOne(i, v, p)`, `transformList(i, v, [filter,] t)`,
`transformMap(k, v, [filter,] t)` and `transformMapEntry(k, v, [filter,] e)`, where `i`/`k` is a list's index or a
map's key and `v` the element.

They are macros, which cel-expr-python cannot add, so `rewrite` writes them with CEL's own one-variable macros:
the receiver is bound once, its keys are `lists.range(size(r))` for a list and `r.map(k, k)` for a map, and `v`
is bound to `r[k]` inside each step (`cel.bind`), so errors and short-circuits follow the one-variable macros'.
Maps are built by two small library functions.
"""

from __future__ import annotations

import re
from typing import Any

from cel_expr_python import cel

from .calls import arguments_of, rewrite_calls
from .declare import Function, function
from .rewrite import BOUND_PREFIX
from .values import to_cel

T = cel.Type
TO_MAP = BOUND_PREFIX + "to_map"
MERGE = BOUND_PREFIX + "merge_maps"
_NAMES = ("all", "exists", "existsOne", "exists_one", "transformList", "transformMap", "transformMapEntry")


def _to_map(keys: list[Any], values: list[Any]) -> dict[Any, Any]:
    return {k: to_cel(v) for k, v in zip(keys, values, strict=True)}


def _merge(maps: list[dict[Any, Any]]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for entries in maps:
        for key, value in entries.items():
            if key in out:
                raise ValueError(f"insert failed: key {key} already exists")
            out[key] = to_cel(value)
    return out


def functions() -> list[Function]:
    dyn_list, dyn_map = T.List(T.DYN), T.Map(T.DYN, T.DYN)
    return [
        function(TO_MAP, _to_map, ("two_var_to_map", dyn_map, [dyn_list, dyn_list])),
        function(MERGE, _merge, ("two_var_merge_maps", dyn_map, [T.List(dyn_map)])),
    ]


def _builder(name: str) -> Any:
    def build(receiver: str, arguments: str, bound: str) -> str | None:
        args = arguments_of(arguments)
        four = name.startswith("transform") and len(args) == 4
        if (len(args) != 3 and not four) or not all(re.fullmatch(r"[A-Za-z_]\w*", a) for a in args[:2]):
            return None  # a one-variable macro, or not a comprehension at all: left as written
        key, value, *body = args

        def step(expr: str) -> str:
            return f"cel.bind({value}, {bound}[{key}], {expr})"

        keys = f"(type({bound}) == map ? dyn({bound}.map({key}, {key})) : dyn(lists.range(size({bound}))))"
        if four:
            keys = f"{keys}.filter({key}, {step(body[0])})"
        last = step(body[-1])
        if name in ("all", "exists"):
            result = f"{keys}.{name}({key}, {last})"
        elif name in ("existsOne", "exists_one"):
            result = f"{keys}.exists_one({key}, {last})"
        elif name == "transformList":
            result = f"{keys}.map({key}, {last})"
        elif name == "transformMap":
            listed = f"{bound}_keys"
            result = f"cel.bind({listed}, {keys}, {TO_MAP}({listed}, {listed}.map({key}, {last})))"
        else:
            result = f"{MERGE}({keys}.map({key}, {last}))"
        return f"cel.bind({bound}, {receiver}, {result})"

    return build


def rewrite(expression: str) -> str:
    """The expression with its two-variable comprehensions written with one-variable macros."""
    for name in _NAMES:
        if name in expression:
            pattern = re.compile(rf"\.\s*{name}\s*\(")
            expression = rewrite_calls(expression, pattern, _builder(name), f"two_var_{name}")
    return expression
