"""Supporter pages (staff side) and the supporter's own page."""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from watchnet.audit.reads import audited_read, note_read
from watchnet.auth.access import (
    get_in_district_or_404,
    staff_required,
    visible_district_ids,
    visible_districts,
)
from watchnet.auth.services import revoke_signin_token, signin_url
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.refusal import refuse_form
from watchnet.districts.models import District
from watchnet.people import csv_io, import_export, services
from watchnet.people.channel_forms import StaffPhoneChannelForm
from watchnet.people.channel_services import channel_lines
from watchnet.people.channels import add_phone_channel
from watchnet.people.forms import (
    ConfirmForm,
    ExportForm,
    ImportForm,
    RevokeLinkForm,
    SupporterFilterForm,
    SupporterForm,
    read_supporter_csv,
)
from watchnet.people.models import Supporter, SupporterImport
from watchnet.people.panels import supporters_panels
from watchnet.people.qr import qr_svg
from watchnet.people.queries import supporters_query
from watchnet.people.validation import problem_message

bp = Blueprint("people", __name__)

PER_PAGE = 100


def _district_or_404(district_id: int | None) -> District:
    if district_id is None or district_id not in visible_district_ids(current_user):
        abort(404)
    district = db.session.get(District, district_id)
    if district is None:
        abort(404)
    return district


def _supporter_or_404(supporter_id: int) -> Supporter:
    return get_in_district_or_404(current_user, Supporter, supporter_id)


# ---------------------------------------------------------------------------------------------
# Staff: the list, registering and editing


@bp.get("/supporters")
@staff_required()
def list_supporters() -> str:
    """Supporters of the staff member's districts, filtered."""
    districts = visible_districts(current_user)
    form = SupporterFilterForm(districts, request.args)
    form.validate()
    stmt = supporters_query(
        [d.id for d in districts], form.district_id(), form.kind_value(), form.q.data, form.active()
    )
    page = db.paginate(stmt, per_page=PER_PAGE, error_out=False)
    export_form = ExportForm(districts, district=form.district.data if form.district_id() else "")
    args = {k: v for k, v in request.args.items() if k != "page"}
    chosen = form.district_id()
    shown = [chosen] if chosen is not None else [d.id for d in districts]
    return render_template(
        "people/list.html",
        form=form,
        page=page,
        export_form=export_form,
        args=args,
        panels=supporters_panels(shown),
    )


@bp.route("/supporters/new", methods=["GET", "POST"])
@staff_required()
def new_supporter() -> Response | str | tuple[str, int]:
    """Register one supporter."""
    districts = visible_districts(current_user)
    form = SupporterForm(districts)
    if form.validate_on_submit():
        district = _district_or_404(form.district_id.data)
        try:
            supporter = services.register_supporter(district, **form.service_kwargs())
        except UserInputError as exc:
            refuse_form(form, exc, fallback="name")
        else:
            db.session.commit()
            flash(_("The supporter was registered."), "success")
            return redirect(url_for("people.show_supporter", supporter_id=supporter.id))
    status = 400 if form.is_submitted() else 200
    return render_template("people/form.html", form=form, supporter=None), status


@bp.route("/supporters/<int:supporter_id>/edit", methods=["GET", "POST"])
@staff_required()
def edit_supporter(supporter_id: int) -> Response | str | tuple[str, int]:
    """Change a supporter's details."""
    supporter = _supporter_or_404(supporter_id)
    districts = visible_districts(current_user)
    form = SupporterForm(
        districts,
        obj=supporter,
        notification_urls="\n".join(a.url for a in supporter.notification_addresses),
    )
    if form.validate_on_submit():
        district = _district_or_404(form.district_id.data)
        try:
            services.update_supporter(supporter, district, **form.service_kwargs())
        except UserInputError as exc:
            refuse_form(form, exc, fallback="name")
        else:
            db.session.commit()
            flash(_("The changes were saved."), "success")
            return redirect(url_for("people.show_supporter", supporter_id=supporter.id))
    status = 400 if form.is_submitted() else 200
    return render_template("people/form.html", form=form, supporter=supporter), status


@bp.get("/supporters/<int:supporter_id>")
@staff_required()
@audited_read
def show_supporter(supporter_id: int) -> str:
    """A supporter's details with their personal sign-in link and QR code (audited)."""
    supporter = _supporter_or_404(supporter_id)
    _note_link_view(supporter, "detail")
    return _render_detail(supporter, RevokeLinkForm())


def _note_link_view(supporter: Supporter, page: str) -> None:
    # The link signs a phone in, so every page that shows it is an audited read.
    note_read(
        "supporter.signin_link_viewed", "supporter", supporter.id, supporter.district_id, page=page
    )


def _render_detail(
    supporter: Supporter,
    revoke_form: RevokeLinkForm,
    phone_form: StaffPhoneChannelForm | None = None,
) -> str:
    url = signin_url(supporter)
    return render_template(
        "people/detail.html",
        supporter=supporter,
        signin_url=url,
        qr=qr_svg(url),
        revoke_form=revoke_form,
        action_form=ConfirmForm(),
        channel_lines=channel_lines(supporter, with_last_sent=True),
        phone_form=phone_form or StaffPhoneChannelForm(formdata=None),
    )


@bp.post("/supporters/<int:supporter_id>/phones")
@staff_required()
def add_supporter_phone(supporter_id: int) -> Response | tuple[str, int]:
    """Staff add a landline (calls only) or a mobile for a supporter who cannot do it
    themselves, with the person's consent; the row records who added it (and the audit log)."""
    supporter = _supporter_or_404(supporter_id)
    form = StaffPhoneChannelForm()
    if form.validate_on_submit():
        try:
            add_phone_channel(
                supporter,
                form.number.data or "",
                form.sms,
                form.voice,
                consent=bool(form.consent.data),
                added_by=current_user._get_current_object(),
                label=form.label.data or "",
            )
        except UserInputError as exc:
            refuse_form(form, exc, aliases={"sms": "kind"}, fallback="number")
        else:
            db.session.commit()
            flash(_("The number was added."), "success")
            return redirect(
                url_for("people.show_supporter", supporter_id=supporter.id) + "#channels"
            )
    return _render_detail(supporter, RevokeLinkForm(formdata=None), form), 422


@bp.get("/supporters/<int:supporter_id>/card")
@staff_required()
@audited_read
def supporter_card(supporter_id: int) -> str:
    """A printable card with the personal QR code to hand to the supporter."""
    supporter = _supporter_or_404(supporter_id)
    url = signin_url(supporter)
    _note_link_view(supporter, "card")
    return render_template("people/card.html", supporter=supporter, signin_url=url, qr=qr_svg(url))


@bp.post("/supporters/<int:supporter_id>/revoke-link")
@staff_required()
def revoke_link(supporter_id: int) -> Response | tuple[str, int]:
    """Replace the personal link; the old one stops working and its phones are logged out."""
    supporter = _supporter_or_404(supporter_id)
    form = RevokeLinkForm()
    if not form.validate_on_submit():
        return _render_detail(supporter, form), 400
    revoke_signin_token(supporter)
    db.session.commit()
    flash(
        _("The old link no longer works. Give the supporter the new link or QR code below."),
        "success",
    )
    return redirect(url_for("people.show_supporter", supporter_id=supporter.id))


@bp.post("/supporters/<int:supporter_id>/deactivate")
@staff_required()
def deactivate_supporter(supporter_id: int) -> Response:
    """Stop a supporter's link and notices without deleting them."""
    return _set_active(supporter_id, False)


@bp.post("/supporters/<int:supporter_id>/reactivate")
@staff_required()
def reactivate_supporter(supporter_id: int) -> Response:
    """Make a deactivated supporter active again."""
    return _set_active(supporter_id, True)


def _set_active(supporter_id: int, active: bool) -> Response:
    supporter = _supporter_or_404(supporter_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.set_supporter_active(supporter, active)
    db.session.commit()
    flash(
        _(
            "The supporter is active again with a new link. Give them the new link or QR code "
            "below; the old one stays invalid."
        )
        if active
        else _("The supporter was deactivated. Their link no longer works."),
        "success",
    )
    return redirect(url_for("people.show_supporter", supporter_id=supporter.id))


# ---------------------------------------------------------------------------------------------
# Staff: CSV import and export


@bp.route("/supporters/import", methods=["GET", "POST"])
@staff_required()
def import_supporters() -> Response | str | tuple[str, int]:
    """Upload a CSV; it is read into a stored preview, nothing is registered yet."""
    form = ImportForm(visible_districts(current_user))
    if form.validate_on_submit():
        district = _district_or_404(form.district_id.data)
        upload = form.file.data
        try:
            checked = read_supporter_csv(upload.read(), district)
            batch = import_export.prepare_supporter_import(
                district, current_user, upload.filename or "", checked
            )
        except UserInputError as exc:
            refuse_form(form, exc, fallback="name")
        else:
            db.session.commit()
            return redirect(url_for("people.import_preview", batch_id=batch.id))
    status = 400 if form.is_submitted() else 200
    return render_template("people/import.html", form=form, kinds=csv_io.kind_names()), status


@bp.get("/supporters/import/<int:batch_id>")
@staff_required()
def import_preview(batch_id: int) -> str:
    """Each row of the upload with its status or its problems; a button to confirm."""
    batch = get_in_district_or_404(current_user, SupporterImport, batch_id)
    return render_template(
        "people/import_preview.html",
        batch=batch,
        form=ConfirmForm(),
        problem=problem_message,
    )


@bp.post("/supporters/import/<int:batch_id>/confirm")
@staff_required()
def confirm_import(batch_id: int) -> Response:
    """Register the new rows of a preview, once."""
    batch = get_in_district_or_404(current_user, SupporterImport, batch_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        imported = import_export.confirm_supporter_import(batch)
    except UserInputError as exc:
        db.session.rollback()
        flash(str(exc.message), "warning")
        return redirect(url_for("people.import_preview", batch_id=batch_id))
    db.session.commit()
    flash(
        _(
            "%(imported)d supporters were imported; %(skipped)d rows were skipped.",
            imported=imported,
            skipped=batch.skipped_count,
        ),
        "success",
    )
    return redirect(url_for("people.list_supporters", district=batch.district_id))


@bp.get("/supporters/export.csv")
@staff_required()
def export_supporters() -> Response:
    """The supporters of one or all of the staff member's districts as CSV for Excel."""
    districts = visible_districts(current_user)
    form = ExportForm(districts, request.args)
    if not form.validate():
        abort(404 if form.district.errors else 400)
    district_ids = [int(form.district.data)] if form.district.data else [d.id for d in districts]
    data = import_export.export_supporters(district_ids, form.encoding.data or "utf-8-sig")
    db.session.commit()
    suffix = f"-{district_ids[0]}" if form.district.data else ""
    filename = f"supporters{suffix}-{date.today():%Y%m%d}.csv"
    charset = "shift_jis" if form.encoding.data == "cp932" else "utf-8"
    return Response(
        data,
        content_type=f"text/csv; charset={charset}",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
