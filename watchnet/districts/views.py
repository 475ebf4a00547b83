"""District pages: landmarks, and the address points loaded for "where am I"."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from watchnet.auth.access import (
    ensure_district,
    get_in_district_or_404,
    staff_required,
    visible_district_ids,
    visible_districts,
)
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.districts.addresses import BAD_REASONS, address_counts, recent_imports
from watchnet.districts.forms import DeleteForm, LandmarkForm
from watchnet.districts.models import District, Landmark
from watchnet.districts.services import (
    add_landmark,
    landmarks_of,
    remove_landmark,
    update_landmark,
)
from watchnet.maps.builders import (
    MapParts,
    TileSettings,
    add_landmarks,
    fit_to,
    new_map,
    render_parts,
)

bp = Blueprint("districts", __name__, url_prefix="/districts")

Page = Response | str | tuple[str, int]


def _landmark_map(district: District, landmarks: list[Landmark]) -> MapParts:
    cfg = current_app.config
    tiles = TileSettings(cfg["TILE_URL"], cfg["TILE_ATTRIBUTION"], cfg["TILE_MAX_ZOOM"])
    m = new_map((district.center_lat, district.center_lon), tiles)
    add_landmarks(m, landmarks)
    fit_to(m, [(lm.lat, lm.lon) for lm in landmarks])
    return render_parts(m)


def _district_or_404(district_id: int) -> District:
    ensure_district(current_user, district_id)
    district = db.session.get(District, district_id)
    if district is None:
        abort(404)
    return district


def _render_landmarks(district: District, form: LandmarkForm, status: int = 200) -> Page:
    landmarks = landmarks_of(district)
    html = render_template(
        "districts/landmarks.html",
        district=district,
        landmarks=landmarks,
        form=form,
        delete_form=DeleteForm(),
        districts=visible_districts(current_user),
        map_parts=_landmark_map(district, landmarks),
    )
    return (html, status) if status != 200 else html


@bp.get("/landmarks")
@staff_required()
def list_landmarks() -> Page:
    """The landmarks of the staff member's first district (a switcher offers the others)."""
    districts = visible_districts(current_user)
    if not districts:
        return render_template("districts/no_district.html")
    return _render_landmarks(districts[0], LandmarkForm(formdata=None))


@bp.get("/<int:district_id>/landmarks")
@staff_required()
def district_landmarks(district_id: int) -> Page:
    """One district's landmarks on a map and in a table, with a form to add one."""
    return _render_landmarks(_district_or_404(district_id), LandmarkForm(formdata=None))


@bp.post("/<int:district_id>/landmarks")
@staff_required()
def create_landmark(district_id: int) -> Page:
    """Add a landmark; bad input re-renders the page with field messages."""
    district = _district_or_404(district_id)
    form = LandmarkForm()
    if form.validate():
        try:
            landmark = add_landmark(
                district,
                form.name.data or "",
                form.kind.data or "other",
                form.lat.data or 0.0,
                form.lon.data or 0.0,
            )
        except UserInputError as exc:
            db.session.rollback()
            getattr(form, exc.field or "name").errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("The landmark %(name)s was added.", name=landmark.name), "success")
            return redirect(url_for(".district_landmarks", district_id=district.id))
    return _render_landmarks(district, form, 422)


@bp.route("/landmarks/<int:landmark_id>/edit", methods=["GET", "POST"])
@staff_required()
def edit_landmark(landmark_id: int) -> Page:
    """Change a landmark's name, kind or position."""
    landmark = get_in_district_or_404(current_user, Landmark, landmark_id)
    district = landmark.district
    form = LandmarkForm(obj=landmark)
    status = 200
    if form.is_submitted():
        status = 422
        if form.validate():
            try:
                update_landmark(
                    landmark,
                    form.name.data or "",
                    form.kind.data or "other",
                    form.lat.data,
                    form.lon.data,
                )
            except UserInputError as exc:
                db.session.rollback()
                getattr(form, exc.field or "name").errors.append(str(exc))
            else:
                db.session.commit()
                flash(_("The landmark was saved."), "success")
                return redirect(url_for(".district_landmarks", district_id=district.id))
    html = render_template(
        "districts/landmark_edit.html",
        district=district,
        landmark=landmark,
        form=form,
        map_parts=_landmark_map(district, landmarks_of(district)),
    )
    return (html, status) if status != 200 else html


@bp.post("/landmarks/<int:landmark_id>/delete")
@staff_required()
def delete_landmark(landmark_id: int) -> Response:
    """Remove a landmark from its district."""
    landmark = get_in_district_or_404(current_user, Landmark, landmark_id)
    district_id, name = landmark.district_id, landmark.name
    if not DeleteForm().validate():
        abort(400)
    remove_landmark(landmark)
    db.session.commit()
    flash(_("The landmark %(name)s was deleted.", name=name), "info")
    return redirect(url_for(".district_landmarks", district_id=district_id))


@bp.get("/addresses")
@staff_required()
def address_points() -> Page:
    """How many address points are loaded per city and when, and the latest imports (those of
    the staff member's districts and those for no district; administrators see all)."""
    ids = None if current_user.is_admin else visible_district_ids(current_user)
    return render_template(
        "districts/addresses.html",
        counts=address_counts(ids),
        imports=recent_imports(ids),
        bad_reasons=BAD_REASONS,
        radius_m=int(current_app.config["ADDRESS_POINT_RADIUS_M"]),
        geocoder=bool(current_app.config.get("GEOCODER_URL")),
    )
