"""Helpers for the alert-core tests: points at a known distance, supporters placed there,
and a ready AlertInput."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from watchnet.alerts.services import AlertInput
from watchnet.core.dbtypes import utcnow
from watchnet.core.geo import EARTH_RADIUS_M

CENTRE = (36.3335, 138.9455)  # 八幡地区の中心付近
PHONE = "0270-00-0000"


def point_at(
    distance_m: float, bearing_deg: float = 90.0, origin: tuple[float, float] = CENTRE
) -> tuple[float, float]:
    """The point `distance_m` from origin along the bearing (great circle)."""
    lat1, lon1 = map(math.radians, origin)
    brg = math.radians(bearing_deg)
    d = distance_m / EARTH_RADIUS_M
    lat2 = math.asin(math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(brg))
    lon2 = lon1 + math.atan2(
        math.sin(brg) * math.sin(d) * math.cos(lat1), math.cos(d) - math.sin(lat1) * math.sin(lat2)
    )
    return math.degrees(lat2), math.degrees(lon2)


def place_supporter(
    make_supporter: Any, district: Any, distance_m: float, bearing_deg: float = 90.0, **values: Any
) -> Any:
    """A supporter whose home is exactly distance_m from CENTRE (registration rounds homes to
    about 100 m, so the exact point is set afterwards)."""
    from watchnet.core.extensions import db

    supporter = make_supporter(district, **values)
    supporter.home_lat, supporter.home_lon = point_at(distance_m, bearing_deg)
    db.session.commit()
    return supporter


def alert_input(minutes_ago: float = 5, **values: Any) -> AlertInput:
    """A description-only alert last seen at CENTRE `minutes_ago` minutes ago."""
    fields: dict[str, Any] = dict(
        last_seen_at=utcnow() - timedelta(minutes=minutes_ago),
        last_seen_lat=CENTRE[0],
        last_seen_lon=CENTRE[1],
        last_seen_place="八幡公民館の前",
        contact_phone=PHONE,
        contact_label="八幡地区 生活支援コーディネーター",
        display_name="見守 一郎",
        name_kana="みまもり いちろう",
        age=82,
        sex="male",
        height_cm=160,
        build="slim",
        hair="白髪、短め",
        features="右足を少し引きずる",
        clothing_today="紺色のジャンパー、灰色のズボン",
        belongings="黒い杖",
        handling_notes="「いっちゃん」と呼ぶと安心します",
    )
    fields.update(values)
    return AlertInput(**fields)


def ago(minutes: float) -> datetime:
    return utcnow() - timedelta(minutes=minutes)
