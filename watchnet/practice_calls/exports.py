"""The reach of a practice call as CSV for Excel (UTF-8 with BOM): one row per person and
channel tried, with the time of each step."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from flask_babel import gettext as _

from watchnet.core.timefmt import to_local
from watchnet.practice_calls.reach import CallReach, channel_label


def _iso(value: datetime | None) -> str:
    return to_local(value).isoformat(timespec="seconds") if value is not None else ""


def reach_csv(reach: CallReach) -> bytes:
    """One row per person and channel tried (a person without any channel: one row), with
    the times of each step; UTF-8 with BOM, as Excel opens it."""
    words = {
        "reached": _("Reached"),
        "waiting": _("Not sent yet"),
        "sent": _("Sent, not opened"),
        "failed": _("Not delivered"),
        "no_channel": _("No channel"),
    }
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            _("Name"),
            _("Reach"),
            _("Opened from"),
            _("Opened at"),
            _("Answer"),
            _("Answered at"),
            _("Sent → opened (s)"),
            _("Channel"),
            _("Step"),
            _("Status"),
            _("Sent at"),
            _("Delivered at"),
            _("Opened at (this channel)"),
            _("Answered at (this channel)"),
            _("Last error"),
        ]
    )
    answers = {"yes": _("I can take part"), "no": _("I can't now")}
    for person in reach.people:
        head = [
            person.name,
            words[person.state],
            channel_label(person.opened_via),
            _iso(person.opened_at),
            answers.get(person.answer or "", ""),
            _iso(person.answered_at),
            "" if person.open_s is None else str(int(round(person.open_s))),
        ]
        if not person.attempts:
            writer.writerow([*head, "", "", "", "", "", "", "", ""])
        for a in person.attempts:
            writer.writerow(
                [
                    *head,
                    channel_label(a.channel),
                    a.tier + 1,
                    _status_word(a.status),
                    _iso(a.sent_at),
                    _iso(a.delivered_at),
                    _iso(a.opened_at),
                    _iso(a.answered_at),
                    a.last_error or "",
                ]
            )
    return out.getvalue().encode("utf-8-sig")


def _status_word(status: str) -> str:
    return {
        "pending": _("Waiting to send"),
        "sending": _("Sending…"),
        "sent": _("Sent"),
        "failed": _("Not delivered"),
        "skipped": _("Not needed (opened before)"),
    }.get(status, status)
