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


# --- Numbers the SMS/voice gateway dials (E.164) ---
# After the leading 0, Japanese numbers have 9 digits (landlines: area code + subscriber) or
# 10 (070/080/090 mobiles, 050 IP phones, 020 machine-to-machine). Numbers that are not a
# person's phone (0120/0800 free dial, 0570 navi dial, 0990 premium, 0180 recorded
# information, 020 M2M) can neither take an SMS nor answer a call from the gateway.
# (080-0... is not given to mobiles: those are 0800 free-dial numbers.)
_NOT_PERSONAL = ("120", "800", "570", "990", "180", "20")
_JP_MOBILE = ("70", "80", "90")


def to_e164(raw: str | None) -> str:
    """A phone number as the gateway dials it: "+81" and the number without its leading 0 for
    Japanese numbers (090-1234-5678 → +819012345678), international ones kept as given.

    Raises ValueError when it is not a number a person can be called or texted on."""
    text = _PHONE_SEPARATORS.sub("", normalise_phone(raw))
    if text.startswith("00"):  # the international prefix typed instead of "+"
        text = "+" + text[2:]
    if text.startswith("+81"):
        national = text[3:]
        # "+81 (0)90 ..." as written on business cards: the trunk 0 is not dialled.
        if national.startswith("0"):
            national = national[1:]
    elif text.startswith("0"):
        national = text[1:]
    elif re.fullmatch(r"\+[1-9]\d{7,14}", text):
        return text
    else:
        raise ValueError("not a phone number")
    if not national.isdigit() or national.startswith("0"):
        raise ValueError("not a phone number")
    if national.startswith(_NOT_PERSONAL):
        raise ValueError("not a personal phone number")
    if len(national) != (10 if national.startswith(_JP_MOBILE + ("50",)) else 9):
        raise ValueError("wrong number of digits")
    return "+81" + national


def is_mobile_number(e164: str) -> bool:
    """Whether an E.164 number (from to_e164) is a Japanese mobile (070/080/090), the only
    kind that takes an SMS: a landline or an IP phone can only be called."""
    return e164.startswith("+81") and e164[3:].startswith(_JP_MOBILE) and len(e164) == 13


def national_number(e164: str) -> str:
    """An E.164 number as people in Japan write it (+819012345678 → 090-1234-5678)."""
    if not e164.startswith("+81"):
        return e164
    digits = "0" + e164[3:]
    if len(digits) == 11:  # mobiles, 050
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    # Landline area codes have 2 to 5 digits (Takasaki 027, Isesaki 0270); where to cut needs
    # the numbering plan's table, so a landline is shown without hyphens rather than wrongly.
    return digits
