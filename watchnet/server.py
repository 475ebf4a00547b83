"""Running the app under gunicorn (several worker processes) from the watchnet command."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class GunicornServer(BaseApplication):
    """gunicorn embedded in the watchnet command, so `watchnet serve` needs no extra config."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def run_gunicorn(
    app: Flask,
    bind: str,
    workers: int,
    threads: int = 1,
    worker_class: str | None = None,
    timeout_s: int = 60,
    access_log: bool = True,
) -> None:
    """Serve the app with gunicorn until interrupted."""
    from flask import has_app_context

    from watchnet.core.extensions import db

    if has_app_context():
        # Forked workers would inherit it, and every request would share one `g`.
        raise RuntimeError("run_gunicorn must be called outside an app context")
    # The engine's connection pool must not be shared across forked workers.
    with app.app_context():
        db.engine.dispose()
    GunicornServer(
        app,
        {
            "bind": bind,
            "workers": workers,
            "threads": threads,
            "worker_class": worker_class or ("gthread" if threads > 1 else "sync"),
            "timeout": timeout_s,
            "accesslog": "-" if access_log else None,
            "graceful_timeout": 10,
        },
    ).run()
