"""Phone numbers people type into forms: made dialable and checked (pure, no app needed)."""

from __future__ import annotations

import re
import unicodedata

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from wtforms import Field, Form
from wtforms.validators import ValidationError

# Dashes people type in a phone number (full-width, katakana long mark, minus signs).
_DASHES = dict.fromkeys(map(ord, "‐‑‒–—―−ーｰ－"), "-")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
# Japanese numbers: 0 + 9 digits (landline, 0120, 0570) or 0 + 10 (mobile, IP); +country
# numbers; 110 (police) for alerts where the police asked to be called directly.
_PHONE_DIGITS = re.compile(r"^(?:0\d{9,10}|\+\d{8,15}|110)$")
# A tel: link keeps digits, "+" and the separators phones accept (NFKC has already turned
# full-width digits typed on a Japanese keyboard into ASCII).
_TEL_RE = re.compile(r"[^0-9+*#]")


def normalise_phone(raw: str | None) -> str:
    """A phone number as typed, in half-width characters with plain hyphens."""
    return unicodedata.normalize("NFKC", raw or "").translate(_DASHES).strip()


def is_phone_number(value: str) -> bool:
    """Whether a (normalised) phone number can be dialled from a Japanese phone."""
    return bool(_PHONE_DIGITS.match(_PHONE_SEPARATORS.sub("", value)))


class PhoneNumber:
    """Validator: a number someone can call from a phone (empty passes; pair with
    DataRequired where a number is needed)."""

    def __init__(self, message: str | LazyString | None = None) -> None:
        self.message = message

    def __call__(self, form: Form, field: Field) -> None:
        field.data = normalise_phone(field.data)
        if field.data and not is_phone_number(field.data):
            raise ValidationError(
                self.message
                or _l(
                    "Please enter a phone number a finder can call, e.g. 0270-20-1234 or "
                    "090-1234-5678."
                )
            )


def phone_text(number: str | None) -> str:
    """A stored number as it is shown: normalised, also for rows saved before numbers were
    normalised on the way in (full-width digits typed on a Japanese keyboard)."""
    return normalise_phone(number)


def tel_href(number: str) -> str:
    """The tel: URL of a phone number as typed (hyphens and spaces dropped)."""
    return "tel:" + _TEL_RE.sub("", normalise_phone(number))
