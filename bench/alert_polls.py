"""Benchmark: what one searcher's phone costs the server each time it polls an alert's state.

Every searcher's page asks /a/<token>/state every 4 seconds while the alert runs: 200
searchers mean 50 polls a second. After hours of searching the alert holds many shared
positions (each marks the sector it lies in as walked) and many staff timeline events.

In one run, per database: an alert at the 9.5 km ring, S searchers who shared P positions
each through watchnet.alerts.field.services.record_search_positions (so the timeline gets its
events), then the median and 95th percentile of field_state() as a poll computes it (a fresh
session each time, the sector shapes already on the phone), against a baseline measured in
the same run: the same poll with the walked sectors read from the positions themselves
(SELECT DISTINCT cell), as before the walked_sector table.

    .venv/bin/python bench/alert_polls.py                      # SQLite, then PostgreSQL
    .venv/bin/python bench/alert_polls.py --db sqlite --searchers 200 --positions 500

PostgreSQL: a server reachable as postgresql://postgres@127.0.0.1:5432/ (a database
`watchnet_bench_polls` is recreated). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from benchdb import prepare_database

BENCH_DB = "watchnet_bench_polls"
CENTRE = (36.3335, 138.9455)


def _point(rnd: random.Random, max_m: float) -> tuple[float, float]:
    distance, bearing = rnd.uniform(0, max_m), rnd.uniform(0, 2 * math.pi)
    m_per_degree_lon = 111_320 * math.cos(math.radians(CENTRE[0]))
    return (
        CENTRE[0] + distance * math.cos(bearing) / 111_320,
        CENTRE[1] + distance * math.sin(bearing) / m_per_degree_lon,
    )


def build_alert(searchers: int, positions: int) -> tuple[int, int]:
    """An alert at the outer ring with searchers who shared their walks; returns
    (recipient id of the first searcher, positions stored)."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from watchnet.alerts.field import services as fs
    from watchnet.alerts.models import Acknowledgement, AlertRecipient
    from watchnet.alerts.services import AlertInput, start_alert
    from watchnet.core.dbtypes import utcnow
    from watchnet.core.extensions import db
    from watchnet.districts.models import District
    from watchnet.people.services import create_staff_user, register_supporter

    upgrade()
    district = District(
        name="ベンチ地区", name_kana="べんちちく", center_lat=CENTRE[0], center_lon=CENTRE[1]
    )
    db.session.add(district)
    db.session.flush()
    coordinator = create_staff_user(
        "bench@example.jp", "ベンチ 調整役", "coordinator", "bench-password-123", [district.name]
    )
    rnd = random.Random(7)
    for i in range(searchers):
        supporter = register_supporter(
            district, name=f"捜索 {i}", name_kana=f"そうさく {i}", kind="community_supporter"
        )
        supporter.home_lat, supporter.home_lon = _point(rnd, 1000)
    db.session.commit()
    alert = start_alert(
        district,
        coordinator,
        AlertInput(
            last_seen_at=utcnow() - timedelta(hours=4),
            last_seen_lat=CENTRE[0],
            last_seen_lon=CENTRE[1],
            contact_phone="027-000-0000",
            display_name="ベンチ",
            clothing_today="紺色の上着",
        ),
    )
    recipients = list(
        db.session.scalars(
            sa.select(AlertRecipient)
            .where(AlertRecipient.alert_id == alert.id)
            .order_by(AlertRecipient.id)
        )
    )
    for r in recipients:
        r.answer = Acknowledgement.searching
    db.session.commit()
    start = utcnow() - timedelta(hours=3)
    stored = 0
    for r in recipients:
        # Each searcher walks around a point of their own, 50 positions per request.
        lat0, lon0 = _point(rnd, 8000)
        for first in range(0, positions, 50):
            batch = []
            for k in range(first, min(first + 50, positions)):
                lat = lat0 + rnd.uniform(-0.01, 0.01)
                lon = lon0 + rnd.uniform(-0.01, 0.01)
                batch.append(
                    {
                        "client_id": f"{r.id}-{k}",
                        "lat": lat,
                        "lon": lon,
                        "accuracy_m": 10.0,
                        "recorded_at": start + timedelta(seconds=20 * k),
                    }
                )
            stored += fs.record_search_positions(r, batch)[0]
            db.session.commit()
    return recipients[0].id, stored


def time_polls(recipient_id: int, rounds: int) -> list[float]:
    """Milliseconds per field_state() call, each in a fresh session as a request would be."""
    from watchnet.alerts.field import services as fs
    from watchnet.alerts.models import AlertRecipient
    from watchnet.core.extensions import db

    db.session.remove()
    recipient = db.session.get(AlertRecipient, recipient_id)
    assert recipient is not None
    key = fs.sectors_key(recipient.alert)
    timings = []
    for _ in range(rounds):
        db.session.remove()
        t0 = time.perf_counter()
        recipient = db.session.get(AlertRecipient, recipient_id)
        assert recipient is not None
        state = fs.field_state(recipient, key)
        timings.append((time.perf_counter() - t0) * 1000)
        assert "sectors" not in state and state["walked"]
    return timings


def walked_from_positions(alert_id: int) -> set[str]:
    """The baseline: the walked sectors read from every shared position."""
    import sqlalchemy as sa

    from watchnet.alerts.models import SearchPosition
    from watchnet.core.extensions import db

    query = (
        sa.select(SearchPosition.cell)
        .distinct()
        .where(SearchPosition.alert_id == alert_id, SearchPosition.cell != "")
    )
    return set(db.session.scalars(query))


def swap(module: Any, name: str, replacement: Callable[..., Any]) -> Callable[..., Any]:
    original = getattr(module, name)
    setattr(module, name, replacement)
    return original  # type: ignore[no-any-return]


def bench_one(db_name: str, args: argparse.Namespace) -> None:
    env: dict[str, str] = {}
    prepare_database(db_name, env, BENCH_DB)
    with tempfile.TemporaryDirectory() as folder:
        os.environ["WATCHNET_INSTANCE_PATH"] = folder
        if "DATABASE_URL" in env:
            os.environ["DATABASE_URL"] = env["DATABASE_URL"]
        else:
            os.environ.pop("DATABASE_URL", None)  # SQLite in the instance folder
        from watchnet import create_app
        from watchnet.alerts import sectors

        app = create_app({"SECRET_KEY": "bench"})
        with app.app_context():
            t0 = time.perf_counter()
            recipient_id, stored = build_alert(args.searchers, args.positions)
            built_s = time.perf_counter() - t0
            time_polls(recipient_id, 5)  # warm caches (sector geometry, statements)
            now = time_polls(recipient_id, args.rounds)
            original = swap(sectors, "walked_cells", walked_from_positions)
            try:
                time_polls(recipient_id, 5)
                before = time_polls(recipient_id, args.rounds)
            finally:
                swap(sectors, "walked_cells", original)
            from watchnet.core.extensions import db

            db.session.remove()
            db.engine.dispose()

    def p95(values: list[float]) -> float:
        return sorted(values)[int(0.95 * (len(values) - 1))]

    print(
        f"\n{db_name}: {args.searchers} searchers × {args.positions} positions = {stored:,} "
        f"stored (built in {built_s:.0f} s), {args.rounds} polls each"
    )
    print(
        f"  walked sectors from their table:   median {statistics.median(now):6.1f} ms, "
        f"p95 {p95(now):6.1f} ms"
    )
    print(
        f"  baseline, from the positions:      median {statistics.median(before):6.1f} ms, "
        f"p95 {p95(before):6.1f} ms"
    )
    print(
        f"  ratio (baseline / now, medians):   "
        f"{statistics.median(before) / statistics.median(now):6.1f}×"
    )
    print(f"  load average: {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--searchers", type=int, default=200)
    parser.add_argument("--positions", type=int, default=500, help="per searcher")
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    for db_name in ["sqlite", "postgresql"] if args.db == "both" else [args.db]:
        bench_one(db_name, args)


if __name__ == "__main__":
    main()
