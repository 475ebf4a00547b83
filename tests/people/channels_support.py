"""A real dispatcher running beside a test (a thread with the test app's settings, so it
delivers to the test's stand-ins) while a browser drives the live server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from watchnet.core.extensions import db
from watchnet.jobs.deliveries import Dispatcher


@contextmanager
def running_dispatcher(app: Flask, poll_s: float = 0.1) -> Iterator[None]:
    """Deliver the outbox continuously until the block ends (polls every `poll_s` when idle)."""
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        with app.app_context():
            try:
                with Dispatcher(threads=2, batch=50) as dispatcher:
                    while not stop.is_set():
                        if not dispatcher.run_once():
                            stop.wait(poll_s)
            except BaseException as exc:  # noqa: BLE001 - reported to the test below
                failures.append(exc)
            finally:
                db.session.remove()

    thread = threading.Thread(target=run, name="test-dispatcher", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(15)
    if failures:
        raise failures[0]
