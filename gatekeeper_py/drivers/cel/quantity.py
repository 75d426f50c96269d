"""Kubernetes' quantity library (k8s.io/apiserver/pkg/cel/library/quantity.go) on resource.Quantity's semantics:
parsing as `resource.ParseQuantity` does (its errors, values below a nano rounded up, binary values capped at
2^63-1), comparisons and arithmetic on the exact value, `isInteger`/`asInteger` only within int64.
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from cel_expr_python import cel

from .declare import Function, NoSuchOverload, function
from .values import QUANTITY, Quantity

T = cel.Type
FORMAT_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
SUFFIX_ERROR = "unable to parse quantity's suffix"
NUMERIC_ERROR = "unable to parse quantity's numeric value"
_LOOSE = re.compile(r"[+-]?[0-9.]+[eEinumkKMGTP]*[-+]?[0-9]*")
_NUMBER = re.compile(r"[+-]?[0-9]*\.?[0-9]*")
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_EXPONENT = re.compile(r"[eE][+-]?[0-9]+")
_NANO = Fraction(1, 10**9)
_INT64 = 2**63


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> Fraction:
    """The quantity's exact value; ValueError with Kubernetes' message when it is not one."""
    if not _LOOSE.fullmatch(text):
        raise ValueError(FORMAT_ERROR)
    number = _NUMBER.match(text).group(0)  # type: ignore[union-attr]
    suffix = text[len(number) :]
    if not any(c.isdigit() for c in number):
        raise ValueError(FORMAT_ERROR)
    try:
        value = Fraction(Decimal(number))
    except InvalidOperation:
        raise ValueError(NUMERIC_ERROR) from None
    if suffix in _BINARY:
        value *= 2 ** _BINARY[suffix]
    elif suffix in _DECIMAL:
        value *= Fraction(10) ** _DECIMAL[suffix]
    elif _EXPONENT.fullmatch(suffix):
        value *= Fraction(10) ** int(suffix[1:])
    else:
        raise ValueError(SUFFIX_ERROR)
    magnitude = abs(value)
    if magnitude % _NANO:  # below a nano: rounded up, so a request for some of a resource gets some
        magnitude = (magnitude // _NANO + 1) * _NANO
    if suffix in _BINARY and magnitude > _INT64 - 1:
        magnitude = Fraction(_INT64 - 1)
    return magnitude if value >= 0 else -magnitude


def _carry(value: Fraction) -> Any:
    return Quantity(value=str(value))


@functools.lru_cache(maxsize=4096)
def _exact(value: str) -> Fraction:
    return Fraction(value)


def _value(q: Any) -> Fraction:
    if isinstance(q, Quantity):
        return _exact(q.value)
    raise NoSuchOverload


def _make(text: str) -> Any:
    return _carry(parse(text))


def _is_quantity(text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


def _compare(a: Any, b: Any) -> int:
    x, y = _value(a), _value(b)
    return (x > y) - (x < y)


def _in_int64(value: Fraction) -> bool:
    return value.denominator == 1 and -_INT64 <= value.numerator < _INT64


def _as_integer(q: Any) -> int:
    value = _value(q)
    if not _in_int64(value):
        raise ValueError("cannot convert value to integer")
    return value.numerator


def _as_float(q: Any) -> float:
    value = _value(q)
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def _operand(x: Any) -> Fraction:
    return Fraction(x) if isinstance(x, int) and not isinstance(x, bool) else _value(x)


def functions() -> list[Function]:
    q = QUANTITY
    return [
        function("quantity", _make, ("string_to_quantity", q, [T.STRING])),
        function("isQuantity", _is_quantity, ("is_quantity_string", T.BOOL, [T.STRING])),
        function("sign", lambda x: (_value(x) > 0) - (_value(x) < 0), ("quantity_sign", T.INT, [q])),
        function(
            "isGreaterThan", lambda a, b: _compare(a, b) > 0, ("quantity_is_greater_than", T.BOOL, [q, q]), member=True
        ),
        function("isLessThan", lambda a, b: _compare(a, b) < 0, ("quantity_is_less_than", T.BOOL, [q, q]), member=True),
        function("compareTo", _compare, ("quantity_compare_to", T.INT, [q, q]), member=True),
        function("asApproximateFloat", _as_float, ("quantity_get_float", T.DOUBLE, [q]), member=True),
        function("asInteger", _as_integer, ("quantity_get_int", T.INT, [q]), member=True),
        function("isInteger", lambda x: _in_int64(_value(x)), ("quantity_is_integer", T.BOOL, [q]), member=True),
        function(
            "add",
            lambda a, b: _carry(_value(a) + _operand(b)),
            ("quantity_add", q, [q, q]),
            ("quantity_add_int", q, [q, T.INT]),
            member=True,
        ),
        function(
            "sub",
            lambda a, b: _carry(_value(a) - _operand(b)),
            ("quantity_sub", q, [q, q]),
            ("quantity_sub_int", q, [q, T.INT]),
            member=True,
        ),
    ]
