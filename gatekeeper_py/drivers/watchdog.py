"""Running an engine call with a deadline.

Native engines cannot be interrupted: a call into rego-cpp runs until it returns. So the call runs on a thread
of its own, and the caller waits for it only until the deadline. A call that overruns is left to finish on its
thread, which then ends; the next call starts a fresh thread, and the caller must not touch the native state the
abandoned call still uses.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable


class _Call:
    def __init__(self, function: Callable[[], None]) -> None:
        self.function = function
        self.done = threading.Event()
        self.error: BaseException | None = None


class _Thread(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="gatekeeper-py-evaluation", daemon=True)
        self.calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self.start()

    def run(self) -> None:
        while (call := self.calls.get()) is not None:
            try:
                call.function()
            except BaseException as exc:
                call.error = exc
            call.done.set()


class Watchdog:
    """Runs functions one at a time on a thread of its own, each within a time limit."""

    def __init__(self) -> None:
        self._thread: _Thread | None = None
        self._lock = threading.Lock()

    def run(self, function: Callable[[], None], timeout: float) -> bool:
        """Run `function` and wait for it at most `timeout` seconds: True when it returned in time (an exception
        it raised is raised here), False when it is still running (it goes on, abandoned)."""
        with self._lock:
            if self._thread is None:
                self._thread = _Thread()
            thread = self._thread
            call = _Call(function)
            thread.calls.put(call)
            if not call.done.wait(max(timeout, 0.0)):
                thread.calls.put(None)  # the thread ends once the call returns
                self._thread = None
                return False
        if call.error is not None:
            raise call.error
        return True
