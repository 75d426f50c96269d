"""`gatekeeper-py audit`: review every object, as Gatekeeper's audit does, and report per constraint.

Objects come from files (the same pipeline as `test`, at the audit enforcement point) or from a cluster
(`cluster.py`). With `--workers N` the objects are split into N contiguous slices reviewed in separate
processes, each with its own engine; the merged results are those of one process.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from ..audit import ConstraintAudit, summarize
from ..enforcement import AUDIT, DENY, DRYRUN, WARN
from ..loader import Document, meta_string
from ..results import Result
from .gator_test import TestRun, review_documents, sort_gator_results
from .output import to_json, to_yaml
from .terminal import Style

REPORT_SOURCE = "gatekeeper-py"


def _review_slice(docs: list[Document], engine: str, only: range) -> list[tuple[Document, Result]]:
    """A worker's share: the objects at positions `only`, reviewed by an engine of its own."""
    return review_documents(docs, engine, None, AUDIT, only=only, run=TestRun(quiet=True)).results


def _slices(count: int, workers: int) -> list[range]:
    size, extra = divmod(count, workers)
    bounds, start = [], 0
    for i in range(workers):
        end = start + size + (1 if i < extra else 0)
        bounds.append(range(start, end))
        start = end
    return [b for b in bounds if len(b)]


def run_audit(
    docs: list[Document],
    engine: str = "auto",
    workers: int = 1,
    progress: Callable[[int], Callable[[], None]] | None = None,
    run: TestRun | None = None,
) -> TestRun:
    """Review every object in `docs` at the audit enforcement point, in `workers` processes."""
    if workers <= 1:
        return review_documents(docs, engine, progress, AUDIT, run=run)
    # Load and check the policies here once, so their errors are reported once; review nothing here.
    run = review_documents(docs, engine, None, AUDIT, only=range(0), run=run)
    count = sum(1 for d in docs if isinstance(d.obj, dict) and d.obj.get("kind"))
    slices = _slices(count, workers)
    advance = progress(len(slices)) if progress else lambda: None
    with ProcessPoolExecutor(len(slices) or 1, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_review_slice, docs, engine, part) for part in slices]
        for future in futures:  # in slice order, so the merged list is the one-process list
            results = future.result()
            run.results += results
            advance()
    sort_gator_results(run.results)
    return run


def audits_of(run: TestRun, limit: int) -> list[ConstraintAudit]:
    return summarize(run.constraints, ((doc.obj, r) for doc, r in run.results), limit)


def table_lines(audits: list[ConstraintAudit]) -> list[tuple[str, Style]]:
    """A line per constraint (kind/name, action, total) and one per listed violation."""
    lines: list[tuple[str, Style]] = []
    for audit in audits:
        c = audit.constraint
        style = {DENY: "bold red", WARN: "yellow", DRYRUN: "dim"}.get(c.enforcement_action) if audit.total else "green"
        lines.append((f"{c.kind}/{c.name}  {c.enforcement_action}  violations: {audit.total}", style))
        for v in audit.violations:
            where = f"{v.namespace}/{v.name}" if v.namespace else v.name
            api_version = f"{v.group}/{v.version}" if v.group else v.version
            lines.append((f"  {api_version} {v.kind} {where}: {v.message}", None))
    return lines


def render_json(audits: list[ConstraintAudit], skipped: list[dict[str, str]] | None = None) -> str:
    """`{"constraints": [...]}`, and `"skipped": [{"resource", "reason"}]` when a cluster audit could not list
    some resources (so a script sees that the audit is incomplete)."""
    out: dict[str, Any] = {"constraints": [a.to_dict() for a in audits]}
    if skipped:
        out["skipped"] = skipped
    return to_json(out) + "\n"


_REPORT_RESULT = {DENY: "fail", WARN: "warn", DRYRUN: "skip"}


def policy_reports(run: TestRun, now: float | None = None) -> list[dict[str, Any]]:
    """wgpolicyk8s.io/v1alpha2 reports: a PolicyReport per namespace, a ClusterPolicyReport for cluster-scoped
    objects; every result, one entry each."""
    seconds = int(now if now is not None else time.time())
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for doc, r in run.results:
        obj = doc.obj
        namespace = meta_string(obj, "namespace")
        resource = {
            "apiVersion": obj.get("apiVersion", ""),
            "kind": obj.get("kind", ""),
            "name": meta_string(obj, "name"),
        }
        if namespace:
            resource["namespace"] = namespace
        action = r.actions[0] if r.actions else r.enforcement_action
        by_namespace.setdefault(namespace, []).append(
            {
                "source": REPORT_SOURCE,
                "policy": r.constraint.kind,
                "rule": r.constraint.name,
                "result": _REPORT_RESULT.get(action, "fail"),
                "message": r.msg,
                "resources": [resource],
                "properties": {"enforcementAction": r.enforcement_action},
                "timestamp": {"seconds": seconds, "nanos": 0},
            }
        )
    reports = []
    for namespace in sorted(by_namespace):
        results = by_namespace[namespace]
        summary = {
            key: sum(1 for x in results if x["result"] == key) for key in ("pass", "fail", "warn", "error", "skip")
        }
        metadata: dict[str, Any] = {"name": f"{REPORT_SOURCE}-audit"}
        if namespace:
            metadata["namespace"] = namespace
        reports.append(
            {
                "apiVersion": "wgpolicyk8s.io/v1alpha2",
                "kind": "PolicyReport" if namespace else "ClusterPolicyReport",
                "metadata": metadata,
                "summary": summary,
                "results": results,
            }
        )
    return reports


def render_policy_reports(run: TestRun) -> str:
    return "---\n".join(to_yaml(report) for report in policy_reports(run))
