"""Where an expression's string literals are, so the library's rewrites and checks leave their text alone."""

from __future__ import annotations

import re

_STRING = re.compile(
    r"""[rR]?[bB]?(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*")""",
    re.DOTALL,
)


def spans(expression: str) -> list[tuple[int, int]]:
    """The (start, end) of each string literal."""
    return [m.span() for m in _STRING.finditer(expression)]


def inside(found: list[tuple[int, int]], pos: int) -> tuple[int, int] | None:
    """The literal holding position `pos`, if any."""
    return next((s for s in found if s[0] <= pos < s[1]), None)
