"""Who is told about an alert: the search radius over time, and the supporters inside it.

The radius starts where about half of missing people living with dementia are found and widens
with the time since they were last seen. The distances are settings (ALERT_RADIUS_SCHEDULE,
"minutes:metres"); the defaults come from published lost-person statistics for dementia:

- 1.2 km: Grampian Police study (Missing Persons: Understanding, Planning, Responding, 2007,
  as quoted by misper.uk): half of missing people with dementia were found within 1.2 km.
- 1.6 km: Koester's lost-person behaviour data (USA): 89 % were found within 1.6 km.
- 5 km: in Japan, most of the missing people with dementia who were found dead were within
  5 km of where they went missing.
- 9.5 km: Grampian Police study: 90 % were found within 9.5 km.

RING_SOURCES names each default distance, so the map can say which statistic a ring is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.core.geo import EARTH_RADIUS_M, bounding_box, haversine_m
from watchnet.people.models import Supporter
from watchnet.tracking.models import LatestPosition

if TYPE_CHECKING:
    from watchnet.alerts.models import Alert

# The first ring when the schedule is empty or unreadable: the Grampian median.
FALLBACK_RADIUS_M = 1200.0

# Which published statistic each default ring distance is (keyed by metres).
RING_SOURCES: dict[int, LazyString] = {
    1200: _l("Grampian study: half of people with dementia found within 1.2 km"),
    1600: _l("Koester (USA): 89 % were found within 1.6 km"),
    5000: _l("Japan: most of those found dead were within 5 km"),
    9500: _l("Grampian study: 90 % were found within 9.5 km"),
}


def ring_source(radius_m: float) -> str:
    """The statistic a ring distance comes from, or a plain label for other distances."""
    source = RING_SOURCES.get(int(round(radius_m)))
    if source is not None:
        return str(source)
    return str(_l("Search radius (setting)"))


@dataclass(frozen=True)
class RadiusStep:
    """From `minutes` after the person was last seen, the radius is `radius_m`."""

    minutes: int
    radius_m: float

    @property
    def source(self) -> str:
        """Which lost-person statistic this ring is (for the map's labels)."""
        return ring_source(self.radius_m)


def parse_radius_schedule(items: list[str] | str) -> list[RadiusStep]:
    """Read "minutes:metres" items (a list or a comma-separated string); sorted by time."""
    if isinstance(items, str):
        items = [part for part in items.split(",") if part.strip()]
    steps = []
    for item in items:
        minutes, _sep, metres = str(item).partition(":")
        try:
            step = RadiusStep(int(minutes.strip()), float(metres.strip()))
        except ValueError as exc:
            raise ValueError(f"ALERT_RADIUS_SCHEDULE: {item!r} is not minutes:metres") from exc
        if step.minutes < 0 or not step.radius_m > 0 or not math.isfinite(step.radius_m):
            raise ValueError(f"ALERT_RADIUS_SCHEDULE: {item!r} is out of range")
        steps.append(step)
    return sorted(steps, key=lambda s: (s.minutes, s.radius_m))


def radius_schedule() -> list[RadiusStep]:
    """The configured schedule (ALERT_RADIUS_SCHEDULE)."""
    return parse_radius_schedule(current_app.config["ALERT_RADIUS_SCHEDULE"])


def scheduled_radius_m(elapsed_min: float, schedule: list[RadiusStep]) -> float:
    """The radius the schedule gives `elapsed_min` minutes after the person was last seen.

    Before the first step the first radius applies (an alert always reaches someone); the
    radius never shrinks as time goes on, even if the settings list a smaller later step.
    """
    if not schedule:
        return FALLBACK_RADIUS_M
    radius = schedule[0].radius_m
    for step in schedule:
        if step.minutes <= elapsed_min:
            radius = max(radius, step.radius_m)
    return radius


def effective_radius_m(alert: Alert, now: datetime | None = None) -> float:
    """The radius the alert should have now: the coordinator's override, else the schedule."""
    if alert.radius_override_m is not None:
        return float(alert.radius_override_m)
    elapsed_min = ((now or utcnow()) - alert.last_seen_at).total_seconds() / 60.0
    return scheduled_radius_m(elapsed_min, radius_schedule())


def next_step(alert: Alert, now: datetime | None = None) -> RadiusStep | None:
    """The next widening the schedule will bring (None with an override or at the last ring).
    A ring the coordinator already reached with "widen now" is not a next widening."""
    if alert.radius_override_m is not None:
        return None
    elapsed_min = ((now or utcnow()) - alert.last_seen_at).total_seconds() / 60.0
    current = max(scheduled_radius_m(elapsed_min, radius_schedule()), float(alert.radius_m or 0))
    for step in radius_schedule():
        if step.minutes > elapsed_min and step.radius_m > current:
            return step
    return None


class Target(NamedTuple):
    """A supporter to tell: how far away, and whether by home or by a recent phone position.
    (A NamedTuple: an alert builds thousands of these, at a third of a dataclass's cost.)"""

    supporter_id: int
    distance_m: float
    matched_by: str  # "home" | "position"


def _nearest(found: dict[int, Target], supporter_id: int, distance: float, by: str) -> None:
    # A supporter matched by home and by position (or by several drills' positions) counts
    # once, with the shorter distance.
    seen = found.get(supporter_id)
    if seen is None or distance < seen.distance_m:
        found[supporter_id] = Target(supporter_id, distance, by)


# Whether the database has sin/cos/asin/radians (PostgreSQL always; SQLite when built with
# its math functions, as Debian's is), keyed by engine URL; checked once per process.
_SQL_MATH: dict[str, bool] = {}


def _sql_has_math() -> bool:
    bind = db.engine
    key = str(bind.url)
    if key not in _SQL_MATH:
        if bind.dialect.name == "postgresql":
            _SQL_MATH[key] = True
        else:
            try:
                with bind.connect() as conn:
                    conn.exec_driver_sql("SELECT sin(0.5), asin(0.5), radians(1.0), power(2, 2)")
                _SQL_MATH[key] = True
            except sa.exc.DBAPIError:
                _SQL_MATH[key] = False
    return _SQL_MATH[key]


class _Circle:
    """The haversine term of every candidate against one centre, in SQL or in Python.

    h = sin²(Δlat/2) + cos(lat0)·cos(lat)·sin²(Δlon/2); the distance is 2R·asin(√h), and it is
    within the radius exactly when h ≤ sin²(radius/2R). Filtering on h in the database sends
    back only the supporters inside; the final comparison in metres is the same as
    haversine_m's (find_targets_naive), so both agree at the edge.
    """

    def __init__(self, lat: float, lon: float, radius_m: float) -> None:
        self.lat0 = math.radians(lat)
        self.lon0 = math.radians(lon)
        self.cos0 = math.cos(self.lat0)
        self.radius_m = radius_m
        h_max = math.sin(min(math.pi / 2, radius_m / (2 * EARTH_RADIUS_M))) ** 2
        self.h_max = h_max * (1 + 1e-9)  # slack for rounding; metres decide at the edge

    def sql_h(
        self, lat_col: sa.ColumnElement[float | None], lon_col: sa.ColumnElement[float | None]
    ) -> sa.ColumnElement[float]:
        f = sa.func
        return f.power(f.sin((f.radians(lat_col) - self.lat0) / 2), 2) + self.cos0 * f.cos(
            f.radians(lat_col)
        ) * f.power(f.sin((f.radians(lon_col) - self.lon0) / 2), 2)

    def python_h(self) -> Callable[[float, float], float]:
        lat0, lon0, cos0 = self.lat0, self.lon0, self.cos0
        sin, cos, radians = math.sin, math.cos, math.radians

        def h(p_lat: float, p_lon: float) -> float:
            lat1 = radians(p_lat)
            return (
                sin((lat1 - lat0) / 2) ** 2
                + cos0 * cos(lat1) * sin((radians(p_lon) - lon0) / 2) ** 2
            )

        return h


def find_targets(
    lat: float, lon: float, radius_m: float, *, recent_since: datetime
) -> list[Target]:
    """Active supporters of any district whose home, or a phone position received since
    `recent_since`, lies within radius_m of (lat, lon); nearest first.

    Two indexed range queries (ix_supporter_home_latlon; ix_latest_position_received) read
    only the bounding box; the haversine term is computed by the database where it can (so
    only those inside come back, as plain tuples), else in Python on the box's candidates.
    """
    min_lat, min_lon, max_lat, max_lon = bounding_box((lat, lon), radius_m)
    circle = _Circle(lat, lon, radius_m)
    in_sql = _sql_has_math()
    sqrt, asin, two_r = math.sqrt, math.asin, 2 * EARTH_RADIUS_M
    radius = circle.radius_m

    def query(id_col: Any, lat_col: Any, lon_col: Any, *where: Any) -> list[tuple[int, float]]:
        """(supporter id, distance in metres) of the candidates inside the circle."""
        box = (lat_col.between(min_lat, max_lat), lon_col.between(min_lon, max_lon))
        if in_sql:
            h = circle.sql_h(lat_col, lon_col)
            distance = two_r * sa.func.asin(sa.func.sqrt(h))
            return db.session.execute(  # type: ignore[return-value]
                sa.select(id_col, distance).where(*box, *where, h <= circle.h_max)
            ).all()
        python_h = circle.python_h()
        rows = db.session.execute(sa.select(id_col, lat_col, lon_col).where(*box, *where))
        return [
            (sid, two_r * asin(min(1.0, sqrt(python_h(p_lat, p_lon)))))
            for sid, p_lat, p_lon in rows
        ]

    # The final comparison in metres is the same as find_targets_naive's.
    found = {
        sid: Target(sid, d, "home")
        for sid, d in query(
            Supporter.id, Supporter.home_lat, Supporter.home_lon, Supporter.is_active.is_(True)
        )
        if d <= radius
    }

    recent = (
        sa.select(LatestPosition.supporter_id)
        .where(LatestPosition.received_at >= recent_since)
        .exists()
    )
    if db.session.scalar(sa.select(recent)):
        active = (
            sa.select(Supporter.id)
            .where(Supporter.id == LatestPosition.supporter_id, Supporter.is_active.is_(True))
            .exists()
        )
        for supporter_id, distance in query(
            LatestPosition.supporter_id,
            LatestPosition.lat,
            LatestPosition.lon,
            LatestPosition.received_at >= recent_since,
            active,
        ):
            if distance <= radius:
                _nearest(found, supporter_id, distance, "position")

    return sorted(found.values(), key=_BY_DISTANCE)


_BY_DISTANCE = itemgetter(1, 0)  # (distance_m, supporter_id): nearest first, ties stable


def find_targets_naive(
    lat: float, lon: float, radius_m: float, *, recent_since: datetime
) -> list[Target]:
    """The same answer as find_targets by loading every supporter and recent position and
    measuring each in Python: the benchmark's baseline, and the tests' reference."""
    found: dict[int, Target] = {}
    centre = (lat, lon)
    for supporter in db.session.scalars(sa.select(Supporter)):
        if not supporter.is_active:
            continue
        if supporter.home_lat is not None and supporter.home_lon is not None:
            distance = haversine_m(centre, (supporter.home_lat, supporter.home_lon))
            if distance <= radius_m:
                _nearest(found, supporter.id, distance, "home")
    active = set(db.session.scalars(sa.select(Supporter.id).where(Supporter.is_active.is_(True))))
    for position in db.session.scalars(sa.select(LatestPosition)):
        if position.received_at < recent_since or position.supporter_id not in active:
            continue
        distance = haversine_m(centre, (position.lat, position.lon))
        if distance <= radius_m:
            _nearest(found, position.supporter_id, distance, "position")
    return sorted(found.values(), key=_BY_DISTANCE)
