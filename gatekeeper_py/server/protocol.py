"""uvicorn's h11 protocol, with one change: a connection that has not sent a request yet is closed after the
keep-alive timeout too.

uvicorn starts its keep-alive timer only once a response is complete, so a fresh connection that sends nothing
is held for ever and counts against `limit_concurrency`: measured with bench/attack.py, 400 idle connections
made /healthz answer 503 until they were closed. Data arriving cancels the timer, as uvicorn does for
kept-alive connections.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol


class IdleClosingH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)
