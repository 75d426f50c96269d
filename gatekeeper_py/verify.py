"""Run gator Suites: each test's template and constraint against its cases' objects, as `gator verify` does."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .client import Client
from .enforcement import GATOR
from .errors import GatekeeperPyError, LoadError, SchemaError
from .expansion import is_expansion_template
from .gostrings import go_quote
from .loader import read_file
from .model.suite import Assertion, Case, Suite, Test
from .results import Result
from .review import build_review, is_admission_review, review_object

Status = Literal["pass", "fail", "error", "skip"]


@dataclass
class CaseResult:
    name: str
    status: Status
    error: str | None = None
    seconds: float = 0.0


@dataclass
class TestResult:
    name: str
    status: Status
    error: str | None = None
    seconds: float = 0.0
    cases: list[CaseResult] = field(default_factory=list)


@dataclass
class SuiteResult:
    path: str
    status: Status
    error: str | None = None
    seconds: float = 0.0
    tests: list[TestResult] = field(default_factory=list)


class CaseFailure(Exception):
    """An assertion did not hold (the case fails, as opposed to erroring)."""


@dataclass(frozen=True)
class RunFilter:
    """gator's `--run`: `A` selects tests or cases whose name matches; `A//B` a test matching A and case matching B."""

    test: re.Pattern[str] | None = None
    case: re.Pattern[str] | None = None
    both: bool = False

    @classmethod
    def parse(cls, text: str | None) -> RunFilter:
        if not text:
            return cls()
        parts = text.split("//")
        if len(parts) > 2:
            raise LoadError(f"invalid --run filter {text!r}: at most one '//' is allowed")
        try:
            if len(parts) == 2:
                return cls(re.compile(parts[0]), re.compile(parts[1]), both=True)
            pattern = re.compile(text)
        except re.error as exc:
            raise LoadError(f"invalid --run filter {text!r}: {exc}") from None
        return cls(pattern, pattern)

    def runs_test(self, test: Test) -> bool:
        if self.test is None or self.both:
            return self.test is None or bool(self.test.search(test.name))
        return bool(self.test.search(test.name)) or any(self.runs_case(test.name, c.name) for c in test.cases)

    def runs_case(self, test_name: str, case_name: str) -> bool:
        if self.test is None or self.case is None:
            return True
        if self.both:
            return bool(self.test.search(test_name)) and bool(self.case.search(case_name))
        return bool(self.test.search(test_name)) or bool(self.case.search(case_name))


def check_assertion(assertion: Assertion, results: list[Result]) -> None:
    """Raise CaseFailure with gator's wording when the number of matching results is wrong."""
    wanted = assertion.violations
    if isinstance(wanted, bool) or not (wanted in ("yes", "no") or (isinstance(wanted, int) and wanted >= 0)):
        raise CaseFailure('invalid YAML: assertion.violation, if set, must be a nonnegative integer, "yes", or "no"')
    try:
        pattern = re.compile(assertion.message) if assertion.message is not None else None
    except re.error as exc:
        raise CaseFailure(f"invalid regex: {exc}") from None
    matching = sum(1 for r in results if pattern is None or pattern.search(r.msg))
    containing = f" containing {go_quote(assertion.message)}" if assertion.message is not None else ""
    if wanted == "yes" and matching == 0:
        problem = f"got {matching} violations{containing} but want at least 1"
    elif wanted == "no" and matching > 0:
        problem = f"got {matching} violations{containing} but want none"
    elif isinstance(wanted, int) and matching != wanted:
        problem = f"got {matching} violations{containing} but want exactly {wanted}"
    else:
        return
    messages = " ".join(r.msg for r in results)
    raise CaseFailure(f"unexpected number of violations: {problem}: got messages [{messages}]")


def _first_document(path: Path, what: str) -> dict:
    docs = read_file(path)
    if not docs or not isinstance(docs[0].obj, dict):
        raise LoadError(f"no {what} in the file", source=str(path))
    return docs[0].obj


def _test_client(suite: Suite, test: Test, engine: str) -> Client:
    """A gator client with the test's template and constraint; raises what stops the test."""
    if not test.template:
        raise LoadError("invalid suite: missing template", source=str(suite.path))
    if not test.constraint:
        raise LoadError("invalid suite: missing constraint", source=str(suite.path))
    client = Client(enforcement_point=GATOR, engine=engine)
    template_path = suite.directory / test.template
    client.add_template(_first_document(template_path, "ConstraintTemplate"), str(template_path))
    constraint_path = suite.directory / test.constraint
    client.add_constraint(_first_document(constraint_path, "constraint"), str(constraint_path))
    if test.expansion:
        expansion_path = suite.directory / test.expansion
        docs = read_file(expansion_path)
        if not docs or not all(is_expansion_template(d.obj) for d in docs):
            raise LoadError("not an Expansion Template", source=str(expansion_path))
        for doc in docs:
            client.add_expansion_template(doc.obj, doc.source)
    return client


def run_case(client: Client, suite: Suite, case: Case) -> None:
    """Review the case's object and check every assertion; CaseFailure or GatekeeperPyError on failure."""
    if not case.object:
        raise LoadError("invalid Case: must define object")
    if not case.assertions:
        raise LoadError("invalid Case: assertions must be non-empty")
    object_path = suite.directory / case.object
    docs = read_file(object_path)
    if len(docs) != 1:
        raise LoadError(f"the case object file defines {len(docs)} objects, want exactly 1", source=str(object_path))
    client.clear_data()
    for inventory_path in case.inventory:
        for doc in read_file(suite.directory / inventory_path):
            client.add_data(doc.obj)
    obj = docs[0].obj
    if is_admission_review(obj):  # gator expands plain objects only
        results = client.review(build_review(obj, strict=True), namespace_in_input=False, expand=False).results
    else:
        results = client.review(review_object(obj), namespace_in_input=False).results
    for assertion in case.assertions:
        check_assertion(assertion, results)


def _timed_case(client: Client | None, suite: Suite, case: Case, test_error: str | None) -> CaseResult:
    start = time.perf_counter()
    if client is None:
        return CaseResult(case.name, "error", test_error)
    try:
        run_case(client, suite, case)
    except CaseFailure as exc:
        return CaseResult(case.name, "fail", str(exc), time.perf_counter() - start)
    except GatekeeperPyError as exc:
        return CaseResult(case.name, "error", str(exc), time.perf_counter() - start)
    return CaseResult(case.name, "pass", None, time.perf_counter() - start)


def run_test(suite: Suite, test: Test, run_filter: RunFilter, engine: str = "auto") -> TestResult:
    start = time.perf_counter()
    if test.skip or not run_filter.runs_test(test):
        return TestResult(test.name, "skip")
    client: Client | None = None
    error: str | None = None
    try:
        client = _test_client(suite, test, engine)
    except SchemaError as exc:
        if not test.invalid:
            error = str(exc)
    except GatekeeperPyError as exc:
        error = f"got error {exc} but want a schema validation error" if test.invalid else str(exc)
    if test.invalid:
        if client is not None:
            error = "the constraint was valid, but the test expects it to fail schema validation"
        status: Status = "error" if error else "pass"
        return TestResult(test.name, status, error, time.perf_counter() - start)
    cases = [
        CaseResult(c.name, "skip") if c.skip or not run_filter.runs_case(test.name, c.name)
        else _timed_case(client, suite, c, error)
        for c in test.cases
    ]  # fmt: skip
    if error:
        status = "error"
    elif any(c.status in ("fail", "error") for c in cases):
        status = "fail"
    else:
        status = "pass"
    return TestResult(test.name, status, error, time.perf_counter() - start, cases)


def run_suite(
    suite: Suite, display_path: str, run_filter: RunFilter | None = None, engine: str = "auto"
) -> SuiteResult:
    start = time.perf_counter()
    if suite.skip:
        return SuiteResult(display_path, "skip")
    tests = [run_test(suite, t, run_filter or RunFilter(), engine) for t in suite.tests]
    failed = any(t.status in ("fail", "error") for t in tests)
    return SuiteResult(display_path, "fail" if failed else "pass", None, time.perf_counter() - start, tests)
