"""Checks that a value can travel as JSON, as everything Gatekeeper handles does."""

from __future__ import annotations

import json
import re
from typing import Any

# No check for values that contain themselves: they are nested without end, which the recursion limit reports
# (and the check costs some 15% of encoding a review).
_ENCODER = json.JSONEncoder(allow_nan=False, check_circular=False)
_UNESCAPED = json.JSONEncoder(allow_nan=False, check_circular=False, ensure_ascii=False)


# In ASCII JSON text, left to right: an escaped backslash, a UTF-16 surrogate pair, or a lone surrogate (group 1).
_ESCAPES = re.compile(r"\\\\|\\ud[89ab][0-9a-f]{2}\\ud[c-f][0-9a-f]{2}|(\\ud[89a-f][0-9a-f]{2})")


# An integer of 19 digits or more outside a string (possibly inside one: then only a slower path is taken).
_LONG_INTEGER = re.compile(r"(?<![\w.\"])-?\d{19,}")
_INT64 = range(-(2**63), 2**63)


def _replace_lone(found: re.Match[str]) -> str:
    return "\\ufffd" if found.group(1) else found.group(0)


def _has_surrogates(value: Any) -> bool:
    """Whether a string in `value` holds UTF-16 surrogates as code points (paired or not: a real non-BMP
    character is one code point, and is printed as a pair of escapes too)."""
    try:
        _UNESCAPED.encode(value).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _go_integer(text: str) -> int | float:
    """An integer as Kubernetes decodes JSON: an int64 when it fits, else a float64; beyond that, an error."""
    value = int(text)
    if value in _INT64:
        return value
    as_float = float(value) if len(text) < 320 else float("inf")
    if as_float in (float("inf"), float("-inf")):
        raise ValueError("out of range")
    return as_float


def json_problem(value: Any) -> str | None:
    """Why `value` is not JSON (NaN, infinity, nesting too deep), or None when it is."""
    return as_json(value)[0]


def as_json(value: Any) -> tuple[str | None, Any]:
    """Why `value` is not JSON (or None), and the value as Kubernetes' JSON decoder gives it to Gatekeeper: a
    string holding a lone UTF-16 surrogate (which Python's json module decodes from `"\\ud800"`, and no UTF-8
    text can carry) has it replaced by U+FFFD, an integer beyond int64 becomes a float64, in a copy; any other
    value is returned as it is."""
    try:
        text = _ENCODER.encode(value)
    except ValueError as exc:
        if "digits" in str(exc):  # Python refuses to print integers of more than sys.get_int_max_str_digits()
            return "it holds an integer too large for JSON to carry (beyond a float64)", value
        return "it holds a number that is not finite (NaN or infinity), which JSON cannot carry", value
    except RecursionError:
        return "it is nested too deeply", value
    except TypeError as exc:
        return f"it holds a value JSON cannot carry: {exc}", value
    surrogates = "\\ud" in text and _has_surrogates(value)
    if not surrogates and not _LONG_INTEGER.search(text):
        return None, value
    repaired = _ESCAPES.sub(_replace_lone, text) if surrogates else text
    try:
        return None, json.loads(repaired, parse_int=_go_integer)
    except ValueError:
        return "it holds an integer too large for JSON to carry (beyond a float64)", value
