"""The CEL environment Kubernetes has (its base environment as of Kubernetes 1.36): CEL's standard library with
the strings extension at version 2, `cel.bind`, optionals, and Kubernetes' own libraries, one module each:
lists (with cel-go's list and set extensions), regex, URLs, quantity, IP/CIDR (network), format and semver.

The library's values are protobuf messages named as Kubernetes names their types (values.py); how overloads are
declared to cel-cpp is in declare.py. `prepare` is applied to each expression before it is compiled: it rewrites
what the format library needs (formats.py) and refuses constant regular expressions RE2 does not take.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping

from cel_expr_python import cel
from cel_expr_python.ext import ext_bindings, ext_optional, ext_strings

from . import comprehensions, formats, lists, network, quantity, regex, semver, urls
from .declare import Function, declare
from .values import POOL

KUBERNETES_VERSION = "1.36"


def library_functions() -> list[Function]:
    return [
        *lists.functions(),
        *regex.functions(),
        *urls.functions(),
        *quantity.functions(),
        *network.functions(),
        *formats.functions(),
        *semver.functions(),
        *comprehensions.functions(),
    ]


_FUNCTIONS = library_functions()
_DECLARATIONS = declare(_FUNCTIONS)
_MEMBER_ONLY = frozenset({fn.name for fn in _FUNCTIONS}) - {
    fn.name for fn in _FUNCTIONS if not all(o[3] for o in fn.overloads)
}
_NO_OVERLOAD = re.compile(r"found no matching overload for '([^']+)' applied to '\((.*)\)'")


def kubernetes_environment(variables: Mapping[str, cel.Type]) -> cel.Env:
    """A CEL environment as Kubernetes builds one (its base environment), declaring `variables`."""
    return cel.NewEnv(
        descriptor_pool=POOL,
        variables=dict(variables),
        extensions=[
            ext_strings.ExtStrings(version=2),
            ext_bindings.ExtBindings(),
            ext_optional.ExtOptional(),
            _DECLARATIONS.extension,
        ],
        functions=_DECLARATIONS.functions,
        function_impls=_DECLARATIONS.function_impls,
    )


def prepare(expression: str) -> str:
    """The expression as the environment compiles it; RuntimeError (a compile error) for a constant regular
    expression that does not compile."""
    regex.check_literals(expression)
    return comprehensions.rewrite(lists.rewrite(formats.rewrite(expression)))


def _first_argument(arguments: str) -> tuple[str, str]:
    depth = 0
    for i, c in enumerate(arguments):
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth == 0 and arguments.startswith(", ", i):
            return arguments[:i], arguments[i + 2 :]
    return arguments, ""


def cel_go_wording(message: str) -> str:
    """A compile error as cel-go words it, where it differs from cel-cpp: a member call's missing overload names
    the receiver's type first (`applied to 'list(string).()'`, cel-cpp: `'(list(string))'`)."""

    def reworded(found: re.Match[str]) -> str:
        name, arguments = found.groups()
        if name not in _MEMBER_ONLY:
            return found.group(0)
        receiver, rest = _first_argument(arguments)
        return f"found no matching overload for '{name}' applied to '{receiver}.({rest})'"

    return _NO_OVERLOAD.sub(reworded, message)


_POSITION = re.compile(r"<input>:(\d+):(\d+):")


def _offset(text: str, line: int, column: int) -> int:
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    return starts[min(line, len(starts)) - 1] + column - 1


def as_written(message: str, expression: str) -> str:
    """cel-cpp's compile error about `prepare(expression)` with each `<input>:line:column:` moved to the same
    place in `expression` (a place inside rewritten text: where that text begins)."""
    try:
        prepared = prepare(expression)
    except RuntimeError:  # the message is prepare's own, about the expression as written
        return message
    if prepared == expression:
        return message
    blocks = difflib.SequenceMatcher(None, expression, prepared, autojunk=False).get_matching_blocks()

    def moved(found: re.Match[str]) -> str:
        offset = _offset(prepared, int(found.group(1)), int(found.group(2)))
        written = 0
        for a, b, size in blocks:
            if b > offset:
                break
            written = a + min(offset - b, size)
        line = expression.count("\n", 0, written) + 1
        column = written - (expression.rfind("\n", 0, written) + 1) + 1
        return f"<input>:{line}:{column}:"

    return _POSITION.sub(moved, message)
