"""Kubernetes' regex library (k8s.io/apiserver/pkg/cel/library/regex.go: `find`, `findAll`) and CEL's `matches`,
on RE2 itself (google-re2), the syntax and semantics Kubernetes' CEL has; each pattern is compiled once and kept,
where cel-cpp's own `matches` compiles its pattern on every call.

As in Kubernetes, a constant pattern that does not compile is a compile error (`check_literals`), and a pattern
computed at evaluation an evaluation error.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import re2
from cel_expr_python import cel

from .declare import Function, function
from .literals import inside, spans
from .rewrite import CACHED_MATCHES

T = cel.Type
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would also print every bad pattern to stderr


# RE2's error codes as Go's regexp/syntax words them (Kubernetes' CEL compiles patterns with Go's regexp).
_GO_CODES = {
    "missing )": "missing closing )",
    "missing ]": "missing closing ]",
    "bad repetition operator": "invalid nested repetition operator",
    "no argument for repetition operator": "missing argument to repetition operator",
    "trailing \\": "trailing backslash at end of expression",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid repetition size": "invalid repeat count",
    "invalid named capture group": "invalid named capture",
    "pattern too large - compile failed": "expression too large",
}


def _go_error(exc: re2.error) -> str:
    """`error parsing regexp: <code>: `<fragment>``, Go's wording, from RE2's `<code>: <fragment>`."""
    reason = exc.args[0].decode(errors="replace") if isinstance(exc.args[0], bytes) else str(exc.args[0])
    code, _, fragment = reason.partition(": ")
    return f"error parsing regexp: {_GO_CODES.get(code, code)}: `{fragment}`"


@functools.lru_cache(maxsize=1024)
def compiled(pattern: str) -> Any:
    """The compiled pattern, kept: cel-cpp's own `matches` compiles its pattern on every call, which costs some
    50 microseconds for a pattern such as `^[a-z][a-z0-9-]{1,30}$`."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        raise ValueError(_go_error(exc)) from None


def _matches(text: str, pattern: str) -> bool:
    # As UTF-8 bytes (how RE2 reads text anyway): google-re2 then skips mapping offsets back to characters,
    # which is half the time of a call.
    return compiled(pattern).search(text.encode()) is not None


def _find(text: str, pattern: str) -> str:
    found = compiled(pattern).search(text)
    return found.group(0) if found else ""


def _find_all(text: str, pattern: str, limit: int = -1) -> list[str]:
    if limit == 0:
        return []
    matches = [m.group(0) for m in compiled(pattern).finditer(text)]
    return matches if limit < 0 else matches[:limit]


def functions() -> list[Function]:
    s = T.STRING
    return [
        function(CACHED_MATCHES, _matches, ("gk_matches_member", T.BOOL, [s, s]), member=True),
        function(CACHED_MATCHES, _matches, ("gk_matches", T.BOOL, [s, s])),
        function("find", _find, ("string_find_string", s, [s, s]), member=True),
        function(
            "findAll",
            _find_all,
            ("string_find_all_string", T.List(s), [s, s]),
            ("string_find_all_string_int", T.List(s), [s, s, T.INT]),
            member=True,
        ),
    ]


# A call with a constant pattern: `.find('...')`, `.findAll("...", n)`, `.matches(r'...')`, `matches(x, '...')`.
_LITERAL_CALL = re.compile(
    rf"""(?P<name>\.\s*(?:find|findAll|matches|{CACHED_MATCHES})|(?<![\w.])(?:matches|{CACHED_MATCHES})\s*\((?:[^'"()]|'[^']*'|"[^"]*")*?,)"""
    r"""\s*\(?\s*"""
    r"""(?P<raw>[rR]?)(?P<quote>'|")(?P<body>(?:\\.|(?!(?P=quote)).)*)(?P=quote)\s*[,)]""",
    re.DOTALL,
)


def _unescaped(body: str, raw: bool) -> str | None:
    """A CEL string literal's value, for the escapes patterns use; None when unsure (then no check is made)."""
    if raw:
        return body
    out, i = [], 0
    while i < len(body):
        if body[i] != "\\":
            out.append(body[i])
            i += 1
            continue
        nxt = body[i + 1 : i + 2]
        simple = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r", "?": "?", "`": "`"}
        if nxt in simple:
            out.append(simple[nxt])
            i += 2
        else:
            return None
    return "".join(out)


def check_literals(expression: str) -> None:
    """RuntimeError, worded as cel-cpp words a compile error, for a constant pattern RE2 does not take, as
    Kubernetes refuses it when the expression is compiled."""
    strings = spans(expression)
    for found in _LITERAL_CALL.finditer(expression):
        if inside(strings, found.start()) is not None:
            continue
        pattern = _unescaped(found.group("body"), bool(found.group("raw")))
        if pattern is None:
            continue
        try:
            compiled(pattern)
        except ValueError as exc:
            # the column in the expression as written, where `matches` was not yet the cached one
            column = found.start("quote") + 1
            column -= expression.count(CACHED_MATCHES, 0, found.start()) * (len(CACHED_MATCHES) - len("matches"))
            # As Kubernetes words them: cel-go's check of `matches` literals, the regex library's own for the rest.
            reason = "invalid matches argument" if "matches" in found.group("name") else str(exc)
            raise RuntimeError(f"ERROR: <input>:1:{column}: {reason}") from None
