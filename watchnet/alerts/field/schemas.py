"""Checking what the supporter's alert page sends (multipart forms from the phone): plain
data for alerts.field.services, or InvalidPayload with field-level errors (422).

Positions reuse the drill phone's checks (tracking/schemas.py): the same phones, the same
client ids and clocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage

from watchnet.alerts.models import SightingCertainty, TravelDirection
from watchnet.core.validation import clean_block
from watchnet.registry.photos import PhotoError, reencode_photo
from watchnet.tracking.schemas import CLIENT_ID_RE, InvalidPayload, parse_time

DESCRIPTION_MAX = 1000
# A sighting may be reported a while after the fact, but not from another day.
SIGHTING_MAX_AGE = timedelta(hours=24)
SIGHTING_MAX_FUTURE = timedelta(minutes=5)


@dataclass
class SightingInput:
    """A checked sighting report from the phone's form."""

    client_id: str
    seen_at: datetime
    lat: float
    lon: float
    place_source: str = "phone"
    direction: TravelDirection = TravelDirection.unknown
    description: str = ""
    certainty: SightingCertainty = SightingCertainty.unsure
    photo: bytes | None = None


def _float(
    errors: dict[str, list[str]], name: str, raw: Any, low: float, high: float, message: str
) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = None
    if value is None or value != value or not low <= value <= high:  # NaN != NaN
        errors.setdefault(name, []).append(message)
        return None
    return value


def parse_sighting(
    form: Mapping[str, Any], files: Mapping[str, FileStorage], now: datetime
) -> SightingInput:
    """Check the sighting form (multipart): field-level errors as InvalidPayload. The photo is
    re-encoded here (no EXIF, no GPS) so nothing of the original file is ever stored."""
    errors: dict[str, list[str]] = {}
    client_id = str(form.get("client_id") or "")
    if not CLIENT_ID_RE.fullmatch(client_id):
        errors.setdefault("client_id", []).append(
            _("The id must be 8 to 64 letters, digits, '-' or '_'.")
        )
    raw_time = str(form.get("seen_at") or "").strip()
    seen_at: datetime | None = now
    if raw_time:
        seen_at = parse_time(raw_time)
        if seen_at is None:
            errors.setdefault("seen_at", []).append(
                _("Send the time in ISO 8601 with a time zone offset.")
            )
        elif seen_at > now + SIGHTING_MAX_FUTURE:
            errors.setdefault("seen_at", []).append(_("This time is in the future."))
        elif seen_at < now - SIGHTING_MAX_AGE:
            errors.setdefault("seen_at", []).append(_("This time is more than a day ago."))
    if not str(form.get("lat") or "").strip() and not str(form.get("lon") or "").strip():
        errors.setdefault("place", []).append(
            _("Choose the place: use this phone's position or tap the map.")
        )
        lat = lon = None
    else:
        lat = _float(
            errors,
            "lat",
            form.get("lat"),
            -90.0,
            90.0,
            _("Latitude must be a number from -90 to 90."),
        )
        lon = _float(
            errors,
            "lon",
            form.get("lon"),
            -180.0,
            180.0,
            _("Longitude must be a number from -180 to 180."),
        )
    place_source = str(form.get("place_source") or "phone")
    if place_source not in ("phone", "map"):
        errors.setdefault("place_source", []).append(_("Unknown choice."))
    direction = TravelDirection.unknown
    if form.get("direction"):
        try:
            direction = TravelDirection(str(form.get("direction")))
        except ValueError:
            errors.setdefault("direction", []).append(_("Unknown choice."))
    certainty = SightingCertainty.unsure
    if form.get("certainty"):
        try:
            certainty = SightingCertainty(str(form.get("certainty")))
        except ValueError:
            errors.setdefault("certainty", []).append(_("Unknown choice."))
    # No NUL (PostgreSQL refuses it), no bidi or zero-width tricks in what staff read.
    description = clean_block(str(form.get("description") or ""))
    if len(description) > DESCRIPTION_MAX:
        errors.setdefault("description", []).append(
            _("At most %(max)d characters.", max=DESCRIPTION_MAX)
        )
    photo: bytes | None = None
    upload = files.get("photo")
    if upload is not None and upload.filename:
        try:
            photo = reencode_photo(upload.read()).data
        except PhotoError as exc:
            errors.setdefault("photo", []).append(str(exc))
    if errors:
        raise InvalidPayload(errors)
    assert seen_at is not None and lat is not None and lon is not None
    return SightingInput(
        client_id=client_id,
        seen_at=seen_at,
        lat=lat,
        lon=lon,
        place_source=place_source,
        direction=direction,
        description=description,
        certainty=certainty,
        photo=photo,
    )
