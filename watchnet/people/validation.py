"""Checking a supporter's values: the column limits, the kana, phone, e-mail, notification
address and home position rules, and the reasons a value is refused.

Pure functions (no database): the web forms, the CSV import, the API schemas and the services
apply the same rules from here.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l

from watchnet.core import phones
from watchnet.core.errors import UserInputError
from watchnet.core.validation import clean_block, clean_line
from watchnet.people.models import Supporter, SupporterKind

# Column limits, shared by the forms, the CSV import and the API.
NAME_MAX = 100
KANA_MAX = 100
EMAIL_MAX = 254
PHONE_MAX = 30
NOTE_MAX = 500
URL_MAX = 1000
MAX_NOTIFICATION_URLS = 5

_KANA_RE = re.compile(r"^[\u3041-\u3096\u309d\u309e\u30a1-\u30fa\u30fc-\u30fe ]+$")
_PHONE_RE = re.compile(r"^[0-9+\-() ]+$")
# An apprise-style address: a scheme, "://", and something after it (mailto://, json://, ...).
_URL_RE = re.compile(r"^[a-z][a-z0-9+.\-]*://\S+$", re.IGNORECASE)


def normalise_kana(value: str) -> str:
    """Half-width katakana and full-width spaces to their usual forms; one space between words;
    invisible and bidirectional controls removed."""
    return " ".join(clean_line(unicodedata.normalize("NFKC", value or "")).split())


def is_valid_kana(value: str) -> bool:
    """True for hiragana or katakana with spaces between words."""
    return bool(_KANA_RE.match(normalise_kana(value)))


def normalise_phone(value: str | None) -> str:
    """Full-width digits and hyphens to ASCII (the one rule of watchnet.core.phones)."""
    return phones.normalise_phone(clean_line(value or ""))


def is_valid_phone(value: str) -> bool:
    """Digits, spaces, hyphens, brackets and a leading +."""
    return bool(_PHONE_RE.match(normalise_phone(value)))


def split_notification_urls(value: str | Sequence[str] | None) -> list[str]:
    """Addresses from text (one per line or separated by spaces) or a list."""
    if value is None:
        return []
    parts = value.split() if isinstance(value, str) else [p for v in value for p in v.split()]
    return [p.strip() for p in parts if p.strip()]


def notification_url_problem(url: str) -> str | None:
    """None if the address looks usable, else a code: "too_long" or "url"."""
    if len(url) > URL_MAX:
        return "too_long"
    if not _URL_RE.match(url):
        return "url"
    return None


def is_valid_email(value: str) -> bool:
    """A syntactically valid e-mail address (no DNS look-up)."""
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def home_position_problem(lat: float | None, lon: float | None) -> tuple[str, str] | None:
    """None if the position is usable (or absent), else (field, code)."""
    if lat is None and lon is None:
        return None
    if lat is None:
        return "home_lat", "both"
    if lon is None:
        return "home_lon", "both"
    if not math.isfinite(lat) or not -90.0 <= lat <= 90.0:
        return "home_lat", "lat_range"
    if not math.isfinite(lon) or not -180.0 <= lon <= 180.0:
        return "home_lon", "lon_range"
    return None


# Reasons a value is refused, by code. Stored as codes in an import batch so the preview shows
# them in the language of whoever looks at it.
PROBLEMS: dict[str, Any] = {
    "required": _l("This value is required."),
    "too_long": _l("Too long: at most %(max)s characters."),
    "kana": _l("Use hiragana or katakana only (spaces between words are fine)."),
    "kind": _l("Unknown kind. Use one of: %(kinds)s."),
    "email": _l("Not a valid e-mail address."),
    "phone": _l("Use digits, spaces, hyphens, brackets and + only."),
    "url": _l("Not an address with a scheme, such as mailto://… or json://…"),
    "too_many_urls": _l("At most %(max)s further notification addresses."),
    "number": _l("Not a number."),
    "lat_range": _l("Latitude must be between -90 and 90."),
    "lon_range": _l("Longitude must be between -180 and 180."),
    "both": _l("Give both latitude and longitude, or neither."),
    "district": _l("This row names the district %(name)s, not the district chosen for the import."),
    "duplicate": _l("This person is registered in this district already."),
}


def problem_message(code: str, **params: Any) -> str:
    """The user-facing sentence for a problem code, in the current language."""
    text = str(PROBLEMS[code])
    return text % params if params else text


def problem(code: str, field: str, **params: Any) -> UserInputError:
    """The refusal of a field's value, in the current language."""
    return UserInputError(problem_message(code, **params), field)


@dataclass
class SupporterValues:
    """Checked and normalised values of one supporter."""

    name: str
    name_kana: str
    kind: SupporterKind
    email: str | None
    phone: str | None
    home_lat: float | None
    home_lon: float | None
    notification_urls: list[str]
    note: str

    @property
    def dedupe_key(self) -> str:
        return Supporter.make_dedupe_key(self.name, self.name_kana, self.email)


def check_supporter_values(
    name: str,
    name_kana: str,
    kind: SupporterKind | str,
    email: str | None = None,
    phone: str | None = None,
    home_lat: float | None = None,
    home_lon: float | None = None,
    notification_urls: str | Sequence[str] | None = (),
    note: str | None = "",
) -> SupporterValues:
    """Normalise one supporter's values; raise UserInputError naming the first bad field."""
    name = clean_line(name or "")
    kana = normalise_kana(name_kana)
    email = clean_line(email or "") or None
    phone = normalise_phone(phone) or None
    note = clean_block(note or "")
    if not name:
        raise problem("required", "name")
    for field, value, limit in (
        ("name", name, NAME_MAX),
        ("name_kana", kana, KANA_MAX),
        ("email", email, EMAIL_MAX),
        ("phone", phone, PHONE_MAX),
        ("note", note, NOTE_MAX),
    ):
        if value and len(value) > limit:
            raise problem("too_long", field, max=limit)
    try:
        supporter_kind = SupporterKind(kind)
    except ValueError:
        raise problem("kind", "kind", kinds=", ".join(k.value for k in SupporterKind)) from None
    if email and not is_valid_email(email):
        raise problem("email", "email")
    if phone and not is_valid_phone(phone):
        raise problem("phone", "phone")
    urls = split_notification_urls(notification_urls)
    if len(urls) > MAX_NOTIFICATION_URLS:
        raise problem("too_many_urls", "notification_urls", max=MAX_NOTIFICATION_URLS)
    for url in urls:
        code = notification_url_problem(url)
        if code:
            raise problem(code, "notification_urls", max=URL_MAX)
    bad_position = home_position_problem(home_lat, home_lon)
    if bad_position:
        raise problem(bad_position[1], bad_position[0])
    lat, lon = round_home_position(home_lat, home_lon)
    return SupporterValues(name, kana, supporter_kind, email, phone, lat, lon, urls, note)


def round_home_position(lat: float | None, lon: float | None) -> tuple[float | None, float | None]:
    """Keep a home position approximate (about 100 m): enough to find nearby supporters."""
    if lat is None or lon is None:
        return None, None
    return round(lat, 3), round(lon, 3)
