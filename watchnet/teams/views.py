"""The teams page of a drill (teams, participants, invitations) and the printed team handouts."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.wrappers import Response

from watchnet.auth.access import get_in_district_or_404, staff_required
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.refusal import refuse_form
from watchnet.core.urls import points_at_this_machine
from watchnet.drills.models import Drill, Team
from watchnet.teams import services
from watchnet.teams.forms import ConfirmForm, InviteForm, assign_form, team_form

bp = Blueprint("teams", __name__, url_prefix="/drills/<int:drill_id>/teams")

_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def team_color(team: Team) -> str:
    """The team's colour for a style attribute; anything but #rrggbb falls back to grey."""
    return team.color if _HEX_COLOR.fullmatch(team.color or "") else "#333333"


def _drill(drill_id: int) -> Drill:
    return get_in_district_or_404(current_user, Drill, drill_id)


def _back(drill: Drill, anchor: str = "") -> Response:
    return redirect(url_for("teams.manage_teams", drill_id=drill.id) + anchor)


def _manage_page(drill: Drill, status: int = 200, **bound: Any) -> tuple[str, int]:
    """Render the teams page; `bound` holds a form that failed, to show with its messages."""
    overview = services.load_team_overview(drill)
    team_choices = [(t.id, t.name) for t in overview.teams]
    edit_forms = {t.id: team_form(t, formdata=None) for t in overview.teams}
    edit_forms.update(bound.pop("edit_forms", {}))
    participants = overview.unassigned + [p for ms in overview.members.values() for p in ms]
    assign_forms = {
        p.id: assign_form(
            p.id,
            team_choices,
            formdata=None,
            data={"team_id": p.team_id or 0, "role": p.role.value},
        )
        for p in participants
    }
    for pid, form in bound.pop("assign_forms", {}).items():
        form.team_id.choices = assign_forms[pid].team_id.choices if pid in assign_forms else []
        assign_forms[pid] = form
    context: dict[str, Any] = {
        "create_form": team_form(formdata=None),
        "invite_form": InviteForm(formdata=None),
    }
    context.update(bound)
    return render_template(
        "teams/manage.html",
        drill=drill,
        overview=overview,
        edit_forms=edit_forms,
        assign_forms=assign_forms,
        team_color=team_color,
        **context,
    ), status


@bp.get("/")
@staff_required()
def manage_teams(drill_id: int) -> tuple[str, int]:
    """The drill's teams, their members, unassigned participants and supporters to invite."""
    return _manage_page(_drill(drill_id))


@bp.post("/new")
@staff_required()
def create_team(drill_id: int) -> Response | tuple[str, int]:
    """Add a team."""
    drill = _drill(drill_id)
    form = team_form()
    if form.validate_on_submit():
        try:
            team = services.create_team(drill, form.name.data or "", form.color.data or "")
        except UserInputError as exc:
            refuse_form(form, exc)
        else:
            db.session.commit()
            flash(_("The team was created."), "success")
            return _back(drill, f"#team-{team.id}")
    return _manage_page(drill, 422, create_form=form)


@bp.post("/<int:team_id>/edit")
@staff_required()
def update_team(drill_id: int, team_id: int) -> Response | tuple[str, int]:
    """Rename or recolour a team."""
    drill = _drill(drill_id)
    team = services.get_team_or_404(drill, team_id)
    form = team_form(team)
    if form.validate_on_submit():
        try:
            services.update_team(team, form.name.data or "", form.color.data or "")
        except UserInputError as exc:
            refuse_form(form, exc)
        else:
            db.session.commit()
            flash(_("The team was saved."), "success")
            return _back(drill, f"#team-{team.id}")
    return _manage_page(drill, 422, edit_forms={team_id: form}, open_team_id=team_id)


@bp.post("/<int:team_id>/delete")
@staff_required()
def delete_team(drill_id: int, team_id: int) -> Response:
    """Delete a team; its members become unassigned."""
    drill = _drill(drill_id)
    team = services.get_team_or_404(drill, team_id)
    if ConfirmForm().validate_on_submit():
        services.delete_team(team)
        db.session.commit()
        flash(_("The team was deleted. Its members are now without a team."), "success")
    return _back(drill)


@bp.post("/invite")
@staff_required()
def invite_supporters(drill_id: int) -> Response | tuple[str, int]:
    """Invite supporters of the drill's district."""
    drill = _drill(drill_id)
    form = InviteForm()
    if form.validate_on_submit():
        try:
            added = services.invite_supporters(drill, form.supporter_ids.data or [])
        except UserInputError as exc:
            refuse_form(form, exc)
        else:
            db.session.commit()
            flash(
                ngettext(
                    "%(num)d supporter was invited.", "%(num)d supporters were invited.", len(added)
                ),
                "success",
            )
            return _back(drill, "#unassigned")
    return _manage_page(drill, 422, invite_form=form)


@bp.post("/participants/<int:participant_id>")
@staff_required()
def assign_participant(drill_id: int, participant_id: int) -> Response | tuple[str, int]:
    """Set a participant's team and role."""
    drill = _drill(drill_id)
    participant = services.get_participant_or_404(drill, participant_id)
    form = assign_form(participant_id, [])
    if form.validate_on_submit():
        team = services.get_team_or_404(drill, form.team_id.data) if form.team_id.data else None
        try:
            services.assign_participant(participant, team, form.role.data or "")
        except UserInputError as exc:
            refuse_form(form, exc)
        else:
            db.session.commit()
            flash(_("Saved."), "success")
            return _back(drill, f"#participant-{participant_id}")
    return _manage_page(drill, 422, assign_forms={participant_id: form})


@bp.post("/participants/<int:participant_id>/remove")
@staff_required()
def remove_participant(drill_id: int, participant_id: int) -> Response:
    """Take a supporter off the drill."""
    drill = _drill(drill_id)
    participant = services.get_participant_or_404(drill, participant_id)
    if ConfirmForm().validate_on_submit():
        services.remove_participant(participant)
        db.session.commit()
        flash(_("The participant was removed from this drill."), "success")
    return _back(drill)


@bp.post("/balance")
@staff_required()
def balance_teams(drill_id: int) -> Response:
    """Spread the walkers over the teams, mixing the kinds of supporter."""
    drill = _drill(drill_id)
    if ConfirmForm().validate_on_submit():
        try:
            count = services.balance_teams(drill)
        except UserInputError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(
                ngettext(
                    "%(num)d walker was placed in a team.",
                    "%(num)d walkers were spread over the teams.",
                    count,
                ),
                "success",
            )
    return _back(drill)


def _links_lead_nowhere(handouts: Any) -> bool:
    """The sign-in links point at this machine (PUBLIC_BASE_URL not set): say so on screen."""
    urls = [m.signin_url for h in handouts.handouts for m in h.members]
    return bool(urls) and points_at_this_machine(urls[0])  # all share one base


def _handout_response(html: str) -> Response:
    # The page carries personal sign-in links: keep it out of caches and history snapshots.
    response = make_response(html)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/<int:team_id>/handout")
@staff_required()
def team_handout(drill_id: int, team_id: int) -> Response:
    """The one-page printable handout of one team (A4)."""
    drill = _drill(drill_id)
    team = services.get_team_or_404(drill, team_id)
    handouts = services.build_handouts(drill, [team])
    db.session.commit()
    return _handout_response(
        render_template(
            "teams/handout.html",
            hs=handouts,
            team_color=team_color,
            page_title=f"{team.name} — {drill.title}",
            links_lead_nowhere=_links_lead_nowhere(handouts),
        )
    )


@bp.get("/handouts")
@staff_required()
def all_handouts(drill_id: int) -> Response:
    """Every team's handout, one A4 page each."""
    drill = _drill(drill_id)
    handouts = services.build_handouts(drill, services.all_teams(drill))
    db.session.commit()
    return _handout_response(
        render_template(
            "teams/handout.html",
            hs=handouts,
            team_color=team_color,
            page_title=drill.title,
            links_lead_nowhere=_links_lead_nowhere(handouts),
        )
    )
