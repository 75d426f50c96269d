"""`gatekeeper-py test`: review every object among the inputs, as `gator test` does.

Order as in gator: templates, then constraints, then every object into the inventory, then every
object reviewed. Bad documents are reported one line each and skipped; the rest still runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..client import Client
from ..enforcement import DENY, DRYRUN, GATOR, WARN
from ..errors import GatekeeperPyError
from ..expansion import is_expansion_template
from ..loader import Document, load_all, meta_string, object_id
from ..model import Constraint, is_constraint, is_template
from ..results import Result
from ..review import group_version_kind, review_object
from .gator_expand import is_mutator, warn_mutators
from .junit import JUnitCase, render_junit
from .output import error_line, go_quote, to_json, to_yaml
from .sarif import render_sarif
from .terminal import Style

EXIT_OK, EXIT_VIOLATIONS, EXIT_BAD_INPUT = 0, 1, 2


@dataclass
class TestRun:
    """What a run found: results per reviewed object, and bad input."""

    results: list[tuple[Document, Result]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    objects: list[Document] = field(default_factory=list)
    """Every input with a kind: policies and the objects to review."""
    reviewed: list[Document] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    quiet: bool = False
    """Collect errors without printing them (a worker process whose parent reports them once)."""

    def fail(self, exc: GatekeeperPyError | str) -> None:
        self.errors.append(str(exc))
        if not self.quiet:
            error_line(str(exc))


def warn_duplicates(objects: list[Document]) -> None:
    """gator warns (and goes on) when two inputs are the same group, kind, namespace and name."""
    seen: dict[tuple[str, str, str, str], str] = {}
    for doc in objects:
        group = group_version_kind(doc.obj)["group"]
        key = (group, str(doc.obj.get("kind")), meta_string(doc.obj, "namespace"), meta_string(doc.obj, "name"))
        if key in seen:
            print(f"warning: {doc.source}: duplicate {object_id(doc.obj)}, also in {seen[key]}", file=sys.stderr)
        seen.setdefault(key, doc.source)


def namespace_for(obj: dict[str, Any], namespaces: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """gator's namespace for an object: an empty Namespace for cluster-scoped objects, the Namespace from
    the inputs, a synthetic `default`, or None (then the inventory is asked)."""
    name = meta_string(obj, "namespace")
    if not name:
        return {}
    if name in namespaces:
        return namespaces[name]
    if name == "default":
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
    return None


def run_test(
    paths: list[str],
    engine: str = "auto",
    progress: Callable[[int], Callable[[], None]] | None = None,
    enforcement_point: str = GATOR,
) -> TestRun:
    """Load, add and review everything under `paths`. `progress(total)` gives the function called after each
    object is reviewed."""
    docs, load_errors = load_all(paths)
    run = TestRun()
    for error in load_errors:
        run.fail(error)
    return review_documents(docs, engine, progress, enforcement_point, run=run)


def review_documents(
    docs: list[Document],
    engine: str = "auto",
    progress: Callable[[int], Callable[[], None]] | None = None,
    enforcement_point: str = GATOR,
    only: range | None = None,
    run: TestRun | None = None,
) -> TestRun:
    """gator's pipeline over documents: templates, constraints, every object into the inventory, then every
    object (or those whose position among the objects is in `only`) reviewed."""
    run = run if run is not None else TestRun()
    objects, bad_constraints = [], []
    for doc in docs:
        kind = doc.obj.get("kind") if isinstance(doc.obj, dict) else None
        if isinstance(kind, str) and kind:
            objects.append(doc)
        elif kind and is_constraint(doc.obj):
            bad_constraints.append(doc)  # add_policies reports it, as a ConstraintError
        else:
            run.fail(f"{doc.source}: not a Kubernetes object ({'its kind is not a string' if kind else 'no kind'})")
    run.objects = objects
    if only is None:
        warn_duplicates(objects)
        warn_mutators([doc.obj for doc in objects])
    client = Client(enforcement_point=enforcement_point, engine=engine)
    for error in client.add_policies(objects + bad_constraints):
        run.fail(error)
    run.constraints = client.constraints
    namespaces = {}
    failed: set[int] = set()  # objects already reported: a review error about them would repeat it
    for doc in objects:
        try:
            client.add_data(doc.obj)
        except GatekeeperPyError as exc:
            run.fail(f"{doc.source}: {exc}")
            failed.add(id(doc))
        if group_version_kind(doc.obj)["group"] == "" and doc.obj.get("kind") == "Namespace":
            namespaces[meta_string(doc.obj, "name")] = doc.obj
    selected = [objects[i] for i in only] if only is not None else objects
    advance = progress(len(selected)) if progress else lambda: None
    for doc in selected:
        try:
            review = review_object(doc.obj, namespace=namespace_for(doc.obj, namespaces))
            responses = client.review(review, namespace_in_input=False)
        except GatekeeperPyError as exc:
            if id(doc) not in failed:
                run.fail(f"{doc.source}: {exc}")
            continue
        finally:
            advance()
        run.reviewed.append(doc)
        run.results += [(doc, result) for result in responses]
    sort_gator_results(run.results)
    return run


def is_policy(obj: dict[str, Any]) -> bool:
    """A ConstraintTemplate, constraint, ExpansionTemplate or mutator: input that configures the run."""
    return is_template(obj) or is_constraint(obj) or is_expansion_template(obj) or is_mutator(obj)


def empty_input_problems(run: TestRun) -> list[str]:
    """Why a run checked nothing, where gator would stop with "no input data identified": no constraint was
    loaded, or no object besides policies was given. A run that checks nothing must not pass. When the run
    already has errors, only what they may not make plain: that every constraint given failed to load."""
    given = sum(is_constraint(doc.obj) for doc in run.objects)
    if run.errors:
        return [f"no constraint loaded: all {given} among the inputs failed"] if given and not run.constraints else []
    problems = []
    if not run.constraints:
        problems.append("no constraint loaded: the inputs hold no constraint, so nothing would be checked")
    if not any(not is_policy(doc.obj) for doc in run.objects):
        problems.append(
            "no objects to review: the inputs hold no manifest besides templates and constraints "
            "(give them with -f PATH or pipe them in)"
        )
    return problems


def sort_gator_results(results: list[tuple[Document, Result]]) -> None:
    """gator sorts the results of all objects together, by action and then message."""
    results.sort(key=lambda pair: (pair[1].enforcement_action, pair[1].msg))


def _object_label(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = f"{meta['namespace']}/{meta.get('name', '')}" if meta.get("namespace") else meta.get("name", "")
    return f"{obj.get('apiVersion', '')}/{obj.get('kind', '')} {name}"


_STYLES = {DENY: "bold red", WARN: "yellow", DRYRUN: "dim"}


def _action_label(result: Result) -> str:
    return ",".join(result.actions) or result.enforcement_action


def human_lines(results: list[tuple[Document, Result]]) -> list[tuple[str, Style]]:
    """gator's lines labelled with their action, `[<action>] <apiVersion>/<Kind> [<ns>/]<name>: ["<constraint>"]
    Message: "<msg>"`, with a colour per action for terminals."""
    return [
        (
            f"[{_action_label(r)}] {_object_label(doc.obj)}: "
            f"[{go_quote(r.constraint.name)}] Message: {go_quote(r.msg)}",
            next((_STYLES[a] for a in (DENY, WARN, DRYRUN) if a in r.actions), None),
        )
        for doc, r in results
    ]


def summary_line(run: TestRun) -> str:
    """One line for the end of the human output: objects reviewed, results per action, bad inputs."""
    counts = {action: sum(action in r.actions for _, r in run.results) for action in (DENY, WARN, DRYRUN)}
    policies = sum(is_policy(doc.obj) for doc in run.reviewed)
    reviewed = f"{_plural(len(run.reviewed) - policies, 'object')} and {_plural(policies, 'policy')} reviewed"
    line = f"{reviewed}: " + ", ".join(f"{n} {a}" for a, n in counts.items())
    return line + (f"; {_plural(len(run.errors), 'input error')}" if run.errors else "")


def _plural(count: int, noun: str) -> str:
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {noun[:-1]}ies" if noun.endswith("y") else f"{count} {noun}s"


def _gator_yaml_result(doc: Document, r: Result) -> dict[str, Any]:
    """gator's `-o yaml` item: yaml.v3 does not inline the embedded framework Result, so it sits under `result:`
    with Go's lower-cased field names, and the constraint under `object:`."""
    return {
        "result": {
            "target": r.target,
            "msg": r.msg,
            "metadata": {"details": r.details} if r.details is not None else {},
            "constraint": {"object": r.constraint.obj},
            "enforcementaction": r.enforcement_action,
            "scopedenforcementactions": list(r.scoped_actions),
        },
        "violatingObject": doc.obj,
        "trace": None,
    }


def junit_cases(run: TestRun, fail_on_warn: bool) -> list[JUnitCase]:
    """One testcase per reviewed object, failed by what fails the run; plus one errored case per bad input."""
    by_object: dict[int, list[Result]] = {}
    for doc, r in run.results:
        by_object.setdefault(id(doc), []).append(r)
    cases = []
    for doc in run.reviewed:
        results = by_object.get(id(doc), [])
        failing = [r for r in results if failing_result(r, fail_on_warn)]
        lines = [f"[{r.constraint.name}] {r.enforcement_action}: {r.msg}" for r in results]
        failure = "\n".join(f"[{r.constraint.name}] {r.msg}" for r in failing) if failing else None
        cases.append(JUnitCase(doc.source, _object_label(doc.obj), failure=failure, output="\n".join(lines)))
    cases += [JUnitCase("input", f"bad input {i + 1}", error=e) for i, e in enumerate(run.errors)]
    return cases


def render(run: TestRun, results: list[tuple[Document, Result]], output: str, fail_on_warn: bool = False) -> str:
    """gator's JSON or YAML result list, JUnit XML or SARIF (human lines: `human_lines`)."""
    if output == "json":
        return to_json([{**r.to_dict(), "violatingObject": doc.obj, "trace": None} for doc, r in results]) + "\n"
    if output == "yaml":
        return to_yaml([_gator_yaml_result(doc, r) for doc, r in results])
    if output == "junit":
        return render_junit("gatekeeper-py test", [("gatekeeper-py test", junit_cases(run, fail_on_warn))])
    if output == "sarif":
        return to_json(render_sarif(results)) + "\n"
    raise ValueError(f"unknown output format {output!r}")


def failing_result(result: Result, fail_on_warn: bool) -> bool:
    return DENY in result.actions or (fail_on_warn and WARN in result.actions)


def exit_code(run: TestRun, fail_on_warn: bool = False) -> int:
    if run.errors:
        return EXIT_BAD_INPUT
    if any(failing_result(r, fail_on_warn) for _, r in run.results):
        return EXIT_VIOLATIONS
    return EXIT_OK
