"""Forms of the feedback pages. Radio scales are optional: an unanswered question is None."""

from __future__ import annotations

import uuid
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    Field,
    Form,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Regexp, ValidationError

from watchnet.core.labels import select_choices
from watchnet.core.validation import SafeForm
from watchnet.feedback.labels import GAVE_NAME_LABELS
from watchnet.feedback.models import (
    CLIENT_ID_MAX,
    TEXT_MAX,
    THEME_NAME_MAX,
    GaveNameFirst,
    Viewpoint,
)
from watchnet.feedback.services import FeedbackAnswers

SCALE_CHOICES = [SelectChoice(n, str(n)) for n in range(1, 6)]


class OptionalRadioField(RadioField):
    """A radio group that may be left unanswered; a value sent must still be one of the choices.

    WTForms checks the choice before any Optional() validator could stop it.
    """

    def process_formdata(self, valuelist: list[str]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(str(_l("Choose one of the buttons."))) from None

    def pre_validate(self, form: Form) -> None:
        if self.data is None or self.data == "":
            return
        try:
            super().pre_validate(form)
        except ValidationError:
            raise ValidationError(str(_l("Choose one of the buttons."))) from None


def new_client_id() -> str:
    """A fresh id for one shown form: its repeated submission is stored once."""
    return uuid.uuid4().hex


class FeedbackForm(SafeForm):
    client_id = HiddenField(
        validators=[
            DataRequired(),
            Length(max=CLIENT_ID_MAX),
            Regexp(r"^[A-Za-z0-9_-]+$", message=_l("Reload the page and try again.")),
        ]
    )
    team_id = SelectField(
        _l("Which team called out to you?"),
        coerce=int,
        choices=[],
        validate_choice=False,
        default=0,
    )
    safe_approach = OptionalRadioField(choices=SCALE_CHOICES, coerce=int)
    gave_name_first = OptionalRadioField(
        choices=[SelectChoice(g.value, GAVE_NAME_LABELS[g]) for g in GaveNameFirst]
    )
    location_ease = OptionalRadioField(choices=SCALE_CHOICES, coerce=int)
    confidence_alone = OptionalRadioField(choices=SCALE_CHOICES, coerce=int)
    text = TextAreaField(
        _l("What did you notice? What would you do differently?"), validators=[Length(max=TEXT_MAX)]
    )

    def answers(self, viewpoint: Viewpoint) -> FeedbackAnswers:
        """The parsed answers for the service."""
        return FeedbackAnswers(
            viewpoint=viewpoint,
            client_id=self.client_id.data or "",
            team_id=self.team_id.data or None,
            safe_approach=self.safe_approach.data or None,
            gave_name_first=GaveNameFirst(self.gave_name_first.data)
            if self.gave_name_first.data
            else None,
            location_ease=self.location_ease.data or None,
            confidence_alone=self.confidence_alone.data or None,
            text=self.text.data or "",
        )


class StaffFeedbackForm(FeedbackForm):
    supporter_id = SelectField(
        _l("On behalf of"), coerce=int, choices=[], validate_choice=False, default=0
    )


def _team_choices(form: FeedbackForm, teams: list[tuple[int, str]]) -> None:
    form.team_id.choices = [
        SelectChoice(0, _l("Choose a team")),
        *select_choices(teams, user_data=True),
    ]


def feedback_form(teams: list[tuple[int, str]], **kwargs: Any) -> FeedbackForm:
    """The phone's form; the team list is the drill's teams."""
    form = FeedbackForm(**kwargs)
    _team_choices(form, teams)
    if not form.client_id.data:
        form.client_id.data = new_client_id()
    return form


def staff_feedback_form(
    teams: list[tuple[int, str]], people: list[tuple[int, str]], **kwargs: Any
) -> StaffFeedbackForm:
    """The organizer's form: any viewpoint, for themselves or typed in for a participant."""
    form = StaffFeedbackForm(**kwargs)
    _team_choices(form, teams)
    form.team_id.label.text = str(_l("Team"))
    form.supporter_id.choices = [
        SelectChoice(0, _l("Myself (organizer)")),
        *select_choices(people, user_data=True),
    ]
    if not form.client_id.data:
        form.client_id.data = new_client_id()
    return form


class ThemeForm(SafeForm):
    name = StringField(_l("New theme"), validators=[DataRequired(), Length(max=THEME_NAME_MAX)])


class CurateForm(SafeForm):
    feedback_id = HiddenField(validators=[DataRequired()])
    theme_ids = SelectMultipleField(_l("Themes"), coerce=int, validate_choice=False)
    is_quote_chosen = BooleanField(_l("Use in the newsletter"))

    def validate_feedback_id(self, field: Field) -> None:
        if not str(field.data or "").isdigit():
            raise ValidationError(_l("Reload the page and try again."))
