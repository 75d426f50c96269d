"""Thousands of hostile reviews through Client.review (the strategies of tests/mutations.py: the catalogue's samples
and the examples, mutated, alone and as AdmissionReviews), against the starter policies and the trap templates,
for each engine. Counts what came back: results, ReviewError, any other exception (each a bug: the first few are
printed with their input's shape); and the slowest reviews against the deadline. Exit 1 on an escaped exception
or a review over its deadline plus the margin.

    python bench/fuzz_review.py [--examples 2000] [--engines auto,rego] [--timeout 2] [--seed N]
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from mutations import admission_reviews, mutated, seed_objects  # noqa: E402

from gatekeeper_py import Client, ReviewError  # noqa: E402
from gatekeeper_py.loader import load_all  # noqa: E402

MARGIN = 3.0


def shape(value: Any) -> str:
    """The start of a value's text, for reports (repr: JSON cannot print every hostile value)."""
    try:
        text = repr(value)
    except (RecursionError, ValueError):
        text = f"<a {type(value).__name__} too deep or too big to print>"
    return text[:300] + ("..." if len(text) > 300 else "")


def run(engine: str, examples: int, timeout: float, seed_value: int) -> bool:
    docs, _ = load_all([REPO / "templates", REPO / "constraints", REPO / "tests" / "data" / "trap-templates"])
    client = Client(engine=engine, review_timeout=timeout)
    client.add_policies(docs)
    seeds = seed_objects()
    outcomes: collections.Counter[str] = collections.Counter()
    escaped: list[str] = []
    reasons: collections.Counter[str] = collections.Counter()
    slowest: list[tuple[float, str]] = []

    @seed(seed_value)
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(thing=st.one_of(mutated(seeds), admission_reviews(seeds)))
    def one(thing: dict[str, Any]) -> None:
        start = time.monotonic()
        try:
            responses = client.review(thing)
            errors = [r.msg for r in responses if r.error]
            outcomes["results" if not errors else "results with engine errors"] += 1
            for msg in set(errors):
                reasons[re.sub(r"\b\d+(\.\d+)?\b", "N", msg)[:150] + " ... " + msg[-150:]] += 1
        except ReviewError:
            outcomes["ReviewError"] += 1
        except Exception as exc:
            outcomes[f"escaped {type(exc).__name__}"] += 1
            if len(escaped) < 5:
                escaped.append(f"{traceback.format_exc(limit=-3)}input: {shape(thing)}")
        elapsed = time.monotonic() - start
        slowest.append((elapsed, shape(thing)[:120]))
        slowest.sort(reverse=True)
        del slowest[3:]

    started = time.monotonic()
    one()
    print(f"== engine {engine}: {examples} examples in {time.monotonic() - started:.0f}s, deadline {timeout:g}s")
    for outcome, count in sorted(outcomes.items()):
        print(f"  {outcome:32} {count}")
    for reason, count in reasons.most_common(12):
        print(f"  {count:5} x engine error: {reason}")
    for elapsed, what in slowest:
        print(f"  slowest {elapsed:6.2f}s  {what}")
    for text in escaped:
        print(text)
    return not escaped and (not slowest or slowest[0][0] < timeout + MARGIN)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--engines", default="auto,rego")
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    print(f"seed {args.seed}")
    ok = [run(engine, args.examples, args.timeout, args.seed) for engine in args.engines.split(",")]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
