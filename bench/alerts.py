"""Benchmark: a real alert, from the coordinator's request to the last webhook delivered.

In one run, per database:

(a) Targeting. 100,000 supporters scattered over a city-sized area (about 20 × 19 km; 10,000
    of them in a dense neighbourhood used by (b)), plus recent phone positions from a drill.
    For N alert points away from that neighbourhood, the supporters within the first ring
    (1.2 km) are found by watchnet.alerts.targeting.find_targets (bounding box on indexed
    columns, then haversine) and by find_targets_naive (every supporter loaded and measured
    in Python); both must give the same answer. Prints the medians and the ratio.
    Goals: under 20 ms, and at least 10× faster than the naive scan.

(b) Broadcast. The app serves under gunicorn; `watchnet dispatcher` process(es) run; a
    webhook receiver runs in its own process on 127.0.0.1. The coordinator logs in and posts
    the start form (HTTP, CSRF and all) for a point in the neighbourhood where 10,000
    supporters each registered one json:// webhook and no e-mail. Measured from just before
    the POST: the answer (every message is in the outbox when it comes: same transaction),
    the first and the last of the 10,000 deliveries taken by the receiver (which keys them
    on X-Watchnet-Delivery and counts repeats). Goals: enqueued < 1 s, delivered < 30 s.

    .venv/bin/python bench/alerts.py                       # SQLite, then PostgreSQL
    .venv/bin/python bench/alerts.py --db sqlite --dispatchers 2 --threads 8

PostgreSQL: a server reachable as postgresql://postgres@127.0.0.1:5432/ (a database
`watchnet_bench_alerts` is recreated). Only 127.0.0.1 is ever contacted. Not part of the
test suite; CPU is shared, so compare the ratios and look at the load printed with them.
"""

from __future__ import annotations

import argparse
import html.parser
import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from benchdb import prepare_database

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "watchnet_bench_alerts"  # recreated on the PostgreSQL server for each run
COORDINATOR = ("bench-coordinator@example.jp", "bench-password-123")
NEIGHBOURHOOD = (36.3335, 138.9455)  # the dense neighbourhood and the broadcast's alert point
CITY = (36.25, 36.42, 138.85, 139.07)  # lat min/max, lon min/max: about 20 × 19 km

SETUP = textwrap.dedent("""
    # Runs inside the app: schema, a district, a coordinator, 100,000 supporters (the
    # neighbourhood's with one webhook each), a drill's recent phone positions.
    import json, math, random, sys
    from datetime import timedelta
    import sqlalchemy as sa
    from watchnet import create_app
    from watchnet.core.dbtypes import utcnow
    from watchnet.core.extensions import db
    from watchnet.districts.models import District
    from watchnet.drills.models import Drill
    from watchnet.people.models import NotificationAddress, Supporter
    from watchnet.people.services import create_staff_user
    from watchnet.tracking.models import LatestPosition

    total, dense, positions, sink_port = (int(a) for a in sys.argv[1:5])
    email, password = sys.argv[5], sys.argv[6]
    lat0, lon0 = float(sys.argv[7]), float(sys.argv[8])
    lat_min, lat_max, lon_min, lon_max = (float(a) for a in sys.argv[9:13])
    rnd = random.Random(5)
    app = create_app()
    with app.app_context():
        from flask_migrate import upgrade
        upgrade()
        district = District(name="ベンチ地区", name_kana="べんちちく", center_lat=lat0,
                            center_lon=lon0)
        db.session.add(district)
        db.session.flush()
        create_staff_user(email=email, name="ベンチ 調整役", role="coordinator",
                          password=password, district_names=[district.name])
        now = utcnow()
        rows = []
        for i in range(total):
            if i < dense:  # within 1 km of the alert point, uniformly over the disc
                r, a = 1000 * math.sqrt(rnd.random()), rnd.random() * 2 * math.pi
                lat = lat0 + r * math.cos(a) / 111_320
                lon = lon0 + r * math.sin(a) / (111_320 * math.cos(math.radians(lat0)))
            else:
                lat, lon = rnd.uniform(lat_min, lat_max), rnd.uniform(lon_min, lon_max)
            rows.append({"district_id": district.id, "name": f"ベンチ {i}",
                         "name_kana": f"べんち {i}", "kind": "community_supporter",
                         "email": None, "home_lat": round(lat, 5), "home_lon": round(lon, 5),
                         "note": "", "dedupe_key": f"name:bench{i}", "token_version": 1,
                         "is_active": True, "created_at": now, "updated_at": now})
        for start in range(0, len(rows), 5000):
            db.session.execute(sa.insert(Supporter), rows[start:start + 5000])
        ids = db.session.execute(sa.select(Supporter.id, Supporter.dedupe_key)).all()
        by_index = {int(key.removeprefix("name:bench")): sid for sid, key in ids}
        db.session.execute(sa.insert(NotificationAddress), [
            {"supporter_id": by_index[i], "url": f"json://127.0.0.1:{sink_port}/hook/{i}",
             "label": "", "is_enabled": True} for i in range(dense)])
        drill = Drill(district_id=district.id, title="ベンチ訓練", starts_at=now)
        db.session.add(drill)
        db.session.flush()
        chosen = rnd.sample(range(dense, total), positions)
        db.session.execute(sa.insert(LatestPosition), [
            {"drill_id": drill.id, "supporter_id": by_index[i],
             "lat": rnd.uniform(lat_min, lat_max), "lon": rnd.uniform(lon_min, lon_max),
             "recorded_at": now - timedelta(minutes=10),
             "received_at": now - timedelta(minutes=10)} for i in chosen])
        db.session.commit()
        with db.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))  # fresh statistics, as a live database has
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Supporter))
        print(json.dumps({"district_id": district.id, "supporters": count}))
""")

TARGETING = textwrap.dedent("""
    # Runs inside the app: find_targets against find_targets_naive at N points of the city
    # at least 3 km from the dense neighbourhood; prints the times (ms) as JSON.
    import json, math, random, statistics, sys, time
    from datetime import timedelta
    from watchnet import create_app
    from watchnet.core.dbtypes import utcnow
    from watchnet.core.extensions import db
    from watchnet.alerts.targeting import find_targets, find_targets_naive

    runs, radius = int(sys.argv[1]), float(sys.argv[2])
    lat0, lon0 = float(sys.argv[3]), float(sys.argv[4])
    lat_min, lat_max, lon_min, lon_max = (float(a) for a in sys.argv[5:9])
    rnd = random.Random(11)
    app = create_app()
    with app.app_context():
        recent = utcnow() - timedelta(minutes=int(app.config["ALERT_RECENT_POSITION_MIN"]))
        points = []
        while len(points) < runs:
            lat = rnd.uniform(lat_min + 0.02, lat_max - 0.02)
            lon = rnd.uniform(lon_min + 0.02, lon_max - 0.02)
            if math.hypot((lat - lat0) * 111.3, (lon - lon0) * 90.0) > 3:
                points.append((lat, lon))
        find_targets(*points[0], radius, recent_since=recent)  # warm the connection and cache
        fast, naive, counts = [], [], []
        for lat, lon in points:
            db.session.expunge_all()
            t = time.perf_counter()
            a = find_targets(lat, lon, radius, recent_since=recent)
            fast.append((time.perf_counter() - t) * 1000)
            db.session.expunge_all()
            t = time.perf_counter()
            b = find_targets_naive(lat, lon, radius, recent_since=recent)
            naive.append((time.perf_counter() - t) * 1000)
            same = [(x.supporter_id, x.matched_by) for x in a]
            if same != [(x.supporter_id, x.matched_by) for x in b]:
                raise SystemExit(f"find_targets and find_targets_naive disagree at {lat},{lon}")
            counts.append(len(a))
        print(json.dumps({"fast_ms": fast, "naive_ms": naive, "targets": counts}))
""")

SINK = textwrap.dedent("""
    # A webhook receiver in its own process: keeps the first arrival time of each
    # X-Watchnet-Delivery key and counts repeats; GET /stats answers the figures.
    import http.server, json, sys, threading, time
    seen, lock, raw = {}, threading.Lock(), [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            json.loads(body)
            key = self.headers.get("X-Watchnet-Delivery") or self.path
            now = time.time()
            with lock:
                raw[0] += 1
                seen.setdefault(key, now)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            with lock:
                times = list(seen.values())
                out = {"raw": raw[0], "unique": len(times),
                       "first": min(times) if times else None,
                       "last": max(times) if times else None}
            data = json.dumps(out).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


class FormInputs(html.parser.HTMLParser):
    """The named inputs of a page's forms (their current values), for posting like a browser."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("name") and a.get("type") not in ("checkbox", "radio"):
            self.values.setdefault(str(a["name"]), a.get("value") or "")


def form_values(opener: urllib.request.OpenerDirector, url: str) -> dict[str, str]:
    parser = FormInputs()
    parser.feed(opener.open(url, timeout=30).read().decode())
    return parser.values


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def start_alert_over_http(base: str, district_id: int) -> tuple[float, int, float]:
    """Log in as the coordinator, open the start form, post it. Returns (wall time just
    before the POST, HTTP status, seconds until the answer)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = form_values(opener, f"{base}/login")
    login.update(email=COORDINATOR[0], password=COORDINATOR[1])
    opener.open(f"{base}/login", urllib.parse.urlencode(login).encode(), timeout=30).read()
    url = f"{base}/districts/{district_id}/alerts/new"
    fields = form_values(opener, url)
    fields.update(
        clothing_today="青いシャツ、黒いズボン、白い帽子",
        alert_mode="exercise",
        confirmed="1",  # the confirmation page's button (its count is not timed)
        last_seen_lat=f"{NEIGHBOURHOOD[0]:.6f}",
        last_seen_lon=f"{NEIGHBOURHOOD[1]:.6f}",
        last_seen_place="ベンチ公民館の前",
        contact_phone="027-000-0000",
        contact_label="ベンチ地区",
    )
    poster = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    body = urllib.parse.urlencode(fields).encode()
    t0 = time.time()
    started = time.perf_counter()
    try:
        response = poster.open(url, body, timeout=60)
        status = response.status
    except urllib.error.HTTPError as exc:  # the 303 to the dashboard lands here (no redirect)
        status = exc.code
        if status != 303:
            raise SystemExit(f"start form answered {status}: {exc.read().decode()[:2000]}") from exc
    return t0, status, time.perf_counter() - started


def sink_stats(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as response:
        return dict(json.loads(response.read()))


def wait_http(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def outbox_state(env: dict[str, str]) -> dict[str, int]:
    code = (
        "import json, sqlalchemy as sa\nfrom watchnet import create_app\n"
        "from watchnet.core.extensions import db\napp = create_app()\n"
        "with app.app_context():\n"
        "    rows = db.session.execute(sa.text('SELECT status, count(*) FROM delivery "
        "GROUP BY status')).all()\n"
        "    print(json.dumps({str(s): int(n) for s, n in rows}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def stop(process: subprocess.Popen[Any], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def bench_one(db: str, args: argparse.Namespace) -> dict[str, Any]:
    instance = Path(tempfile.mkdtemp(prefix=f"wn-bench-alerts-{db}-"))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(WATCHNET_INSTANCE_PATH=str(instance), NO_PROXY="127.0.0.1")
    prepare_database(db, env, BENCH_DB)
    sink_port = free_port()
    sink = subprocess.Popen(
        [sys.executable, "-c", SINK, str(sink_port)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    processes: list[subprocess.Popen[Any]] = [sink]
    try:
        assert sink.stdout is not None and sink.stdout.readline().strip() == "ready"
        t = time.perf_counter()
        setup = subprocess.run(
            [
                sys.executable,
                "-c",
                SETUP,
                str(args.supporters),
                str(args.deliveries),
                str(args.positions),
                str(sink_port),
                *COORDINATOR,
                *map(str, NEIGHBOURHOOD),
                *map(str, CITY),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if setup.returncode != 0:
            raise SystemExit(f"setup failed:\n{setup.stderr[-3000:]}")
        info = json.loads(setup.stdout.strip().splitlines()[-1])
        setup_s = time.perf_counter() - t

        targeting = subprocess.run(
            [
                sys.executable,
                "-c",
                TARGETING,
                str(args.runs),
                str(args.radius),
                *map(str, NEIGHBOURHOOD),
                *map(str, CITY),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if targeting.returncode != 0:
            raise SystemExit(f"targeting failed:\n{targeting.stderr[-3000:]}")
        target_times = json.loads(targeting.stdout.strip().splitlines()[-1])
        load_targeting = load()

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
                "1",
                "--no-access-log",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        processes.append(server)
        for _ in range(args.dispatchers):
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "watchnet.cli",
                        "dispatcher",
                        "--threads",
                        str(args.threads),
                        "--batch",
                        str(args.batch),
                        "--interval",
                        str(args.interval),
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )
            )
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz")
        time.sleep(1.0)  # let the dispatchers reach their idle poll

        t0, status, answered_s = start_alert_over_http(base, info["district_id"])
        deadline = time.monotonic() + args.timeout
        stats = sink_stats(sink_port)
        while stats["unique"] < args.deliveries and time.monotonic() < deadline:
            time.sleep(0.1)
            stats = sink_stats(sink_port)
        load_broadcast = load()
        time.sleep(0.5)  # anything repeated would arrive now
        stats = sink_stats(sink_port)
        outbox = outbox_state(env)
    finally:
        for process in reversed(processes):
            stop(process)
    return {
        "db": db,
        "supporters": info["supporters"],
        "setup_s": setup_s,
        "targeting": target_times,
        "load_targeting": load_targeting,
        "status": status,
        "answered_s": answered_s,
        "first_s": (stats["first"] - t0) if stats["first"] else None,
        "last_s": (stats["last"] - t0) if stats["last"] else None,
        "unique": stats["unique"],
        "raw": stats["raw"],
        "outbox": outbox,
        "load_broadcast": load_broadcast,
    }


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--supporters", type=int, default=100_000)
    parser.add_argument(
        "--deliveries",
        type=int,
        default=10_000,
        help="supporters with a webhook near the alert point",
    )
    parser.add_argument(
        "--positions",
        type=int,
        default=3_000,
        help="recent phone positions (a drill's) scattered over the city",
    )
    parser.add_argument("--runs", type=int, default=7, help="targeting runs (median)")
    parser.add_argument("--radius", type=float, default=1200.0, help="metres (first ring)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--dispatchers", type=int, default=2, help="dispatcher processes")
    parser.add_argument("--threads", type=int, default=8, help="sending threads each")
    parser.add_argument("--batch", type=int, default=100, help="messages claimed at a time")
    parser.add_argument("--interval", type=float, default=0.25, help="dispatcher's idle poll (s)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="give up waiting for deliveries after this many seconds",
    )
    args = parser.parse_args()
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    print(
        f"{args.supporters:,} supporters ({args.deliveries:,} with a webhook near the alert "
        f"point), {args.positions:,} recent positions; {args.dispatchers} dispatcher(s) × "
        f"{args.threads} threads, batch {args.batch}; gunicorn {args.workers} sync workers"
    )
    print(f"before: {load()}")
    for db in dbs:
        r = bench_one(db, args)
        fast, naive = r["targeting"]["fast_ms"], r["targeting"]["naive_ms"]
        m_fast, m_naive = median(fast), median(naive)
        print(f"\n[{db}]  (setup {r['setup_s']:.1f} s, {r['supporters']:,} supporters)")
        print(
            f"  targeting, {args.radius:.0f} m ring, median of {len(fast)} points "
            f"(targets per point: median {median(r['targeting']['targets']):.0f})"
        )
        print(
            f"    find_targets         {m_fast:8.1f} ms   (min {min(fast):.1f}, "
            f"max {max(fast):.1f})   goal < 20 ms: {'met' if m_fast < 20 else 'MISSED'}"
        )
        print(
            f"    find_targets_naive   {m_naive:8.1f} ms   (min {min(naive):.1f}, "
            f"max {max(naive):.1f})"
        )
        print(
            f"    ratio naive / indexed {m_naive / m_fast:7.1f}×   goal ≥ 10×: "
            f"{'met' if m_naive / m_fast >= 10 else 'MISSED'}   ({r['load_targeting']})"
        )
        print(
            f"  broadcast to {args.deliveries:,} webhooks (HTTP POST of the start form → receiver)"
        )
        print(
            f"    answer (all enqueued)  {r['answered_s']:7.2f} s   HTTP {r['status']}   "
            f"goal < 1 s: {'met' if r['answered_s'] < 1 else 'MISSED'}"
        )
        if r["last_s"] is None:
            print("    nothing delivered")
            continue
        rate = r["unique"] / max(r["last_s"] - r["first_s"], 1e-9)
        print(f"    first delivery         {r['first_s']:7.2f} s")
        print(
            f"    last delivery          {r['last_s']:7.2f} s   goal < 30 s: "
            f"{'met' if r['last_s'] < 30 and r['unique'] == args.deliveries else 'MISSED'}"
            f"   (~{rate:,.0f} deliveries/s)"
        )
        print(
            f"    received {r['unique']:,} distinct of {args.deliveries:,}, "
            f"{r['raw'] - r['unique']} repeated; outbox {r['outbox']}   "
            f"({r['load_broadcast']})"
        )


if __name__ == "__main__":
    main()
