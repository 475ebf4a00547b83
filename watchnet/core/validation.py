"""Checks shared by every form and JSON schema: sane dates, finite numbers, clean text.

One place for the rules that keep impossible input out of the services and the database: a
year far outside any real range (year 1 overflows the conversion to UTC, year 9999 is a typo),
NaN or Infinity (they pass every range check, since every comparison with NaN is false), ids
beyond what the database holds, and text with characters that cannot be seen or that turn a
name around on screen (U+202E) or defeat a duplicate check (a zero-width space).
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_wtf import FlaskForm
from marshmallow import ValidationError as SchemaError
from marshmallow import fields as mfields
from wtforms import (
    DateField,
    DateTimeField,
    DecimalField,
    Field,
    FieldList,
    FloatField,
    FormField,
    IntegerField,
    PasswordField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.form import BaseForm
from wtforms.validators import StopValidation

# Drills, alerts, consents and photos happen in this window; anything outside is a typo (or an
# attack) and some of it cannot even be converted between time zones.
YEAR_MIN = 2000
YEAR_MAX = 2100
# Dates of birth have their own rule (watchnet/registry/forms.py: 1900 to today).
BIRTH_YEAR_MIN = 1900
# Integer columns are 32-bit on PostgreSQL; larger numbers cannot be stored or looked up.
INT_MIN = -(2**31)
INT_MAX = 2**31 - 1

# Characters nobody sees: zero-width space, non-joiner, joiner, word joiner, BOM, soft hyphen,
# Mongolian vowel separator, and the invisible math operators.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u2061\u2062\u2063\u2064"
# Bidirectional controls: embeddings and overrides (U+202A–U+202E), isolates (U+2066–U+2069),
# the left-to-right, right-to-left and Arabic letter marks.
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
# Control characters (C0 and C1). PostgreSQL refuses NUL in text; the rest have no place in
# what people type.
_CONTROLS = "".join(chr(c) for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)))

_DROP_LINE = dict.fromkeys(map(ord, INVISIBLE + BIDI), None)
_DROP_LINE.update(dict.fromkeys(map(ord, _CONTROLS), " "))
# Paragraphs keep their line breaks and tabs, and the zero-width joiner (emoji sequences).
_DROP_BLOCK = dict.fromkeys(map(ord, INVISIBLE.replace("\u200d", "") + BIDI), None)
_DROP_BLOCK.update(dict.fromkeys(map(ord, _CONTROLS.replace("\n", "").replace("\t", "")), None))
_SPACES = re.compile(r"\s+")


def clean_line(value: str) -> str:
    """Single-line text (a name, a place): invisible and bidirectional controls removed,
    control characters as spaces, trimmed."""
    return value.translate(_DROP_LINE).strip()


def clean_block(value: str) -> str:
    """Multi-line text (a note, a description): the same, keeping line breaks and tabs."""
    return value.replace("\r\n", "\n").replace("\r", "\n").translate(_DROP_BLOCK).strip()


def normalise_name(value: str | None) -> str:
    """The form names are compared in (duplicate checks): NFKC, cleaned, one space between
    words, case folded. "山田　太郎", "山田 太郎\u200b" and "山田 太郎" are the same person."""
    text = unicodedata.normalize("NFKC", value or "")
    return _SPACES.sub(" ", clean_line(text)).strip().casefold()


_HEX_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


def safe_color(value: str | None, default: str = "#777777") -> str:
    """A colour usable in a style attribute (a team's): #rrggbb, else the default."""
    return value if value and _HEX_COLOR_RE.match(value) else default


def is_finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def in_year_window(value: date | datetime, low: int = YEAR_MIN, high: int = YEAR_MAX) -> bool:
    return low <= value.year <= high


# Messages (Japanese in messages.po).
FINITE_MESSAGE = _l("Please enter a number.")
INT_RANGE_MESSAGE = _l("This number is too large.")


def year_message(low: int, high: int) -> LazyString:
    return _l("Please enter a date between the years %(low)d and %(high)d.", low=low, high=high)


# ---------------------------------------------------------------------------------------------
# WTForms


class FiniteNumber:
    """NaN and ±Infinity are not numbers anyone means (and they pass NumberRange)."""

    field_flags: dict[str, Any] = {}

    def __call__(self, form: BaseForm, field: Field) -> None:
        data = field.data
        if data is not None and not math.isfinite(data):
            field.data = None  # so a page drawn again (a map) never sees NaN
            raise StopValidation(str(FINITE_MESSAGE))


class IntWithinColumn:
    """An integer the database can hold (a larger id is refused, not a database error)."""

    field_flags: dict[str, Any] = {}

    def __call__(self, form: BaseForm, field: Field) -> None:
        if field.data is not None and not INT_MIN <= field.data <= INT_MAX:
            raise StopValidation(str(INT_RANGE_MESSAGE))


class YearWindow:
    """A date (or date and time) whose year is within [low, high]."""

    field_flags: dict[str, Any] = {}

    def __init__(self, low: int = YEAR_MIN, high: int = YEAR_MAX) -> None:
        self.low, self.high = low, high

    def __call__(self, form: BaseForm, field: Field) -> None:
        if field.data is not None and not in_year_window(field.data, self.low, self.high):
            raise StopValidation(str(year_message(self.low, self.high)))


def _has(field: Field, kind: type) -> bool:
    return any(isinstance(v, kind) for v in field.validators)


def harden_field(field: Field) -> None:
    """Clean a bound field's text and put the shared number and date checks first."""
    if isinstance(field, FormField):
        harden_form(field.form)
        return
    if isinstance(field, FieldList):
        for entry in field.entries:
            harden_field(entry)
        return
    if isinstance(field, StringField) and not isinstance(field, PasswordField):
        if isinstance(field.data, str):
            field.data = (
                clean_block(field.data)
                if isinstance(field, TextAreaField)
                else clean_line(field.data)
            )
        return
    extra: list[FiniteNumber | IntWithinColumn | YearWindow] = []
    if isinstance(field, FloatField | DecimalField) and not _has(field, FiniteNumber):
        extra.append(FiniteNumber())
    if isinstance(field, IntegerField) and not _has(field, IntWithinColumn):
        extra.append(IntWithinColumn())
    if (
        isinstance(field, DateField | DateTimeField)
        and not isinstance(field, TimeField)
        and not _has(field, YearWindow)
    ):
        # A field without its own window gets the widest sane one.
        extra.append(YearWindow(BIRTH_YEAR_MIN, YEAR_MAX))
    if extra:
        field.validators = [*extra, *field.validators]


def harden_form(form: BaseForm) -> None:
    for field in form:
        harden_field(field)


class SafeForm(FlaskForm):
    """A FlaskForm whose text is cleaned and whose numbers and dates are checked for sanity
    before the form's own validators run (see harden_field)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        harden_form(self)


# ---------------------------------------------------------------------------------------------
# Marshmallow


class StrictFloat(mfields.Float):
    """A JSON number (not "1.5", not true), finite."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_nan", False)
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class SaneDateTime(mfields.DateTime):
    """An ISO 8601 date and time within the sane year window."""

    def __init__(self, low: int = YEAR_MIN, high: int = YEAR_MAX, **kwargs: Any) -> None:
        self.low, self.high = low, high
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if not in_year_window(parsed, self.low, self.high):
            raise SchemaError(str(year_message(self.low, self.high)))
        return parsed


class CleanString(mfields.String):
    """A string with invisible and bidirectional controls removed (single line by default)."""

    def __init__(self, multiline: bool = False, **kwargs: Any) -> None:
        self.multiline = multiline
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:  # refused, as before: a client sending NUL has a bug to see
            raise SchemaError("NUL characters are not allowed.")
        return clean_block(text) if self.multiline else clean_line(text)
