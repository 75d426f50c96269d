"""A CEL template's compiled expressions kept on disk (../cache.py), so a run over an unchanged catalogue does
not compile them again: cel-cpp reads a serialized expression back about eight times faster than it compiles it.

One file per template source holds, per (environment, expression text), the serialized checked expression or
the compile error (for expressions that fail by design, such as those too deeply nested to bind variables in).
"""

from __future__ import annotations

import base64
import contextlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from ..cache import cache_key, driver_digest, write_atomically


@cache
def _digest() -> str:
    return driver_digest(Path(__file__).parent, "cel-expr-python")


class CompiledExpressions:
    """Compiles expressions in named environments, through the cache file of one template source when
    `directory` is given; `save()` writes back what was compiled afresh."""

    def __init__(self, environments: dict[str, Any], directory: Path | None, source: Any):
        self._environments = environments
        self._path = directory / "cel" / f"{cache_key(_digest(), source)}.json" if directory is not None else None
        self._entries: dict[str, dict[str, str]] = {}
        self._changed = False
        if self._path is not None:
            try:
                loaded = json.loads(self._path.read_text(encoding="utf-8"))
                self._entries = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                pass

    def compile(self, environment: str, text: str) -> Any:
        """The compiled expression; RuntimeError (cel-cpp's message) when it does not compile."""
        key = f"{environment}\0{text}"
        entry = self._entries.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("error"), str):
            raise RuntimeError(entry["error"])
        if isinstance(entry, dict) and isinstance(entry.get("expression"), str):
            try:
                return self._environments[environment].deserialize(base64.b64decode(entry["expression"]))
            except (RuntimeError, ValueError):
                pass
        self._changed = True
        try:
            expression = self._environments[environment].compile(text)
        except RuntimeError as exc:
            self._entries[key] = {"error": str(exc)}
            raise
        self._entries[key] = {"expression": base64.b64encode(expression.serialize()).decode()}
        return expression

    def save(self) -> None:
        if self._path is None or not self._changed:
            return
        with contextlib.suppress(OSError):
            write_atomically(self._path, json.dumps(self._entries).encode())
