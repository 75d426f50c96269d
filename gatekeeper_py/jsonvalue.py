"""Checks that a value can travel as JSON, as everything Gatekeeper handles does."""

from __future__ import annotations

import json
from typing import Any

# No check for values that contain themselves: they are nested without end, which the recursion limit reports
# (and the check costs some 15% of encoding a review).
_ENCODER = json.JSONEncoder(allow_nan=False, check_circular=False)


def json_problem(value: Any) -> str | None:
    """Why `value` is not JSON (NaN, infinity, nesting too deep), or None when it is."""
    try:
        _ENCODER.encode(value)
    except ValueError:
        return "it holds a number that is not finite (NaN or infinity), which JSON cannot carry"
    except RecursionError:
        return "it is nested too deeply"
    except TypeError as exc:
        return f"it holds a value JSON cannot carry: {exc}"
    return None
