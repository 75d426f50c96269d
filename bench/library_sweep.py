"""The conformance sweep: `gatekeeper-py verify` over a checkout of the public Gatekeeper template library.

    python bench/library_sweep.py PATH/TO/gatekeeper-library [--engine rego]

Runs the real command in a fresh process (start-up included), prints the case counts and the wall time, and
lists every case that did not pass. Exit 0 when every case passes. The library itself is never part of this
repository: fetch it and point this script at it.
"""

from __future__ import annotations

import json
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
    command = [sys.executable, "-m", "gatekeeper_py", "verify", f"{library}/...", "--engine", engine, "-o", "json"]
    start = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if run.returncode == 2 or not run.stdout:
        print(run.stderr, file=sys.stderr)
        return 2
    report = json.loads(run.stdout)
    summary = report["summary"]
    print(f"engine {engine}: {summary['passed']}/{summary['cases']} cases passed "
          f"({summary['failed']} failed, {summary['errors']} errors, {summary['skipped']} skipped) "
          f"in {summary['suites']} suites, {seconds:.2f} s wall time")  # fmt: skip
    for suite in report["suites"]:
        for test in suite["tests"]:
            for case in test["cases"]:
                if case["status"] not in ("pass", "skip"):
                    print(f"  {case['status']}: {suite['path']} {test['name']}/{case['name']}: {case['error']}")
    return 0 if summary["passed"] + summary["skipped"] == summary["cases"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
