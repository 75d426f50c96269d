"""Every benchmark of issue 8 in one command, each printing its tables (see bench/README.md).

    python bench/run_all.py [--library PATH/TO/gatekeeper-library] [--quick]

In order: review latency (restricted profile, 50 and 500 constraints; one thread and a worker pool; against
regorus; process start of `--help` and `test`); the same for 50 constraints of 50 templates (the generated
sets give each template 5 constraints with the same parameters, which both engines evaluate once); template
compile time (10, 100, 500 templates; cold and cached); audit throughput (1 and 2 workers; against regorus);
`verify` over our catalogue and, given `--library`, over the public Gatekeeper library (process start
included). `--quick` shortens every section (for a smoke run; the figures are noisier). Exits non-zero when a
section fails.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


def sections(library: str | None, quick: bool) -> list[tuple[str, list[str]]]:
    review = ["--sets", "restricted,50", "--budget", "1", "--start-runs", "3", "--pool-seconds", "1"] if quick else []
    compile_counts = ["10", "100"] if quick else []
    audit = ["--objects", "400"] if quick else []
    runs = ["--runs", "1" if quick else "3"]
    out = [
        ("review latency", ["review_latency.py", *review]),
        (
            "review latency, one constraint per template (no two constraints share parameters)",
            ["review_latency.py", "--sets", "50", "--per-template", "1", "--workers", "0", "--start-runs", "0"]
            + (["--budget", "1"] if quick else []),
        ),
        ("template compile time", ["compile_scaling.py", *compile_counts]),
        ("audit throughput", ["audit_throughput.py", *audit]),
        ("verify over our catalogue (library/)", ["library_sweep.py", str(REPO), "--engine", "auto", *runs]),
    ]
    if library:
        for engine in ("rego", "auto"):
            out.append(
                (
                    f"verify over the public library, --engine {engine}",
                    ["library_sweep.py", library, "--engine", engine, *runs],
                )
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", help="a checkout of github.com/open-policy-agent/gatekeeper-library")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    failed = []
    for title, argv in sections(args.library, args.quick):
        print(f"\n######## {title}: python bench/{' '.join(argv)}", flush=True)
        start = time.perf_counter()
        code = subprocess.run([sys.executable, str(BENCH / argv[0]), *argv[1:]], cwd=REPO, check=False).returncode
        print(f"######## {title}: exit {code}, {time.perf_counter() - start:.0f} s", flush=True)
        if code:
            failed.append(title)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
