"""Run Gatekeeper's Rego templates on rego-cpp, one compiled bundle per template.

Each module of a template (Rego v0 or v1) is parsed and emitted again as the Rego v1 rego-cpp reads right
(parser.py, emit.py). Each template gets its own bundle, so templates with the same package, or libs of the
same name, never meet. Gatekeeper's compile-time rules (required `violation`, allowed imports, lib packages,
allowed data references, known functions) are checked on the source with strings and comments blanked out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from regopy import Interpreter

from ...errors import ReviewError, TemplateError
from ...model import Constraint, ConstraintTemplate, RegoSource
from ..base import Violation
from .emit import emit_module
from .engine import CompiledPolicy, EngineError, EvalError, to_engine_json
from .parser import parse_module
from .rewrite import DEPRECATED_BUILTINS, first_with, rewrite_module, with_helpers
from .syntax import RegoSyntaxError

ENGINE = "Rego"
_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][\w.]*)", re.MULTILINE)
_IMPORT = re.compile(r"^\s*import\s+([^\s]+)", re.MULTILINE)
_VIOLATION_RULE = re.compile(r"^\s*violation\b", re.MULTILINE)
# `data` at the root of a ref only: not `obj.data.x` or `x["data"]`.
_DATA_REF = re.compile(r"(?<![\w.\]])data\b(?:\s*\.\s*([A-Za-z_]\w*)|\s*(\[)|)")
_ALLOWED_DATA = ("lib", "inventory")
# A call's `(` is on the name's line: a `(` opening the next line starts a new expression.
_CALL = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)[ \t]*\(")
_KEYWORDS = {"not", "some", "in", "if", "contains", "every", "else", "with", "as", "default", "import", "package"}
_PRINT_LINE = re.compile(r"^(\s*)print\s*\([^()]*(?:\([^()]*\)[^()]*)*\)\s*;?\s*$")
# OPA builtins that rego-cpp does not have (OPA v1.17; deprecated ones only exist for Rego v0).
UNSUPPORTED_BUILTINS = frozenset({
    "http.send", "json.match_schema", "json.verify_schema", "rego.parse_module", "strings.render_template",
    "providers.aws.sign_req", "net.cidr_contains", "net.cidr_intersects", "net.cidr_expand", "net.cidr_merge",
    "net.cidr_contains_matches", "net.cidr_is_valid", "net.lookup_ip_addr", "net.cidr_overlap",
    "rego.metadata.rule", "rego.metadata.chain", "graphql.parse", "graphql.parse_and_verify",
    "graphql.parse_query", "graphql.parse_schema", "graphql.is_valid", "graphql.schema_is_valid", "trace",
})  # fmt: skip


def blank_strings_and_comments(source: str) -> str:
    """The source with string literals emptied and comments removed, line structure kept."""
    out: list[str] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "#":
            end = source.find("\n", i)
            i = n if end < 0 else end
        elif ch in '"`':
            j = i + 1
            while j < n and source[j] != ch:
                j += 2 if ch == '"' and source[j] == "\\" else 1
            out.append(ch + "\n" * source.count("\n", i, j) + ch)
            i = j + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _depth_zero_names(code: str) -> set[str]:
    """Names followed by `(` outside any brace: the functions a module defines."""
    names: set[str] = set()
    depth = 0
    for i, ch in enumerate(code):
        if ch in "{[(":
            if ch == "(" and depth == 0:
                head = re.search(r"([A-Za-z_]\w*)\s*$", code[max(0, i - 200) : i])
                if head:
                    names.add(head.group(1))
            depth += 1
        elif ch in "}])":
            depth = max(0, depth - 1)
    return names


def _import_aliases(code: str) -> set[str]:
    aliases = set()
    for line in code.splitlines():
        found = re.match(r"\s*import\s+([\w.]+)(?:\s+as\s+(\w+))?", line)
        if found:
            aliases.add(found.group(2) or found.group(1).rsplit(".", 1)[-1])
    return aliases


def check_calls(module_name: str, code: str, is_builtin: Callable[[str], bool], version: str = "v1") -> None:
    """Every function a module calls must be its own, a lib's, a builtin rego-cpp has, or (in Rego v0) a
    deprecated builtin we provide."""
    own = _depth_zero_names(code) | (DEPRECATED_BUILTINS if version != "v1" else set())
    aliases = _import_aliases(code) | {"data"}
    for found in _CALL.finditer(code):
        name = found.group(1)
        first = name.split(".", 1)[0]
        if name in own or name in _KEYWORDS or first in aliases or is_builtin(name):
            continue
        line = code.count("\n", 0, found.start()) + 1
        if name in UNSUPPORTED_BUILTINS or name.startswith(("net.", "graphql.")):
            raise TemplateError(
                f"invalid ConstraintTemplate: {module_name}:{line}: the builtin {name} is not supported by rego-cpp, "
                "the Rego engine of gatekeeper-py"
            )
        raise TemplateError(f"invalid ConstraintTemplate: {module_name}:{line}: undefined function {name}")


def erase_prints(source: str, code: str) -> str:
    """Gatekeeper erases print() statements unless printing is on; rego-cpp would write them to stdout."""
    source_lines, code_lines = source.split("\n"), code.split("\n")
    for i, line in enumerate(code_lines):
        found = _PRINT_LINE.match(line)
        if found:
            source_lines[i] = found.group(1) + "true"
        elif re.search(r"(?<![\w.])print\s*\(", line):
            raise TemplateError(
                f"invalid ConstraintTemplate: line {i + 1}: "
                "print() is supported only as a statement on a line of its own"
            )
    return "\n".join(source_lines)


def check_module(kind: str, source: str, *, entry: bool) -> str:
    """Gatekeeper's rules for a template module or lib; returns the package path."""
    code = blank_strings_and_comments(source)
    package = _PACKAGE.search(code)
    if not package:
        raise TemplateError("invalid ConstraintTemplate: invalid rego: module has no package declaration")
    path = package.group(1)
    if entry and not _VIOLATION_RULE.search(code):
        raise TemplateError(
            "invalid ConstraintTemplate: invalid rego: invalid module: missing required rules: [violation]"
        )
    if not entry and not path.startswith("lib."):
        raise TemplateError(
            f"invalid ConstraintTemplate: invalid lib prefix: path data.{path} not found in lib prefixes"
        )
    for imported in _IMPORT.findall(code):
        if imported == "input" or imported.startswith("input."):
            raise TemplateError(f"invalid ConstraintTemplate: cannot import input: {imported}")
        if not (imported == "data.lib" or imported.startswith(("data.lib.", "future."))):
            raise TemplateError(f'invalid ConstraintTemplate: invalid import: bad import: "{imported}"')
    for ref in _DATA_REF.finditer(code):
        if ref.group(1) not in _ALLOWED_DATA:
            shown = f"data.{ref.group(1)}" if ref.group(1) else "data[...]" if ref.group(2) else "data"
            raise TemplateError(
                f"invalid ConstraintTemplate: invalid data references: check refs failed on module {kind}: "
                f"disallowed ref {shown}"
            )
    return path


def translate(source: str, version: str, module_name: str) -> str:
    """A module (Rego v0 or v1) as the Rego v1 text handed to rego-cpp."""
    try:
        parsed = parse_module(source, version=version, filename=module_name)
    except RegoSyntaxError as exc:
        raise TemplateError(f"invalid ConstraintTemplate: {exc}") from None
    found = first_with(parsed)
    if found is not None:
        raise TemplateError(
            f"invalid ConstraintTemplate: {module_name}:{found.line}:{found.col}: `with` is not supported: "
            "it crashes rego-cpp, the Rego engine of gatekeeper-py"
        )
    return emit_module(with_helpers(rewrite_module(parsed, version)))


class _TemplateProgram:
    """One template's modules, compiled; rebuilt when the inventory it reads changes."""

    def __init__(self, template: ConstraintTemplate, rego: RegoSource, is_builtin: Callable[[str], bool]):
        self.kind = template.kind
        package = check_module(template.kind, rego.rego, entry=True)
        self.modules = {f"{template.kind}.rego": rego.rego}
        for i, lib in enumerate(rego.libs):
            check_module(template.kind, lib, entry=False)
            self.modules[f"{template.kind}.lib{i}.rego"] = lib
        for name, source in self.modules.items():
            source = erase_prints(source, blank_strings_and_comments(source))
            check_calls(name, blank_strings_and_comments(source), is_builtin, rego.version)
            self.modules[name] = translate(source, rego.version, name)
        self.entrypoint = package.replace(".", "/") + "/violation"
        self.reads_inventory = any("inventory" in m for m in map(blank_strings_and_comments, self.modules.values()))
        self.policy: CompiledPolicy | None = None
        self.built_for: int = -1

    def compiled(self, inventory: dict[str, Any], version: int) -> CompiledPolicy:
        if self.policy is None or (self.reads_inventory and self.built_for != version):
            data = {"inventory": inventory} if self.reads_inventory else None
            self.policy = CompiledPolicy(self.modules, self.entrypoint, data)
            self.built_for = version
        return self.policy


class RegoDriver:
    """Templates with a `Rego` code entry (Rego v1 for now)."""

    engine = ENGINE

    def __init__(self) -> None:
        self._is_builtin = Interpreter().is_builtin
        self._programs: dict[str, _TemplateProgram] = {}
        self._inventory: dict[str, Any] = {}
        self._inventory_version = 0

    def add_template(self, template: ConstraintTemplate) -> None:
        rego = template.rego
        if rego is None:
            raise TemplateError(
                "the template has no Rego source", source=template.source, obj=f"ConstraintTemplate/{template.name}"
            )
        try:
            program = _TemplateProgram(template, rego, self._is_builtin)
            program.compiled(self._inventory, self._inventory_version)
        except EngineError as exc:
            raise TemplateError(
                f"invalid ConstraintTemplate: {exc}", source=template.source, obj=f"ConstraintTemplate/{template.name}"
            ) from None
        except TemplateError as exc:
            raise TemplateError(exc.reason, source=template.source, obj=f"ConstraintTemplate/{template.name}") from None
        self._programs[template.kind] = program

    def remove_template(self, kind: str) -> None:
        self._programs.pop(kind, None)

    def set_inventory(self, inventory: dict[str, Any]) -> None:
        self._inventory = inventory
        self._inventory_version += 1

    def query(self, kind: str, constraints: Sequence[Constraint], review: dict[str, Any]) -> list[Violation]:
        program = self._programs[kind]
        try:
            policy = program.compiled(self._inventory, self._inventory_version)
        except EngineError as exc:
            return [
                Violation(c, f"template {kind} failed to compile with the current inventory: {exc}")
                for c in constraints
            ]
        try:
            review_json = to_engine_json(review)
        except ValueError as exc:
            raise ReviewError(f"the object under review cannot be encoded as JSON: {exc}") from None
        violations: list[Violation] = []
        for constraint in constraints:
            params_json = to_engine_json(constraint.parameters or {})
            value = policy.evaluate(f'{{"review":{review_json},"parameters":{params_json}}}')
            if isinstance(value, EvalError):
                # Gatekeeper queries a kind at once: an error replaces the results of every constraint of it.
                return [Violation(c, value.message) for c in constraints]
            violations += _violations(kind, constraint, value)
        return violations


def _violations(kind: str, constraint: Constraint, value: Any) -> list[Violation]:
    """What Gatekeeper's hook keeps: objects with a `msg`, as a set of {msg, details (default {})}, so
    violations that differ only by an absent versus empty `details` merge. A non-string msg fails the review."""
    found: dict[str, Violation] = {}
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, dict) or "msg" not in item:
            continue
        if not isinstance(item["msg"], str):
            raise ReviewError(
                f"extracting message binding: template {kind} returned a non-string msg {item['msg']!r} "
                f"for constraint {constraint.name}"
            )
        details = item.get("details", {})
        found.setdefault(
            json.dumps([item["msg"], details], sort_keys=True), Violation(constraint, item["msg"], details)
        )
    return list(found.values())
