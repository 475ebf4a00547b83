"""Benchmark: where a position report's time goes, in one process, without wrk or gunicorn.

Drives the WSGI app (Flask test client, one signed-in phone) with N single reports, N batches
and N /ping requests, and prints per request: the app's CPU (`time.process_time`), the wall
time, and for PostgreSQL the CPU of the server process that served the app's connection (read
from /proc, so the server must run on this machine) and the statements and round trips seen.
Wall minus both CPUs is waiting: commit flushes, scheduling, the other processes on the cores.

    .venv/bin/python bench/positions_cpu.py --db postgresql --requests 3000
    .venv/bin/python bench/positions_cpu.py --db sqlite

PostgreSQL: a database `watchnet_bench_cpu` (or --pg-database) is recreated on
postgresql://postgres@127.0.0.1:5432/. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdb import prepare_database  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu_s(pid: int) -> float:
    """utime + stime of a process, in seconds (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--pg-database", default="watchnet_bench_cpu")
    parser.add_argument("--profile", action="store_true", help="cProfile the single reports")
    args = parser.parse_args()

    env: dict[str, str] = {}
    prepare_database(args.db, env, args.pg_database)
    os.environ.pop("DATABASE_URL", None)
    os.environ.update(env)
    os.environ["WATCHNET_INSTANCE_PATH"] = tempfile.mkdtemp(prefix="wn-cpu-")

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from watchnet import create_app
    from watchnet.auth.services import make_signin_token
    from watchnet.core.extensions import db
    from watchnet.demo import load_demo_data
    from watchnet.districts.models import District
    from watchnet.drills.models import Drill, DrillStatus, Participant
    from watchnet.people.services import register_supporter

    app = create_app()
    with app.app_context():
        upgrade()
        load_demo_data()
        drill = db.session.scalar(sa.select(Drill))
        assert drill is not None
        drill.status = DrillStatus.live
        drill.starts_at = datetime.now(UTC)
        district = db.session.get(District, drill.district_id)
        supporter = register_supporter(
            district, "bench", "べんち", "community_supporter", email="cpu@example.jp"
        )
        db.session.add(
            Participant(
                drill_id=drill.id, supporter_id=supporter.id, position_consent_at=datetime.now(UTC)
            )
        )
        token = make_signin_token(supporter)
        drill_id = drill.id
        db.session.commit()
        engine = db.engine

    client = app.test_client()
    client.get(f"/s/{token}")
    html = client.get(f"/field/drills/{drill_id}").get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match is not None
    headers = {"X-CSRFToken": match.group(1)}
    path = f"/field/drills/{drill_id}/positions"

    statements: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        statements.append(statement.split(None, 1)[0])

    counter = 0

    def body(n: int) -> dict[str, Any]:
        nonlocal counter
        counter += 1
        now = datetime.now(UTC).isoformat()
        return {
            "positions": [
                {
                    "client_id": f"cpu-{counter:09d}-{i:03d}",
                    "lat": 36.3335,
                    "lon": 138.9455,
                    "accuracy_m": 8,
                    "recorded_at": now,
                }
                for i in range(n)
            ]
        }

    def measure(label: str, send: Any) -> None:
        for _ in range(100):  # warm-up: pool, prepared statements, caches
            send()
        pid = None
        if args.db == "postgresql":
            with app.app_context():
                raw = db.engine.raw_connection()
                cursor = raw.cursor()
                cursor.execute("SELECT pg_backend_pid()")
                pid = cursor.fetchone()[0]
                raw.close()
        statements.clear()
        server0 = backend_cpu_s(pid) if pid else 0.0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(args.requests):
            send()
        cpu = (time.process_time() - cpu0) / args.requests * 1e6
        wall = (time.perf_counter() - wall0) / args.requests * 1e6
        server = (backend_cpu_s(pid) - server0) / args.requests * 1e6 if pid else 0.0
        seen = len(statements) / args.requests
        print(
            f"  {label:<14} app CPU {cpu:6.0f} µs   server CPU {server:5.0f} µs   "
            f"wall {wall:6.0f} µs   statements via SQLAlchemy events {seen:.1f}"
        )

    def ping() -> None:
        assert client.get("/ping").status_code == 200

    def single() -> None:
        response = client.post(path, json=body(1), headers=headers)
        assert response.status_code == 200 and response.json["accepted"] == 1, response.json

    def batch() -> None:
        response = client.post(path, json=body(args.batch), headers=headers)
        assert response.json["accepted"] == args.batch, response.json

    print(f"[{args.db}] {args.requests} requests each, load average {os.getloadavg()[0]:.1f}")
    measure("/ping", ping)
    measure("single report", single)
    measure(f"batch of {args.batch}", batch)
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(lambda: [single() for _ in range(args.requests)])
        pstats.Stats(profiler).sort_stats("tottime").print_stats(35)
    print(f"  load average after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
