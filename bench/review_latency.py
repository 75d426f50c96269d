"""Review latency and throughput of `gatekeeper_py.Client`, with a reference Rego engine measured in the same run.

    python bench/review_latency.py [--sets restricted,50,500] [--budget S] [--max-iterations N]
                                   [--workers W] [--pool-seconds S] [--start-runs R] [--no-reference]
    python bench/review_latency.py --profile N   # cProfile N Pod reviews (restricted profile, both engines)

What is reviewed: four objects written below (a Pod of a Deployment with an init container, two sidecars,
probes, env, volumes and the restricted securityContext; its Deployment; a Service; the Namespace), each as a
CREATE AdmissionReview (admission.k8s.io/v1) with its Namespace passed, as the webhook reviews them. The Pod and
the Deployment meet the restricted Pod Security Standard; one sidecar comes from docker.io and the Service lacks
a `tier` label, so the generated sets below find some violations (messages are built, not only checked).

Policy sets:
- `restricted`: the catalogue's restricted profile, `library/pod-security/restricted` (15 templates, one deny
  constraint each, matching Pods), read with `gatekeeper_py.loader.load_all` and added with `Client.add_policies`.
- `50`, `500` (any count): generated from ten catalogue templates (required-labels, required-annotations,
  allowed-registries, capabilities, allowed-sysctls and five PSS controls). Template copy i is catalogue template
  i mod 10 renamed to its own kind (`K8sRequiredLabelsG007`, metadata.name and the Rego package renamed to
  match; the CEL source unchanged); each copy gets `--per-template` constraints (5 by default: 10 templates for
  50 constraints, 100 for 500). The constraints are the catalogue's sample constraints (same parameters); the
  label and annotation ones match all four kinds, the others match Pods only. No ExpansionTemplates, so the
  Deployment is judged only by the constraints that name its kind.

Every set runs under `Client(engine="rego")` and `Client(engine="auto")` (every template used here has a CEL
source, so auto runs CEL throughout).

The reference engine is regorus (the Rust Rego interpreter; `import regorus`, from the package `regorus` or,
when that is not installable, the fork `gordon-to-regorus`). It evaluates the same Rego sources as Gatekeeper
does: one `regorus.Engine` per template (as we build one bundle per template), Rego v0 enabled on it for v0
templates (`Engine.set_rego_v0(True)`; every template here is v0), and per matched constraint the rule
`data.<package>.violation` with input `{"review": <input.review>, "parameters": <constraint parameters>}`, where
input.review is exactly the document our Client hands its engines (`build_review(...).document()`). Its time is
the engine only: which constraints match is worked out once, before the clock, with our matcher; the review
document's JSON encoding and the result's decoding are counted. Before timing, the reference's (constraint,
message) results are checked against `--engine rego`'s for every object and set.

Printed, all measured in this run (absolute times vary on a shared machine; read the ratios):
- add_template and add_constraint time (via add_policies) per set and engine, and regorus's parse time;
- one thread: p50/p99 latency and reviews/s per set and object for rego, auto and regorus, measured
  interleaved (each iteration reviews with all three in turn) so drift hits them alike, until `--budget`
  seconds per set and object or `--max-iterations`; and ours/regorus p50 ratios;
- throughput: `--workers` processes (spawned, each with its own Client, policies loaded and warmed before the
  clock starts), in phases of `--pool-seconds` where one of them, then all, review the four objects round-robin
  (twice each, the best rate of each kept): reviews/s, the speed-up of all over one, and the Pod's latency;
- process start: `python -c pass`, `python -c "import gatekeeper_py"`, `gatekeeper-py --help` and
  `gatekeeper-py test -f library/pod-security/restricted -f <the four objects>`, median wall time of
  `--start-runs` runs.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import json
import math
import multiprocessing
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gatekeeper_py import Client
from gatekeeper_py.drivers.cache import CACHE_DIR_ENV
from gatekeeper_py.loader import Document, load_all
from gatekeeper_py.match import review_matches
from gatekeeper_py.model import parse_template
from gatekeeper_py.review import Review as BuiltReview
from gatekeeper_py.review import build_review

REPO = Path(__file__).resolve().parent.parent
ENGINES = ("rego", "auto")

# -- the objects -------------------------------------------------------------------------------------------
_LABELS = {"app": "api", "team": "payments", "tier": "backend", "app.kubernetes.io/part-of": "checkout"}
_ANNOTATIONS = {
    "example.com/owner": "payments-oncall@example.com",
    "example.com/runbook": "https://runbooks.example.com/payments/api",
    "example.com/description": "Checkout API",
}
_CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}


def _pod_spec() -> dict[str, Any]:
    env = [{"name": f"FEATURE_{i}", "value": "true" if i % 2 else "false"} for i in range(6)]
    env += [
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "api-db", "key": "password"}}},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10, "failureThreshold": 3}
    resources = {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
    return {
        "serviceAccountName": "api",
        "automountServiceAccountToken": False,
        "priorityClassName": "business-critical",
        "terminationGracePeriodSeconds": 30,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "initContainers": [
            {
                "name": "migrate",
                "image": "ghcr.io/example-org/migrate:2.0.1",
                "command": ["/migrate", "--to", "latest"],
                "env": env[-2:],
                "resources": resources,
                "securityContext": _CONTAINER_SECURITY,
            }
        ],
        "containers": [
            {
                "name": "api",
                "image": "registry.example.com/payments/api:1.4.2",
                "args": ["--port=8080", "--log-format=json"],
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "env": env,
                "resources": resources,
                "livenessProbe": probe,
                "readinessProbe": probe | {"httpGet": {"path": "/readyz", "port": 8080}},
                "volumeMounts": [
                    {"name": "config", "mountPath": "/etc/api"},
                    {"name": "tls", "mountPath": "/etc/tls", "readOnly": True},
                    {"name": "tmp", "mountPath": "/tmp"},
                ],
                "securityContext": _CONTAINER_SECURITY,
            },
            {
                "name": "proxy",
                "image": "ghcr.io/example-org/envoy:1.30.2",
                "ports": [{"name": "admin", "containerPort": 9901}],
                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                "volumeMounts": [{"name": "tls", "mountPath": "/etc/tls", "readOnly": True}],
                "securityContext": _CONTAINER_SECURITY,
            },
            {
                "name": "log-shipper",
                "image": "docker.io/fluent/fluent-bit:3.0.4",
                "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}},
                "volumeMounts": [{"name": "tmp", "mountPath": "/var/log/api", "readOnly": True}],
                "securityContext": _CONTAINER_SECURITY,
            },
        ],
        "volumes": [
            {"name": "config", "configMap": {"name": "api-config"}},
            {"name": "tls", "secret": {"secretName": "api-tls", "defaultMode": 288}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
            {
                "name": "token",
                "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]},
            },
        ],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "payments", "effect": "NoSchedule"}],
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": {"app": "api"}},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            }
        },
    }


NAMESPACE = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {
        "name": "payments",
        "labels": {"kubernetes.io/metadata.name": "payments"} | _LABELS,
        "annotations": _ANNOTATIONS,
    },
}
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "api", "namespace": "payments", "labels": _LABELS, "annotations": _ANNOTATIONS},
    "spec": {
        "replicas": 3,
        "revisionHistoryLimit": 5,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "selector": {"matchLabels": {"app": "api"}},
        "template": {"metadata": {"labels": _LABELS, "annotations": _ANNOTATIONS}, "spec": _pod_spec()},
    },
}
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "api-7f9c6d8b5-x2x4k",
        "generateName": "api-7f9c6d8b5-",
        "namespace": "payments",
        "labels": _LABELS | {"pod-template-hash": "7f9c6d8b5"},
        "annotations": _ANNOTATIONS,
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "api-7f9c6d8b5",
                "uid": "5f1c2b8e-8a0d-4b8e-9c11-3d1f0e6a7b21",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    },
    "spec": _pod_spec(),
}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {
        "name": "api",
        "namespace": "payments",
        "labels": {"app": "api", "team": "payments"},
        "annotations": _ANNOTATIONS,
    },
    "spec": {
        "type": "ClusterIP",
        "selector": {"app": "api"},
        "ports": [
            {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
            {"name": "admin", "port": 9901, "targetPort": 9901, "protocol": "TCP"},
        ],
        "sessionAffinity": "None",
    },
}
OBJECTS: list[tuple[str, dict[str, Any]]] = [
    ("Pod", POD),
    ("Deployment", DEPLOYMENT),
    ("Service", SERVICE),
    ("Namespace", NAMESPACE),
]


def admission_review(obj: dict[str, Any]) -> dict[str, Any]:
    """A CREATE AdmissionReview for `obj` as the API server sends it."""
    group, _, version = obj["apiVersion"].rpartition("/")
    kind, meta = obj["kind"], obj["metadata"]
    gvk = {"group": group, "version": version, "kind": kind}
    request = {
        "uid": "0b6f3c1e-2d4a-4f7e-9a51-7c2e8d9f1a03",
        "kind": gvk,
        "resource": {"group": group, "version": version, "resource": kind.lower() + "s"},
        "requestKind": gvk,
        "name": meta["name"],
        "namespace": meta.get("namespace", ""),
        "operation": "CREATE",
        "userInfo": {
            "username": "system:serviceaccount:kube-system:replicaset-controller",
            "uid": "a1b2c3d4-0000-4000-8000-000000000001",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
        },
        "object": obj,
        "oldObject": None,
        "dryRun": False,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    }
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


@dataclass(frozen=True)
class Review:
    label: str
    admission_review: dict[str, Any]
    namespace: dict[str, Any] | None


def reviews() -> list[Review]:
    return [Review(label, admission_review(obj), None if obj is NAMESPACE else NAMESPACE) for label, obj in OBJECTS]


# -- the policy sets ---------------------------------------------------------------------------------------
@dataclass
class PolicySet:
    name: str
    description: str
    templates: list[Document]
    constraints: list[Document]


def restricted_set() -> PolicySet:
    docs, errors = load_all([REPO / "library/pod-security/restricted"])
    if errors:
        raise SystemExit(f"cannot read the restricted profile: {errors[0]}")
    templates = [d for d in docs if d.obj.get("kind") == "ConstraintTemplate"]
    constraints = [d for d in docs if d.obj.get("kind") != "ConstraintTemplate"]
    description = f"library/pod-security/restricted: {len(templates)} templates, {len(constraints)} constraints"
    return PolicySet("restricted", description, templates, constraints)


_ALL_KINDS = [{"apiGroups": ["", "apps"], "kinds": ["Pod", "Deployment", "Service", "Namespace"]}]
_PODS = [{"apiGroups": [""], "kinds": ["Pod"]}]
# (catalogue folder, sample constraint folder or None for the parameterless PSS controls, match.kinds)
BASES = [
    ("general/required-labels", "team-and-tier", _ALL_KINDS),
    ("general/required-annotations", "owner-and-runbook", _ALL_KINDS),
    ("general/allowed-registries", "trusted-registries", _PODS),
    ("general/capabilities", "restricted-capabilities", _PODS),
    ("general/allowed-sysctls", "safe-sysctls", _PODS),
    ("pod-security/privileged", None, _PODS),
    ("pod-security/run-as-non-root", None, _PODS),
    ("pod-security/seccomp-restricted", None, _PODS),
    ("pod-security/volume-types", None, _PODS),
    ("pod-security/host-namespaces", None, _PODS),
]
_PACKAGE = re.compile(r"^package[ \t]+([\w.]+)", re.MULTILINE)


def _read_one(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def copy_template(template: dict[str, Any], kind: str) -> dict[str, Any]:
    """`template` under another kind: metadata.name, the CRD kind and the Rego entry package renamed."""
    out = copy.deepcopy(template)
    out["metadata"]["name"] = kind.lower()
    out["spec"]["crd"]["spec"]["names"]["kind"] = kind
    for target in out["spec"]["targets"]:
        for code in target.get("code", []):
            if code.get("engine") == "Rego":
                code["source"]["rego"] = _PACKAGE.sub(f"package {kind.lower()}", code["source"]["rego"], count=1)
        if "rego" in target:
            target["rego"] = _PACKAGE.sub(f"package {kind.lower()}", target["rego"], count=1)
    return out


def generated_set(count: int, per_template: int) -> PolicySet:
    bases = []
    for folder, sample, kinds in BASES:
        template = _read_one(REPO / "library" / folder / "template.yaml")
        params = None
        if sample is not None:
            params = _read_one(REPO / "library" / folder / "samples" / sample / "constraint.yaml")["spec"]["parameters"]
        bases.append((template, params, kinds))
    n_templates = math.ceil(count / per_template)
    templates, constraints = [], []
    for i in range(n_templates):
        base, params, kinds = bases[i % len(bases)]
        kind = f"{base['spec']['crd']['spec']['names']['kind']}G{i:03d}"
        templates.append(Document(copy_template(base, kind), f"<generated {kind}>"))
        for j in range(min(per_template, count - i * per_template)):
            spec: dict[str, Any] = {"enforcementAction": "deny", "match": {"kinds": copy.deepcopy(kinds)}}
            if params is not None:
                spec["parameters"] = copy.deepcopy(params)
            constraint = {
                "apiVersion": "constraints.gatekeeper.sh/v1beta1",
                "kind": kind,
                "metadata": {"name": f"{kind.lower()}-{j}"},
                "spec": spec,
            }
            constraints.append(Document(constraint, f"<generated {kind.lower()}-{j}>"))
    description = (
        f"generated: {len(templates)} templates (copies of {len(BASES)} catalogue templates), "
        f"{len(constraints)} constraints"
    )
    return PolicySet(str(count), description, templates, constraints)


def policy_set(name: str, per_template: int) -> PolicySet:
    return restricted_set() if name == "restricted" else generated_set(int(name), per_template)


# -- our Client --------------------------------------------------------------------------------------------
@dataclass
class Loaded:
    client: Client
    add_template_s: float
    add_constraint_s: float


def load_client(pset: PolicySet, engine: str) -> Loaded:
    client = Client(engine=engine)
    start = time.perf_counter()
    errors = client.add_policies(pset.templates)
    middle = time.perf_counter()
    errors += client.add_policies(pset.constraints)
    end = time.perf_counter()
    if errors:
        raise SystemExit(f"{pset.name} under --engine {engine}: {errors[0]}")
    return Loaded(client, middle - start, end - middle)


def results_of(client: Client, review: Review) -> Counter[tuple[str, str]]:
    responses = client.review(review.admission_review, namespace=review.namespace)
    return Counter((r.constraint.name, r.msg) for r in responses.results)


# -- the reference engine ----------------------------------------------------------------------------------
def import_reference() -> tuple[Any, str] | None:
    """regorus and the distribution that provides it, or None when it is not installed."""
    try:
        import regorus
    except ImportError:
        return None
    from importlib import metadata

    for dist in ("regorus", "gordon-to-regorus"):
        try:
            return regorus, f"{dist} {metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            continue
    return regorus, "regorus (unknown distribution)"


class Reference:
    """The set's Rego templates on regorus, one Engine per template."""

    def __init__(self, regorus: Any, pset: PolicySet):
        self.engines: dict[str, tuple[Any, str]] = {}
        parsed = [parse_template(d.obj, d.source) for d in pset.templates]
        start = time.perf_counter()
        for template in parsed:
            rego = template.rego
            assert rego is not None
            engine = regorus.Engine()
            engine.set_rego_v0(rego.version != "v1")
            engine.add_policy(f"{template.kind}.rego", rego.rego)
            for i, lib in enumerate(rego.libs):
                engine.add_policy(f"{template.kind}.lib{i}.rego", lib)
            package = _PACKAGE.search(rego.rego)
            assert package is not None
            self.engines[template.kind] = (engine, f"data.{package.group(1)}.violation")
        self.parse_s = time.perf_counter() - start

    def plan(self, client: Client, review: Review) -> Plan:
        """What the review asks of the engine: input.review and the matched constraints (matched here, once)."""
        built = build_review(review.admission_review, namespace=review.namespace)
        return self.plan_built(
            client, built, review.namespace, lambda c: client.templates[c.kind].runs_on(built.operation)
        )

    def plan_built(
        self, client: Client, built: BuiltReview, namespace: dict[str, Any] | None, applies: Callable[[Any], bool]
    ) -> Plan:
        """The plan of a built review: the constraints that `applies` admits and whose match selects it."""
        calls = []
        for constraint in client.constraints:
            if applies(constraint) and review_matches(constraint.match, built, namespace):
                engine, rule = self.engines[constraint.kind]
                calls.append((constraint.name, engine, rule, json.dumps(constraint.parameters or {})))
        return Plan(built.document(), calls)


@dataclass
class Plan:
    document: dict[str, Any]
    calls: list[tuple[str, Any, str, str]] = field(default_factory=list)

    def run(self) -> Counter[tuple[str, str]]:
        review_json = json.dumps(self.document, ensure_ascii=False, separators=(",", ":"))
        found: Counter[tuple[str, str]] = Counter()
        for name, engine, rule, params_json in self.calls:
            engine.set_input_json(f'{{"review":{review_json},"parameters":{params_json}}}')
            for violation in json.loads(engine.eval_rule_as_json(rule)):
                found[name, violation["msg"]] += 1
        return found


# -- timing ------------------------------------------------------------------------------------------------
def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def interleaved(fns: list[Callable[[], object]], budget: float, max_n: int, min_n: int = 5) -> list[list[float]]:
    """Seconds per call of each fn, calling them in turn, for `budget` seconds (at least min_n, at most max_n)."""
    for fn in fns:  # warm up
        for _ in range(2):
            fn()
    samples: list[list[float]] = [[] for _ in fns]
    deadline = time.perf_counter() + budget
    for i in range(max_n):
        for fn, out in zip(fns, samples, strict=True):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
        if i + 1 >= min_n and time.perf_counter() >= deadline:
            break
    return samples


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}" if seconds < 10 else f"{seconds * 1000:.0f}"


# -- the worker pool ---------------------------------------------------------------------------------------
def _pool_worker(pset: PolicySet, engine: str, ready: Any, orders: Any, out: Any) -> None:
    """Load a Client, then on each order (seconds) review the mix in whole rounds for that long; None stops."""
    client = load_client(pset, engine).client
    mix = reviews()
    for review in mix:
        client.review(review.admission_review, namespace=review.namespace)
    ready.put(os.getpid())
    while (seconds := orders.get()) is not None:
        latencies: list[tuple[str, float]] = []
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            for review in mix:
                t0 = time.perf_counter()
                client.review(review.admission_review, namespace=review.namespace)
                latencies.append((review.label, time.perf_counter() - t0))
            if time.perf_counter() >= deadline:
                break
        out.put((start, time.perf_counter(), latencies))


@dataclass
class PoolRun:
    rate: float
    """Reviews per second (the best phase)."""
    latencies: dict[str, list[float]]
    """Per object label, from every phase."""


def pool_runs(pset: PolicySet, engine: str, workers: int, seconds: float, rounds: int = 2) -> tuple[PoolRun, PoolRun]:
    """Spawn `workers` processes once, then alternate phases where one of them, then all of them, review the mix
    for `seconds` (`rounds` times each); the best rate of each kind of phase, so a phase slowed by a neighbour on
    a shared machine does not count (perf_counter is system-wide on Linux)."""
    ctx = multiprocessing.get_context("spawn")
    ready, out = ctx.Queue(), ctx.Queue()
    orders = [ctx.Queue() for _ in range(workers)]
    procs = [ctx.Process(target=_pool_worker, args=(pset, engine, ready, q, out)) for q in orders]
    for proc in procs:
        proc.start()
    runs = {1: PoolRun(0.0, {}), workers: PoolRun(0.0, {})}
    try:
        for _ in procs:
            ready.get(timeout=600)
        for count in [1, workers] * rounds:
            for q in orders[:count]:
                q.put(seconds)
            phase = [out.get(timeout=600 + 20 * seconds) for _ in range(count)]
            wall = max(end for _, end, _ in phase) - min(start for start, _, _ in phase)
            run = runs[count]
            run.rate = max(run.rate, sum(len(lats) for _, _, lats in phase) / wall)
            for _, _, lats in phase:
                for label, lat in lats:
                    run.latencies.setdefault(label, []).append(lat)
    finally:
        for q in orders:
            q.put(None)
        for proc in procs:
            proc.join()
    return runs[1], runs[workers]


# -- process start -----------------------------------------------------------------------------------------
def cli_command() -> list[str]:
    script = Path(sys.executable).parent / "gatekeeper-py"
    if script.exists():
        return [str(script)]
    found = shutil.which("gatekeeper-py")
    return [found] if found else [sys.executable, "-m", "gatekeeper_py"]


def wall_time(argv: list[str], runs: int) -> tuple[float, int]:
    """Median wall seconds of `runs` runs, and the last exit code."""
    times, code = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
        code = done.returncode
    return statistics.median(times), code


# -- the report --------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="restricted,50,500", help="policy sets: restricted and/or counts")
    parser.add_argument("--per-template", type=int, default=5, help="constraints per generated template")
    parser.add_argument("--budget", type=float, default=4.0, help="seconds of one-thread timing per set and object")
    parser.add_argument("--max-iterations", type=int, default=300, help="at most this many reviews per cell")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="pool size (0: no pool)")
    parser.add_argument("--pool-seconds", type=float, default=2.5, help="length of each throughput phase")
    parser.add_argument("--start-runs", type=int, default=5, help="runs per process-start command (0: skip)")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference engine")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="only cProfile N Pod reviews")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile)
        return

    started = time.perf_counter()
    mix = reviews()
    set_names = [s.strip() for s in args.sets.split(",") if s.strip()]
    reference = None if args.no_reference else import_reference()
    print(f"gatekeeper-py review latency; python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    if args.no_reference:
        print("reference engine: skipped (--no-reference)")
    elif reference is None:
        print("reference engine: regorus is not installed (pip install regorus, or gordon-to-regorus); ours only")
    else:
        print(f"reference engine: {reference[1]} (import regorus), Rego v0 on, one Engine per template")
    print("reviews: CREATE AdmissionReviews with the Namespace passed: " + ", ".join(r.label for r in mix))

    # warm the imports and both native engines before anything is timed (with the compiled-template cache off),
    # then cache compiled templates in a directory of this run's, so the first load of each set is a cold one
    os.environ[CACHE_DIR_ENV] = ""
    load_client(restricted_set(), "rego")
    load_client(restricted_set(), "auto")
    os.environ[CACHE_DIR_ENV] = tempfile.mkdtemp(prefix="gatekeeper-py-bench-cache-")

    sets = [policy_set(name, args.per_template) for name in set_names]
    loaded: dict[tuple[str, str], Loaded] = {}
    refs: dict[str, Reference] = {}
    print(
        "\n== load: add_policies(templates) and add_policies(constraints), one Client per set and engine;"
        " 'cached': a second Client, its compiled templates read from the cache the first one wrote"
    )
    print(
        f"{'set':<11} {'engine':<12} {'templates':>9} {'add_template s':>15} {'ms/template':>12}"
        f" {'constraints':>12} {'add_constraint s':>17} {'ms/constraint':>14}"
    )
    for pset in sets:
        print(f"  {pset.name}: {pset.description}")
        for engine in ENGINES:
            got = loaded[pset.name, engine] = load_client(pset, engine)
            warm = load_client(pset, engine)
            nt, nc = len(pset.templates), len(pset.constraints)
            for label, run in ((engine, got), (f"{engine} cached", warm)):
                print(
                    f"{pset.name:<11} {label:<12} {nt:>9} {run.add_template_s:>15.3f}"
                    f" {run.add_template_s / nt * 1e3:>12.2f}"
                    f" {nc:>12} {run.add_constraint_s:>17.3f} {run.add_constraint_s / nc * 1e3:>14.3f}"
                )
            print(f"  {engine}: cached load {got.add_template_s / warm.add_template_s:.1f}x faster than compiling")
        if reference is not None:
            ref = refs[pset.name] = Reference(reference[0], pset)
            print(
                f"{pset.name:<11} {'regorus':<12} {len(pset.templates):>9} {ref.parse_s:>15.3f}"
                f" {ref.parse_s / len(pset.templates) * 1e3:>12.2f}   (parse only: add_policy)"
            )
        rego_s, auto_s = loaded[pset.name, "rego"].add_template_s, loaded[pset.name, "auto"].add_template_s
        line = f"  add_template rego/auto {rego_s / auto_s:.2f}x"
        if pset.name in refs:
            line += f", rego/regorus parse {rego_s / refs[pset.name].parse_s:.1f}x"
        print(line)

    # the reference's results against ours before any timing
    plans: dict[tuple[str, str], Plan] = {}
    if refs:
        same, total, violations = 0, 0, 0
        for pset in sets:
            client = loaded[pset.name, "rego"].client
            for review in mix:
                plan = plans[pset.name, review.label] = refs[pset.name].plan(client, review)
                ours, theirs = results_of(client, review), plan.run()
                total += 1
                same += ours == theirs
                violations += sum(ours.values())
                if ours != theirs:
                    print(
                        f"  differs: {pset.name} {review.label}: only ours {sorted((ours - theirs).elements())[:3]}"
                        f", only regorus {sorted((theirs - ours).elements())[:3]}"
                    )
        print(
            f"\nreference check: regorus gives the same (constraint, message) results as --engine rego on {same} of"
            f" {total} (set, object) reviews ({violations} violations in all)"
        )

    engines = "rego, auto and regorus" if refs else "rego and auto"
    print(
        f"\n== one thread: latency per review in ms (p50, p99), reviews/s; {engines} interleaved,"
        f" {args.budget:g} s per row (n: reviews per engine)"
    )
    header = (
        f"{'set':<11} {'object':<11} {'matched':>7} {'n':>4}  {'rego p50':>8} {'p99':>7} {'rev/s':>6}"
        f"  {'auto p50':>8} {'p99':>7} {'rev/s':>6}"
    )
    if refs:
        header += f"  {'regorus':>7} {'p99':>6}  {'rego/ref':>8} {'auto/ref':>8}"
    print(header)
    for pset in sets:
        for review in mix:
            fns: list[Callable[[], object]] = []
            for engine in ENGINES:
                client = loaded[pset.name, engine].client
                fns.append(lambda c=client, r=review: c.review(r.admission_review, namespace=r.namespace))
            plan = plans.get((pset.name, review.label))
            if plan is not None:
                fns.append(plan.run)
            samples = interleaved(fns, args.budget, args.max_iterations)
            built = build_review(review.admission_review, namespace=review.namespace)
            matched = sum(
                review_matches(c.match, built, review.namespace) for c in loaded[pset.name, "rego"].client.constraints
            )
            row = f"{pset.name:<11} {review.label:<11} {matched:>7} {len(samples[0]):>4}"
            for lat in samples[: len(ENGINES)]:
                p50, p99, rate = statistics.median(lat), percentile(lat, 0.99), 1 / statistics.fmean(lat)
                row += f"  {ms(p50):>8} {ms(p99):>7} {rate:>6.0f}"
            if plan is not None:
                ref_p50 = statistics.median(samples[2])
                row += f"  {ms(ref_p50):>7} {ms(percentile(samples[2], 0.99)):>6}"
                row += "".join(f"  {statistics.median(lat) / ref_p50:>7.1f}x" for lat in samples[:2])
            print(row)
    if refs:
        print(
            "  regorus: engine only (matching done before the clock; JSON encoding of input.review and decoding of"
            " the results counted)"
        )

    if args.workers > 0:
        n = args.workers
        print(
            f"\n== throughput: {n} worker processes (spawned, one Client each, loaded and warm before the clock),"
            f" phases of {args.pool_seconds:g} s where 1, then all {n}, review the {len(mix)} objects round-robin,"
            " twice; best rate of each; Pod latency over all phases"
        )
        print(
            f"{'set':<11} {'engine':<8} {'1 proc rev/s':>12} {'Pod p50 ms':>10}  {f'{n} procs rev/s':>13}"
            f" {'Pod p50 ms':>10} {'Pod p99 ms':>10}  {'speed-up':>8}"
        )
        for pset in sets:
            for engine in ENGINES:
                one, many = pool_runs(pset, engine, n, args.pool_seconds)
                pod_one, pod_many = one.latencies["Pod"], many.latencies["Pod"]
                print(
                    f"{pset.name:<11} {engine:<8} {one.rate:>12.1f} {ms(statistics.median(pod_one)):>10}"
                    f"  {many.rate:>13.1f} {ms(statistics.median(pod_many)):>10} {ms(percentile(pod_many, 0.99)):>10}"
                    f"  {many.rate / one.rate:>7.2f}x"
                )

    if args.start_runs > 0:
        with tempfile.TemporaryDirectory() as tmp:
            objects = Path(tmp) / "objects.yaml"
            objects.write_text(yaml.safe_dump_all([obj for _, obj in OBJECTS], sort_keys=False))
            cli = cli_command()
            commands = [
                ("python -c pass", [sys.executable, "-c", "pass"]),
                ("python -c 'import gatekeeper_py'", [sys.executable, "-c", "import gatekeeper_py"]),
                ("gatekeeper-py --help", [*cli, "--help"]),
                (
                    "gatekeeper-py test -f library/pod-security/restricted -f objects.yaml",
                    [*cli, "test", "-f", "library/pod-security/restricted", "-f", str(objects)],
                ),
            ]
            print(
                f"\n== process start: median wall time of {args.start_runs} runs ({' '.join(cli)}); compiled"
                " templates cached from the first run on"
            )
            base = None
            for label, argv in commands:
                seconds, code = wall_time(argv, args.start_runs)
                base = base or seconds
                print(f"{label:<72} {seconds:>7.3f} s  {seconds / base:>6.1f}x python -c pass  (exit {code})")

    print(f"\ntotal bench time {time.perf_counter() - started:.0f} s")


def profile(n: int) -> None:
    """cProfile `n` reviews of the Pod against the restricted profile, per engine: the top functions."""
    pod = reviews()[0]
    for engine in ENGINES:
        client = load_client(restricted_set(), engine).client
        for _ in range(5):
            client.review(pod.admission_review, namespace=pod.namespace)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(n):
            client.review(pod.admission_review, namespace=pod.namespace)
        profiler.disable()
        stats = pstats.Stats(profiler)
        print(f"\n== --engine {engine}: {n} Pod reviews, restricted profile; top functions by own time")
        stats.sort_stats("tottime").print_stats(18)
        print(f"== --engine {engine}: by cumulative time")
        stats.sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
