"""Audit throughput: objects reviewed per second by `gatekeeper-py audit`'s pipeline, with 1 and 2 workers.

    python bench/audit_throughput.py [--objects N] [--set 50] [--workers 1,2] [--runs R] [--no-reference]

What is audited: N objects (default 1000), a quarter each of copies of review_latency.py's Pod, Deployment,
Service and Namespace, each copy renamed (`<name>-<i>`), the namespaced ones spread over eight Namespaces (also
in the inventory, as an audit of a cluster has them). Policies: one of review_latency.py's sets (default the
generated `50`: 10 catalogue templates renamed, 5 constraints each; `restricted` for the restricted profile).

Measured in this run, per engine (`rego`, `auto`):
- `run_audit` (what `gatekeeper-py audit -f ...` runs once the files are read) over the objects with 1 and with W
  workers (spawned processes, each loading the policies itself, as the CLI does): the median wall time of R runs,
  objects/s, and the speed-up of W workers over 1. Compiled templates come from a cache warmed before the clock,
  as on a second CLI run.
- The reference: regorus (the Rust Rego engine, `pip install regorus` or `gordon-to-regorus`) evaluating the
  same Rego templates for the same (object, matched constraint) pairs in one thread, engine time only (matching
  done before its clock): objects/s, and ours/regorus as a ratio of objects/s (above 1.0: we audit faster).

The violation counts of `rego` and `auto` differ by design: where a catalogue template's CEL source words one
message per validation (all missing labels in one), its Rego source gives one per item; regorus must agree with
`rego`, and the check fails the run otherwise. Worker processes pay a fixed start (spawn, imports, loading the
policies), so their speed-up shows only on enough objects.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import review_latency as rl

from gatekeeper_py.cli.audit_cmd import run_audit
from gatekeeper_py.drivers.cache import CACHE_DIR_ENV
from gatekeeper_py.enforcement import AUDIT
from gatekeeper_py.loader import Document
from gatekeeper_py.review import review_object

NAMESPACES = 8


def namespace(i: int) -> dict[str, Any]:
    ns = copy.deepcopy(rl.NAMESPACE)
    ns["metadata"]["name"] = f"{rl.NAMESPACE['metadata']['name']}-{i}"
    return ns


def audited_objects(count: int) -> list[dict[str, Any]]:
    bases = [rl.POD, rl.DEPLOYMENT, rl.SERVICE, rl.NAMESPACE]
    out = []
    for i in range(count):
        obj = copy.deepcopy(bases[i % len(bases)])
        if obj["kind"] == "Namespace":
            obj["metadata"]["name"] = f"audit-ns-{i}"
        else:
            obj["metadata"]["name"] = f"{obj['metadata']['name']}-{i}"
            obj["metadata"]["namespace"] = namespace(i % NAMESPACES)["metadata"]["name"]
        out.append(obj)
    return out


def documents(pset: rl.PolicySet, objects: list[dict[str, Any]]) -> list[Document]:
    namespaces = [Document(namespace(i), "<namespace>") for i in range(NAMESPACES)]
    objs = [Document(o, f"<object {i}>") for i, o in enumerate(objects)]
    return [*pset.templates, *pset.constraints, *namespaces, *objs]


def timed_audit(docs: list[Document], engine: str, workers: int) -> tuple[float, Counter[tuple[str, str]]]:
    start = time.perf_counter()
    run = run_audit(docs, engine, workers)
    elapsed = time.perf_counter() - start
    if run.errors:
        raise SystemExit(f"audit under --engine {engine} failed: {run.errors[0]}")
    return elapsed, Counter((r.constraint.name, r.msg) for _, r in run.results)


def reference_plans(regorus: Any, pset: rl.PolicySet, objects: list[dict[str, Any]]) -> list[rl.Plan]:
    """Per object: input.review as our audit builds it and the constraints that match it (matched here)."""
    client = rl.load_client(pset, "rego").client
    reference = rl.Reference(regorus, pset)
    by_name = {namespace(i)["metadata"]["name"]: namespace(i) for i in range(NAMESPACES)}
    plans = []
    for obj in objects:
        ns = by_name.get(obj["metadata"].get("namespace", ""))
        built = review_object(obj, namespace=ns)
        plans.append(reference.plan_built(client, built, ns, lambda c: c.actions_at(AUDIT) is not None))
    return plans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--set", default="50", help="restricted, or a generated constraint count")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare")
    parser.add_argument("--runs", type=int, default=1, help="runs per cell (median)")
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault(CACHE_DIR_ENV, tempfile.mkdtemp(prefix="gatekeeper-py-bench-cache-"))

    pset = rl.policy_set(args.set, 5)
    objects = audited_objects(args.objects)
    docs = documents(pset, objects)
    counts = [int(w) for w in args.workers.split(",")]
    print(f"gatekeeper-py audit throughput; python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"policies: {pset.description}; {len(objects)} objects (Pods, Deployments, Services, Namespaces)")

    found: dict[str, Counter[tuple[str, str]]] = {}
    rates: dict[tuple[str, int], float] = {}
    print(f"\n== run_audit, median of {args.runs} run(s) (compiled templates cached, as on a second CLI run)")
    print(f"{'engine':<8} {'workers':>7} {'wall s':>8} {'objects/s':>10} {'speed-up':>9} {'violations':>11}")
    for engine in rl.ENGINES:
        timed_audit(docs, engine, 1)  # warms imports and the compiled-template cache
        for workers in counts:
            times = []
            for _ in range(args.runs):
                elapsed, results = timed_audit(docs, engine, workers)
                times.append(elapsed)
                if found.setdefault(engine, results) != results:
                    raise SystemExit(f"--engine {engine} with {workers} workers found other violations")
            wall = statistics.median(times)
            rate = rates[engine, workers] = len(objects) / wall
            speed_up = rate / rates[engine, counts[0]]
            total = sum(found[engine].values())
            print(f"{engine:<8} {workers:>7} {wall:>8.3f} {rate:>10.1f} {speed_up:>8.2f}x {total:>11}")

    reference = None if args.no_reference else rl.import_reference()
    if reference is None:
        print("\nreference engine: skipped" + ("" if args.no_reference else " (regorus is not installed)"))
        return
    plans = reference_plans(reference[0], pset, objects)
    expected: Counter[tuple[str, str]] = Counter()
    for plan in plans:
        expected += plan.run()
    agree = expected == found["rego"]
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        for plan in plans:
            plan.run()
        times.append(time.perf_counter() - start)
    ref_rate = len(objects) / statistics.median(times)
    print(f"\n== reference: {reference[1]}, one thread, engine only (matching done before the clock)")
    print(f"same violations as --engine rego: {'yes' if agree else 'NO'} ({sum(expected.values())} violations)")
    print(f"regorus: {ref_rate:.1f} objects/s")
    for engine in rl.ENGINES:
        for workers in counts:
            ratio = rates[engine, workers] / ref_rate
            print(f"  ours/regorus objects/s, {engine} with {workers} worker(s): {ratio:.2f}x")
    if not agree:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
