"""The supporter's side of an alert, reached by their personal link: what the page shows,
shared positions while searching, sightings, and the list of their alerts on /me.

Everything here takes an AlertRecipient (found by the link's token): the token is the
supporter's secret, so whoever holds it acts as that recipient and nobody else. Once the alert
is closed, nothing here returns a personal detail — `closed_state` is all that is left.
Functions flush and leave the commit to the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite

from watchnet.alerts import sectors
from watchnet.alerts.events import (
    ALERT_EVENTS,
    ALL,
    STAFF,
    emit_alert_event,
    supporter_audience,
)
from watchnet.alerts.field.schemas import SightingInput
from watchnet.alerts.models import (
    Acknowledgement,
    Alert,
    AlertRecipient,
    AlertStatus,
    SearchPosition,
    Sighting,
    WalkedSector,
)
from watchnet.audit.services import record_audit
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.core.insert_once import insert_or_get
from watchnet.core.timefmt import format_time
from watchnet.people.models import Supporter
from watchnet.registry.models import PersonPhoto, PhotoKind

# Photos shown to searchers, in this order: the face first, then the whole figure (clothing).
SHOWN_PHOTO_KINDS = (PhotoKind.face, PhotoKind.full_body)


class AlertClosed(Exception):
    """The alert is over: nothing more is recorded, and nothing personal is shown."""


class NotSearching(Exception):
    """Positions are shared only by a recipient who answered "I'll search"."""


def actor_of(recipient: AlertRecipient) -> str:
    """How the audit record and the timeline name a link holder."""
    return f"supporter:{recipient.supporter_id}"


# ---------------------------------------------------------------------------------------------
# Opening the link


def record_link_view(recipient: AlertRecipient, what: str = "page") -> None:
    """Audit one view of an active alert's details through the personal link."""
    alert = recipient.alert
    record_audit(
        "view_alert_link",
        "alert",
        alert.id,
        alert.district_id,
        actor=actor_of(recipient),
        recipient_id=recipient.id,
        what=what,
    )


def closed_message(alert: Alert) -> str:
    """The only thing a closed alert's link says."""
    if alert.status == AlertStatus.found:
        return _("Found. Thank you for your help.")
    return _("The search has ended.")


class ClosedState(TypedDict):
    """All a closed alert's link still says."""

    status: str
    closed: bool
    message: str
    is_exercise: bool


def closed_state(alert: Alert) -> ClosedState:
    """The state of a closed alert: its outcome and the thank-you, no detail."""
    return {
        "status": alert.status.value,
        "closed": True,
        "message": closed_message(alert),
        "is_exercise": alert.is_exercise,
    }


def shown_photos(alert: Alert) -> list[PersonPhoto]:
    """The registry photos searchers see: only while active and when the coordinator chose to
    share them; the newest of each shown kind."""
    if not alert.is_active or not alert.share_photo or alert.person_id is None:
        return []
    rows = db.session.scalars(
        sa.select(PersonPhoto)
        .where(PersonPhoto.person_id == alert.person_id, PersonPhoto.kind.in_(SHOWN_PHOTO_KINDS))
        .order_by(PersonPhoto.created_at.desc(), PersonPhoto.id.desc())
    )
    newest: dict[PhotoKind, PersonPhoto] = {}
    for photo in rows:
        newest.setdefault(photo.kind, photo)
    return [newest[k] for k in SHOWN_PHOTO_KINDS if k in newest]


def shown_photo(alert: Alert, photo_id: int) -> PersonPhoto | None:
    """One of shown_photos by id (None for any other photo, or once the alert closed)."""
    return next((p for p in shown_photos(alert) if p.id == photo_id), None)


# ---------------------------------------------------------------------------------------------
# The page's live state


def sectors_key(alert: Alert) -> str:
    """Names the current search area; it changes when the area does (widened radius,
    re-centred point), so phones fetch the sector shapes only then."""
    return (
        f"{alert.last_seen_lat:.6f}:{alert.last_seen_lon:.6f}:"
        f"{sectors.search_radius_m(alert):.0f}:{sectors.sector_resolution()}"
    )


def latest_event_id(alert: Alert, supporter_id: int) -> int:
    """The newest timeline entry this recipient's page may know about (0 when none)."""
    return ALERT_EVENTS.latest_id(alert.id, (ALL, supporter_audience(supporter_id)))


def field_state(
    recipient: AlertRecipient, have_sectors: str | None = None
) -> ClosedState | dict[str, Any]:
    """What the supporter's page shows and updates every few seconds.

    Active: last-seen point and time, the search radius, the recipient's answer and sector,
    and every sector's state (shapes only when `have_sectors` is not the current key).
    Closed: closed_state and nothing else.
    """
    alert = recipient.alert
    if not alert.is_active:
        return closed_state(alert)
    key = sectors_key(alert)
    cells = sectors.alert_cells(alert)
    states = sectors.sector_states(alert, cells)
    mine = next((s.cell for s in states.values() if s.taken_by_id == recipient.supporter_id), None)
    state: dict[str, Any] = {
        "status": alert.status.value,
        "closed": False,
        "is_exercise": alert.is_exercise,
        "revision": alert.revision,
        "event_id": latest_event_id(alert, recipient.supporter_id),
        "answer": recipient.answer.value if recipient.answer else None,
        "last_seen": {
            "lat": alert.last_seen_lat,
            "lon": alert.last_seen_lon,
            "at": alert.last_seen_at.isoformat(),
            "time": format_time(alert.last_seen_at),
            "place": alert.last_seen_place,
        },
        "radius_m": round(sectors.search_radius_m(alert)),
        "sectors_key": key,
        "taken": {
            s.cell: {
                "name": "" if s.taken_by_id == recipient.supporter_id else s.taken_by_name,
                "mine": s.taken_by_id == recipient.supporter_id,
            }
            for s in states.values()
            if s.taken_by_id is not None
        },
        "walked": sorted(s.cell for s in states.values() if s.walked),
        "priority": sorted(s.cell for s in states.values() if s.priority),
        "my_sector": mine,
    }
    if have_sectors != key:
        state["sectors"] = [{"cell": c, "boundary": sectors.cell_boundary(c)} for c in cells]
    return state


# ---------------------------------------------------------------------------------------------
# Sectors (wrappers that also tell the other pages)


def take_sector(recipient: AlertRecipient, cell: str) -> tuple[str, bool]:
    """Claim a sector (sectors.claim_sector) and put it on every page's map."""
    _ensure_active(recipient.alert)
    previous = sectors.current_claim(recipient)
    previous_cell = previous.cell if previous is not None else None
    claim, created = sectors.claim_sector(recipient, cell)
    if created:
        name = sectors.supporter_name(recipient.supporter_id)
        if previous_cell and previous_cell != claim.cell:
            emit_alert_event(
                recipient.alert_id,
                "sector_released",
                {"cell": previous_cell, "supporter_id": recipient.supporter_id},
                audience=ALL,
                actor=actor_of(recipient),
            )
        emit_alert_event(
            recipient.alert_id,
            "sector_taken",
            {"cell": claim.cell, "supporter_id": recipient.supporter_id, "name": name},
            audience=ALL,
            actor=actor_of(recipient),
        )
    return claim.cell, created


def give_back_sector(recipient: AlertRecipient) -> str | None:
    """Release the recipient's sector (sectors.release_sector) and tell the other pages."""
    _ensure_active(recipient.alert)
    cell = sectors.release_sector(recipient)
    if cell is not None:
        emit_alert_event(
            recipient.alert_id,
            "sector_released",
            {"cell": cell, "supporter_id": recipient.supporter_id},
            audience=ALL,
            actor=actor_of(recipient),
        )
    return cell


def _ensure_active(alert: Alert) -> None:
    if not alert.is_active:
        raise AlertClosed()


# ---------------------------------------------------------------------------------------------
# Positions


def _insert(table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """INSERT with ON CONFLICT support for the bound database."""
    if db.engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def record_search_positions(
    recipient: AlertRecipient, items: Sequence[Mapping[str, Any]]
) -> tuple[int, int]:
    """Store a batch of positions checked by tracking.schemas.parse_positions; returns
    (accepted, duplicates). One INSERT .. ON CONFLICT DO NOTHING on (supporter, client_id), so
    a batch the phone sends again is stored once. Each position notes the sector it lies in:
    that is how the map knows which sectors have been walked."""
    alert = recipient.alert
    _ensure_active(alert)
    if recipient.answer != Acknowledgement.searching:
        raise NotSearching()
    now = utcnow()
    resolution = sectors.sector_resolution()
    values = [
        {
            "alert_id": alert.id,
            "supporter_id": recipient.supporter_id,
            "client_id": item["client_id"],
            "lat": item["lat"],
            "lon": item["lon"],
            "accuracy_m": item.get("accuracy_m"),
            "recorded_at": item["recorded_at"],
            "cell": sectors.cell_of(item["lat"], item["lon"], resolution),
            "received_at": now,
        }
        for item in items
    ]
    table = SearchPosition.__table__
    assert isinstance(table, sa.Table)
    statement = (
        _insert(table)
        .on_conflict_do_nothing(index_elements=["supporter_id", "client_id"])
        .returning(table.c.id)
    )
    accepted = len(db.session.connection().execute(statement, values).all())
    if accepted:
        record_walked_cells(alert.id, values)
        newest = max(values, key=lambda v: v["recorded_at"])
        emit_alert_event(
            alert.id,
            "search_position",
            {
                "supporter_id": recipient.supporter_id,
                "name": sectors.supporter_name(recipient.supporter_id),
                "lat": newest["lat"],
                "lon": newest["lon"],
                "cell": newest["cell"],
                "at": newest["recorded_at"].isoformat(),
            },
            audience=STAFF,
            actor=actor_of(recipient),
        )
    return accepted, len(values) - accepted


def record_walked_cells(alert_id: int, positions: Sequence[Mapping[str, Any]]) -> None:
    """Note the sectors these positions lie in as walked (once per sector, with the earliest
    time), so that the pages' polls need not read the positions."""
    first: dict[str, datetime] = {}
    for p in positions:
        if p["cell"] and (p["cell"] not in first or p["recorded_at"] < first[p["cell"]]):
            first[p["cell"]] = p["recorded_at"]
    if not first:
        return
    table = WalkedSector.__table__
    assert isinstance(table, sa.Table)
    db.session.connection().execute(
        _insert(table).on_conflict_do_nothing(index_elements=["alert_id", "cell"]),
        [
            {"alert_id": alert_id, "cell": cell, "first_walked_at": at}
            for cell, at in sorted(first.items())
        ],
    )


# ---------------------------------------------------------------------------------------------
# Sightings


def _existing_sighting(alert_id: int, client_id: str) -> Sighting | None:
    return db.session.scalar(
        sa.select(Sighting).where(Sighting.alert_id == alert_id, Sighting.client_id == client_id)
    )


def report_sighting(recipient: AlertRecipient, data: SightingInput) -> tuple[Sighting, bool]:
    """Store a sighting for the coordinators to review; returns (sighting, created). The same
    client_id twice (a phone's retry) stores one sighting."""
    alert = recipient.alert
    _ensure_active(alert)
    existing = _existing_sighting(alert.id, data.client_id)
    if existing is not None:
        return existing, False
    sighting = Sighting(
        alert_id=alert.id,
        client_id=data.client_id,
        reporter_supporter_id=recipient.supporter_id,
        seen_at=data.seen_at,
        lat=data.lat,
        lon=data.lon,
        place_source=data.place_source,
        direction=data.direction,
        description=data.description,
        certainty=data.certainty,
        photo=data.photo,
    )
    # The same report may arrive twice at once; then the other request's row is the answer.
    sighting, created = insert_or_get(
        sighting, lambda: _existing_sighting(alert.id, data.client_id)
    )
    if not created:
        return sighting, False
    emit_alert_event(
        alert.id,
        "sighting",
        {
            "id": sighting.id,
            "seen_at": sighting.seen_at.isoformat(),
            "lat": sighting.lat,
            "lon": sighting.lon,
            "certainty": sighting.certainty.value,
            "direction": sighting.direction.value,
            "has_photo": sighting.photo is not None,
            "supporter_id": recipient.supporter_id,
            "name": sectors.supporter_name(recipient.supporter_id),
        },
        audience=STAFF,
        actor=actor_of(recipient),
    )
    record_audit(
        "report_sighting",
        "sighting",
        sighting.id,
        alert.district_id,
        actor=actor_of(recipient),
        alert_id=alert.id,
    )
    return sighting, True


class SightingBody(TypedDict):
    id: int
    client_id: str
    seen_at: str  # ISO time
    status: str
    has_photo: bool


def sighting_body(sighting: Sighting) -> SightingBody:
    """What the phone gets back for a stored sighting (no photo bytes)."""
    return {
        "id": sighting.id,
        "client_id": sighting.client_id,
        "seen_at": sighting.seen_at.isoformat(),
        "status": sighting.status.value,
        "has_photo": sighting.photo is not None,
    }


# ---------------------------------------------------------------------------------------------
# The supporter's own page


@dataclass(frozen=True)
class MyAlert:
    """One active alert on the supporter's /me page: only what leads to the link."""

    token: str
    is_exercise: bool
    started_at: datetime
    answer: Acknowledgement | None


def active_alerts_for(supporter: Supporter) -> list[MyAlert]:
    """The active alerts this supporter was told about, newest first."""
    rows = db.session.execute(
        sa.select(AlertRecipient.token, Alert.is_exercise, Alert.started_at, AlertRecipient.answer)
        .join(Alert, Alert.id == AlertRecipient.alert_id)
        .where(AlertRecipient.supporter_id == supporter.id, Alert.status == AlertStatus.active)
        .order_by(Alert.started_at.desc(), Alert.id.desc())
    )
    return [MyAlert(token=t, is_exercise=e, started_at=s, answer=a) for t, e, s, a in rows]
