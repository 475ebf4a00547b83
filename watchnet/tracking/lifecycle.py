"""The drill's life: start (planned → live), end (live → ended), automatic scheduling and the
reminder the day before.

Status changes are conditional UPDATEs (`... WHERE status = 'planned'`), so an organizer's
click and the scheduler process (or two schedulers, or two clicks) never both act: the loser
sees no row changed and is told the drill's real status. Every function flushes and leaves the
commit to the caller (view, job or CLI command).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from watchnet.audit.services import record_audit
from watchnet.core.dbtypes import utcnow
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.i18n import recipient_locale
from watchnet.core.timefmt import format_formal_date, format_time_range, to_local
from watchnet.drills.models import Drill, DrillStatus, Participant
from watchnet.people.notify import notify_supporter
from watchnet.tracking.events import DRILL, emit
from watchnet.tracking.services import close_open_help_calls

REMINDER_TOPIC = "drill_reminder"


def _status_message(drill: Drill, wanted: DrillStatus) -> LazyString:
    """Why a drill in its current status cannot move to `wanted` (lazy: the scheduler process
    has no request to pick a language from, and only shows it if someone reads it)."""
    if drill.status == DrillStatus.live:
        return (
            _l("This drill is already live.")
            if wanted == DrillStatus.live
            else _l("This drill is live; it can only be ended.")
        )
    if drill.status == DrillStatus.ended:
        return _l("This drill has already ended.")
    return _l("This drill has not started yet.")


def _move(drill: Drill, source: DrillStatus, target: DrillStatus, stamp: str, at: datetime) -> bool:
    """Change the status only if it still is `source`; True when this call made the change."""
    result = db.session.execute(
        sa.update(Drill)
        .where(Drill.id == drill.id, Drill.status == source)
        .values(status=target, **{stamp: at}, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(drill)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def planned_for_another_day(drill: Drill, now: datetime | None = None) -> bool:
    """Whether today (local time) is not the drill's planned day."""
    today = to_local(now or utcnow()).date()
    return to_local(drill.starts_at).date() != today


def start_drill(drill: Drill, *, actor: str | None = None, now: datetime | None = None) -> Drill:
    """Make a planned drill live: phones may share positions and log steps from now on."""
    at = now or utcnow()
    if not _move(drill, DrillStatus.planned, DrillStatus.live, "started_at", at):
        raise UserInputError(_status_message(drill, DrillStatus.live))
    emit(
        drill.id,
        "drill_status",
        {"status": DrillStatus.live.value, "at": at.isoformat()},
        audience=DRILL,
    )
    record_audit("drill.started", "drill", drill.id, drill.district_id, actor=actor)
    db.session.flush()
    return drill


def end_drill(drill: Drill, *, actor: str | None = None, now: datetime | None = None) -> Drill:
    """End a live drill: no more positions, steps or help calls are taken, and the help calls
    still open end with it (every open page hears of each)."""
    at = now or utcnow()
    if not _move(drill, DrillStatus.live, DrillStatus.ended, "finished_at", at):
        raise UserInputError(_status_message(drill, DrillStatus.ended))
    close_open_help_calls(drill.id, now=at)
    emit(
        drill.id,
        "drill_status",
        {"status": DrillStatus.ended.value, "at": at.isoformat()},
        audience=DRILL,
    )
    record_audit("drill.ended", "drill", drill.id, drill.district_id, actor=actor)
    db.session.flush()
    return drill


def schedule_drill(drill: Drill, is_auto_scheduled: bool, *, actor: str | None = None) -> Drill:
    """Let the scheduler process start the drill at starts_at and end it at ends_at (or not)."""
    if drill.status == DrillStatus.ended:
        raise UserInputError(_l("This drill has already ended."))
    if drill.is_auto_scheduled != is_auto_scheduled:
        drill.is_auto_scheduled = is_auto_scheduled
        record_audit(
            "drill.scheduled" if is_auto_scheduled else "drill.unscheduled",
            "drill",
            drill.id,
            drill.district_id,
            actor=actor,
        )
    db.session.flush()
    return drill


def _reminder_text(drill: Drill, name: str) -> tuple[str, str]:
    times = format_time_range(drill.starts_at, drill.ends_at)
    when = f"{format_formal_date(drill.starts_at)} {times}"
    subject = _("Reminder: %(title)s tomorrow", title=drill.title)
    lines = [
        _("Dear %(name)s,", name=name),
        "",
        _("This is a reminder of the drill you take part in:"),
        "",
        f"{drill.title}",
        _("When: %(when)s", when=when),
    ]
    if drill.meeting_place:
        lines.append(_("Meeting place: %(place)s", place=drill.meeting_place))
    if drill.contact_phone:
        lines.append(
            _(
                "Number to call on the day: %(phone)s %(whom)s",
                phone=drill.contact_phone,
                whom=drill.contact_label,
            ).rstrip()
        )
    lines += ["", _("On the day, open your personal link on your phone. Thank you.")]
    return subject, "\n".join(lines)


def send_drill_reminders(drill: Drill) -> int:
    """Queue the day-before reminder to every participant (in their language); idempotent
    per drill and supporter through the outbox's dedupe key "reminder:<drill_id>"."""
    participants = db.session.scalars(
        sa.select(Participant).where(Participant.drill_id == drill.id).order_by(Participant.id)
    )
    queued = 0
    for participant in participants:
        supporter = participant.supporter
        if not supporter.is_active:
            continue
        with force_locale(recipient_locale(supporter.locale)):
            subject, body = _reminder_text(drill, supporter.name)
        queued += notify_supporter(
            supporter,
            key=f"reminder:{drill.id}",
            kind="drill_reminder",
            subject=subject,
            body=body,
            topic=REMINDER_TOPIC,
            topic_id=drill.id,
        )
    drill.reminder_sent_at = drill.reminder_sent_at or utcnow()
    db.session.flush()
    return queued
