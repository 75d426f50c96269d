"""A bounded load test of `gatekeeper-py serve` on loopback, with the library in-process as the reference.

    python bench/load_test.py [--requests N] [--concurrency C] [--workers W]

Starts the real server (`python -m gatekeeper_py serve --insecure` on 127.0.0.1 and a free port) with the
starter set (`-f templates -f constraints`) and the example cluster's Namespaces (so the namespaceSelector of
the team-label constraint can be evaluated; without them every namespaced request warns "unable to match
constraints"). It waits for /readyz, sends every distinct review once to warm up, then sends N AdmissionReviews
(a fixed mix of compliant and violating Pods and Deployments from examples/, an UPDATE, DELETEs and a CONNECT
exec, each with a fresh uid) from C concurrent tasks of one httpx async client. Each answer is checked against
the verdict of an in-process Client with the same policies: a transport error, an HTTP status other than 200,
a wrong uid, a failure-policy answer or a verdict that differs counts as an error. The server's /metrics must
count exactly the requests sent.

Prints requests/s, p50/p99/max latency, the outcome counts and the errors; then, as the reference measured in
the same run (after the server has stopped, so the two do not share the CPU), the same N reviews through
`gatekeeper_py.Client` in this process, one thread, and the ratio of the server's latency to the in-process
latency. It also prints the workers' resident memory when ready and after the run (Linux), so that memory
that grows with every review shows. The load generator shares the machine with the server: on a small machine
its own CPU use is part of what is measured. Exit 1 when any error was seen.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from gatekeeper_py import Client
from gatekeeper_py.loader import load_all

REPO = Path(__file__).resolve().parent.parent
POLICIES = ["templates", "constraints", "examples/cluster/namespaces.yaml"]
FAILURE_PREFIX = "gatekeeper-py could not evaluate the request"
COUNT_PATTERN = r'^gatekeeper_py_validation_request_count_total\{admission_status="([^"]+)"\} (\S+)$'
DURATION_PATTERN = r"^gatekeeper_py_validation_request_duration_seconds_(sum|count)\{.*\} (\S+)$"


# -- the reviews -----------------------------------------------------------------------------------------
def _examples() -> dict[tuple[str, str], dict[str, Any]]:
    objects = {}
    for name in ("examples/cluster/workloads.yaml", "examples/violations/workloads.yaml"):
        for doc in yaml.safe_load_all((REPO / name).read_text()):
            if isinstance(doc, dict):
                objects[doc["kind"], doc["metadata"]["name"]] = doc
    return objects


def admission_review(operation: str, obj: dict[str, Any] | None, old: dict[str, Any] | None = None) -> dict[str, Any]:
    """An admission.k8s.io/v1 AdmissionReview as the API server sends it (the uid is set per request)."""
    subject = obj or old or {}
    group, _, version = subject["apiVersion"].rpartition("/")
    kind = subject["kind"]
    meta = subject["metadata"]
    request = {
        "uid": "",
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": kind.lower() + "s"},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "name": meta["name"],
        "namespace": meta.get("namespace", ""),
        "operation": operation,
        "userInfo": {"username": "alice@example.com", "groups": ["developers", "system:authenticated"]},
        "object": obj,
        "oldObject": old,
        "dryRun": False,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": f"{operation.title()}Options"},
    }
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def exec_review(namespace: str, pod: str, user: str) -> dict[str, Any]:
    """`kubectl exec -it POD -- sh` as the API server sends it: CONNECT on pods/exec, the options as the object."""
    options = {"apiVersion": "v1", "kind": "PodExecOptions", "stdin": True, "stdout": True, "stderr": True}
    options |= {"tty": True, "container": "app", "command": ["sh"]}
    kind = {"group": "", "version": "v1", "kind": "PodExecOptions"}
    request = {
        "uid": "",
        "kind": kind,
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "subResource": "exec",
        "requestKind": kind,
        "name": pod,
        "namespace": namespace,
        "operation": "CONNECT",
        "userInfo": {"username": user, "groups": ["system:authenticated"]},
        "object": options,
        "oldObject": None,
        "dryRun": False,
    }
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def pod_from(deployment: dict[str, Any], name: str) -> dict[str, Any]:
    """The Pod a Deployment's template describes."""
    template = copy.deepcopy(deployment["spec"]["template"])
    meta = {**template.get("metadata", {}), "name": name, "namespace": deployment["metadata"]["namespace"]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"]}


def review_mix() -> list[tuple[str, dict[str, Any], int]]:
    """(label, AdmissionReview, weight): mostly Pod and Deployment writes, as a busy cluster sends them."""
    ex = _examples()
    api, debug = ex["Deployment", "api"], ex["Deployment", "debug-tools"]
    worker = ex["Pod", "worker"]
    labelled_worker = copy.deepcopy(worker)
    labelled_worker["metadata"]["labels"] = {"team": "payments"}
    scaled_api = copy.deepcopy(api)
    scaled_api["spec"]["replicas"] = 3
    node = ex["Node", "worker-1"]
    locked_node = copy.deepcopy(node)
    locked_node["metadata"]["name"] = "worker-2"
    locked_node["metadata"]["labels"] = {}
    return [
        ("CREATE Pod, compliant", admission_review("CREATE", labelled_worker), 4),
        ("CREATE Pod, no team label", admission_review("CREATE", worker), 1),
        ("CREATE Pod, violating", admission_review("CREATE", pod_from(debug, "debug-tools-5d8f9")), 2),
        ("CREATE Deployment, compliant", admission_review("CREATE", api), 2),
        ("CREATE Deployment, violating", admission_review("CREATE", debug), 1),
        ("UPDATE Deployment, scaled", admission_review("UPDATE", scaled_api, api), 2),
        ("CREATE CronJob", admission_review("CREATE", ex["CronJob", "nightly-report"]), 1),
        ("DELETE Pod", admission_review("DELETE", None, labelled_worker), 1),
        ("DELETE Node, not deletable", admission_review("DELETE", None, locked_node), 1),
        ("CONNECT pods/exec in production", exec_review("production", "api-7f9c", "alice@example.com"), 1),
    ]


# -- verdicts ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    allowed: bool
    message: str
    warnings: tuple[str, ...]

    @property
    def outcome(self) -> str:
        if not self.allowed:
            return "deny"
        return "warn" if self.warnings else "allow"


def verdict_of(response: dict[str, Any]) -> Verdict:
    """What an AdmissionResponse says, in the terms the Client gives."""
    message = response.get("status", {}).get("message", "") if not response["allowed"] else ""
    return Verdict(response["allowed"], message, tuple(response.get("warnings") or ()))


def reference_client() -> Client:
    """A Client loaded as a server worker loads itself: the policies, and the Namespaces as inventory."""
    docs, errors = load_all([REPO / p for p in POLICIES])
    if errors:
        sys.exit(f"cannot read the policies: {errors[0]}")
    client = Client()
    if failed := client.add_policies(docs):
        sys.exit(f"policy not loaded: {failed[0]}")
    for doc in docs:
        if isinstance(doc.obj, dict) and doc.obj.get("kind") == "Namespace":
            client.add_data(doc.obj)
    return client


def client_verdict(client: Client, review: dict[str, Any]) -> Verdict:
    responses = client.review(review)
    return Verdict(responses.allowed, "\n".join(responses.deny_messages), tuple(responses.warnings))


# -- the server ----------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workers: int, log: Any) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "gatekeeper_py", "serve", "--insecure", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers)]
    for path in POLICIES:
        command += ["-f", path]
    process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    with httpx.Client() as client:
        while True:
            try:
                if client.get(f"{url}/readyz").status_code == 200:
                    return process, url
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise SystemExit("the server did not become ready")
            time.sleep(0.1)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def rss_mib(pid: int) -> float | None:
    """A process's resident memory (Linux), or None."""
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def metric_counts(text: str) -> dict[str, float]:
    """gatekeeper_py_validation_request_count_total by admission_status."""
    return {m[1]: float(m[2]) for m in re.finditer(COUNT_PATTERN, text, re.MULTILINE)}


def metric_seconds(text: str) -> tuple[float, float]:
    """The duration histogram's sum and count over every outcome."""
    total = count = 0.0
    for name, value in re.findall(DURATION_PATTERN, text, re.MULTILINE):
        if name == "sum":
            total += float(value)
        else:
            count += float(value)
    return total, count


# -- the load ------------------------------------------------------------------------------------------------
@dataclass
class Run:
    latencies: list[float]
    outcomes: Counter[str]
    errors: Counter[str]
    seconds: float


async def load(url: str, schedule: list[int], reviews: list[dict[str, Any]], expected: list[Verdict], c: int) -> Run:
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    next_index = iter(range(len(schedule)))
    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)

    async def one(client: httpx.AsyncClient, kind: int) -> None:
        review = copy.copy(reviews[kind])
        uid = str(uuid.uuid4())
        review["request"] = {**review["request"], "uid": uid}
        started = time.perf_counter()
        try:
            answer = await client.post(f"{url}/v1/admit", json=review)
        except httpx.HTTPError as exc:
            errors[f"transport: {type(exc).__name__}"] += 1
            return
        latencies.append(time.perf_counter() - started)
        if answer.status_code != 200:
            errors[f"HTTP {answer.status_code}"] += 1
            return
        response = answer.json().get("response", {})
        if response.get("uid") != uid:
            errors["wrong uid"] += 1
        elif (
            any(w.startswith(FAILURE_PREFIX) for w in response.get("warnings") or ())
            or response.get("status", {}).get("code") == 500
        ):
            errors[f"failure policy: {response}"[:200]] += 1
        elif (got := verdict_of(response)) != expected[kind]:
            errors[f"verdict differs from the library's for review {kind}: {got}"[:200]] += 1
        else:
            outcomes[got.outcome] += 1

    async def task(client: httpx.AsyncClient) -> None:
        for i in next_index:
            await one(client, schedule[i])

    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await asyncio.gather(*(one(client, k) for k in range(len(reviews))))  # warm-up: not counted
        latencies.clear()
        outcomes.clear()
        started = time.perf_counter()
        await asyncio.gather(*(task(client) for _ in range(c)))
        seconds = time.perf_counter() - started
    return Run(latencies, outcomes, errors, seconds)


def in_process(client: Client, schedule: list[int], reviews: list[dict[str, Any]]) -> list[float]:
    """Each scheduled review through the library, one after another, in this thread."""
    for review in reviews:  # warm-up
        client.review(review)
    latencies = []
    for kind in schedule:
        review = reviews[kind]
        started = time.perf_counter()
        client_verdict(client, review)
        latencies.append(time.perf_counter() - started)
    return latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="admission requests to send (default 2000)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at once (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="the server's --workers (default 2)")
    args = parser.parse_args()
    if args.requests < 1 or args.concurrency < 1 or args.workers < 1:
        parser.error("--requests, --concurrency and --workers must be at least 1")

    mix = review_mix()
    labels = [label for label, _, _ in mix]
    reviews = [review for _, review, _ in mix]
    cycle = [kind for kind, (_, _, weight) in enumerate(mix) for _ in range(weight)]
    schedule = [cycle[i % len(cycle)] for i in range(args.requests)]
    client = reference_client()
    expected = [client_verdict(client, review) for review in reviews]

    print(f"gatekeeper-py serve, {args.workers} workers, on 127.0.0.1 (plain HTTP); {os.cpu_count()} CPUs")
    print(f"policies: {' '.join(POLICIES)}")
    print(f"{args.requests} requests, concurrency {args.concurrency}, a mix of {len(mix)} reviews:")
    for kind, label in enumerate(labels):
        print(f"  {schedule.count(kind):5d} x {label:34s} -> {expected[kind].outcome}")

    with tempfile.TemporaryFile() as log:
        process, url = start_server(args.workers, log)
        try:
            pids = httpx.get(f"{url}/readyz").json()["workers"]
            rss_before = [rss_mib(pid) for pid in pids]
            run = asyncio.run(load(url, schedule, reviews, expected, args.concurrency))
            metrics = httpx.get(f"{url}/metrics").text
            rss_after = [rss_mib(pid) for pid in pids]
        finally:
            stop_server(process)
        log.seek(0)
        problems = [line for line in log.read().decode(errors="replace").splitlines() if line.startswith("ERROR")]

    counted = metric_counts(metrics)
    warm_up = len(reviews)
    if sum(counted.values()) != args.requests + warm_up:
        run.errors[f"/metrics counted {sum(counted.values()):g} requests, sent {args.requests + warm_up}"] += 1
    total, count = metric_seconds(metrics)
    lat = run.latencies
    print("\n== server over HTTP")
    print(f"throughput   {len(lat) / run.seconds:.0f} requests/s ({len(lat)} answered in {run.seconds:.2f} s)")
    print(f"latency      p50 {ms(percentile(lat, 50))}, p99 {ms(percentile(lat, 99))}, max {ms(max(lat))}")
    print(f"in-server    mean {ms(total / count)} per request from /metrics (queueing for a worker included)")
    memory = [(b, a) for b, a in zip(rss_before, rss_after, strict=True) if b is not None and a is not None]
    if memory:
        grown = sum(a - b for b, a in memory) * 1024 / (args.requests + warm_up)
        print(
            f"worker RSS   {', '.join(f'{b:.0f}' for b, _ in memory)} MiB when ready -> "
            f"{', '.join(f'{a:.0f}' for _, a in memory)} MiB after the run ({grown:+.1f} KiB per request)"
        )
    print("outcomes     " + ", ".join(f"{k} {run.outcomes[k]}" for k in ("allow", "warn", "deny")))
    print(f"errors       {sum(run.errors.values())}")
    for reason, n in run.errors.most_common(10):
        print(f"  {n} x {reason}")
    for line in problems[:10]:
        print(f"  server log: {line}")

    local = in_process(client, schedule, reviews)
    print("\n== reference: the same reviews through gatekeeper_py.Client in-process, one thread")
    print(f"throughput   {len(local) / sum(local):.0f} reviews/s")
    print(f"latency      p50 {ms(percentile(local, 50))}, p99 {ms(percentile(local, 99))}, max {ms(max(local))}")
    print(
        f"server/in-process latency: p50 {percentile(lat, 50) / percentile(local, 50):.2f}x, "
        f"p99 {percentile(lat, 99) / percentile(local, 99):.2f}x, "
        f"mean {statistics.fmean(lat) / statistics.fmean(local):.2f}x; "
        f"throughput {len(lat) / run.seconds / (len(local) / sum(local)):.2f}x"
    )
    return 1 if run.errors else 0


if __name__ == "__main__":
    sys.exit(main())
