"""Marshmallow schemas of the JSON API: what comes in (validated) and what goes out.

Limits match the database columns so nothing valid here fails in the database. Unknown fields
are refused (422), so a client cannot set columns the API does not offer (token_version ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from watchnet.core.errors import UserInputError
from watchnet.core.validation import CleanString, SaneDateTime, StrictFloat
from watchnet.districts.models import LandmarkKind
from watchnet.drills.models import DrillStatus, ExpectedContact
from watchnet.drills.schemas import MAX_ROUTE_POINTS
from watchnet.drills.services import (
    CHECKLIST_ITEM_MAX,
    CHECKLIST_MAX_ITEMS,
    MAX_DRILL_HOURS,
    check_drill_times,
)
from watchnet.people.models import SupporterKind
from watchnet.people.validation import (
    EMAIL_MAX,
    KANA_MAX,
    MAX_NOTIFICATION_URLS,
    NOTE_MAX,
    PHONE_MAX,
    URL_MAX,
    is_valid_kana,
    problem_message,
)

if TYPE_CHECKING:
    from watchnet.people.models import Supporter

MAX_ID = 2**31 - 1
TEXT_MAX = 5000  # purpose and background are TEXT columns; a page of prose is plenty


def _no_nul(value: str) -> None:
    # PostgreSQL refuses NUL in text; refuse it here rather than fail in the database.
    if "\x00" in value:
        raise ValidationError("NUL characters are not allowed.")


def _kana(value: str) -> None:
    if value and not is_valid_kana(value):
        raise ValidationError(problem_message("kana"))


def text(
    max_len: int, required: bool = False, min_len: int = 0, multiline: bool = False, **kwargs: Any
) -> fields.String:
    """A string field limited to its column's length; invisible and bidirectional controls
    are removed before the length is checked (watchnet.core.validation)."""
    checks: list[Any] = [validate.Length(min=min_len, max=max_len), _no_nul]
    extra = kwargs.pop("validate", None)
    if extra is not None:
        checks.append(extra)
    return CleanString(multiline=multiline, required=required, validate=checks, **kwargs)


def latitude(**kwargs: Any) -> fields.Float:
    return StrictFloat(validate=validate.Range(min=-90, max=90), **kwargs)


def longitude(**kwargs: Any) -> fields.Float:
    return StrictFloat(validate=validate.Range(min=-180, max=180), **kwargs)


def ident(strict: bool = True, **kwargs: Any) -> fields.Integer:
    """A row id; strict in JSON bodies (no "3" for 3), loose in query strings."""
    return fields.Integer(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class LatLon(fields.Field):
    """A point as [lat, lon]."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return [value[0], value[1]]

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise ValidationError("Expected [lat, lon].")
        lat = latitude(required=True).deserialize(value[0])
        lon = longitude(required=True).deserialize(value[1])
        return (lat, lon)


# ---------------------------------------------------------------------------------------------
# Districts and landmarks


class DistrictSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    name_kana = fields.String(dump_only=True)
    center_lat = fields.Float(dump_only=True)
    center_lon = fields.Float(dump_only=True)


class LandmarkSchema(Schema):
    id = fields.Integer(dump_only=True)
    district_id = fields.Integer(dump_only=True)
    name = text(100, required=True, min_len=1)
    kind = fields.Enum(LandmarkKind, by_value=True, load_default=LandmarkKind.other)
    lat = latitude(required=True)
    lon = longitude(required=True)


class LandmarkPatchSchema(LandmarkSchema):
    kind = fields.Enum(LandmarkKind, by_value=True)


# ---------------------------------------------------------------------------------------------
# Drills and checkpoints


class CheckpointSchema(Schema):
    id = fields.Integer(dump_only=True)
    drill_id = fields.Integer(dump_only=True)
    seq = fields.Integer(dump_only=True)
    name = text(100, required=True, min_len=1)
    lat = latitude(required=True)
    lon = longitude(required=True)
    role_player = text(100)
    scenario_wear = text(1000, multiline=True)
    scenario_say = text(1000, multiline=True)
    scenario_do = text(1000, multiline=True)
    expected_contact = fields.Enum(ExpectedContact, by_value=True)
    expected_contact_note = text(200)
    checklist = fields.List(
        text(CHECKLIST_ITEM_MAX), validate=validate.Length(max=CHECKLIST_MAX_ITEMS)
    )


class CheckpointPatchSchema(CheckpointSchema):
    """Any subset of a checkpoint's fields (used with partial=True)."""


class DrillQuerySchema(Schema):
    district_id = ident(strict=False)


class DrillSchema(Schema):
    id = fields.Integer(dump_only=True)
    district_id = ident(required=True)
    title = text(200, required=True, min_len=1)
    starts_at = SaneDateTime(
        required=True,
        metadata={
            "description": "ISO 8601, years 2000 to 2100; a time without offset is taken as "
            "Japan time."
        },
    )
    ends_at = SaneDateTime(
        allow_none=True,
        metadata={
            "description": f"After starts_at and at most {MAX_DRILL_HOURS} hours later (a drill "
            "across midnight ends on the next day's date)."
        },
    )
    meeting_place = text(200)
    contact_phone = text(
        30, metadata={"description": "The number supporters call on the day, e.g. 090-1234-5678."}
    )
    contact_label = text(100, metadata={"description": "Whose number it is."})
    purpose = text(TEXT_MAX, multiline=True)
    background = text(TEXT_MAX, multiline=True)
    status = fields.Enum(DrillStatus, by_value=True)
    route = fields.List(
        LatLon(),
        attribute="route_latlons",
        dump_only=True,
        metadata={"description": "The route as [[lat, lon], ...]."},
    )
    checkpoints = fields.List(fields.Nested(CheckpointSchema), dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    @validates_schema
    def _ends_after_start(self, data: dict[str, Any], **_kwargs: Any) -> None:
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends:
            try:
                check_drill_times(_comparable(starts), _comparable(ends), "ends_at")
            except UserInputError as exc:
                raise ValidationError(str(exc), "ends_at") from exc


class DrillPatchSchema(DrillSchema):
    """Any subset of a drill's fields (used with partial=True)."""


def _comparable(value: Any) -> Any:
    from watchnet.core.timefmt import from_local

    return from_local(value)


class RouteSchema(Schema):
    route = fields.List(
        LatLon(),
        required=True,
        validate=validate.Length(max=MAX_ROUTE_POINTS),
        metadata={"description": "The new route as [[lat, lon], ...]."},
    )


# ---------------------------------------------------------------------------------------------
# Supporters


class SupporterQuerySchema(Schema):
    district_id = ident(strict=False)
    kind = fields.Enum(SupporterKind, by_value=True)
    q = text(100, metadata={"description": "Part of the name, kana or e-mail."})
    active = fields.Boolean()


class SupporterSchema(Schema):
    """A supporter as staff see them. The sign-in token and its version are never exposed."""

    id = fields.Integer(dump_only=True)
    district_id = ident(required=True)
    name = text(100, required=True, min_len=1)
    # The web form's and the CSV import's kana rule (people.validation.is_valid_kana).
    name_kana = text(KANA_MAX, validate=_kana)
    kind = fields.Enum(SupporterKind, by_value=True, required=True)
    email = text(EMAIL_MAX, allow_none=True)
    phone = text(PHONE_MAX, allow_none=True)
    home_lat = latitude(
        allow_none=True,
        metadata={"description": "Approximate home position, rounded to about 100 m when stored."},
    )
    home_lon = longitude(allow_none=True)
    notification_urls = fields.List(
        text(URL_MAX), validate=validate.Length(max=MAX_NOTIFICATION_URLS)
    )
    note = text(NOTE_MAX, multiline=True)
    is_active = fields.Boolean(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class SupporterPatchSchema(SupporterSchema):
    district_id = ident(dump_only=True)
    is_active = fields.Boolean()


def supporter_out(supporter: Supporter) -> dict[str, Any]:
    """The fields SupporterSchema dumps, with the notification addresses as plain URLs."""
    data = {
        name: getattr(supporter, name)
        for name in (
            "id",
            "district_id",
            "name",
            "name_kana",
            "kind",
            "email",
            "phone",
            "home_lat",
            "home_lon",
            "note",
            "is_active",
            "created_at",
            "updated_at",
        )
    }
    data["notification_urls"] = [a.url for a in supporter.notification_addresses]
    return data
