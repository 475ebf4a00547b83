"""Use cases of the registry of at-risk persons: register, edit, consents, photos, archive.

Functions flush and leave the commit to the caller (the view). Every change is audited; views
of a person's details are audited reads (registry/views.py, audit/reads.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from watchnet.audit.services import record_audit
from watchnet.core.extensions import db
from watchnet.core.phones import normalise_phone
from watchnet.districts.models import District
from watchnet.people.models import StaffUser
from watchnet.registry.models import (
    AtRiskPerson,
    Build,
    Consent,
    ConsentScope,
    FamilyContact,
    PersonPhoto,
    PhotoKind,
    Sex,
    UsualPlace,
    WalkingAbility,
)
from watchnet.registry.photos import ProcessedPhoto

CONSENT_TERM_DAYS = 365  # a consent is renewed yearly unless a date is given
EXPIRING_WITHIN_DAYS = 30  # "expiring" warning on the list and the person page
MAX_CONTACTS = 10
MAX_PLACES = 30
MAX_PHOTOS = 12


@dataclass(frozen=True)
class PersonFields:
    """The person's own facts, as typed into the form."""

    name: str
    name_kana: str = ""
    birth_date: date | None = None
    sex: Sex = Sex.unknown
    height_cm: int | None = None
    build: Build = Build.unknown
    hair: str = ""
    features: str = ""
    usual_clothing: str = ""
    walking_ability: WalkingAbility = WalkingAbility.independent
    handling_notes: str = ""
    home_address: str = ""
    home_lat: float | None = None
    home_lon: float | None = None
    care_manager_name: str = ""
    care_manager_org: str = ""
    care_manager_phone: str = ""


@dataclass(frozen=True)
class ContactFields:
    name: str
    relation: str = ""
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class PlaceFields:
    name: str
    lat: float
    lon: float
    note: str = ""


@dataclass(frozen=True)
class ConsentFields:
    given_by_name: str
    given_by_relation: str
    given_on: date
    renew_by: date
    scopes: tuple[ConsentScope, ...] = field(default_factory=tuple)
    note: str = ""


@dataclass(frozen=True)
class PhotoUpload:
    kind: PhotoKind
    photo: ProcessedPhoto
    taken_on: date | None = None


def default_renew_by(given_on: date) -> date:
    """One year after the consent was given (29 February → 28 February)."""
    try:
        return given_on.replace(year=given_on.year + 1)
    except ValueError:
        return given_on + timedelta(days=CONSENT_TERM_DAYS)


def age_on(birth_date: date | None, today: date) -> int | None:
    """Full years of age on `today` (None when the birth date is unknown)."""
    if birth_date is None:
        return None
    years = today.year - birth_date.year
    if (today.month, today.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def current_consent(person: AtRiskPerson) -> Consent | None:
    """The newest consent that has not been withdrawn."""
    live = [c for c in person.consents if c.withdrawn_at is None]
    return max(live, key=lambda c: (c.given_on, c.id or 0), default=None)


def consent_state(person: AtRiskPerson, today: date) -> str:
    """ "valid", "expiring" (renewal due within 30 days), "expired" or "none"."""
    consent = current_consent(person)
    if consent is None:
        return "none"
    if consent.renew_by < today:
        return "expired"
    if (consent.renew_by - today).days <= EXPIRING_WITHIN_DAYS:
        return "expiring"
    return "valid"


def list_persons(district_id: int, *, archived: bool = False) -> list[AtRiskPerson]:
    """The district's registered persons (or its archived ones), by kana then name."""
    query = (
        sa.select(AtRiskPerson)
        .where(AtRiskPerson.district_id == district_id, AtRiskPerson.is_archived.is_(archived))
        .options(selectinload(AtRiskPerson.consents))
        .order_by(AtRiskPerson.name_kana, AtRiskPerson.name, AtRiskPerson.id)
    )
    return list(db.session.scalars(query))


def alertable_persons(district_id: int) -> list[AtRiskPerson]:
    """Persons an alert may be started for: registered and not archived (consent withdrawn)."""
    return list_persons(district_id, archived=False)


def _apply_fields(person: AtRiskPerson, fields: PersonFields) -> None:
    for name, value in vars(fields).items():
        setattr(person, name, value)
    person.care_manager_phone = normalise_phone(fields.care_manager_phone)


def _replace_contacts(person: AtRiskPerson, contacts: Sequence[ContactFields]) -> None:
    person.contacts = [
        FamilyContact(
            name=c.name,
            relation=c.relation,
            phone=normalise_phone(c.phone),
            email=c.email,
            position=i,
        )
        for i, c in enumerate(contacts[:MAX_CONTACTS])
    ]


def _replace_places(person: AtRiskPerson, places: Sequence[PlaceFields]) -> None:
    person.places = [
        UsualPlace(name=p.name, lat=p.lat, lon=p.lon, note=p.note) for p in places[:MAX_PLACES]
    ]


def _new_consent(data: ConsentFields, actor: StaffUser | None) -> Consent:
    return Consent(
        given_by_name=data.given_by_name,
        given_by_relation=data.given_by_relation,
        given_on=data.given_on,
        renew_by=data.renew_by,
        scopes=[s.value for s in data.scopes],
        note=data.note,
        recorded_by_id=actor.id if actor else None,
    )


def _new_photo(upload: PhotoUpload, actor: StaffUser | None) -> PersonPhoto:
    return PersonPhoto(
        kind=upload.kind,
        data=upload.photo.data,
        content_type=upload.photo.content_type,
        width=upload.photo.width,
        height=upload.photo.height,
        taken_on=upload.taken_on,
        uploaded_by_id=actor.id if actor else None,
    )


def register_person(
    district: District,
    fields: PersonFields,
    *,
    contacts: Sequence[ContactFields],
    places: Sequence[PlaceFields],
    consent: ConsentFields,
    photos: Sequence[PhotoUpload],
    actor: StaffUser | None,
) -> AtRiskPerson:
    """Register a person with their contacts, usual places, photos and the consent given."""
    person = AtRiskPerson(district_id=district.id, created_by_id=actor.id if actor else None)
    _apply_fields(person, fields)
    _replace_contacts(person, contacts)
    _replace_places(person, places)
    person.consents = [_new_consent(consent, actor)]
    person.photos = [_new_photo(p, actor) for p in photos[:MAX_PHOTOS]]
    db.session.add(person)
    db.session.flush()
    record_audit(
        "person.registered",
        "at_risk_person",
        person.id,
        district.id,
        photos=len(person.photos),
        scopes=[s.value for s in consent.scopes],
    )
    return person


def update_person(
    person: AtRiskPerson,
    fields: PersonFields,
    *,
    contacts: Sequence[ContactFields],
    places: Sequence[PlaceFields],
) -> None:
    """Replace the person's facts, contacts and usual places with the edited ones."""
    _apply_fields(person, fields)
    _replace_contacts(person, contacts)
    _replace_places(person, places)
    db.session.flush()
    record_audit("person.updated", "at_risk_person", person.id, person.district_id)


def record_consent(person: AtRiskPerson, data: ConsentFields, actor: StaffUser | None) -> Consent:
    """Record a new (or renewed) consent; it brings an archived person back to the registry."""
    consent = _new_consent(data, actor)
    person.consents.append(consent)
    restored = person.is_archived
    person.is_archived = False
    db.session.flush()
    record_audit(
        "consent.recorded",
        "at_risk_person",
        person.id,
        person.district_id,
        consent_id=consent.id,
        renew_by=data.renew_by.isoformat(),
        scopes=[s.value for s in data.scopes],
        restored=restored,
    )
    return consent


def archive_person(person: AtRiskPerson, *, now: datetime | None = None) -> None:
    """Consent withdrawn: withdraw every consent and archive the person (no more alerts)."""
    now = now or datetime.now(UTC)
    for consent in person.consents:
        if consent.withdrawn_at is None:
            consent.withdrawn_at = now
    person.is_archived = True
    db.session.flush()
    record_audit("person.archived", "at_risk_person", person.id, person.district_id)


def add_photo(person: AtRiskPerson, upload: PhotoUpload, actor: StaffUser | None) -> PersonPhoto:
    """Store an already re-encoded photo of the person."""
    photo = _new_photo(upload, actor)
    person.photos.append(photo)
    db.session.flush()
    record_audit(
        "photo.added",
        "person_photo",
        photo.id,
        person.district_id,
        person_id=person.id,
        kind=upload.kind.value,
    )
    return photo


def remove_photo(photo: PersonPhoto) -> None:
    """Delete a photo (the bytes go with the row)."""
    person = photo.person
    record_audit("photo.removed", "person_photo", photo.id, person.district_id, person_id=person.id)
    person.photos.remove(photo)
    db.session.flush()
