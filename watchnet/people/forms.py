"""Forms for supporters: register/edit, filters, CSV import, the sign-in link."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    FloatField,
    Form,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)

from watchnet.core.labels import choices
from watchnet.core.validation import SafeForm
from watchnet.districts.models import District
from watchnet.people import services
from watchnet.people.models import SupporterKind


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _kana(form: FlaskForm, field: StringField) -> None:
    if field.data and not services.is_valid_kana(field.data):
        raise ValidationError(services.problem_message("kana"))


def _phone(form: FlaskForm, field: TelField) -> None:
    if field.data and not services.is_valid_phone(field.data):
        raise ValidationError(services.problem_message("phone"))


def _finite(form: FlaskForm, field: FloatField) -> None:
    if field.data is not None and not math.isfinite(field.data):
        raise ValidationError(services.problem_message("number"))


def _range(low: float, high: float, code: str) -> Callable[[FlaskForm, FloatField], None]:
    def check(form: FlaskForm, field: FloatField) -> None:
        if field.data is not None and math.isfinite(field.data) and not low <= field.data <= high:
            raise ValidationError(services.problem_message(code))

    return check


def _notification_urls(form: FlaskForm, field: TextAreaField) -> None:
    urls = services.split_notification_urls(field.data)
    if len(urls) > services.MAX_NOTIFICATION_URLS:
        raise ValidationError(
            services.problem_message("too_many_urls", max=services.MAX_NOTIFICATION_URLS)
        )
    for url in urls:
        code = services.notification_url_problem(url)
        if code:
            raise ValidationError(
                f"{url[:80]}: " + services.problem_message(code, max=services.URL_MAX)
            )


def _district_choices(districts: Sequence[District]) -> list[SelectChoice]:
    return [SelectChoice(d.id, d.name) for d in districts]


def _kind_choices() -> list[SelectChoice]:
    return choices(SupporterKind)


class SupporterForm(SafeForm):
    name = StringField(
        _l("Name"), filters=[_strip], validators=[DataRequired(), Length(max=services.NAME_MAX)]
    )
    name_kana = StringField(
        _l("Name in kana"),
        filters=[services.normalise_kana],
        validators=[DataRequired(), Length(max=services.KANA_MAX), _kana],
    )
    kind = SelectField(_l("Kind"), choices=_kind_choices(), validators=[InputRequired()])
    district_id = SelectField(_l("District"), coerce=int, validators=[InputRequired()])
    email = EmailField(
        _l("E-mail address"),
        filters=[_strip],
        validators=[Optional(), Length(max=services.EMAIL_MAX), Email()],
    )
    phone = TelField(
        _l("Phone number"),
        filters=[_strip],
        validators=[Optional(), Length(max=services.PHONE_MAX), _phone],
    )
    notification_urls = TextAreaField(
        _l("Further notification addresses"),
        validators=[
            Optional(),
            Length(max=(services.URL_MAX + 2) * services.MAX_NOTIFICATION_URLS),
            _notification_urls,
        ],
    )
    home_lat = FloatField(
        _l("Home latitude (approximate)"),
        validators=[Optional(), _finite, _range(-90, 90, "lat_range")],
    )
    home_lon = FloatField(
        _l("Home longitude (approximate)"),
        validators=[Optional(), _finite, _range(-180, 180, "lon_range")],
    )
    note = TextAreaField(
        _l("Note"), filters=[_strip], validators=[Optional(), Length(max=services.NOTE_MAX)]
    )

    def __init__(self, districts: Sequence[District], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.district_id.choices = _district_choices(districts)

    def validate(self, extra_validators: Any = None) -> bool:
        ok: bool = super().validate(extra_validators)
        lat_given = self.home_lat.data is not None
        lon_given = self.home_lon.data is not None
        if lat_given != lon_given and not self.home_lat.errors and not self.home_lon.errors:
            missing = self.home_lon if lat_given else self.home_lat
            missing.errors = [*missing.errors, services.problem_message("both")]
            ok = False
        return ok

    def service_kwargs(self) -> dict[str, Any]:
        """The values as register_supporter/update_supporter take them."""
        return {
            "name": self.name.data or "",
            "name_kana": self.name_kana.data or "",
            "kind": self.kind.data,
            "email": self.email.data or None,
            "phone": self.phone.data or None,
            "home_lat": self.home_lat.data,
            "home_lon": self.home_lon.data,
            "notification_urls": services.split_notification_urls(self.notification_urls.data),
            "note": self.note.data or "",
        }


ACTIVE_CHOICES = [
    SelectChoice("active", _l("Active")),
    SelectChoice("inactive", _l("Inactive")),
    SelectChoice("all", _l("All")),
]


class SupporterFilterForm(Form):
    """The list's filters, read from the query string (no CSRF: it changes nothing)."""

    district = SelectField(_l("District"), validators=[Optional()])
    kind = SelectField(_l("Kind"), validators=[Optional()])
    q = StringField(
        _l("Name, kana or e-mail"), filters=[_strip], validators=[Optional(), Length(max=100)]
    )
    status = SelectField(
        _l("Status"), choices=ACTIVE_CHOICES, default="active", validators=[Optional()]
    )

    def __init__(self, districts: Sequence[District], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.district.choices = [SelectChoice("", _l("All my districts"))] + [
            SelectChoice(str(d.id), d.name) for d in districts
        ]
        self.kind.choices = [SelectChoice("", _l("All kinds")), *_kind_choices()]

    def district_id(self) -> int | None:
        value = self.district.data
        return int(value) if value and value.isdigit() and not self.district.errors else None

    def kind_value(self) -> str | None:
        if self.kind.errors:
            return None
        return self.kind.data or None

    def active(self) -> bool | None:
        return {"active": True, "inactive": False}.get(self.status.data or "active")


class ImportForm(SafeForm):
    district_id = SelectField(
        _l("District to import into"), coerce=int, validators=[InputRequired()]
    )
    file = FileField(_l("CSV file"), validators=[FileRequired()])

    def __init__(self, districts: Sequence[District], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.district_id.choices = _district_choices(districts)


class ExportForm(Form):
    district = SelectField(_l("District"), validators=[Optional()])
    encoding = SelectField(
        _l("Encoding"),
        choices=[
            SelectChoice("utf-8-sig", _l("UTF-8 with BOM (Excel 2016 and later)")),
            SelectChoice("cp932", _l("Shift_JIS / CP932 (older Excel)")),
        ],
        default="utf-8-sig",
    )

    def __init__(self, districts: Sequence[District], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.district.choices = [SelectChoice("", _l("All my districts"))] + [
            SelectChoice(str(d.id), d.name) for d in districts
        ]


class ConfirmForm(SafeForm):
    """An empty form: the CSRF token of a button that changes something."""


class RevokeLinkForm(SafeForm):
    confirm = BooleanField(
        _l(
            "I understand: the old link and QR code stop working, and phones signed in with it "
            "are logged out."
        ),
        validators=[DataRequired(_l("Please tick the box to confirm."))],
    )
