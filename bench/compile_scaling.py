"""Template compile time against the number of templates (10, 100, 500): it should grow linearly.

    python bench/compile_scaling.py [COUNT ...]

Generates distinct Rego v0 templates (each a small policy with a helper function, a partial set and a
sprintf message), adds them to one Client, and prints the total and per-template time for each count, with
the per-template time as a ratio to the smallest count's, measured in the same run. Linear growth shows as
ratios near 1.0.
"""

from __future__ import annotations

import sys
import time

from gatekeeper_py import Client

REGO = """package gen{n}

violation[{{"msg": msg}}] {{
  c := input.review.object.spec.containers[_]
  not ok_{n}(c)
  msg := sprintf("container %v breaks rule {n}: %v", [c.name, input.parameters])
}}

ok_{n}(c) {{
  startswith(c.image, input.parameters.prefixes[_])
}}

names[n] {{
  n := input.review.object.spec.containers[_].name
}}
"""


def template(n: int) -> dict:
    kind = f"K8sGenerated{n}"
    return {
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": {"name": kind.lower()},
        "spec": {
            "crd": {"spec": {"names": {"kind": kind}}},
            "targets": [{"target": "admission.k8s.gatekeeper.sh", "rego": REGO.format(n=n)}],
        },
    }


def compile_seconds(count: int) -> float:
    templates = [template(n) for n in range(count)]
    client = Client()
    start = time.perf_counter()
    for t in templates:
        client.add_template(t)
    return time.perf_counter() - start


def main(counts: list[int]) -> None:
    compile_seconds(5)  # warm imports and rego-cpp
    rows = [(count, compile_seconds(count)) for count in counts]
    base = rows[0][1] / rows[0][0]
    print(f"{'templates':>10} {'total s':>9} {'ms/template':>12} {'ratio':>6}")
    for count, seconds in rows:
        per = seconds / count
        print(f"{count:>10} {seconds:>9.2f} {per * 1000:>12.2f} {per / base:>6.2f}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10, 100, 500])
