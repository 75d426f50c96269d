"""The CEL driver: Gatekeeper's `K8sNativeValidation` templates, evaluated as Kubernetes evaluates a
ValidatingAdmissionPolicy.

Per constraint: the variables in order (`variables.params` is the constraint's parameters, `variables.anyObject`
the oldObject of a DELETE and the object otherwise, then the template's own); the match conditions (one false:
no result; an error: the failure policy decides); then each validation that is not `true` gives one result, its
message from `messageExpression`, else `message`, else `failed expression: <expression>`. An evaluation error
gives a result carrying the error under `failurePolicy: Fail` and nothing under `Ignore`. Results carry no
details. Every expression is compiled once, when the template is added.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_strings

from ...errors import TemplateError
from ...model import Constraint, ConstraintTemplate
from ..base import Violation
from .library import kubernetes_library
from .presence import presence_as_cel_go
from .source import FAIL, CelSource, SourceError, Validation, parse_source

CEL_ENGINE = "K8sNativeValidation"
MAX_MESSAGE_LENGTH = 5 * 1024
# Gatekeeper's own variables come first (k8scel/transform/cel_snippets.go).
BUILTIN_VARIABLES = (
    ("anyObject", 'has(request.operation) && request.operation == "DELETE" && object == null ? oldObject : object'),
    ("params", "!has(params.spec) ? null : !has(params.spec.parameters) ? null: params.spec.parameters"),
)
_INPUTS = ("object", "oldObject", "request", "namespaceObject", "variables")
_STATUS_PREFIX = re.compile(r"^[A-Z_]+: ")
_VARIABLE_USE = re.compile(r"\bvariables\.([A-Za-z_][A-Za-z0-9_]*)")


class _EvalError(Exception):
    """An expression evaluated to an error; the text is Kubernetes' `expression '...' resulted in error: ...`."""


def _environment(with_params: bool) -> cel.Env:
    names = (*_INPUTS, "params") if with_params else _INPUTS
    return cel.NewEnv(
        variables=dict.fromkeys(names, cel.Type.DYN),
        extensions=[ext_strings.ExtStrings(version=2), kubernetes_library()],
    )


def _error_text(value: Any) -> str:
    """cel-cpp's error as cel-go (and so Kubernetes) words the common ones."""
    text = _STATUS_PREFIX.sub("", str(value))
    if found := re.match(r'Key not found in map : "(.*)"$', text):
        return f"no such key: {found.group(1)}"
    if text.startswith("No matching overloads found"):
        return "no such overload"
    return text


def _compile_error(exc: Exception) -> str:
    """cel-cpp's first error line, `ERROR: <input>:1:40: Syntax error: ...`, as `line 1, column 40: ...`."""
    first = _STATUS_PREFIX.sub("", str(exc)).splitlines()[0]
    if found := re.match(r"(?:ERROR: )?<input>:(\d+):(\d+): (.*)$", first):
        return f"line {found.group(1)}, column {found.group(2)}: {found.group(3)}"
    return first


def _to_python(value: Any) -> Any:
    """A CEL value as plain Python. cel-expr-python's own `plain_value()` loses a reference to None each time it
    returns a null (at any depth), and the interpreter aborts after some 100,000 of them, so nulls are never
    read through it."""
    name = value.type().name()
    if name == "NULL":
        return None
    if name.startswith("LIST"):
        return [_to_python(item) for item in value.value()]
    if name.startswith("MAP"):
        return {key: _to_python(item) for key, item in value.value().items()}
    return value.value()


@dataclass(frozen=True)
class _Compiled:
    expression: str
    program: Any

    def evaluate(self, data: dict[str, Any]) -> Any:
        value = self.program.eval(data=data)
        if value.type() == cel.Type.ERROR:
            raise _EvalError(f"expression '{self.expression}' resulted in error: {_error_text(value.value())}")
        return _to_python(value)


@dataclass(frozen=True)
class _Program:
    source: CelSource
    variables: tuple[tuple[str, _Compiled], ...]
    conditions: tuple[tuple[str, _Compiled], ...]
    validations: tuple[tuple[Validation, _Compiled, _Compiled | None], ...]


class CelDriver:
    """Compiles and runs templates' `K8sNativeValidation` sources."""

    engine = CEL_ENGINE

    def __init__(self, default_failure_policy: str = FAIL) -> None:
        self._default_failure_policy = default_failure_policy
        self._with_params = _environment(with_params=True)
        self._plain = _environment(with_params=False)
        self._programs: dict[str, _Program] = {}

    def add_template(self, template: ConstraintTemplate) -> None:
        def fail(reason: str) -> TemplateError:
            return TemplateError(
                f"{CEL_ENGINE} source: {reason}", source=template.source, obj=f"ConstraintTemplate/{template.name}"
            )

        try:
            source = parse_source(template.code.get(CEL_ENGINE), self._default_failure_policy)
        except SourceError as exc:
            raise fail(str(exc)) from None

        def compiled(env: cel.Env, expression: str, where: str) -> _Compiled:
            try:
                return _Compiled(expression, env.compile(presence_as_cel_go(expression)))
            except RuntimeError as exc:
                try:  # the error's position in the expression as written, not as rewritten
                    env.compile(expression)
                    error = exc
                except RuntimeError as original:
                    error = original
                raise fail(f"{where}: {_compile_error(error)}") from None

        variables = tuple(
            (name, compiled(self._with_params, expr, f"anyObject/params {name}")) for name, expr in BUILTIN_VARIABLES
        ) + tuple(
            (v.name, compiled(self._with_params, v.expression, f"variables[{i}].expression"))
            for i, v in enumerate(source.variables)
        )
        conditions = tuple(
            (c.name, compiled(self._plain, c.expression, f"matchCondition[{i}].expression"))
            for i, c in enumerate(source.match_conditions)
        )
        validations = tuple(
            (
                v,
                compiled(self._plain, v.expression, f"validations[{i}].expression"),
                compiled(self._plain, v.message_expression, f"validations[{i}].messageExpression")
                if v.message_expression
                else None,
            )
            for i, v in enumerate(source.validations)
        )
        self._programs[template.kind] = _Program(source, variables, conditions, validations)

    def remove_template(self, kind: str) -> None:
        self._programs.pop(kind, None)

    def set_inventory(self, inventory: dict[str, Any]) -> None:
        """CEL templates cannot read the inventory (as in Gatekeeper)."""

    def query(self, kind: str, constraints: Sequence[Constraint], review: dict[str, Any]) -> list[Violation]:
        program = self._programs[kind]
        request = {k: v for k, v in review.items() if k not in ("object", "oldObject", "namespaceObject")}
        operation_is_delete = review.get("operation") == "DELETE"
        inputs = {
            "object": None if operation_is_delete else review.get("object"),
            "oldObject": review.get("oldObject"),
            "request": request,
            "namespaceObject": review.get("namespaceObject"),
        }
        violations: list[Violation] = []
        for constraint in constraints:
            messages = self._messages(program, {**inputs, "params": constraint.obj})
            violations += [Violation(constraint, message, details=None) for message in messages]
        return violations

    def _messages(self, program: _Program, inputs: dict[str, Any]) -> list[str]:
        """The message of every failed validation for one constraint (or of the error that stopped it)."""
        fail = program.source.failure_policy == FAIL
        variables, broken = self._variables(program, inputs)
        data = {k: v for k, v in inputs.items() if k != "params"} | {"variables": variables}
        errors: list[str] = []
        for _, condition in program.conditions:
            try:
                if self._run(condition, data, broken) is False:
                    return []
            except _EvalError as exc:
                errors.append(str(exc))
        if errors:
            return ([errors[0]] if len(errors) == 1 else ["[" + ", ".join(errors) + "]"]) if fail else []
        messages = []
        for validation, check, message_expression in program.validations:
            try:
                if self._run(check, data, broken) is True:
                    continue
            except _EvalError as exc:
                if fail:
                    messages.append(str(exc))
                continue
            messages.append(self._message(validation, message_expression, data, broken))
        return messages

    def _variables(self, program: _Program, inputs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """The variables' values in order. A variable that fails is left out and its error kept: as Kubernetes
        evaluates variables lazily, only an expression that actually reads it fails, with its error."""
        values: dict[str, Any] = {}
        broken: dict[str, str] = {}
        for name, compiled in program.variables:
            try:
                values[name] = self._run(compiled, inputs | {"variables": values}, broken)
            except _EvalError as exc:
                broken[name] = str(exc)
        return values, broken

    @staticmethod
    def _run(compiled: _Compiled, data: dict[str, Any], broken: dict[str, str]) -> Any:
        try:
            return compiled.evaluate(data)
        except _EvalError as exc:
            # A read of a left-out variable shows up as a missing key: report the variable's own error.
            missing = re.search(r"no such key: ([A-Za-z_][A-Za-z0-9_]*)$", str(exc))
            if (
                missing
                and missing.group(1) in broken
                and missing.group(1) in _VARIABLE_USE.findall(compiled.expression)
            ):
                raise _EvalError(
                    f"expression '{compiled.expression}' resulted in error: {broken[missing.group(1)]}"
                ) from None
            raise

    def _message(
        self, validation: Validation, message_expression: _Compiled | None, data: dict[str, Any], broken: dict[str, str]
    ) -> str:
        if message_expression is not None:
            try:
                text = self._run(message_expression, data, broken)
            except _EvalError:
                text = None
            if isinstance(text, str) and text.strip() and "\n" not in text and len(text) <= MAX_MESSAGE_LENGTH:
                return text
        if validation.message.strip():
            return validation.message.strip()
        return f"failed expression: {validation.expression.strip()}"
