"""Forms of the teams page. Several forms share one page, so per-row forms carry a prefix."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length

from watchnet.core.labels import choices, select_choices
from watchnet.core.validation import SafeForm
from watchnet.drills.models import ParticipantRole, Team
from watchnet.teams.services import TEAM_COLORS, TEAM_NAME_MAX


class TeamForm(SafeForm):
    name = StringField(_l("Team name"), validators=[DataRequired(), Length(max=TEAM_NAME_MAX)])
    color = SelectField(
        _l("Colour"), choices=select_choices(TEAM_COLORS), default=TEAM_COLORS[0][0]
    )


def team_form(team: Team | None = None, **kwargs: Any) -> TeamForm:
    """A create form, or an edit form for one team (prefixed, so many fit on one page).

    A team coloured before the palette existed keeps its colour as a choice.
    """
    if team is None:
        return TeamForm(prefix="new-team", **kwargs)
    form = TeamForm(prefix=f"team{team.id}", obj=team, **kwargs)
    if team.color not in {value for value, _label in TEAM_COLORS}:
        form.color.choices = [
            SelectChoice(team.color, _l("Current colour")),
            *select_choices(TEAM_COLORS),
        ]
    return form


class InviteForm(SafeForm):
    # Which ids may be invited is the service's rule (district, active); it answers for them.
    supporter_ids = SelectMultipleField(
        _l("Supporters to invite"), coerce=int, validate_choice=False
    )


class AssignForm(SafeForm):
    # 0 means "no team"; whether a team id belongs to the drill is checked when it is loaded.
    team_id = SelectField(
        _l("Team"), coerce=int, validate_choice=False, validators=[InputRequired()]
    )
    role = SelectField(_l("Role"), choices=choices(ParticipantRole))


def assign_form(
    participant_id: int, team_choices: list[tuple[int, str]], **kwargs: Any
) -> AssignForm:
    """The team-and-role form of one participant row."""
    form = AssignForm(prefix=f"p{participant_id}", **kwargs)
    form.team_id.choices = [
        SelectChoice(0, _l("No team")),
        *select_choices(team_choices, user_data=True),
    ]
    return form


class ConfirmForm(SafeForm):
    """A button-only form (delete, remove, balance): carries the CSRF token."""
