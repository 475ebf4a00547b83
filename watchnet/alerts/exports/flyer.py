"""What the printed flyer (さがしています) shows: the description a finder needs, the photo
when the family allowed it, the last-seen time and place, and the number to call.

No name, no home address, no family contacts, and no personal link (a flyer is posted where
anyone reads it). Once the alert is closed the flyer only says that the search is over.
"""

from __future__ import annotations

import base64
from typing import Any

import sqlalchemy as sa

from watchnet.alerts.exports.cap import closed_phrase, contact_phrase, finder_facts
from watchnet.alerts.models import Alert
from watchnet.core.extensions import db
from watchnet.core.timefmt import format_formal_date, format_time
from watchnet.registry.models import PersonPhoto, PhotoKind


def flyer_photo(alert: Alert) -> PersonPhoto | None:
    """The photo to print: a face photo first, else the newest other one; only while the
    search runs and only when the alert shares photos (the family's consent)."""
    if not alert.is_active or not alert.share_photo or alert.person_id is None:
        return None
    kind_order = sa.case(
        (PersonPhoto.kind == PhotoKind.face, 0),
        (PersonPhoto.kind == PhotoKind.full_body, 1),
        else_=2,
    )
    return db.session.scalar(
        sa.select(PersonPhoto)
        .where(PersonPhoto.person_id == alert.person_id)
        .order_by(kind_order, PersonPhoto.id.desc())
        .limit(1)
    )


def photo_data_uri(photo: PersonPhoto) -> str:
    """The photo inline, so the printed page never waits on (or leaks) a second URL."""
    encoded = base64.b64encode(photo.data).decode("ascii")
    return f"data:{photo.content_type or 'image/jpeg'};base64,{encoded}"


def flyer_context(alert: Alert) -> dict[str, Any]:
    """Template values for templates/alerts/flyer.html (no personal detail once closed)."""
    context: dict[str, Any] = {
        "alert": alert,
        "is_exercise": alert.is_exercise,
        "closed": not alert.is_active,
        "district_name": alert.district.name,
    }
    if not alert.is_active:
        context["closed_text"] = closed_phrase(alert)
        return context
    photo = flyer_photo(alert)
    context.update(
        facts=finder_facts(alert),
        photo_uri=photo_data_uri(photo) if photo is not None else None,
        last_seen_date=format_formal_date(alert.last_seen_at),
        last_seen_time=format_time(alert.last_seen_at),
        last_seen_place=alert.last_seen_place,
        contact_phone=alert.contact_phone,
        contact_label=alert.contact_label,
        contact_text=contact_phrase(alert),
    )
    return context
