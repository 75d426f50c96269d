"""Rewriting calls in an expression's text, for library functions cel-expr-python cannot declare as Kubernetes
does (functions returning optionals, macros): each call found outside string literals is replaced by text built
from its receiver and its parenthesised arguments."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

from .literals import inside, spans
from .rewrite import BOUND_PREFIX

_OPENING, _CLOSING = {"(": ")", "[": "]", "{": "}"}, {")": "(", "]": "[", "}": "{"}


def _close(text: str, found: list[tuple[int, int]], opening: int) -> int:
    """The index just past the bracket matching the one at `opening`; -1 when there is none."""
    depth, i = 0, opening
    while i < len(text):
        if (span := inside(found, i)) is not None:
            i = span[1]
            continue
        depth += 1 if text[i] in _OPENING else -1 if text[i] in _CLOSING else 0
        i += 1
        if depth == 0:
            return i
    return -1


def _receiver_start(text: str, found: list[tuple[int, int]], end: int) -> int:
    """Where the member-call receiver ending at `end` (exclusive) starts: names, dots, literals, calls, indexing
    and bracketed expressions."""
    i = end
    while i > 0:
        c = text[i - 1]
        if (span := inside(found, i - 1)) is not None:
            i = span[0]
        elif c in _CLOSING:
            depth, j = 0, i - 1
            while j >= 0:
                if (span := inside(found, j)) is not None:
                    j = span[0] - 1
                    continue
                depth += 1 if text[j] in _CLOSING else -1 if text[j] in _OPENING else 0
                if depth == 0:
                    break
                j -= 1
            i = max(j, 0)
        elif c.isalnum() or c in "_.":
            i -= 1
        else:
            break
    return i


_SKIPPED = "\0"  # put after a call's first character to hide it from the pattern; removed at the end


def arguments_of(arguments: str) -> list[str]:
    """The top-level arguments of `(a, b, ...)`, stripped."""
    inner, found = arguments[1:-1], spans(arguments[1:-1])
    parts, depth, start = [], 0, 0
    for i, c in enumerate(inner):
        if inside(found, i) is not None:
            continue
        depth += 1 if c in _OPENING else -1 if c in _CLOSING else 0
        if c == "," and depth == 0:
            parts.append(inner[start:i].strip())
            start = i + 1
    parts.append(inner[start:].strip())
    return parts if parts != [""] else []


def rewrite_calls(
    expression: str,
    call: re.Pattern[str],
    build: Callable[[str, str, str], str | None],
    name: str,
    member: bool = True,
) -> str:
    """Each call matched by `call` (a pattern ending at the call's opening parenthesis) replaced by
    `build(receiver, arguments, bound)`, unless that is None: the receiver's text (empty unless `member`), the
    arguments with their parentheses, and a fresh name to bind values to. The last call is rewritten first, so a
    rewritten text never holds a call still to be rewritten."""
    counter = itertools.count()
    while True:
        found = spans(expression)
        calls = [m for m in call.finditer(expression) if inside(found, m.start()) is None]
        if not calls:
            return expression.replace(_SKIPPED, "")
        last = calls[-1]
        opening = last.end() - 1
        closing = _close(expression, found, opening)
        if closing < 0:  # a syntax error, which the compiler reports
            return expression.replace(_SKIPPED, "")
        start = _receiver_start(expression, found, last.start()) if member else last.start()
        receiver = expression[start : last.start()] if member else ""
        replacement = build(receiver, expression[opening:closing], f"{BOUND_PREFIX}{name}_{next(counter)}")
        if replacement is None:
            expression = expression[: last.start() + 1] + _SKIPPED + expression[last.start() + 1 :]
            continue
        expression = expression[:start] + replacement + expression[closing:]
