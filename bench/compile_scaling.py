"""Template compile time against the number of templates (10, 100, 500): it should grow linearly.

    python bench/compile_scaling.py [COUNT ...]

Generates distinct Rego v0 templates (each a small policy with a helper function, a partial set and a
sprintf message; new ones for every count), adds them to one Client with an empty compiled-template cache (a
directory of this run's), and prints the total and per-template time for each count, with the per-template
time as a ratio to the smallest count's, measured in the same run. Linear growth shows as ratios near 1.0.
Then the same templates are added to a second Client, which reads them from the cache (as a second CLI run
over an unchanged catalogue does): its time, and how many times faster than compiling.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from gatekeeper_py import Client
from gatekeeper_py.drivers.cache import CACHE_DIR_ENV

REGO = """package gen{n}x{count}

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


def template(n: int, count: int) -> dict:
    kind = f"K8sGenerated{n}x{count}"
    return {
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": {"name": kind.lower()},
        "spec": {
            "crd": {"spec": {"names": {"kind": kind}}},
            "targets": [{"target": "admission.k8s.gatekeeper.sh", "rego": REGO.format(n=n, count=count)}],
        },
    }


def add_seconds(templates: list[dict]) -> float:
    client = Client(engine="rego")
    start = time.perf_counter()
    for t in templates:
        client.add_template(t)
    return time.perf_counter() - start


def main(counts: list[int]) -> None:
    os.environ[CACHE_DIR_ENV] = tempfile.mkdtemp(prefix="gatekeeper-py-bench-cache-")
    add_seconds([template(n, 0) for n in range(5)])  # warm imports and rego-cpp
    rows = []
    for count in counts:
        templates = [template(n, count) for n in range(count)]
        rows.append((count, add_seconds(templates), add_seconds(templates)))
    base = rows[0][1] / rows[0][0]
    print(
        f"{'templates':>10} {'total s':>9} {'ms/template':>12} {'ratio':>6}"
        f" {'cached s':>9} {'ms/template':>12} {'faster':>7}"
    )
    for count, seconds, cached in rows:
        per = seconds / count
        print(
            f"{count:>10} {seconds:>9.2f} {per * 1000:>12.2f} {per / base:>6.2f}"
            f" {cached:>9.2f} {cached / count * 1000:>12.2f} {seconds / cached:>6.1f}x"
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10, 100, 500])
