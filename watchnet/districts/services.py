"""Use cases for districts: their named landmarks (公民館, 小学校, 神社 ...)."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from watchnet.audit.services import record_audit
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.geo import is_valid_latlon
from watchnet.core.validation import clean_line, normalise_name
from watchnet.districts.models import District, Landmark, LandmarkKind

NAME_MAX = 100


def _check_landmark(
    district_id: int, name: str, lat: float, lon: float, landmark_id: int | None = None
) -> str:
    """Validate a landmark's name and position; returns the cleaned name."""
    name = clean_line(name)
    if not name:
        raise UserInputError(str(_l("Please enter a name.")), "name")
    if len(name) > NAME_MAX:
        raise UserInputError(str(_l("The name is too long.")), "name")
    if not is_valid_latlon(float(lat), float(lon)):
        raise UserInputError(str(_l("The position is outside the map.")), "lat")
    # Compared in normalised form (NFKC, spaces, invisible characters): "公民館\u200b" is
    # the same landmark as "公民館". A district has tens of landmarks, not thousands.
    others = sa.select(Landmark.name).where(Landmark.district_id == district_id)
    if landmark_id is not None:
        others = others.where(Landmark.id != landmark_id)
    key = normalise_name(name)
    if any(normalise_name(other) == key for other in db.session.scalars(others)):
        raise UserInputError(
            str(_l("This district already has a landmark with this name.")), "name"
        )
    return name


def landmarks_of(district: District) -> list[Landmark]:
    """The district's landmarks ordered by name."""
    return list(
        db.session.scalars(
            sa.select(Landmark)
            .where(Landmark.district_id == district.id)
            .order_by(Landmark.name, Landmark.id)
        )
    )


def add_landmark(
    district: District,
    name: str,
    kind: LandmarkKind | str,
    lat: float,
    lon: float,
    actor: str | None = None,
) -> Landmark:
    """Add a named landmark to a district; names are unique within a district."""
    clean = _check_landmark(district.id, name, lat, lon)
    landmark = Landmark(
        district_id=district.id, name=clean, kind=LandmarkKind(kind), lat=float(lat), lon=float(lon)
    )
    db.session.add(landmark)
    db.session.flush()
    record_audit("landmark.added", "landmark", landmark.id, district.id, actor=actor, name=clean)
    return landmark


def update_landmark(
    landmark: Landmark,
    name: str | None = None,
    kind: LandmarkKind | str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    actor: str | None = None,
) -> Landmark:
    """Change a landmark's name, kind or position (None leaves a value as it is)."""
    new_name = landmark.name if name is None else name
    new_lat = landmark.lat if lat is None else lat
    new_lon = landmark.lon if lon is None else lon
    clean = _check_landmark(landmark.district_id, new_name, new_lat, new_lon, landmark.id)
    landmark.name = clean
    landmark.lat = float(new_lat)
    landmark.lon = float(new_lon)
    if kind is not None:
        landmark.kind = LandmarkKind(kind)
    db.session.flush()
    record_audit(
        "landmark.updated", "landmark", landmark.id, landmark.district_id, actor=actor, name=clean
    )
    return landmark


def remove_landmark(landmark: Landmark, actor: str | None = None) -> None:
    """Delete a landmark from its district."""
    record_audit(
        "landmark.removed",
        "landmark",
        landmark.id,
        landmark.district_id,
        actor=actor,
        name=landmark.name,
    )
    db.session.delete(landmark)
    db.session.flush()
