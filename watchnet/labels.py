"""Translated labels for every enum shown to users; one place so wording stays consistent."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from wtforms.fields.choices import SelectChoice

from watchnet.districts.models import LandmarkKind
from watchnet.drills.models import DrillStatus, ExpectedContact, ParticipantRole
from watchnet.people.models import StaffRole, SupporterKind
from watchnet.registry.models import Build, ConsentScope, PhotoKind, Sex, WalkingAbility
from watchnet.tracking.models import EncounterStepKind

LABELS: dict[type[StrEnum], dict[str, LazyString]] = {
    StaffRole: {
        "admin": _l("Administrator"),
        "coordinator": _l("Coordinator (SC)"),
        "organizer": _l("Organizer"),
    },
    SupporterKind: {
        "community_supporter": _l("Community supporter"),
        "care_prevention_supporter": _l("Care-prevention supporter"),
        "dementia_supporter": _l("Orange (dementia) supporter"),
        "care_manager": _l("Care manager"),
        "welfare_commissioner": _l("Welfare commissioner"),
        "ward_head": _l("Ward head"),
        "council_member": _l("Council member"),
        "other": _l("Other"),
    },
    LandmarkKind: {
        "community_hall": _l("Community hall"),
        "school": _l("School"),
        "shrine": _l("Shrine"),
        "temple": _l("Temple"),
        "park": _l("Park"),
        "station": _l("Station"),
        "shop": _l("Shop"),
        "police_box": _l("Police box"),
        "hospital": _l("Hospital / clinic"),
        "other": _l("Other"),
    },
    DrillStatus: {
        "planned": _l("Planned"),
        "live": _l("Live"),
        "ended": _l("Ended"),
    },
    ExpectedContact: {
        "family": _l("Family"),
        "anshin_center": _l("Anshin center"),
        "police": _l("Police"),
        "organizer": _l("Organizer"),
    },
    ParticipantRole: {
        "walker": _l("Walker"),
        "observer": _l("Observer"),
        "role_player": _l("Role-player"),
    },
    EncounterStepKind: {
        "noticed": _l("Noticed the person"),
        "approached_front": _l("Approached from the front"),
        "gave_own_name": _l("Gave own name"),
        "asked_name_or_destination": _l("Asked name or destination"),
        "contacted": _l("Contacted someone"),
        "handed_over": _l("Handed over"),
    },
    Sex: {
        "female": _l("Female"),
        "male": _l("Male"),
        "other": _l("Other"),
        "unknown": _l("Not stated"),
    },
    Build: {
        "slim": _l("Slim"),
        "medium": _l("Medium build"),
        "stout": _l("Stout"),
        "unknown": _l("Not stated"),
    },
    WalkingAbility: {
        "brisk": _l("Walks far and fast"),
        "independent": _l("Walks unaided"),
        "slow": _l("Walks slowly"),
        "cane": _l("Walks with a cane"),
        "walker": _l("Uses a walker or silver car"),
        "wheelchair": _l("Wheelchair"),
    },
    PhotoKind: {
        "face": _l("Face"),
        "full_body": _l("Full body"),
        "other": _l("Other"),
    },
    ConsentScope: {
        "share_with_supporters": _l("Share the description with nearby supporters in a search"),
        "share_photo": _l("Show the photos on alert pages and flyers"),
        "share_with_police": _l("Share the details with the police"),
    },
}


def label(enum_cls: type[StrEnum], value: str | StrEnum | None) -> str:
    """The user-facing label of one enum value ("" for None)."""
    if value is None:
        return ""
    return str(LABELS[enum_cls].get(str(value), str(value)))


def select_choices(pairs: Iterable[tuple[Any, Any]]) -> list[SelectChoice]:
    """(value, label) pairs as WTForms SelectChoice objects (WTForms 3.3 deprecates tuples)."""
    return [SelectChoice(value=value, label=label) for value, label in pairs]


def choices(enum_cls: type[StrEnum]) -> list[SelectChoice]:
    """A select field's options for an enum, in declaration order, with translated labels."""
    return select_choices((m.value, LABELS[enum_cls][m.value]) for m in enum_cls)


def template_globals() -> dict[str, object]:
    """Label helpers for Jinja."""
    return {
        "role_label": lambda v: label(StaffRole, v),
        "kind_label": lambda v: label(SupporterKind, v),
        "landmark_kind_label": lambda v: label(LandmarkKind, v),
        "status_label": lambda v: label(DrillStatus, v),
        "contact_label": lambda v: label(ExpectedContact, v),
        "participant_role_label": lambda v: label(ParticipantRole, v),
        "step_label": lambda v: label(EncounterStepKind, v),
        "sex_label": lambda v: label(Sex, v),
        "build_label": lambda v: label(Build, v),
        "walking_label": lambda v: label(WalkingAbility, v),
        "photo_kind_label": lambda v: label(PhotoKind, v),
        "consent_scope_label": lambda v: label(ConsentScope, v),
    }
