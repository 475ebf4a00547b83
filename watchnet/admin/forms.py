"""Forms for administrators: staff accounts and districts."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    FloatField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    widgets,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional

from watchnet.core.labels import choices
from watchnet.core.validation import SafeForm
from watchnet.people.models import StaffRole


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class StaffForm(SafeForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    role = SelectField(_l("Role"), choices=choices(StaffRole), validators=[DataRequired()])
    district_ids = MultiCheckboxField(_l("Districts"), coerce=int)
    password = PasswordField(
        _l("Password"),
        validators=[Optional(), Length(min=8, max=200)],
        description=_l("At least 8 characters. Leave empty to keep the current password."),
    )
    is_active = BooleanField(_l("Account is active"), default=True)


class DistrictForm(SafeForm):
    name = StringField(_l("District name"), validators=[DataRequired(), Length(max=100)])
    name_kana = StringField(_l("Reading (kana)"), validators=[Optional(), Length(max=100)])
    center_lat = FloatField(
        _l("Map centre latitude"), validators=[DataRequired(), NumberRange(min=-90, max=90)]
    )
    center_lon = FloatField(
        _l("Map centre longitude"), validators=[DataRequired(), NumberRange(min=-180, max=180)]
    )
