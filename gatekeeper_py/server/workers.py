"""Engine worker processes for the webhook.

rego-cpp can crash the whole process (segfaults and aborts have been seen), and an evaluation can run away. So
reviews run in worker processes, each with its own Client and its own copy of the policies. A worker that dies
or misses the deadline costs the one request it was serving: the caller gets `WorkerFailure` (answered with the
failure policy) and the worker is replaced. A worker is also retired after `max_reviews` reviews, a safety net
against memory growth in the native engines (the leaks known so far are fixed: drivers/allocator.py,
drivers/cel/leaks.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from ..loader import Document

_SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter: no engine state is inherited


class WorkerFailure(Exception):
    """The worker serving a request died or missed the deadline."""


class MissedDeadline(WorkerFailure):
    """The worker did not answer in the time it was given."""


@dataclass(frozen=True)
class Verdict:
    """What the Client decided, in the webhook's terms."""

    allowed: bool
    deny: list[str]
    warnings: list[str]
    error: str | None = None


def _serve(conn: Connection, docs: list[Document], engine: str) -> None:
    """A worker's life: load the policies, say so, then answer reviews until told to stop."""
    from ..client import Client
    from ..errors import GatekeeperPyError

    client = Client(engine=engine)
    errors = [str(e) for e in client.add_policies(docs)]
    for doc in docs:
        if isinstance(doc.obj, dict) and doc.obj.get("kind") == "Namespace":
            client.add_data(doc.obj)
    conn.send(errors)
    while True:
        try:
            review = conn.recv()
        except EOFError:
            return
        if review is None:
            return
        try:
            responses = client.review(review)
            verdict = Verdict(responses.allowed, responses.deny_messages, responses.warnings)
        except GatekeeperPyError as exc:
            verdict = Verdict(False, [], [], error=str(exc))
        conn.send(verdict)


class Worker:
    def __init__(self, docs: list[Document], engine: str) -> None:
        self.reviews = 0
        self.conn, child = _SPAWN.Pipe()
        self.process = _SPAWN.Process(target=_serve, args=(child, docs, engine), daemon=True)
        self.process.start()
        child.close()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    async def started(self, timeout: float) -> list[str]:
        """The policy errors the worker met while loading."""
        return await self._receive(timeout)

    async def review(self, review: dict[str, Any], timeout: float) -> Verdict:
        try:
            self.conn.send(review)
        except (OSError, ValueError) as exc:
            raise WorkerFailure(f"the engine worker is gone: {exc}") from None
        return await self._receive(timeout)

    async def _receive(self, timeout: float) -> Any:
        loop = asyncio.get_running_loop()
        ready = await loop.run_in_executor(None, self.conn.poll, timeout)
        if not ready:
            raise MissedDeadline(f"the evaluation did not finish within {timeout:g}s")
        try:
            return self.conn.recv()
        except (EOFError, OSError) as exc:
            self.process.join(timeout=1)  # reap it, so its exit code is known
            raise WorkerFailure(f"the engine worker died (exit code {self.process.exitcode})") from exc

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.kill()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class WorkerPool:
    """N workers sharing one policy set; a request takes an idle worker, and a failed worker is replaced.

    `timeout` bounds a whole review: waiting for a free worker and the evaluation."""

    def __init__(self, docs: list[Document], engine: str, size: int, timeout: float, max_reviews: int = 10_000) -> None:
        self.docs, self.engine, self.size, self.timeout = docs, engine, size, timeout
        self.max_reviews = max_reviews
        self._idle: asyncio.Queue[Worker] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self.workers: list[Worker] = []

    async def _spawn(self) -> Worker:
        # Starting a process writes the pickled policies into a pipe: off the event loop, which keeps answering.
        return await asyncio.get_running_loop().run_in_executor(None, Worker, self.docs, self.engine)

    async def start(self, load_timeout: float = 120) -> list[str]:
        """Start every worker; the policy errors (the same in each worker), or [] when all is well."""
        self.workers = [await self._spawn() for _ in range(self.size)]
        errors: list[str] = []
        for worker in self.workers:
            errors = await worker.started(load_timeout)
            self._idle.put_nowait(worker)
        return errors

    async def review(self, review: dict[str, Any]) -> Verdict:
        deadline = asyncio.get_running_loop().time() + self.timeout
        try:
            worker = await asyncio.wait_for(self._idle.get(), self.timeout)
        except TimeoutError:
            raise WorkerFailure(f"no engine worker was free within {self.timeout:g}s") from None
        left = deadline - asyncio.get_running_loop().time()
        if left < 0.05:
            self._idle.put_nowait(worker)
            raise WorkerFailure(f"no engine worker was free within {self.timeout:g}s")
        try:
            verdict = await worker.review(review, left)
        except WorkerFailure as exc:
            worker.kill()
            self._replace(worker)
            if isinstance(exc, MissedDeadline):
                raise WorkerFailure(f"the evaluation did not finish within {self.timeout:g}s") from None
            raise
        worker.reviews += 1
        if worker.reviews >= self.max_reviews:
            self._replace(worker, retire=True)
        else:
            self._idle.put_nowait(worker)
        return verdict

    def _replace(self, old: Worker, retire: bool = False) -> None:
        """Start a worker in `old`'s place; a retired one is stopped once its replacement is ready."""

        async def ready() -> None:
            fresh = await self._spawn()
            self.workers = [fresh if w is old else w for w in self.workers]
            try:
                await fresh.started(120)
            except WorkerFailure:
                fresh.kill()
                self._replace(fresh)
                return
            finally:
                if retire:
                    old.stop()
            self._idle.put_nowait(fresh)

        task = asyncio.get_running_loop().create_task(ready())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def pids(self) -> list[int]:
        return [w.pid for w in self.workers if w.pid is not None]

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()

    async def drain_and_stop(self, timeout: float) -> None:
        """Stop each worker once it has finished the request it is serving (after a policy reload)."""
        for _ in self.workers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.get(), timeout)
        self.stop()
