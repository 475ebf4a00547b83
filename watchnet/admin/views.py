"""Administrator pages: staff accounts and their districts, and the districts themselves."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from watchnet.admin.forms import DistrictForm, StaffForm
from watchnet.admin.services import save_district, save_staff_user
from watchnet.auth.access import staff_required
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.labels import select_choices
from watchnet.districts.models import District
from watchnet.people.models import StaffRole, StaffUser

bp = Blueprint("admin", __name__, url_prefix="/admin")

_ERRORS: dict[tuple[str | None, str], Callable[[], str]] = {
    ("email", "exists"): lambda: _("Another account uses this e-mail address."),
    ("password", "password required"): lambda: _("A new account needs a password."),
    ("name", "exists"): lambda: _("A district with this name exists already."),
    ("district_ids", "unknown district"): lambda: _("Unknown district."),
}


def _all_districts() -> list[District]:
    return list(db.session.scalars(sa.select(District).order_by(District.id)))


@bp.get("/staff")
@staff_required(StaffRole.admin)
def list_staff() -> str:
    """Every staff account with its role and districts."""
    users = db.session.scalars(sa.select(StaffUser).order_by(StaffUser.role, StaffUser.name)).all()
    return render_template("admin/staff_list.html", users=users)


@bp.route("/staff/new", methods=["GET", "POST"], defaults={"user_id": None})
@bp.route("/staff/<int:user_id>/edit", methods=["GET", "POST"])
@staff_required(StaffRole.admin)
def edit_staff(user_id: int | None) -> Response | str | tuple[str, int]:
    """Create or edit a staff account."""
    user = db.session.get(StaffUser, user_id) if user_id else None
    if user_id and user is None:
        abort(404)
    form = StaffForm(obj=user)
    form.district_ids.choices = select_choices(
        ((d.id, d.name) for d in _all_districts()), user_data=True
    )
    if user is not None and not form.is_submitted():
        form.district_ids.data = [d.id for d in user.districts]
    if form.validate_on_submit():
        try:
            save_staff_user(
                user,
                email=form.email.data or "",
                name=form.name.data or "",
                role=form.role.data or "",
                district_ids=form.district_ids.data or [],
                password=form.password.data or None,
                is_active=bool(form.is_active.data),
            )
        except UserInputError as exc:
            db.session.rollback()
            getattr(form, exc.field or "email").errors.append(_ERRORS[(exc.field, str(exc))]())
        else:
            db.session.commit()
            flash(_("The account was saved."), "success")
            return redirect(url_for("admin.list_staff"))
    status = 422 if form.errors else 200
    return render_template("admin/staff_form.html", form=form, user=user), status


@bp.get("/districts")
@staff_required(StaffRole.admin)
def list_districts() -> str:
    """Every district."""
    return render_template("admin/district_list.html", districts=_all_districts())


@bp.route("/districts/new", methods=["GET", "POST"], defaults={"district_id": None})
@bp.route("/districts/<int:district_id>/edit", methods=["GET", "POST"])
@staff_required(StaffRole.admin)
def edit_district(district_id: int | None) -> Response | str | tuple[str, int]:
    """Create or edit a district."""
    district = db.session.get(District, district_id) if district_id else None
    if district_id and district is None:
        abort(404)
    form = DistrictForm(obj=district)
    if form.validate_on_submit():
        try:
            save_district(
                district,
                name=form.name.data or "",
                name_kana=form.name_kana.data or "",
                center_lat=float(form.center_lat.data or 0),
                center_lon=float(form.center_lon.data or 0),
            )
        except UserInputError as exc:
            db.session.rollback()
            form.name.errors.append(_ERRORS[(exc.field, str(exc))]())
        else:
            db.session.commit()
            flash(_("The district was saved."), "success")
            return redirect(url_for("admin.list_districts"))
    status = 422 if form.errors else 200
    return render_template("admin/district_form.html", form=form, district=district), status
