"""The validating admission webhook: a Starlette app, served by uvicorn.

Starlette rather than FastAPI: the endpoint takes one loosely typed document (an AdmissionReview of either
version) and answers in the same shape, so FastAPI's pydantic models would add a layer and a dependency without
checking anything the review code does not already check.

- `POST /v1/admit`: an AdmissionReview (`admission.k8s.io/v1` or `v1beta1`) in, the same version out, with the
  request's uid, `allowed`, status 403 and `[constraint] msg` lines for deny, `warnings` for warn (Gatekeeper's
  webhook response). Malformed bodies and other versions get HTTP 400 with the reason.
- `GET /healthz` (the process answers), `/readyz` (policies loaded; JSON with the worker pids and the policy
  counts), `/metrics` (Prometheus: request count and duration by outcome).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..loader import Document
from .policies import ClusterPolicySource, PolicySource
from .workers import Verdict, WorkerFailure, WorkerPool

log = logging.getLogger("gatekeeper_py.server")
ADMISSION_VERSIONS = ("admission.k8s.io/v1", "admission.k8s.io/v1beta1")


@dataclass
class ServerConfig:
    source: PolicySource | ClusterPolicySource
    engine: str = "auto"
    workers: int = 2
    timeout: float = 3.0
    fail_open: bool = True
    exempt_namespaces: tuple[str, ...] = ()
    reload_interval: float = 2.0
    max_reviews: int = 10_000


@dataclass
class _Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.count = Counter(
            "validation_request_count",
            "Admission requests answered, by outcome (allow, deny, error, failure_policy, exempt).",
            ["admission_status"],
            namespace="gatekeeper_py",
            registry=self.registry,
        )
        self.duration = Histogram(
            "validation_request_duration_seconds",
            "Time to answer an admission request, by outcome.",
            ["admission_status"],
            namespace="gatekeeper_py",
            registry=self.registry,
        )

    def observe(self, status: str, started: float) -> None:
        self.count.labels(status).inc()
        self.duration.labels(status).observe(time.perf_counter() - started)


class Webhook:
    """The server's state: the current worker pool and the policies it was built from."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.pool: WorkerPool | None = None
        self.policy_count = 0
        self.metrics = _Metrics()
        self._reloader: asyncio.Task[None] | None = None

    # -- policies ------------------------------------------------------------------------------------
    async def load(self, docs: list[Document], strict: bool = True) -> list[str]:
        """Build a pool for `docs` and put it in force. `strict` (a reload): only if every policy loaded, so a
        bad new template leaves the previous set in force. Otherwise (start-up) what loads is used."""
        pool = WorkerPool(docs, self.config.engine, self.config.workers, self.config.timeout, self.config.max_reviews)
        errors = await pool.start()
        if errors and strict:
            pool.stop()
            return errors
        old, self.pool = self.pool, pool
        self.policy_count = sum(1 for d in docs if isinstance(d.obj, dict))
        if old is not None:
            await old.drain_and_stop(self.config.timeout + 1)
        return errors

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.config.reload_interval)
            docs = self.config.source.changed()
            if docs is None:
                continue
            errors = await self.load(docs)
            for error in errors:
                log.error("policy reload rejected, the previous policies stay in force: %s", error)
            if not errors:
                log.info("policies reloaded: %d documents", self.policy_count)

    @contextlib.asynccontextmanager
    async def lifespan(self, _: Starlette) -> AsyncIterator[None]:
        docs, errors = self.config.source.read()
        errors += await self.load(docs, strict=False)
        for error in errors:
            log.error("policy not loaded: %s", error)
        self._reloader = asyncio.get_running_loop().create_task(self._watch())
        yield
        self._reloader.cancel()
        if self.pool is not None:
            self.pool.stop()

    # -- requests ------------------------------------------------------------------------------------
    async def admit(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            review = json.loads(await request.body())
        except ValueError as exc:
            return self._bad_request(f"the body is not JSON: {exc}", started)
        if not isinstance(review, dict) or review.get("kind") != "AdmissionReview":
            return self._bad_request("the body is not an AdmissionReview", started)
        if review.get("apiVersion") not in ADMISSION_VERSIONS:
            return self._bad_request(
                f"unsupported apiVersion {review.get('apiVersion')!r}: expected one of {', '.join(ADMISSION_VERSIONS)}",
                started,
            )
        req = review.get("request")
        if not isinstance(req, dict) or not isinstance(req.get("uid"), str):
            return self._bad_request("request.uid is required", started)
        if self._exempt(req):
            self.metrics.observe("exempt", started)
            return self._answer(review, {"allowed": True, "status": {"code": 200}})
        if self.pool is None:
            return self._failure(review, "no policies are loaded", started)
        try:
            verdict = await self.pool.review(review)
        except WorkerFailure as exc:
            return self._failure(review, str(exc), started)
        status = "error" if verdict.error else ("allow" if verdict.allowed else "deny")
        self.metrics.observe(status, started)
        return self._answer(review, _response(verdict))

    def _exempt(self, req: dict[str, Any]) -> bool:
        namespace = req.get("namespace") or ""
        kind = req.get("kind") or {}
        if kind.get("group") == "" and kind.get("kind") == "Namespace":
            namespace = req.get("name") or namespace
        return bool(namespace) and any(fnmatchcase(namespace, glob) for glob in self.config.exempt_namespaces)

    def _failure(self, review: dict[str, Any], reason: str, started: float) -> Response:
        """The failure policy's answer for a request the engine could not judge."""
        self.metrics.observe("failure_policy", started)
        log.error("request %s: %s", review["request"]["uid"], reason)
        message = f"gatekeeper-py could not evaluate the request: {reason}"
        if self.config.fail_open:
            return self._answer(review, {"allowed": True, "status": {"code": 299}, "warnings": [message]})
        return self._answer(review, {"allowed": False, "status": {"code": 500, "message": message}})

    def _bad_request(self, reason: str, started: float) -> Response:
        self.metrics.observe("bad_request", started)
        return JSONResponse({"error": reason}, status_code=400)

    @staticmethod
    def _answer(review: dict[str, Any], response: dict[str, Any]) -> Response:
        body = {"uid": review["request"]["uid"], **response}
        return JSONResponse({"apiVersion": review["apiVersion"], "kind": "AdmissionReview", "response": body})

    async def healthz(self, _: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(self, _: Request) -> Response:
        if self.pool is None:
            return JSONResponse({"ready": False}, status_code=503)
        return JSONResponse({"ready": True, "workers": self.pool.pids, "policies": self.policy_count})

    async def metrics_endpoint(self, _: Request) -> Response:
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _response(verdict: Verdict) -> dict[str, Any]:
    """Gatekeeper's AdmissionResponse for a verdict."""
    if verdict.error:
        return {"allowed": False, "status": {"code": 500, "message": verdict.error}}
    out: dict[str, Any]
    if verdict.allowed:
        out = {"allowed": True, "status": {"code": 299 if verdict.warnings else 200}}
    else:
        out = {"allowed": False, "status": {"code": 403, "reason": "Forbidden", "message": "\n".join(verdict.deny)}}
    if verdict.warnings:
        out["warnings"] = verdict.warnings
    return out


def create_app(config: ServerConfig) -> Starlette:
    webhook = Webhook(config)
    routes = [
        Route("/v1/admit", webhook.admit, methods=["POST"]),
        Route("/healthz", webhook.healthz),
        Route("/readyz", webhook.readyz),
        Route("/metrics", webhook.metrics_endpoint),
    ]
    app = Starlette(routes=routes, lifespan=webhook.lifespan)
    app.state.webhook = webhook
    return app
