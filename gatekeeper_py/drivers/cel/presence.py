"""`has()` as Kubernetes' CEL (cel-go) evaluates it on JSON objects.

A presence test on something that is not a map (null, a string, a number) is false in cel-go, while cel-cpp,
following the CEL specification, reports an error. Gatekeeper's templates rely on cel-go's reading (for
example `has(variables.params.exemptImages)` when the constraint has no parameters, so `variables.params` is
null). So before compiling, each `has(e.f)` whose `e` is a dotted name is written `(type(e) == map && has(e.f))`.
A missing key along `e` stays an error, as in cel-go. String literals are left untouched.
"""

from __future__ import annotations

import re

_STRING = re.compile(
    r"""[rR]?(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*")""",
    re.DOTALL,
)
_HAS = re.compile(r"(?<![\w.])has\(\s*([A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)*)\s*\.\s*([A-Za-z_]\w*)\s*\)")


def _guarded(found: re.Match[str]) -> str:
    holder = ".".join(part.strip() for part in found.group(1).split("."))
    return f"(type({holder}) == map && has({holder}.{found.group(2)}))"


def presence_as_cel_go(expression: str) -> str:
    """The expression with every `has(e.f)` of a dotted `e` guarded by `type(e) == map`."""
    out, pos = [], 0
    for literal in _STRING.finditer(expression):
        out.append(_HAS.sub(_guarded, expression[pos : literal.start()]))
        out.append(literal.group(0))
        pos = literal.end()
    out.append(_HAS.sub(_guarded, expression[pos:]))
    return "".join(out)
