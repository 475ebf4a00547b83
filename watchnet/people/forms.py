"""Forms for supporters: register/edit, filters, CSV import (the upload and the check of its
rows), the sign-in link."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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

from watchnet.core.errors import UserInputError
from watchnet.core.labels import choices, select_choices
from watchnet.core.validation import SafeForm
from watchnet.districts.models import District
from watchnet.people import csv_io, validation
from watchnet.people.models import SupporterKind


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _kana(form: FlaskForm, field: StringField) -> None:
    if field.data and not validation.is_valid_kana(field.data):
        raise ValidationError(validation.problem_message("kana"))


def _phone(form: FlaskForm, field: TelField) -> None:
    if field.data and not validation.is_valid_phone(field.data):
        raise ValidationError(validation.problem_message("phone"))


def _finite(form: FlaskForm, field: FloatField) -> None:
    if field.data is not None and not math.isfinite(field.data):
        raise ValidationError(validation.problem_message("number"))


def _range(low: float, high: float, code: str) -> Callable[[FlaskForm, FloatField], None]:
    def check(form: FlaskForm, field: FloatField) -> None:
        if field.data is not None and math.isfinite(field.data) and not low <= field.data <= high:
            raise ValidationError(validation.problem_message(code))

    return check


def _notification_urls(form: FlaskForm, field: TextAreaField) -> None:
    urls = validation.split_notification_urls(field.data)
    if len(urls) > validation.MAX_NOTIFICATION_URLS:
        raise ValidationError(
            validation.problem_message("too_many_urls", max=validation.MAX_NOTIFICATION_URLS)
        )
    for url in urls:
        code = validation.notification_url_problem(url)
        if code:
            raise ValidationError(
                f"{url[:80]}: " + validation.problem_message(code, max=validation.URL_MAX)
            )


def _district_choices(districts: Sequence[District]) -> list[SelectChoice]:
    return select_choices(((d.id, d.name) for d in districts), user_data=True)


def _kind_choices() -> list[SelectChoice]:
    return choices(SupporterKind)


class SupporterForm(SafeForm):
    name = StringField(
        _l("Name"), filters=[_strip], validators=[DataRequired(), Length(max=validation.NAME_MAX)]
    )
    name_kana = StringField(
        _l("Name in kana"),
        filters=[validation.normalise_kana],
        validators=[DataRequired(), Length(max=validation.KANA_MAX), _kana],
    )
    kind = SelectField(_l("Kind"), choices=_kind_choices(), validators=[InputRequired()])
    district_id = SelectField(_l("District"), coerce=int, validators=[InputRequired()])
    email = EmailField(
        _l("E-mail address"),
        filters=[_strip],
        validators=[Optional(), Length(max=validation.EMAIL_MAX), Email()],
    )
    phone = TelField(
        _l("Phone number"),
        filters=[_strip],
        validators=[Optional(), Length(max=validation.PHONE_MAX), _phone],
    )
    notification_urls = TextAreaField(
        _l("Further notification addresses"),
        validators=[
            Optional(),
            Length(max=(validation.URL_MAX + 2) * validation.MAX_NOTIFICATION_URLS),
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
        _l("Note"), filters=[_strip], validators=[Optional(), Length(max=validation.NOTE_MAX)]
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
            missing.errors = [*missing.errors, validation.problem_message("both")]
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
            "notification_urls": validation.split_notification_urls(self.notification_urls.data),
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
        self.district.choices = [
            SelectChoice("", _l("All my districts")),
            *select_choices(((str(d.id), d.name) for d in districts), user_data=True),
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


# ---------------------------------------------------------------------------------------------
# The CSV upload, row by row (nothing is stored here: people.validation.prepare_supporter_import)


@dataclass(frozen=True)
class CheckedRow:
    """One CSV row: normalised values (bad ones cut short) and every problem as
    {field, code, params}; codes, so the preview speaks the language of whoever reads it."""

    row_number: int
    values: dict[str, Any]
    errors: list[dict[str, Any]]


@dataclass(frozen=True)
class CheckedImport:
    """An uploaded CSV, read and checked row by row."""

    encoding: str
    headers: dict[str, str]
    ignored_columns: list[str]
    rows: list[CheckedRow]


def read_supporter_csv(data: bytes, district: District) -> CheckedImport:
    """Decode an upload (UTF-8 or CP932), read its table and check every row for the district;
    UserInputError on "file" when the file itself cannot be read."""
    try:
        text, encoding = csv_io.decode_upload(data)
        table = csv_io.read_table(text, encoding)
    except csv_io.CsvFileError as exc:
        raise UserInputError(exc.message, "file") from exc
    rows = []
    for raw in table.rows:
        values, errors = check_import_row(raw.values, district)
        rows.append(CheckedRow(raw.row_number, values, errors))
    return CheckedImport(encoding, table.headers, table.ignored_columns, rows)


def _number(value: str) -> float | None:
    value = unicodedata.normalize("NFKC", value).strip()
    if not value:
        return None
    number = float(value)  # ValueError for text
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def check_import_row(
    cells: dict[str, str], district: District
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Check one CSV row: normalised values and every problem as {field, code, params}."""
    errors: list[dict[str, Any]] = []

    def fail(field: str, code: str, **params: Any) -> None:
        errors.append({"field": field, "code": code, "params": params})

    name = cells.get("name", "").strip()
    kana = validation.normalise_kana(cells.get("name_kana", ""))
    kind_text = cells.get("kind", "").strip()
    email = cells.get("email", "").strip()
    phone = validation.normalise_phone(cells.get("phone", ""))
    note = cells.get("note", "").strip()
    urls = validation.split_notification_urls(cells.get("notification_urls", ""))

    for field, value, limit, required in (
        ("name", name, validation.NAME_MAX, True),
        ("name_kana", kana, validation.KANA_MAX, True),
        ("email", email, validation.EMAIL_MAX, False),
        ("phone", phone, validation.PHONE_MAX, False),
        ("note", note, validation.NOTE_MAX, False),
    ):
        if required and not value:
            fail(field, "required")
        elif len(value) > limit:
            fail(field, "too_long", max=limit)
    if kana and len(kana) <= validation.KANA_MAX and not validation.is_valid_kana(kana):
        fail("name_kana", "kana")
    kind = csv_io.parse_kind(kind_text) if kind_text else None
    if not kind_text:
        fail("kind", "required")
    elif kind is None:
        fail("kind", "kind", kinds="、".join(csv_io.KIND_NAMES_JA.values()))
    if email and len(email) <= validation.EMAIL_MAX and not validation.is_valid_email(email):
        fail("email", "email")
    if phone and len(phone) <= validation.PHONE_MAX and not validation.is_valid_phone(phone):
        fail("phone", "phone")
    if len(urls) > validation.MAX_NOTIFICATION_URLS:
        fail("notification_urls", "too_many_urls", max=validation.MAX_NOTIFICATION_URLS)
    for url in urls[: validation.MAX_NOTIFICATION_URLS]:
        code = validation.notification_url_problem(url)
        if code:
            fail("notification_urls", code, max=validation.URL_MAX)
            break
    position: dict[str, float | None] = {}
    for field in ("home_lat", "home_lon"):
        try:
            position[field] = _number(cells.get(field, ""))
        except ValueError:
            fail(field, "number")
    if len(position) == 2:
        bad = validation.home_position_problem(position["home_lat"], position["home_lon"])
        if bad:
            fail(bad[0], bad[1])
    named = cells.get("district", "").strip()
    if named and named != district.name:
        fail("district", "district", name=named[:100])

    lat, lon = validation.round_home_position(position.get("home_lat"), position.get("home_lon"))
    values: dict[str, Any] = {
        # Bad rows keep a short copy of what was typed, enough to find the row in Excel.
        "name": name[: validation.NAME_MAX],
        "name_kana": kana[: validation.KANA_MAX],
        "kind": kind.value if kind else kind_text[:50],
        "email": email[: validation.EMAIL_MAX] or None,
        "phone": phone[: validation.PHONE_MAX] or None,
        "notification_urls": urls[: validation.MAX_NOTIFICATION_URLS],
        "home_lat": lat,
        "home_lon": lon,
        "note": note[: validation.NOTE_MAX],
    }
    return values, errors


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
        self.district.choices = [
            SelectChoice("", _l("All my districts")),
            *select_choices(((str(d.id), d.name) for d in districts), user_data=True),
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
