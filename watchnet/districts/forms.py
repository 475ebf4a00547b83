"""Forms for district pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FloatField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from watchnet.core.labels import choices
from watchnet.core.validation import SafeForm
from watchnet.districts.models import LandmarkKind


def _finite(form: FlaskForm, field: FloatField) -> None:
    # float("nan") and float("inf") pass NumberRange silently; refuse them explicitly.
    value = field.data
    if value is not None and (value != value or value in (float("inf"), float("-inf"))):
        raise ValidationError(_l("Please enter a number."))


class LandmarkForm(SafeForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    kind = SelectField(_l("Kind"), choices=choices(LandmarkKind), default=LandmarkKind.other.value)
    lat = FloatField(
        _l("Latitude"),
        validators=[
            InputRequired(),
            _finite,
            NumberRange(min=-90, max=90, message=_l("Latitude must be between -90 and 90.")),
        ],
    )
    lon = FloatField(
        _l("Longitude"),
        validators=[
            InputRequired(),
            _finite,
            NumberRange(min=-180, max=180, message=_l("Longitude must be between -180 and 180.")),
        ],
    )


class DeleteForm(SafeForm):
    """An empty form: only the CSRF token."""
