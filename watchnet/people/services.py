"""Use cases for staff accounts and supporters."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import segno
import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy.orm import selectinload

from watchnet.audit.services import record_audit
from watchnet.core import phones
from watchnet.core.dbtypes import utcnow
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.validation import clean_block, clean_line
from watchnet.districts.models import District
from watchnet.people import csv_io
from watchnet.people.models import (
    NotificationAddress,
    StaffRole,
    StaffUser,
    Supporter,
    SupporterImport,
    SupporterKind,
)

if TYPE_CHECKING:  # forms import the checks below; the import needs only the type
    from watchnet.people.forms import CheckedImport

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


def create_staff_user(
    email: str, name: str, role: str, password: str, district_names: Sequence[str] = ()
) -> StaffUser:
    """Create a staff account with a hashed password, attached to the named districts."""
    email = email.strip().lower()
    if len(password) < 8:
        raise UserInputError("password must have at least 8 characters", "password")
    if db.session.scalar(sa.select(StaffUser).where(sa.func.lower(StaffUser.email) == email)):
        raise UserInputError(f"a user with e-mail {email} exists already", "email")
    try:
        staff_role = StaffRole(role)
    except ValueError as exc:
        raise UserInputError(f"unknown role {role!r}", "role") from exc
    districts = []
    for dname in district_names:
        district = db.session.scalar(sa.select(District).where(District.name == dname))
        if district is None:
            raise UserInputError(f"unknown district {dname!r}", "district")
        districts.append(district)
    user = StaffUser(email=email, name=name.strip(), role=staff_role, districts=districts)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record_audit("staff.created", "staff_user", user.id, actor="system")
    return user


# ---------------------------------------------------------------------------------------------
# Checking supporter values (pure; used by forms, the CSV import and the API)


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


def _problem(code: str, field: str, **params: Any) -> UserInputError:
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
        raise _problem("required", "name")
    for field, value, limit in (
        ("name", name, NAME_MAX),
        ("name_kana", kana, KANA_MAX),
        ("email", email, EMAIL_MAX),
        ("phone", phone, PHONE_MAX),
        ("note", note, NOTE_MAX),
    ):
        if value and len(value) > limit:
            raise _problem("too_long", field, max=limit)
    try:
        supporter_kind = SupporterKind(kind)
    except ValueError:
        raise _problem("kind", "kind", kinds=", ".join(k.value for k in SupporterKind)) from None
    if email and not is_valid_email(email):
        raise _problem("email", "email")
    if phone and not is_valid_phone(phone):
        raise _problem("phone", "phone")
    urls = split_notification_urls(notification_urls)
    if len(urls) > MAX_NOTIFICATION_URLS:
        raise _problem("too_many_urls", "notification_urls", max=MAX_NOTIFICATION_URLS)
    for url in urls:
        code = notification_url_problem(url)
        if code:
            raise _problem(code, "notification_urls", max=URL_MAX)
    bad_position = home_position_problem(home_lat, home_lon)
    if bad_position:
        raise _problem(bad_position[1], bad_position[0])
    lat, lon = round_home_position(home_lat, home_lon)
    return SupporterValues(name, kana, supporter_kind, email, phone, lat, lon, urls, note)


def round_home_position(lat: float | None, lon: float | None) -> tuple[float | None, float | None]:
    """Keep a home position approximate (about 100 m): enough to find nearby supporters."""
    if lat is None or lon is None:
        return None, None
    return round(lat, 3), round(lon, 3)


# ---------------------------------------------------------------------------------------------
# Registering and changing supporters


def _key_taken(district_id: int, key: str, except_id: int | None = None) -> bool:
    stmt = sa.select(Supporter.id).where(
        Supporter.district_id == district_id, Supporter.dedupe_key == key
    )
    if except_id is not None:
        stmt = stmt.where(Supporter.id != except_id)
    return db.session.scalar(stmt.limit(1)) is not None


def _new_supporter(district_id: int, values: SupporterValues) -> Supporter:
    return Supporter(
        district_id=district_id,
        name=values.name,
        name_kana=values.name_kana,
        kind=values.kind,
        email=values.email,
        phone=values.phone,
        home_lat=values.home_lat,
        home_lon=values.home_lon,
        note=values.note,
        dedupe_key=values.dedupe_key,
        notification_addresses=[NotificationAddress(url=u) for u in values.notification_urls],
    )


def register_supporter(
    district: District,
    name: str,
    name_kana: str,
    kind: SupporterKind | str,
    email: str | None = None,
    phone: str | None = None,
    home_lat: float | None = None,
    home_lon: float | None = None,
    notification_urls: Sequence[str] = (),
    note: str = "",
) -> Supporter:
    """Register a supporter in a district; refuses a second registration of the same person."""
    values = check_supporter_values(
        name, name_kana, kind, email, phone, home_lat, home_lon, notification_urls, note
    )
    if _key_taken(district.id, values.dedupe_key):
        raise _problem("duplicate", "email" if values.email else "name")
    supporter = _new_supporter(district.id, values)
    db.session.add(supporter)
    db.session.flush()
    record_audit("supporter.registered", "supporter", supporter.id, district.id)
    return supporter


def update_supporter(
    supporter: Supporter,
    district: District,
    name: str,
    name_kana: str,
    kind: SupporterKind | str,
    email: str | None = None,
    phone: str | None = None,
    home_lat: float | None = None,
    home_lon: float | None = None,
    notification_urls: Sequence[str] = (),
    note: str = "",
) -> Supporter:
    """Change a supporter's details; refuses to turn them into someone registered already."""
    values = check_supporter_values(
        name, name_kana, kind, email, phone, home_lat, home_lon, notification_urls, note
    )
    if _key_taken(district.id, values.dedupe_key, except_id=supporter.id):
        raise _problem("duplicate", "email" if values.email else "name")
    supporter.district_id = district.id
    supporter.district = district
    for attr in ("name", "name_kana", "kind", "email", "phone", "home_lat", "home_lon", "note"):
        setattr(supporter, attr, getattr(values, attr))
    supporter.dedupe_key = values.dedupe_key
    # Keep the rows of addresses that stay, so their delivery state (disabled, reason) survives.
    kept = {a.url: a for a in supporter.notification_addresses}
    supporter.notification_addresses = [
        kept.get(u) or NotificationAddress(url=u) for u in dict.fromkeys(values.notification_urls)
    ]
    db.session.flush()
    record_audit("supporter.updated", "supporter", supporter.id, district.id)
    return supporter


def set_supporter_active(supporter: Supporter, active: bool) -> None:
    """Deactivate (every personal link and phone session ends, they get no notices) or
    reactivate a supporter, which issues a new link: the old link and sessions stay refused."""
    from watchnet.auth.services import end_personal_access, issue_new_link

    supporter.is_active = active
    replaced = (
        issue_new_link(supporter, reactivating=True) if active else end_personal_access(supporter)
    )
    action = "supporter.reactivated" if active else "supporter.deactivated"
    record_audit(
        action,
        "supporter",
        supporter.id,
        supporter.district_id,
        link_version=supporter.token_version,
        alert_links_replaced=replaced,
    )
    db.session.flush()


# ---------------------------------------------------------------------------------------------
# Finding supporters

_HIRA_TO_KATA = {c: c + 0x60 for c in range(0x3041, 0x3097)}
_KATA_TO_HIRA = {c + 0x60: c for c in range(0x3041, 0x3097)}


def supporters_query(
    district_ids: Iterable[int],
    district_id: int | None = None,
    kind: str | None = None,
    text: str | None = None,
    active: bool | None = None,
) -> sa.Select[Supporter]:
    """Supporters of the given districts, filtered; ordered by kana as a Japanese list is."""
    stmt = (
        sa.select(Supporter)
        .where(Supporter.district_id.in_(list(district_ids)))
        .options(selectinload(Supporter.district))
        .order_by(Supporter.name_kana, Supporter.id)
    )
    if district_id is not None:
        stmt = stmt.where(Supporter.district_id == district_id)
    if kind:
        stmt = stmt.where(Supporter.kind == kind)
    if active is not None:
        stmt = stmt.where(Supporter.is_active.is_(active))
    text = normalise_kana(text or "")
    if text:
        # Kana typed in either script finds the other ("ヤマダ" finds "やまだ").
        variants = {text, text.translate(_HIRA_TO_KATA), text.translate(_KATA_TO_HIRA)}
        conditions = [
            Supporter.name.contains(text, autoescape=True),
            sa.func.lower(sa.func.coalesce(Supporter.email, "")).contains(
                text.lower(), autoescape=True
            ),
        ]
        conditions += [Supporter.name_kana.contains(v, autoescape=True) for v in variants]
        stmt = stmt.where(sa.or_(*conditions))
    return stmt


# ---------------------------------------------------------------------------------------------
# The personal sign-in link


def qr_svg(data: str) -> Markup:
    """An inline SVG QR code that scales with CSS (no fixed size); safe: only path data."""
    qr = segno.make(data, error="m", micro=False)
    return Markup(qr.svg_inline(scale=10, border=4, omitsize=True, dark="#000", light="#fff"))  # noqa: S704


def record_signin_link_view(supporter: Supporter) -> None:
    """Staff looked at a supporter's personal link: it signs a phone in, so it is audited."""
    record_audit("supporter.signin_link_viewed", "supporter", supporter.id, supporter.district_id)


# ---------------------------------------------------------------------------------------------
# The supporter's own page

_HEX_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


def safe_color(value: str | None, default: str = "#777777") -> str:
    """A colour usable in a style attribute: #rrggbb, else the default."""
    return value if value and _HEX_COLOR_RE.match(value) else default


# ---------------------------------------------------------------------------------------------
# CSV import and export

IMPORT_KEEP_UNCONFIRMED = timedelta(days=1)
IMPORT_KEEP_CONFIRMED = timedelta(days=30)


def _purge_old_imports() -> None:
    now = utcnow()
    db.session.execute(
        sa.delete(SupporterImport).where(
            sa.or_(
                sa.and_(
                    SupporterImport.confirmed_at.is_(None),
                    SupporterImport.created_at < now - IMPORT_KEEP_UNCONFIRMED,
                ),
                SupporterImport.created_at < now - IMPORT_KEEP_CONFIRMED,
            )
        )
    )


def prepare_supporter_import(
    district: District, staff: StaffUser | None, filename: str, upload: CheckedImport
) -> SupporterImport:
    """Store a checked upload (people/forms.py: read_supporter_csv) as a preview, each row
    marked new, already registered or repeated; nothing is registered until confirmed."""
    existing = set(
        db.session.scalars(
            sa.select(Supporter.dedupe_key).where(Supporter.district_id == district.id)
        )
    )
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    for checked in upload.rows:
        values, errors = checked.values, checked.errors
        key = None
        if errors:
            status = "error"
        else:
            key = Supporter.make_dedupe_key(values["name"], values["name_kana"], values["email"])
            status = "exists" if key in existing else "duplicate" if key in seen else "new"
            seen.add(key)
        rows.append(
            {
                "row": checked.row_number,
                "status": status,
                "key": key,
                "values": values,
                "errors": errors,
            }
        )
    _purge_old_imports()
    batch = SupporterImport(
        district_id=district.id,
        created_by_id=staff.id if staff else None,
        filename=(filename or "")[:255],
        encoding=upload.encoding,
        headers=upload.headers,
        ignored_columns=upload.ignored_columns,
        rows=rows,
    )
    db.session.add(batch)
    db.session.flush()
    record_audit(
        "supporter_import.prepared",
        "supporter_import",
        batch.id,
        district.id,
        rows=len(rows),
        encoding=upload.encoding,
    )
    return batch


class ImportAlreadyConfirmed(UserInputError):
    """The batch was confirmed before; nothing is imported again."""


def confirm_supporter_import(batch: SupporterImport) -> int:
    """Register the batch's new rows in one go; a second confirmation imports nothing."""
    # A conditional UPDATE claims the batch: of two confirmations racing (double click, two
    # workers) only one sees a row change.
    result: sa.CursorResult[Any] = db.session.execute(  # type: ignore[assignment]
        sa.update(SupporterImport)
        .where(SupporterImport.id == batch.id, SupporterImport.confirmed_at.is_(None))
        .values(confirmed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ImportAlreadyConfirmed(
            _l("This import was confirmed already. Nothing was imported again.")
        )
    existing = set(
        db.session.scalars(
            sa.select(Supporter.dedupe_key).where(Supporter.district_id == batch.district_id)
        )
    )
    imported = 0
    for row in batch.rows:
        if row["status"] != "new" or row["key"] in existing:
            continue
        v = row["values"]
        values = SupporterValues(
            name=v["name"],
            name_kana=v["name_kana"],
            kind=SupporterKind(v["kind"]),
            email=v["email"],
            phone=v["phone"],
            home_lat=v["home_lat"],
            home_lon=v["home_lon"],
            notification_urls=list(v["notification_urls"]),
            note=v["note"],
        )
        db.session.add(_new_supporter(batch.district_id, values))
        existing.add(row["key"])
        imported += 1
    db.session.flush()
    db.session.refresh(batch)
    batch.imported_count = imported
    batch.skipped_count = len(batch.rows) - imported
    record_audit(
        "supporter.imported",
        "supporter_import",
        batch.id,
        batch.district_id,
        imported=imported,
        skipped=batch.skipped_count,
    )
    db.session.flush()
    return imported


def export_supporters(district_ids: Sequence[int], encoding: str) -> bytes:
    """The districts' supporters (active or not) as a CSV Excel opens, headers the import reads.

    Characters CP932 lacks become "?" in a CP932 file; every export is audited because it
    carries personal data out of the app.
    """
    supporters = db.session.scalars(
        supporters_query(district_ids).options(selectinload(Supporter.notification_addresses))
    ).all()
    rows = (
        [
            s.name,
            s.name_kana,
            csv_io.KIND_NAMES_JA.get(s.kind, s.kind.value),
            s.email or "",
            s.phone or "",
            "\n".join(a.url for a in s.notification_addresses),
            "" if s.home_lat is None else s.home_lat,
            "" if s.home_lon is None else s.home_lon,
            s.note,
            s.district.name,
        ]
        for s in supporters
    )
    data = csv_io.write_table(rows, encoding)
    record_audit(
        "supporter.exported",
        "supporter",
        None,
        district_ids[0] if len(district_ids) == 1 else None,
        districts=sorted(district_ids),
        count=len(supporters),
        encoding=encoding,
    )
    return data
