"""Checks that a value can travel as JSON, as everything Gatekeeper handles does."""

from __future__ import annotations

import json
from typing import Any


def json_problem(value: Any) -> str | None:
    """Why `value` is not JSON (NaN, infinity, nesting too deep), or None when it is."""
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return "it holds a number that is not finite (NaN or infinity), which JSON cannot carry"
    except RecursionError:
        return "it is nested too deeply"
    except TypeError as exc:
        return f"it holds a value JSON cannot carry: {exc}"
    return None
