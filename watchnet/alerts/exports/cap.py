"""The alert as a CAP 1.2 message (OASIS Common Alerting Protocol, version 1.2).

CAP is what Japan's L-Alert and most public alerting systems read. One export is the alert's
current message: Alert (revision 1), Update (a later revision: every change of the circle, be it
widened, re-centred, or a radius the coordinator set or cleared) or Cancel (closed). The texts
are Japanese (info language ja-JP) whoever asks, and carry only what a finder needs: no name,
no home address, no family contacts. A Cancel carries no description.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - we only build XML here, never parse input
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _

from watchnet.alerts import sectors
from watchnet.alerts.models import Alert, AlertEvent, AlertStatus
from watchnet.alerts.targeting import FALLBACK_RADIUS_M, radius_schedule
from watchnet.core.extensions import db
from watchnet.core.labels import label
from watchnet.core.timefmt import format_datetime, to_local
from watchnet.registry.models import Build, Sex

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_LANGUAGE = "ja-JP"
CONTENT_TYPE = "application/cap+xml; charset=utf-8"


# ---------------------------------------------------------------------------------------------
# What a finder needs (shared with the printed flyer)


@dataclass(frozen=True)
class FinderFact:
    label: str
    value: str
    is_user_text: bool = False  # typed by the coordinator (hair, clothing ...), not our words


def sex_phrase(sex: Sex) -> str:
    """The person's sex as a finder reads it ("" when not stated)."""
    return label(Sex, sex) if sex in (Sex.female, Sex.male) else ""


def build_phrase(build: Build) -> str:
    """The person's build in plain words ("" when not stated)."""
    return "" if build == Build.unknown else label(Build, build)


def finder_facts(alert: Alert) -> list[FinderFact]:
    """The description a finder needs, in the current language, empty facts left out.

    Deliberately without the name, the home address, family contacts and the handling notes
    (which often hold the name the person answers to): these leave the coordinators' pages
    only through a supporter's personal link, never in an export that may be forwarded."""
    facts = [
        (_("Age"), _("%(age)s years old", age=alert.age) if alert.age else ""),
        (_("Sex"), sex_phrase(alert.sex)),
        (_("Height"), _("about %(cm)s cm", cm=alert.height_cm) if alert.height_cm else ""),
        (_("Build"), build_phrase(alert.build)),
    ]
    typed = [
        (_("Hair"), alert.hair),
        (_("Features"), alert.features),
        (_("Clothing today"), alert.clothing_today),
        (_("Belongings"), alert.belongings),
    ]
    return [
        FinderFact(label, value.strip(), is_user_text=is_typed)
        for is_typed, pairs in ((False, facts), (True, typed))
        for label, value in pairs
        if value and value.strip()
    ]


def person_summary(alert: Alert) -> str:
    """A short line such as 82歳・女性 for a headline ("" if nothing is known)."""
    parts = [_("%(age)s years old", age=alert.age) if alert.age else "", sex_phrase(alert.sex)]
    locale = get_locale()
    separator = "・" if locale is None or locale.language == "ja" else ", "
    return separator.join(p for p in parts if p)


def last_seen_phrase(alert: Alert) -> str:
    """When and where the person was last seen, in one sentence."""
    when = format_datetime(alert.last_seen_at)
    if alert.last_seen_place:
        return _("%(when)s, near %(place)s", when=when, place=alert.last_seen_place)
    return when


def contact_phrase(alert: Alert) -> str:
    """The number to call, with whose number it is."""
    if alert.contact_label:
        return f"{alert.contact_label} {alert.contact_phone}"
    return alert.contact_phone


# ---------------------------------------------------------------------------------------------
# CAP fields


def cap_time(value: datetime) -> str:
    """A CAP dateTime: local time, its offset, no fractions (2026-03-13T09:30:00+09:00).

    The spec's pattern allows neither "Z" nor fractions; UTC itself would be written -00:00."""
    text = to_local(value).replace(microsecond=0).isoformat()
    return text[:-6] + "-00:00" if text.endswith("+00:00") else text


def sender_host(sender: str) -> str:
    """The host part of a sender such as watchnet@city.example.jp."""
    return sender.rpartition("@")[2] or sender


def cap_identifier(alert: Alert, sender: str, revision: int | None) -> str:
    """The message's identifier: one per alert and revision; `None` names the Cancel message.

    CAP identifiers may not contain spaces, commas or the XML-restricted characters < and &."""
    base = f"watchnet-{sender_host(sender)}-alert-{alert.id}"
    return f"{base}-cancel" if revision is None else f"{base}-{revision}"


def incident_id(alert: Alert, sender: str) -> str:
    """Groups every message about the same search."""
    return f"watchnet-{sender_host(sender)}-alert-{alert.id}"


def revision_times(alert: Alert) -> dict[int, datetime]:
    """When each revision's message went out: revision 1 at the start, later ones at the first
    timeline event that carries that revision (widened, re-centred). The same message is then
    exported with the same `sent` every time, so <references> of later messages match it."""
    times: dict[int, datetime] = {1: alert.started_at}
    events = db.session.execute(
        sa.select(AlertEvent.payload, AlertEvent.at)
        .where(AlertEvent.alert_id == alert.id)
        .order_by(AlertEvent.id)
    ).all()
    for payload, at in events:
        revision = payload.get("revision") if isinstance(payload, dict) else None
        if isinstance(revision, int) and not isinstance(revision, bool) and revision > 1:
            times.setdefault(revision, at)
    # A revision the timeline does not name (an event missing) still needs a fixed time: the
    # last widening for the current one, else the nearest earlier revision's.
    if alert.revision not in times and alert.widened_at is not None:
        times[alert.revision] = alert.widened_at
    for revision in range(2, alert.revision + 1):
        times[revision] = _after(
            times.setdefault(revision, times[revision - 1]), times[revision - 1]
        )
    return times


def _after(value: datetime, earlier: datetime) -> datetime:
    """`value`, or one second after `earlier` when both fall in the same second (or `value`
    is earlier still): `sent` has whole seconds, and two area changes a moment apart must
    still be two messages that receivers can put in order."""
    floor = earlier.replace(microsecond=0)
    return value if value.replace(microsecond=0) > floor else floor + timedelta(seconds=1)


def search_radius_m(alert: Alert) -> float:
    """The radius the current message covers: the coordinator's override, else the radius
    reached so far, else the first step of the configured schedule."""
    radius = sectors.search_radius_m(alert)
    if radius:
        return radius
    schedule = radius_schedule()
    return schedule[0].radius_m if schedule else FALLBACK_RADIUS_M


def cap_circle(lat: float, lon: float, radius_m: float) -> str:
    """A CAP circle: "lat,lon radius" in WGS 84 with the radius in kilometres."""
    return f"{lat:.6f},{lon:.6f} {radius_m / 1000:.3f}"


def _references(alert: Alert, sender: str, times: dict[int, datetime], upto: int) -> str:
    return " ".join(
        f"{sender},{cap_identifier(alert, sender, r)},{cap_time(times[r])}"
        for r in range(1, upto + 1)
    )


# ---------------------------------------------------------------------------------------------
# The message


def build_cap(alert: Alert, *, sender: str) -> bytes:
    """The alert's current CAP 1.2 message as UTF-8 XML (Alert, Update or Cancel)."""
    with force_locale("ja"):
        return _build_cap(alert, sender)


def _add(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _build_cap(alert: Alert, sender: str) -> bytes:
    closed = alert.status != AlertStatus.active
    times = revision_times(alert)
    if closed:
        msg_type = "Cancel"
        identifier = cap_identifier(alert, sender, None)
        sent = _after(alert.closed_at or times[alert.revision], times[alert.revision])
        references = _references(alert, sender, times, alert.revision)
    else:
        msg_type = "Alert" if alert.revision <= 1 else "Update"
        identifier = cap_identifier(alert, sender, alert.revision)
        sent = times[alert.revision]
        references = _references(alert, sender, times, alert.revision - 1)

    # Element order follows the schema's sequence (CAP 1.2, section 3.4); optional elements
    # we do not use are simply left out.
    root = ET.Element(f"{{{CAP_NS}}}alert")
    _add(root, "identifier", identifier)
    _add(root, "sender", sender)
    _add(root, "sent", cap_time(sent))
    _add(root, "status", "Exercise" if alert.is_exercise else "Actual")
    _add(root, "msgType", msg_type)
    _add(root, "source", "watchnet")
    # Restricted, not Private: the message is for the watch network (its registered supporters,
    # the coordinators, the police and partner agencies), who have an operational need for it,
    # and the supporter list changes as the search widens. Private would mean listing every
    # recipient's address inside the message, which would itself spread personal data. Not
    # Public: the family consented to the description reaching the network, not everyone.
    _add(root, "scope", "Restricted")
    _add(
        root,
        "restriction",
        _(
            "For the watch network's supporters and the agencies helping the search. "
            "Please do not forward or publish."
        ),
    )
    if alert.is_exercise:
        _add(root, "note", _("EXERCISE: this is a drill, not a real missing person."))
    if references:
        _add(root, "references", references)
    _add(root, "incidents", incident_id(alert, sender))
    _add_info(root, alert, closed)
    ET.indent(root)
    xml = ET.tostring(root, encoding="unicode", default_namespace=CAP_NS)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + xml + "\n").encode("utf-8")


def _event_name(alert: Alert) -> str:
    event = _("Search for a missing person")
    return f"{event}（{_('EXERCISE')}）" if alert.is_exercise else event


def closed_phrase(alert: Alert) -> str:
    """What everyone is told once the search is over (found, or ended without a find)."""
    if alert.status == AlertStatus.found:
        return _("The person has been found. Thank you for your help.")
    return _("The search has ended. Thank you for your help.")


def _headline(alert: Alert, closed: bool) -> str:
    prefix = f"【{_('EXERCISE')}】" if alert.is_exercise else ""
    if closed:
        return prefix + closed_phrase(alert)
    summary = person_summary(alert)
    if summary:
        return prefix + _("Please look out for a missing person (%(summary)s)", summary=summary)
    return prefix + _("Please look out for a missing person")


def _description(alert: Alert) -> str:
    lines = [f"{fact.label}: {fact.value}" for fact in finder_facts(alert)]
    lines.append(f"{_('Last seen (when and where)')}: {last_seen_phrase(alert)}")
    return "\n".join(lines)


def _instruction(alert: Alert) -> str:
    return "\n".join(
        [
            _("Do not chase the person."),
            _("Approach gently from the front, give your own name, and speak slowly."),
            _("If you see the person, call %(number)s.", number=contact_phrase(alert)),
            _("In an emergency call 110 (police) or 119 (ambulance)."),
        ]
    )


def _add_info(root: ET.Element, alert: Alert, closed: bool) -> None:
    info = _add(root, "info")
    _add(info, "language", CAP_LANGUAGE)
    _add(info, "category", "Rescue")
    _add(info, "event", _event_name(alert))
    # Monitor ("attend to information sources as described in <instruction>"): a finder looks
    # out and calls; nobody shelters or evacuates. A Cancel says AllClear.
    _add(info, "responseType", "AllClear" if closed else "Monitor")
    # Immediate and Severe while the search runs: an elder living with dementia outdoors is at
    # risk of life within hours (cold, heat, traffic). Once closed, no action is needed (Past).
    _add(info, "urgency", "Past" if closed else "Immediate")
    _add(info, "severity", "Minor" if closed else "Severe")
    # Observed: the person is known to be missing (or known to be found).
    _add(info, "certainty", "Observed")
    _add(info, "senderName", _("%(district)s watch network", district=alert.district.name))
    _add(info, "headline", _headline(alert, closed))
    if closed:
        # The all-clear carries no personal description.
        _add(info, "description", closed_phrase(alert))
        _add(
            info,
            "instruction",
            _("Please stop searching. If you kept a flyer, please dispose of it."),
        )
    else:
        _add(info, "description", _description(alert))
        _add(info, "instruction", _instruction(alert))
        _add(info, "contact", contact_phrase(alert))
    area = _add(info, "area")
    if closed:
        _add(area, "areaDesc", alert.district.name)
    else:
        area_desc = alert.last_seen_place or alert.district.name
        _add(area, "areaDesc", _("Around %(place)s", place=area_desc))
    _add(
        area, "circle", cap_circle(alert.last_seen_lat, alert.last_seen_lon, search_radius_m(alert))
    )
