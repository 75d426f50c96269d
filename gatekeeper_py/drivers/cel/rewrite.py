"""Rewrites of a CEL expression's text before it is compiled; string literals are never touched.

Presence tests as Kubernetes' CEL (cel-go) evaluates them on JSON objects: a `has()` on something that is not
a map (null, a string, a number) is false in cel-go, while cel-cpp, following the CEL specification, reports an
error. Gatekeeper's templates rely on cel-go's reading (for example `has(variables.params.exemptImages)` when
the constraint has no parameters, so `variables.params` is null). So each `has(e.f)` whose `e` is a dotted name
is written `(type(e) == map && has(e.f))`. A missing key along `e` stays an error, as in cel-go.

Template variables bound inside the expressions that read them (`cel.bind`), so an expression evaluates with its
variables in one call, against inputs converted to CEL once, instead of each variable's value passing through
Python. A binding is evaluated eagerly where Kubernetes evaluates a variable lazily; the two differ only when a
variable fails to evaluate, and then the driver evaluates again the lazy way.

Calls of `matches` go to the library's own, which compiles each pattern once (cel-cpp's compiles it on every call).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence

_STRING = re.compile(
    r"""[rR]?(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*")""",
    re.DOTALL,
)
_HAS = re.compile(r"(?<![\w.])has\(\s*([A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)*)\s*\.\s*([A-Za-z_]\w*)\s*\)")
_VARIABLE = re.compile(r"(?<![\w.])variables\s*\.\s*([A-Za-z_]\w*)")
_PARAMS = re.compile(r"(?<![\w.])params(?!\w)")
_WHOLE_VARIABLES = re.compile(r"(?<![\w.])variables(?!\s*\.\s*[A-Za-z_]|\w)")
_HAS_VARIABLE = re.compile(r"(?<![\w.])has\(\s*variables\s*\.\s*([A-Za-z_]\w*)\s*\)")
_MATCHES_CALL = re.compile(r"(?<!\w)matches(?=\s*\()")
BOUND_PREFIX = "gatekeeper_internal_"
"""Names bound to variables; Gatekeeper refuses variable names with this prefix, so they cannot clash."""
CACHED_MATCHES = BOUND_PREFIX + "matches"
"""The library's `matches`, which keeps compiled patterns (library.py)."""


def _outside_literals(expression: str, rewrite: Callable[[str], str]) -> str:
    out, pos = [], 0
    for literal in _STRING.finditer(expression):
        out.append(rewrite(expression[pos : literal.start()]))
        out.append(literal.group(0))
        pos = literal.end()
    out.append(rewrite(expression[pos:]))
    return "".join(out)


def _found_outside_literals(pattern: re.Pattern[str], expression: str) -> bool:
    return any(pattern.search(code) for code in _STRING.split(expression))


def _guarded(found: re.Match[str]) -> str:
    holder = ".".join(part.strip() for part in found.group(1).split("."))
    return f"(type({holder}) == map && has({holder}.{found.group(2)}))"


def presence_as_cel_go(expression: str) -> str:
    """The expression with every `has(e.f)` of a dotted `e` guarded by `type(e) == map`."""
    return _outside_literals(expression, lambda code: _HAS.sub(_guarded, code))


def matches_through_cache(expression: str) -> str:
    """The expression with each call of `matches` (`s.matches(p)`, `matches(s, p)`) calling `CACHED_MATCHES`."""
    return _outside_literals(expression, lambda code: _MATCHES_CALL.sub(CACHED_MATCHES, code))


def declared_variables_present(expression: str, names: Collection[str]) -> str:
    """The expression with `has(variables.<name>)` of each declared variable `true`, as Kubernetes' lazily
    evaluated variables answer it (whether or not the variable evaluates)."""

    def declared(found: re.Match[str]) -> str:
        return "true" if found.group(1) in names else found.group(0)

    return _outside_literals(expression, lambda code: _HAS_VARIABLE.sub(declared, code))


def reads_params_directly(expression: str) -> bool:
    """Whether the expression names `params` (the whole constraint) itself, rather than `variables.params`."""
    return _found_outside_literals(_PARAMS, expression)


def reads_variables_whole(expression: str) -> bool:
    """Whether the expression uses `variables` other than as `variables.<name>` (`size(variables)`)."""
    return _found_outside_literals(_WHOLE_VARIABLES, expression)


def bind_variables(expression: str, variables: Sequence[tuple[str, str]]) -> str:
    """The expression with the template variables it reads, directly or through other variables, bound before it
    with `cel.bind` (in their order; as `dyn`, typed as variables are), and each `variables.<name>` read as the
    bound name. `variables` are the (name, expression) pairs in order, prepared as the expression is (presence
    tests rewritten, `has()` of declared variables already `true`); reads of names not among them are left."""
    known = {name for name, _ in variables}

    def renamed(text: str) -> tuple[str, set[str]]:
        read: set[str] = set()

        def replace(found: re.Match[str]) -> str:
            if found.group(1) not in known:
                return found.group(0)
            read.add(found.group(1))
            return BOUND_PREFIX + found.group(1)

        return _outside_literals(text, lambda code: _VARIABLE.sub(replace, code)), read

    body, needed = renamed(expression)
    bindings = []
    for name, text in reversed(variables):  # a variable reads only earlier ones
        if name in needed:
            init, read = renamed(text)
            needed |= read
            bindings.append((name, init))
    for name, init in bindings:
        body = f"cel.bind({BOUND_PREFIX}{name}, dyn({init}), {body})"
    return body
