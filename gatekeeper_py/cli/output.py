"""Formatting shared by the commands: Go-style quoting, JSON/YAML rendering, error lines."""

from __future__ import annotations

import json
import sys
import unicodedata
from typing import Any

_GO_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v",
               "\\": r"\\", '"': r"\""}  # fmt: skip


def go_quote(text: str) -> str:
    """Go's `%q` (strconv.Quote): printable characters kept, the rest escaped."""
    out = ['"']
    for ch in text:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch == " " or (ch.isprintable() and unicodedata.category(ch) not in ("Zs", "Zl", "Zp")):
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def to_json(value: Any) -> str:
    """gator's JSON: indented by four spaces, non-ASCII kept."""
    return json.dumps(value, indent=4, ensure_ascii=False)


def to_yaml(value: Any) -> str:
    import yaml

    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True)


def error_line(message: str) -> None:
    """One line on stderr for bad input."""
    print(f"error: {message}", file=sys.stderr)
