"""Forms of the coordinator's alert pages: the fast start form and the dashboard's actions.

The start form must take under a minute: few required fields (a place, a number to call, and
who to look for), defaults for the rest (now, prefilled from the registry, the number used
last time). Length limits match the columns of watchnet/alerts/models.py.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    Field,
    FloatField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.core import UnboundField
from wtforms.form import BaseForm
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import HiddenInput

from watchnet.alerts.models import (
    Acknowledgement,
    AlertStatus,
    SightingCertainty,
    SightingStatus,
    TravelDirection,
)
from watchnet.alerts.places import place_problem
from watchnet.alerts.services import AlertInput
from watchnet.core.dbtypes import utcnow
from watchnet.core.labels import choices, select_choices
from watchnet.core.phones import PhoneNumber
from watchnet.core.timefmt import from_local
from watchnet.core.validation import SafeForm, YearWindow
from watchnet.registry.models import AtRiskPerson, Build, ConsentScope, Sex
from watchnet.registry.services import age_on, consent_state, current_consent

# How far back and ahead a last-seen time may be: a clock a few minutes fast is forgiven; an
# alert for someone missing more than a week is a police matter, not a neighbourhood search.
LAST_SEEN_MAX_AHEAD = timedelta(minutes=5)
LAST_SEEN_MAX_AGO = timedelta(days=7)
RADIUS_MIN_KM = 0.1
RADIUS_MAX_KM = 50.0

# Labels of the alert enums, in one place for this package's pages.
STATUS_LABELS = {
    AlertStatus.active: _l("Searching"),
    AlertStatus.found: _l("Found"),
    AlertStatus.cancelled: _l("Cancelled"),
}
ANSWER_LABELS = {
    Acknowledgement.searching: _l("Will search"),
    Acknowledgement.cannot: _l("Cannot now"),
}
SIGHTING_STATUS_LABELS = {
    SightingStatus.new: _l("New"),
    SightingStatus.confirmed: _l("Confirmed"),
    SightingStatus.doubtful: _l("Doubtful"),
    SightingStatus.duplicate: _l("Duplicate"),
}
CERTAINTY_LABELS = {
    SightingCertainty.sure: _l("Sure"),
    SightingCertainty.likely: _l("Likely"),
    SightingCertainty.unsure: _l("Not sure"),
}
DIRECTION_LABELS = {
    TravelDirection.unknown: _l("Direction unknown"),
    TravelDirection.stationary: _l("Not moving"),
    TravelDirection.n: _l("Going north"),
    TravelDirection.ne: _l("Going north-east"),
    TravelDirection.e: _l("Going east"),
    TravelDirection.se: _l("Going south-east"),
    TravelDirection.s: _l("Going south"),
    TravelDirection.sw: _l("Going south-west"),
    TravelDirection.w: _l("Going west"),
    TravelDirection.nw: _l("Going north-west"),
}

ALERT_MODE_EXERCISE = "exercise"
ALERT_MODE_REAL = "real"
CHOOSE_MODE = _l("Please choose first: an exercise or a real search.")


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _coordinate_field(label: str | LazyString, low: float, high: float) -> FloatField:
    return FloatField(
        label, widget=HiddenInput(), validators=[Optional(), NumberRange(min=low, max=high)]
    )


class StartAlertForm(SafeForm):
    """Start a search: who, where and when last seen, what they wear, whom to call."""

    class Meta:
        # Text comes back trimmed, so a field of spaces is empty.
        def bind_field(
            self, form: BaseForm, unbound_field: UnboundField, options: dict[str, Any]
        ) -> Field:
            if issubclass(unbound_field.field_class, StringField):
                filters = [*unbound_field.kwargs.get("filters", ()), _strip]
                return unbound_field.bind(form=form, filters=filters, **options)
            return unbound_field.bind(form=form, **options)

    person_id = IntegerField(widget=HiddenInput(), validators=[Optional()])
    client_key = HiddenField(validators=[Optional(), Length(max=64)])
    # The first choice, with no default: a missed tick on a checkbox once meant a real alert
    # to everyone in range. Nothing is sent until the confirmation step names the choice.
    alert_mode = RadioField(
        _l("Exercise or real search?"),
        choices=select_choices(
            (
                (ALERT_MODE_EXERCISE, _l("Exercise")),
                (ALERT_MODE_REAL, _l("Real search")),
            )
        ),
        validate_choice=False,  # one message for "none" and "something else", not two
        validators=[
            InputRequired(CHOOSE_MODE),
            AnyOf((ALERT_MODE_EXERCISE, ALERT_MODE_REAL), message=CHOOSE_MODE),
        ],
    )
    # "1" once the coordinator has seen the confirmation (who is told, exercise or real).
    confirmed = HiddenField(validators=[Optional()])
    # --- who ---
    display_name = StringField(_l("Name"), validators=[Optional(), Length(max=100)])
    name_kana = StringField(_l("Name in kana"), validators=[Optional(), Length(max=100)])
    age = IntegerField(_l("Age"), validators=[Optional(), NumberRange(min=0, max=130)])
    sex = SelectField(_l("Sex"), choices=choices(Sex), default=Sex.unknown.value)
    height_cm = IntegerField(
        _l("Height (cm)"), validators=[Optional(), NumberRange(min=50, max=250)]
    )
    build = SelectField(_l("Build"), choices=choices(Build), default=Build.unknown.value)
    hair = StringField(_l("Hair"), validators=[Optional(), Length(max=200)])
    features = TextAreaField(_l("Features"), validators=[Optional(), Length(max=1000)])
    clothing_today = TextAreaField(_l("Clothing today"), validators=[Optional(), Length(max=500)])
    belongings = StringField(_l("Belongings"), validators=[Optional(), Length(max=300)])
    handling_notes = TextAreaField(_l("How to approach"), validators=[Optional(), Length(max=1000)])
    share_photo = BooleanField(_l("Show the registered photos to searchers"))
    # --- when and where last seen ---
    last_seen_at = DateTimeLocalField(
        _l("Last seen at"), format="%Y-%m-%dT%H:%M", validators=[InputRequired(), YearWindow()]
    )
    last_seen_lat = _coordinate_field(_l("Latitude"), -90.0, 90.0)
    last_seen_lon = _coordinate_field(_l("Longitude"), -180.0, 180.0)
    # What every searcher reads (messages, the phone page, the flyer): a landmark with
    # direction and distance, proposed from the point (alerts/places.py); never "near home".
    last_seen_place = StringField(
        _l("Place as searchers are told it"), validators=[Optional(), Length(max=300)]
    )
    # --- police and the number to call ---
    police_informed = BooleanField(_l("The police have been told"))
    police_station = StringField(_l("Police station"), validators=[Optional(), Length(max=100)])
    police_case_number = StringField(_l("Case number"), validators=[Optional(), Length(max=50)])
    contact_phone = StringField(
        _l("Number to call on a sighting"),
        validators=[DataRequired(), Length(max=30), PhoneNumber()],
    )
    contact_label = StringField(_l("Whose number it is"), validators=[Optional(), Length(max=100)])

    # The registered person's home address (set by the view): a description containing it
    # is refused, as it would go to every searcher.
    home_address = ""

    def validate_last_seen_place(self, field: Field) -> None:
        problem = place_problem(field.data or "", self.home_address)
        if problem is not None:
            raise ValidationError(problem)

    def validate_last_seen_at(self, field: Field) -> None:
        if field.data is None:
            return
        at = from_local(field.data)
        now = utcnow()
        if at > now + LAST_SEEN_MAX_AHEAD:
            raise ValidationError(_l("The last-seen time cannot be in the future."))
        if at < now - LAST_SEEN_MAX_AGO:
            raise ValidationError(_l("The last-seen time is more than a week ago."))

    def validate(self, extra_validators: Any = None) -> bool:
        # Checks across fields run here: an Optional() field that is empty skips its own
        # validate_<field> method.
        valid: bool = super().validate(extra_validators)
        if not self.person_id.data and not any(
            (self.display_name.data, self.features.data, self.clothing_today.data, self.hair.data)
        ):
            # Someone to look for: a registered person, or at least a few words about them.
            self.clothing_today.errors = [
                *self.clothing_today.errors,
                _l("Please describe the person: at least their clothing today or their features."),
            ]
            valid = False
        if self.police_case_number.data and not self.police_informed.data:
            self.police_station.errors = [
                *self.police_station.errors,
                _l("Tick “The police have been told” to give a case number."),
            ]
            valid = False
        return valid

    @property
    def is_exercise(self) -> bool:
        return bool(self.alert_mode.data == ALERT_MODE_EXERCISE)

    def is_confirmed(self) -> bool:
        return bool(self.confirmed.data == "1")

    def carried_values(self) -> list[tuple[str, str]]:
        """The submitted values as (name, value) pairs, for the confirmation page's hidden
        fields: what was typed, plus the point a typed address was found at."""
        out: list[tuple[str, str]] = []
        for f in self:
            if f.name in ("csrf_token", "confirmed"):
                continue
            if f.name in ("last_seen_lat", "last_seen_lon"):
                if f.data is not None:
                    out.append((f.name, f"{float(f.data):.6f}"))
                continue
            out += [(f.name, str(v)) for v in (f.raw_data or ())]
        return out

    def has_point(self) -> bool:
        """Whether a last-seen point was given (a map click or an address already resolved)."""
        lat, lon = self.last_seen_lat.data, self.last_seen_lon.data
        return lat is not None and lon is not None and math.isfinite(lat) and math.isfinite(lon)

    def require_point(self) -> bool:
        """Add the "where?" error when neither a map click nor a found address is there."""
        if self.has_point():
            return True
        if not self.last_seen_place.errors:
            self.last_seen_place.errors = [
                *self.last_seen_place.errors,
                str(
                    _l(
                        "Please click the map where the person was last seen, or type an address "
                        "and press “Find on the map”."
                    )
                ),
            ]
        return False

    def last_seen_utc(self) -> datetime:
        """The last-seen time in UTC (typed in the display zone)."""
        assert self.last_seen_at.data is not None
        return from_local(self.last_seen_at.data)


class RadiusForm(SafeForm):
    """Override the scheduled radius (km), or clear the override."""

    radius_km = FloatField(
        _l("Search radius (km)"),
        validators=[Optional(), NumberRange(min=RADIUS_MIN_KM, max=RADIUS_MAX_KM)],
    )
    clear = HiddenField()

    def wants_clear(self) -> bool:
        return bool(self.clear.data == "1")

    def validate_radius_km(self, field: Field) -> None:
        if not self.wants_clear() and field.data is None:
            raise ValidationError(_l("Please enter a radius in kilometres."))


class ReviewSightingForm(SafeForm):
    """The coordinator's verdict on a sighting."""

    status = RadioField(
        _l("Verdict"),
        choices=select_choices(
            (s.value, SIGHTING_STATUS_LABELS[s])
            for s in (SightingStatus.confirmed, SightingStatus.doubtful, SightingStatus.duplicate)
        ),
        validators=[InputRequired()],
    )
    recentre = BooleanField(_l("Make it the new last-seen point (the search re-centres)"))

    def validate_recentre(self, field: Field) -> None:
        if field.data and self.status.data != SightingStatus.confirmed.value:
            raise ValidationError(_l("Only a confirmed sighting can become the last-seen point."))


class CloseAlertForm(SafeForm):
    """End the search: found (where, in what condition) or cancelled; a confirmation box."""

    outcome = RadioField(
        _l("How did it end?"),
        choices=select_choices(
            (s.value, lbl)
            for s, lbl in (
                (AlertStatus.found, _l("Found")),
                (AlertStatus.cancelled, _l("Cancelled (no longer needed)")),
            )
        ),
        validators=[InputRequired()],
    )
    found_place = StringField(_l("Where found"), validators=[Optional(), Length(max=300)])
    found_lat = _coordinate_field(_l("Latitude"), -90.0, 90.0)
    found_lon = _coordinate_field(_l("Longitude"), -180.0, 180.0)
    found_condition = StringField(_l("Condition"), validators=[Optional(), Length(max=300)])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=500)])
    confirm = BooleanField(
        _l("I confirm: the search ends and everyone who was told receives the all-clear."),
        validators=[DataRequired(_l("Please tick the box to confirm."))],
    )

    def validate(self, extra_validators: Any = None) -> bool:
        valid: bool = super().validate(extra_validators)
        has_point = self.found_lat.data is not None and self.found_lon.data is not None
        has_place = bool((self.found_place.data or "").strip())
        if self.outcome.data == AlertStatus.found.value and not (has_place or has_point):
            self.found_place.errors = [
                *self.found_place.errors,
                _l("Please say where the person was found, or click the map."),
            ]
            valid = False
        return valid


class ActionForm(SafeForm):
    """A button with only the CSRF token (widen now, remind now)."""


# ---------------------------------------------------------------------------------------------
# Prefilling the start form


@dataclass(frozen=True)
class ConsentInfo:
    """What the start form says about a registered person's consent."""

    state: str  # valid | expiring | expired | none (registry.services.consent_state)
    renew_by: date | None
    photo_allowed: bool  # a valid consent covers share_photo, and there is a photo


def consent_info(person: AtRiskPerson, today: date) -> ConsentInfo:
    """The person's consent as the start form needs it. An expired consent does not stop an
    alert (it is an emergency), but photos are shared only under a valid one."""
    consent = current_consent(person)
    state = consent_state(person, today)
    covers_photo = consent is not None and ConsentScope.share_photo.value in (consent.scopes or [])
    return ConsentInfo(
        state=state,
        renew_by=consent.renew_by if consent else None,
        photo_allowed=(state in ("valid", "expiring") and covers_photo and bool(person.photos)),
    )


def prefill_from_person(
    form: StartAlertForm, person: AtRiskPerson, today: date, info: ConsentInfo
) -> None:
    """Copy the registered description into the form; the usual clothing is a starting point
    for today's clothing, to be corrected by whoever saw the person last."""
    form.person_id.data = person.id
    form.display_name.data = person.name
    form.name_kana.data = person.name_kana
    form.age.data = age_on(person.birth_date, today)
    form.sex.data = person.sex.value
    form.height_cm.data = person.height_cm
    form.build.data = person.build.value
    form.hair.data = person.hair
    form.features.data = person.features
    form.clothing_today.data = person.usual_clothing
    form.handling_notes.data = person.handling_notes
    form.share_photo.data = info.photo_allowed


def prefill_defaults(
    form: StartAlertForm, *, now_local: datetime, last_contact: tuple[str, str] | None
) -> None:
    """Now as the last-seen time, a fresh client key, the number used last time."""
    form.last_seen_at.data = now_local.replace(second=0, microsecond=0, tzinfo=None)
    form.client_key.data = uuid.uuid4().hex
    if last_contact is not None:
        form.contact_phone.data, form.contact_label.data = last_contact


def alert_input(form: StartAlertForm, *, share_photo: bool) -> AlertInput:
    """The service's input from a validated form that has a point."""
    assert form.last_seen_lat.data is not None and form.last_seen_lon.data is not None
    return AlertInput(
        last_seen_at=form.last_seen_utc(),
        last_seen_lat=float(form.last_seen_lat.data),
        last_seen_lon=float(form.last_seen_lon.data),
        contact_phone=form.contact_phone.data or "",
        last_seen_place=form.last_seen_place.data or "",
        contact_label=form.contact_label.data or "",
        person_id=form.person_id.data or None,
        display_name=form.display_name.data or "",
        name_kana=form.name_kana.data or "",
        age=form.age.data,
        sex=Sex(form.sex.data),
        height_cm=form.height_cm.data,
        build=Build(form.build.data),
        hair=form.hair.data or "",
        features=form.features.data or "",
        clothing_today=form.clothing_today.data or "",
        belongings=form.belongings.data or "",
        handling_notes=form.handling_notes.data or "",
        share_photo=share_photo,
        police_informed=bool(form.police_informed.data),
        police_station=form.police_station.data or "",
        police_case_number=form.police_case_number.data or "",
        is_exercise=form.is_exercise,
    )
