"""Gatekeeper's compile-time rules for a template's Rego, checked on the parsed modules.

Gatekeeper (frameworks' compilers.go and regorewriter) requires a `violation` rule in the entry module, lib
packages under `lib.`, imports only of `data.lib` and `future`, references to `data` only under `data.lib`
and `data.inventory`, and (through OPA's compiler) only functions that exist. `print` statements are erased,
as Gatekeeper does unless printing is enabled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ...errors import TemplateError
from .rewrite import DEPRECATED_BUILTINS, map_bottom_up
from .syntax import Boolean, Call, Expr, Module, Node, Ref, String, Var, lib_names, walk

ALLOWED_DATA_ROOTS = ("lib", "inventory")
# OPA builtins that rego-cpp does not have (OPA v1.17; deprecated ones only exist for Rego v0).
UNSUPPORTED_BUILTINS = frozenset({
    "http.send", "json.match_schema", "json.verify_schema", "rego.parse_module", "strings.render_template",
    "providers.aws.sign_req", "net.cidr_contains", "net.cidr_intersects", "net.cidr_expand", "net.cidr_merge",
    "net.cidr_contains_matches", "net.cidr_is_valid", "net.lookup_ip_addr", "net.cidr_overlap",
    "rego.metadata.rule", "rego.metadata.chain", "graphql.parse", "graphql.parse_and_verify",
    "graphql.parse_query", "graphql.parse_schema", "graphql.is_valid", "graphql.schema_is_valid", "trace",
})  # fmt: skip


def _fail(reason: str) -> TemplateError:
    return TemplateError(f"invalid ConstraintTemplate: {reason}")


def erase_prints(module: Module) -> Module:
    """Every `print(...)` statement becomes `true`."""

    def erase(node: Node) -> Node:
        if isinstance(node, Expr) and isinstance(node.value, Call) and node.value.name == ("print",):
            return dataclasses.replace(node, value=Boolean(value=True, line=node.line, col=node.col))
        return node

    return map_bottom_up(module, erase)


def check_module(module: Module, kind: str, *, entry: bool) -> None:
    """The rules every module of a template must follow; `entry` for the template's own module, else a lib."""
    if entry and not any(rule.name == "violation" for rule in module.rules):
        raise _fail("invalid rego: invalid module: missing required rules: [violation]")
    if not entry and (len(module.package) < 2 or module.package[0] != "lib"):
        raise _fail(f"invalid lib prefix: path data.{'.'.join(module.package)} not found in lib prefixes")
    for imp in module.imports:
        path = ".".join(imp.path)
        if imp.path[0] == "input":
            raise _fail(f"cannot import input: {path}")
        if not (imp.path[0] == "future" or imp.path[:2] == ("data", "lib")):
            raise _fail(f'invalid import: bad import: "{path}"')
    nodes = list(walk(module.rules))
    ref_heads = {id(node.head) for node in nodes if isinstance(node, Ref)}
    for node in nodes:
        shown = _disallowed_data_ref(node)
        if shown is None and node == Var(name="data") and id(node) not in ref_heads:
            shown = "data"  # the whole of `data`
        if shown:
            raise _fail(f"invalid data references: check refs failed on module {kind}: disallowed ref {shown}")


def _disallowed_data_ref(node: Node) -> str | None:
    if isinstance(node, Ref) and node.head == Var(name="data"):
        first = node.parts[0]
        if isinstance(first, String):
            return None if first.value in ALLOWED_DATA_ROOTS else f"data.{first.value}"
        return "data[...]"
    if isinstance(node, Call) and node.name[0] == "data" and len(node.name) > 1:
        return None if node.name[1] == "lib" else f"data.{node.name[1]}"
    return None


def check_calls(module: Module, module_name: str, is_builtin: Callable[[str], bool], version: str) -> None:
    """Every function called must be the module's own, a lib's, a builtin rego-cpp has, or (Rego v0) a
    deprecated builtin we provide."""
    own = {rule.name for rule in module.rules} | (set(DEPRECATED_BUILTINS) if version != "v1" else set())
    libs = lib_names(module)
    for node in walk(module.rules):
        if not isinstance(node, Call):
            continue
        name = ".".join(node.name)
        if name in own or node.name[0] in libs or is_builtin(name):
            continue
        if name in UNSUPPORTED_BUILTINS or node.name[0] in ("net", "graphql"):
            raise _fail(
                f"{module_name}:{node.line}: the builtin {name} is not supported by rego-cpp, "
                "the Rego engine of gatekeeper-py"
            )
        raise _fail(f"{module_name}:{node.line}: undefined function {name}")


def reads_inventory(module: Module) -> bool:
    """Whether the module refers to `data.inventory` (its compiled bundle then depends on the inventory)."""
    return any(
        isinstance(node, Ref) and node.head == Var(name="data") and node.parts[0] == String(value="inventory")
        for node in walk(module.rules)
    )


def _input_reads(module: Module) -> tuple[int, int, int]:
    """How often the module names `input`, and how many of those are `input.review...` and `input.parameters...`."""
    inputs = reviews = parameters = 0
    for node in walk(module.rules):
        if node == Var(name="input"):
            inputs += 1
        elif isinstance(node, Ref) and node.head == Var(name="input"):
            reviews += node.parts[:1] == (String(value="review"),)
            parameters += node.parts[:1] == (String(value="parameters"),)
    return inputs, reviews, parameters


def reads_parameters(module: Module) -> bool:
    """Whether the module may read `input.parameters`: whether it uses `input` other than as `input.review...`
    (a template that does not gives every constraint the same violations)."""
    inputs, reviews, _ = _input_reads(module)
    imported = any(imp.path[0] == "input" and imp.path[1:2] != ("review",) for imp in module.imports)
    return imported or inputs != reviews


def reads_whole_input(module: Module) -> bool:
    """Whether the module uses `input` other than as `input.review...` or `input.parameters...` (`walk(input)`,
    `input[k]`, `count(input)`): it must then see exactly Gatekeeper's input, `review` and `parameters`."""
    inputs, reviews, parameters = _input_reads(module)
    imported = any(
        imp.path[0] == "input" and imp.path[1:2] not in (("review",), ("parameters",)) for imp in module.imports
    )
    return imported or inputs != reviews + parameters
