"""`gatekeeper-py verify`: run Suites and print gator's `go test`-style report, or JSON."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import GatekeeperPyError
from ..model.suite import read_suite, suite_files
from ..verify import CaseResult, RunFilter, SuiteResult, TestResult, run_suite
from .junit import JUnitCase, render_junit
from .output import error_line, to_json
from .terminal import Style

FAILED = ("fail", "error")


def run_verify(
    targets: list[str],
    run: str | None,
    engine: str = "auto",
    progress: Callable[[int], Callable[[], None]] | None = None,
) -> tuple[list[SuiteResult], list[str]]:
    """Results of every Suite under `targets`, and the bad-input errors met on the way. `progress(total)` gives
    the function called after each suite file."""
    errors: list[str] = []
    results: list[SuiteResult] = []
    try:
        run_filter = RunFilter.parse(run)
    except GatekeeperPyError as exc:
        return [], [str(exc)]
    files: list[Path] = []
    for target in targets:
        try:
            files += suite_files(target)
        except GatekeeperPyError as exc:
            errors.append(str(exc))
    advance = progress(len(files)) if progress else lambda: None
    for path in files:
        try:
            suite = read_suite(path)
        except GatekeeperPyError as exc:
            errors.append(str(exc))
            continue
        finally:
            advance()
        if suite is not None:
            results.append(run_suite(suite, str(path), run_filter, engine))
    for error in errors:
        error_line(error)
    return results, errors


def _seconds(value: float) -> str:
    return f"{value:.3f}s"


def _test_lines(test: TestResult, verbose: bool) -> list[str]:
    if test.status == "skip":
        return [f"=== SKIP  {test.name}"] if verbose else []
    lines = [f"=== RUN   {test.name}"] if verbose else []
    for case in [] if test.error else test.cases:  # a test that could not start shows only its own error
        if case.status == "skip":
            lines += [f"    === SKIP  {case.name}"] if verbose else []
            continue
        lines += [f"    === RUN   {case.name}"] if verbose else []
        if case.status in FAILED:
            lines += [f"    --- FAIL: {case.name}\t({_seconds(case.seconds)})", f"        {case.error}"]
        elif verbose:
            lines.append(f"    --- PASS: {case.name}\t({_seconds(case.seconds)})")
    if test.status in FAILED:
        lines.append(f"--- FAIL: {test.name}\t({_seconds(test.seconds)})")
        lines += [f"  {test.error}"] if test.error else []
    elif verbose:
        lines.append(f"--- PASS: {test.name}\t({_seconds(test.seconds)})")
    return lines


def _style(line: str) -> Style:
    if line == "PASS" or line.startswith("ok\t"):
        return "green"
    if line.startswith(("FAIL", "--- FAIL", "    --- FAIL")):
        return "bold red"
    return "dim" if "=== SKIP" in line else None


def human_lines(results: list[SuiteResult], verbose: bool) -> list[tuple[str, Style]]:
    """gator's report, a colour per line for terminals."""
    return [(line, _style(line)) for line in render_human(results, verbose).splitlines()]


def render_human(results: list[SuiteResult], verbose: bool) -> str:
    lines: list[str] = []
    for suite in results:
        for test in suite.tests:
            lines += _test_lines(test, verbose)
        word = "FAIL" if suite.status in FAILED else "ok"
        lines.append(f"{word}\t{suite.path}\t{_seconds(suite.seconds)}")
        lines += [f"  {suite.error}"] if suite.error else []
    lines.append("FAIL" if any(s.status in FAILED for s in results) else "PASS")
    return "\n".join(lines) + "\n"


def render_json(results: list[SuiteResult]) -> str:
    cases = [c for s in results for t in s.tests for c in t.cases]
    summary = {
        "suites": len(results),
        "tests": sum(len(s.tests) for s in results),
        "cases": len(cases),
        "passed": sum(c.status == "pass" for c in cases),
        "failed": sum(c.status == "fail" for c in cases),
        "errors": sum(c.status == "error" for c in cases),
        "skipped": sum(c.status == "skip" for c in cases),
    }
    suites = [
        {
            "path": s.path,
            "tests": [
                {
                    "name": t.name,
                    "status": t.status,
                    "error": t.error,
                    "cases": [
                        {"name": c.name, "status": c.status, "error": c.error, "seconds": round(c.seconds, 6)}
                        for c in t.cases
                    ],
                }
                for t in s.tests
            ],
        }
        for s in results
    ]
    return to_json({"summary": summary, "suites": suites}) + "\n"


def render_junit_report(results: list[SuiteResult]) -> str:
    """One `<testsuite>` per Suite file and one `<testcase>` per case (a test without cases, such as an
    `invalid` test, is one testcase of its own)."""
    suites = []
    for suite in results:
        cases = []
        for test in suite.tests:
            entries = test.cases or [CaseResult(test.name, test.status, test.error, test.seconds)]
            cases += [
                JUnitCase(
                    classname=test.name,
                    name=c.name,
                    seconds=c.seconds,
                    failure=c.error or "failed" if c.status == "fail" else None,
                    error=c.error or test.error or "error" if c.status == "error" else None,
                    skipped=c.status == "skip",
                )
                for c in entries
            ]
        suites.append((suite.path, cases))
    return render_junit("gatekeeper-py verify", suites)


def verify_exit_code(results: list[SuiteResult], errors: list[str]) -> int:
    if errors:
        return 2
    return 1 if any(s.status in FAILED for s in results) else 0
