"""Memory over a long run: one `Client` reviewing 100,000 objects, its RSS at 0, 10%, 50% and 100% of them.

    python bench/soak.py [--reviews N] [--engines rego,auto] [--sets starter,restricted]

Each (engine, policy set) runs in a fresh process of its own, so one run's memory never shows in another's.
The process loads the set into `Client(engine=...)` and reviews a fixed rotation of objects (built before the
first checkpoint, so building them is not counted): Pods, Deployments, Services and Namespaces, each compliant
and violating (images from unknown registries, privileged and root containers, host namespaces and ports,
hostPath volumes, added capabilities, unsafe sysctls, missing labels), 32 variants of each with their own names
and image tags, alternately as plain objects (as audit and gator review them) and as CREATE or UPDATE
AdmissionReviews with the request's Namespace passed (as the webhook does). Two Namespaces exist, one that opts
in to the starter set's namespaceSelector constraint.

Policy sets: `starter` is the main job's set (`templates/` and `constraints/`: the restricted profile in warn
mode, allowed registries, exec guard, protected delete, required labels and the workload expansion);
`restricted` is the catalogue's restricted profile (`library/pod-security/restricted`, 15 deny constraints).

Printed per run: RSS and its anonymous part (from /proc/self/statm) and the C heap in use (glibc's mallinfo2,
where there is one) at each checkpoint, the reviews per second and results found since the previous one, and the
growth after warm-up: anonymous RSS at the end against the 10% checkpoint, in percent and in bytes per review
(the whole RSS also counts the shared libraries' code, which the kernel evicts and reloads when memory is short:
it fell by 28 MiB in one run here). The goal is under 5%; the exit status is 1 when a run misses it.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

GOAL_PERCENT = 5.0
VARIANTS = 32
SETS = {
    "starter": [REPO / "templates", REPO / "constraints"],
    "restricted": [REPO / "library/pod-security/restricted"],
}
_PAGE = os.sysconf("SC_PAGE_SIZE")


# -- measuring ---------------------------------------------------------------------------------------------
def rss_bytes() -> tuple[int, int]:
    """Resident set size now, and its anonymous part (resident minus file-backed pages, from /proc/self/statm).

    The anonymous part is what a leak grows; the file-backed part (the engines' shared libraries, some 14 MiB of
    code for rego-cpp alone) shrinks and grows with the machine's page cache when memory is short."""
    with open("/proc/self/statm") as statm:
        fields = statm.read().split()
    return int(fields[1]) * _PAGE, (int(fields[1]) - int(fields[2])) * _PAGE


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")
    ] + [("keepcost", ctypes.c_size_t)]


def _mallinfo2() -> Any:
    try:
        function = ctypes.CDLL(None).mallinfo2
    except (AttributeError, OSError):
        return None
    function.restype = _MallInfo2
    return function


_MALLINFO2 = _mallinfo2()


def heap_bytes() -> int | None:
    """Bytes the C heap (glibc malloc) has handed out and not had back; None without glibc >= 2.33."""
    if _MALLINFO2 is None:
        return None
    info = _MALLINFO2()
    return info.uordblks + info.hblkhd


def mib(n: int | None) -> str:
    return "     -" if n is None else f"{n / 2**20:6.1f}"


# -- the objects -------------------------------------------------------------------------------------------
def _namespaces() -> dict[str, dict[str, Any]]:
    import review_latency as rl

    enforced = copy.deepcopy(rl.NAMESPACE)
    enforced["metadata"]["labels"]["policy.example.com/enforce"] = "true"
    sandbox = copy.deepcopy(rl.NAMESPACE)
    sandbox["metadata"] = {"name": "sandbox", "labels": {"kubernetes.io/metadata.name": "sandbox"}}
    return {"payments": enforced, "sandbox": sandbox}


def _break_pod_spec(spec: dict[str, Any], i: int) -> None:
    """Make a compliant Pod spec violate the starter set in a way that varies with `i`."""
    first = spec["containers"][0]
    first["image"] = f"docker.io/library/busybox:1.{36 + i % 5}"
    first["securityContext"] = {"privileged": True, "runAsUser": 0, "capabilities": {"add": ["NET_ADMIN"]}}
    first["ports"] = [{"containerPort": 8080, "hostPort": 8000 + i % 50}]
    if i % 2:
        spec["hostNetwork"] = True
        spec["hostPID"] = True
    if i % 3 == 0:
        spec["volumes"].append({"name": "host-logs", "hostPath": {"path": f"/var/log/node-{i}"}})
    if i % 4 == 0:
        spec["securityContext"] = {"sysctls": [{"name": "kernel.msgmax", "value": "65536"}]}


def objects() -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(object, its Namespace or None) pairs: every kind compliant and violating, `VARIANTS` of each."""
    import review_latency as rl

    namespaces = _namespaces()
    out: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for i in range(VARIANTS):
        namespace = "payments" if i % 2 == 0 else "sandbox"
        pod = copy.deepcopy(rl.POD)
        pod["metadata"] |= {"name": f"api-7f9c6d8b5-{i:05x}", "namespace": namespace}
        pod["spec"]["containers"][0]["image"] = f"registry.example.com/payments/api:1.4.{i}"
        bad_pod = copy.deepcopy(pod)
        bad_pod["metadata"]["name"] = f"debug-{i:05x}"
        del bad_pod["metadata"]["labels"]["team"]
        _break_pod_spec(bad_pod["spec"], i)
        deployment = copy.deepcopy(rl.DEPLOYMENT)
        deployment["metadata"] |= {"name": f"api-{i}", "namespace": namespace}
        bad_deployment = copy.deepcopy(deployment)
        bad_deployment["metadata"]["name"] = f"debug-tools-{i}"
        del bad_deployment["metadata"]["labels"]["team"]
        _break_pod_spec(bad_deployment["spec"]["template"]["spec"], i)
        service = copy.deepcopy(rl.SERVICE)
        service["metadata"] |= {"name": f"api-{i}", "namespace": namespace}
        bad_service = copy.deepcopy(service)
        bad_service["metadata"]["labels"] = {"app": "api"}
        bad_service["spec"]["type"] = "NodePort"
        ns = copy.deepcopy(namespaces["sandbox"])
        ns["metadata"]["name"] = ns["metadata"]["labels"]["kubernetes.io/metadata.name"] = f"team-{i}"
        for obj in (pod, bad_pod, deployment, bad_deployment, service, bad_service):
            out.append((obj, namespaces[namespace]))
        out.append((ns, None))
    return out


def requests(pairs: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> list[tuple[dict[str, Any], Any]]:
    """What `Client.review` is given: plain objects and CREATE or UPDATE AdmissionReviews, alternately."""
    import review_latency as rl

    out = []
    for n, (obj, namespace) in enumerate(pairs):
        if n % 2 == 0:
            out.append((obj, namespace))
            continue
        review = rl.admission_review(obj)
        if n % 4 == 3:
            review["request"] |= {"operation": "UPDATE", "oldObject": obj}
            review["request"]["options"]["kind"] = "UpdateOptions"
        out.append((review, namespace))
    return out


# -- one run, in its own process ---------------------------------------------------------------------------
def checkpoints(total: int) -> list[int]:
    return sorted({0, total // 10, total // 2, total})


def run_one(engine: str, set_name: str, total: int) -> dict[str, Any]:
    from gatekeeper_py import Client
    from gatekeeper_py.loader import load_all

    client = Client(engine=engine)
    docs, errors = load_all(SETS[set_name])
    errors += client.add_policies(docs)
    if errors:
        raise SystemExit(f"{set_name}: {errors[0]}")
    work = requests(objects())

    def reviews() -> Iterator[int]:
        n = 0
        while True:
            for request, namespace in work:
                responses = client.review(request, namespace=namespace)
                n += 1
                yield len(responses.results)

    print(f"== engine {engine}, set {set_name}: {total} reviews of {len(work)} objects in rotation", flush=True)
    print(f"{'reviews':>8} {'RSS MiB':>8} {'anon MiB':>9} {'heap MiB':>9} {'reviews/s':>10} {'results':>8}", flush=True)
    stream = reviews()
    points: list[dict[str, Any]] = []
    done, results, last = 0, 0, time.perf_counter()
    for target in checkpoints(total):
        while done < target:
            results += next(stream)
            done += 1
        now = time.perf_counter()
        rate = (done - (points[-1]["reviews"] if points else 0)) / (now - last) if points else 0.0
        rss, anon = rss_bytes()
        points.append({"reviews": done, "rss": rss, "anon": anon, "heap": heap_bytes(), "results": results})
        heap = mib(points[-1]["heap"])
        print(f"{done:>8} {mib(rss):>8} {mib(anon):>9} {heap:>9} {rate:>10.0f} {results:>8}", flush=True)
        last, results = time.perf_counter(), 0
    warm, end = points[1] if len(points) > 2 else points[0], points[-1]
    growth = end["anon"] - warm["anon"]
    percent = 100.0 * growth / warm["anon"]
    per_review = growth / max(1, end["reviews"] - warm["reviews"])
    verdict = "ok" if percent < GOAL_PERCENT else f"OVER the {GOAL_PERCENT:.0f}% goal"
    print(
        f"growth after warm-up ({warm['reviews']} -> {end['reviews']} reviews), anonymous RSS: "
        f"{growth / 2**20:+.1f} MiB, {percent:+.2f}%, {per_review:+.0f} bytes/review: {verdict} "
        f"(whole RSS {100.0 * (end['rss'] - warm['rss']) / warm['rss']:+.2f}%)",
        flush=True,
    )
    return {"engine": engine, "set": set_name, "percent": percent, "per_review": per_review, "points": points}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=100_000, help="reviews per engine and set (100,000)")
    parser.add_argument("--engines", default="rego,auto", help="comma-separated: rego, auto, cel")
    parser.add_argument("--sets", default="starter", help=f"comma-separated: {', '.join(SETS)}")
    parser.add_argument("--child", nargs=3, metavar=("ENGINE", "SET", "SUMMARY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine, set_name, summary = args.child
        Path(summary).write_text(json.dumps(run_one(engine, set_name, args.reviews)))
        return
    runs = [(e, s) for s in args.sets.split(",") for e in args.engines.split(",")]
    for _, set_name in runs:
        if set_name not in SETS:
            parser.error(f"unknown set {set_name!r}; known: {', '.join(SETS)}")
    summaries = []
    with tempfile.TemporaryDirectory() as scratch:
        for engine, set_name in runs:
            summary = Path(scratch) / f"{engine}-{set_name}.json"
            command = [sys.executable, __file__, "--reviews", str(args.reviews), "--child", engine, set_name]
            if subprocess.run([*command, str(summary)], check=False).returncode != 0:
                raise SystemExit(f"the {engine}/{set_name} run failed")
            summaries.append(json.loads(summary.read_text()))
            print(flush=True)
    print("== summary: anonymous RSS growth after warm-up (goal: under 5%)")
    for s in summaries:
        print(f"{s['engine']:>5} {s['set']:<11} {s['percent']:+6.2f}%  {s['per_review']:+8.0f} bytes/review")
    if any(s["percent"] >= GOAL_PERCENT for s in summaries):
        sys.exit(1)


if __name__ == "__main__":
    main()
