"""Benchmark: the phone's position-report endpoint against the app's bare /ping endpoint.

Both run in one app under the same gunicorn settings, hit by wrk with the same number of
connections, in one run. Prints requests per second, p50/p99 latency and the ratio, then
positions per second for batched reports, and checks every accepted report was stored.

    .venv/bin/python bench/positions.py                  # SQLite, then PostgreSQL
    .venv/bin/python bench/positions.py --db sqlite --duration 10 --worker-class sync

Needs wrk (Debian package `wrk`; installed when missing) and, for PostgreSQL, a server
reachable as postgresql://postgres@127.0.0.1:5432/ (a database `watchnet_bench` is recreated).
Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

from benchdb import prepare_database

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "watchnet_bench"  # recreated on the PostgreSQL server for each run

SETUP = textwrap.dedent("""
    # Runs inside the app: make the demo drill live with N consenting phones; print their
    # sign-in tokens.
    import json, sys
    from datetime import UTC, datetime
    import sqlalchemy as sa
    from watchnet import create_app
    from watchnet.core.extensions import db
    from watchnet.demo import load_demo_data
    from watchnet.auth.services import make_signin_token
    from watchnet.drills.models import Drill, DrillStatus, Participant
    from watchnet.people.services import register_supporter
    from watchnet.districts.models import District

    phones = int(sys.argv[1])
    app = create_app()
    with app.app_context():
        from flask_migrate import upgrade
        upgrade()
        load_demo_data()
        drill = db.session.scalar(sa.select(Drill))
        drill.status = DrillStatus.live
        drill.starts_at = datetime.now(UTC)
        district = db.session.get(District, drill.district_id)
        tokens = []
        for i in range(phones):
            s = register_supporter(district, f"bench {i}", f"べんち {i}", "community_supporter",
                                   email=f"bench{i}@example.jp")
            db.session.add(Participant(drill_id=drill.id, supporter_id=s.id,
                                       position_consent_at=datetime.now(UTC)))
            tokens.append(make_signin_token(s))
        db.session.commit()
        print(json.dumps({"drill_id": drill.id, "tokens": tokens}))
""")

WRK_SCRIPT = textwrap.dedent("""
    -- One phone per connection would need 64 cookies per thread: rotate over all phones.
    local phones = {}
    ok = 0  -- global: done() reads it from each thread with thread:get("ok")
    local counter = 0
    local threads = {}
    function setup(thread)
      thread:set("tid", #threads + 1)
      table.insert(threads, thread)
    end
    function init(args)
      for line in io.lines(os.getenv("BENCH_PHONES")) do
        local cookie, csrf = line:match("([^\\t]+)\\t([^\\t]+)")
        table.insert(phones, {cookie = cookie, csrf = csrf})
      end
      batch = tonumber(os.getenv("BENCH_BATCH"))
      path = os.getenv("BENCH_PATH")
      run = os.getenv("BENCH_RUN")
    end
    function request()
      counter = counter + 1
      local phone = phones[(counter % #phones) + 1]
      local now = os.date("!%Y-%m-%dT%H:%M:%SZ")
      local items = {}
      for i = 1, batch do
        items[i] = string.format(
          '{"client_id":"%s-%d-%09d-%03d","lat":36.3335%d,"lon":138.9455%d,"accuracy_m":8,"recorded_at":"%s"}',
          run, tid, counter, i, counter % 10, i % 10, now)
      end
      local body = '{"positions":[' .. table.concat(items, ",") .. ']}'
      return wrk.format("POST", path, {
        ["Content-Type"] = "application/json", ["Cookie"] = phone.cookie,
        ["X-CSRFToken"] = phone.csrf}, body)
    end
    function response(status, headers, body)
      if status == 200 then ok = ok + 1 end
    end
    function done(summary, latency, requests)
      local total_ok = 0
      for _, t in ipairs(threads) do total_ok = total_ok + t:get("ok") end
      io.write(string.format("RESULT %d %d %.3f %.3f %d\\n", summary.requests,
        total_ok, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        summary.errors.status + summary.errors.connect + summary.errors.read
        + summary.errors.write + summary.errors.timeout))
    end
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL
    )
    return shutil.which("wrk") or "wrk"


def sign_in_phones(base: str, tokens: list[str], path: Path, drill_id: int) -> None:
    """Open each personal link like a phone; keep its session cookie and CSRF token."""
    lines = []
    for token in tokens:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        opener.open(f"{base}/s/{token}").read()
        html = opener.open(f"{base}/field/drills/{drill_id}").read().decode()
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
        jar = [h for h in opener.handlers if isinstance(h, urllib.request.HTTPCookieProcessor)]
        cookie = "; ".join(f"{c.name}={c.value}" for c in jar[0].cookiejar)
        lines.append(f"{cookie}\t{csrf}")
    path.write_text("\n".join(lines) + "\n")


def run_wrk(
    wrk: str,
    url: str,
    phones: Path,
    script: Path,
    batch: int,
    path: str,
    connections: int,
    duration: int,
) -> dict[str, float]:
    # Client ids must be unique across runs, or a later run's reports count as retries.
    env = dict(
        os.environ,
        BENCH_PHONES=str(phones),
        BENCH_BATCH=str(batch),
        BENCH_PATH=path,
        BENCH_RUN=f"r{time.monotonic_ns() % 10**9}",
    )
    done = subprocess.run(
        [
            wrk,
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"wrk failed: {done.stdout}{done.stderr}")
    out = done.stdout
    requests, ok, p50, p99, errors = re.search(
        r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) (\d+)", out
    ).groups()
    return {
        "requests": int(requests),
        "ok": int(ok),
        "rps": int(requests) / duration,
        "p50_ms": float(p50),
        "p99_ms": float(p99),
        "errors": int(errors),
    }


def count_positions(env: dict[str, str], instance: Path) -> int:
    code = (
        "import sqlalchemy as sa\nfrom watchnet import create_app\n"
        "from watchnet.core.extensions import db\napp = create_app()\n"
        "with app.app_context():\n"
        "    print(db.session.scalar(sa.text('SELECT count(*) FROM position_report')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    return int(out.strip().splitlines()[-1])


def bench_one(db: str, args: argparse.Namespace, wrk: str) -> dict[str, object]:
    instance = Path(tempfile.mkdtemp(prefix=f"wn-bench-{db}-"))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["WATCHNET_INSTANCE_PATH"] = str(instance)
    prepare_database(db, env, args.pg_database)
    setup = subprocess.run(
        [sys.executable, "-c", SETUP, str(args.phones)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(setup.stdout.strip().splitlines()[-1])
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "watchnet.cli",
            "serve",
            "--port",
            str(port),
            "--no-upgrade",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            *(["--worker-class", args.worker_class] if args.worker_class else []),
            "--no-access-log",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        phones = instance / "phones.tsv"
        sign_in_phones(base, info["tokens"], phones, info["drill_id"])
        script = instance / "bench.lua"
        script.write_text(WRK_SCRIPT)
        positions_path = f"/field/drills/{info['drill_id']}/positions"
        run = lambda path, batch, d: run_wrk(  # noqa: E731
            wrk,
            base + path,
            phones,
            script,
            batch,
            path,
            args.connections,
            d,
        )
        run("/ping", 1, 2)  # warm-up
        bare = run("/ping", 1, args.duration)
        single = run(positions_path, 1, args.duration)
        batched = run(positions_path, args.batch, args.duration)
        # On a shared machine the load changes within a run: more short /ping-report pairs,
        # each pair's ratio taken over seconds of the same load, say more than one long pair.
        pairs = []
        for _ in range(args.pairs):
            pair_bare = run("/ping", 1, args.pair_duration)
            pair_single = run(positions_path, 1, args.pair_duration)
            single["ok"] += pair_single["ok"]
            pairs.append(pair_single["rps"] / pair_bare["rps"])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
    stored = count_positions(env, instance)
    expected = single["ok"] + batched["ok"] * args.batch
    return {
        "db": db,
        "bare": bare,
        "single": single,
        "batched": batched,
        "pairs": pairs,
        "stored": stored,
        "expected": expected,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--connections", type=int, default=64, help="concurrent phones")
    parser.add_argument("--phones", type=int, default=64, help="signed-in supporters")
    parser.add_argument("--duration", type=int, default=15, help="seconds per measurement")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per worker (1 = sync workers, >1 = gthread)"
    )
    parser.add_argument("--batch", type=int, default=10, help="positions per batched POST")
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default=None)
    parser.add_argument(
        "--pairs", type=int, default=0, help="extra short /ping-report pairs (noisy machines)"
    )
    parser.add_argument("--pair-duration", type=int, default=3, help="seconds per pair run")
    parser.add_argument(
        "--pg-database", default=BENCH_DB, help="PostgreSQL database to recreate for the run"
    )
    args = parser.parse_args()
    wrk = ensure_wrk()
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    worker = args.worker_class or ("sync" if args.threads == 1 else f"gthread×{args.threads}")
    print(
        f"gunicorn {args.workers} workers ({worker}), wrk 2 threads, "
        f"{args.connections} connections, {args.duration} s each, batch {args.batch}"
    )
    for db in dbs:
        # The two cores may be shared: the load average says how much the figures can trust.
        load_before = os.getloadavg()[0]
        r = bench_one(db, args, wrk)
        bare, single, batched = r["bare"], r["single"], r["batched"]  # type: ignore[index]
        print(f"\n[{db}]  load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
        for name, m in (
            ("bare /ping", bare),
            ("single report", single),
            (f"batch of {args.batch}", batched),
        ):
            print(
                f"  {name:<15} {m['rps']:8.0f} req/s   p50 {m['p50_ms']:6.1f} ms   "
                f"p99 {m['p99_ms']:6.1f} ms   non-2xx/errors {m['errors']}"
            )
        print(f"  single / bare ratio      {single['rps'] / bare['rps']:.2f}")
        print(f"  batched positions/s      {batched['rps'] * args.batch:8.0f}")
        pairs = sorted(r["pairs"])  # type: ignore[call-overload]
        if pairs:
            print(
                f"  ratio of {len(pairs)} short pairs   median {pairs[len(pairs) // 2]:.2f}"
                f"  (" + ", ".join(f"{p:.2f}" for p in pairs) + ")"
            )
        # wrk stops counting at the deadline while requests are still in flight: those may be
        # stored without being counted, so stored may exceed accepted by at most that many.
        # single + batched runs, and each short pair's reports
        in_flight = args.connections * (1 + args.batch + args.pairs)
        surplus = r["stored"] - r["expected"]  # type: ignore[operator]
        verdict = (
            "every accepted report stored"
            if 0 <= surplus <= in_flight
            else "MISMATCH: accepted reports missing"
            if surplus < 0
            else "MISMATCH: more stored than sent"
        )
        print(
            f"  stored {r['stored']}, accepted {r['expected']} "
            f"(+{surplus} in flight at the end) — {verdict}"
        )


if __name__ == "__main__":
    main()
