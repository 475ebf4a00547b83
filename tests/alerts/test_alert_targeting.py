"""Who is told: the radius schedule and its named statistics, and the targeted set against
hand-placed supporters (inside, outside, at the next ring), by home and by recent position."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from alert_core_support import CENTRE, point_at
from flask_babel import force_locale

from watchnet.alerts import targeting
from watchnet.alerts.targeting import (
    RING_SOURCES,
    RadiusStep,
    find_targets,
    find_targets_naive,
    parse_radius_schedule,
    radius_schedule,
    ring_source,
    scheduled_radius_m,
)
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.tracking.models import LatestPosition


def _home(
    make_supporter: Any, district: Any, distance_m: float, bearing: float = 90.0, **values: Any
) -> Any:
    supporter = make_supporter(district, **values)
    supporter.home_lat, supporter.home_lon = point_at(distance_m, bearing)
    db.session.commit()
    return supporter


def _position(
    drill: Any, supporter: Any, distance_m: float, minutes_ago: float, bearing: float = 0.0
) -> None:
    lat, lon = point_at(distance_m, bearing)
    at = utcnow() - timedelta(minutes=minutes_ago)
    db.session.add(
        LatestPosition(
            drill_id=drill.id,
            supporter_id=supporter.id,
            lat=lat,
            lon=lon,
            recorded_at=at,
            received_at=at,
        )
    )
    db.session.commit()


def test_schedule_comes_from_the_settings_and_names_its_statistics(app: Any) -> None:
    steps = radius_schedule()
    assert steps == [
        RadiusStep(0, 1200),
        RadiusStep(30, 1600),
        RadiusStep(90, 5000),
        RadiusStep(180, 9500),
    ]
    assert scheduled_radius_m(0, steps) == 1200
    assert scheduled_radius_m(29.9, steps) == 1200
    assert scheduled_radius_m(30, steps) == 1600
    assert scheduled_radius_m(179, steps) == 5000
    assert scheduled_radius_m(24 * 60, steps) == 9500
    # Every default ring says which published statistic it is.
    for step in steps:
        assert int(step.radius_m) in RING_SOURCES
    assert "グランピアン" in steps[0].source and "1.2 km" in steps[0].source
    assert "9.5 km" in steps[-1].source
    with force_locale("en"):
        assert "Grampian" in steps[0].source and "half" in steps[0].source
        assert "Koester" in steps[1].source
        assert ring_source(2345) == "Search radius (setting)"


def test_schedule_parsing_refuses_nonsense_and_never_shrinks() -> None:
    assert parse_radius_schedule("60:3000, 0:1000") == [RadiusStep(0, 1000), RadiusStep(60, 3000)]
    assert scheduled_radius_m(90, parse_radius_schedule(["0:2000", "60:1000"])) == 2000
    with pytest.raises(ValueError):
        parse_radius_schedule(["ten:1000"])
    with pytest.raises(ValueError):
        parse_radius_schedule(["0:-5"])


def test_schedule_setting_can_be_changed(app: Any) -> None:
    previous = app.config["ALERT_RADIUS_SCHEDULE"]
    app.config["ALERT_RADIUS_SCHEDULE"] = ["0:800", "10:2000"]
    try:
        assert [s.radius_m for s in radius_schedule()] == [800, 2000]
    finally:
        app.config["ALERT_RADIUS_SCHEDULE"] = previous


def test_targets_by_home_and_recent_position(
    district: Any, other_district: Any, make_supporter: Any, make_drill: Any
) -> None:
    inside = _home(make_supporter, district, 500)
    edge_in = _home(make_supporter, district, 1190, bearing=200)
    next_ring = _home(make_supporter, district, 1210, bearing=10)  # reached at 1.6 km only
    far = _home(make_supporter, district, 3000)
    other = _home(make_supporter, other_district, 800, bearing=300)  # any district counts
    inactive = _home(make_supporter, district, 100)
    inactive.is_active = False
    db.session.commit()
    drill = make_drill(district)
    walker = make_supporter(district)  # no home: found by where their phone was
    _position(drill, walker, 300, minutes_ago=30)
    stale = make_supporter(district)
    _position(drill, stale, 200, minutes_ago=300)
    both = _home(make_supporter, district, 1500)  # home outside, phone inside: once, nearer
    _position(drill, both, 250, minutes_ago=5)
    _position(drill, inactive, 50, minutes_ago=5)

    since = utcnow() - timedelta(minutes=120)
    targets = find_targets(*CENTRE, 1200, recent_since=since)
    by_id = {t.supporter_id: t for t in targets}
    assert set(by_id) == {inside.id, edge_in.id, other.id, walker.id, both.id}
    assert by_id[walker.id].matched_by == "position"
    assert by_id[both.id].matched_by == "position"
    assert by_id[both.id].distance_m == pytest.approx(250, abs=1)
    assert by_id[inside.id].distance_m == pytest.approx(500, abs=1)
    assert by_id[edge_in.id].matched_by == "home"
    assert [t.distance_m for t in targets] == sorted(t.distance_m for t in targets)
    assert targets == find_targets_naive(*CENTRE, 1200, recent_since=since)

    wider = {t.supporter_id for t in find_targets(*CENTRE, 1600, recent_since=since)}
    assert wider - set(by_id) == {next_ring.id}
    assert far.id not in wider


def test_fast_and_naive_agree_on_random_supporters(district: Any, make_drill: Any) -> None:
    from watchnet.people.models import Supporter

    rnd = random.Random(5)
    now = utcnow()
    rows = []
    for i in range(600):
        lat, lon = point_at(rnd.uniform(0, 12_000), rnd.uniform(0, 360))
        rows.append(
            Supporter(
                district_id=district.id,
                name=f"s{i}",
                kind="other",
                dedupe_key=f"k{i}",
                home_lat=lat,
                home_lon=lon,
                is_active=rnd.random() > 0.1,
            )
        )
    db.session.add_all(rows)
    db.session.commit()
    drill = make_drill(district)
    for supporter in rows[:150]:
        lat, lon = point_at(rnd.uniform(0, 12_000), rnd.uniform(0, 360))
        at = now - timedelta(minutes=rnd.uniform(0, 240))
        db.session.add(
            LatestPosition(
                drill_id=drill.id,
                supporter_id=supporter.id,
                lat=lat,
                lon=lon,
                recorded_at=at,
                received_at=at,
            )
        )
    db.session.commit()
    since = now - timedelta(minutes=120)
    for radius in (300, 1200, 1600, 5000, 9500):
        fast = find_targets(*CENTRE, radius, recent_since=since)
        naive = find_targets_naive(*CENTRE, radius, recent_since=since)
        assert [t.supporter_id for t in fast] == [t.supporter_id for t in naive]
        assert [t.matched_by for t in fast] == [t.matched_by for t in naive]
        assert [t.distance_m for t in fast] == pytest.approx([t.distance_m for t in naive])
        assert fast, radius


def test_python_fallback_gives_the_same_answer(district: Any, make_supporter: Any) -> None:
    """Where the database has no sin/cos (a SQLite built without math functions)."""
    for distance in (100, 900, 1199, 1250):
        _home(make_supporter, district, distance, bearing=distance % 360)
    since = utcnow() - timedelta(minutes=120)
    with_sql = find_targets(*CENTRE, 1200, recent_since=since)
    key = str(db.engine.url)
    saved = targeting._SQL_MATH.get(key)
    targeting._SQL_MATH[key] = False
    try:
        in_python = find_targets(*CENTRE, 1200, recent_since=since)
    finally:
        if saved is None:
            targeting._SQL_MATH.pop(key, None)
        else:
            targeting._SQL_MATH[key] = saved
    assert len(with_sql) == 3
    assert [t.supporter_id for t in in_python] == [t.supporter_id for t in with_sql]
