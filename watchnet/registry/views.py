"""Registry pages for coordinators: the list, registration, the person page, edit, consents,
photos and archiving. Only coordinators (and admins) of the person's district get in; every
look at a person's details (page, edit form, photo) is written to the audit record."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from watchnet.audit.reads import audited_read, note_read
from watchnet.auth.access import ensure_district, staff_required, visible_districts
from watchnet.core.extensions import db
from watchnet.districts.models import District
from watchnet.drills.services import district_landmarks
from watchnet.maps.builders import MapParts
from watchnet.maps.drill_maps import tile_settings
from watchnet.maps.registry_maps import person_form_map_parts, person_map_parts
from watchnet.people.models import StaffRole
from watchnet.registry import services
from watchnet.registry.forms import (
    ConfirmForm,
    ConsentForm,
    PersonForm,
    PhotoForm,
    RegisterPersonForm,
    local_today,
)
from watchnet.registry.map_data import person_map_data
from watchnet.registry.models import AtRiskPerson, PersonPhoto
from watchnet.registry.photos import photo_limit_mb

bp = Blueprint("registry", __name__)

coordinator_required = staff_required(StaffRole.coordinator)


def _district(district_id: int) -> District:
    ensure_district(current_user, district_id)
    district = db.session.get(District, district_id)
    if district is None:
        abort(404)
    return district


def _person(person_id: int) -> AtRiskPerson:
    person = db.session.get(AtRiskPerson, person_id)
    if person is None:
        abort(404)
    ensure_district(current_user, person.district_id)
    return person


def _form_map(district: District, form: PersonForm) -> MapParts:
    points = [
        (e.form.lat.data, e.form.lon.data)
        for e in form.places.entries
        if e.form.lat.data is not None and e.form.lon.data is not None
    ]
    if form.home_lat.data is not None and form.home_lon.data is not None:
        points.insert(0, (form.home_lat.data, form.home_lon.data))
    return person_form_map_parts(
        (district.center_lat, district.center_lon),
        points,
        district_landmarks(district.id),
        tile_settings(current_app.config),
    )


def _person_context(person: AtRiskPerson) -> dict[str, Any]:
    today = local_today()
    return {
        "person": person,
        "today": today,
        "age": services.age_on(person.birth_date, today),
        "consent": services.current_consent(person),
        "consent_state": services.consent_state(person, today),
    }


@bp.get("/registry")
@coordinator_required
def index() -> ResponseReturnValue:
    """The registry entry in the menu: straight to the only district, or a choice."""
    districts = visible_districts(current_user)
    if len(districts) == 1:
        return redirect(url_for(".list_persons", district_id=districts[0].id))
    return render_template("registry/districts.html", districts=districts)


@bp.get("/districts/<int:district_id>/registry")
@coordinator_required
def list_persons(district_id: int) -> str:
    """The district's registered persons with their consent state (no personal details)."""
    district = _district(district_id)
    archived = request.args.get("archived") == "1"
    today = local_today()
    rows = [
        (
            p,
            services.age_on(p.birth_date, today),
            services.consent_state(p, today),
            services.current_consent(p),
        )
        for p in services.list_persons(district.id, archived=archived)
    ]
    states = [state for _p, _a, state, _c in rows]
    return render_template(
        "registry/list.html",
        district=district,
        rows=rows,
        archived=archived,
        needs_consent=states.count("expired") + states.count("none"),
        expiring=states.count("expiring"),
    )


@bp.route("/districts/<int:district_id>/registry/new", methods=["GET", "POST"])
@coordinator_required
def new_person(district_id: int) -> ResponseReturnValue:
    """Register a person with the consent given, contacts, usual places and photos."""
    district = _district(district_id)
    form = RegisterPersonForm()
    if not form.is_submitted():
        form.consent.form.prefill()
    elif form.validate():
        person = services.register_person(
            district,
            form.person_fields(),
            contacts=form.contact_fields(),
            places=form.place_fields(),
            consent=form.consent.form.to_fields(),
            photos=form.photo_uploads(),
            actor=current_user,
        )
        db.session.commit()
        flash(_("%(name)s has been registered.", name=person.name), "success")
        return redirect(url_for(".show_person", person_id=person.id))
    status = 400 if form.is_submitted() else 200
    return render_template(
        "registry/form.html",
        form=form,
        district=district,
        person=None,
        map_parts=_form_map(district, form),
        photo_max_mb=photo_limit_mb(),
    ), status


@bp.get("/registry/<int:person_id>")
@coordinator_required
@audited_read
def show_person(person_id: int) -> ResponseReturnValue:
    """The person page: description, photos, places, contacts, consent, "Start an alert"."""
    person = _person(person_id)
    note_read("view_person", "at_risk_person", person.id, person.district_id, page="page")
    return _render_show(person, PhotoForm(formdata=None))


def _render_show(
    person: AtRiskPerson, photo_form: PhotoForm, status: int = 200
) -> ResponseReturnValue:
    parts = person_map_parts(
        person_map_data(person),
        district_landmarks(person.district_id),
        tile_settings(current_app.config),
        home_label=_("Home"),
    )
    return render_template(
        "registry/show.html",
        map_parts=parts,
        photo_form=photo_form,
        photo_max_mb=photo_limit_mb(),
        confirm_form=ConfirmForm(),
        **_person_context(person),
    ), status


@bp.route("/registry/<int:person_id>/edit", methods=["GET", "POST"])
@coordinator_required
@audited_read
def edit_person(person_id: int) -> ResponseReturnValue:
    """Change the person's facts, contacts and usual places."""
    person = _person(person_id)
    if person.is_archived:
        abort(404)
    form = PersonForm()
    if not form.is_submitted():
        form.fill_from(person)
        note_read("view_person", "at_risk_person", person.id, person.district_id, page="edit")
    elif form.validate():
        services.update_person(
            person, form.person_fields(), contacts=form.contact_fields(), places=form.place_fields()
        )
        db.session.commit()
        flash(_("The changes have been saved."), "success")
        return redirect(url_for(".show_person", person_id=person.id))
    status = 400 if form.is_submitted() else 200
    return render_template(
        "registry/form.html",
        form=form,
        district=person.district,
        person=person,
        map_parts=_form_map(person.district, form),
    ), status


@bp.route("/registry/<int:person_id>/consents/new", methods=["GET", "POST"])
@coordinator_required
def add_consent(person_id: int) -> ResponseReturnValue:
    """Record a renewed (or new) consent; for an archived person this registers them again."""
    person = _person(person_id)
    form = ConsentForm()
    if not form.is_submitted():
        form.consent.form.prefill()
    elif form.validate():
        services.record_consent(person, form.consent.form.to_fields(), current_user)
        db.session.commit()
        flash(_("The consent has been recorded."), "success")
        return redirect(url_for(".show_person", person_id=person.id))
    status = 400 if form.is_submitted() else 200
    return render_template(
        "registry/consent_form.html", form=form, **_person_context(person)
    ), status


@bp.route("/registry/<int:person_id>/archive", methods=["GET", "POST"])
@coordinator_required
def archive_person(person_id: int) -> ResponseReturnValue:
    """Ask, then archive: the consent is withdrawn and no alert is offered for the person."""
    person = _person(person_id)
    if person.is_archived:
        return redirect(url_for(".show_person", person_id=person.id))
    form = ConfirmForm()
    if form.validate_on_submit():
        services.archive_person(person)
        db.session.commit()
        flash(_("%(name)s has been archived.", name=person.name), "success")
        return redirect(url_for(".list_persons", district_id=person.district_id))
    return render_template("registry/archive.html", form=form, person=person)


@bp.post("/registry/<int:person_id>/photos")
@coordinator_required
def add_photo(person_id: int) -> ResponseReturnValue:
    """Add a photo; a file that is not a photo, or too large, is a field error."""
    person = _person(person_id)
    if person.is_archived:
        abort(404)
    form = PhotoForm()
    if not form.validate():
        return _render_show(person, form, 400)
    if len(person.photos) >= services.MAX_PHOTOS:
        form.photo.errors = [_("A person has at most %(n)d photos.", n=services.MAX_PHOTOS)]
        return _render_show(person, form, 400)
    services.add_photo(person, form.upload(), current_user)
    db.session.commit()
    flash(_("The photo has been added."), "success")
    return redirect(url_for(".show_person", person_id=person.id) + "#photos")


def _photo(photo_id: int) -> PersonPhoto:
    photo = db.session.get(PersonPhoto, photo_id)
    if photo is None:
        abort(404)
    ensure_district(current_user, photo.person.district_id)
    return photo


@bp.post("/registry/photos/<int:photo_id>/remove")
@coordinator_required
def remove_photo(photo_id: int) -> ResponseReturnValue:
    """Delete a photo (after the browser asked for confirmation)."""
    photo = _photo(photo_id)
    person_id = photo.person_id
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.remove_photo(photo)
    db.session.commit()
    flash(_("The photo has been removed."), "success")
    return redirect(url_for(".show_person", person_id=person_id) + "#photos")


@bp.get("/registry/photos/<int:photo_id>")
@coordinator_required
@audited_read
def photo(photo_id: int) -> Response:
    """The photo as JPEG; never cached, since it is personal data."""
    item = _photo(photo_id)
    district_id = item.person.district_id
    note_read("view_person_photo", "person_photo", item.id, district_id, person_id=item.person_id)
    response = Response(item.data, mimetype=item.content_type)
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = f'inline; filename="photo-{item.id}.jpg"'
    return response
