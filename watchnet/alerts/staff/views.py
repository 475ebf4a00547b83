"""Coordinator pages of an alert: the list, the fast start form, the dashboard (map, who was
told / opened / answered, failed deliveries, timeline; live without reload) and its actions
(widen, override the radius, remind, review sightings, close).

Only coordinators (and admins) of the alert's district; organizers see the list without names.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from watchnet.alerts import places, services
from watchnet.alerts.models import Alert, AlertStatus, Sighting, SightingStatus
from watchnet.alerts.staff import dashboard
from watchnet.alerts.staff.forms import (
    STATUS_LABELS,
    ActionForm,
    CloseAlertForm,
    RadiusForm,
    ReviewSightingForm,
    StartAlertForm,
    alert_input,
    consent_info,
    prefill_defaults,
    prefill_from_person,
)
from watchnet.alerts.targeting import radius_schedule
from watchnet.audit.reads import audited_read, note_read
from watchnet.auth.access import (
    ensure_district,
    get_in_district_or_404,
    staff_required,
    visible_districts,
)
from watchnet.core.errors import UserInputError, json_error
from watchnet.core.extensions import db
from watchnet.core.geo import is_valid_latlon
from watchnet.core.geocoding import GeocoderUnavailable, find_address
from watchnet.core.i18n import default_locale
from watchnet.core.refusal import refuse_form
from watchnet.districts.models import District
from watchnet.maps.alert_maps import Place, alert_map_parts, format_km, place_picker_parts
from watchnet.maps.drill_maps import tile_settings
from watchnet.people.models import StaffRole
from watchnet.registry.models import AtRiskPerson
from watchnet.registry.services import alertable_persons

bp = Blueprint("alerts", __name__)

coordinator_required = staff_required(StaffRole.coordinator)


def _is_coordinator() -> bool:
    return bool(current_user.is_admin or current_user.role == StaffRole.coordinator)


def _district(district_id: int) -> District:
    ensure_district(current_user, district_id)
    district = db.session.get(District, district_id)
    if district is None:
        abort(404)
    return district


def _alert(alert_id: int) -> Alert:
    return get_in_district_or_404(current_user, Alert, alert_id)


def _locale() -> str:
    locale = get_locale()
    return locale.language if locale is not None else "ja"


# ---------------------------------------------------------------------------------------------
# The list


@bp.get("/alerts")
@staff_required()
def index() -> ResponseReturnValue:
    """The menu entry: the alerts of the user's first district (the list offers the others)."""
    districts = visible_districts(current_user)
    if not districts:
        return render_template("alerts/staff/no_district.html")
    return redirect(url_for(".list_alerts", district_id=districts[0].id))


@bp.get("/districts/<int:district_id>/alerts")
@staff_required()
def list_alerts(district_id: int) -> str:
    """Active alerts first, then closed ones; names only for coordinators."""
    district = _district(district_id)
    return render_template(
        "alerts/staff/list.html",
        district=district,
        districts=visible_districts(current_user),
        alerts=dashboard.district_alerts(district.id),
        is_coordinator=_is_coordinator(),
        status_labels=STATUS_LABELS,
    )


# ---------------------------------------------------------------------------------------------
# Starting an alert


def _chosen_person(district: District, person_id: int | None) -> AtRiskPerson | None:
    if not person_id:
        return None
    person = db.session.get(AtRiskPerson, person_id)
    if person is None or person.district_id != district.id or person.is_archived:
        abort(404)
    return person


def _locate(form: StartAlertForm, district: District) -> bool:
    """Resolve a typed address when the map was not clicked; errors go on the place field."""
    if form.has_point() or not form.last_seen_place.data:
        return form.require_point()
    try:
        found = find_address(
            form.last_seen_place.data,
            near=(district.center_lat, district.center_lon),
            language=_locale(),
        )
    except GeocoderUnavailable:
        form.last_seen_place.errors = [
            *form.last_seen_place.errors,
            _("The address search cannot be reached right now. Please click the map instead."),
        ]
        return False
    if found is None:
        form.last_seen_place.errors = [
            *form.last_seen_place.errors,
            _("No place was found for this address. Please check it or click the map."),
        ]
        return False
    form.last_seen_lat.data, form.last_seen_lon.data = found.lat, found.lon
    return True


def _home(person: AtRiskPerson | None) -> tuple[float, float] | None:
    if person is None or person.home_lat is None or person.home_lon is None:
        return None
    return (person.home_lat, person.home_lon)


def _describe(form: StartAlertForm, district: District, person: AtRiskPerson | None) -> bool:
    """A chosen point without a description gets the proposed one (what the confirmation
    then shows); without a landmark or address to propose, the coordinator is asked."""
    if form.last_seen_place.data or form.last_seen_place.errors:
        return not form.last_seen_place.errors
    point = (float(form.last_seen_lat.data or 0), float(form.last_seen_lon.data or 0))
    proposal = places.propose_place(
        district.id, point, language=default_locale()[:2], home=_home(person)
    )
    if not proposal.text:
        form.last_seen_place.errors = [str(places.MISSING_MESSAGE)]
        return False
    form.last_seen_place.data = proposal.text
    return True


def _render_start(
    district: District, form: StartAlertForm, person: AtRiskPerson | None, status: int = 200
) -> ResponseReturnValue:
    today = dashboard.local_now().date()
    info = consent_info(person, today) if person is not None else None
    # The person's registered places, as buttons and on the map: the point is set from them,
    # the description proposed from the district's landmarks (never "near home").
    quick: list[Place] = []
    centre = (district.center_lat, district.center_lon)
    if (home := _home(person)) is not None:
        centre = home
        quick.append(Place(home[0], home[1], _("Home")))
    if person is not None:
        quick += [Place(p.lat, p.lon, p.name) for p in person.places]
    if form.has_point():
        centre = (float(form.last_seen_lat.data), float(form.last_seen_lon.data))
    parts = place_picker_parts(centre, tile_settings(current_app.config), quick)
    persons = [(p, consent_info(p, today).state) for p in alertable_persons(district.id)]
    return render_template(
        "alerts/staff/start.html",
        district=district,
        form=form,
        person=person,
        consent=info,
        persons=persons,
        map_parts=parts,
        quick_places=quick,
        has_home=home is not None,
        geocode_url=url_for(".geocode_address", district_id=district.id),
        describe_url=url_for(".describe_place", district_id=district.id),
    ), status


def _render_confirm(district: District, form: StartAlertForm) -> ResponseReturnValue:
    lat, lon = float(form.last_seen_lat.data or 0), float(form.last_seen_lon.data or 0)
    radius_m, told = dashboard.targets_in_range(lat, lon, form.last_seen_utc())
    return render_template(
        "alerts/staff/confirm.html",
        district=district,
        form=form,
        is_exercise=form.is_exercise,
        told=told,
        radius=format_km(radius_m),
        carried=form.carried_values(),
    )


@bp.route("/districts/<int:district_id>/alerts/new", methods=["GET", "POST"])
@coordinator_required
@audited_read
def start_alert(district_id: int) -> ResponseReturnValue:
    """The start form (under a minute): a registered person or a description, where and when
    last seen, today's clothing, police, the number to call. A double submit starts one."""
    district = _district(district_id)
    form = StartAlertForm()
    if request.method == "GET":
        person = _chosen_person(district, request.args.get("person_id", type=int))
        prefill_defaults(
            form, now_local=dashboard.local_now(), last_contact=dashboard.last_contact(district.id)
        )
        if person is not None:
            prefill_from_person(
                form,
                person,
                dashboard.local_now().date(),
                consent_info(person, dashboard.local_now().date()),
            )
            note_read(
                "view_person", "at_risk_person", person.id, person.district_id, page="start_alert"
            )
        return _render_start(district, form, person)
    person = _chosen_person(district, form.person_id.data)
    if request.form.get("back") == "1":
        # "Correct something" on the confirmation: the form again as typed; nothing sent.
        form.confirmed.data = ""
        return _render_start(district, form, person)
    form.home_address = person.home_address if person is not None else ""
    valid = form.validate_on_submit()
    # The place is checked even when other fields are wrong, so every error shows at once.
    located = _locate(form, district) if form.is_submitted() else False
    if located and not _describe(form, district, person):
        valid = False
    if valid and located and not form.is_confirmed():
        # Nothing is sent before the coordinator has read "exercise" or "real" and how many
        # supporters will be told.
        return _render_confirm(district, form)
    if valid and located:
        info = consent_info(person, dashboard.local_now().date()) if person else None
        share_photo = bool(form.share_photo.data and info and info.photo_allowed)
        try:
            alert = services.start_alert(
                district,
                current_user._get_current_object(),
                alert_input(form, share_photo=share_photo),
                client_key=form.client_key.data or None,
            )
        except UserInputError as exc:
            refuse_form(form, exc, {"last_seen": "last_seen_place"})
        else:
            flash(_("The alert has started. Supporters nearby are being told."), "success")
            return redirect(url_for(".show_alert", alert_id=alert.id), 303)
    return _render_start(district, form, person, 422)


@bp.get("/districts/<int:district_id>/alerts/geocode")
@coordinator_required
def geocode_address(district_id: int) -> ResponseReturnValue:
    """Find a typed address for the start form's map (JSON)."""
    district = _district(district_id)
    query = (request.args.get("q") or "").strip()
    if not query:
        message = _("Please type an address.")
        return json_error(422, message, {"last_seen_place": [message]})
    try:
        found = find_address(
            query, near=(district.center_lat, district.center_lon), language=_locale()
        )
    except GeocoderUnavailable:
        message = _("The address search cannot be reached right now. Please click the map instead.")
        return json_error(503, message, {"last_seen_place": [message]})
    if found is None:
        message = _("No place was found for this address. Please check it or click the map.")
        return json_error(404, message, {"last_seen_place": [message]})
    return jsonify({"lat": found.lat, "lon": found.lon, "address": found.address})


@bp.get("/districts/<int:district_id>/alerts/describe-place")
@coordinator_required
def describe_place(district_id: int) -> ResponseReturnValue:
    """The description the start form proposes for a point (JSON): ?lat=&lon=[&person_id=]
    → {"place": "八幡公民館の北東 約200m", "source": "landmark" | "address" | "none"}."""
    district = _district(district_id)
    lat = request.args.get("lat", type=float)
    lon = request.args.get("lon", type=float)
    if lat is None or lon is None or not is_valid_latlon(lat, lon):
        message = _("Send the point as lat and lon (numbers on the map).")
        return json_error(422, message, {"lat": [message], "lon": [message]})
    person = _chosen_person(district, request.args.get("person_id", type=int))
    proposal = places.propose_place(
        district.id, (lat, lon), language=default_locale()[:2], home=_home(person)
    )
    db.session.commit()  # a street address the geocoder gave is cached (core/geocoding.py)
    return jsonify(
        {
            "place": proposal.text,
            "source": proposal.source,
            "landmark": proposal.landmark,
            "message": "" if proposal.text else str(places.MISSING_MESSAGE),
        }
    )


# ---------------------------------------------------------------------------------------------
# The dashboard


def _render_dashboard(
    alert: Alert,
    *,
    radius_form: RadiusForm | None = None,
    review_form: tuple[int, ReviewSightingForm] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    state = dashboard.dashboard_state(alert)
    parts = alert_map_parts(
        dashboard.map_data(state, dashboard.district_landmarks(alert)),
        tile_settings(current_app.config),
    )
    if radius_form is None:
        radius_form = RadiusForm()
        if alert.radius_override_m is not None:
            radius_form.radius_km.data = round(alert.radius_override_m / 1000, 2)
    return render_template(
        "alerts/staff/show.html",
        alert=alert,
        state=state,
        map_parts=parts.parts,
        layers=parts.layers,
        radius_form=radius_form,
        review_form=review_form,
        action_form=ActionForm(),
        status_labels=STATUS_LABELS,
        photo_ids=dashboard.person_photo_ids(alert),
        next_ring=dashboard.next_ring_m(alert, radius_schedule()),
        format_km=format_km,
        export_links=dashboard.export_links(alert.id),
        clock=dashboard.clock,
    ), status


@bp.get("/alerts/<int:alert_id>")
@coordinator_required
@audited_read
def show_alert(alert_id: int) -> ResponseReturnValue:
    """The coordinator's dashboard; static/js/alert_staff.js keeps it current."""
    alert = _alert(alert_id)
    note_read("view_alert", "alert", alert.id, alert.district_id)
    return _render_dashboard(alert)


@bp.get("/alerts/<int:alert_id>/state")
@coordinator_required
@audited_read
def alert_state(alert_id: int) -> Response:
    """The dashboard's state as JSON; with ?v=<version> answers {"unchanged": true} while
    nothing happened (the page polls every few seconds). The version covers the alert's
    events and its outbox rows, so a retry or a failure redraws the page too. An open
    dashboard is recorded as viewed once a minute (the read is throttled)."""
    alert = _alert(alert_id)
    note_read("view_alert", "alert", alert.id, alert.district_id)
    version = dashboard.state_version(alert.id)
    if request.args.get("v") == version:
        response = jsonify({"version": version, "unchanged": True})
    else:
        response = jsonify(dashboard.dashboard_state(alert))
    response.headers["Cache-Control"] = "no-store, private"
    return response


def _back(alert: Alert, anchor: str = "") -> ResponseReturnValue:
    return redirect(url_for(".show_alert", alert_id=alert.id) + anchor, 303)


def _refuse_closed(alert: Alert) -> ResponseReturnValue | None:
    if alert.is_active:
        return None
    flash(_("This alert is closed; nothing was changed."), "error")
    return _back(alert)


@bp.post("/alerts/<int:alert_id>/widen")
@coordinator_required
def widen_now(alert_id: int) -> ResponseReturnValue:
    """Widen to the next ring of the schedule now; the schedule goes on from there."""
    alert = _alert(alert_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if (refused := _refuse_closed(alert)) is not None:
        return refused
    ring = dashboard.next_ring_m(alert, radius_schedule())
    if ring is None:
        flash(
            _(
                "The search already covers the outer ring. Enter a larger radius below to "
                "widen further."
            ),
            "error",
        )
        return _back(alert, "#actions")
    told = services.widen_to_next_ring(alert, ring, current_user._get_current_object())
    db.session.commit()
    flash(
        _(
            "Search widened to %(distance)s: %(told)s more supporters told.",
            distance=format_km(ring),
            told=told,
        ),
        "success",
    )
    return _back(alert)


@bp.post("/alerts/<int:alert_id>/radius")
@coordinator_required
def set_radius(alert_id: int) -> ResponseReturnValue:
    """Override the scheduled radius, or clear the override."""
    alert = _alert(alert_id)
    form = RadiusForm()
    if (refused := _refuse_closed(alert)) is not None:
        return refused
    if not form.validate_on_submit():
        return _render_dashboard(alert, radius_form=form, status=422)
    radius_m = None if form.wants_clear() else float(form.radius_km.data or 0) * 1000
    try:
        told = services.override_radius(alert, radius_m, current_user._get_current_object())
    except UserInputError as exc:
        refuse_form(form, exc, {"radius_m": "radius_km"})
        return _render_dashboard(alert, radius_form=form, status=422)
    db.session.commit()
    if radius_m is None:
        flash(_("The override is cleared: the radius follows the schedule again."), "success")
    else:
        flash(
            _(
                "Radius set to %(distance)s: %(told)s more supporters told.",
                distance=format_km(radius_m),
                told=told,
            ),
            "success",
        )
    return _back(alert)


@bp.post("/alerts/<int:alert_id>/remind")
@coordinator_required
def remind_now(alert_id: int) -> ResponseReturnValue:
    """Remind now everyone who has not answered (once each)."""
    alert = _alert(alert_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if (refused := _refuse_closed(alert)) is not None:
        return refused
    reminded = services.remind_unanswered(alert, current_user._get_current_object())
    db.session.commit()
    if reminded:
        flash(_("Reminder sent to %(n)s supporters who had not answered.", n=reminded), "success")
    else:
        flash(_("Nobody to remind: everyone has answered or was already reminded."), "info")
    return _back(alert)


def _sighting(alert: Alert, sighting_id: int) -> Sighting:
    sighting = db.session.get(Sighting, sighting_id)
    if sighting is None or sighting.alert_id != alert.id:
        abort(404)
    return sighting


@bp.post("/alerts/<int:alert_id>/sightings/<int:sighting_id>/review")
@coordinator_required
def review_sighting(alert_id: int, sighting_id: int) -> ResponseReturnValue:
    """Confirmed / doubtful / duplicate; a confirmed one may become the last-seen point."""
    alert = _alert(alert_id)
    sighting = _sighting(alert, sighting_id)
    form = ReviewSightingForm()
    if (refused := _refuse_closed(alert)) is not None:
        return refused
    if not form.validate_on_submit():
        return _render_dashboard(alert, review_form=(sighting.id, form), status=422)
    actor = current_user._get_current_object()
    try:
        services.review_sighting(sighting, SightingStatus(form.status.data), actor)
        told = services.recentre_alert(alert, sighting, actor) if form.recentre.data else None
    except UserInputError as exc:
        refuse_form(form, exc)
        return _render_dashboard(alert, review_form=(sighting.id, form), status=422)
    db.session.commit()
    if told is not None:
        flash(
            _(
                "The search is re-centred on the sighting: %(told)s more supporters told.",
                told=told,
            ),
            "success",
        )
    else:
        flash(_("The sighting is marked."), "success")
    return _back(alert, "#sightings")


@bp.get("/alerts/<int:alert_id>/sightings/<int:sighting_id>/photo")
@coordinator_required
@audited_read
def sighting_photo(alert_id: int, sighting_id: int) -> Response:
    """A sighting's photo (JPEG without metadata); never cached."""
    alert = _alert(alert_id)
    sighting = _sighting(alert, sighting_id)
    if sighting.photo is None:
        abort(404)
    note_read("view_sighting_photo", "sighting", sighting.id, alert.district_id, alert_id=alert.id)
    response = Response(sighting.photo, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/alerts/<int:alert_id>/close", methods=["GET", "POST"])
@coordinator_required
def close_alert(alert_id: int) -> ResponseReturnValue:
    """End the search as found (where, condition) or cancelled, after a confirmation."""
    alert = _alert(alert_id)
    form = CloseAlertForm()
    if request.method == "GET" and not form.outcome.data:
        form.outcome.data = AlertStatus.found.value
    if alert.is_active and form.validate_on_submit():
        found = form.outcome.data == AlertStatus.found.value
        try:
            services.close_alert(
                alert,
                outcome=AlertStatus(form.outcome.data),
                found_place=(form.found_place.data or "") if found else "",
                found_lat=form.found_lat.data if found else None,
                found_lon=form.found_lon.data if found else None,
                found_condition=(form.found_condition.data or "") if found else "",
                note=form.note.data or "",
                actor=current_user._get_current_object(),
            )
        except UserInputError as exc:
            refuse_form(form, exc)
        else:
            db.session.commit()
            flash(
                _("The search has ended. Everyone who was told receives the all-clear."), "success"
            )
            return _back(alert)
    parts = place_picker_parts(
        (alert.last_seen_lat, alert.last_seen_lon),
        tile_settings(current_app.config),
        [Place(alert.last_seen_lat, alert.last_seen_lon, _("Last seen"))],
    )
    status = 422 if form.is_submitted() and alert.is_active else 200
    return render_template(
        "alerts/staff/close.html",
        alert=alert,
        form=form,
        map_parts=parts,
        status_labels=STATUS_LABELS,
    ), status
