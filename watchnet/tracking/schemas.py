"""Checking what phones send: plain functions, field-level errors keyed by path.

Plain functions rather than a schema library because the position endpoint is hot: a batch of
a hundred reports is checked in well under a millisecond. Every function returns clean values
or raises InvalidPayload with {"positions.3.lat": ["..."]}-style errors.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import gettext as _

from watchnet.core.validation import clean_block
from watchnet.drills.models import ExpectedContact
from watchnet.tracking.models import EncounterStepKind

CLIENT_ID_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_FUTURE = timedelta(minutes=5)
MAX_AGE = timedelta(hours=24)
MAX_ACCURACY_M = 10_000.0
NOTE_MAX = 500
SENTENCE_MAX = 500


class InvalidPayload(ValueError):
    """The request body had values that cannot be used; `errors` maps field paths to reasons."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid payload")
        self.errors = errors


class _Errors:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise InvalidPayload(self.errors)


def _require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidPayload({"_body": [_("Send a JSON object.")]})
    return body


def _number(value: Any) -> float | None:
    """A finite float from a JSON number (not a bool, not NaN or Infinity), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _lat(errors: _Errors, path: str, value: Any) -> float | None:
    number = _number(value)
    if number is None or not -90.0 <= number <= 90.0:
        errors.add(path, _("Latitude must be a number from -90 to 90."))
        return None
    return number


def _lon(errors: _Errors, path: str, value: Any) -> float | None:
    number = _number(value)
    if number is None or not -180.0 <= number <= 180.0:
        errors.add(path, _("Longitude must be a number from -180 to 180."))
        return None
    return number


def _accuracy(errors: _Errors, path: str, value: Any) -> float | None:
    if value is None:
        return None
    number = _number(value)
    if number is None or not 0.0 <= number <= MAX_ACCURACY_M:
        errors.add(path, _("Accuracy must be a number of metres from 0 to 10000."))
        return None
    return number


def _client_id(errors: _Errors, path: str, value: Any) -> str | None:
    if not isinstance(value, str) or not CLIENT_ID_RE.fullmatch(value):
        errors.add(path, _("The id must be 8 to 64 letters, digits, '-' or '_'."))
        return None
    return value


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from an ISO 8601 string with an offset (or Z), else None."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # year 1 with a positive offset, year 9999 with a negative one
        return None


def _time(errors: _Errors, path: str, value: Any, now: datetime) -> datetime | None:
    parsed = parse_time(value)
    if parsed is None:
        errors.add(path, _("Send the time in ISO 8601 with a time zone offset."))
        return None
    if parsed > now + MAX_FUTURE:
        errors.add(path, _("This time is in the future. Please check the phone's clock."))
        return None
    if parsed < now - MAX_AGE:
        errors.add(path, _("This time is more than a day ago."))
        return None
    return parsed


def _text(errors: _Errors, path: str, value: Any, max_len: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.add(path, _("This must be text."))
        return ""
    text = clean_block(value)  # no NUL (PostgreSQL refuses it), no bidi or zero-width tricks
    if len(text) > max_len:
        errors.add(path, _("At most %(max)d characters.", max=max_len))
        return ""
    return text


def parse_positions(body: Any, max_batch: int, now: datetime) -> list[dict[str, Any]]:
    """Rows ready for the position_report table (without drill and supporter)."""
    positions = _require_object(body).get("positions")
    if not isinstance(positions, list) or not 1 <= len(positions) <= max_batch:
        raise InvalidPayload(
            {"positions": [_("Send a list of 1 to %(max)d positions.", max=max_batch)]}
        )
    errors = _Errors()
    rows: list[dict[str, Any]] = []
    for i, item in enumerate(positions):
        path = f"positions.{i}"
        if not isinstance(item, dict):
            errors.add(path, _("Send a JSON object."))
            continue
        row = {
            "client_id": _client_id(errors, f"{path}.client_id", item.get("client_id")),
            "lat": _lat(errors, f"{path}.lat", item.get("lat")),
            "lon": _lon(errors, f"{path}.lon", item.get("lon")),
            "accuracy_m": _accuracy(errors, f"{path}.accuracy_m", item.get("accuracy_m")),
            "recorded_at": _time(errors, f"{path}.recorded_at", item.get("recorded_at"), now),
        }
        rows.append(row)
    errors.raise_if_any()
    return rows


@dataclass
class StepInput:
    client_id: str
    step: EncounterStepKind
    done_at: datetime
    checkpoint_id: int | None = None
    contact_whom: ExpectedContact | None = None
    note: str = ""
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    corrects_client_id: str | None = None


def _optional_latlon(errors: _Errors, item: dict[str, Any]) -> tuple[float | None, float | None]:
    lat_raw, lon_raw = item.get("lat"), item.get("lon")
    if lat_raw is None and lon_raw is None:
        return None, None
    lat, lon = _lat(errors, "lat", lat_raw), _lon(errors, "lon", lon_raw)
    return lat, lon


def parse_step(body: Any, now: datetime) -> StepInput:
    """One encounter step from the phone."""
    item = _require_object(body)
    errors = _Errors()
    client_id = _client_id(errors, "client_id", item.get("client_id"))
    step: EncounterStepKind | None = None
    try:
        step = EncounterStepKind(str(item.get("step")))
    except ValueError:
        errors.add("step", _("Unknown step."))
    contact: ExpectedContact | None = None
    if item.get("contact_whom") not in (None, ""):
        try:
            contact = ExpectedContact(str(item.get("contact_whom")))
        except ValueError:
            errors.add("contact_whom", _("Unknown contact."))
    elif step == EncounterStepKind.contacted:
        errors.add("contact_whom", _("Choose whom you contacted."))
    checkpoint_id = item.get("checkpoint_id")
    if checkpoint_id is not None and (
        isinstance(checkpoint_id, bool) or not isinstance(checkpoint_id, int)
    ):
        errors.add("checkpoint_id", _("Unknown checkpoint."))
        checkpoint_id = None
    corrects = item.get("corrects_client_id")
    if corrects is not None:
        corrects = _client_id(errors, "corrects_client_id", corrects)
    note = _text(errors, "note", item.get("note"), NOTE_MAX)
    lat, lon = _optional_latlon(errors, item)
    accuracy = _accuracy(errors, "accuracy_m", item.get("accuracy_m"))
    done_at = _time(errors, "done_at", item.get("done_at"), now)
    errors.raise_if_any()
    assert client_id is not None and step is not None and done_at is not None
    return StepInput(
        client_id=client_id,
        step=step,
        done_at=done_at,
        checkpoint_id=checkpoint_id,
        contact_whom=contact,
        note=note,
        lat=lat,
        lon=lon,
        accuracy_m=accuracy,
        corrects_client_id=corrects,
    )


@dataclass
class HelpInput:
    client_id: str
    lat: float
    lon: float
    called_at: datetime
    accuracy_m: float | None = None
    sentence: str = ""


def parse_help(body: Any, now: datetime) -> HelpInput:
    """A call for help from the phone."""
    item = _require_object(body)
    errors = _Errors()
    client_id = _client_id(errors, "client_id", item.get("client_id"))
    lat = _lat(errors, "lat", item.get("lat"))
    lon = _lon(errors, "lon", item.get("lon"))
    accuracy = _accuracy(errors, "accuracy_m", item.get("accuracy_m"))
    called_at = _time(errors, "called_at", item.get("called_at"), now)
    sentence = _text(errors, "sentence", item.get("sentence"), SENTENCE_MAX)
    errors.raise_if_any()
    assert client_id is not None and lat is not None and lon is not None
    assert called_at is not None
    return HelpInput(
        client_id=client_id,
        lat=lat,
        lon=lon,
        called_at=called_at,
        accuracy_m=accuracy,
        sentence=sentence,
    )


def parse_help_ref(body: Any) -> str:
    """{"help_client_id": ...}: which of the phone's own help calls, by the id it made."""
    errors = _Errors()
    client_id = _client_id(errors, "help_client_id", _require_object(body).get("help_client_id"))
    errors.raise_if_any()
    assert client_id is not None
    return client_id


@dataclass
class NoteInput:
    client_id: str
    text: str
    written_at: datetime
    checkpoint_id: int | None = None
    lat: float | None = None
    lon: float | None = None


def parse_note(body: Any, now: datetime) -> NoteInput:
    """A note saved with 「メモを保存」 on the phone."""
    item = _require_object(body)
    errors = _Errors()
    client_id = _client_id(errors, "client_id", item.get("client_id"))
    text = _text(errors, "text", item.get("text"), NOTE_MAX).strip()
    if not text and "text" not in errors.errors:
        errors.add("text", _("Write the note first."))
    checkpoint_id = item.get("checkpoint_id")
    if checkpoint_id is not None and (
        isinstance(checkpoint_id, bool) or not isinstance(checkpoint_id, int)
    ):
        errors.add("checkpoint_id", _("Unknown checkpoint."))
        checkpoint_id = None
    lat, lon = _optional_latlon(errors, item)
    written_at = _time(errors, "written_at", item.get("written_at"), now)
    errors.raise_if_any()
    assert client_id is not None and written_at is not None
    return NoteInput(
        client_id=client_id,
        text=text,
        written_at=written_at,
        checkpoint_id=checkpoint_id,
        lat=lat,
        lon=lon,
    )


def parse_consent(body: Any) -> bool:
    """{"share": true|false}."""
    share = _require_object(body).get("share")
    if not isinstance(share, bool):
        raise InvalidPayload({"share": [_("Answer true or false.")]})
    return share


def parse_latlon_query(args: Any) -> tuple[float, float]:
    """lat and lon from a query string."""
    errors = _Errors()
    values: list[float | None] = []
    for name, check in (("lat", _lat), ("lon", _lon)):
        raw = args.get(name)
        try:
            number: Any = float(raw) if raw is not None else None
        except ValueError:
            number = None
        values.append(check(errors, name, number))
    errors.raise_if_any()
    lat, lon = values
    assert lat is not None and lon is not None
    return lat, lon
