"""The texts an alert sends: the alert itself, an update when the search re-centres, the
reminder to those who have not answered, the all-clear, and the coordinators' escalation.

Each function writes in the current locale (callers wrap it in force_locale with the
recipient's language). What travels over e-mail and chat is only what a finder needs: no name,
no home address, no family contacts; the personal link shows the rest while the search lasts.
Exercises say 訓練 in the subject and the first line.
"""

from __future__ import annotations

from flask_babel import gettext as _

from watchnet.alerts.models import Alert, AlertRecipient, AlertStatus
from watchnet.core.geo import format_distance
from watchnet.core.timefmt import format_datetime, format_time
from watchnet.core.urls import public_url
from watchnet.people.notify import LINK_SLOT  # the link's place in a text; callers import it here
from watchnet.registry.models import Build, Sex

# URL-safe, so it survives url_for unchanged (a placeholder, not a secret).
TOKEN_SLOT = "WATCHNET_TOKEN_SLOT"  # noqa: S105


def alert_link_for_token(token: str) -> str:
    """The absolute URL of a recipient's personal alert page."""
    return public_url("alert_field.show", f"/a/{token}", token=token)


def alert_link(recipient: AlertRecipient) -> str:
    """The absolute URL of url_for("alert_field.show", token=...), on PUBLIC_BASE_URL when set."""
    return alert_link_for_token(recipient.token)


def staff_alert_link(alert: Alert) -> str:
    """The coordinators' page of the alert (absolute where possible)."""
    return public_url("alerts.show_alert", f"/alerts/{alert.id}", alert_id=alert.id)


def _exercise_prefix(alert: Alert) -> str:
    return _("[EXERCISE] ") if alert.is_exercise else ""


def _exercise_lines(alert: Alert) -> list[str]:
    if not alert.is_exercise:
        return []
    return [_("This is an EXERCISE (訓練). Nobody is really missing."), ""]


def _sex_word(sex: Sex) -> str:
    return {Sex.female: _("woman"), Sex.male: _("man")}.get(sex, _("person"))


def _build_word(build: Build) -> str:
    return {
        Build.slim: _("slim build"),
        Build.medium: _("medium build"),
        Build.stout: _("stout build"),
    }.get(build, "")


def description_lines(alert: Alert) -> list[str]:
    """What the person looks like, as a finder needs it (no name, no address)."""
    who = []
    if alert.age:
        who.append(_("about %(age)s years old", age=alert.age))
    who.append(_sex_word(alert.sex))
    lines = [_("Who: %(who)s", who=_(", ").join(who))]
    looks = []
    if alert.height_cm:
        looks.append(_("about %(cm)s cm tall", cm=alert.height_cm))
    build = _build_word(alert.build)
    if build:
        looks.append(build)
    if alert.hair:
        looks.append(_("hair: %(hair)s", hair=alert.hair))
    if looks:
        lines.append(_("Looks: %(looks)s", looks=_(", ").join(looks)))
    if alert.features:
        lines.append(_("Features: %(features)s", features=alert.features))
    if alert.clothing_today:
        lines.append(_("Clothing today: %(clothing)s", clothing=alert.clothing_today))
    if alert.belongings:
        lines.append(_("Carrying: %(belongings)s", belongings=alert.belongings))
    return lines


def last_seen_line(alert: Alert) -> str:
    """When and where the person was last seen."""
    when = format_datetime(alert.last_seen_at)
    if alert.last_seen_place:
        return _("Last seen: %(when)s, %(place)s", when=when, place=alert.last_seen_place)
    return _("Last seen: %(when)s (place on the map behind the link)", when=when)


def what_to_do_lines(alert: Alert) -> list[str]:
    """The approach guide in four lines, and the number to call."""
    who = alert.contact_label or _("the number to call")
    return [
        _("If you see someone who may be this person:"),
        _("- Please do not chase them or call out loudly."),
        _("- Approach gently, from the front, and give your own name first."),
        _(
            "- Stay with them if you can, and call %(who)s: %(phone)s",
            who=who,
            phone=alert.contact_phone,
        ),
    ]


def _link_lines() -> list[str]:
    return [_("Please answer (I'll search / I can't now) and see the details here:"), LINK_SLOT]


def alert_message(alert: Alert) -> tuple[str, str]:
    """(subject, body) of the alert, with LINK_SLOT where the personal link goes."""
    subject = _exercise_prefix(alert) + _("Please help look for a missing person")
    lines = _exercise_lines(alert) + [
        _(
            "A person living with dementia is missing in your neighbourhood. Please keep an eye "
            "out while you go about your day, and help search if you can."
        ),
        "",
        *_search_lines(alert),
        "",
        _("Please do not forward this message; the link is yours alone."),
    ]
    return subject, "\n".join(lines)


def _search_lines(alert: Alert) -> list[str]:
    """Where, whom, what to do and the link: the part an alert and its update share."""
    return [
        last_seen_line(alert),
        _(
            "Search area: within %(distance)s of the place last seen",
            distance=format_distance(alert.radius_m, _lang()),
        ),
        "",
        *description_lines(alert),
        "",
        *what_to_do_lines(alert),
        "",
        *_link_lines(),
    ]


def update_message(alert: Alert) -> tuple[str, str]:
    """(subject, body) after a confirmed sighting moved the search (LINK_SLOT for the link)."""
    subject = _exercise_prefix(alert) + _("Update: the person was seen, the search has moved")
    lines = _exercise_lines(alert) + [
        _("There is a confirmed sighting. The search now centres on the new place."),
        "",
        *_search_lines(alert),
    ]
    return subject, "\n".join(lines)


def reminder_message(alert: Alert) -> tuple[str, str]:
    """(subject, body) reminding a recipient who has not answered (LINK_SLOT for the link)."""
    subject = _exercise_prefix(alert) + _("Reminder: a missing person is still being looked for")
    lines = _exercise_lines(alert) + [
        _(
            "The search is still going on. Could you let us know whether you can help? "
            "One tap is enough, either way."
        ),
        "",
        last_seen_line(alert),
        "",
        *what_to_do_lines(alert),
        "",
        *_link_lines(),
    ]
    return subject, "\n".join(lines)


def all_clear_message(alert: Alert) -> tuple[str, str]:
    """(subject, body) of the all-clear: no personal detail, no link needed."""
    if alert.status == AlertStatus.found:
        subject = _exercise_prefix(alert) + _("Found: the search is over — thank you")
        first = _("The person we were looking for has been found. The search is over.")
    else:
        subject = _exercise_prefix(alert) + _("The search has ended — thank you")
        first = _("The search has ended. There is no need to look any further.")
    lines = _exercise_lines(alert) + [
        first,
        _("Thank you very much for your help and your watchful eyes."),
        "",
        _(
            "Please delete the earlier messages about this search, and keep what you saw to "
            "yourself."
        ),
    ]
    return subject, "\n".join(lines)


def summary_line(alert: Alert, kind: str) -> str:
    """The short headline push, LINE, SMS and voice carry instead of the long text: what it is
    about and, for the alert itself, the district and when last seen; never the name, the
    description or the place (what rests at the push service, LINE and the SMS gateway says
    nothing about the person; the personal link shows the rest). `kind` is the message's key:
    "alert", "update", "remind" or "closed". Exercises start with 【訓練】."""
    prefix = _exercise_prefix(alert)
    if kind == "update":
        return prefix + _("Update: the search for the missing person has moved")
    if kind == "remind":
        return prefix + _("The search goes on: can you help? One tap to answer")
    if kind == "closed":
        if alert.status == AlertStatus.found:
            return prefix + _("Found. Thank you for your help")
        return prefix + _("The search has ended. Thank you")
    return prefix + _(
        "Please help look for a missing person (%(district)s, last seen %(time)s)",
        district=alert.district.name,
        time=format_time(alert.last_seen_at),
    )


def escalation_message(alert: Alert, *, told: int, searching: int) -> tuple[str, str]:
    """(subject, body) telling the district's coordinators that too few are searching."""
    subject = _exercise_prefix(alert) + _("Few searchers: please consider more help")
    lines = _exercise_lines(alert) + [
        _(
            "Only %(searching)s of the %(told)s supporters told are searching so far.",
            searching=searching,
            told=told,
        ),
        _("Consider widening the search area, reminding supporters, or asking for more help."),
        "",
        last_seen_line(alert),
        "",
        _("The alert's page: %(link)s", link=staff_alert_link(alert)),
    ]
    return subject, "\n".join(lines)


def _lang() -> str:
    from flask_babel import get_locale

    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "ja"
