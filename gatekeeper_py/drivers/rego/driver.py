"""Run Gatekeeper's Rego templates on rego-cpp, one compiled bundle per template.

Each module of a template (Rego v0 or v1) is parsed, checked against Gatekeeper's rules (checks.py),
rewritten (rewrite.py) and emitted again as the Rego v1 rego-cpp reads right (emit.py). Each template gets its
own bundle, so templates with the same package, or libs of the same name, never meet.

A review sets rego-cpp's input once, for every template: `input.review` and, per template kind, the parameters of
a matched constraint, which the template's modules read there instead of at `input.parameters`. Each bundle has a
hook module with two entrypoints: `violation`, the template's, for a kind whose matched constraints all have the
same parameters (the usual case), and `violations`, which evaluates `violation` for each distinct set of
parameters of the kind (in the input too) `with` the parameters bound to it, so one query answers every
constraint of a kind. `with` costs rego-cpp about as much as the query again, so it is used only when needed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from regopy import Interpreter

from ...errors import ReviewError, TemplateError
from ...model import Constraint, ConstraintTemplate, RegoSource
from ..base import Deadline, Violation, distinct
from ..cache import default_cache_dir
from ..watchdog import Watchdog
from .cache import TemplateCache, Translation
from .checks import check_calls, check_module, erase_prints, reads_inventory, reads_parameters, reads_whole_input
from .emit import emit_module
from .engine import CompiledPolicy, EngineError, EvalError, Runner, to_engine_json
from .parser import parse_module
from .rewrite import HOOK_PACKAGE, first_with, parameters_read_at, rewrite_module, with_helpers
from .syntax import Module, RegoSyntaxError, String

ENGINE = "Rego"
PARAMETERS_KEY = "gatekeeper_py_parameters"
"""The input's key holding, per template kind, the parameters the template reads."""
PARAMETER_SETS_KEY = "gatekeeper_py_parameter_sets"
"""The input's key holding, per template kind with more than one, its distinct sets of parameters."""
HOOK_MODULE = f"{HOOK_PACKAGE}.rego"
HOOK_VIOLATION = f"{HOOK_PACKAGE}/violation"
HOOK_VIOLATIONS = f"{HOOK_PACKAGE}/violations"


def hook_module(kind: str, package: tuple[str, ...]) -> str:
    """The hook: `violation` is the template's; `violations` maps the position of each set of parameters of the
    kind to the template's `violation` for it."""
    path = "".join(f"[{json.dumps(part)}]" for part in package)
    key = json.dumps(kind)
    return (
        f"package {HOOK_PACKAGE}\n\n"
        f"violation := data{path}.violation\n\n"
        f"violations := {{i: v | some i, p in input.{PARAMETER_SETS_KEY}[{key}]; "
        f"v := data{path}.violation with input.{PARAMETERS_KEY}[{key}] as p}}\n"
    )


def _too_deep(module_name: str) -> TemplateError:
    return TemplateError(f"invalid ConstraintTemplate: {module_name}: nested too deeply to compile")


def parse_source(source: str, version: str, module_name: str) -> Module:
    """A module parsed, with `print` statements erased; TemplateError when it cannot be used."""
    try:
        parsed = parse_module(source, version=version, filename=module_name)
        found = first_with(parsed)
        if found is not None:
            raise TemplateError(
                f"invalid ConstraintTemplate: {module_name}:{found.line}:{found.col}: `with` is not supported: "
                "it crashes rego-cpp, the Rego engine of gatekeeper-py"
            )
        return erase_prints(parsed)
    except RegoSyntaxError as exc:
        raise TemplateError(f"invalid ConstraintTemplate: {exc}") from None
    except RecursionError:
        raise _too_deep(module_name) from None


def engine_text(module: Module, version: str, module_name: str) -> str:
    """The Rego v1 text handed to rego-cpp for a parsed module."""
    try:
        return emit_module(with_helpers(rewrite_module(module, version)))
    except RecursionError:
        raise _too_deep(module_name) from None


def translate(source: str, version: str, module_name: str) -> str:
    """A module (Rego v0 or v1) as the Rego v1 text handed to rego-cpp; TemplateError when it cannot be."""
    return engine_text(parse_source(source, version, module_name), version, module_name)


def translate_template(
    template: ConstraintTemplate, rego: RegoSource, is_builtin: Callable[[str], bool]
) -> Translation:
    """A template's modules checked and translated, with the hook module; TemplateError when it cannot be used."""
    sources = {f"{template.kind}.rego": rego.rego}
    sources |= {f"{template.kind}.lib{i}.rego": lib for i, lib in enumerate(rego.libs)}
    parsed = {name: parse_source(source, rego.version, name) for name, source in sources.items()}
    for i, (name, module) in enumerate(parsed.items()):
        check_module(module, template.kind, entry=i == 0)
        check_calls(module, name, is_builtin, rego.version)
    inventory = any(reads_inventory(module) for module in parsed.values())
    parameters = any(reads_parameters(module) for module in parsed.values())
    whole_input = any(reads_whole_input(module) for module in parsed.values())
    if not whole_input:
        shared = (String(value=PARAMETERS_KEY), String(value=template.kind))
        parsed = {name: parameters_read_at(module, shared) for name, module in parsed.items()}
    modules = {name: engine_text(module, rego.version, name) for name, module in parsed.items()}
    modules[HOOK_MODULE] = hook_module(template.kind, parsed[f"{template.kind}.rego"].package)
    return Translation(modules, inventory, parameters, whole_input)


class _TemplateProgram:
    """One template's modules, compiled; rebuilt when the inventory it reads changes."""

    def __init__(self, translation: Translation, policy: CompiledPolicy | None = None):
        self.translation = translation
        self.policy = policy
        self.built_for: int = -1 if policy is None else 0

    def compiled(self, inventory: dict[str, Any], version: int) -> CompiledPolicy:
        reads_inventory = self.translation.reads_inventory
        if self.policy is None or (reads_inventory and self.built_for != version):
            data = {"inventory": inventory} if reads_inventory else None
            self.policy = CompiledPolicy(self.translation.modules, (HOOK_VIOLATION, HOOK_VIOLATIONS), data)
            self.built_for = version
        return self.policy


class RegoDriver:
    """Templates with a `Rego` code entry, Rego v0 or v1."""

    engine = ENGINE

    def __init__(self, cache_dir: Path | None = None) -> None:
        """`cache_dir`: where compiled templates are kept (cache.py); by default `default_cache_dir()`."""
        self._is_builtin = Interpreter().is_builtin
        self._programs: dict[str, _TemplateProgram] = {}
        self._inventory: dict[str, Any] = {}
        self._inventory_version = 0
        self._runner = Runner()
        self._watchdog = Watchdog()
        directory = cache_dir if cache_dir is not None else default_cache_dir()
        self._cache = TemplateCache(directory) if directory is not None else None

    def add_template(self, template: ConstraintTemplate) -> None:
        rego = template.rego
        if rego is None:
            raise TemplateError(
                "the template has no Rego source", source=template.source, obj=f"ConstraintTemplate/{template.name}"
            )
        try:
            program = self._program(template, rego)
            program.compiled(self._inventory, self._inventory_version)
        except (EngineError, TemplateError, RecursionError) as exc:
            if isinstance(exc, TemplateError):
                reason = exc.reason
            elif isinstance(exc, EngineError):
                reason = f"invalid ConstraintTemplate: {_in_source(exc, template.kind, rego)}"
            else:
                reason = "invalid ConstraintTemplate: nested too deeply to compile"
            raise TemplateError(reason, source=template.source, obj=f"ConstraintTemplate/{template.name}") from None
        self._programs[template.kind] = program

    def _program(self, template: ConstraintTemplate, rego: RegoSource) -> _TemplateProgram:
        """The template's program: from the cache when it holds it, else translated, compiled and cached."""
        if self._cache is None:
            return _TemplateProgram(translate_template(template, rego, self._is_builtin))
        key = self._cache.key(template, rego)
        cached = self._cache.get(key, HOOK_VIOLATION)
        if cached is not None and (cached.policy is not None or cached.translation.reads_inventory):
            return _TemplateProgram(cached.translation, cached.policy)
        program = _TemplateProgram(translate_template(template, rego, self._is_builtin))
        if program.translation.reads_inventory:
            self._cache.put(key, program.translation, None)
        else:
            self._cache.put(key, program.translation, program.compiled(self._inventory, self._inventory_version))
        return program

    def remove_template(self, kind: str) -> None:
        self._programs.pop(kind, None)

    def set_inventory(self, inventory: dict[str, Any]) -> None:
        self._inventory = inventory
        self._inventory_version += 1

    def query(
        self, matched: Mapping[str, Sequence[Constraint]], review: dict[str, Any], deadline: Deadline | None = None
    ) -> list[Violation]:
        policies: dict[str, CompiledPolicy] = {}
        violations: list[Violation] = []
        for kind, constraints in matched.items():
            try:
                policies[kind] = self._programs[kind].compiled(self._inventory, self._inventory_version)
            except EngineError as exc:
                message = f"template {kind} failed to compile with the current inventory: {exc}"
                violations += [Violation(c, message, error=True) for c in constraints]
        if not policies:
            return violations
        # Each distinct set of parameters of a kind is evaluated once (once in all when the template reads none).
        parameters: dict[str, list[str]] = {}
        slots: dict[str, list[int]] = {}
        for kind in policies:
            reads = self._programs[kind].translation.reads_parameters
            try:
                encoded = [to_engine_json(c.parameters or {}) if reads else "{}" for c in matched[kind]]
            except ValueError as exc:
                raise ReviewError(f"the parameters of a {kind} constraint cannot be encoded as JSON: {exc}") from None
            firsts, slots[kind] = distinct(encoded)
            parameters[kind] = [encoded[i] for i in firsts]
        try:
            review_json = to_engine_json(review)
        except ValueError as exc:
            raise ReviewError(f"the object under review cannot be encoded as JSON: {exc}") from None
        values = self._evaluate_in_time(policies, parameters, review_json, deadline)
        for kind, value in values.items():
            if isinstance(value, EvalError):
                # Gatekeeper queries a kind at once: an error replaces the results of every constraint of it.
                violations += [Violation(c, value.message, error=True) for c in matched[kind]]
                continue
            for constraint, slot in zip(matched[kind], slots[kind], strict=True):
                violations += _violations(kind, constraint, value.get(str(slot)))
        return violations

    def _evaluate_in_time(
        self,
        policies: dict[str, CompiledPolicy],
        parameters: dict[str, list[str]],
        review_json: str,
        deadline: Deadline | None,
    ) -> dict[str, dict[str, Any] | EvalError]:
        """`_evaluate`, within the deadline when there is one: the evaluation runs on the watchdog's thread, and
        one that overruns is abandoned (rego-cpp cannot be interrupted): its kinds not done by then get an error,
        and later reviews run on a fresh interpreter and freshly built policies, never on what it still uses."""
        runner = self._runner
        values: dict[str, dict[str, Any] | EvalError] = {}

        def evaluate() -> None:
            with runner.lock:
                self._evaluate(runner, policies, parameters, review_json, deadline, values)

        if deadline is None:
            evaluate()
            return values
        if self._watchdog.run(evaluate, deadline.end - time.monotonic()):
            return values
        self._runner = Runner()
        for program in self._programs.values():
            program.policy = None
        done = dict(values)  # the abandoned evaluation may still add to `values`
        return {kind: done[kind] if kind in done else EvalError(deadline.missed(kind)) for kind in policies}

    def _evaluate(
        self,
        runner: Runner,
        policies: dict[str, CompiledPolicy],
        parameters: dict[str, list[str]],
        review_json: str,
        deadline: Deadline | None,
        values: dict[str, dict[str, Any] | EvalError],
    ) -> None:
        """Into `values`, per kind as it is done, the violation sets by position among its distinct parameters
        (or the error that replaced them; a kind reached after the deadline is not evaluated). Kinds whose
        template reads `input` whole are evaluated alone; the others share one input. `runner`'s lock must be
        held."""

        def shared_input(kinds: list[str]) -> str:
            reading = [kind for kind in kinds if self._programs[kind].translation.reads_parameters]
            firsts = ",".join(f"{json.dumps(kind)}:{parameters[kind][0]}" for kind in reading)
            sets = ",".join(
                f"{json.dumps(kind)}:[{','.join(parameters[kind])}]" for kind in kinds if len(parameters[kind]) > 1
            )
            return f'{{"review":{review_json},"{PARAMETERS_KEY}":{{{firsts}}},"{PARAMETER_SETS_KEY}":{{{sets}}}}}'

        def violation_sets(kind: str) -> dict[str, Any] | EvalError:
            if deadline is not None and deadline.passed():
                return EvalError(deadline.missed(kind))
            if len(parameters[kind]) == 1:
                value = runner.query(policies[kind], HOOK_VIOLATION)
                return value if isinstance(value, EvalError) else {"0": value}
            value = runner.query(policies[kind], HOOK_VIOLATIONS)
            return value if isinstance(value, EvalError) else value or {}

        shared = [kind for kind in policies if not self._programs[kind].translation.reads_whole_input]
        rejected = runner.set_input(shared_input(shared)) if shared else None
        for kind in shared:
            if rejected is not None:  # a parameter rego-cpp cannot read: find out which kind it belongs to
                values[kind] = runner.set_input(shared_input([kind])) or violation_sets(kind)
            else:
                values[kind] = violation_sets(kind)
        for kind in policies:
            if kind in values:
                continue
            if deadline is not None and deadline.passed():
                values[kind] = EvalError(deadline.missed(kind))
            else:
                values[kind] = self._evaluate_alone(runner, policies[kind], parameters[kind], review_json)

    @staticmethod
    def _evaluate_alone(
        runner: Runner, policy: CompiledPolicy, parameters: list[str], review_json: str
    ) -> dict[str, Any] | EvalError:
        """A template's violation sets by position among `parameters`, each set evaluated with exactly
        Gatekeeper's input, `{review, parameters}`. The runner's lock must be held."""
        found: dict[str, Any] = {}
        for slot, params_json in enumerate(parameters):
            value = runner.set_input(f'{{"parameters":{params_json},"review":{review_json}}}')
            value = value or runner.query(policy, HOOK_VIOLATION)
            if isinstance(value, EvalError):
                return value
            found[str(slot)] = value
        return found


def _in_source(exc: EngineError, kind: str, rego: RegoSource) -> str:
    """rego-cpp's error located in the template's own source when the text it points at (its first line) is
    there, else in the translated module (what `gatekeeper-py rego translate` prints)."""
    sources = {f"{kind}.rego": rego.rego} | {f"{kind}.lib{i}.rego": lib for i, lib in enumerate(rego.libs)}
    source = sources.get(exc.module or "", "")
    first_line = exc.snippet.strip().splitlines()[0] if exc.snippet and exc.snippet.strip() else ""
    offset = source.find(first_line) if first_line else -1
    if offset < 0:
        translated = " (line and column of the module as `gatekeeper-py rego translate` prints it)"
        return f"{exc}{translated}" if exc.line else str(exc)
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return str(EngineError(exc.message, exc.module, line, column))


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
