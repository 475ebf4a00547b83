"""What the coordinator's alert page shows: one JSON-able state (recipients, deliveries,
sectors, searchers, sightings, timeline) that the page renders first and then polls while the
search runs, and the search map's data built from it.

Read-only: a few queries per call, no lazy relationships walked in loops. Everything comes
from the database, so the page served by any web worker sees what every other worker wrote;
the version is the newest AlertEvent id (every change — answers, positions, sightings,
sectors, widening — adds one).
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, TypedDict

import sqlalchemy as sa
from flask import current_app, g, url_for
from flask_babel import get_locale, gettext
from flask_babel import gettext as _
from werkzeug.routing import BuildError

from watchnet.alerts import sectors
from watchnet.alerts.events import ALERT_EVENTS, ALL, STAFF
from watchnet.alerts.models import (
    Alert,
    AlertEvent,
    AlertRecipient,
    AlertStatus,
    SearchPosition,
    Sighting,
)
from watchnet.alerts.services import TOPIC, DeliveryFailure, alert_summary
from watchnet.alerts.staff.forms import (
    ANSWER_LABELS,
    CERTAINTY_LABELS,
    DIRECTION_LABELS,
    SIGHTING_STATUS_LABELS,
    STATUS_LABELS,
)
from watchnet.alerts.targeting import (
    RadiusStep,
    effective_radius_m,
    find_targets,
    next_step,
    radius_schedule,
    ring_source,
    scheduled_radius_m,
)
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.core.timefmt import format_time, to_local
from watchnet.districts.models import Landmark
from watchnet.maps.alert_maps import (
    AlertMapData,
    Place,
    Ring,
    Searcher,
    Sector,
    SightingMark,
    format_km,
)
from watchnet.notifications.models import Delivery, DeliveryChannel, DeliveryStatus
from watchnet.people.models import (
    LineLink,
    NotificationAddress,
    PhoneChannel,
    PushSubscription,
    Supporter,
)
from watchnet.registry.models import PersonPhoto, UsualPlace

RECIPIENTS_LISTED = 500  # the counts cover everyone; the table shows the first ones
TIMELINE_SIZE = 100
# Position events are many and say little on their own: the map shows them.
TIMELINE_HIDDEN = ("search_position",)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def last_event_id(alert_id: int) -> int:
    """The newest event of the alert (0 when none): the state's version."""
    return ALERT_EVENTS.latest_id(alert_id)


def state_version(alert_id: int) -> str:
    """What changes whenever the page should redraw: the newest event, and the outbox rows
    of the alert (the dispatcher's attempts and outcomes add no events)."""
    row = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(Delivery.attempts), 0),
            sa.func.count(sa.case((Delivery.status == DeliveryStatus.sent, 1))),
            sa.func.count(sa.case((Delivery.status == DeliveryStatus.failed, 1))),
            sa.func.count(sa.case((Delivery.status == DeliveryStatus.sending, 1))),
            sa.func.max(Delivery.next_attempt_at),
            # What channels report back without an event: delivered (an SMS status callback),
            # opened on a channel, escalation steps skipped.
            sa.func.count(Delivery.delivered_at),
            sa.func.count(Delivery.opened_at),
            sa.func.count(sa.case((Delivery.status == DeliveryStatus.skipped, 1))),
        ).where(Delivery.topic == TOPIC, Delivery.topic_id == alert_id)
    ).one()
    count, attempts, sent, failed, sending, next_at, delivered, opened, skipped = row
    stamp = int(next_at.timestamp()) if next_at is not None else 0
    return (
        f"{last_event_id(alert_id)}.{int(count)}.{int(attempts)}.{int(sent)}."
        f"{int(failed)}.{int(sending)}.{stamp}.{int(delivered)}.{int(opened)}.{int(skipped)}"
    )


def ring_label(radius_m: float) -> str:
    """ "1.2 km：<the statistic it comes from>"."""
    return _("%(distance)s: %(source)s", distance=format_km(radius_m), source=ring_source(radius_m))


class RingRow(TypedDict):
    """A search ring as the dashboard's JSON and map_data read it."""

    radius_m: float
    minutes: int | None
    label: str
    current: bool


def rings(alert: Alert) -> list[RingRow]:
    """The schedule's rings (plus the coordinator's own radius), the current one marked."""
    current = sectors.search_radius_m(alert)
    out: list[RingRow] = []
    seen: set[int] = set()
    for step in radius_schedule():
        key = round(step.radius_m)
        if key in seen:
            continue
        seen.add(key)
        out.append(
            {
                "radius_m": step.radius_m,
                "minutes": step.minutes,
                "label": ring_label(step.radius_m),
                "current": key == round(current),
            }
        )
    if round(current) not in seen and current > 0:
        out.append(
            {
                "radius_m": current,
                "minutes": None,
                "current": True,
                "label": _("%(distance)s: set by the coordinator", distance=format_km(current)),
            }
        )
    return sorted(out, key=lambda r: r["radius_m"])


def _names(supporter_ids: set[int]) -> dict[int, str]:
    if not supporter_ids:
        return {}
    return dict(
        db.session.execute(
            sa.select(Supporter.id, Supporter.name).where(Supporter.id.in_(supporter_ids))
        ).all()
    )


def recipients(alert: Alert) -> list[dict[str, Any]]:
    """Who was told: searching first, then cannot, then not answered; nearest first."""
    order = sa.case(
        (AlertRecipient.answer == "searching", 0), (AlertRecipient.answer == "cannot", 1), else_=2
    )
    rows = db.session.execute(
        sa.select(
            AlertRecipient.id,
            AlertRecipient.supporter_id,
            Supporter.name,
            AlertRecipient.distance_m,
            AlertRecipient.matched_by,
            AlertRecipient.targeted_at,
            AlertRecipient.opened_at,
            AlertRecipient.opened_via,
            AlertRecipient.answer,
            AlertRecipient.answered_at,
            AlertRecipient.answered_via,
            AlertRecipient.reminded_at,
        )
        .join(Supporter, Supporter.id == AlertRecipient.supporter_id)
        .where(AlertRecipient.alert_id == alert.id)
        .order_by(order, AlertRecipient.distance_m, AlertRecipient.id)
        .limit(RECIPIENTS_LISTED)
    )
    channels = channel_labels()
    no_answer = _("No answer yet")
    answers = {k: str(v) for k, v in ANSWER_LABELS.items()}
    return [
        {
            "id": rid,
            "supporter_id": sid,
            "name": name,
            "distance_m": round(distance),
            "matched_by": matched_by,
            "told_at": _iso(told),
            "opened_at": _iso(opened),
            "opened_via": opened_via or None,
            "opened_via_label": channels.get(opened_via, ""),
            "answer": answer.value if answer else None,
            "answer_label": answers[answer] if answer else no_answer,
            "answered_at": _iso(answered),
            "answered_via": answered_via or None,
            "answered_via_label": channels.get(answered_via, ""),
            "reminded_at": _iso(reminded),
        }
        for (
            rid,
            sid,
            name,
            distance,
            matched_by,
            told,
            opened,
            opened_via,
            answer,
            answered,
            answered_via,
            reminded,
        ) in rows
    ]


def channel_labels() -> dict[str, str]:
    """The channels in plain words, by their value ("line" -> "LINE")."""
    return {c.value: label for c, label in _words().channels.items()}


# ---------------------------------------------------------------------------------------------
# Delivery trouble: attempts and last error per message, messages being retried, supporters
# nobody can reach. Read from the outbox rows (the dispatcher writes them; nothing here does).

# The dispatcher's reasons (watchnet/notifications/transports.py, watchnet/jobs/deliveries.py)
# in plain words. First match wins: "webhook unreachable: [Errno 111] Connection refused" is a
# refused connection, not an unknown host.
_ERROR_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # What the SMS/voice gateway's status reports say (notifications/twilio_views.py) and a
    # push subscription the push service no longer knows (the phone turned it off).
    ("not_delivered", re.compile(r"SMS was not delivered", re.I)),
    ("busy", re.compile(r"line was busy", re.I)),
    ("no_answer", re.compile(r"nobody answered", re.I)),
    ("gone", re.compile(r"push service answered HTTP (?:404|410)\b", re.I)),
    ("refused", re.compile(r"connection refused|errno 111\b|econnrefused", re.I)),
    ("timeout", re.compile(r"timed out|timeout", re.I)),
    ("http_5xx", re.compile(r"\bHTTP (5\d\d)\b")),
    (
        "rejected",
        re.compile(
            r"\bHTTP (4\d\d)\b|recipient refused|not a usable notification "
            r"address|\bSMTP (5\d\d)\b|login refused",
            re.I,
        ),
    ),
    (
        "unreachable",
        re.compile(
            r"unreachable|name or service not known|no route to host|"
            r"name resolution|nodename nor servname|network is down",
            re.I,
        ),
    ),
)
RAW_ERROR_SHOWN = 300  # characters of the dispatcher's own text, under the plain words


def classify_error(text: str | None) -> tuple[str, str | None]:
    """(kind, HTTP or SMTP code) of a delivery error: not_delivered | busy | no_answer |
    gone | refused | timeout | http_5xx | rejected | unreachable | other ("" without an
    error)."""
    if not text:
        return "", None
    for kind, pattern in _ERROR_PATTERNS:
        match = pattern.search(text)
        if match:
            code = next((g for g in match.groups() if g), None)
            return kind, code
    return "other", None


def error_label(kind: str, code: str | None = None) -> str:
    """The plain words for a kind of delivery error."""
    return _words().error(kind, code)


class _DeliveryWords:
    """The translated words of the delivery column, looked up once per page (a state lists
    hundreds of messages; a gettext call per message and word adds up)."""

    def __init__(self) -> None:
        self.errors = {
            "refused": _("Connection refused"),
            "timeout": _("No answer in time (timeout)"),
            "unreachable": _("The address cannot be reached"),
            "other": _("Another error"),
            "rejected": _("Address rejected"),
            "not_delivered": _("The SMS did not arrive"),
            "busy": _("The line was busy"),
            "no_answer": _("Nobody answered the call"),
            "gone": _("The phone no longer takes these notifications (switched off)"),
        }
        self.http_5xx = gettext("The receiving server has a fault (HTTP %(code)s)")
        self.rejected_code = gettext("Address rejected (%(code)s)")
        # The same words as the practice call's reach table (practice_calls/reach.py).
        self.channels = {
            DeliveryChannel.push: _("Push notification"),
            DeliveryChannel.line: _("LINE"),
            DeliveryChannel.email: _("Mail"),
            DeliveryChannel.webhook: _("Notification app"),
            DeliveryChannel.sms: _("SMS"),
            DeliveryChannel.voice: _("Automated phone call"),
        }
        self.delivered_at = gettext("Delivered %(time)s")
        self.delivered = _("Delivered")
        # What came back from the channel after sending (reach), appended to "Delivered".
        self.arrived_at = gettext("arrived %(time)s")
        self.opened_at = gettext("opened %(time)s")
        self.answered_at = gettext("answered %(time)s")
        self.escalation_at = gettext("will be sent at %(time)s if not opened by then")
        self.skipped = _("Not sent: no longer needed")
        self.failed = gettext("Not delivered (%(n)s attempts): %(error)s")
        self.retrying_now = gettext("Retrying now (%(n)s attempts so far): %(error)s")
        self.retrying = gettext("Retrying (%(n)s attempts so far, next at %(time)s): %(error)s")
        self.sending = _("Sending…")
        self.waiting = _("Waiting to send")

    def error(self, kind: str, code: str | None) -> str:
        if kind == "http_5xx":
            return self.http_5xx % {"code": code or "5xx"}
        if kind == "rejected" and code:
            return self.rejected_code % {"code": code}
        return self.errors.get(kind, "")

    def status(
        self,
        status: DeliveryStatus,
        attempts: int,
        error: str,
        next_at: datetime,
        sent_at: datetime | None,
        *,
        escalation: bool = False,
    ) -> str:
        if status == DeliveryStatus.sent:
            return self.delivered_at % {"time": format_time(sent_at)} if sent_at else self.delivered
        if status == DeliveryStatus.failed:
            return self.failed % {"n": attempts, "error": error}
        if status == DeliveryStatus.skipped:
            return self.skipped
        if escalation and status == DeliveryStatus.pending and not attempts:
            return self.escalation_at % {"time": format_time(next_at)}
        if error:
            if status == DeliveryStatus.sending:
                return self.retrying_now % {"n": attempts, "error": error}
            return self.retrying % {"n": attempts, "time": format_time(next_at), "error": error}
        return self.sending if status == DeliveryStatus.sending else self.waiting

    def reach(
        self,
        delivered_at: datetime | None,
        opened_at: datetime | None,
        answered_at: datetime | None,
    ) -> str:
        """ "arrived 12:01 · opened 12:03 · answered 12:04" (the parts the channel reported)."""
        parts = []
        if delivered_at is not None:
            parts.append(self.arrived_at % {"time": format_time(delivered_at)})
        if opened_at is not None:
            parts.append(self.opened_at % {"time": format_time(opened_at)})
        if answered_at is not None:
            parts.append(self.answered_at % {"time": format_time(answered_at)})
        return " · ".join(parts)


def _words() -> _DeliveryWords:
    """The delivery words in the current language, made once per request (the state's parts
    each need them)."""
    key = f"_delivery_words:{get_locale()}"
    words: _DeliveryWords | None = g.get(key)
    if words is None:
        words = _DeliveryWords()
        setattr(g, key, words)
    return words


def _is_retrying(status: DeliveryStatus, attempts: int, last_error: str | None) -> bool:
    """Tried, failed for a passing reason, and waiting (or being sent) for the next try."""
    return (
        status in (DeliveryStatus.pending, DeliveryStatus.sending)
        and attempts >= 1
        and bool(last_error)
    )


def recipient_deliveries(alert: Alert, supporter_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Per supporter, the newest message to each of their addresses, in the order of the
    escalation: status, attempts so far, the last error in plain words (and, for the alert's
    own district only, the raw text), what the channel reported back (arrived, opened,
    answered), and an escalation step's time ("SMS: 12:05に送ります…") or that it was not
    needed."""
    if not supporter_ids:
        return {}
    rows = db.session.execute(
        sa.select(
            Delivery.id,
            Delivery.supporter_id,
            Delivery.channel,
            Delivery.address,
            Delivery.status,
            Delivery.attempts,
            Delivery.last_error,
            Delivery.next_attempt_at,
            Delivery.sent_at,
            Supporter.district_id,
            Delivery.tier,
            Delivery.chain_key,
            Delivery.delivered_at,
            Delivery.opened_at,
            Delivery.answered_at,
        )
        .join(Supporter, Supporter.id == Delivery.supporter_id)
        .where(
            Delivery.topic == TOPIC,
            Delivery.topic_id == alert.id,
            Delivery.supporter_id.in_(supporter_ids),
        )
        .order_by(Delivery.supporter_id, Delivery.id.desc())
    )
    words = _words()
    out: dict[int, list[dict[str, Any]]] = {}
    seen: set[tuple[int | None, str, str]] = set()
    for (
        d_id,
        sid,
        channel,
        address,
        status,
        attempts,
        last_error,
        next_at,
        sent_at,
        district_id,
        tier,
        chain_key,
        delivered_at,
        opened_at,
        answered_at,
    ) in rows:
        if (sid, channel, address) in seen:
            continue  # an older message to the same address (the reminder is newer)
        seen.add((sid, channel, address))
        kind, code = classify_error(last_error)
        error = words.error(kind, code)
        own = district_id == alert.district_id
        retrying = _is_retrying(status, attempts, last_error)
        escalation = bool(chain_key) and tier > 0
        waiting_step = escalation and status == DeliveryStatus.pending and not attempts
        out.setdefault(int(sid or 0), []).append(
            {
                "id": d_id,
                "channel": channel.value,
                "channel_label": words.channels[channel],
                "status": status.value,
                "tier": tier,
                "attempts": attempts,
                "retrying": retrying,
                "error_kind": kind,
                "error_label": error,
                # Another district's supporter: plain words only (the raw text may name their
                # address or their provider's reply).
                "error_raw": (last_error or "")[:RAW_ERROR_SHOWN] if own else "",
                "next_attempt_at": _iso(next_at) if retrying or waiting_step else None,
                "waiting_step": waiting_step,
                "label": words.status(
                    status, attempts, error, next_at, sent_at, escalation=escalation
                ),
                "reach": words.reach(delivered_at, opened_at, answered_at),
                "trouble": retrying or status == DeliveryStatus.failed,
            }
        )
    for lines in out.values():
        lines.sort(key=lambda d: (d["tier"], d["id"]))
    return out


class ReachCounts(TypedDict):
    """The counts at the top of the coordinator's page (everyone told, not only those listed)."""

    told: int
    reached: int  # some message was handed to a channel (sent)
    opened: int
    answered: int
    unreachable: int  # no working channel (the list below names the first ones)
    by_channel: list[dict[str, Any]]  # per channel: supporters reached, opened there


def reach_counts(alert: Alert, summary: Any, unreachable: int) -> ReachCounts:
    """Reached / opened / answered / not reachable, and per channel who was reached and who
    opened from it: two aggregate queries over the alert's outbox rows, whatever their
    number."""
    base = (
        Delivery.topic == TOPIC,
        Delivery.topic_id == alert.id,
        Delivery.supporter_id.is_not(None),
    )
    reached = int(
        db.session.scalar(
            sa.select(sa.func.count(sa.distinct(Delivery.supporter_id))).where(
                *base, Delivery.status == DeliveryStatus.sent
            )
        )
        or 0
    )
    sent = sa.case((Delivery.status == DeliveryStatus.sent, Delivery.supporter_id))
    opened_here = sa.case((Delivery.opened_at.is_not(None), Delivery.supporter_id))
    rows = db.session.execute(
        sa.select(
            Delivery.channel,
            sa.func.count(sa.distinct(sent)),
            sa.func.count(sa.distinct(opened_here)),
        )
        .where(*base)
        .group_by(Delivery.channel)
    ).all()
    words = _words()
    found = {channel: (int(r), int(o)) for channel, r, o in rows}
    line = gettext("%(channel)s: reached %(reached)s, opened %(opened)s")
    return {
        "told": summary.told,
        "reached": reached,
        "opened": summary.opened,
        "answered": summary.searching + summary.cannot,
        "unreachable": unreachable,
        "by_channel": [
            {
                "channel": channel.value,
                "label": label,
                "reached": found[channel][0],
                "opened": found[channel][1],
                "text": line
                % {"channel": label, "reached": found[channel][0], "opened": found[channel][1]},
            }
            for channel, label in words.channels.items()
            if channel in found
        ],
    }


def retrying_summary(alert: Alert) -> dict[str, Any]:
    """How many of the alert's messages are being retried, and when the next try is."""
    count, next_at = db.session.execute(
        sa.select(sa.func.count(), sa.func.min(Delivery.next_attempt_at)).where(
            Delivery.topic == TOPIC,
            Delivery.topic_id == alert.id,
            Delivery.supporter_id.is_not(None),
            Delivery.status.in_((DeliveryStatus.pending, DeliveryStatus.sending)),
            Delivery.attempts >= 1,
            Delivery.last_error.is_not(None),
            Delivery.last_error != "",
        )
    ).one()
    count = int(count or 0)
    text = ""
    if count:
        text = _(
            "%(n)s messages could not be delivered yet and are being retried. Next try "
            "at %(time)s.",
            n=count,
            time=format_time(next_at),
        )
    return {"count": count, "next_attempt_at": _iso(next_at) if count else None, "text": text}


UNREACHABLE_LISTED = 200


def _waiting_first_try() -> sa.ColumnElement[bool]:
    """Queued or being sent and not failed yet: not trouble (yet)."""
    return sa.and_(
        Delivery.status.in_((DeliveryStatus.pending, DeliveryStatus.sending)),
        sa.or_(Delivery.last_error.is_(None), Delivery.last_error == ""),
    )


def _delivery_counts(alert: Alert) -> sa.Select[int | None, int, int, int, int, int]:
    """Per supporter: messages, sent, failed, waiting for a first try (not trouble yet, an
    escalation step too) and skipped (steps not needed)."""
    waiting = _waiting_first_try()
    return (
        sa.select(
            Delivery.supporter_id,
            sa.func.count().label("total"),
            sa.func.count(sa.case((Delivery.status == DeliveryStatus.sent, 1))).label("sent"),
            sa.func.count(sa.case((Delivery.status == DeliveryStatus.failed, 1))).label("failed"),
            sa.func.count(sa.case((waiting, 1))).label("waiting"),
            sa.func.count(sa.case((Delivery.status == DeliveryStatus.skipped, 1))).label("skipped"),
        )
        .where(
            Delivery.topic == TOPIC,
            Delivery.topic_id == alert.id,
            Delivery.supporter_id.is_not(None),
        )
        .group_by(Delivery.supporter_id)
    )


def _with_any_channel(ids: list[int]) -> set[int]:
    """Those of `ids` who have a channel at all, switched on or off (an e-mail address, a
    notification address, a phone app, LINE, a phone number)."""
    queries = [
        sa.select(NotificationAddress.supporter_id).where(
            NotificationAddress.supporter_id.in_(ids)
        ),
        sa.select(PushSubscription.supporter_id).where(PushSubscription.supporter_id.in_(ids)),
        sa.select(LineLink.supporter_id).where(LineLink.supporter_id.in_(ids)),
        sa.select(PhoneChannel.supporter_id).where(PhoneChannel.supporter_id.in_(ids)),
        sa.select(Supporter.id).where(
            Supporter.id.in_(ids), Supporter.email.is_not(None), Supporter.email != ""
        ),
    ]
    return set(db.session.scalars(sa.union(*queries)))


def unreachable_supporters(alert: Alert) -> tuple[list[dict[str, Any]], int]:
    """Told supporters with no working channel, the first UNREACHABLE_LISTED of them and how
    many in all: no channel for this kind of message (none registered, every one switched
    off, or none in CHANNEL_CHAINS), or every message failed or waiting for a retry (a later
    escalation step still to come is not trouble yet). The coordinator phones them. Phone
    numbers only for the alert's own district (another district's coordinators hold theirs).

    Plain IN / NOT IN subqueries (hashed by the database), no join on grouped subqueries:
    with 10,000 recipients a join of aggregates took PostgreSQL seconds. The total comes with
    the rows (a window count), not from a second pass."""
    counts = _delivery_counts(alert)
    troubled = counts.with_only_columns(Delivery.supporter_id).having(
        sa.func.count(sa.case((Delivery.status == DeliveryStatus.sent, 1))) == 0,
        sa.func.count(sa.case((_waiting_first_try(), 1))) == 0,
    )
    # Every message the fan-out wrote for the alert; a supporter without one has no channel
    # this kind of message goes out on. (supporter_id IS NOT NULL: NOT IN over a NULL is
    # never true, and the coordinators' escalation e-mails have no supporter.)
    told_somewhere = (
        sa.select(Delivery.supporter_id)
        .where(
            Delivery.topic == TOPIC,
            Delivery.topic_id == alert.id,
            Delivery.supporter_id.is_not(None),
        )
        .distinct()
    )
    rows = db.session.execute(
        sa.select(
            Supporter.id,
            Supporter.name,
            Supporter.phone,
            Supporter.district_id,
            sa.func.count().over().label("total"),
        )
        .select_from(AlertRecipient)
        .join(Supporter, Supporter.id == AlertRecipient.supporter_id)
        .where(
            AlertRecipient.alert_id == alert.id,
            sa.or_(
                AlertRecipient.supporter_id.in_(troubled),
                AlertRecipient.supporter_id.not_in(told_somewhere),
            ),
        )
        .order_by(AlertRecipient.distance_m, AlertRecipient.id)
        .limit(UNREACHABLE_LISTED)
    ).all()
    if not rows:
        return [], 0
    total_unreachable = int(rows[0][4])
    ids = [r[0] for r in rows]
    per = {
        sid: (total, failed, skipped)
        for sid, total, _sent, failed, _waiting, skipped in db.session.execute(
            counts.where(Delivery.supporter_id.in_(ids))
        )
    }
    with_channels = _with_any_channel(ids)
    out = []
    for sid, name, phone, district_id, _total in rows:
        total, failed, skipped = per.get(sid, (0, 0, 0))
        if total and failed and failed + skipped == total:
            reason, label = "failed", _("Every message failed")
        elif total:
            reason, label = "retrying", _("Messages are being retried; none arrived yet")
        elif sid in with_channels:
            reason, label = "disabled", _("Every channel is switched off or not used for alerts")
        else:
            reason, label = "none", _("No channel registered (e-mail, app, LINE, phone)")
        own = district_id == alert.district_id
        out.append(
            {
                "supporter_id": sid,
                "name": name,
                "reason": reason,
                "reason_label": label,
                "phone": (phone or "") if own else "",
                "other_district": not own,
            }
        )
    return out, total_unreachable


class SearcherRow(TypedDict):
    supporter_id: int
    name: str
    lat: float
    lon: float
    recorded_at: str | None  # ISO time


def searchers(alert: Alert) -> list[SearcherRow]:
    """Each searcher's latest shared position."""
    newest = (
        sa.select(sa.func.max(SearchPosition.id))
        .where(SearchPosition.alert_id == alert.id)
        .group_by(SearchPosition.supporter_id)
    )
    rows = db.session.execute(
        sa.select(
            SearchPosition.supporter_id,
            Supporter.name,
            SearchPosition.lat,
            SearchPosition.lon,
            SearchPosition.recorded_at,
        )
        .join(Supporter, Supporter.id == SearchPosition.supporter_id)
        .where(SearchPosition.id.in_(newest))
        .order_by(SearchPosition.supporter_id)
    )
    return [
        {"supporter_id": sid, "name": name, "lat": lat, "lon": lon, "recorded_at": _iso(at)}
        for sid, name, lat, lon, at in rows
    ]


class SightingRow(TypedDict):
    id: int
    seen_at: str | None  # ISO time
    received_at: str | None  # ISO time: when the report arrived (the list's order)
    lat: float
    lon: float
    direction: str
    direction_label: str
    certainty: str
    certainty_label: str
    description: str
    status: str
    status_label: str
    recentred: bool
    has_photo: bool
    reporter: str


def sightings(alert: Alert) -> list[SightingRow]:
    """Every sighting, the newest report first (a report that arrives now goes on top even
    when it tells of an earlier moment), without photo bytes."""
    rows = db.session.execute(
        sa.select(
            Sighting.id,
            Sighting.seen_at,
            Sighting.received_at,
            Sighting.lat,
            Sighting.lon,
            Sighting.direction,
            Sighting.certainty,
            Sighting.description,
            Sighting.status,
            Sighting.recentred,
            Sighting.photo.is_not(None),
            Supporter.name,
        )
        .outerjoin(Supporter, Supporter.id == Sighting.reporter_supporter_id)
        .where(Sighting.alert_id == alert.id)
        .order_by(Sighting.received_at.desc(), Sighting.id.desc())
    )
    return [
        {
            "id": sid,
            "seen_at": _iso(seen),
            "received_at": _iso(received),
            "lat": lat,
            "lon": lon,
            "direction": direction.value,
            "direction_label": str(DIRECTION_LABELS[direction]),
            "certainty": certainty.value,
            "certainty_label": str(CERTAINTY_LABELS[certainty]),
            "description": description,
            "status": status.value,
            "status_label": str(SIGHTING_STATUS_LABELS[status]),
            "recentred": recentred,
            "has_photo": bool(has_photo),
            "reporter": reporter or "",
        }
        for (
            sid,
            seen,
            received,
            lat,
            lon,
            direction,
            certainty,
            description,
            status,
            recentred,
            has_photo,
            reporter,
        ) in rows
    ]


class SectorRow(TypedDict):
    cell: str  # H3 index
    state: str  # taken | walked | untouched
    priority: bool
    walked: bool
    label: str
    boundary: list[list[float]]  # [lat, lon] corners


def sector_list(alert: Alert) -> list[SectorRow]:
    """The sectors and their state (taken / walked / untouched, priority)."""
    labels = {"taken": _("Taken"), "walked": _("Walked"), "untouched": _("Untouched")}
    out: list[SectorRow] = []
    for state in sectors.sector_states(alert).values():
        label = labels[state.state]
        if state.taken_by_name:
            label = _("Taken by %(name)s", name=state.taken_by_name)
        if state.walked and state.state == "taken":
            label += " · " + _("Walked")
        if state.priority:
            label += " · " + _("Usual place (priority)")
        out.append(
            {
                "cell": state.cell,
                "state": state.state,
                "priority": state.priority,
                "walked": state.walked,
                "label": label,
                "boundary": sectors.cell_boundary(state.cell),
            }
        )
    return out


class PlaceRow(TypedDict):
    name: str
    lat: float
    lon: float
    note: str


def usual_places(alert: Alert) -> list[PlaceRow]:
    """The person's usual places (search priorities); none for an alert from a description."""
    if alert.person_id is None or alert.purged_at is not None:
        return []
    rows = db.session.execute(
        sa.select(UsualPlace.name, UsualPlace.lat, UsualPlace.lon, UsualPlace.note)
        .where(UsualPlace.person_id == alert.person_id)
        .order_by(UsualPlace.id)
    )
    return [{"name": name, "lat": lat, "lon": lon, "note": note} for name, lat, lon, note in rows]


def _event_text(event: AlertEvent, names: dict[int, str], channels: dict[str, str]) -> str:
    p = event.payload or {}
    who = names.get(int(p.get("supporter_id") or 0), p.get("name") or "")
    kind = event.kind
    if kind == "started":
        return _(
            "Alert started: %(told)s supporters told within %(distance)s.",
            told=p.get("told", 0),
            distance=format_km(float(p.get("radius_m") or 0)),
        )
    if kind == "widened":
        return _(
            "Search widened to %(distance)s: %(told)s more supporters told.",
            distance=format_km(float(p.get("radius_m") or 0)),
            told=p.get("told", 0),
        )
    if kind == "radius_changed":
        if p.get("override_m") is None:
            return _(
                "Radius override cleared: the schedule applies (%(distance)s).",
                distance=format_km(float(p.get("radius_m") or 0)),
            )
        return _(
            "Radius set to %(distance)s by the coordinator.",
            distance=format_km(float(p.get("override_m") or 0)),
        )
    if kind == "recentred":
        return _(
            "A confirmed sighting is the new last-seen point: %(told)s more supporters told.",
            told=p.get("told", 0),
        )
    if kind == "reminded":
        return _("Reminder sent to %(n)s supporters who had not answered.", n=p.get("reminded", 0))
    via = channels.get(str(p.get("channel") or ""), "")
    if kind == "opened":
        if via:
            return _("%(name)s opened the message (from %(channel)s).", name=who, channel=via)
        return _("%(name)s opened the message.", name=who)
    if kind == "answered":
        answer = p.get("answer")
        if answer == "searching":
            text = _("%(name)s: will search.", name=who)
        else:
            text = _("%(name)s: cannot search now.", name=who)
        return f"{text} ({via})" if via else text
    if kind == "sighting":
        return _("New sighting reported by %(name)s.", name=who)
    if kind == "sighting_reviewed":
        status = p.get("status", "")
        label = next(
            (str(v) for k, v in SIGHTING_STATUS_LABELS.items() if k.value == status), status
        )
        return _("Sighting %(id)s marked: %(status)s.", id=p.get("sighting_id"), status=label)
    if kind == "sector_taken":
        return _("%(name)s took a sector.", name=who)
    if kind == "sector_released":
        return _("%(name)s gave a sector back.", name=who)
    if kind == "closed":
        status = p.get("status", "")
        return _("Search ended: found.") if status == "found" else _("Search cancelled.")
    if kind == "escalated":
        return _("Too few searchers: the coordinators were told.")
    return kind.replace("_", " ")


def timeline(alert: Alert) -> list[dict[str, Any]]:
    """The newest events for the coordinator (one line each), newest first."""
    events = list(
        db.session.scalars(
            sa.select(AlertEvent)
            .where(
                AlertEvent.alert_id == alert.id,
                AlertEvent.audience.in_((STAFF, ALL)),
                AlertEvent.kind.not_in(TIMELINE_HIDDEN),
            )
            .order_by(AlertEvent.id.desc())
            .limit(TIMELINE_SIZE)
        )
    )
    ids = {int(e.payload.get("supporter_id") or 0) for e in events if e.payload}
    names = _names(ids - {0})
    channels = channel_labels()
    return [
        {"id": e.id, "kind": e.kind, "at": _iso(e.at), "text": _event_text(e, names, channels)}
        for e in events
    ]


def _failures(alert: Alert, failures: list[DeliveryFailure]) -> list[dict[str, Any]]:
    """The failed messages; another district's supporter's address and the raw reason stay
    with that district (plain words only)."""
    ids = {f.supporter_id for f in failures if f.supporter_id is not None}
    districts = (
        dict(
            db.session.execute(
                sa.select(Supporter.id, Supporter.district_id).where(Supporter.id.in_(ids))
            ).all()
        )
        if ids
        else {}
    )
    words = _words()
    out = []
    for f in failures:
        own = districts.get(f.supporter_id or 0) == alert.district_id
        label = words.error(*classify_error(f.reason))
        out.append(
            {
                "id": f.delivery_id,
                "name": f.supporter_name,
                "channel": f.channel,
                "address": f.address if own else "—",
                "reason": (f"{label} ({f.reason})" if own else label) if f.reason else "",
                "at": _iso(f.at),
            }
        )
    return out


class DashboardState(TypedDict):
    """The coordinator's page state: rendered into the page and polled as JSON."""

    version: str  # changes whenever the page should redraw (see state_version)
    server_time: str
    alert: dict[str, Any]
    rings: list[RingRow]
    summary: dict[str, Any]
    reach: ReachCounts
    failures: list[dict[str, Any]]
    recipients: list[dict[str, Any]]
    recipients_listed: int
    retrying: dict[str, Any]
    unreachable: list[dict[str, Any]]
    unreachable_listed: int
    sectors: list[SectorRow]
    searchers: list[SearcherRow]
    sightings: list[SightingRow]
    places: list[PlaceRow]
    timeline: list[dict[str, Any]]


def dashboard_state(alert: Alert, now: datetime | None = None) -> DashboardState:
    """Everything the coordinator's page shows that changes during a search."""
    now = now or utcnow()
    summary = alert_summary(alert)
    upcoming = next_step(alert, now) if alert.is_active else None
    listed = recipients(alert)
    deliveries = recipient_deliveries(alert, [r["supporter_id"] for r in listed])
    for r in listed:
        r["deliveries"] = deliveries.get(r["supporter_id"], [])
    unreachable, unreachable_total = unreachable_supporters(alert)
    return {
        "version": state_version(alert.id),
        "server_time": now.isoformat(),
        "alert": {
            "id": alert.id,
            "status": alert.status.value,
            "status_label": str(STATUS_LABELS[alert.status]),
            "is_active": alert.is_active,
            "is_exercise": alert.is_exercise,
            "revision": alert.revision,
            "last_seen": {
                "lat": alert.last_seen_lat,
                "lon": alert.last_seen_lon,
                "at": _iso(alert.last_seen_at),
                "place": alert.last_seen_place,
            },
            "radius_m": sectors.search_radius_m(alert),
            "radius_override_m": alert.radius_override_m,
            "scheduled_radius_m": effective_radius_m(alert, now),
            "next_step": (
                {
                    "minutes": upcoming.minutes,
                    "radius_m": upcoming.radius_m,
                    "label": format_km(upcoming.radius_m),
                }
                if upcoming
                else None
            ),
            "closed_at": _iso(alert.closed_at),
            "found": (
                {"lat": alert.found_lat, "lon": alert.found_lon, "place": alert.found_place}
                if alert.found_lat is not None and alert.found_lon is not None
                else None
            ),
        },
        "rings": rings(alert),
        "summary": {k: v for k, v in asdict(summary).items() if k != "failures"},
        "reach": reach_counts(alert, summary, unreachable_total),
        "failures": _failures(alert, summary.failures),
        "recipients": listed,
        "recipients_listed": RECIPIENTS_LISTED,
        "retrying": retrying_summary(alert),
        "unreachable": unreachable,
        "unreachable_listed": UNREACHABLE_LISTED,
        "sectors": sector_list(alert),
        "searchers": searchers(alert),
        "sightings": sightings(alert),
        "places": usual_places(alert),
        "timeline": timeline(alert),
    }


def map_data(state: DashboardState, landmarks: list[Place] | None = None) -> AlertMapData:
    """The search map's content from a dashboard state (and the district's landmarks, which
    do not change during a search and so are not part of the state)."""
    a = state["alert"]
    last_seen = Place(a["last_seen"]["lat"], a["last_seen"]["lon"], _("Last seen"))
    found = a["found"]
    return AlertMapData(
        last_seen=last_seen,
        rings=[Ring(r["radius_m"], r["label"], r["current"]) for r in state["rings"]],
        places=[Place(p["lat"], p["lon"], p["name"]) for p in state["places"]],
        sectors=[
            Sector(
                s["cell"],
                s["state"],
                [(c[0], c[1]) for c in s["boundary"]],
                s["label"],
                s["priority"],
            )
            for s in state["sectors"]
        ],
        searchers=[
            Searcher(s["supporter_id"], s["lat"], s["lon"], s["name"]) for s in state["searchers"]
        ],
        sightings=[
            SightingMark(
                s["id"],
                s["lat"],
                s["lon"],
                s["status"],
                f"{s['status_label']} · {s['certainty_label']}",
            )
            for s in state["sightings"]
        ],
        found=Place(found["lat"], found["lon"], _("Found here")) if found else None,
        landmarks=landmarks or [],
    )


def district_landmarks(alert: Alert) -> list[Place]:
    """The district's named landmarks for the search map (what places are described from)."""
    rows = db.session.execute(
        sa.select(Landmark.name, Landmark.lat, Landmark.lon)
        .where(Landmark.district_id == alert.district_id)
        .order_by(Landmark.name, Landmark.id)
    )
    return [Place(lat, lon, name) for name, lat, lon in rows]


# ---------------------------------------------------------------------------------------------
# Small reads for the list, the start form and the dashboard


def targets_in_range(
    lat: float, lon: float, last_seen_at: datetime, now: datetime | None = None
) -> tuple[float, int]:
    """(radius, number of supporters inside it) an alert starting now would have: what the
    start form's confirmation names. Read-only; start_alert finds them again when sending."""
    now = now or utcnow()
    elapsed_min = (now - last_seen_at).total_seconds() / 60.0
    radius_m = scheduled_radius_m(elapsed_min, radius_schedule())
    recent_since = now - timedelta(minutes=int(current_app.config["ALERT_RECENT_POSITION_MIN"]))
    return radius_m, len(find_targets(lat, lon, radius_m, recent_since=recent_since))


def local_now() -> datetime:
    """Now in the display zone (Japan time unless configured otherwise)."""
    return to_local(utcnow())


def clock(iso: str | None) -> str:
    """HH:MM in the display zone from a state's ISO time ("" for none)."""
    return format_time(datetime.fromisoformat(iso)) if iso else ""


def district_alerts(district_id: int) -> list[Alert]:
    """The district's alerts: active first (newest first), then closed ones (newest first)."""
    return list(
        db.session.scalars(
            sa.select(Alert)
            .where(Alert.district_id == district_id)
            .order_by(
                sa.case((Alert.status == AlertStatus.active, 0), else_=1),
                Alert.started_at.desc(),
                Alert.id.desc(),
            )
        )
    )


def last_contact(district_id: int) -> tuple[str, str] | None:
    """The number to call of the district's latest alert: usually the same desk."""
    row = db.session.execute(
        sa.select(Alert.contact_phone, Alert.contact_label)
        .where(Alert.district_id == district_id, Alert.contact_phone != "")
        .order_by(Alert.started_at.desc(), Alert.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row is not None else None


def person_photo_ids(alert: Alert) -> list[int]:
    """The registered person's photos, for the coordinator (none once purged)."""
    if alert.person_id is None or alert.purged_at is not None:
        return []
    return list(
        db.session.scalars(
            sa.select(PersonPhoto.id)
            .where(PersonPhoto.person_id == alert.person_id)
            .order_by(PersonPhoto.id)
        )
    )


def next_ring_m(alert: Alert, schedule: list[RadiusStep]) -> float | None:
    """The next ring of the schedule beyond the radius searched now (None at the outer one)."""
    current = sectors.search_radius_m(alert)
    return next((step.radius_m for step in schedule if step.radius_m > current + 1), None)


def export_links(alert_id: int) -> list[tuple[str, str]]:
    """(label, url) of the exports that exist in this app."""
    links = []
    for endpoint, label in (
        ("alert_exports.cap", _("CAP 1.2 (XML)")),
        ("alert_exports.geojson", _("GeoJSON of the search")),
        ("alert_exports.flyer", _("Printable flyer (A4)")),
    ):
        try:
            links.append((label, url_for(endpoint, alert_id=alert_id)))
        except BuildError:
            continue  # that export is not installed
    return links
