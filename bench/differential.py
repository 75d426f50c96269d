"""Our Client against OPA on thousands of generated templates and Pods: how many give different messages.

Usage: python bench/differential.py [--examples N] [--show K] [--seed S]

The grammar is tests/policy_grammar.py, the one tests/test_differential.py runs a few examples of; see that file for
what it generates and what it keeps away from (AVOIDED). For each example our Client (a `version: "v1"` template,
one constraint) and OPA (opa_bindings: `data.gen.violation` with the same input) give their messages; an example
whose sets differ, or where one side raises, is a mismatch. Prints the counts and the first K mismatches (the Rego,
parameters, object and both answers); exit 1 when there is one.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hypothesis import HealthCheck, Phase, given, seed, settings
from policy_grammar import AVOIDED, Example, examples, opa_messages, our_messages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--show", type=int, default=5, help="mismatches printed in full (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # hypothesis warns about running outside a test
    mismatches: list[tuple[Example, str]] = []
    counts = {"examples": 0, "with messages": 0}

    @seed(args.seed)
    @settings(
        max_examples=args.examples,
        phases=[Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(examples())
    def compare(example: Example) -> None:
        counts["examples"] += 1
        try:
            ours, review = our_messages(example)
        except Exception as exc:
            mismatches.append((example, f"ours raised {type(exc).__name__}: {exc}"))
            return
        try:
            theirs = opa_messages(example, review)
        except Exception as exc:
            mismatches.append((example, f"OPA raised {type(exc).__name__}: {exc}"))
            return
        counts["with messages"] += bool(theirs)
        if ours != theirs:
            mismatches.append((example, f"ours: {ours}\nOPA:  {theirs}"))

    started = time.monotonic()
    compare()
    elapsed = time.monotonic() - started
    print(
        f"{counts['examples']} examples ({counts['with messages']} with OPA messages), "
        f"{len(mismatches)} mismatches, {elapsed:.1f} s ({1000 * elapsed / max(1, counts['examples']):.1f} ms each)"
    )
    for example, difference in mismatches[: args.show]:
        print(f"\n{example.describe()}\n--- answers\n{difference}")
    print("\nkept away from (rego-cpp differs from OPA there today):", file=sys.stderr)
    for avoided in AVOIDED:
        print(f"- {avoided}", file=sys.stderr)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
