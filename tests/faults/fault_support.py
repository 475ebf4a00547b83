"""Helpers for the fault suite: database outages made on the shared PostgreSQL server without
stopping it, a listener that never answers, and reading the processes' logs."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url


def wait_until(
    condition: Callable[[], object], timeout_s: float, what: str, poll_s: float = 0.05
) -> float:
    """Poll until condition() is true; returns the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(poll_s)
    return time.monotonic() - started


def exit_within(proc: subprocess.Popen[bytes], timeout_s: float) -> float:
    started = time.monotonic()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        pytest.fail(f"pid {proc.pid} did not exit within {timeout_s} s")
    return time.monotonic() - started


class DatabaseOutage:
    """An outage of one PostgreSQL database: new connections refused (ALLOW_CONNECTIONS
    false) and the backends of the processes under test (by application_name, which they
    get from PGAPPNAME) terminated. The server keeps running for everyone else; the test's
    own connections are left alone. end() is always called by the fixture."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self.database = url.database
        admin = url.set(drivername="postgresql", database="postgres")
        self.admin_dsn = admin.render_as_string(hide_password=False)
        self.active = False

    def _run(self, sql: str, *params: object) -> int:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            return conn.execute(sql, params).rowcount  # type: ignore[arg-type]

    def begin(self, appname_prefix: str) -> int:
        self.active = True
        self._run(f'ALTER DATABASE "{self.database}" ALLOW_CONNECTIONS false')
        return self.terminate(appname_prefix)

    def terminate(self, appname_prefix: str) -> int:
        """Terminate the backends of the processes under test; returns how many."""
        return self._run(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND application_name LIKE %s",
            self.database,
            appname_prefix + "%",
        )

    def end(self) -> None:
        if self.active:
            self._run(f'ALTER DATABASE "{self.database}" ALLOW_CONNECTIONS true')
            self.active = False


class BlackHole:
    """A TCP listener on 127.0.0.1 that accepts connections and never says a word: a database
    connect to it blocks until the client's connect timeout."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def log_text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
