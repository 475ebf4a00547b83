"""The last-seen place as searchers are told it: a description a stranger can walk to.

「自宅付近」 tells a finder nothing (whose home?), and coordinates mean nothing on the street.
What works is a named place everybody in the district knows and a direction and distance from
it — 「八幡公民館の北東 約200m」, the same phrase the drill phone's "where am I" reads out — or,
when no landmark is near, the street address of the point.

Personal details stay out: near the person's registered home the distance is rounded to
100 m and no street address is proposed (it would be the home's), and a description that
contains the home address is refused.

`propose_place` reads the district's landmarks (and may ask the geocoder); `place_problem` is
pure and is what the start form and `start_alert` both check.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from watchnet.core.extensions import db
from watchnet.core.geo import (
    LatLon,
    NamedPlace,
    bearing_deg,
    compass_point,
    format_distance,
    haversine_m,
    nearest_place,
)
from watchnet.core.geocoding import reverse_geocode
from watchnet.districts.addresses import address_text, nearest_address_point
from watchnet.districts.models import Landmark

# A landmark this close is what people give directions from; further away, a street address
# (when the geocoder knows one) says more than "1.8 km north-east of the hall".
LANDMARK_NEAR_M = 800.0
# Beyond this, a landmark phrase no longer helps anyone find the spot.
LANDMARK_MAX_M = 3000.0
# Within this distance of the registered home, the home must not be recognisable from the
# text: distances in 100 m steps, no street address.
HOME_RADIUS_M = 150.0
HOME_STEP_M = 100.0
# Closer than this to a landmark, "right by" it.
RIGHT_BY_M = 15.0


@dataclass(frozen=True)
class PlaceProposal:
    """A proposed description of a point, and what it was made from."""

    text: str  # "" when nothing could be proposed
    source: str  # landmark | address | none
    landmark: str = ""
    distance_m: float | None = None


def landmark_phrase(point: LatLon, landmark: NamedPlace, language: str, step_m: float = 0) -> str:
    """「八幡公民館の北東 約200m」: the point seen from the landmark. With step_m the distance
    is rounded up to that step first (near a home), never down to "right by"."""
    distance = haversine_m((landmark.lat, landmark.lon), point)
    if step_m:
        distance = max(step_m, math.ceil(distance / step_m) * step_m)
    elif distance < RIGHT_BY_M:
        return f"{landmark.name}のすぐそば" if language == "ja" else f"right by {landmark.name}"
    direction = compass_point(bearing_deg((landmark.lat, landmark.lon), point), language)
    if language == "ja":
        return f"{landmark.name}の{direction} {format_distance(distance, 'ja')}"
    return f"{format_distance(distance, 'en')} {direction} of {landmark.name}"


def district_landmarks(district_id: int) -> list[NamedPlace]:
    """The district's landmarks as plain named points (tens per district, one query)."""
    rows = db.session.execute(
        sa.select(Landmark.name, Landmark.lat, Landmark.lon)
        .where(Landmark.district_id == district_id)
        .order_by(Landmark.name, Landmark.id)
    )
    return [NamedPlace(name, lat, lon) for name, lat, lon in rows]


def propose_place(
    district_id: int,
    point: LatLon,
    *,
    language: str,
    home: LatLon | None = None,
    use_geocoder: bool = True,
) -> PlaceProposal:
    """The description to propose for a point: the nearest landmark with direction and
    distance, else the street address (not near the home), else nothing."""
    near_home = home is not None and haversine_m(home, point) <= HOME_RADIUS_M
    best = nearest_place(point, district_landmarks(district_id))
    step = HOME_STEP_M if near_home else 0.0
    # Away from the person's home, an imported address point (街区レベル位置参照情報) names
    # the block, with the landmark beside it; near the home it would be the home's address.
    lot = None
    if not near_home:
        radius_m = float(current_app.config["ADDRESS_POINT_RADIUS_M"])
        lot = nearest_address_point(point[0], point[1], radius_m)
    if best is not None and best[1] <= LANDMARK_NEAR_M:
        phrase = landmark_phrase(point, best[0], language, step)
        if lot is not None:
            around = str(_l("around %(address)s", address=address_text(lot[0])))
            phrase = str(_l("%(address)s (%(place)s)", address=around, place=phrase))
        return PlaceProposal(phrase[:300], "landmark", best[0].name, best[1])
    if lot is not None:
        around = str(_l("around %(address)s", address=address_text(lot[0])))
        return PlaceProposal(around[:300], "address")
    if use_geocoder and not near_home:
        address = reverse_geocode(point[0], point[1], language)
        if address:
            return PlaceProposal(address[:300], "address")
    if best is not None and best[1] <= LANDMARK_MAX_M:
        return PlaceProposal(
            landmark_phrase(point, best[0], language, step), "landmark", best[0].name, best[1]
        )
    return PlaceProposal("", "none")


# ---------------------------------------------------------------------------------------------
# What a description must not be


def _squeeze(text: str) -> str:
    """NFKC, case folded, without spaces and punctuation: what the checks below compare."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s、。,.・･()（）「」『』\[\]【】\-‐ー―~〜!?！？:：;；/]+", "", folded)


# The home words and what people add to them. A description made of nothing else says
# "somebody's home" to a stranger who does not know whose.
_HOME_ONLY = re.compile(
    r"(ご|お)?(自宅|本人宅|本人の家|本人の自宅|ご本人の家|自分の家|家|うち|宅|実家|住まい|住居|自室)"
    r"(の|を|から|で)?"
    r"(付近|近く|近辺|周辺|周り|まわり|前|辺り|あたり|近所|そば|傍|横|裏|外|中|内|玄関|庭)?"
    r"(を出て|から出て|を出た|から出た|出た|出て|で|にて|から)?(以降|後|あと|まで|以来|から)?"
)
_HOME_ONLY_EN = re.compile(
    r"(near|around|at|by|outside|in|from|close to)?(the)?(his|her|their|own|persons|person's)?"
    r"(home|house|residence)(area)?"
)
# Two decimal numbers, perhaps with their names: what a map app copies (compared without
# spaces, decimals kept).
_COORDINATES = re.compile(
    r"[(（]?(北緯|緯度|lat(itude)?|n)?:?[+-]?\d{1,3}\.\d+°?(,|、|，|/)?"
    r"(東経|経度|lon(gitude)?|lng|e)?:?[+-]?\d{1,3}\.\d+°?[)）]?"
)

HOME_ONLY_MESSAGE = _l(
    "A searcher cannot find “near home”: they do not know whose home it is. Describe the place "
    "from a landmark everybody knows, with direction and distance (for example "
    "“200 m north-east of the community hall”), or click the map and use the description proposed."
)
COORDINATES_MESSAGE = _l(
    "Coordinates mean nothing to someone on the street. Describe the place from a landmark, "
    "with direction and distance, or click the map and use the description proposed."
)
HOME_ADDRESS_MESSAGE = _l(
    "This is the person's home address: it goes to every searcher and on the flyer. Describe "
    "the place from a landmark instead (click the map for a proposal)."
)
MISSING_MESSAGE = _l(
    "Please describe the place for searchers: a landmark with direction and distance, or an "
    "address. No landmark of the district is near enough to propose one."
)


def place_problem(text: str, home_address: str = "") -> LazyString | None:
    """Why a last-seen description would not help a searcher (or would expose the person),
    or None when it is fine. An empty text is not judged here (a proposal fills it)."""
    squeezed = _squeeze(text)
    if not squeezed:
        return None
    if _HOME_ONLY.fullmatch(squeezed) or _HOME_ONLY_EN.fullmatch(squeezed):
        return HOME_ONLY_MESSAGE
    if _COORDINATES.fullmatch(re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).casefold())):
        return COORDINATES_MESSAGE
    home = _squeeze(home_address)
    # Only an address long enough to point at one house; "八幡町" alone is a whole area.
    if len(home) >= 6 and home in squeezed:
        return HOME_ADDRESS_MESSAGE
    return None
