"""The CEL driver: Gatekeeper's `K8sNativeValidation` templates, evaluated as Kubernetes evaluates a
ValidatingAdmissionPolicy.

Per constraint: the variables in order (`variables.params` is the constraint's parameters, `variables.anyObject`
the oldObject of a DELETE and the object otherwise, then the template's own); the match conditions (one false:
no result; an error: the failure policy decides); then each validation that is not `true` gives one result, its
message from `messageExpression`, else `message`, else `failed expression: <expression>`. An evaluation error
gives a result carrying the error under `failurePolicy: Fail` and nothing under `Ignore`. Results carry no
details. Every expression is compiled once, when the template is added.

A constraint is first evaluated in one call: the match conditions and validations as one list, with the variables
they read bound inside it (rewrite.py), against its inputs converted to CEL once; then the messageExpression of each
failed validation, likewise. Only when something fails to evaluate there is the constraint evaluated again with
its variables one by one, lazily, which also words the errors as Kubernetes does.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cel_expr_python import cel

from ...errors import TemplateError
from ...model import Constraint, ConstraintTemplate
from ..base import Deadline, Violation, distinct
from ..cache import default_cache_dir
from . import leaks
from .cache import CompiledExpressions
from .library import as_written, cel_go_wording, kubernetes_environment, prepare
from .rewrite import (
    bind_variables,
    declared_variables_present,
    matches_through_cache,
    presence_as_cel_go,
    reads_params_directly,
    reads_variables_whole,
)
from .source import FAIL, CelSource, SourceError, Validation, parse_source

CEL_ENGINE = "K8sNativeValidation"
MAX_MESSAGE_LENGTH = 5 * 1024
ITERATION_BUDGET = 10_000
"""Comprehension iterations cel-cpp (as cel-expr-python builds it) allows in one evaluation; more is an error."""
_RAISED = (RuntimeError, TypeError, ValueError, OverflowError, MemoryError)
"""What cel-expr-python raises from an evaluation or a conversion to CEL (budgets, values it cannot convert,
RecursionError)."""
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


CHECKS = "gatekeeper_internal_checks"
CONSTRAINTS = "gatekeeper_internal_constraints"
"""The variable holding, per template kind, the constraints under review (in the environment of `_OneCall`)."""


def _environment(*names: str) -> cel.Env:
    variables = dict.fromkeys((*_INPUTS, *names), cel.Type.DYN)
    if CONSTRAINTS in names:  # cel-cpp takes only a typed list as the range of a comprehension
        variables[CONSTRAINTS] = cel.Type.Map(cel.Type.STRING, cel.Type.List(cel.Type.DYN))
    return kubernetes_environment(variables)


def _error_text(value: Any) -> str:
    """cel-cpp's error as cel-go (and so Kubernetes) words the common ones."""
    text = _STATUS_PREFIX.sub("", str(value))
    if found := re.match(r'Key not found in map : "(.*)"$', text):
        return f"no such key: {found.group(1)}"
    if text.startswith("No matching overloads found"):
        return "no such overload"
    if text.startswith("Iteration budget exceeded"):
        return f"operation cancelled: iteration budget exceeded (cel-cpp allows {ITERATION_BUDGET:,} per call)"
    return text


def _failure_text(exc: BaseException) -> str:
    """What an evaluation that raised (rather than returned an error value) failed of."""
    if isinstance(exc, RecursionError):
        return "a value is nested too deeply"
    return _error_text(exc)


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
        try:
            value = leaks.evaluate(self.program, data=data)
            if value.type() != cel.Type.ERROR:
                return _to_python(value)
            try:
                reason = _error_text(value.value())
            except TypeError:  # an optional, which cel-expr-python reports as ERROR and cannot convert
                reason = "an optional value cannot pass from one expression to the next here"
        except _RAISED as exc:
            reason = _failure_text(exc)
        raise _EvalError(f"expression '{self.expression}' resulted in error: {reason}")


@dataclass(frozen=True)
class _OneCall:
    """A template evaluated for all its constraints under review in one call (or in a few, `groups`): per
    constraint (`params`, ranging over CONSTRAINTS[kind]), a list of what the checks of a group found, usually
    empty: `[position, false]` for a false match condition, `[position, message]` for a validation that does not
    hold, with its messageExpression's value (null without one); all with the variables they read bound inside."""

    groups: tuple[Any, ...]
    """The programs: one for every check, or one per check when cel-cpp refuses that one as too deep."""
    condition_count: int
    by_parameters: bool
    """The template reads the constraint only as `variables.params`: constraints with the same parameters give the
    same results, and each distinct set of parameters is evaluated once."""


@dataclass(frozen=True)
class _Program:
    source: CelSource
    variables: tuple[tuple[str, _Compiled], ...]
    conditions: tuple[tuple[str, _Compiled], ...]
    validations: tuple[tuple[Validation, _Compiled, _Compiled | None], ...]
    one_call: _OneCall | None

    @property
    def by_parameters(self) -> bool:
        """See `_OneCall.by_parameters`; false for a template that always runs variable by variable."""
        return self.one_call is not None and self.one_call.by_parameters

    def params(self, constraint: Constraint) -> dict[str, Any]:
        """The constraint as `params`; only its `spec.parameters` when the template reads it only as
        `variables.params` (converting the whole constraint to CEL on every review costs some 10% of such a
        review)."""
        if not self.by_parameters:
            return constraint.obj
        spec = constraint.obj.get("spec")
        return {"spec": {"parameters": spec["parameters"]}} if isinstance(spec, dict) and "parameters" in spec else {}


class CelDriver:
    """Compiles and runs templates' `K8sNativeValidation` sources."""

    engine = CEL_ENGINE

    def __init__(self, default_failure_policy: str = FAIL, cache_dir: Path | None = None) -> None:
        """`cache_dir`: where compiled expressions are kept (cache.py); by default `default_cache_dir()`."""
        self._default_failure_policy = default_failure_policy
        self._with_params = _environment("params")
        self._plain = _environment()
        self._by_kind = _environment("params", CONSTRAINTS)
        self._environments = {"params": self._with_params, "plain": self._plain, "kinds": self._by_kind}
        self._cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
        self._programs: dict[str, _Program] = {}

    def add_template(self, template: ConstraintTemplate) -> None:
        def fail(reason: str) -> TemplateError:
            return TemplateError(
                f"{CEL_ENGINE} source: {reason}", source=template.source, obj=f"ConstraintTemplate/{template.name}"
            )

        raw = template.code.get(CEL_ENGINE)
        try:
            source = parse_source(raw, self._default_failure_policy)
        except SourceError as exc:
            raise fail(str(exc)) from None
        expressions = CompiledExpressions(self._environments, self._cache_dir, raw)
        names = {name for name, _ in BUILTIN_VARIABLES} | {v.name for v in source.variables}

        def prepared(expression: str) -> str:
            return prepare(matches_through_cache(presence_as_cel_go(declared_variables_present(expression, names))))

        def compiled(environment: str, expression: str, where: str) -> _Compiled:
            try:
                return _Compiled(expression, expressions.compile(environment, prepared(expression)))
            except RuntimeError as exc:
                try:  # the error's position in the expression as written, not as rewritten
                    self._environments[environment].compile(prepare(expression))
                    error = exc
                except RuntimeError as original:
                    error = RuntimeError(as_written(str(original), expression))
                raise fail(f"{where}: {cel_go_wording(_compile_error(error))}") from None

        variables = tuple(
            (name, compiled("params", expr, f"anyObject/params {name}")) for name, expr in BUILTIN_VARIABLES
        ) + tuple(
            (v.name, compiled("params", v.expression, f"variables[{i}].expression"))
            for i, v in enumerate(source.variables)
        )
        conditions = tuple(
            (c.name, compiled("plain", c.expression, f"matchCondition[{i}].expression"))
            for i, c in enumerate(source.match_conditions)
        )
        validations = tuple(
            (
                v,
                compiled("plain", v.expression, f"validations[{i}].expression"),
                compiled("plain", v.message_expression, f"validations[{i}].messageExpression")
                if v.message_expression
                else None,
            )
            for i, v in enumerate(source.validations)
        )
        one_call = self._one_call(template.kind, source, expressions, prepared)
        expressions.save()
        self._programs[template.kind] = _Program(source, variables, conditions, validations, one_call)

    def _one_call(
        self, kind: str, source: CelSource, expressions: CompiledExpressions, prepared: Callable[[str], str]
    ) -> _OneCall | None:
        """The source compiled for `_OneCall`; None when cel-cpp refuses it so (too deeply nested with its
        variables bound) or when an expression uses `variables` whole: then the template always runs with its
        variables one by one."""
        variables = [(name, prepared(expr)) for name, expr in BUILTIN_VARIABLES]
        variables += [(v.name, prepared(v.expression)) for v in source.variables]
        conditions = len(source.match_conditions)
        checks = [prepared(c.expression) for c in source.match_conditions]
        checks += [prepared(v.expression) for v in source.validations]
        messages = [""] * conditions + [prepared(v.message_expression) for v in source.validations]
        if any(reads_variables_whole(text) for text in (*checks, *messages, *(text for _, text in variables))):
            return None

        def group(positions: tuple[int, ...]) -> Any:
            listed = ", ".join(checks[i] for i in positions)
            entries = [
                f"{CHECKS}[{j}] == false ? dyn([{i}, false]) : dyn(null)"
                if i < conditions
                else f"{CHECKS}[{j}] == true ? dyn(null) : dyn([{i}, dyn({messages[i] or 'null'})])"
                for j, i in enumerate(positions)
            ]
            body = f"cel.bind({CHECKS}, [{listed}], [{', '.join(entries)}].filter(e, e != null))"
            each = bind_variables(body, variables)
            return expressions.compile("kinds", f"{CONSTRAINTS}[{json.dumps(kind)}].map(params, {each})")

        try:
            try:
                groups = (group(tuple(range(len(checks)))),)
            except RuntimeError:  # too deep with every variable bound around it: one call per check
                groups = tuple(group((i,)) for i in range(len(checks)))
        except RuntimeError:
            return None
        own = [v.expression for v in source.variables] + [c.expression for c in source.match_conditions]
        own += [text for v in source.validations for text in (v.expression, v.message_expression)]
        return _OneCall(groups, conditions, not any(reads_params_directly(text) for text in own))

    def remove_template(self, kind: str) -> None:
        self._programs.pop(kind, None)

    def set_inventory(self, inventory: dict[str, Any]) -> None:
        """CEL templates cannot read the inventory (as in Gatekeeper)."""

    def query(
        self, matched: Mapping[str, Sequence[Constraint]], review: dict[str, Any], deadline: Deadline | None = None
    ) -> list[Violation]:
        request = {k: v for k, v in review.items() if k not in ("object", "oldObject", "namespaceObject")}
        operation_is_delete = review.get("operation") == "DELETE"
        inputs = {
            "object": None if operation_is_delete else review.get("object"),
            "oldObject": review.get("oldObject"),
            "request": request,
            "namespaceObject": review.get("namespaceObject"),
        }
        constraints: dict[str, list[Any]] = {}
        slots: dict[str, list[int]] = {}
        for kind, of_kind in matched.items():
            program = self._programs[kind]
            keys = [c.parameters_key if program.by_parameters else i for i, c in enumerate(of_kind)]
            firsts, slots[kind] = distinct(keys)
            constraints[kind] = [program.params(of_kind[i]) for i in firsts]
        every = self._activation(inputs, constraints)
        violations: list[Violation] = []
        for kind, of_kind in matched.items():
            program = self._programs[kind]
            if deadline is not None and deadline.passed():
                if program.source.failure_policy == FAIL:
                    violations += [Violation(c, deadline.missed(kind), details=None, error=True) for c in of_kind]
                continue
            found = _one_call_messages(program, every, len(constraints[kind])) if program.one_call and every else None
            for i, constraint in enumerate(of_kind):
                messages = found[slots[kind][i]] if found is not None else None
                if messages is None and program.one_call:  # something failed: this constraint on its own
                    alone = self._activation(inputs, {kind: [program.params(constraint)]})
                    messages = (_one_call_messages(program, alone, 1) or [None])[0] if alone else None
                if messages is not None:
                    violations += [Violation(constraint, message, details=None) for message in messages]
                    continue
                for message, error in self._messages(program, {**inputs, "params": program.params(constraint)}):
                    violations.append(Violation(constraint, message, details=None, error=error))
        return violations

    def _activation(self, inputs: dict[str, Any], constraints: dict[str, list[Any]]) -> Any | None:
        """The activation of `_OneCall` programs; None when cel-expr-python cannot convert something in it."""
        try:
            return self._by_kind.Activation(data=inputs | {"variables": {}, CONSTRAINTS: constraints})
        except _RAISED:
            return None

    def _messages(self, program: _Program, inputs: dict[str, Any]) -> list[tuple[str, bool]]:
        """The message of every failed validation for one constraint, or of the error that stopped it (then
        with True)."""
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
            return [(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]", True)] if fail else []
        messages: list[tuple[str, bool]] = []
        for validation, check, message_expression in program.validations:
            try:
                if self._run(check, data, broken) is True:
                    continue
            except _EvalError as exc:
                if fail:
                    messages.append((str(exc), True))
                continue
            text = None
            if message_expression is not None:
                with contextlib.suppress(_EvalError):
                    text = self._run(message_expression, data, broken)
            messages.append((_message(validation, text), False))
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


def _one_call_messages(program: _Program, activation: Any, count: int) -> list[list[str]] | None:
    """Per constraint of the kind, the messages of its failed validations, evaluated through `_OneCall`; None
    when something fails to evaluate (then `_messages` evaluates each constraint, wording the errors)."""
    one_call = program.one_call
    assert one_call is not None
    conditions = one_call.condition_count
    found: list[dict[int, Any]] = [{} for _ in range(count)]  # position -> message value (false: a condition)
    for compiled in one_call.groups:
        try:
            per_constraint = leaks.evaluate(compiled, activation)
        except _RAISED:  # e.g. the iteration budget, which every constraint of the kind shares in this call
            return None
        if per_constraint.type() == cel.Type.ERROR:
            return None
        for i, row in enumerate(per_constraint.value()):
            for entry in row.value():
                position, value = entry.value()
                found[i][position.value()] = _plain_scalar(value)
    validations = program.source.validations
    return [
        []
        if any(i < conditions for i in failed)
        else [_message(validations[i - conditions], failed[i]) for i in sorted(failed)]
        for failed in found
    ]


def _plain_scalar(value: Any) -> Any:
    """A boolean's or a string's value; None for anything else (a null's value() is never read: see _to_python)."""
    return value.value() if value.type() in (cel.Type.BOOL, cel.Type.STRING) else None


def _message(validation: Validation, text: Any) -> str:
    """A failed validation's message: the messageExpression's value `text` when it is a usable one (None when
    there is none, or it failed), else `message`, else the expression."""
    if isinstance(text, str) and text.strip() and "\n" not in text and len(text) <= MAX_MESSAGE_LENGTH:
        return text
    if validation.message.strip():
        return validation.message.strip()
    return f"failed expression: {validation.expression.strip()}"
