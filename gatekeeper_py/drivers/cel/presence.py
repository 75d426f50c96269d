"""`has()` as Kubernetes' CEL (cel-go) evaluates it on JSON objects.

cel-go answers `has(a.b.c)` with false when `a.b` itself is missing or null; cel-cpp, following the CEL
specification, reports an error instead. Gatekeeper's templates rely on cel-go's reading (for example
`has(object.spec.securityContext.seccompProfile)` on a Pod without a securityContext), so before compiling,
each `has()` of a dotted chain is spelt out link by link: `has(a.b.c)` becomes
`(has(a.b) && a.b != null && has(a.b.c))`.
String literals are left untouched.
"""

from __future__ import annotations

import itertools
import re

_STRING = re.compile(
    r"""[rR]?(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*")""",
    re.DOTALL,
)
_HAS_CHAIN = re.compile(r"(?<![\w.])has\(\s*([A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*){2,})\s*\)")


def _spell_out(found: re.Match[str]) -> str:
    parts = [part.strip() for part in found.group(1).split(".")]
    links = [".".join(parts[: i + 1]) for i in range(1, len(parts))]
    tests = [f"has({links[0]})"]
    for before, link in itertools.pairwise(links):
        tests += [f"{before} != null", f"has({link})"]
    return "(" + " && ".join(tests) + ")"


def presence_as_cel_go(expression: str) -> str:
    """The expression with every `has()` of a dotted chain of three or more names spelt out link by link."""
    out, pos = [], 0
    for literal in _STRING.finditer(expression):
        out.append(_HAS_CHAIN.sub(_spell_out, expression[pos : literal.start()]))
        out.append(literal.group(0))
        pos = literal.end()
    out.append(_HAS_CHAIN.sub(_spell_out, expression[pos:]))
    return "".join(out)
