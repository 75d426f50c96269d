"""Formatting shared by the commands: Go-style quoting, JSON/YAML rendering, error lines."""

from __future__ import annotations

import json
import sys
from typing import Any

from ..gostrings import go_quote

__all__ = ["error_line", "go_quote", "to_json", "to_yaml"]


def to_json(value: Any) -> str:
    """gator's JSON: indented by four spaces, non-ASCII kept."""
    return json.dumps(value, indent=4, ensure_ascii=False)


def to_yaml(value: Any) -> str:
    import yaml

    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True)


def error_line(message: str, prefix: str = "error") -> None:
    """One line on stderr for bad input (or, with prefix="warning", for something worth knowing)."""
    print(f"{prefix}: {message}", file=sys.stderr)
