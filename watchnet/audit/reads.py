"""Audited reads: the one kind of write a GET may make.

Pages that show personal data (an alert's dashboard and exports, a registered person, a
supporter's sign-in link, team handouts) must leave a record of who saw what, when, while a
GET changes nothing else. So a view says what it showed with `note_read(...)`, and the
`@audited_read` decorator on the route records it after the view:

- only when the response succeeded (2xx): a refused or failed request showed nothing;
- in a transaction of its own: whatever else the view left in the session is rolled back
  first, so a GET can never commit anything but these rows (and no private render helper
  commits on a GET's behalf);
- through audit.services.record_read, throttled per viewer, action, subject and detail to one
  row a minute, so a page that polls or is reloaded does not flood the record.

`note_read` outside an `@audited_read` view raises, so a forgotten decorator shows in the
first test instead of silently losing the record. A page re-rendered by a POST after a
refused form notes nothing: the coordinator sent it from the page they had open, whose GET
(and polls) were recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, ParamSpec

from flask import g, make_response
from werkzeug.wrappers import Response

from watchnet.audit.services import record_read
from watchnet.core.extensions import db

P = ParamSpec("P")
_PENDING = "_audited_reads"


@dataclass(frozen=True)
class _Read:
    action: str
    subject_type: str
    subject_id: int | None
    district_id: int | None
    throttle: bool
    detail: dict[str, Any] = field(default_factory=dict)


def note_read(
    action: str,
    subject_type: str,
    subject_id: int | None,
    district_id: int | None = None,
    *,
    throttle: bool = True,
    **detail: Any,
) -> None:
    """Say that this response shows personal data; recorded once the response succeeded."""
    pending: list[_Read] | None = g.get(_PENDING)
    if pending is None:
        raise RuntimeError(f"note_read({action!r}) outside an @audited_read view")
    pending.append(_Read(action, subject_type, subject_id, district_id, throttle, detail))


def audited_read(view: Callable[P, Any]) -> Callable[P, Response]:
    """Record the reads the view noted, after it succeeded, in their own transaction."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        setattr(g, _PENDING, [])
        try:
            response = make_response(view(*args, **kwargs))
        finally:
            reads: list[_Read] = g.pop(_PENDING, [])
        if reads and 200 <= response.status_code < 300:
            db.session.rollback()  # the view's own transaction: a read changes nothing else
            for read in reads:
                record_read(
                    read.action,
                    read.subject_type,
                    read.subject_id,
                    read.district_id,
                    throttle=read.throttle,
                    **read.detail,
                )
            db.session.commit()
        return response

    return wrapper
