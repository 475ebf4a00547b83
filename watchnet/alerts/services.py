"""Alert use cases: start, widen, re-centre, remind, answer, close; and the coordinator's summary.

Every message goes to the outbox in the same transaction as the change that caused it (the
dispatcher delivers); every change adds an AlertEvent for live pages and an audit record.
start_alert commits (its client_key makes a double submit start one alert); the other
functions flush and leave the commit to the caller.

Broadcasts are bulk: recipients and outbox rows are written with a few multi-row INSERTs
(ON CONFLICT DO NOTHING, so a retry or a second process tells nobody twice), and each text is
made once per language with the personal link put in per recipient. Ten thousand recipients
take well under a second.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from watchnet.alerts import messages, places, sectors
from watchnet.alerts.events import ALL, STAFF, emit_alert_event, supporter_audience
from watchnet.alerts.models import (
    Acknowledgement,
    Alert,
    AlertRecipient,
    AlertStatus,
    SearchPosition,
    SearchSectorClaim,
    Sighting,
    SightingStatus,
    WalkedSector,
)
from watchnet.alerts.targeting import Target, effective_radius_m, find_targets
from watchnet.audit.services import record_audit
from watchnet.core.bulk import insert_ignoring_conflicts
from watchnet.core.dbtypes import utcnow
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.geo import is_valid_latlon
from watchnet.core.i18n import default_locale, recipient_locale
from watchnet.districts.models import District
from watchnet.notifications.hooks import Answer, register_answer_handler
from watchnet.notifications.models import Delivery, DeliveryChannel, DeliveryStatus
from watchnet.notifications.services import record_opened, stop_chains, stop_topic_chains
from watchnet.people.models import (
    StaffRole,
    StaffUser,
    Supporter,
    staff_district,
)
from watchnet.people.notify import Recipient, Text, fan_out, notify_staff
from watchnet.registry.models import AtRiskPerson, Build, Sex

TOPIC = "alert"
MAX_RADIUS_M = 50_000.0  # an override beyond this is a typo, not a search area

Actor = StaffUser | str | None


# ---------------------------------------------------------------------------------------------
# Input


@dataclass
class AlertInput:
    """The start form's fields (prefilled from the registry when a person is chosen)."""

    last_seen_at: datetime
    last_seen_lat: float
    last_seen_lon: float
    contact_phone: str
    last_seen_place: str = ""
    contact_label: str = ""
    person_id: int | None = None
    display_name: str = ""
    name_kana: str = ""
    age: int | None = None
    sex: Sex = Sex.unknown
    height_cm: int | None = None
    build: Build = Build.unknown
    hair: str = ""
    features: str = ""
    clothing_today: str = ""
    belongings: str = ""
    handling_notes: str = ""
    share_photo: bool = False
    police_informed: bool = False
    police_station: str = ""
    police_case_number: str = ""
    is_exercise: bool = False
    radius_override_m: float | None = None

    @classmethod
    def from_person(
        cls, person: AtRiskPerson, *, today: datetime | None = None, **values: Any
    ) -> AlertInput:
        """An input prefilled with a registered person's description; `values` add the rest
        (last_seen_*, contact_phone ...) and may replace any field."""
        now = today or utcnow()
        age = None
        if person.birth_date is not None:
            born = person.birth_date
            age = now.year - born.year - ((now.month, now.day) < (born.month, born.day))
        prefill: dict[str, Any] = dict(
            person_id=person.id,
            display_name=person.name,
            name_kana=person.name_kana,
            age=age,
            sex=person.sex,
            height_cm=person.height_cm,
            build=person.build,
            hair=person.hair,
            features=person.features,
            clothing_today=person.usual_clothing,
            handling_notes=person.handling_notes,
        )
        prefill.update(values)
        return cls(**prefill)


def _actor_name(actor: Actor) -> str:
    if isinstance(actor, StaffUser):
        return f"staff:{actor.id}"
    return actor or "system"


def _staff_id(actor: Actor) -> int | None:
    return actor.id if isinstance(actor, StaffUser) else None


def _validate(data: AlertInput) -> None:
    if not is_valid_latlon(float(data.last_seen_lat), float(data.last_seen_lon)):
        raise UserInputError(_l("Choose the place last seen on the map."), "last_seen")
    if data.last_seen_at.tzinfo is None:
        raise ValueError("last_seen_at must be timezone-aware")
    if data.last_seen_at > utcnow() + timedelta(minutes=5):
        raise UserInputError(_l("The time last seen cannot be in the future."), "last_seen_at")
    if not data.contact_phone.strip():
        raise UserInputError(_l("Enter the number to call on a sighting."), "contact_phone")
    person = db.session.get(AtRiskPerson, data.person_id) if data.person_id else None
    problem = places.place_problem(data.last_seen_place, person.home_address if person else "")
    if problem is not None:
        raise UserInputError(problem, "last_seen")
    if data.radius_override_m is not None:
        _check_radius(data.radius_override_m)


def _check_radius(radius_m: float) -> None:
    if not 50 <= radius_m <= MAX_RADIUS_M:
        raise UserInputError(_l("The radius must be between 50 m and 50 km."), "radius_m")


# ---------------------------------------------------------------------------------------------
# Bulk writing: recipients and their messages


def _link_tokens(count: int) -> list[str]:
    """`count` secrets like secrets.token_urlsafe(32), from one read of the system's random
    source (one read per token cost 0.15 s for 10,000 recipients)."""
    pool = secrets.token_bytes(32 * count)
    return [
        base64.urlsafe_b64encode(pool[i : i + 32]).rstrip(b"=").decode("ascii")
        for i in range(0, 32 * count, 32)
    ]


def _add_recipients(alert: Alert, targets: list[Target], radius_m: float) -> int:
    """Insert AlertRecipient rows for targets not yet told; returns how many were new.

    ON CONFLICT DO NOTHING on (alert_id, supporter_id): a supporter already told (by an
    earlier ring, or by a widening running at the same moment) is never added twice.
    """
    if not targets:
        return 0
    tokens = _link_tokens(len(targets))
    rows = [
        {
            "supporter_id": t.supporter_id,
            "token": tok,
            "distance_m": t.distance_m,
            "matched_by": t.matched_by,
        }
        for t, tok in zip(targets, tokens, strict=True)
    ]
    return insert_ignoring_conflicts(
        AlertRecipient.__table__,  # type: ignore[arg-type]
        rows,
        columns=("supporter_id", "token", "distance_m", "matched_by"),
        conflict=("alert_id", "supporter_id"),
        shared={
            "alert_id": alert.id,
            "radius_m": radius_m,
            "revision": alert.revision,
            "targeted_at": utcnow(),
        },
    )


# Message kinds (CHANNEL_CHAINS / ESCALATION_STEPS) of the texts an alert sends, by key.
_KINDS = {
    "alert": "alert",
    "update": "alert_update",
    "remind": "alert_reminder",
    "closed": "all_clear",
}
# Texts that ask for an answer (捜索に参加する / 今は参加できない): LINE buttons, voice digits.
_ANSWERED = {"alert", "remind"}


def _queue_messages(
    alert: Alert,
    recipient_filter: sa.ColumnElement[bool],
    key: str,
    make_text: Callable[[Alert], tuple[str, str]],
) -> int:
    """Queue one text to every channel of the recipients matching `recipient_filter` (an SQL
    condition on AlertRecipient), through the one fan-out (people.notify.fan_out). Returns
    the number of new outbox rows.

    Dedupe keys are f"alert:{alert.id}:{key}:supporter:{id}:<channel>", so the same message
    to the same recipient is queued once however often this runs. Exercises are drill
    messages (they wait out quiet hours); real alerts are not.
    """
    people = db.session.execute(
        sa.select(AlertRecipient.supporter_id, AlertRecipient.token)
        .where(AlertRecipient.alert_id == alert.id, recipient_filter)
        .order_by(AlertRecipient.id)
    ).all()
    if not people:
        return 0
    # The token slot must be URL-safe: url_for percent-encodes anything else (LINK_SLOT is not).
    link_template = messages.alert_link_for_token(messages.TOKEN_SLOT)
    recipients = [
        Recipient(supporter_id, link_template.replace(messages.TOKEN_SLOT, token))
        for supporter_id, token in people
    ]
    kind = key.rpartition(":")[2]

    def text() -> Text:
        subject, body = make_text(alert)
        return Text(subject=subject, body=body, summary=messages.summary_line(alert, kind))

    return fan_out(
        key=f"alert:{alert.id}:{key}",
        kind=_KINDS.get(kind, kind),
        topic=TOPIC,
        topic_id=alert.id,
        recipients=recipients,
        make_text=text,
        real=not alert.is_exercise,
        answer_topic=f"{TOPIC}:{alert.id}" if kind in _ANSWERED else "",
    )


def _tell_targets(alert: Alert, radius_m: float, now: datetime) -> int:
    """Find who is inside radius_m now, add those not yet told, and queue the alert to them
    (revision `alert.revision`). Returns how many were newly told."""
    recent_since = now - timedelta(minutes=int(current_app.config["ALERT_RECENT_POSITION_MIN"]))
    targets = find_targets(
        alert.last_seen_lat, alert.last_seen_lon, radius_m, recent_since=recent_since
    )
    added = _add_recipients(alert, targets, radius_m)
    if added:
        _queue_messages(
            alert,
            AlertRecipient.revision == alert.revision,
            f"r{alert.revision}:alert",
            messages.alert_message,
        )
    return added


def _count_recipients(alert: Alert) -> int:
    return int(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AlertRecipient)
            .where(AlertRecipient.alert_id == alert.id)
        )
        or 0
    )


# ---------------------------------------------------------------------------------------------
# Starting


def start_alert(
    district: District, actor: Actor, data: AlertInput, *, client_key: str | None = None
) -> Alert:
    """Start an alert and tell every supporter inside the first radius, in one transaction;
    commits. The same client_key twice returns the first alert (a double submit)."""
    if client_key:
        existing = db.session.scalar(sa.select(Alert).where(Alert.client_key == client_key))
        if existing is not None:
            return existing
    _validate(data)
    now = utcnow()
    alert = Alert(
        district_id=district.id,
        person_id=data.person_id,
        client_key=client_key or None,
        is_exercise=data.is_exercise,
        status=AlertStatus.active,
        display_name=data.display_name.strip(),
        name_kana=data.name_kana.strip(),
        age=data.age,
        sex=Sex(data.sex),
        height_cm=data.height_cm,
        build=Build(data.build),
        hair=data.hair.strip(),
        features=data.features.strip(),
        clothing_today=data.clothing_today.strip(),
        belongings=data.belongings.strip(),
        handling_notes=data.handling_notes.strip(),
        share_photo=data.share_photo,
        last_seen_at=data.last_seen_at,
        last_seen_lat=float(data.last_seen_lat),
        last_seen_lon=float(data.last_seen_lon),
        # Searchers are told a place they can find: without a description, the one proposed
        # from the district's landmarks (alerts/places.py).
        last_seen_place=data.last_seen_place.strip() or _start_place(district, data),
        police_informed=data.police_informed,
        police_station=data.police_station.strip(),
        police_case_number=data.police_case_number.strip(),
        contact_phone=data.contact_phone.strip(),
        contact_label=data.contact_label.strip(),
        radius_override_m=data.radius_override_m,
        revision=1,
        started_by_id=_staff_id(actor),
        started_at=now,
    )
    db.session.add(alert)
    try:
        db.session.flush()
    except IntegrityError:
        # The same form submitted twice at the same moment: the other request won.
        db.session.rollback()
        existing = db.session.scalar(sa.select(Alert).where(Alert.client_key == client_key))
        if existing is None:
            raise
        return existing
    alert.radius_m = effective_radius_m(alert, now)
    told = _tell_targets(alert, alert.radius_m, now)
    name = _actor_name(actor)
    emit_alert_event(
        alert.id,
        "started",
        {
            "radius_m": alert.radius_m,
            "told": told,
            "revision": alert.revision,
            "is_exercise": alert.is_exercise,
        },
        actor=name,
    )
    record_audit(
        "start_alert",
        "alert",
        alert.id,
        district_id=district.id,
        actor=name,
        person_id=data.person_id,
        radius_m=alert.radius_m,
        told=told,
        is_exercise=alert.is_exercise,
    )
    db.session.commit()
    return alert


# ---------------------------------------------------------------------------------------------
# Widening, override, re-centring


def _claim_revision(alert: Alert, **values: Any) -> bool:
    """Bump the alert's revision with a conditional UPDATE: of two processes changing the
    same alert at once, only one goes on (the other's change would repeat messages)."""
    claimed = db.session.execute(
        sa.update(Alert)
        .where(
            Alert.id == alert.id,
            Alert.revision == alert.revision,
            Alert.status == AlertStatus.active,
        )
        .values(revision=alert.revision + 1, **values)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    db.session.refresh(alert)
    return bool(claimed)


def widen_alert(
    alert: Alert,
    *,
    now: datetime | None = None,
    actor: Actor = "system",
    to_radius_m: float | None = None,
) -> int:
    """Widen to the radius the schedule (or override) gives now, or to `to_radius_m`, and
    tell only those newly inside; returns how many were newly told. Nothing happens when the
    radius has not grown."""
    at = now or utcnow()
    if not alert.is_active:
        return 0
    radius = effective_radius_m(alert, at) if to_radius_m is None else float(to_radius_m)
    if radius <= alert.radius_m:
        return 0
    previous = alert.radius_m
    if not _claim_revision(alert, radius_m=radius, widened_at=at):
        return 0
    told = _tell_targets(alert, radius, at)
    name = _actor_name(actor)
    emit_alert_event(
        alert.id,
        "widened",
        {
            "radius_m": radius,
            "previous_radius_m": previous,
            "told": told,
            "revision": alert.revision,
        },
        actor=name,
    )
    record_audit(
        "widen_alert",
        "alert",
        alert.id,
        district_id=alert.district_id,
        actor=name,
        radius_m=radius,
        previous_radius_m=previous,
        told=told,
    )
    db.session.flush()
    return told


def widen_to_next_ring(alert: Alert, ring_m: float, actor: Actor) -> int:
    """The coordinator's "widen now": reach the next ring at once. Without an override the
    schedule goes on from there (its later rings still come at their times); with one, the
    override moves to that ring. Returns how many were newly told."""
    if not alert.is_active:
        raise UserInputError(_l("This alert is closed."))
    if alert.radius_override_m is not None:
        return override_radius(alert, ring_m, actor)
    return widen_alert(alert, actor=actor, to_radius_m=ring_m)


def override_radius(alert: Alert, radius_m: float | None, actor: Actor) -> int:
    """Set (or clear, with None) the coordinator's radius. A larger radius tells those newly
    inside at once; a smaller one only redraws the rings (nobody is un-told). Returns how many
    were newly told."""
    if not alert.is_active:
        raise UserInputError(_l("This alert is closed."))
    if radius_m is not None:
        _check_radius(float(radius_m))
        radius_m = float(radius_m)
    name = _actor_name(actor)
    previous = alert.radius_m
    previous_area_m = sectors.search_radius_m(alert)
    alert.radius_override_m = radius_m
    record_audit(
        "override_alert_radius",
        "alert",
        alert.id,
        district_id=alert.district_id,
        actor=name,
        radius_override_m=radius_m,
        previous_radius_m=previous,
    )
    db.session.flush()
    radius = effective_radius_m(alert)
    if radius > alert.radius_m:
        told = widen_alert(alert, actor=actor)
        if alert.is_active and effective_radius_m(alert) > alert.radius_m:
            # A widening committed between our read and our write took the revision (the
            # claim refreshed the alert): widen again from it, or the larger circle would be
            # exported under that widening's identifier.
            told = widen_alert(alert, actor=actor)
        return told
    if radius != alert.radius_m or sectors.search_radius_m(alert) != previous_area_m:
        # The circle changed (a shrink, or an override cleared back to a smaller schedule):
        # a new revision, so the CAP export is a new message (identifier, sent, references)
        # and phones redraw. Not _claim_revision: this row is already locked by the flush
        # above, and the coordinator's change must not be dropped by a concurrent widening.
        db.session.execute(
            sa.update(Alert)
            .where(Alert.id == alert.id)
            .values(revision=Alert.revision + 1, radius_m=radius)
            .execution_options(synchronize_session=False)
        )
        db.session.refresh(alert)
    emit_alert_event(
        alert.id,
        "radius_changed",
        {"radius_m": alert.radius_m, "override_m": radius_m, "revision": alert.revision},
        actor=name,
    )
    db.session.flush()
    return 0


def _start_place(district: District, data: AlertInput) -> str:
    """The proposed description of the last-seen point of a new alert (default language)."""
    person = db.session.get(AtRiskPerson, data.person_id) if data.person_id else None
    home = (
        (person.home_lat, person.home_lon)
        if person is not None and person.home_lat is not None and person.home_lon is not None
        else None
    )
    point = (float(data.last_seen_lat), float(data.last_seen_lon))
    return places.propose_place(
        district.id, point, language=default_locale()[:2], home=home, use_geocoder=False
    ).text


def _place_phrase(alert: Alert, lat: float, lon: float) -> str:
    """Where a point is, relative to the district's nearest landmark (default language); near
    the person's home in 100 m steps (alerts/places.py)."""
    person = alert.person if alert.purged_at is None else None
    home = (
        (person.home_lat, person.home_lon)
        if person is not None and person.home_lat is not None and person.home_lon is not None
        else None
    )
    return places.propose_place(
        alert.district_id, (lat, lon), language=default_locale()[:2], home=home, use_geocoder=False
    ).text


def recentre_alert(alert: Alert, sighting: Sighting, actor: Actor) -> int:
    """Make a confirmed sighting the new last-seen point: the search re-centres, every current
    recipient gets an update, and those newly inside the radius are told. Returns how many
    were newly told."""
    if not alert.is_active:
        raise UserInputError(_l("This alert is closed."))
    if sighting.alert_id != alert.id:
        raise ValueError("the sighting belongs to another alert")
    if sighting.recentred:
        return 0
    at = utcnow()
    place = _place_phrase(alert, sighting.lat, sighting.lon)
    if not _claim_revision(
        alert,
        last_seen_at=sighting.seen_at,
        last_seen_lat=sighting.lat,
        last_seen_lon=sighting.lon,
        last_seen_place=place,
    ):
        return 0
    sighting.recentred = True
    if sighting.status != SightingStatus.confirmed:
        sighting.status = SightingStatus.confirmed
        sighting.reviewed_by_id = _staff_id(actor)
        sighting.reviewed_at = at
    radius = effective_radius_m(alert, at)
    alert.radius_m = radius
    db.session.flush()
    # Those told before this revision get the update; the alert itself goes to the new ones.
    updated = _queue_messages(
        alert,
        AlertRecipient.revision < alert.revision,
        f"r{alert.revision}:update",
        messages.update_message,
    )
    told = _tell_targets(alert, radius, at)
    name = _actor_name(actor)
    emit_alert_event(
        alert.id,
        "recentred",
        {
            "lat": sighting.lat,
            "lon": sighting.lon,
            "radius_m": radius,
            "sighting_id": sighting.id,
            "told": told,
            "revision": alert.revision,
        },
        audience=ALL,
        actor=name,
    )
    record_audit(
        "recentre_alert",
        "alert",
        alert.id,
        district_id=alert.district_id,
        actor=name,
        sighting_id=sighting.id,
        radius_m=radius,
        told=told,
        updates=updated,
    )
    db.session.flush()
    return told


def review_sighting(sighting: Sighting, status: SightingStatus, actor: Actor) -> None:
    """The coordinator's verdict on a sighting: confirmed, doubtful or duplicate."""
    status = SightingStatus(status)
    if status == SightingStatus.new:
        raise UserInputError(_l("Choose confirmed, doubtful or duplicate."), "status")
    name = _actor_name(actor)
    previous = sighting.status
    sighting.status = status
    sighting.reviewed_by_id = _staff_id(actor)
    sighting.reviewed_at = utcnow()
    emit_alert_event(
        sighting.alert_id,
        "sighting_reviewed",
        {"sighting_id": sighting.id, "status": status.value},
        actor=name,
    )
    record_audit(
        "review_sighting",
        "sighting",
        sighting.id,
        actor=name,
        alert_id=sighting.alert_id,
        status=status.value,
        previous=previous.value,
    )
    db.session.flush()


# ---------------------------------------------------------------------------------------------
# Reminders


def remind_unanswered(alert: Alert, actor: Actor, *, told_before: datetime | None = None) -> int:
    """Remind, once each, the recipients who have not answered (told before `told_before`
    when given: the scheduler waits ALERT_REMIND_AFTER_MIN). Returns how many were reminded.

    AlertRecipient.reminded_at is the state: set with a conditional UPDATE before the
    messages are queued, so a restarted or second scheduler reminds nobody twice.
    """
    if not alert.is_active:
        return 0
    at = utcnow()
    due: list[sa.ColumnElement[bool]] = [
        AlertRecipient.alert_id == alert.id,
        AlertRecipient.answer.is_(None),
        AlertRecipient.reminded_at.is_(None),
    ]
    if told_before is not None:
        due.append(AlertRecipient.targeted_at <= told_before)
    reminded = db.session.execute(
        sa.update(AlertRecipient)
        .where(*due)
        .values(reminded_at=at)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if not reminded:
        return 0
    _queue_messages(alert, AlertRecipient.reminded_at == at, "remind", messages.reminder_message)
    db.session.execute(
        sa.update(Alert)
        .where(Alert.id == alert.id)
        .values(reminded_at=at)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(alert)
    name = _actor_name(actor)
    emit_alert_event(alert.id, "reminded", {"reminded": reminded}, actor=name)
    record_audit(
        "remind_alert",
        "alert",
        alert.id,
        district_id=alert.district_id,
        actor=name,
        reminded=reminded,
    )
    db.session.flush()
    return int(reminded)


# ---------------------------------------------------------------------------------------------
# The recipient's side


def recipient_by_token(token: str) -> AlertRecipient | None:
    """The recipient a personal link belongs to (None for an unknown token)."""
    if not token or len(token) > 64:
        return None
    return db.session.scalar(sa.select(AlertRecipient).where(AlertRecipient.token == token))


def mark_opened(recipient: AlertRecipient, channel: DeliveryChannel | None = None) -> None:
    """Note the first time the recipient opened their link, and from which channel when known
    (the coordinator sees both)."""
    if recipient.opened_at is not None:
        return
    recipient.opened_at = utcnow()
    recipient.opened_via = channel.value if channel is not None else ""
    payload: dict[str, Any] = {
        "recipient_id": recipient.id,
        "supporter_id": recipient.supporter_id,
    }
    if channel is not None:
        payload["channel"] = channel.value
    emit_alert_event(
        recipient.alert_id, "opened", payload, actor=f"supporter:{recipient.supporter_id}"
    )
    db.session.flush()


def record_alert_opened(recipient: AlertRecipient, channel: DeliveryChannel | None) -> None:
    """The recipient's page is open, reached from `channel` (the link's ?via=; None when not
    known): the first opening is noted, the messages of that channel are stamped opened, and
    every escalation of this alert to them stops (no SMS after they read the e-mail). Opening
    again changes nothing but the stamps of a channel not seen before."""
    mark_opened(recipient, channel)
    record_opened(TOPIC, recipient.alert_id, recipient.supporter_id, channel)
    db.session.flush()


def acknowledge_alert(
    recipient: AlertRecipient,
    answer: Acknowledgement,
    *,
    channel: DeliveryChannel | None = None,
) -> None:
    """The recipient's one-tap answer (I'll search / I can't now); may be changed later.
    `channel`: the answer came from a message's buttons (a LINE postback, a voice call's
    digit) rather than the page. Any answer stops the escalation of this alert to them. The
    same answer twice changes nothing more."""
    answer = Acknowledgement(answer)
    if not recipient.alert.is_active:
        raise UserInputError(_l("This search has ended. Thank you."))
    stop_chains(TOPIC, recipient.alert_id, recipient.supporter_id)
    if recipient.answer == answer:
        return
    via = channel.value if channel is not None else ""
    now = utcnow()
    if recipient.opened_at is None:
        recipient.opened_at = now
        recipient.opened_via = via
    previous = recipient.answer
    recipient.answer = answer
    recipient.answered_at = now
    recipient.answered_via = via
    name = f"supporter:{recipient.supporter_id}"
    payload: dict[str, Any] = {
        "recipient_id": recipient.id,
        "supporter_id": recipient.supporter_id,
        "answer": answer.value,
    }
    if channel is not None:
        payload["channel"] = channel.value
    emit_alert_event(recipient.alert_id, "answered", payload, actor=name)
    emit_alert_event(
        recipient.alert_id,
        "answered",
        payload,
        audience=supporter_audience(recipient.supporter_id),
        actor=name,
    )
    record_audit(
        "acknowledge_alert",
        "alert",
        recipient.alert_id,
        district_id=recipient.alert.district_id,
        actor=name,
        answer=answer.value,
        previous=previous.value if previous else None,
        channel=via or "page",
    )
    db.session.flush()


_ANSWERS = {Answer.yes: Acknowledgement.searching, Answer.no: Acknowledgement.cannot}


def answer_from_channel(
    alert_id: int, supporter_id: int, answer: Answer, channel: DeliveryChannel
) -> bool:
    """An answer that came back on a channel (LINE's 「捜索に参加する」 / 「今は参加できない」
    buttons, 1 or 2 on a voice call), recorded as a tap on the page would be
    (acknowledge_alert). False when the alert is closed, the supporter was not told about it,
    or their access was ended. The caller commits. Registered with the outbox below."""
    recipient = db.session.scalar(
        sa.select(AlertRecipient).where(
            AlertRecipient.alert_id == alert_id, AlertRecipient.supporter_id == supporter_id
        )
    )
    if recipient is None or not recipient.alert.is_active or not recipient.supporter.is_active:
        return False
    try:
        acknowledge_alert(recipient, _ANSWERS[Answer(answer)], channel=DeliveryChannel(channel))
    except UserInputError:  # closed between the check and the answer
        return False
    return True


# The outbox hands channel answers to the domain through this registry (it knows no alerts);
# every process imports this module with the alert views, the LINE and voice webhooks too.
register_answer_handler(TOPIC, answer_from_channel)


# ---------------------------------------------------------------------------------------------
# Closing


def close_alert(
    alert: Alert,
    *,
    outcome: AlertStatus,
    found_place: str = "",
    found_lat: float | None = None,
    found_lon: float | None = None,
    found_condition: str = "",
    note: str = "",
    actor: Actor,
) -> None:
    """Close the alert as found or cancelled and send the all-clear to every recipient on
    every channel. Closing an already closed alert does nothing (a double submit)."""
    outcome = AlertStatus(outcome)
    if outcome == AlertStatus.active:
        raise UserInputError(_l("Choose found or cancelled."), "outcome")
    if (found_lat is None) != (found_lon is None) or (
        found_lat is not None
        and found_lon is not None
        and not is_valid_latlon(found_lat, found_lon)
    ):
        raise UserInputError(_l("Choose the place found on the map."), "found_place")
    at = utcnow()
    # Claim the close: of two coordinators pressing at once, one sends the all-clear.
    claimed = db.session.execute(
        sa.update(Alert)
        .where(Alert.id == alert.id, Alert.status == AlertStatus.active)
        .values(
            status=outcome,
            closed_at=at,
            closed_by_id=_staff_id(actor),
            found_place=found_place.strip()[:300],
            found_lat=found_lat,
            found_lon=found_lon,
            found_condition=found_condition.strip()[:300],
            close_note=note.strip()[:500],
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    db.session.refresh(alert)
    if not claimed:
        return
    # Open sector claims end with the search.
    db.session.execute(
        sa.update(SearchSectorClaim)
        .where(SearchSectorClaim.alert_id == alert.id, SearchSectorClaim.released_at.is_(None))
        .values(released_at=at)
        .execution_options(synchronize_session=False)
    )
    # Escalation steps still waiting (an SMS or a call for the alert) are not sent once it
    # is over; the all-clear itself goes out below on the first channel each person has.
    stop_topic_chains(TOPIC, alert.id)
    sent = _queue_messages(alert, sa.true(), "closed", messages.all_clear_message)
    name = _actor_name(actor)
    emit_alert_event(alert.id, "closed", {"status": outcome.value}, audience=ALL, actor=name)
    record_audit(
        "close_alert",
        "alert",
        alert.id,
        district_id=alert.district_id,
        actor=name,
        outcome=outcome.value,
        all_clear_messages=sent,
        recipients=_count_recipients(alert),
    )
    db.session.flush()


# ---------------------------------------------------------------------------------------------
# The coordinator's summary


@dataclass(frozen=True)
class DeliveryFailure:
    """A message that could not be delivered, with the reason (shown to the coordinator)."""

    delivery_id: int
    supporter_id: int | None
    supporter_name: str
    channel: str
    address: str
    reason: str
    at: datetime | None


@dataclass
class AlertSummary:
    """Who was told, who opened, who answered what; how the messages went."""

    told: int = 0
    opened: int = 0
    searching: int = 0
    cannot: int = 0
    unanswered: int = 0
    deliveries_sent: int = 0
    deliveries_pending: int = 0  # queued, retrying, or a later escalation step waiting
    deliveries_failed: int = 0
    deliveries_skipped: int = 0  # escalation steps not needed (opened, answered, closed)
    failures: list[DeliveryFailure] = field(default_factory=list)


MAX_FAILURES_LISTED = 200


def alert_summary(alert: Alert) -> AlertSummary:
    """Counts for the coordinator's page (a few aggregate queries, no rows loaded)."""
    summary = AlertSummary()
    row = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count(AlertRecipient.opened_at),
            sa.func.count(sa.case((AlertRecipient.answer == Acknowledgement.searching, 1))),
            sa.func.count(sa.case((AlertRecipient.answer == Acknowledgement.cannot, 1))),
        ).where(AlertRecipient.alert_id == alert.id)
    ).one()
    summary.told, summary.opened, summary.searching, summary.cannot = (int(v) for v in row)
    summary.unanswered = summary.told - summary.searching - summary.cannot
    for status, count in db.session.execute(
        sa.select(Delivery.status, sa.func.count())
        .where(
            Delivery.topic == TOPIC,
            Delivery.topic_id == alert.id,
            Delivery.supporter_id.is_not(None),
        )
        .group_by(Delivery.status)
    ):
        if status == DeliveryStatus.sent:
            summary.deliveries_sent += count
        elif status == DeliveryStatus.failed:
            summary.deliveries_failed += count
        elif status == DeliveryStatus.skipped:
            summary.deliveries_skipped += count
        else:
            summary.deliveries_pending += count
    failed = db.session.execute(
        sa.select(
            Delivery.id,
            Delivery.supporter_id,
            Supporter.name,
            Delivery.channel,
            Delivery.address,
            Delivery.last_error,
            Delivery.created_at,
        )
        .outerjoin(Supporter, Supporter.id == Delivery.supporter_id)
        .where(
            Delivery.topic == TOPIC,
            Delivery.topic_id == alert.id,
            Delivery.status == DeliveryStatus.failed,
        )
        .order_by(Delivery.id)
        .limit(MAX_FAILURES_LISTED)
    )
    summary.failures = [
        DeliveryFailure(
            delivery_id=d_id,
            supporter_id=s_id,
            supporter_name=s_name or "",
            channel=str(channel),
            address=address,
            reason=error or "",
            at=at,
        )
        for d_id, s_id, s_name, channel, address, error, at in failed
    ]
    return summary


__all__ = [
    "STAFF",
    "AlertInput",
    "AlertSummary",
    "DeliveryFailure",
    "acknowledge_alert",
    "alert_summary",
    "answer_from_channel",
    "close_alert",
    "emit_alert_event",
    "mark_opened",
    "override_radius",
    "recentre_alert",
    "recipient_by_token",
    "record_alert_opened",
    "remind_unanswered",
    "review_sighting",
    "start_alert",
    "widen_alert",
]


# --- Escalation and retention (run by the scheduler's jobs in watchnet/jobs/alerts.py) ---


def _district_coordinators(district_id: int) -> list[StaffUser]:
    """The active coordinators of a district, in id order."""
    return list(
        db.session.scalars(
            sa.select(StaffUser)
            .join(staff_district, staff_district.c.staff_id == StaffUser.id)
            .where(
                staff_district.c.district_id == district_id,
                StaffUser.role == StaffRole.coordinator,
                StaffUser.is_active.is_(True),
            )
            .order_by(StaffUser.id)
        )
    )


def escalate_short_search(alert: Alert, at: datetime, *, actor: str) -> int:
    """Tell the district's coordinators, once per alert, that fewer than ALERT_MIN_SEARCHERS
    are searching; returns how many were told (0 when enough search or they were told)."""
    counts = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count(sa.case((AlertRecipient.answer == Acknowledgement.searching, 1))),
        ).where(AlertRecipient.alert_id == alert.id)
    ).one()
    told, searching = int(counts[0]), int(counts[1])
    if searching >= int(current_app.config["ALERT_MIN_SEARCHERS"]):
        return 0
    # Claim: the coordinators are told once per alert, however often the job runs.
    claimed = db.session.execute(
        sa.update(Alert)
        .where(
            Alert.id == alert.id, Alert.escalated_at.is_(None), Alert.status == AlertStatus.active
        )
        .values(escalated_at=at)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    db.session.refresh(alert)
    if not claimed:
        return 0
    coordinators = _district_coordinators(alert.district_id)
    for staff in coordinators:
        with force_locale(recipient_locale(staff.locale)):
            subject, body = messages.escalation_message(alert, told=told, searching=searching)
        notify_staff(
            staff,
            key=f"alert:{alert.id}:escalate",
            subject=subject,
            body=body,
            topic="alert",
            topic_id=alert.id,
            district_id=alert.district_id,
        )
    emit_alert_event(
        alert.id,
        "escalated",
        {"told": told, "searching": searching, "coordinators": len(coordinators)},
        actor=actor,
    )
    record_audit(
        "escalate_alert",
        "alert",
        alert.id,
        district_id=alert.district_id,
        actor=actor,
        told=told,
        searching=searching,
        coordinators=[s.id for s in coordinators],
    )
    db.session.flush()
    return len(coordinators)


# The description fields blanked by the retention job (the registry keeps its own copy).
_BLANKED: dict[str, Any] = {
    "display_name": "",
    "name_kana": "",
    "age": None,
    "sex": Sex.unknown,
    "height_cm": None,
    "build": Build.unknown,
    "hair": "",
    "features": "",
    "clothing_today": "",
    "belongings": "",
    "handling_notes": "",
    "last_seen_place": "",
    "police_case_number": "",
    "found_place": "",
    "found_condition": "",
    "close_note": "",
    "share_photo": False,
}


def purge_alert_data(alert: Alert, at: datetime, *, actor: str) -> int:
    """Delete a closed alert's positions, sightings and sector claims and blank its description
    (once: a conditional UPDATE claims it); returns 1 if this call purged it."""
    claimed = db.session.execute(
        sa.update(Alert)
        .where(Alert.id == alert.id, Alert.purged_at.is_(None), Alert.status != AlertStatus.active)
        .values(purged_at=at, **_BLANKED)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    db.session.refresh(alert)
    if not claimed:
        return 0
    deleted = {}
    for name, model in (
        ("positions", SearchPosition),
        ("sightings", Sighting),
        ("sector_claims", SearchSectorClaim),
        ("walked_sectors", WalkedSector),
    ):
        deleted[name] = int(
            db.session.execute(
                sa.delete(model)
                .where(model.alert_id == alert.id)  # type: ignore[attr-defined]
                .execution_options(synchronize_session=False)
            ).rowcount
            or 0
        )
    # The messages carried the description too: keep the delivery record, drop the text.
    db.session.execute(
        sa.update(Delivery)
        .where(
            Delivery.topic == "alert",
            Delivery.topic_id == alert.id,
            Delivery.status.in_([DeliveryStatus.sent, DeliveryStatus.failed]),
        )
        .values(body="")
        .execution_options(synchronize_session=False)
    )
    record_audit(
        "purge_alert",
        "alert",
        alert.id,
        district_id=alert.district_id,
        actor=actor,
        **deleted,
    )
    db.session.flush()
    return 1
