"""On SQLite: one request at a time per worker process, while idle live streams wait aside.

Threaded gunicorn workers are needed because every open live page (a phone's events, the
organizer's live view) holds a thread for minutes. But threads that run requests at the same
time fight over the GIL and SQLite's single writer: bench/positions.py measured threaded
workers at half the position reports per second of one-request-at-a-time workers, p99 4×.
So each request takes the process's turn before its view runs and gives it back as soon as
its response is ready, before a streamed body starts: streams then sleep without holding it.

Only throughput depends on this lock; correctness never does (the database serialises writes
across processes anyway), so it may live in each process's memory.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, Response, g, has_request_context


class _FairTurn:
    """A lock handed over in arrival order: a request that just arrived cannot barge ahead of
    one already waiting, which keeps the slowest requests' wait (p99) close to the median."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self._held = False

    def acquire(self) -> None:
        with self._mutex:
            if not self._held:
                self._held = True
                return
            gate = threading.Lock()
            gate.acquire()
            self._waiters.append(gate)
        gate.acquire()  # released by the holder, who hands the turn straight to us

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._held = False


_turn = _FairTurn()


def _take_turn() -> None:
    _turn.acquire()
    g._has_turn = True


def _give_turn_back(response: Response | None = None) -> Response | None:
    if g.pop("_has_turn", False):
        _turn.release()
    return response


@contextmanager
def turn_released() -> Iterator[None]:
    """Let other requests of this process run while this one waits on the network."""
    had_turn = has_request_context() and g.get("_has_turn", False)
    if had_turn:
        _turn.release()
    try:
        yield
    finally:
        if had_turn:
            _turn.acquire()


def init_app(app: Flask) -> None:
    """Install the turn-taking on SQLite (WORKER_TURNS overrides).

    With PostgreSQL a request spends much of its time waiting for the server's commit, and
    threads overlap those waits well: taking turns there cut bench/ throughput to a third.
    """
    default = str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite")
    if not app.config.get("WORKER_TURNS", default):
        return
    app.before_request_funcs.setdefault(None, []).insert(0, _take_turn)
    app.after_request(_give_turn_back)
    app.teardown_request(_give_turn_back_on_error)


def _give_turn_back_on_error(_exc: BaseException | None) -> None:
    # An exception before after_request must not keep the turn.
    _give_turn_back()
