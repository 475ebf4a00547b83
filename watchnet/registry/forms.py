"""Forms of the registry pages. Length limits match the columns; photos are checked and
re-encoded while the form validates, so a bad photo is a field error and nothing is saved."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from werkzeug.datastructures import FileStorage
from wtforms import (
    DateField,
    Field,
    FieldList,
    FloatField,
    Form,
    FormField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from watchnet.core.labels import choices
from watchnet.core.phones import PhoneNumber
from watchnet.core.timefmt import to_local
from watchnet.core.validation import SafeForm, YearWindow
from watchnet.people.validation import is_valid_kana, normalise_kana, problem_message
from watchnet.registry.models import (
    AtRiskPerson,
    Build,
    ConsentScope,
    PhotoKind,
    Sex,
    WalkingAbility,
)
from watchnet.registry.photos import PhotoError, ProcessedPhoto, reencode_photo
from watchnet.registry.services import (
    MAX_CONTACTS,
    MAX_PLACES,
    ConsentFields,
    ContactFields,
    PersonFields,
    PhotoUpload,
    PlaceFields,
    default_renew_by,
)

EARLIEST_BIRTH = date(1900, 1, 1)


def local_today() -> date:
    """Today in the display zone (a consent given this morning in Japan is "today")."""
    from datetime import UTC, datetime

    return to_local(datetime.now(UTC)).date()


def kana_only(form: Form, field: Field) -> None:
    """The supporters' kana rule (hiragana or katakana, spaces between words)."""
    if field.data and not is_valid_kana(field.data):
        raise ValidationError(problem_message("kana"))


def _text(value: str | None) -> str:
    return (value or "").strip()


class ContactSubForm(Form):
    """One family contact; a row left blank is ignored."""

    name = StringField(_l("Name"), validators=[Optional(), Length(max=100)])
    relation = StringField(_l("Relation"), validators=[Optional(), Length(max=50)])
    phone = StringField(
        _l("Phone"),
        render_kw={"type": "tel"},
        validators=[Optional(), Length(max=30), PhoneNumber()],
    )
    email = StringField(_l("E-mail"), validators=[Optional(), Email(), Length(max=254)])

    def is_blank(self) -> bool:
        return not any(_text(f.data) for f in (self.name, self.relation, self.phone, self.email))

    def validate(self, extra_validators: Any = None) -> bool:
        # Row-level rules live here: the fields' Optional() would skip inline validators.
        ok: bool = super().validate(extra_validators)
        if self.is_blank():
            return ok
        if not _text(self.name.data):
            self.name.errors = [*self.name.errors, _l("Please enter the contact's name.")]
            ok = False
        if not _text(self.phone.data) and not _text(self.email.data):
            self.phone.errors = [
                *self.phone.errors,
                _l("Please enter a phone number or an e-mail address."),
            ]
            ok = False
        return ok

    def to_fields(self) -> ContactFields:
        return ContactFields(
            name=_text(self.name.data),
            relation=_text(self.relation.data),
            phone=_text(self.phone.data),
            email=_text(self.email.data),
        )


class PlaceSubForm(Form):
    """One usual place; the map click fills lat and lon, the user names it."""

    name = StringField(_l("Name of the place"), validators=[Optional(), Length(max=100)])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=300)])
    lat = FloatField(_l("Latitude"), validators=[Optional(), NumberRange(-90, 90)])
    lon = FloatField(_l("Longitude"), validators=[Optional(), NumberRange(-180, 180)])

    def is_blank(self) -> bool:
        return (
            not _text(self.name.data)
            and not _text(self.note.data)
            and self.lat.data is None
            and self.lon.data is None
        )

    def validate(self, extra_validators: Any = None) -> bool:
        ok: bool = super().validate(extra_validators)
        if self.is_blank():
            return ok
        if not _text(self.name.data):
            self.name.errors = [*self.name.errors, _l("Please name this place.")]
            ok = False
        if self.lat.data is None or self.lon.data is None:
            self.lat.errors = [*self.lat.errors, _l("Please click the map where this place is.")]
            ok = False
        return ok

    def to_fields(self) -> PlaceFields:
        return PlaceFields(
            name=_text(self.name.data),
            lat=float(self.lat.data),
            lon=float(self.lon.data),
            note=_text(self.note.data),
        )


class ConsentSubForm(Form):
    """Who consented, when, to what, and when it must be renewed."""

    given_by_name = StringField(
        _l("Consent given by"), validators=[DataRequired(), Length(max=100)]
    )
    given_by_relation = StringField(
        _l("Relation to the person"), validators=[Optional(), Length(max=50)]
    )
    given_on = DateField(_l("Date of consent"), validators=[InputRequired(), YearWindow()])
    renew_by = DateField(_l("Renew by"), validators=[Optional(), YearWindow()])
    scopes = SelectMultipleField(
        _l("The consent covers"),
        choices=choices(ConsentScope),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])

    def validate_given_on(self, field: Field) -> None:
        if field.data is not None and field.data > local_today():
            raise ValidationError(_l("The date of consent cannot be in the future."))

    def validate_renew_by(self, field: Field) -> None:
        if (
            field.data is not None
            and self.given_on.data is not None
            and field.data <= self.given_on.data
        ):
            raise ValidationError(_l("The renewal date must be after the date of consent."))

    def validate_scopes(self, field: Field) -> None:
        if not field.data:
            raise ValidationError(_l("Please tick at least one item the consent covers."))

    def to_fields(self) -> ConsentFields:
        given_on: date = self.given_on.data
        return ConsentFields(
            given_by_name=_text(self.given_by_name.data),
            given_by_relation=_text(self.given_by_relation.data),
            given_on=given_on,
            renew_by=self.renew_by.data or default_renew_by(given_on),
            scopes=tuple(ConsentScope(s) for s in self.scopes.data),
            note=_text(self.note.data),
        )

    def prefill(self) -> None:
        """Defaults for a new consent: today, renewal in a year."""
        today = local_today()
        self.given_on.data = today
        self.renew_by.data = default_renew_by(today)


def _check_photo(file: FileStorage | None) -> ProcessedPhoto | None:
    """Re-encode an uploaded file or raise a field error (None when nothing was chosen)."""
    if not file:
        return None
    limit = int(current_app.config["PHOTO_MAX_BYTES"])
    data = file.stream.read(limit + 1)  # one byte more is enough to say "too large"
    try:
        return reencode_photo(data)
    except PhotoError as exc:
        raise ValidationError(str(exc)) from None


class PersonForm(SafeForm):
    """The person's facts, contacts and usual places (the edit page)."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    name_kana = StringField(
        _l("Name in kana"),
        filters=[normalise_kana],
        validators=[Optional(), Length(max=100), kana_only],
    )
    birth_date = DateField(_l("Date of birth"), validators=[Optional()])
    sex = SelectField(_l("Sex"), choices=choices(Sex), default=Sex.unknown.value)
    height_cm = IntegerField(_l("Height (cm)"), validators=[Optional(), NumberRange(80, 230)])
    build = SelectField(_l("Build"), choices=choices(Build), default=Build.unknown.value)
    hair = StringField(_l("Hair"), validators=[Optional(), Length(max=200)])
    features = TextAreaField(
        _l("Distinguishing features"), validators=[Optional(), Length(max=1000)]
    )
    usual_clothing = TextAreaField(_l("Usual clothing"), validators=[Optional(), Length(max=500)])
    walking_ability = SelectField(
        _l("Walking"), choices=choices(WalkingAbility), default=WalkingAbility.independent.value
    )
    handling_notes = TextAreaField(
        _l("How to approach and speak to the person"), validators=[Optional(), Length(max=1000)]
    )
    home_address = StringField(_l("Home address"), validators=[Optional(), Length(max=300)])
    home_lat = FloatField(_l("Home latitude"), validators=[Optional(), NumberRange(-90, 90)])
    home_lon = FloatField(_l("Home longitude"), validators=[Optional(), NumberRange(-180, 180)])
    care_manager_name = StringField(_l("Care manager"), validators=[Optional(), Length(max=100)])
    care_manager_org = StringField(
        _l("Care manager's office"), validators=[Optional(), Length(max=200)]
    )
    care_manager_phone = StringField(
        _l("Care manager's phone"),
        render_kw={"type": "tel"},
        validators=[Optional(), Length(max=30), PhoneNumber()],
    )
    contacts = FieldList(FormField(ContactSubForm), min_entries=3, max_entries=MAX_CONTACTS)
    places = FieldList(FormField(PlaceSubForm), min_entries=0, max_entries=MAX_PLACES)

    def validate_birth_date(self, field: Field) -> None:
        if field.data is not None and not EARLIEST_BIRTH <= field.data <= local_today():
            raise ValidationError(_l("Please check the date of birth."))

    def validate(self, extra_validators: Any = None) -> bool:
        ok: bool = super().validate(extra_validators)
        # Both coordinates or neither (Optional() would skip an inline validator).
        if (
            not self.home_lat.errors
            and not self.home_lon.errors
            and (self.home_lat.data is None) != (self.home_lon.data is None)
        ):
            self.home_lat.errors = [
                *self.home_lat.errors,
                _l("Please click the map where the home is."),
            ]
            ok = False
        return ok

    def validate_contacts(self, field: Field) -> None:
        if not any(not entry.form.is_blank() for entry in field.entries):
            raise ValidationError(_l("Please enter at least one family contact."))

    def fill_from(self, person: AtRiskPerson) -> None:
        """Show a stored person (with their contacts and places) in the form."""
        for name in vars(PersonFields(name="")):
            getattr(self, name).data = getattr(person, name)
        for enum_field in ("sex", "build", "walking_ability"):
            getattr(self, enum_field).data = getattr(person, enum_field).value
        while self.contacts.entries:
            self.contacts.pop_entry()
        for contact in person.contacts:
            self.contacts.append_entry(
                {
                    "name": contact.name,
                    "relation": contact.relation,
                    "phone": contact.phone,
                    "email": contact.email,
                }
            )
        while (
            len(self.contacts.entries) < max(3, len(person.contacts) + 1)
            and len(self.contacts.entries) < MAX_CONTACTS
        ):
            self.contacts.append_entry()
        while self.places.entries:
            self.places.pop_entry()
        for place in person.places:
            self.places.append_entry(
                {"name": place.name, "note": place.note, "lat": place.lat, "lon": place.lon}
            )

    def person_fields(self) -> PersonFields:
        return PersonFields(
            name=_text(self.name.data),
            name_kana=_text(self.name_kana.data),
            birth_date=self.birth_date.data,
            sex=Sex(self.sex.data),
            height_cm=self.height_cm.data,
            build=Build(self.build.data),
            hair=_text(self.hair.data),
            features=_text(self.features.data),
            usual_clothing=_text(self.usual_clothing.data),
            walking_ability=WalkingAbility(self.walking_ability.data),
            handling_notes=_text(self.handling_notes.data),
            home_address=_text(self.home_address.data),
            home_lat=self.home_lat.data,
            home_lon=self.home_lon.data,
            care_manager_name=_text(self.care_manager_name.data),
            care_manager_org=_text(self.care_manager_org.data),
            care_manager_phone=_text(self.care_manager_phone.data),
        )

    def contact_fields(self) -> list[ContactFields]:
        return [e.form.to_fields() for e in self.contacts.entries if not e.form.is_blank()]

    def place_fields(self) -> list[PlaceFields]:
        return [e.form.to_fields() for e in self.places.entries if not e.form.is_blank()]


class RegisterPersonForm(PersonForm):
    """Registration: the person, the consent given and the first photos, in one step."""

    consent = FormField(ConsentSubForm)
    photo_face = FileField(_l("Photo of the face"))
    photo_full_body = FileField(_l("Full-body photo"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.processed: dict[PhotoKind, ProcessedPhoto] = {}

    def validate_photo_face(self, field: Field) -> None:
        photo = _check_photo(field.data)
        if photo is not None:
            self.processed[PhotoKind.face] = photo

    def validate_photo_full_body(self, field: Field) -> None:
        photo = _check_photo(field.data)
        if photo is not None:
            self.processed[PhotoKind.full_body] = photo

    def photo_uploads(self) -> list[PhotoUpload]:
        return [PhotoUpload(kind=kind, photo=photo) for kind, photo in self.processed.items()]


class ConsentForm(SafeForm):
    """A new or renewed consent (its fields are named consent-* as on the registration form)."""

    consent = FormField(ConsentSubForm)


class PhotoForm(SafeForm):
    """Add one photo to a registered person."""

    photo = FileField(_l("Photo"), validators=[FileRequired(_l("Please choose a photo."))])
    kind = SelectField(
        _l("Kind of photo"), choices=choices(PhotoKind), default=PhotoKind.face.value
    )
    taken_on = DateField(_l("Taken on"), validators=[Optional()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.processed: ProcessedPhoto | None = None

    def validate_photo(self, field: Field) -> None:
        self.processed = _check_photo(field.data)

    def validate_taken_on(self, field: Field) -> None:
        if field.data is not None and field.data > local_today():
            raise ValidationError(_l("The date cannot be in the future."))

    def upload(self) -> PhotoUpload:
        assert self.processed is not None
        return PhotoUpload(
            kind=PhotoKind(self.kind.data), photo=self.processed, taken_on=self.taken_on.data
        )


class ConfirmForm(SafeForm):
    """Only the CSRF token, for confirmed actions (archive, remove a photo)."""
