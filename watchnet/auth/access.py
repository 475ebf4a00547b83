"""Who may see what: staff see only their districts' data; supporters see no staff pages.

How a supporter's access ends (revoked link, deactivation) and how long a phone stays signed in:

- Every personal URL and session of a supporter hangs on one of two secrets. The sign-in link
  (/s/<token>) and every phone session carry the supporter's `token_version`; the personal
  alert links (/a/<token>) are random tokens of their own, one per alert. Revoking the link,
  deactivating and reactivating all go through auth.services.end_personal_access, which bumps
  `token_version` (the sign-in link and every session are refused at their next request) and
  gives every alert link of the supporter a new token (the old one is kept in
  `revoked_token`, only to refuse it with a clear page and an audit record). Reactivating
  issues a new link in the same way, so nothing from before the deactivation comes back.
- Replacing the alert tokens, rather than stamping them with the link version and comparing
  on every request, keeps the alert poll as it was (the token lookup and the supporter's
  primary key, which also checks `is_active`) and lets the supporter's page and reminders
  give working links after a new sign-in.
- The position fast path (tracking.services.record_positions) checks the session's version
  inside its INSERT ... SELECT; only a refused report costs a further query.
- A phone session lasts SUPPORTER_SESSION_DAYS since its last use: the session holds when it
  was last seen (`seen`, epoch seconds); an older one is refused and cleared. Use renews it at
  most every SESSION_RENEW_S, so the cookie is not re-signed on every position report
  (SESSION_REFRESH_EACH_REQUEST stays False). Staff sessions are browser sessions as before.
- A refused session is cleared (the phone is signed out: the next request is anonymous) and
  the refusal is audited once; pages answer 403 with the signed-out page, JSON routes 403.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import abort, current_app, render_template, request, session
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from watchnet.core.errors import json_error
from watchnet.core.extensions import db, login_manager
from watchnet.districts.models import District
from watchnet.people.models import StaffRole, StaffUser, Supporter

# A session in use is renewed at most this often (and at least 8 times per lifetime).
SESSION_RENEW_S = 24 * 3600
SEEN_KEY = "seen"

# Pages a supporter opens on the phone (the rest of their routes answer JSON).
PHONE_PAGE_ENDPOINTS = frozenset(
    {
        "people.supporter_home",
        "people.my_channels",
        "field.home",
        "field.drill_page",
        "feedback.give_feedback",
    }
)


def supporter_session_lifetime_s() -> int:
    """How long a phone session lasts after its last use."""
    return int(current_app.config["SUPPORTER_SESSION_DAYS"]) * 24 * 3600


def mark_supporter_session_seen() -> None:
    """A phone was just signed in: its lifetime starts now."""
    session[SEEN_KEY] = int(time.time())


def supporter_session_fresh() -> bool:
    """False when the phone session was unused for longer than its lifetime; renews it (at
    most every SESSION_RENEW_S) when in use. Reads the cookie only, no database."""
    now = int(time.time())
    lifetime = supporter_session_lifetime_s()
    seen = session.get(SEEN_KEY)
    if not isinstance(seen, int):
        # Signed in before sessions had a lifetime: the lifetime starts at this use.
        session[SEEN_KEY] = now
        return True
    if now - seen > lifetime:
        return False
    if now - seen >= min(SESSION_RENEW_S, lifetime // 8):
        session[SEEN_KEY] = now  # modifies the session: the cookie is re-signed this once
    return True


def end_phone_session() -> None:
    """Sign the phone out: the next request is anonymous."""
    session.clear()


@login_manager.user_loader
def load_principal(user_id: str) -> StaffUser | Supporter | None:
    """Resolve the session's principal; a revoked, deactivated or expired supporter session
    resolves to nobody, and is cleared (a revoked one audited)."""
    kind, _sep, rest = user_id.partition(":")
    if kind == "staff":
        user = db.session.get(StaffUser, int(rest)) if rest.isdigit() else None
        return user if user is not None and user.is_active else None
    if kind == "supporter":
        sid, _sep, version = rest.partition(":")
        if not (sid.isdigit() and version.isdigit()):
            return None
        if not supporter_session_fresh():
            end_phone_session()
            return None
        supporter = db.session.get(Supporter, int(sid))
        if supporter and supporter.is_active and supporter.token_version == int(version):
            return supporter
        end_phone_session()
        if supporter is not None:
            from watchnet.auth.services import record_refused_access

            record_refused_access(
                supporter,
                "session",
                link_version=int(version),
                reason="inactive" if not supporter.is_active else "revoked",
                path=request.path,
            )
    return None


F = TypeVar("F", bound=Callable[..., Any])


def staff_required(*roles: StaffRole) -> Callable[[F], F]:
    """Only logged-in staff (optionally of the given roles); anonymous users go to the login."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.is_staff:
                abort(403)
            if roles and current_user.role not in roles and not current_user.is_admin:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def supporter_required(view: F) -> F:
    """Only a supporter signed in with a valid personal link."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return signed_out_response()
        if not current_user.is_supporter:
            abort(403)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def signed_out_message() -> str:
    return _(
        "This phone is signed out. Open your personal link again, or ask the organizer "
        "of your district for a new link or QR code."
    )


def signed_out_response() -> ResponseReturnValue:
    """403 for a phone without a valid session: a page saying so, or JSON for the phone's API
    (the field scripts treat 401/403 as signed out)."""
    if request.endpoint in PHONE_PAGE_ENDPOINTS:
        return render_template("auth/signed_out.html"), 403
    return json_error(403, signed_out_message(), signed_out=True)


def visible_district_ids(user: StaffUser) -> set[int]:
    """The districts this staff member may see; admins see all."""
    if user.is_admin:
        return set(db.session.scalars(sa.select(District.id)))
    return {d.id for d in user.districts}


def visible_districts(user: StaffUser) -> list[District]:
    """District rows this staff member may see, by id."""
    if user.is_admin:
        return list(db.session.scalars(sa.select(District).order_by(District.id)))
    return list(user.districts)


def ensure_district(user: StaffUser, district_id: int) -> None:
    """404 unless the staff member works for this district (no hint that it exists)."""
    if district_id not in visible_district_ids(user):
        abort(404)


M = TypeVar("M")


def get_in_district_or_404(user: StaffUser, model: type[M], obj_id: int) -> M:
    """Load a row that has a district (directly or via its drill) or answer 404."""
    obj = db.session.get(model, obj_id)
    if obj is None:
        abort(404)
    district_id = getattr(obj, "district_id", None)
    if district_id is None and hasattr(obj, "drill"):
        district_id = obj.drill.district_id
    if district_id is None:
        abort(404)
    ensure_district(user, district_id)
    return obj
