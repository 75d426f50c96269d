"""The conformance sweep: `gatekeeper-py verify` over a checkout of the public Gatekeeper template library.

    python bench/library_sweep.py PATH/TO/gatekeeper-library [--engine rego] [--runs N]

Runs the real command in a fresh process (start-up included) N times (default 3), prints the case counts and
the median wall time, with two references measured in the same run: a bare `python -c pass` and
`gatekeeper-py --version` (interpreter plus our imports). Lists every case that did not pass. Exit 0 when every
case passes. The library itself is never part of this
repository: fetch it and point this script at it.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    library = Path(argv[0]) / "library"
    engine = argv[argv.index("--engine") + 1] if "--engine" in argv else "rego"
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 3
    command = [sys.executable, "-m", "gatekeeper_py", "verify", f"{library}/...", "--engine", engine, "-o", "json"]
    seconds, run = _median_time(command, runs)
    bare, _ = _median_time([sys.executable, "-c", "pass"], runs)
    cli_start, _ = _median_time([sys.executable, "-m", "gatekeeper_py", "--version"], runs)
    if run.returncode == 2 or not run.stdout:
        print(run.stderr, file=sys.stderr)
        return 2
    report = json.loads(run.stdout)
    summary = report["summary"]
    print(f"engine {engine}: {summary['passed']}/{summary['cases']} cases passed "
          f"({summary['failed']} failed, {summary['errors']} errors, {summary['skipped']} skipped) "
          f"in {summary['suites']} suites, {seconds:.2f} s wall time (median of {runs})")  # fmt: skip
    print(f"references in this run: python -c pass {bare:.3f} s, gatekeeper-py --version {cli_start:.3f} s")
    print(f"verify = {seconds / bare:.1f}x a bare interpreter start, {seconds / cli_start:.1f}x the CLI's start")
    for suite in report["suites"]:
        for test in suite["tests"]:
            for case in test["cases"]:
                if case["status"] not in ("pass", "skip"):
                    print(f"  {case['status']}: {suite['path']} {test['name']}/{case['name']}: {case['error']}")
    return 0 if summary["passed"] + summary["skipped"] == summary["cases"] else 1


def _median_time(command: list[str], runs: int) -> tuple[float, subprocess.CompletedProcess[str]]:
    times, run = [], None
    for _ in range(runs):
        start = time.perf_counter()
        run = subprocess.run(command, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
    assert run is not None
    return statistics.median(times), run


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
