"""Showing UTC times in the display zone, with Japanese era years where a date is formal."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import get_locale, gettext

# (first day of the era, name); 令和 began on 2019-05-01.
_ERAS: list[tuple[date, str, str]] = [
    (date(2019, 5, 1), "令和", "Reiwa"),
    (date(1989, 1, 8), "平成", "Heisei"),
    (date(1926, 12, 25), "昭和", "Showa"),
]


def display_zone() -> ZoneInfo:
    """The zone times are shown in (Asia/Tokyo unless configured otherwise)."""
    return ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])


def to_local(value: datetime) -> datetime:
    """Convert an aware UTC datetime to the display zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(display_zone())


def from_local(value: datetime) -> datetime:
    """Interpret a naive datetime typed by a user in the display zone and return it in UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=display_zone())
    return value.astimezone(UTC)


def era_year(d: date) -> str:
    """The Japanese era year of a date, e.g. 令和8年 (元年 for the first)."""
    for start, name, _ in _ERAS:
        if d >= start:
            year = d.year - start.year + 1
            return f"{name}{'元' if year == 1 else year}年"
    return f"{d.year}年"


def _is_ja() -> bool:
    locale = get_locale()
    return locale is None or locale.language == "ja"


def format_datetime(value: datetime | None) -> str:
    """A short local date and 24-hour time: 2026/03/13 (金) 09:30."""
    if value is None:
        return ""
    local = to_local(value)
    if _is_ja():
        weekday = "月火水木金土日"[local.weekday()]
        return f"{local:%Y/%m/%d} ({weekday}) {local:%H:%M}"
    return f"{local:%Y-%m-%d (%a) %H:%M}"


def format_time(value: datetime | None) -> str:
    """Local 24-hour time, HH:MM."""
    return "" if value is None else f"{to_local(value):%H:%M}"


def format_end_time(end: datetime | None, start: datetime | None) -> str:
    """An end time as HH:MM, marked when it falls on a later local day than the start:
    翌日 00:30 / 00:30 (next day). Later still (which a drill never is) gives the full date."""
    if end is None:
        return ""
    text = format_time(end)
    if start is None:
        return text
    days = (to_local(end).date() - to_local(start).date()).days
    if days == 1:
        return gettext("%(time)s (next day)", time=text)
    return format_datetime(end) if days > 1 else text


def format_time_range(start: datetime | None, end: datetime | None) -> str:
    """A start and an optional end time: 09:30–11:00, or 23:30–翌日 00:30 across midnight."""
    if start is None:
        return ""
    if end is None:
        return format_time(start)
    return f"{format_time(start)}–{format_end_time(end, start)}"


def format_formal_date(value: datetime | date | None) -> str:
    """A formal date: 令和8年 (2026年) 3月13日 in Japanese, 13 March 2026 in English."""
    if value is None:
        return ""
    d = to_local(value).date() if isinstance(value, datetime) else value
    if _is_ja():
        return f"{era_year(d)} ({d.year}年) {d.month}月{d.day}日"
    return f"{d.day} {d:%B} {d.year}"


def format_duration(seconds: float | None) -> str | None:
    """A length of time as people say it: 「51秒」「1分05秒」「1時間02分05秒」 (51 s, 1 min 05 s,
    1 h 02 min 05 s), not 0:51, which reads as a clock time. None stays None (shown as
    missing)."""
    if seconds is None:
        return None
    sign = "-" if seconds < 0 else ""
    total = int(round(abs(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        text = gettext("%(h)d h %(m)02d min %(s)02d s", h=hours, m=minutes, s=secs)
    elif minutes:
        text = gettext("%(m)d min %(s)02d s", m=minutes, s=secs)
    else:
        text = gettext("%(s)d s", s=secs)
    return sign + text
