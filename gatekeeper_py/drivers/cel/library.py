"""The Kubernetes CEL library functions that policies use, on top of CEL's standard and strings extensions.

Lists (`isSorted`, `sum`, `min`, `max`, `indexOf`, `lastIndexOf`), regular expressions (`find`, `findAll`) and
resource quantities (`quantity`, `isQuantity` and the Quantity methods), with Kubernetes' semantics. A Quantity
is carried as a one-key map, `{"__quantity__": "<as written>"}`, since the runtime has no user types.
"""

from __future__ import annotations

import itertools
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from cel_expr_python import cel

T = cel.Type
QUANTITY_KEY = "__quantity__"


# --- lists ---


def _comparable(items: list[Any]) -> list[Any]:
    kinds = {bool if isinstance(i, bool) else (int if isinstance(i, int | float) else type(i)) for i in items}
    if len(kinds) > 1:
        raise ValueError("no such overload: list elements are not all of one comparable type")
    return items


def _is_sorted(items: list[Any]) -> bool:
    xs = _comparable(list(items))
    return all(a <= b for a, b in itertools.pairwise(xs))


def _sum(items: list[Any]) -> Any:
    xs = _comparable(list(items))
    return sum(xs) if xs else 0


def _min(items: list[Any]) -> Any:
    xs = _comparable(list(items))
    if not xs:
        raise ValueError("min called on empty list")
    return min(xs)


def _max(items: list[Any]) -> Any:
    xs = _comparable(list(items))
    if not xs:
        raise ValueError("max called on empty list")
    return max(xs)


def _index_of(items: list[Any], value: Any) -> int:
    xs = list(items)
    return next((i for i, x in enumerate(xs) if x == value), -1)


def _last_index_of(items: list[Any], value: Any) -> int:
    xs = list(items)
    return next((i for i in range(len(xs) - 1, -1, -1) if xs[i] == value), -1)


# --- regular expressions ---


def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regex: {exc}") from None


def _find(text: str, pattern: str) -> str:
    found = _regex(pattern).search(text)
    return found.group(0) if found else ""


def _find_all(text: str, pattern: str, limit: int = -1) -> list[str]:
    if limit == 0:
        return []
    matches = [m.group(0) for m in _regex(pattern).finditer(text)]
    return matches if limit < 0 else matches[:limit]


# --- quantities (k8s.io/apimachinery resource.Quantity) ---

_SUFFIXES = {
    "Ki": Fraction(2**10), "Mi": Fraction(2**20), "Gi": Fraction(2**30), "Ti": Fraction(2**40),
    "Pi": Fraction(2**50), "Ei": Fraction(2**60),
    "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 10**3), "": Fraction(1),
    "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
    "P": Fraction(10**15), "E": Fraction(10**18),
}  # fmt: skip
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$")


def _parse_quantity(text: str) -> Fraction:
    found = _QUANTITY.match(text.strip()) if isinstance(text, str) else None
    if not found:
        raise ValueError(f"quantities must match the regular expression '{_QUANTITY.pattern}'")
    number, exponent, suffix = found.groups()
    try:
        value = Fraction(Decimal(number))
    except InvalidOperation:
        raise ValueError(f"invalid quantity {text!r}") from None
    if exponent:
        return value * Fraction(10) ** int(exponent[1:])
    return value * _SUFFIXES[suffix or ""]


def _quantity(text: str) -> dict[str, str]:
    _parse_quantity(text)
    return {QUANTITY_KEY: text}


def _is_quantity(text: str) -> bool:
    try:
        _parse_quantity(text)
    except ValueError:
        return False
    return True


def _value(q: Any) -> Fraction:
    if isinstance(q, dict) and QUANTITY_KEY in q:
        return _parse_quantity(q[QUANTITY_KEY])
    if isinstance(q, int) and not isinstance(q, bool):
        return Fraction(q)
    raise ValueError("no such overload: not a Quantity")


def _as_quantity(value: Fraction) -> dict[str, str]:
    text = str(value.numerator) if value.denominator == 1 else format(Decimal(value.numerator) / value.denominator, "f")
    return {QUANTITY_KEY: text}


def _compare(a: Any, b: Any) -> int:
    x, y = _value(a), _value(b)
    return (x > y) - (x < y)


def _as_integer(q: Any) -> int:
    value = _value(q)
    if value.denominator != 1 or not -(2**63) <= value.numerator < 2**63:
        raise ValueError("cannot convert value to integer")
    return value.numerator


def _sign(q: Any) -> int:
    value = _value(q)
    return (value > 0) - (value < 0)


def _member(name: str, overload: str, result: cel.Type, params: list[cel.Type], impl: Any) -> cel.FunctionDecl:
    return cel.FunctionDecl(name, [cel.Overload(overload, result, params, is_member=True, impl=impl)])


def kubernetes_library() -> cel.CelExtension:
    """The extension to pass to `cel.NewEnv`."""
    dyn_list = T.List(T.DYN)
    decls = [
        _member("isSorted", "k8s_list_is_sorted", T.BOOL, [dyn_list], _is_sorted),
        _member("sum", "k8s_list_sum", T.DYN, [dyn_list], _sum),
        _member("min", "k8s_list_min", T.DYN, [dyn_list], _min),
        _member("max", "k8s_list_max", T.DYN, [dyn_list], _max),
        _member("indexOf", "k8s_list_index_of", T.INT, [dyn_list, T.DYN], _index_of),
        _member("lastIndexOf", "k8s_list_last_index_of", T.INT, [dyn_list, T.DYN], _last_index_of),
        _member("find", "k8s_string_find", T.STRING, [T.STRING, T.STRING], _find),
        cel.FunctionDecl(
            "findAll",
            [
                cel.Overload(
                    "k8s_string_find_all", T.List(T.STRING), [T.STRING, T.STRING], is_member=True, impl=_find_all
                ),
                cel.Overload(
                    "k8s_string_find_all_n",
                    T.List(T.STRING),
                    [T.STRING, T.STRING, T.INT],
                    is_member=True,
                    impl=_find_all,
                ),
            ],
        ),
        cel.FunctionDecl("quantity", [cel.Overload("k8s_quantity", T.DYN, [T.STRING], impl=_quantity)]),
        cel.FunctionDecl("isQuantity", [cel.Overload("k8s_is_quantity", T.BOOL, [T.STRING], impl=_is_quantity)]),
        _member("compareTo", "k8s_quantity_compare_to", T.INT, [T.DYN, T.DYN], _compare),
        _member("isGreaterThan", "k8s_quantity_greater", T.BOOL, [T.DYN, T.DYN], lambda a, b: _compare(a, b) > 0),
        _member("isLessThan", "k8s_quantity_less", T.BOOL, [T.DYN, T.DYN], lambda a, b: _compare(a, b) < 0),
        _member("add", "k8s_quantity_add", T.DYN, [T.DYN, T.DYN], lambda a, b: _as_quantity(_value(a) + _value(b))),
        _member("sub", "k8s_quantity_sub", T.DYN, [T.DYN, T.DYN], lambda a, b: _as_quantity(_value(a) - _value(b))),
        _member("isInteger", "k8s_quantity_is_integer", T.BOOL, [T.DYN], lambda q: _value(q).denominator == 1),
        _member("asInteger", "k8s_quantity_as_integer", T.INT, [T.DYN], _as_integer),
        _member("asApproximateFloat", "k8s_quantity_as_float", T.DOUBLE, [T.DYN], lambda q: float(_value(q))),
        _member("sign", "k8s_quantity_sign", T.INT, [T.DYN], _sign),
    ]
    return cel.CelExtension("kubernetes", decls)
