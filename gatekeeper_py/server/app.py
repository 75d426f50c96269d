"""The validating admission webhook: a Starlette app, served by uvicorn.

Starlette rather than FastAPI: the endpoint takes one loosely typed document (an AdmissionReview of either
version) and answers in the same shape, so FastAPI's pydantic models would add a layer and a dependency without
checking anything the review code does not already check.

- `POST /v1/admit`: an AdmissionReview (`admission.k8s.io/v1` or `v1beta1`) in, the same version out, with the
  request's uid, `allowed`, status 403 and `[constraint] msg` lines for deny, `warnings` for warn (Gatekeeper's
  webhook response). Malformed bodies and other versions get HTTP 400 with the reason.
- `GET /healthz` (the process answers), `/readyz` (policies loaded and a worker up; JSON with the ready
  workers' pids, the policy count, and `stale` with `lastError` when the last reload failed), `/metrics`
  (Prometheus: requests by outcome, engine failures, failure-policy answers, worker restarts, reloads).

Limits come before any parsing: the body size (`max_body_bytes`), the time to receive it, and the nesting depth
(checked right after parsing, before anything reaches a worker). The policy source is read in a thread of its
own, so a stalled API server never holds up the event loop; whatever a reload raises is logged and the last
good policies stay in force.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..loader import Document
from .policies import ClusterPolicySource, PolicySource
from .workers import Verdict, WorkerFailure, WorkerPool

log = logging.getLogger("gatekeeper_py.server")
ADMISSION_VERSIONS = ("admission.k8s.io/v1", "admission.k8s.io/v1beta1")
# The API server refuses request bodies over 3 MiB, so an object is at most that; an UPDATE's AdmissionReview
# carries it twice (object and oldObject) plus the request's envelope: 7 MiB holds any review it can send.
MAX_BODY_BYTES = 7 * 1024 * 1024
# Real objects nest a few dozen levels (a CRD's schema the most); pickling for a worker fails near 476 levels
# and json.loads near 1,000. 200 leaves room for any real object and keeps well clear of both.
MAX_DEPTH = 200
BODY_TIMEOUT = 10.0  # seconds to receive a body once the headers are in


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
    max_body_bytes: int = MAX_BODY_BYTES
    max_depth: int = MAX_DEPTH
    body_timeout: float = BODY_TIMEOUT


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

        self.failures = Counter(
            "engine_failures",
            "Requests the engine could not judge, by reason (timeout, busy, died, unsendable, engine_error, "
            "too_deep, no_policies, error).",
            ["reason"],
            namespace="gatekeeper_py",
            registry=self.registry,
        )
        self.failure_policy = Counter(
            "failure_policy_answers",
            "Requests answered by the failure policy, by policy (fail_open: admitted, fail_closed: refused).",
            ["policy"],
            namespace="gatekeeper_py",
            registry=self.registry,
        )
        self.restarts = Counter(
            "worker_restarts",
            "Engine workers started in another's place, by reason (died, timeout, retired, error).",
            ["reason"],
            namespace="gatekeeper_py",
            registry=self.registry,
        )
        self.reloads = Counter(
            "policy_reloads",
            "Policy reloads, by result (applied, rejected, source_error).",
            ["result"],
            namespace="gatekeeper_py",
            registry=self.registry,
        )
        self.stale = Gauge(
            "policies_stale",
            "1 when the policies in force may be out of date (the last reload failed), else 0.",
            namespace="gatekeeper_py",
            registry=self.registry,
        )

    def observe(self, status: str, started: float) -> None:
        self.count.labels(status).inc()
        self.duration.labels(status).observe(time.perf_counter() - started)


class BodyTooLarge(Exception):
    """The body passed the limit; `head` is its start, as far as it was read."""

    def __init__(self, head: bytes) -> None:
        super().__init__()
        self.head = head


# The API server writes an AdmissionReview's kind and apiVersion first and the request's uid as its first field,
# so both can be read from the start of a body too large to parse, and the request answered by the failure
# policy like any other the engine could not judge.
_HEAD_VERSION = re.compile(rb'"apiVersion"\s*:\s*"(admission\.k8s\.io/v1(?:beta1)?)"')
_HEAD_UID = re.compile(rb'"request"\s*:\s*\{\s*"uid"\s*:\s*"([0-9A-Za-z-]{1,64})"')


def _review_stub(head: bytes) -> dict[str, Any] | None:
    """The apiVersion and request uid at the start of a body, enough to answer it; None when not there."""
    uid = _HEAD_UID.search(head, 0, 4096)
    version = _HEAD_VERSION.search(head, 0, uid.start()) if uid else None
    if uid is None or version is None:
        return None
    return {"apiVersion": version.group(1).decode(), "request": {"uid": uid.group(1).decode()}}


def _brief(exc: BaseException, limit: int = 300) -> str:
    text = str(exc) if getattr(exc, "source", None) else f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether mappings and lists nest more than `limit` levels in `value` (iterative: no recursion limit)."""
    if not isinstance(value, (dict, list)):
        return False
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, (dict, list)):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _in_thread(function: Callable[[], Any]) -> asyncio.Future[Any]:
    """Run a blocking call in a daemon thread of its own: unlike an executor's, it cannot hold up other work or
    the process's exit when it hangs (a stalled API server)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        try:
            result, error = function(), None
        except BaseException as exc:  # handed to the awaiting coroutine
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="policy-source", daemon=True).start()
    return future


class Webhook:
    """The server's state: the current worker pool, the policies it was built from, and how fresh they are."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.pool: WorkerPool | None = None
        self.policy_count = 0
        self.metrics = _Metrics()
        self._reloader: asyncio.Task[None] | None = None
        self.last_error: str | None = None  # the last reload's failure, or policies left out at start-up
        self.stale = False  # the policies in force may not be the source's current ones
        self._stale_cause: str | None = None  # "source" (could not read it) or "rejected" (a bad policy)

    # -- policies ------------------------------------------------------------------------------------
    async def load(self, docs: list[Document], strict: bool = True) -> list[str]:
        """Build a pool for `docs` and put it in force. `strict` (a reload): only if every policy loaded, so a
        bad new template leaves the previous set in force. Otherwise (start-up) what loads is used. Whatever
        goes wrong comes back as error lines; the previous pool is then untouched."""
        pool = WorkerPool(
            docs,
            self.config.engine,
            self.config.workers,
            self.config.timeout,
            self.config.max_reviews,
            on_restart=lambda reason: self.metrics.restarts.labels(reason).inc(),
        )
        try:
            errors = await pool.start()
        except Exception as exc:  # start() has stopped its workers
            return [f"the engine workers could not load the policies: {_brief(exc)}"]
        if errors and strict:
            pool.stop()
            return errors
        old, self.pool = self.pool, pool
        self.policy_count = sum(1 for d in docs if isinstance(d.obj, dict))
        if old is not None:
            await old.drain_and_stop(self.config.timeout + 1)
        return errors

    def _mark(self, cause: str | None, error: str | None) -> None:
        self._stale_cause, self.stale, self.last_error = cause, cause is not None, error
        self.metrics.stale.set(1 if self.stale else 0)

    async def reload_once(self) -> None:
        """One poll of the source: apply a change if every policy of it loads; log and keep the previous
        policies on any failure, whatever was raised."""
        try:
            snapshot = await _in_thread(self.config.source.changed)
        except Exception as exc:
            reason = f"cannot read the policies: {_brief(exc)}"
            log.error("%s; the previous policies stay in force", reason)
            self.metrics.reloads.labels("source_error").inc()
            self._mark("source", reason)
            return
        if snapshot is None:
            if self._stale_cause == "source" and self.pool is not None:
                log.info("the policy source answers again; the policies in force are its current ones")
                self._mark(None, None)
            return
        docs, errors = snapshot
        if not errors:
            errors = await self.load(docs)
        if errors:
            for error in errors:
                log.error("policy reload rejected, the previous policies stay in force: %s", error)
            self.metrics.reloads.labels("rejected").inc()
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            self._mark("rejected", f"policy reload rejected: {errors[0]}{more}")
            return
        self.metrics.reloads.labels("applied").inc()
        self._mark(None, None)
        log.info("policies reloaded: %d documents", self.policy_count)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.config.reload_interval)
            try:
                await self.reload_once()
            except Exception:  # a bug here must not end the watch: later edits would never be applied
                log.exception("policy reload failed, the previous policies stay in force")

    async def _initial_load(self) -> None:
        try:
            docs, errors = await _in_thread(self.config.source.read)
        except Exception as exc:
            reason = f"cannot read the policies: {_brief(exc)}"
            log.error("%s; no policies are loaded yet, tried again every %gs", reason, self.config.reload_interval)
            self._mark("source", reason)
            return
        errors += await self.load(docs, strict=False)
        for error in errors:
            log.error("policy not loaded: %s", error)
        if errors:
            self.last_error = f"{len(errors)} polic{'y' if len(errors) == 1 else 'ies'} not loaded: {errors[0]}"

    @contextlib.asynccontextmanager
    async def lifespan(self, _: Starlette) -> AsyncIterator[None]:
        await self._initial_load()
        self._reloader = asyncio.get_running_loop().create_task(self._watch())
        yield
        self._reloader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reloader
        if self.pool is not None:
            self.pool.stop()

    # -- requests ------------------------------------------------------------------------------------
    async def _body(self, request: Request) -> bytes:
        limit = self.config.max_body_bytes
        declared = request.headers.get("content-length", "")
        too_large = declared.isdigit() and int(declared) > limit
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if too_large or size > limit:  # the rest is never read
                raise BodyTooLarge((b"".join(chunks) + chunk)[:4096])
            chunks.append(chunk)
        return b"".join(chunks)

    async def admit(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            body = await asyncio.wait_for(self._body(request), self.config.body_timeout)
        except BodyTooLarge as exc:
            reason = f"the request is larger than {self.config.max_body_bytes} bytes"
            stub = _review_stub(exc.head)
            if stub is not None:  # answered like any request the engine could not judge
                return self._failure(stub, reason, started, "too_large")
            self.metrics.observe("too_large", started)
            return JSONResponse({"error": reason}, 413)
        except TimeoutError:
            return self._bad_request(f"the body did not arrive within {self.config.body_timeout:g}s", started, 408)
        except ClientDisconnect:
            log.debug("the client went away before sending the whole body")
            self.metrics.observe("client_disconnect", started)
            return Response(status_code=400)
        try:
            review = json.loads(body)
        except RecursionError:
            return self._bad_request(f"the body is nested deeper than {self.config.max_depth} levels", started)
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
        if nested_deeper_than(review, self.config.max_depth):
            reason = f"the request is nested deeper than {self.config.max_depth} levels"
            return self._failure(review, reason, started, "too_deep")
        if self._exempt(req):
            self.metrics.observe("exempt", started)
            return self._answer(review, {"allowed": True, "status": {"code": 200}})
        pool = self.pool
        if pool is None:
            return self._failure(review, "no policies are loaded", started, "no_policies")
        try:
            verdict = await pool.review(review)
        except WorkerFailure as exc:
            return self._failure(review, str(exc), started, exc.reason)
        except Exception as exc:  # a bug must cost this request only, answered by the failure policy
            log.exception("request %s: the review failed", req["uid"])
            return self._failure(review, f"internal error: {type(exc).__name__}", started, "error")
        if verdict.failure:
            return self._failure(review, f"the engine failed: {verdict.failure}", started, "engine_error")
        status = "error" if verdict.error else ("allow" if verdict.allowed else "deny")
        self.metrics.observe(status, started)
        return self._answer(review, _response(verdict))

    def _exempt(self, req: dict[str, Any]) -> bool:
        namespace = req.get("namespace") or ""
        kind = req.get("kind") if isinstance(req.get("kind"), dict) else {}
        if kind.get("group") == "" and kind.get("kind") == "Namespace":
            namespace = req.get("name") or namespace
        if not isinstance(namespace, str) or not namespace:
            return False
        return any(fnmatchcase(namespace, glob) for glob in self.config.exempt_namespaces)

    def _failure(self, review: dict[str, Any], reason: str, started: float, cause: str = "error") -> Response:
        """The failure policy's answer for a request the engine could not judge."""
        self.metrics.observe("failure_policy", started)
        self.metrics.failures.labels(cause).inc()
        self.metrics.failure_policy.labels("fail_open" if self.config.fail_open else "fail_closed").inc()
        log.error("request %s: %s", review["request"]["uid"], reason)
        message = f"gatekeeper-py could not evaluate the request: {reason}"
        if self.config.fail_open:
            return self._answer(review, {"allowed": True, "status": {"code": 299}, "warnings": [message]})
        return self._answer(review, {"allowed": False, "status": {"code": 500, "message": message}})

    def _bad_request(self, reason: str, started: float, code: int = 400) -> Response:
        self.metrics.observe("bad_request", started)
        return JSONResponse({"error": reason}, status_code=code)

    @staticmethod
    def _answer(review: dict[str, Any], response: dict[str, Any]) -> Response:
        body = {"uid": review["request"]["uid"], **response}
        return JSONResponse({"apiVersion": review["apiVersion"], "kind": "AdmissionReview", "response": body})

    async def healthz(self, _: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(self, _: Request) -> Response:
        """Ready: policies loaded and at least one worker up. `stale` and `lastError` say when the policies in
        force may be out of date (the source could not be read, or its new policies were rejected)."""
        status: dict[str, Any] = self.pool.status() if self.pool is not None else {"workers": []}
        ready = bool(status["workers"])
        body = {"ready": ready, **status, "policies": self.policy_count if self.pool is not None else 0}
        body |= {"stale": self.stale, "lastError": self.last_error}
        return JSONResponse(body, status_code=200 if ready else 503)

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
