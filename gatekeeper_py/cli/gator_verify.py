"""`gatekeeper-py verify`: run Suites and print gator's `go test`-style report, or JSON."""

from __future__ import annotations

from ..errors import GatekeeperPyError
from ..model.suite import read_suite, suite_files
from ..verify import RunFilter, SuiteResult, TestResult, run_suite
from .output import error_line, to_json

FAILED = ("fail", "error")


def run_verify(targets: list[str], run: str | None, engine: str = "auto") -> tuple[list[SuiteResult], list[str]]:
    """Results of every Suite under `targets`, and the bad-input errors met on the way."""
    errors: list[str] = []
    results: list[SuiteResult] = []
    try:
        run_filter = RunFilter.parse(run)
    except GatekeeperPyError as exc:
        return [], [str(exc)]
    for target in targets:
        try:
            files = suite_files(target)
        except GatekeeperPyError as exc:
            errors.append(str(exc))
            continue
        for path in files:
            try:
                suite = read_suite(path)
            except GatekeeperPyError as exc:
                errors.append(str(exc))
                continue
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


def verify_exit_code(results: list[SuiteResult], errors: list[str]) -> int:
    if errors:
        return 2
    return 1 if any(s.status in FAILED for s in results) else 0
