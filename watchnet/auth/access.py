"""Who may see what: staff see only their districts' data; supporters see no staff pages."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import abort
from flask_login import current_user

from watchnet.districts.models import District
from watchnet.extensions import db, login_manager
from watchnet.people.models import StaffRole, StaffUser, Supporter

F = TypeVar("F", bound=Callable[..., Any])


@login_manager.user_loader
def load_principal(user_id: str) -> StaffUser | Supporter | None:
    """Resolve the session's principal; a revoked supporter link resolves to nobody."""
    kind, _, rest = user_id.partition(":")
    if kind == "staff":
        user = db.session.get(StaffUser, int(rest)) if rest.isdigit() else None
        return user if user is not None and user.is_active else None
    if kind == "supporter":
        sid, _, version = rest.partition(":")
        if not (sid.isdigit() and version.isdigit()):
            return None
        supporter = db.session.get(Supporter, int(sid))
        if supporter and supporter.is_active and supporter.token_version == int(version):
            return supporter
    return None


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
        if not current_user.is_authenticated or not current_user.is_supporter:
            abort(403)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


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
