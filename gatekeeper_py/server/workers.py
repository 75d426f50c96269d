"""Engine worker processes for the webhook.

rego-cpp can crash the whole process (segfaults and aborts have been seen), and an evaluation can run away. So
reviews run in worker processes, each with its own Client and its own copy of the policies. A worker that dies,
misses the deadline or cannot be talked to costs the one request it was serving: the caller gets
`WorkerFailure` (answered with the failure policy) and the worker is replaced. A request that cannot even be
sent (pickling it fails) leaves the worker untouched and goes back to the pool. A worker is also retired after
`max_reviews` reviews, a safety net against memory growth in the native engines (the leaks known so far are
fixed: drivers/allocator.py, drivers/cel/leaks.py).

Waiting for a worker's answer uses the event loop's own readiness callbacks on the pipe, not a thread, so slow
reviews never queue behind each other in an executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any

from ..loader import Document, object_id

_SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter: no engine state is inherited
log = logging.getLogger("gatekeeper_py.server")
RESPAWN_DELAYS = (0.5, 1, 2, 5, 10, 30)  # seconds between tries when a replacement worker fails to start


class WorkerFailure(Exception):
    """The request could not be judged by a worker; `reason` is a short label for metrics."""

    def __init__(self, message: str, reason: str = "error") -> None:
        super().__init__(message)
        self.reason = reason


class MissedDeadline(WorkerFailure):
    """The worker did not answer in the time it was given."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "timeout")


@dataclass(frozen=True)
class Verdict:
    """What the Client decided, in the webhook's terms. `error`: the Client refused the request (answered as
    Gatekeeper does, with a 500 denial); `failure`: the engine broke on it (answered with the failure policy)."""

    allowed: bool
    deny: list[str]
    warnings: list[str]
    error: str | None = None
    failure: str | None = None


def build_client(docs: list[Document], engine: str) -> tuple[Any, list[str]]:
    """A Client holding `docs`, and the errors met. Should the loader break on something (an exception that is
    not its own error), the documents are added one at a time, templates first, so the culprit is named and
    every other policy still loads."""
    from ..client import Client
    from ..model import is_constraint

    client = Client(engine=engine)
    try:
        errors = [str(e) for e in client.add_policies(docs)]
    except Exception:
        client, errors = Client(engine=engine), []
        for doc in sorted(docs, key=lambda d: is_constraint(d.obj)):  # stable: templates first, as add_policies
            try:
                errors += [str(e) for e in client.add_policies([doc])]
            except Exception as exc:
                errors.append(f"{doc.source}: {object_id(doc.obj)}: cannot be loaded: {type(exc).__name__}: {exc}")
    for doc in docs:
        if isinstance(doc.obj, dict) and doc.obj.get("kind") == "Namespace":
            try:
                client.add_data(doc.obj)
            except Exception as exc:
                errors.append(f"{doc.source}: {object_id(doc.obj)}: cannot be loaded: {type(exc).__name__}: {exc}")
    return client, errors


def _serve(conn: Connection, docs: list[Document], engine: str) -> None:
    """A worker's life: load the policies, say so, then answer reviews until told to stop."""
    from ..errors import GatekeeperPyError

    client, errors = build_client(docs, engine)
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
        except Exception as exc:  # the engine broke (RecursionError, MemoryError...): the failure policy decides
            verdict = Verdict(False, [], [], failure=f"{type(exc).__name__}: {exc}")
        try:
            conn.send(verdict)
        except Exception as exc:  # a message that does not pickle: say so rather than leave the server waiting
            conn.send(Verdict(False, [], [], failure=f"the verdict could not be sent: {type(exc).__name__}"))


async def _readable(conn: Connection, timeout: float) -> bool:
    """Whether `conn` has something to read (or was closed) within `timeout` seconds."""
    if conn.poll():
        return True
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    fd = conn.fileno()
    loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
    try:
        await asyncio.wait_for(ready, timeout)
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(fd)


class Worker:
    def __init__(self, docs: list[Document], engine: str) -> None:
        self.reviews = 0
        self.ready = False  # set once it has loaded its policies
        self.retiring = False  # its replacement is being started
        self.discarded = False  # out of the pool: skipped when the idle queue hands it out
        self.conn, child = _SPAWN.Pipe()
        self.process = _SPAWN.Process(target=_serve, args=(child, docs, engine), daemon=True)
        try:
            self.process.start()
        finally:
            child.close()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.is_alive()

    async def started(self, timeout: float) -> list[str]:
        """The policy errors the worker met while loading."""
        errors = await self._receive(timeout)
        self.ready = True
        return errors

    async def review(self, review: dict[str, Any], timeout: float) -> Verdict:
        try:
            message = bytes(ForkingPickler.dumps(review))
        except Exception as exc:  # too deep (RecursionError), or something that does not pickle: nothing was sent
            raise Unsendable(f"the request cannot be handed to an engine worker: {type(exc).__name__}") from None
        try:
            self.conn.send_bytes(message)
        except (OSError, ValueError) as exc:
            raise WorkerFailure(f"the engine worker is gone: {exc}", "died") from None
        verdict = await self._receive(timeout)
        if not isinstance(verdict, Verdict):
            raise WorkerFailure("the engine worker answered something else than a verdict", "died")
        return verdict

    async def _receive(self, timeout: float) -> Any:
        if not await _readable(self.conn, timeout):
            raise MissedDeadline(f"the evaluation did not finish within {timeout:g}s")
        try:
            return self.conn.recv()
        except Exception as exc:  # EOF or a broken pipe: the worker died; anything else: it cannot be trusted
            self.process.join(timeout=1)  # reap it, so its exit code is known
            raise WorkerFailure(f"the engine worker died (exit code {self.process.exitcode})", "died") from exc

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.kill()

    def kill(self) -> None:
        self.ready = False
        with contextlib.suppress(OSError, ValueError, AssertionError):
            if self.process.is_alive():
                self.process.kill()
            self.process.join(timeout=5)
        self.conn.close()


class Unsendable(WorkerFailure):
    """The request could not be pickled for a worker; the worker is unharmed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "unsendable")


class WorkerPool:
    """N workers sharing one policy set; a request takes an idle worker, and a failed worker is replaced.

    `timeout` bounds a whole review: waiting for a free worker and the evaluation. `on_restart(reason)` is called
    for each worker started in another's place (reason: died, timeout, retired...).

    An idle worker's pipe is watched by the event loop: a worker sends nothing unasked, so its pipe turning
    readable means it died (killed by the OOM killer, say), and it is replaced at once rather than when a request
    next picks it. A worker due for retirement keeps serving until its replacement is ready, so even a pool of
    one is never without a worker."""

    def __init__(
        self,
        docs: list[Document],
        engine: str,
        size: int,
        timeout: float,
        max_reviews: int = 10_000,
        on_restart: Callable[[str], None] | None = None,
    ) -> None:
        self.docs, self.engine, self.size, self.timeout = docs, engine, size, timeout
        self.max_reviews = max_reviews
        self.on_restart = on_restart or (lambda _: None)
        self._idle: asyncio.Queue[Worker] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._watched: dict[Worker, int] = {}  # idle workers whose pipe the loop watches, and its fd
        self._starting: set[Worker] = set()
        self.workers: list[Worker] = []
        self.closed = False

    async def _spawn(self) -> Worker:
        # Starting a process writes the pickled policies into a pipe: off the event loop, which keeps answering.
        return await asyncio.get_running_loop().run_in_executor(None, Worker, self.docs, self.engine)

    async def start(self, load_timeout: float = 120) -> list[str]:
        """Start every worker; the policy errors (the same in each worker), or [] when all is well. On any
        failure every worker started so far is stopped before the exception propagates."""
        errors: list[str] = []
        try:
            for _ in range(self.size):
                self.workers.append(await self._spawn())
            for worker in self.workers:
                errors = await worker.started(load_timeout)
            for worker in self.workers:
                self._put_idle(worker)
        except BaseException:
            self.stop()
            raise
        return errors

    # -- idle workers --------------------------------------------------------------------------------
    def _put_idle(self, worker: Worker) -> None:
        self._idle.put_nowait(worker)
        try:
            fd = worker.conn.fileno()
            asyncio.get_running_loop().add_reader(fd, self._idle_worker_stirred, worker)
        except (OSError, ValueError):  # its pipe is closed: it is found dead when taken
            return
        self._watched[worker] = fd

    def _unwatch(self, worker: Worker) -> None:
        """Stop watching a worker's pipe; always before it is read from, closed or killed."""
        fd = self._watched.pop(worker, None)
        if fd is not None:
            asyncio.get_running_loop().remove_reader(fd)

    def _idle_worker_stirred(self, worker: Worker) -> None:
        self._unwatch(worker)
        worker.discarded = True  # skipped when the queue hands it out
        if worker.retiring:  # its replacement is on the way already
            worker.kill()
        else:
            self._replace(worker, "died")

    async def _take(self, deadline: float) -> Worker:
        loop = asyncio.get_running_loop()
        while True:
            worker = await asyncio.wait_for(self._idle.get(), max(deadline - loop.time(), 0))
            if worker.discarded:
                continue
            self._unwatch(worker)
            if worker.alive():
                return worker
            self._replace(worker, "died")

    # -- requests ------------------------------------------------------------------------------------
    async def review(self, review: dict[str, Any]) -> Verdict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        try:
            worker = await self._take(deadline)
        except TimeoutError:
            raise WorkerFailure(f"no engine worker was free within {self.timeout:g}s", "busy") from None
        left = deadline - loop.time()
        if left < 0.05:
            self._put_idle(worker)
            raise WorkerFailure(f"no engine worker was free within {self.timeout:g}s", "busy")
        try:
            verdict = await worker.review(review, left)
        except Unsendable:
            self._done_with(worker)
            raise
        except MissedDeadline:
            self._replace(worker, "timeout")
            raise MissedDeadline(f"the evaluation did not finish within {self.timeout:g}s") from None
        except WorkerFailure as exc:
            self._replace(worker, exc.reason)
            raise
        except BaseException:  # cancelled mid-review, or anything unforeseen: the worker's state is unknown
            self._replace(worker, "error")
            raise
        worker.reviews += 1
        if worker.reviews >= self.max_reviews and not worker.retiring:
            worker.retiring = True
            self._replace(worker, "retired", retire=True)
        self._done_with(worker)
        return verdict

    def _done_with(self, worker: Worker) -> None:
        """Back to the pool, or stopped when it was retired while it served."""
        if worker.discarded or self.closed:
            worker.stop()
        else:
            self._put_idle(worker)

    # -- replacing workers ---------------------------------------------------------------------------
    def _replace(self, old: Worker, reason: str, retire: bool = False) -> None:
        """Start a worker in `old`'s place: old is killed now, or, when retired, keeps serving until its
        replacement is ready. A replacement that fails to start is tried again, with growing delays, until the
        pool closes."""
        if not retire:
            self._unwatch(old)
            old.kill()
        if self.closed:
            return
        self.on_restart(reason)

        async def ready() -> None:
            attempt = 0
            while not self.closed:
                fresh: Worker | None = None
                try:
                    fresh = await self._spawn()
                    self._starting.add(fresh)
                    await fresh.started(120)
                except Exception as exc:
                    log.error("an engine worker failed to start: %s: %s", type(exc).__name__, exc)
                    if fresh is not None:
                        self._starting.discard(fresh)
                        fresh.kill()
                    await asyncio.sleep(RESPAWN_DELAYS[min(attempt, len(RESPAWN_DELAYS) - 1)])
                    attempt += 1
                    continue
                self._starting.discard(fresh)
                if self.closed:
                    fresh.stop()
                    return
                self.workers = [fresh if w is old else w for w in self.workers]
                if retire:
                    old.discarded = True
                    if old in self._watched:  # idle: stopped now; serving: stopped when its request is done
                        self._unwatch(old)
                        old.stop()
                self._put_idle(fresh)
                return

        task = asyncio.get_running_loop().create_task(ready())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- state ---------------------------------------------------------------------------------------
    @property
    def pids(self) -> list[int]:
        """The workers that are up and have loaded their policies."""
        return [w.pid for w in self.workers if w.pid is not None and w.ready and w.alive()]

    def status(self) -> dict[str, Any]:
        """What /readyz shows: the ready workers' pids and how many are being (re)started or are down."""
        ready = self.pids
        return {"workers": ready, "size": self.size, "unavailable": self.size - len(ready)}

    def stop(self) -> None:
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        for worker in list(self._watched):
            self._unwatch(worker)
        for worker in [*self.workers, *self._starting]:
            worker.stop()

    async def drain_and_stop(self, timeout: float) -> None:
        """Stop the workers once each has finished the request it is serving (after a policy reload)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        drained = 0
        while drained < len(self.workers) and (left := deadline - loop.time()) > 0:
            try:
                worker = await asyncio.wait_for(self._idle.get(), left)
            except TimeoutError:
                break
            drained += not worker.discarded
        self.stop()
